"""`autopilot demo`: the whole event loop offline, told as a timeline of scenes.

A scene is a small class with a ``title`` and a ``run(ctx)`` that stimulates the sandbox
(pushes, alarms, zone losses, raw events) and returns the checks of the reactions it
expects. Scenes are listed in :data:`SCENES`, in story order; the zone, capacity and
approval scenes of later issues are added to that list.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

from sandbox.core import Sandbox
from sandbox.router import RouteResult
from sandbox.scene_operator import ManualApprovalDeploysOnApprove
from sandbox.simulator import PushResult
from sandbox.timeline import Timeline

TAG_REPOSITORY = "autopilot:repository"
TAG_CONTAINER = "autopilot:container"
TAG_POLICY = "autopilot:policy"
TAG_SCAN = "autopilot:scan"


@dataclass
class Check:
    what: str
    ok: bool
    detail: str = ""


@dataclass
class SceneResult:
    title: str
    checks: list[Check]
    seconds: float
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and all(c.ok for c in self.checks)


@dataclass
class DemoContext:
    """What scenes share: the sandbox and the story so far."""

    sandbox: Sandbox
    story: dict[str, Any] = field(default_factory=dict)

    @property
    def sim(self) -> Any:
        return self.sandbox.simulator

    def ecs(self) -> Any:
        assert self.sandbox.clients is not None
        return self.sandbox.clients("ecs")

    # ---- services and what they run
    def tracked_services(self) -> list[dict[str, Any]]:
        """This sandbox's services that opt in to image automation, with their tags (moto's
        backends are process-wide: another sandbox's services may still be in them)."""
        assert self.sandbox.clients is not None
        tagging = self.sandbox.clients("resourcegroupstaggingapi")
        out = []
        for m in tagging.get_resources(
            TagFilters=[{"Key": TAG_REPOSITORY}], ResourceTypeFilters=["ecs:service"]
        )["ResourceTagMappingList"]:
            if m["ResourceARN"] not in self.sim.services:
                continue
            tags = {t["Key"]: t["Value"] for t in m["Tags"]}
            out.append(
                {"arn": m["ResourceARN"], "name": m["ResourceARN"].rsplit("/", 1)[-1], "tags": tags}
            )
        return sorted(out, key=lambda s: s["name"])

    def pick_service(
        self, *, policy_prefix: str = "semver", scan: str = "critical"
    ) -> dict[str, Any]:
        for s in self.tracked_services():
            tags = s["tags"]
            if (
                tags.get(TAG_POLICY, "semver").startswith(policy_prefix)
                and tags.get(TAG_SCAN, "critical") == scan
            ):
                return s
        raise LookupError(
            f"no service with policy {policy_prefix}* and scan gate {scan} in the stacks"
        )

    def task_definition(self, service: dict[str, Any]) -> str:
        svc = self.ecs().describe_services(
            cluster=service["arn"].split("/")[-2], services=[service["arn"]]
        )["services"][0]
        return str(svc["taskDefinition"])

    def image(self, service: dict[str, Any]) -> str:
        td = self.ecs().describe_task_definition(taskDefinition=self.task_definition(service))[
            "taskDefinition"
        ]
        container = service["tags"].get(TAG_CONTAINER)
        repo = service["tags"][TAG_REPOSITORY]
        for c in td["containerDefinitions"]:
            if c["name"] == container or (container is None and f"/{repo}" in c["image"]):
                return str(c["image"])
        return str(td["containerDefinitions"][0]["image"])

    def revisions(self, service: dict[str, Any]) -> int:
        family = self.task_definition(service).rsplit("/", 1)[-1].rsplit(":", 1)[0]
        return len(self.ecs().list_task_definitions(familyPrefix=family)["taskDefinitionArns"])

    def running_digest_everywhere(self, service: dict[str, Any], digest: str) -> bool:
        sim_svc = self.sim.service(service["arn"])
        tds = {t.task_definition_arn for t in sim_svc.running()}
        return bool(tds) and all(self._td_has(td, digest) for td in tds)

    def _td_has(self, td_arn: str, digest: str) -> bool:
        td = self.ecs().describe_task_definition(taskDefinition=td_arn)["taskDefinition"]
        return any(c["image"].endswith("@" + digest) for c in td["containerDefinitions"])


def _now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def outcomes(routes: list[RouteResult], function: str | None = None) -> list[str]:
    out = []
    for r in routes:
        if r.ok and r.report and (function is None or r.function == function):
            out.extend(str(d.get("outcome")) for d in r.report.get("decisions") or [])
    return out


