"""How ECS rolls a deploy out: the service's deployment strategy (``autopilot:strategy``) and
its deployment alarms (``autopilot:alarms``), parsed and turned into the
``deploymentConfiguration`` of the deploy's UpdateService.

``autopilot:strategy`` (written within ECS's tag-value characters):

==========================  ============================================================
value                       ECS's ``deploymentConfiguration``
==========================  ============================================================
``rolling``                 ``strategy`` ROLLING
``canary:<pct>:<bake>``     CANARY, ``canaryConfiguration`` {``canaryPercent`` <pct>
                            (0.1..100, a multiple of 0.1), ``canaryBakeTimeInMinutes``
                            <bake> (0..1440)}
``linear:<pct>:<bake>``     LINEAR, ``linearConfiguration`` {``stepPercent`` <pct>
                            (3..100, a multiple of 0.1), ``stepBakeTimeInMinutes``
                            <bake> (0..1440)}
``blue-green:<bake>``       BLUE_GREEN, ``bakeTimeInMinutes`` <bake> (0..1440)
==========================  ============================================================

The ranges are those of ECS's API reference (``CanaryConfiguration``,
``LinearConfiguration``, ``DeploymentConfiguration``). No tag: the service keeps whatever
strategy it has. Canary, linear and blue/green shift traffic between two target groups, so
ECS needs each of the service's load balancers to carry an ``advancedConfiguration``
(alternate target group, production listener rule, role); a service without it is
deployed rolling, and the decision says why.

``autopilot:alarms``: CloudWatch alarm names separated by spaces (at most
``MAX_ALARMS``); each deploy sets ``alarms`` {those names, enable, rollback}, so ECS rolls
the deployment back when one goes into ALARM. The flow checks that they exist first.

``autopilot:approval=manual-traffic`` (``pause_hook``): each deploy adds autopilot's PAUSE
hook to ``lifecycleHooks``, at PRE_PRODUCTION_TRAFFIC_SHIFT with timeout action ROLLBACK, so
the deployment bakes on test traffic and waits for ``autopilot approve`` (or ``reject``, or
the timeout) before production traffic. Ours is recognised as the PAUSE hook whose stages are
exactly PRE_PRODUCTION_TRAFFIC_SHIFT and whose timeout action is ROLLBACK (``is_ours``): it is
replaced on every deploy (never a second one) and dropped when the approval is no longer
manual-traffic. Every other hook of the service is sent back as it is. Only the strategies
that run hooks take it (canary, linear, blue/green: ``hook_refusal``); ECS's docs name no
hook stages for rolling.

The rest of the service's ``deploymentConfiguration`` (percentages, circuit breaker, hooks)
is sent back as DescribeServices read it: UpdateService takes the structure whole.

The admission hook (``AdmissionHook``, ``flows.admission``): a deploy whose strategy runs
lifecycle hooks (canary, linear, blue/green; ECS documents no hooks for rolling) adds a
Lambda hook at PRE_SCALE_UP to ``lifecycleHooks`` when none there targets the admission
function; the service's own hooks are kept as they are.
"""

from __future__ import annotations

import re
from typing import Any, Literal, NamedTuple

from autopilot import contract
from autopilot.errors import MalformedTag

Kind = Literal["rolling", "canary", "linear", "blue-green"]

#: ECS's ``strategy`` value for each kind
ECS_STRATEGY: dict[Kind, str] = {
    "rolling": "ROLLING",
    "canary": "CANARY",
    "linear": "LINEAR",
    "blue-green": "BLUE_GREEN",
}
MAX_BAKE_MINUTES = 1440
#: the lowest percent each kind takes (ECS: canary 0.1, linear step 3.0; both up to 100)
MIN_PERCENT: dict[Kind, float] = {"canary": 0.1, "linear": 3.0}
MAX_ALARMS = 10
#: the stage autopilot's PAUSE hook waits at: after test traffic, before production traffic
PAUSE_STAGE = "PRE_PRODUCTION_TRAFFIC_SHIFT"
#: ECS's range of a pause hook's ``timeoutInMinutes`` (DeploymentLifecycleHookTimeoutConfiguration)
PAUSE_TIMEOUT_RANGE = (1, 20160)

_PERCENT = re.compile(r"[0-9]{1,3}(?:\.[0-9])?", re.ASCII)
_MINUTES = re.compile(r"[0-9]{1,4}", re.ASCII)
_EXPECTED = (
    "expected rolling, canary:<percent>:<bake minutes>, linear:<step percent>:<bake minutes> "
    "or blue-green:<bake minutes>"
)


#: the strategies whose deployments run lifecycle hooks
HOOKED_STRATEGIES = frozenset({"BLUE_GREEN", "LINEAR", "CANARY"})


