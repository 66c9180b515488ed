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
        """Services that opt in to image automation, with their tags."""
        assert self.sandbox.clients is not None
        tagging = self.sandbox.clients("resourcegroupstaggingapi")
        out = []
        for m in tagging.get_resources(
            TagFilters=[{"Key": TAG_REPOSITORY}], ResourceTypeFilters=["ecs:service"]
        )["ResourceTagMappingList"]:
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


#: the story, in order; later issues append their scenes here
SCENES: list[type[Any]] = [
    CleanPushDeploys,
    VulnerablePushBlocked,
    CrashingImageRolledBack,
    DuplicatePushChangesNothing,
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