def failures(routes: list[RouteResult]) -> list[str]:
    return [f"{r.function}: {r.error}" for r in routes if r.matched and not r.ok]


def done_actions(routes: list[RouteResult]) -> list[str]:
    return [
        str(a.get("api"))
        for r in routes
        if r.report
        for a in r.report.get("actions") or []
        if a.get("done")
    ]


class Scene(Protocol):
    title: ClassVar[str]

    def run(self, ctx: DemoContext) -> list[Check]: ...


# --------------------------------------------------------------------------- scenes
class CleanPushDeploys:
    title = "A clean push deploys the pinned digest"

    def run(self, ctx: DemoContext) -> list[Check]:
        svc = ctx.pick_service()
        repo = svc["tags"][TAG_REPOSITORY]
        ctx.story["service"] = svc
        res: PushResult = ctx.sim.push(repo, "1.0.0")
        ctx.story["good"] = res
        image = ctx.image(svc)
        return [
            Check(
                "no invocation failed", not failures(res.routes), "; ".join(failures(res.routes))
            ),
            Check(
                f"{svc['name']} runs {repo}@{res.digest[:19]}...",
                image.endswith("@" + res.digest),
                image,
            ),
            Check(
                "every running task is on the pinned digest",
                ctx.running_digest_everywhere(svc, res.digest),
            ),
            Check(
                "the deployment completed and became last known good",
                "last-known-good" in outcomes(res.routes, "deployment-events"),
                ", ".join(outcomes(res.routes, "deployment-events")),
            ),
        ]


class VulnerablePushBlocked:
    title = "A vulnerable push is blocked by the scan gate"

    def run(self, ctx: DemoContext) -> list[Check]:
        svc = ctx.story.get("service") or ctx.pick_service()
        repo = svc["tags"][TAG_REPOSITORY]
        before, revisions = ctx.task_definition(svc), ctx.revisions(svc)
        res = ctx.sim.push(repo, "1.1.0", findings={"CRITICAL": 1, "HIGH": 2})
        return [
            Check(
                "no invocation failed", not failures(res.routes), "; ".join(failures(res.routes))
            ),
            Check(
                "the decision is 'blocked'",
                "blocked" in outcomes(res.routes, "image-events"),
                ", ".join(outcomes(res.routes)),
            ),
            Check(
                f"{svc['name']} still runs its task definition", ctx.task_definition(svc) == before
            ),
            Check("no task definition was registered", ctx.revisions(svc) == revisions),
        ]


class CrashingImageRolledBack:
    title = "A crashing image fails, is rolled back and quarantined"

    def run(self, ctx: DemoContext) -> list[Check]:
        svc = ctx.story.get("service") or ctx.pick_service()
        repo = svc["tags"][TAG_REPOSITORY]
        before = ctx.task_definition(svc)
        res = ctx.sim.push(repo, "1.2.0", crashing=True)
        ctx.story["bad"] = res
        dep = outcomes(res.routes, "deployment-events")
        good: PushResult | None = ctx.story.get("good")
        checks = [
            Check(
                "no invocation failed", not failures(res.routes), "; ".join(failures(res.routes))
            ),
            Check(
                "image-events deployed it",
                "deployed" in outcomes(res.routes, "image-events"),
                ", ".join(outcomes(res.routes, "image-events")),
            ),
            Check(
                "the deployment failed and the digest is quarantined",
                "quarantined" in dep,
                ", ".join(dep),
            ),
            Check(
                f"{svc['name']} is back on its previous task definition",
                ctx.task_definition(svc) == before,
                ctx.task_definition(svc),
            ),
        ]
        if good is not None:
            checks.append(
                Check(
                    "every running task is on the last known good digest",
                    ctx.running_digest_everywhere(svc, good.digest),
                )
            )
        return checks


