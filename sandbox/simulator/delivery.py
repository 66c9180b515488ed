"""ECS's delivery machinery for a deployment: strategy stages, bake times on the sandbox's
clock, alarm rollback, and lifecycle hooks (PAUSE and AWS_LAMBDA).

A deployment of a service whose ``deploymentConfiguration.strategy`` is BLUE_GREEN, CANARY
or LINEAR is a :class:`Walk` through ECS's documented stages (ECS Developer Guide, "How
Amazon ECS blue/green deployments work", "linear", "canary"):

PRE_SCALE_UP, SCALE_UP (the new revision's tasks start beside the old ones), POST_SCALE_UP,
TEST_TRAFFIC_SHIFT, POST_TEST_TRAFFIC_SHIFT, then per production step
PRE_PRODUCTION_TRAFFIC_SHIFT and PRODUCTION_TRAFFIC_SHIFT (blue/green: one step of 100 %;
canary: ``canaryPercent`` then 100 %, ``canaryBakeTimeInMinutes`` between; linear:
``ceil(100 / stepPercent)`` steps, ``stepBakeTimeInMinutes`` between), then
POST_PRODUCTION_TRAFFIC_SHIFT, BAKE_TIME (``bakeTimeInMinutes``, 15 unset) and CLEAN_UP (the
old revision's tasks stop; the deployment is COMPLETED). The stage of the moment is the
deployment's ``lifecycleStage`` in DescribeServiceDeployments.

Time that ECS waits (bakes, a pause hook's timeout, a Lambda hook's ``callBackDelay``) passes
on :class:`Clock`, the sandbox's clock of minutes, which only :meth:`Clock.advance` (the
simulator's ``advance(minutes)``) moves: a deployment never finishes its bake unless the
clock passes it.

A rolling deployment (the strategy unset or ROLLING) is carried by
:mod:`sandbox.simulator.deployments` as before; with deployment alarms and an explicit
``bakeTimeInMinutes`` it bakes as a walk does (alarms watched) before COMPLETED.

Alarms: ``deploymentConfiguration.alarms`` with ``enable``: an alarm already in ALARM when the
deployment starts turns alarm monitoring off for the whole deployment (ECS Developer Guide,
"deployment alarm failure"); otherwise, one going to ALARM before CLEAN_UP fails it
(SERVICE_DEPLOYMENT_FAILED naming the alarm) and, with ``rollback``, ECS rolls back to the
source revision (the rollback's IN_PROGRESS and COMPLETED; ListServiceDeployments
ROLLBACK_SUCCESSFUL). The alarms are read when the simulator sets one, at each stage and
when the clock moves (ECS polls DescribeAlarms).

Hooks (``deploymentConfiguration.lifecycleHooks``) at the stages they name, in parallel;
the walk goes on once all of a stage's succeed; any rollback rolls the whole deployment
back. A PAUSE hook gets a new ``ecs-pause-...`` hookId each time it fires, sends ``ECS Hook
State Change`` HOOK_AWAITING_ACTION and waits for ContinueServiceDeployment (answered in
sandbox/moto_adjustments.py) or its timeout (HOOK_SUCCEEDED, HOOK_FAILED, HOOK_TIMED_OUT).
An AWS_LAMBDA hook's function is invoked in process through the router with ECS's payload;
its ``hookStatus`` SUCCEEDED goes on, IN_PROGRESS invokes again after ``callBackDelay``
seconds on the clock, anything else (FAILED, missing, an error) rolls back.
"""

from __future__ import annotations

import heapq
import itertools
import math
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sandbox import moto_adjustments as adj
from sandbox.router import FunctionInfo, invoke_in_process
from sandbox.simulator.bus import Event, EventQueue, iso, make_event, now
from sandbox.simulator.state import SimService, moto_service
from sandbox.timeline import Timeline

if TYPE_CHECKING:
    from sandbox.router import Router
    from sandbox.server import Clients
    from sandbox.simulator.deployments import Deployments