class AdmissionHook(NamedTuple):
    """The admission function and the role ECS assumes to invoke it."""

    function_arn: str
    role_arn: str

    def hook(self) -> dict[str, Any]:
        """Its ``DeploymentLifecycleHook``."""
        return {
            "targetType": "AWS_LAMBDA",
            "hookTargetArn": self.function_arn,
            "roleArn": self.role_arn,
            "lifecycleStages": [contract.ADMISSION_STAGE],
        }

    def on(self, config: dict[str, Any]) -> bool:
        """A hook of ``config`` (a ``deploymentConfiguration``) targets the admission function."""
        return any(
            isinstance(h, dict) and h.get("hookTargetArn") == self.function_arn
            for h in config.get("lifecycleHooks") or []
        )


def with_admission(config: dict[str, Any], admission: AdmissionHook) -> dict[str, Any] | None:
    """``config`` with the admission hook added, or None when it needs none (it has one, or
    its strategy runs no hooks)."""
    if config.get("strategy") not in HOOKED_STRATEGIES or admission.on(config):
        return None
    return {**config, "lifecycleHooks": [*(config.get("lifecycleHooks") or []), admission.hook()]}


class Rollout(NamedTuple):
    """A service's deployment strategy, as its ``autopilot:strategy`` tag says."""

    kind: Kind = "rolling"
    #: canary percent, or linear step percent
    percent: float | None = None
    bake_minutes: int | None = None

    @property
    def shifts_traffic(self) -> bool:
        """Canary, linear and blue/green move traffic between two target groups."""
        return self.kind != "rolling"

    def __str__(self) -> str:
        if self.kind == "rolling":
            return "rolling"
        if self.percent is None:
            return f"{self.kind}:{self.bake_minutes}"
        return f"{self.kind}:{self.percent:g}:{self.bake_minutes}"


def parse_rollout(value: str | None) -> Rollout | None:
    """``autopilot:strategy``, or None when the service has no such tag; raises
    ``MalformedTag`` for anything else than the four forms, or a number out of ECS's range."""
    if value is None:
        return None
    raw = value.strip()
    kind, _, rest = raw.partition(":")
    parts = rest.split(":") if rest else []
    if kind == "rolling" and not parts:
        return Rollout()
    if kind in ("canary", "linear") and len(parts) == 2:
        shifting: Kind = "canary" if kind == "canary" else "linear"
        low = MIN_PERCENT[shifting]
        return Rollout(shifting, _percent(raw, parts[0], low), _minutes(raw, parts[1]))
    if kind == "blue-green" and len(parts) == 1:
        return Rollout("blue-green", None, _minutes(raw, parts[0]))
    raise MalformedTag(contract.TAG_STRATEGY, raw[:64], _EXPECTED)


def _percent(raw: str, text: str, low: float) -> float:
    if not _PERCENT.fullmatch(text) or not low <= float(text) <= 100:
        problem = f"the percent must be {low:g} to 100, in steps of 0.1 (got {text!r})"
        raise MalformedTag(contract.TAG_STRATEGY, raw[:64], problem)
    return float(text)


def _minutes(raw: str, text: str) -> int:
    if not _MINUTES.fullmatch(text) or int(text) > MAX_BAKE_MINUTES:
        problem = f"the bake time must be 0 to {MAX_BAKE_MINUTES} minutes (got {text!r})"
        raise MalformedTag(contract.TAG_STRATEGY, raw[:64], problem)
    return int(text)


def parse_alarms(value: str | None) -> tuple[str, ...]:
    """``autopilot:alarms``: the alarm names (space-separated), () with no tag; raises
    ``MalformedTag`` for an empty value or more than ``MAX_ALARMS`` names."""
    if value is None:
        return ()
    names = tuple(dict.fromkeys(value.split()))
    if not names:
        raise MalformedTag(contract.TAG_ALARMS, value[:64], "expected alarm names, space-separated")
    if len(names) > MAX_ALARMS:
        problem = f"at most {MAX_ALARMS} alarms (got {len(names)})"
        raise MalformedTag(contract.TAG_ALARMS, value[:64], problem)
    return names


def pause_hook(timeout_minutes: int) -> dict[str, Any]:
    """autopilot's PAUSE hook (``lifecycleHooks`` entry): waits at ``PAUSE_STAGE``, rolls the
    deployment back after ``timeout_minutes`` without an answer."""
    return {
        "targetType": "PAUSE",
        "lifecycleStages": [PAUSE_STAGE],
        "timeoutConfiguration": {"timeoutInMinutes": timeout_minutes, "action": "ROLLBACK"},
    }