class DuplicatePushChangesNothing:
    title = "Duplicate deliveries change nothing"

    def run(self, ctx: DemoContext) -> list[Check]:
        svc = ctx.story.get("service") or ctx.pick_service()
        before, revisions = ctx.task_definition(svc), ctx.revisions(svc)
        routes: list[RouteResult] = []
        for key in ("good", "bad"):
            pushed: PushResult | None = ctx.story.get(key)
            for event in pushed.events if pushed else []:
                routes += ctx.sim.emit(
                    event, label=f"again: {event['detail-type']} {event['id'][:8]} ({key} image)"
                )
        good = ctx.story.get("good")
        if good is not None:
            # the same image pushed again: a new event for a digest the service already runs
            again = {**good.events[0], "id": str(uuid.uuid4()), "time": _now_iso()}
            routes += ctx.sim.emit(
                again, label=f"the same image pushed again: new event {again['id'][:8]}"
            )
        bad = ctx.story.get("bad")
        quarantined_again: list[str] = []
        if bad is not None:
            # the quarantined image's events arrive again as new events (a re-scan, a re-tag):
            # the rollback is not undone
            for event in bad.events:
                fresh = {**event, "id": str(uuid.uuid4()), "time": _now_iso()}
                got = ctx.sim.emit(
                    fresh, label=f"the quarantined image again: new {event['detail-type']}"
                )
                routes += got
                quarantined_again += outcomes(got, "image-events")
        acted = [a for a in done_actions(routes) if not a.startswith(("dynamodb", "sns"))]
        checks = []
        if bad is not None:
            checks.append(
                Check(
                    "the quarantined digest is refused when it comes again",
                    "quarantined" in quarantined_again,
                    ", ".join(quarantined_again),
                )
            )
        checks += [
            Check("no invocation failed", not failures(routes), "; ".join(failures(routes))),
            Check("no ECS change was made", not acted, ", ".join(acted)),
            Check(
                f"{svc['name']} still runs the same task definition",
                ctx.task_definition(svc) == before,
            ),
            Check("no task definition was registered", ctx.revisions(svc) == revisions),
        ]
        return checks


# --------------------------------------------------------------------------- zone balance
def _spread(ctx: DemoContext, service: str) -> dict[str, int]:
    return dict(ctx.sim.service(service).spread())


def _balanced(spread: dict[str, int]) -> bool:
    return bool(spread) and max(spread.values()) - min(spread.values()) <= 1


def _by(routes: list[RouteResult], function: str) -> list[dict[str, Any]]:
    return [
        a
        for r in routes
        if r.report and r.function == function
        for a in r.report.get("actions") or []
        if a.get("done")
    ]


def _service_desc(ctx: DemoContext, name: str) -> dict[str, Any]:
    cluster = ctx.sim.service(name).cluster_arn
    return dict(ctx.ecs().describe_services(cluster=cluster, services=[name])["services"][0])


class ZoneLossRebalanced:
    title = "A six-task service loses a zone's tasks; autopilot restores the spread"

    def run(self, ctx: DemoContext) -> list[Check]:
        name = "feed"
        svc = ctx.sim.service(name)
        zone = svc.azs[0]
        before = _service_desc(ctx, name).get("availabilityZoneRebalancing")
        routes = ctx.sim.stop_tasks(name, zone)
        after = _spread(ctx, name)
        turned_on = [
            a
            for a in _by(routes, "task-events")
            if a.get("api") == "ecs:UpdateService"
            and a["params"].get("availabilityZoneRebalancing") == "ENABLED"
        ]
        return [
            Check("no invocation failed", not failures(routes), "; ".join(failures(routes))),
            Check(f"{name} had ECS's AZ rebalancing off", before == "DISABLED", str(before)),
            Check("task-events turned ECS's AZ rebalancing on", bool(turned_on)),
            Check(
                f"{name} runs six tasks spread over the zones again",
                sum(after.values()) == 6 and _balanced(after),
                str(after),
            ),
        ]


class IneligibleServiceMovedOneByOne:
    title = "An ineligible service is rebalanced one task at a time"

    def run(self, ctx: DemoContext) -> list[Check]:
        name = "batch"
        svc = ctx.sim.service(name)
        zone = next(z for z, n in svc.spread().items() if n)
        routes = ctx.sim.stop_tasks(name, zone)
        after = _spread(ctx, name)
        stops = [a for a in _by(routes, "task-events") if a.get("api") == "ecs:StopTask"]
        per_evaluation = [
            sum(1 for a in r.report.get("actions") or [] if a.get("api") == "ecs:StopTask")
            for r in routes
            if r.report and r.function == "task-events"
        ]
        return [
            Check("no invocation failed", not failures(routes), "; ".join(failures(routes))),
            Check(
                "task-events moved tasks with StopTask, at most one per evaluation",
                bool(stops) and max(per_evaluation, default=0) <= 1,
                f"{len(stops)} stops",
            ),
            Check(f"{name} is spread over the zones again", _balanced(after), str(after)),
        ]