#: the strategies carried as a walk through stages
STAGED = ("BLUE_GREEN", "CANARY", "LINEAR")
#: bakeTimeInMinutes when unset, for the staged strategies (CloudFormation's reference)
DEFAULT_BAKE_MINUTES = 15
#: a hook's timeout when unset (API reference, DeploymentLifecycleHookTimeoutConfiguration)
DEFAULT_HOOK_TIMEOUT_MINUTES = 1440
#: the stages a PAUSE hook may not name (they run again during a rollback)
NO_PAUSE_STAGES = ("TEST_TRAFFIC_SHIFT", "PRODUCTION_TRAFFIC_SHIFT")
#: the stages that take no hook
NO_HOOK_STAGES = ("SCALE_UP", "BAKE_TIME", "CLEAN_UP")
#: a Lambda hook's callBackDelay when it returns none (Lambda hooks page: 30 s)
DEFAULT_CALLBACK_SECONDS = 30


class Clock:
    """The sandbox's clock of minutes for what ECS waits: steps due at a minute run when
    :meth:`advance` passes it, in order of their minute."""

    def __init__(self) -> None:
        self.minutes = 0.0
        self._due: list[tuple[float, int, Callable[[], None]]] = []
        self._seq = itertools.count()

    def at(self, delay_minutes: float, step: Callable[[], None]) -> None:
        """Run ``step`` once the clock has moved ``delay_minutes`` on from now."""
        heapq.heappush(self._due, (self.minutes + max(0.0, delay_minutes), next(self._seq), step))

    def pop_due(self, until: float) -> Callable[[], None] | None:
        """The earliest step due by minute ``until`` (the clock set to its minute), or None."""
        if self._due and self._due[0][0] <= until:
            minute, _, step = heapq.heappop(self._due)
            self.minutes = max(self.minutes, minute)
            return step
        return None

    def pending(self) -> list[float]:
        """The minutes at which steps are due, earliest first."""
        return sorted(m for m, _, _ in self._due)


@dataclass
class Stage:
    name: str
    #: production traffic on the new revision once this stage is done (None: unchanged)
    weight: float | None = None
    #: minutes ECS waits after this stage (a step bake, the bake time)
    wait: float = 0.0


def stages(config: dict[str, Any]) -> list[Stage]:
    """The stages of a staged strategy's deployment, in order."""
    strategy = str(config.get("strategy") or "ROLLING")
    out = [Stage(s) for s in ("PRE_SCALE_UP", "SCALE_UP", "POST_SCALE_UP")]
    out += [Stage("TEST_TRAFFIC_SHIFT"), Stage("POST_TEST_TRAFFIC_SHIFT")]
    weights: list[float]
    between = 0.0
    if strategy == "CANARY":
        canary = config.get("canaryConfiguration") or {}
        weights = [float(canary.get("canaryPercent", 5.0)), 100.0]
        between = float(canary.get("canaryBakeTimeInMinutes", 10))
    elif strategy == "LINEAR":
        linear = config.get("linearConfiguration") or {}
        step = float(linear.get("stepPercent", 10.0))
        count = math.ceil(100.0 / step - 1e-9)
        weights = [min(100.0, round(step * (i + 1), 1)) for i in range(count)]
        between = float(linear.get("stepBakeTimeInMinutes", 6))
    else:
        weights = [100.0]
    for i, w in enumerate(weights):
        last = i == len(weights) - 1
        out.append(Stage("PRE_PRODUCTION_TRAFFIC_SHIFT"))
        out.append(Stage("PRODUCTION_TRAFFIC_SHIFT", weight=w, wait=0.0 if last else between))
    bake = config.get("bakeTimeInMinutes")
    out.append(Stage("POST_PRODUCTION_TRAFFIC_SHIFT"))
    out.append(Stage("BAKE_TIME", wait=float(DEFAULT_BAKE_MINUTES if bake is None else bake)))
    out.append(Stage("CLEAN_UP"))
    return out