def is_ours(hook: Any) -> bool:
    """Whether a ``lifecycleHooks`` entry is autopilot's PAUSE hook (see the module's doc)."""
    if not isinstance(hook, dict):
        return False
    timeout = hook.get("timeoutConfiguration") or {}
    return (
        hook.get("targetType") == "PAUSE"
        and list(hook.get("lifecycleStages") or []) == [PAUSE_STAGE]
        and timeout.get("action", "ROLLBACK") == "ROLLBACK"
    )


def effective_kind(current: dict[str, Any], rollout: Rollout | None, *, traffic_ready: bool) -> str:
    """ECS's ``strategy`` the deploy will run with: the tag's (rolling when it needs traffic
    wiring the service lacks), else the service's own (ROLLING when unset)."""
    if rollout is not None:
        if rollout.shifts_traffic and not traffic_ready:
            return "ROLLING"
        return ECS_STRATEGY[rollout.kind]
    return str(current.get("strategy") or "ROLLING")


def hook_refusal(current: dict[str, Any], rollout: Rollout | None, *, traffic_ready: bool) -> str:
    """Why a manual-traffic approval cannot run on this service ("" when it can): the deploy
    would run ROLLING, whose hook stages ECS's docs do not name."""
    kind = effective_kind(current, rollout, traffic_ready=traffic_ready)
    if kind in ("BLUE_GREEN", "CANARY", "LINEAR"):
        return ""
    wiring = (
        " (its strategy needs a load balancer with an advanced configuration)"
        if rollout is not None and rollout.shifts_traffic
        else ""
    )
    return (
        f"approval manual-traffic needs a canary, linear or blue-green deployment (a pause "
        f"hook before production traffic); this deploy would run {kind.lower()}{wiring}: "
        "nothing deployed"
    )


def deployment_configuration(
    current: dict[str, Any],
    rollout: Rollout | None,
    alarms: tuple[str, ...],
    *,
    traffic_ready: bool,
    pause_minutes: int | None = None,
    admission: AdmissionHook | None = None,
) -> tuple[dict[str, Any] | None, str]:
    """The ``deploymentConfiguration`` the deploy's UpdateService sends (None: leave it as it
    is), and a note for the decision's reason ("" when there is nothing to say).

    ``current`` is the service's, as DescribeServices read it; ``traffic_ready``: every load
    balancer of the service has an ``advancedConfiguration`` (what canary, linear and
    blue/green need); ``pause_minutes``: add autopilot's PAUSE hook with that timeout
    (manual-traffic approval), None: drop it if the service has it; ``admission``: the hook
    to add if the strategy runs hooks and the service has none (``with_admission``)."""
    hooks = list(current.get("lifecycleHooks") or [])
    theirs = [h for h in hooks if not is_ours(h)]
    if rollout is None and not alarms and pause_minutes is None and len(theirs) == len(hooks):
        if admission is None:
            return None, ""
        hooked = with_admission(dict(current), admission)
        return hooked, "admission hook added" if hooked is not None else ""
    config = dict(current)
    note = ""
    pause_note = ""
    if pause_minutes is not None:
        config["lifecycleHooks"] = [*theirs, pause_hook(pause_minutes)]
        pause_note = (
            f"waits for `autopilot approve` before production traffic (pause hook, "
            f"rolled back after {pause_minutes} min)"
        )
    elif len(theirs) != len(hooks):
        config["lifecycleHooks"] = theirs
    if rollout is not None:
        if rollout.shifts_traffic and not traffic_ready:
            note = (
                f"strategy {rollout} needs a load balancer with an advanced configuration "
                "(alternate target group, production listener rule, role): deployed rolling"
            )
            rollout = Rollout()
        else:
            note = f"strategy {rollout}"
        for key in ("canaryConfiguration", "linearConfiguration", "bakeTimeInMinutes"):
            config.pop(key, None)
        config["strategy"] = ECS_STRATEGY[rollout.kind]
        if rollout.kind == "canary":
            config["canaryConfiguration"] = {
                "canaryPercent": rollout.percent,
                "canaryBakeTimeInMinutes": rollout.bake_minutes,
            }
        elif rollout.kind == "linear":
            config["linearConfiguration"] = {
                "stepPercent": rollout.percent,
                "stepBakeTimeInMinutes": rollout.bake_minutes,
            }
        elif rollout.kind == "blue-green":
            config["bakeTimeInMinutes"] = rollout.bake_minutes
    if alarms:
        config["alarms"] = {"alarmNames": list(alarms), "enable": True, "rollback": True}
        note = ", ".join(filter(None, [note, f"rolled back by ECS on alarm {' '.join(alarms)}"]))
    hooked = with_admission(config, admission) if admission is not None else None
    if hooked is not None:
        config, note = hooked, ", ".join(filter(None, [note, "admission hook added"]))
    return config, ", ".join(filter(None, [note, pause_note]))