class DebouncedEventRechecked:
    title = "A burst's last events land in the debounce window; the schedule re-checks them"
    #: the debounce window for this scene: longer than the burst takes here, whatever the
    #: machine's speed (the demo config's 1 s is shorter than a few handler runs)
    window = 4

    def run(self, ctx: DemoContext) -> list[Check]:
        name = "batch"
        sim = ctx.sim
        assert ctx.sandbox.router is not None
        zone = next(z for z, n in sim.service(name).spread().items() if n)
        saved = sim.replacement_seconds
        # ECS replaces lost tasks inside the window: the replacements' RUNNING events, the
        # burst's last, are debounced and the service is left lopsided. Before the re-check,
        # nothing came back to them.
        sim.replacement_seconds = 0.2
        ticks: list[RouteResult] = []
        try:
            with ctx.sandbox.router.environment_override(
                "task-events", EVALUATION_WINDOW_SECONDS=str(self.window)
            ):
                burst = sim.stop_tasks(name, zone)
                lopsided = _spread(ctx, name)
                last = outcomes([r for r in burst if r.function == "task-events"][-2:])
                for _ in range(8):
                    if _balanced(_spread(ctx, name)):
                        break
                    time.sleep(self.window + 0.1)  # the schedule's next tick
                    ticks += sim.tick()
        finally:
            sim.replacement_seconds = saved
        after = _spread(ctx, name)
        rechecked = [
            a
            for r in ticks
            if r.report and r.function == "task-events" and r.detail_type == "Scheduled Event"
            for a in r.report.get("actions") or []
            if a.get("done") and a.get("api") == "ecs:StopTask"
        ]
        routes = burst + ticks
        return [
            Check("no invocation failed", not failures(routes), "; ".join(failures(routes))),
            Check(
                f"the burst's last task events were debounced and left {name} lopsided",
                bool(last) and set(last) == {"debounced"} and not _balanced(lopsided),
                f"{lopsided}; {', '.join(last)}",
            ),
            Check(
                "the re-check schedule (Scheduled Event) came back and moved tasks with StopTask",
                bool(rechecked),
                f"{len(rechecked)} stops",
            ),
            Check(f"{name} is spread over the zones again", _balanced(after), str(after)),
        ]


class EmptyZoneGetsCapacity:
    title = "An EC2 service whose zone lost its capacity gets an instance there"

    def run(self, ctx: DemoContext) -> list[Check]:
        name = "worker"
        svc = ctx.sim.service(name)
        zone = svc.azs[-1]
        routes = ctx.sim.lose_instance(zone)
        raised = [
            a
            for a in _by(routes, "task-events")
            if a.get("api")
            in ("autoscaling:UpdateAutoScalingGroup", "autoscaling:SetDesiredCapacity")
        ]
        after = _spread(ctx, name)
        zones = ctx.sim.instance_zones()
        return [
            Check("no invocation failed", not failures(routes), "; ".join(failures(routes))),
            Check(
                "task-events raised the Auto Scaling group (its minimum: managed scaling "
                "owns the desired capacity)",
                bool(raised),
                ", ".join(str(a.get("params")) for a in raised),
            ),
            Check(f"an instance runs in {zone} again", zones.get(zone, 0) >= 1, str(zones)),
            Check(
                f"{name} runs a task in {zone} and is spread",
                after.get(zone, 0) >= 1 and _balanced(after),
                str(after),
            ),
        ]


# --------------------------------------------------------------------------- capacity
def _scalable_min(ctx: DemoContext, name: str) -> tuple[int, int]:
    assert ctx.sandbox.clients is not None
    aas = ctx.sandbox.clients("application-autoscaling")
    cluster = ctx.sim.service(name).cluster_name
    t = aas.describe_scalable_targets(
        ServiceNamespace="ecs", ResourceIds=[f"service/{cluster}/{name}"]
    )["ScalableTargets"][0]
    return int(t["MinCapacity"]), int(t["MaxCapacity"])