@dataclass
class HookRun:
    """One firing of a lifecycle hook at a stage."""

    hook: dict[str, Any]
    stage: str
    hook_id: str
    status: str = "IN_PROGRESS"
    expires: Any = None
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def target_type(self) -> str:
        return str(self.hook.get("targetType") or "AWS_LAMBDA")

    def timeout(self) -> tuple[float, str]:
        cfg = self.hook.get("timeoutConfiguration") or {}
        minutes = float(cfg.get("timeoutInMinutes") or DEFAULT_HOOK_TIMEOUT_MINUTES)
        return minutes, str(cfg.get("action") or "ROLLBACK")


@dataclass
class Walk:
    """One deployment carried through ECS's machinery."""

    svc: SimService
    dep: str
    new_td: str
    old_dep: str
    old_td: str
    config: dict[str, Any]
    stages: list[Stage]
    position: int = -1
    weight: float = 0.0
    alarms_watched: bool = False
    hooks: list[HookRun] = field(default_factory=list)
    done: bool = False
    #: a stall: the walk stays IN_PROGRESS at SCALE_UP (its tasks never turn healthy)
    stalling: bool = False
    #: the alarm this deployment's image sets to ALARM at BAKE_TIME (pushed as alarming)
    alarming: str | None = None
    log: list[str] = field(default_factory=list)

    @property
    def stage(self) -> str | None:
        return self.stages[self.position].name if 0 <= self.position < len(self.stages) else None