class AlarmScalesOutAndBack:
    title = "An alarm scales a service out within bounds, and its clearing restores it"

    def run(self, ctx: DemoContext) -> list[Check]:
        name = "web"
        assert ctx.sandbox.clients is not None
        cw = ctx.sandbox.clients("cloudwatch")
        alarm = next(
            a
            for a in cw.describe_alarms(AlarmNamePrefix="autopilot-")["MetricAlarms"]
            if a["AlarmName"].endswith(f"{name}-cpu-high")
        )
        tags = {
            t["Key"]: t["Value"]
            for t in cw.list_tags_for_resource(ResourceARN=alarm["AlarmArn"])["Tags"]
        }
        floor, ceiling = _scalable_min(ctx, name)
        desired = int(_service_desc(ctx, name)["desiredCount"])
        up = ctx.sim.alarm(alarm["AlarmName"], "ALARM")
        raised, _ = _scalable_min(ctx, name)
        scaled = int(_service_desc(ctx, name)["desiredCount"])
        running = len(ctx.sim.service(name).running())
        time.sleep(int(tags.get("autopilot:cooldown", "0")) + 0.1)
        down = ctx.sim.alarm(alarm["AlarmName"], "OK")
        restored, _ = _scalable_min(ctx, name)
        routes = up + down
        return [
            Check("no invocation failed", not failures(routes), "; ".join(failures(routes))),
            Check(
                f"the alarm's tags drive {tags.get('autopilot:target')} "
                f"by {tags.get('autopilot:step')}",
                tags.get("autopilot:target") == f"service:{name}",
                str(tags),
            ),
            Check(
                f"ALARM raised the scalable target's minimum {floor} -> {raised} "
                f"(within {floor}-{ceiling})",
                floor < raised <= ceiling,
            ),
            Check(
                f"{name} scaled out {desired} -> {scaled} tasks, all running",
                scaled > desired and running == scaled,
                f"{running} running",
            ),
            Check(
                f"OK restored the minimum to {floor}",
                restored == floor and "restored" in outcomes(down, "capacity-events"),
                f"{restored}; {', '.join(outcomes(down, 'capacity-events'))}",
            ),
        ]


class FargateSpotFallsBack:
    title = "A Fargate Spot placement failure falls back to on-demand Fargate, and back"

    def run(self, ctx: DemoContext) -> list[Check]:
        name = "api"

        def strategy() -> list[str]:
            return sorted(
                f"{i['capacityProvider']}:{i.get('weight', 0)}"
                for i in _service_desc(ctx, name).get("capacityProviderStrategy") or []
            )

        original = strategy()
        short = ctx.sim.fargate_spot_shortage(True)
        during = strategy()
        providers = {t.provider for t in ctx.sim.service(name).running()}
        ctx.sim.fargate_spot_shortage(False)
        assert ctx.sandbox.router is not None
        env = ctx.sandbox.router.function("capacity-events").environment
        calm = env.get("SPOT_CALM_SECONDS", "0")
        time.sleep(float(calm) + 0.2)
        back = ctx.sim.service_action(name, "SERVICE_STEADY_STATE")
        after = strategy()
        routes = short + back
        return [
            Check("no invocation failed", not failures(routes), "; ".join(failures(routes))),
            Check(
                "the placement failure (RESOURCE:FARGATE) shifted the service to FARGATE",
                "fallback" in outcomes(short, "capacity-events")
                and bool(during)
                and all(s.startswith("FARGATE:") for s in during),
                f"{original} -> {during}",
            ),
            Check("its tasks run on on-demand Fargate", providers == {"FARGATE"}, str(providers)),
            Check(
                "after the calm period the original strategy is back",
                "restored" in outcomes(back, "capacity-events") and after == original,
                f"{after}; {', '.join(outcomes(back, 'capacity-events'))}",
            ),
        ]


#: the story, in order; later issues append their scenes here
SCENES: list[type[Any]] = [
    CleanPushDeploys,
    VulnerablePushBlocked,
    CrashingImageRolledBack,
    DuplicatePushChangesNothing,
    ZoneLossRebalanced,
    IneligibleServiceMovedOneByOne,
    DebouncedEventRechecked,
    EmptyZoneGetsCapacity,
    AlarmScalesOutAndBack,
    FargateSpotFallsBack,
    ManualApprovalDeploysOnApprove,
]


def run_scenes(
    ctx: DemoContext,
    scenes: list[type[Any]] | None = None,
    on_scene: Callable[[str], None] | None = None,
) -> list[SceneResult]:
    results = []
    for i, cls in enumerate(scenes or SCENES, 1):
        scene = cls()
        ctx.sandbox.timeline.add("scene", f"Scene {i}: {scene.title}")
        if on_scene:
            on_scene(scene.title)
        t0 = time.perf_counter()
        try:
            checks = scene.run(ctx)
            error = None
        except Exception as exc:
            checks, error = [], f"{type(exc).__name__}: {exc}"
        result = SceneResult(scene.title, checks, time.perf_counter() - t0, error)
        for c in checks:
            ctx.sandbox.timeline.add(
                "check" if c.ok else "miss",
                c.what + ("" if c.ok or not c.detail else f" ({c.detail})"),
            )
        if error:
            ctx.sandbox.timeline.add("miss", f"the scene broke: {error}")
        results.append(result)
    return results


def make_timeline(*, echo: bool, verbose: bool) -> Timeline:
    return Timeline(echo=echo, verbose=verbose)