class Delivery:
    """The walks of the deployments in progress, and ECS's machinery around them."""

    def __init__(
        self,
        clients: Clients,
        queue: EventQueue,
        timeline: Timeline,
        deployments: Deployments,
        router: Router,
    ) -> None:
        self.clients = clients
        self.queue = queue
        self.timeline = timeline
        self.deployments = deployments
        self.router = router
        self.clock = Clock()
        self.walks: dict[str, Walk] = {}
        #: what the Lambda hooks were invoked with and answered: (function, payload, answer)
        self.invocations: list[tuple[str, dict[str, Any], dict[str, Any] | None]] = []
        #: sets an alarm's state with its state change event (the simulator's alarms)
        self.set_alarm: Callable[[str, str, str], object] | None = None

    def walking(self, svc: SimService) -> bool:
        """True: a walk of ``svc``'s current deployment is in progress (ECS runs both
        revisions; the simulator does not scale the service to its desired count)."""
        for dep, walk in list(self.walks.items()):
            if not self._live(walk):
                del self.walks[dep]
        return svc.deployment_id in self.walks

    # ------------------------------------------------------------------ starting
    @staticmethod
    def config_of(svc: SimService) -> dict[str, Any]:
        cfg: dict[str, Any] = dict(vars(moto_service(svc)).get("deployment_configuration") or {})
        return cfg

    def takes(self, svc: SimService) -> bool:
        """True: a deployment of ``svc`` now is a walk (its strategy is staged, or it is
        rolling with alarms and an explicit bake time)."""
        cfg = self.config_of(svc)
        if str(cfg.get("strategy") or "ROLLING") in STAGED:
            return True
        alarms = cfg.get("alarms") or {}
        return bool(alarms.get("enable") and cfg.get("bakeTimeInMinutes"))

    def take(  # noqa: PLR0917 - the Handover of sandbox.simulator.deployments
        self,
        svc: SimService,
        dep: str,
        new_td: str,
        old_dep: str,
        old_td: str,
        stall: bool,
        alarming: str | None,
    ) -> bool:
        """Walk deployment ``dep`` if :meth:`takes` says so; True if it does."""
        if not self.takes(svc):
            return False
        self.start(svc, dep, new_td, old_dep, old_td, stall=stall, alarming=alarming)
        return True

    def start(
        self,
        svc: SimService,
        dep: str,
        new_td: str,
        old_dep: str,
        old_td: str,
        *,
        stall: bool,
        alarming: str | None = None,
    ) -> None:
        """Walk deployment ``dep`` of ``svc`` (``stall``: it stays at SCALE_UP; ``alarming``:
        the alarm its image sets to ALARM at BAKE_TIME)."""
        cfg = self.config_of(svc)
        staged = str(cfg.get("strategy") or "ROLLING") in STAGED
        plan = (
            stages(cfg)
            if staged
            else [Stage("SCALE_UP"), Stage("BAKE_TIME", wait=float(cfg["bakeTimeInMinutes"]))]
        )
        if not staged:
            plan.append(Stage("CLEAN_UP"))
        walk = Walk(svc, dep, new_td, old_dep, old_td, cfg, plan, stalling=stall, alarming=alarming)
        self.walks[dep] = walk
        ms = moto_service(svc)
        short = adj.short_id(dep)
        source = adj.remember_revision(ms, old_dep, old_td)
        adj.remember_revision(ms, dep, new_td)
        alarms = cfg.get("alarms") or {}
        names = list(alarms.get("alarmNames") or [])
        watched = bool(alarms.get("enable") and names)
        if watched and self._in_alarm(names):
            watched = False
            self._note(walk, "an alarm is already in ALARM: alarm monitoring off for it")
        walk.alarms_watched = watched
        adj.deployment_details(ms)[short] = {
            "_created": now(),
            "sourceServiceRevisions": [
                {
                    "arn": source,
                    "requestedTaskCount": int(ms.desired_count or 0),
                    "runningTaskCount": len(svc.running()),
                    "pendingTaskCount": 0,
                }
            ],
            "deploymentConfiguration": cfg | {"strategy": cfg.get("strategy") or "ROLLING"},
            "alarms": {
                "status": "MONITORING" if watched else "DISABLED",
                "alarmNames": names,
                "triggeredAlarmNames": [],
            },
            "lifecycleHookDetails": [],
        }
        self._note(
            walk,
            f"{cfg.get('strategy') or 'ROLLING'} deployment, stages "
            + ", ".join(s.name for s in plan),
        )
        self.queue.later(lambda: self._enter(walk, 0))

    # ------------------------------------------------------------------ the walk
    def _live(self, walk: Walk) -> bool:
        return not walk.done and walk.svc.deployment_id == walk.dep

    def _enter(self, walk: Walk, index: int) -> None:
        if not self._live(walk):
            return
        if self._alarm_tripped(walk):
            return
        walk.position = index
        stage = walk.stages[index]
        self._details(walk)["lifecycleStage"] = stage.name
        self._note(walk, f"stage {stage.name}")
        if stage.name == "BAKE_TIME" and walk.alarming and self.set_alarm is not None:
            self._note(walk, f"the image pushed as alarming sets {walk.alarming} to ALARM")
            self.set_alarm(
                walk.alarming, "ALARM", "Threshold Crossed: the image pushed as alarming"
            )
            if self._alarm_tripped(walk):
                return
        if stage.name == "SCALE_UP":
            self._scale_up(walk)
            if walk.stalling:
                self._note(walk, "stalls at SCALE_UP (its tasks never turn healthy)")
                return
        hooks = self._hooks_at(walk, stage.name)
        if hooks:
            walk.hooks = [self._fire(walk, h, stage.name) for h in hooks]
            self._stage_progress(walk)
            return
        self._leave(walk)

    def _leave(self, walk: Walk) -> None:
        """The stage's hooks are done: its action, its wait, the next stage."""
        if not self._live(walk):
            return
        stage = walk.stages[walk.position]
        walk.hooks = []
        if stage.weight is not None:
            walk.weight = stage.weight
            self._note(walk, f"production traffic {stage.weight:g} % on the new revision")
        if stage.name == "CLEAN_UP":
            self._finish(walk)
            return
        nxt = walk.position + 1
        if stage.wait > 0:
            self._note(walk, f"waits {stage.wait:g} min (the sandbox clock)")
            self.clock.at(stage.wait, lambda: self._enter(walk, nxt))
        else:
            self.queue.later(lambda: self._enter(walk, nxt))

    def _scale_up(self, walk: Walk) -> None:
        svc = walk.svc
        for _ in range(int(moto_service(svc).desired_count or 0)):
            self.deployments.tasks.start(svc, deployment_id=walk.dep, task_definition=walk.new_td)

    def _finish(self, walk: Walk) -> None:
        walk.done = True
        self.walks.pop(walk.dep, None)
        svc = walk.svc
        for t in [t for t in svc.running() if t.deployment_id != walk.dep]:
            self.deployments.tasks.stop(
                svc,
                t,
                stop_code="ServiceSchedulerInitiated",
                reason=f"Task stopped by ECS deployment {walk.dep}",
            )
        details = self._details(walk)
        if walk.alarms_watched:
            details["alarms"]["status"] = "MONITORING_COMPLETE"
        details["finishedAt"] = now()
        self.deployments.completed(svc, walk.dep, walk.new_td)

    # ------------------------------------------------------------------ alarms
    def _in_alarm(self, names: list[str]) -> list[str]:
        found = self.clients("cloudwatch").describe_alarms(AlarmNames=names).get("MetricAlarms", [])
        return sorted(a["AlarmName"] for a in found if a.get("StateValue") == "ALARM")

    def _alarm_tripped(self, walk: Walk) -> bool:
        """A watched alarm is in ALARM: the deployment fails (and rolls back). True if so."""
        if not walk.alarms_watched or not self._live(walk):
            return False
        names = list((walk.config.get("alarms") or {}).get("alarmNames") or [])
        tripped = self._in_alarm(names)
        if not tripped:
            return False
        details = self._details(walk)
        details["alarms"] = {
            "status": "TRIGGERED",
            "alarmNames": names,
            "triggeredAlarmNames": tripped,
        }
        reason = f"ECS deployment {walk.dep} failed: alarm(s) {', '.join(tripped)} in ALARM."
        rollback = bool((walk.config.get("alarms") or {}).get("rollback"))
        self.fail(walk, reason, rollback=rollback)
        return True

    def check_alarms(self) -> None:
        """ECS polls the deployment alarms: each walk's, now."""
        for walk in list(self.walks.values()):
            self._alarm_tripped(walk)

    # ------------------------------------------------------------------ hooks
    def _hooks_at(self, walk: Walk, stage: str) -> list[dict[str, Any]]:
        if stage in NO_HOOK_STAGES:
            return []
        hooks = walk.config.get("lifecycleHooks") or []
        return [
            h
            for h in hooks
            if stage in (h.get("lifecycleStages") or [])
            and not (h.get("targetType") == "PAUSE" and stage in NO_PAUSE_STAGES)
        ]

    def _fire(self, walk: Walk, hook: dict[str, Any], stage: str) -> HookRun:
        pause = hook.get("targetType") == "PAUSE"
        hook_id = (
            f"ecs-pause-{secrets.token_urlsafe(32)}" if pause else f"ecs-lambda-{uuid.uuid4()}"
        )
        run = HookRun(hook, stage, hook_id, details=dict(hook.get("hookDetails") or {}))
        minutes, action = run.timeout()
        run.expires = now() + timedelta(minutes=self.clock.minutes + minutes)
        ms = moto_service(walk.svc)
        sd_arn = adj._sd_arn(ms, walk.dep)
        entry = {
            "hookId": hook_id,
            "targetType": run.target_type,
            "status": "AWAITING_ACTION" if pause else "IN_PROGRESS",
            "expiresAt": run.expires,
            "timeoutAction": action,
        }
        if not pause:
            entry["targetArn"] = str(hook.get("hookTargetArn", ""))
        self._details(walk)["lifecycleHookDetails"].append(entry)
        if pause:
            run.status = "AWAITING_ACTION"
            adj.pause_hooks(ms)[hook_id] = {
                "arn": sd_arn,
                "status": "AWAITING_ACTION",
                "requested": None,
            }
            self._note(walk, f"PAUSE hook {hook_id} at {stage}: awaiting action")
            self.queue.put(self._hook_event(walk, run, "HOOK_AWAITING_ACTION"))
            self.clock.at(minutes, lambda: self._timed_out(walk, run))
        else:
            self.queue.later(lambda: self._invoke(walk, run))
        return run

    def _hook_entry(self, walk: Walk, run: HookRun) -> dict[str, Any]:
        entries: list[dict[str, Any]] = self._details(walk)["lifecycleHookDetails"]
        return next(e for e in entries if e["hookId"] == run.hook_id)

    def _settle_hook(self, walk: Walk, run: HookRun, status: str) -> None:
        run.status = status
        self._hook_entry(walk, run)["status"] = status
        if run.target_type == "PAUSE":
            kept = adj.pause_hooks(moto_service(walk.svc)).get(run.hook_id)
            if kept is not None:
                kept["status"] = status

    def _stage_progress(self, walk: Walk) -> None:
        """All of the stage's hooks succeeded: on to the stage's action and the next."""
        if self._live(walk) and walk.hooks and all(r.status == "SUCCEEDED" for r in walk.hooks):
            self._leave(walk)

    def carry_continues(self) -> None:
        """ContinueServiceDeployment calls made since the last look, carried."""
        for walk in list(self.walks.values()):
            ms = moto_service(walk.svc)
            for run in list(walk.hooks):
                kept = adj.pause_hooks(ms).get(run.hook_id) or {}
                requested = kept.get("requested")
                if run.status != "AWAITING_ACTION" or not requested:
                    continue
                if requested == "CONTINUE":
                    self._settle_hook(walk, run, "SUCCEEDED")
                    self._note(walk, f"hook {run.hook_id} continued (ContinueServiceDeployment)")
                    self.queue.put(self._hook_event(walk, run, "HOOK_SUCCEEDED"))
                    self._stage_progress(walk)
                else:
                    self._settle_hook(walk, run, "FAILED")
                    self.queue.put(self._hook_event(walk, run, "HOOK_FAILED"))
                    self.fail(
                        walk,
                        f"ECS deployment {walk.dep} rolled back: lifecycle hook {run.hook_id} "
                        f"at {run.stage} (ContinueServiceDeployment ROLLBACK).",
                        rollback=True,
                    )

    def _timed_out(self, walk: Walk, run: HookRun) -> None:
        if not self._live(walk) or run.status != "AWAITING_ACTION" or run not in walk.hooks:
            return
        _, action = run.timeout()
        self._settle_hook(walk, run, "TIMED_OUT")
        self._note(walk, f"hook {run.hook_id} timed out: {action}")
        self.queue.put(self._hook_event(walk, run, "HOOK_TIMED_OUT"))
        if action == "CONTINUE":
            run.status = "SUCCEEDED"  # the stage goes on as if continued
            self._stage_progress(walk)
        else:
            self.fail(
                walk,
                f"ECS deployment {walk.dep} rolled back: lifecycle hook {run.hook_id} at "
                f"{run.stage} timed out.",
                rollback=True,
            )

    def _function(self, target: str) -> FunctionInfo | None:
        name = target.split(":function:", 1)[-1].split(":", 1)[0]
        try:
            return self.router.function(name)
        except KeyError:
            pass
        try:
            fn = self.router._function(self.clients("lambda"), target)
        except Exception:
            return None
        self.router.functions[fn.arn] = fn
        return fn

    def _payload(self, walk: Walk, run: HookRun) -> dict[str, Any]:
        ms = moto_service(walk.svc)
        target = adj.revision_arn(ms, walk.dep)
        source = adj.revision_arn(ms, walk.old_dep)
        testing = run.stage in ("TEST_TRAFFIC_SHIFT", "POST_TEST_TRAFFIC_SHIFT")
        shifting = run.stage in ("PRODUCTION_TRAFFIC_SHIFT",)
        stage = walk.stages[walk.position]
        weight = stage.weight if shifting and stage.weight is not None else walk.weight
        payload: dict[str, Any] = {
            "executionId": str(uuid.uuid4()),
            "lifecycleStage": run.stage,
            "resourceArn": adj._sd_arn(ms, walk.dep),
            "executionDetails": {
                "serviceArn": walk.svc.arn,
                "targetServiceRevisionArn": target,
                "testTrafficWeights": {target: 100, source: 0} if testing else {},
                "productionTrafficWeights": (
                    {target: weight, source: 100 - weight} if shifting else {}
                ),
            },
        }
        if run.details:
            payload["hookDetails"] = run.details
        return payload

    def _shift_back(self, walk: Walk) -> None:
        """A rollback moves the traffic back: ECS invokes again the Lambda hooks of the
        traffic shifts the walk had reached, PRODUCTION_TRAFFIC_SHIFT then TEST_TRAFFIC_SHIFT,
        with the new revision at 0 % (Lambda hooks page: there is no ROLLBACK stage; the
        target stays the new revision). What they answer changes nothing here: the docs do
        not say what a rollback does with it."""
        reached = [s.name for s in walk.stages[: walk.position + 1]]
        ms = moto_service(walk.svc)
        target = adj.revision_arn(ms, walk.dep)
        source = adj.revision_arn(ms, walk.old_dep)
        for stage in ("PRODUCTION_TRAFFIC_SHIFT", "TEST_TRAFFIC_SHIFT"):
            if stage not in reached:
                continue
            for hook in self._hooks_at(walk, stage):
                if hook.get("targetType") == "PAUSE":
                    continue
                back = {target: 0, source: 100}
                payload: dict[str, Any] = {
                    "executionId": str(uuid.uuid4()),
                    "lifecycleStage": stage,
                    "resourceArn": adj._sd_arn(ms, walk.dep),
                    "executionDetails": {
                        "serviceArn": walk.svc.arn,
                        "targetServiceRevisionArn": target,
                        "testTrafficWeights": back if stage == "TEST_TRAFFIC_SHIFT" else {},
                        "productionTrafficWeights": (
                            back if stage == "PRODUCTION_TRAFFIC_SHIFT" else {}
                        ),
                    },
                }
                if hook.get("hookDetails"):
                    payload["hookDetails"] = dict(hook["hookDetails"])
                target_fn = str(hook.get("hookTargetArn") or "")
                fn = self._function(target_fn)
                answer = None
                if fn is not None:
                    answer, _, _ = invoke_in_process(fn, payload, self.clients.endpoint)
                self.invocations.append((fn.name if fn else target_fn, payload, answer))
                self.timeline.add(
                    "state",
                    f"{walk.svc.name}: Lambda hook {target_fn.rsplit(':', 1)[-1]} at {stage} "
                    "invoked for the rollback (new revision at 0 %)",
                )

    def _invoke(self, walk: Walk, run: HookRun) -> None:
        if not self._live(walk) or run not in walk.hooks:
            return
        target = str(run.hook.get("hookTargetArn") or "")
        fn = self._function(target)
        payload = self._payload(walk, run)
        answer: dict[str, Any] | None = None
        error: str | None = None
        if fn is None:
            error = f"no function {target}"
        else:
            result, exc, _ = invoke_in_process(fn, payload, self.clients.endpoint)
            answer, error = result, (f"{type(exc).__name__}: {exc}" if exc else None)
        self.invocations.append((fn.name if fn else target, payload, answer))
        status = str((answer or {}).get("hookStatus") or "") if error is None else ""
        self.timeline.add(
            "state",
            f"{walk.svc.name}: Lambda hook {target.rsplit(':', 1)[-1]} at {run.stage} "
            f"invoked: {error or (status or 'no hookStatus')}",
        )
        if status == "SUCCEEDED":
            self._settle_hook(walk, run, "SUCCEEDED")
            self._stage_progress(walk)
        elif status == "IN_PROGRESS":
            more = (answer or {}).get("hookDetails")
            if isinstance(more, dict):
                run.details = {**run.details, **more}
            delay = float((answer or {}).get("callBackDelay") or DEFAULT_CALLBACK_SECONDS)
            self.clock.at(delay / 60.0, lambda: self._invoke(walk, run))
        else:
            self._settle_hook(walk, run, "FAILED")
            why = error or (f"hookStatus {status}" if status else "no valid hookStatus")
            self.fail(
                walk,
                f"ECS deployment {walk.dep} rolled back: lifecycle hook {target} at "
                f"{run.stage} failed ({why}).",
                rollback=True,
            )

    # ------------------------------------------------------------------ failing
    def fail(self, walk: Walk, reason: str, *, rollback: bool) -> None:
        """The deployment fails: FAILED, and with ``rollback`` ECS's rollback to the source
        revision (its IN_PROGRESS now, its COMPLETED once the new revision's tasks stop)."""
        if not self._live(walk):
            return
        walk.done = True
        self.walks.pop(walk.dep, None)
        svc, ms = walk.svc, moto_service(walk.svc)
        self._note(walk, f"FAILED at {walk.stage}: {reason}")
        details = self._details(walk)
        details["finishedAt"] = now()
        for entry in details["lifecycleHookDetails"]:
            if entry["status"] in ("AWAITING_ACTION", "IN_PROGRESS"):
                entry["status"] = "FAILED"
        if not rollback:
            details["_brief"] = {"status": "STOPPED", "statusReason": reason, "finishedAt": now()}
            self.deployments.failed_without_rollback(svc, walk.dep, walk.new_td, reason)
            return
        back = f"ecs-svc/{secrets.randbelow(10**18)}"
        rolling = f"{reason.rstrip('.')}: rolling back to deploymentId {walk.old_dep}."
        details["rollback"] = {
            "reason": rolling,
            "startedAt": now(),
            "serviceRevisionArn": adj.revision_arn(ms, walk.old_dep),
        }
        details["_brief"] = {"status": "ROLLBACK_IN_PROGRESS", "statusReason": rolling}
        adj.deployment_details(ms)[adj.short_id(back)] = {"_hidden": True}
        self.deployments.rolled_back(
            svc, walk.dep, walk.new_td, back, walk.old_td, failed_reason=reason, rolling=rolling
        )
        self.queue.later(lambda: self._shift_back(walk))

        def done() -> None:
            details["_brief"] = {
                "status": "ROLLBACK_SUCCESSFUL",
                "statusReason": rolling,
                "finishedAt": now(),
            }

        self.queue.later(done)

    # ------------------------------------------------------------------ records
    def _details(self, walk: Walk) -> dict[str, Any]:
        told: dict[str, Any] = adj.deployment_details(moto_service(walk.svc)).setdefault(
            adj.short_id(walk.dep), {"lifecycleHookDetails": []}
        )
        return told

    def _note(self, walk: Walk, text: str) -> None:
        walk.log.append(text)
        self.timeline.add("state", f"{walk.svc.name}: {walk.dep} {text}")

    def _hook_event(self, walk: Walk, run: HookRun, name: str) -> Event:
        ms = moto_service(walk.svc)
        sd_arn = adj._sd_arn(ms, walk.dep)
        at = now()
        return make_event(
            "aws.ecs",
            "ECS Hook State Change",
            {
                "eventType": "INFO",
                "eventName": name,
                "hookId": run.hook_id,
                "hookType": run.target_type,
                "expiresAt": iso(run.expires),
                "lifecycleStage": run.stage,
                "clusterArn": walk.svc.cluster_arn,
                "serviceArn": walk.svc.arn,
                "serviceDeploymentArn": sd_arn,
                "updatedAt": at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond:06d}000Z",
            },
            [sd_arn],
        )
