"""Capacity decisions. Pure: no AWS, no clock (``now`` is passed in).

Alarm tags (on the CloudWatch alarm; ``alarmTags`` in the event when tag propagation is
on, else read from the alarm). Values are ASCII, printable, at most 256 characters
(AWS's own tag value limit), surrounding blanks ignored; anything else is a ``TagError``::

    autopilot:target   := service-arn | "service:" NAME | NAME
                        | "asg:" ASG_NAME | "capacity-provider:" NAME
        service-arn    := arn:PARTITION:ecs:REGION:ACCOUNT:service/[CLUSTER/]NAME
        NAME           := [A-Za-z0-9_-]{1,255}          (ECS service / capacity provider)
        ASG_NAME       := [A-Za-z0-9][A-Za-z0-9._-]{0,254}
        (a bare NAME is a service of the only managed cluster; with several, the target is
        the service's ARN. FARGATE and FARGATE_SPOT are not capacity providers with capacity
        to scale and are refused)
    autopilot:step     := ("+" | "-") DIGITS ["%"]     1 <= N <= 10000; N% <= 1000%
                                                      (scale-in N% <= 100%); required
    autopilot:cooldown := DIGITS                       seconds, 0..86400; default 300
    autopilot:scaling  := MIN "-" MAX                  on the service: 0 <= MIN <= MAX

A percent step moves by ceil(current x N / 100), at least one.

Who owns the number an alarm moves (never fight the mechanism that owns it):

=========================================  ===========================  ======================
target                                     ALARM                        OK
=========================================  ===========================  ======================
service with a scalable target             raise MinCapacity (floor) to  restore the recorded
(Application Auto Scaling owns desired)    desired + step, record the    original floor
                                           original floor
service without a scalable target          desiredCount + step           nothing
ASG / capacity provider, managed scaling   raise the ASG MinSize (floor) restore recorded min
(ECS owns the ASG's desired capacity)      to desired + step
plain ASG / capacity provider              DesiredCapacity + step        nothing
=========================================  ===========================  ======================

Negative steps move the same owner down (a floor only back towards its recorded
original). Every new value is clamped to the bounds: the service's ``autopilot:scaling``,
else its scalable target's min/max (the recorded original min when autopilot raised it),
else the ASG's min/max; a service with neither tag nor scalable target is not scaled.
INSUFFICIENT_DATA changes nothing. At most one change per target per cooldown, restores
included, so ALARM -> OK -> ALARM inside the cooldown makes one change; a deferred
restore comes back as ``NoChange.retry_at``. A service whose in-progress deployment
watches the alarm is not touched.

Other signals:

=================================  ==================================================
signal                             decision
=================================  ==================================================
placement failure RESOURCE:CPU /   the capacity provider's ASG out by one step within
RESOURCE:MEMORY on EC2 capacity    max (desired; under managed scaling its MinSize)
placement failure RESOURCE:FARGATE every FARGATE_SPOT item of the strategy moved onto
on a service using FARGATE_SPOT    FARGATE (``StrategyShift``; the original recorded)
SERVICE_STEADY_STATE, fallback     shift back to the recorded original once no
recorded                           placement failure for ``calm_seconds``
Spot interruption warning          the instance's ASG up by one within max
other placement failure reasons    nothing (recorded)
=================================  ==================================================
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Final, Literal, NamedTuple

from autopilot.contract import TAG_COOLDOWN, TAG_SCALING, TAG_STEP, TAG_TARGET
from autopilot.domain.records import RecordedShift
from autopilot.domain.report import Outcome
from autopilot.domain.service import FARGATE, FARGATE_SPOT, Strategy, StrategyItem

MAX_TAG_VALUE: Final = 256
DEFAULT_COOLDOWN_SECONDS: Final = 300
MAX_COOLDOWN_SECONDS: Final = 86_400
MAX_STEP: Final = 10_000
MAX_STEP_PERCENT: Final = 1_000
MAX_CAPACITY: Final = 1_000_000

REASON_CPU: Final = "RESOURCE:CPU"
REASON_MEMORY: Final = "RESOURCE:MEMORY"
REASON_FARGATE: Final = "RESOURCE:FARGATE"

# Anchored with fullmatch, no nested quantifiers: linear time on any input.
_SERVICE_ARN = re.compile(
    r"arn:aws[a-z-]{0,16}:ecs:[a-z0-9-]{1,32}:[0-9]{12}:service/"
    r"(?:(?P<cluster>[A-Za-z0-9_-]{1,255})/)?(?P<name>[A-Za-z0-9_-]{1,255})"
)
_NAME = re.compile(r"[A-Za-z0-9_-]{1,255}")
_ASG_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,254}")
_STEP = re.compile(r"(?P<sign>[+-])(?P<amount>[0-9]{1,6})(?P<percent>%?)")
_SECONDS = re.compile(r"[0-9]{1,6}")
_BOUNDS = re.compile(r"(?P<low>[0-9]{1,7}) ?- ?(?P<high>[0-9]{1,7})")


# ---------------------------------------------------------------------------
# Errors and tag parsing
# ---------------------------------------------------------------------------
class InvalidTag(ValueError):
    """An ``autopilot:*`` tag value does not follow the grammar."""

    def __init__(self, key: str, reason: str) -> None:
        super().__init__(key + ": " + reason)
        self.key = key
        self.reason = reason


class TagError(NamedTuple):
    """Why an alarm's tags bind it to nothing (recorded; nothing is changed)."""

    key: str
    reason: str


class ServiceTarget(NamedTuple):
    name: str
    cluster: str | None = None
    arn: str | None = None


class AsgTarget(NamedTuple):
    name: str


class CapacityProviderTarget(NamedTuple):
    name: str


Target = ServiceTarget | AsgTarget | CapacityProviderTarget


class Step(NamedTuple):
    direction: Literal[1, -1]
    amount: int
    percent: bool = False

    def delta(self, current: int) -> int:
        """Signed change from ``current`` (percent: ceil(current x N / 100), at least 1)."""
        if not self.percent:
            return self.direction * self.amount
        magnitude = max(1, -(-max(current, 0) * self.amount // 100))
        return self.direction * magnitude


class AlarmBinding(NamedTuple):
    target: Target
    step: Step
    cooldown_seconds: int = DEFAULT_COOLDOWN_SECONDS


BoundsSource = Literal["autopilot:scaling", "application-autoscaling", "auto-scaling-group"]


class Bounds(NamedTuple):
    low: int
    high: int
    source: BoundsSource

    def clamp(self, value: int) -> int:
        return min(max(value, self.low), self.high)

    def __contains__(self, value: object) -> bool:
        return isinstance(value, int) and self.low <= value <= self.high


def _text(key: str, value: object) -> str:
    if not isinstance(value, str):
        raise InvalidTag(key, "value is not a string")
    if len(value) > MAX_TAG_VALUE:
        raise InvalidTag(key, "value is longer than 256 characters")
    if not value.isascii() or not value.isprintable():
        raise InvalidTag(key, "value has non-ASCII or control characters")
    text = value.strip()
    if not text:
        raise InvalidTag(key, "value is empty")
    return text


def parse_target(value: object) -> Target:
    """``autopilot:target``; raises ``InvalidTag``."""
    text = _text(TAG_TARGET, value)
    if text.startswith("arn:"):
        match = _SERVICE_ARN.fullmatch(text)
        if match is None:
            raise InvalidTag(TAG_TARGET, "an ARN target must be an ECS service ARN")
        return ServiceTarget(match.group("name"), match.group("cluster"), text)
    kind, sep, name = text.partition(":")
    if not sep:
        kind, name = "service", text
    if kind == "service":
        if _NAME.fullmatch(name) is None:
            raise InvalidTag(TAG_TARGET, "not an ECS service name ([A-Za-z0-9_-], 1-255)")
        return ServiceTarget(name)
    if kind == "asg":
        if _ASG_NAME.fullmatch(name) is None:
            raise InvalidTag(TAG_TARGET, "not an Auto Scaling group name ([A-Za-z0-9._-])")
        return AsgTarget(name)
    if kind == "capacity-provider":
        if _NAME.fullmatch(name) is None:
            raise InvalidTag(TAG_TARGET, "not a capacity provider name ([A-Za-z0-9_-])")
        if name in (FARGATE, FARGATE_SPOT):
            raise InvalidTag(TAG_TARGET, "Fargate capacity providers have no capacity to scale")
        return CapacityProviderTarget(name)
    raise InvalidTag(TAG_TARGET, "expected service:, asg:, capacity-provider: or a service ARN")


def parse_step(value: object) -> Step:
    """``autopilot:step`` (+N, -N, +N%, -N%); raises ``InvalidTag``."""
    match = _STEP.fullmatch(_text(TAG_STEP, value))
    if match is None:
        raise InvalidTag(TAG_STEP, "expected +N, -N, +N% or -N%")
    amount = int(match.group("amount"))
    percent = match.group("percent") == "%"
    direction: Literal[1, -1] = 1 if match.group("sign") == "+" else -1
    if amount == 0:
        raise InvalidTag(TAG_STEP, "a step of zero changes nothing")
    if not percent and amount > MAX_STEP:
        raise InvalidTag(TAG_STEP, "step is larger than 10000")
    if percent and amount > (MAX_STEP_PERCENT if direction == 1 else 100):
        raise InvalidTag(TAG_STEP, "percent step out of range (+1..1000%, -1..100%)")
    return Step(direction, amount, percent)


def parse_cooldown(value: object) -> int:
    """``autopilot:cooldown`` in seconds; raises ``InvalidTag``."""
    text = _text(TAG_COOLDOWN, value)
    if _SECONDS.fullmatch(text) is None or int(text) > MAX_COOLDOWN_SECONDS:
        raise InvalidTag(TAG_COOLDOWN, "expected whole seconds, 0..86400")
    return int(text)


def parse_scaling_bounds(value: object) -> Bounds:
    """A service's ``autopilot:scaling`` (``MIN-MAX``); raises ``InvalidTag``."""
    match = _BOUNDS.fullmatch(_text(TAG_SCALING, value))
    if match is None:
        raise InvalidTag(TAG_SCALING, "expected MIN-MAX, e.g. 2-10")
    low, high = int(match.group("low")), int(match.group("high"))
    if low > high or high > MAX_CAPACITY:
        raise InvalidTag(TAG_SCALING, "MIN must not exceed MAX (and MAX <= 1000000)")
    return Bounds(low, high, "autopilot:scaling")


def parse_alarm_tags(tags: Mapping[str, object] | None) -> AlarmBinding | TagError:
    """What an alarm drives, or why it drives nothing. Never raises on tag content."""
    if not tags or TAG_TARGET not in tags:
        return TagError(TAG_TARGET, "alarm has no autopilot:target tag")
    if TAG_STEP not in tags:
        return TagError(TAG_STEP, "alarm has no autopilot:step tag")
    try:
        target = parse_target(tags[TAG_TARGET])
        step = parse_step(tags[TAG_STEP])
        cooldown = (
            parse_cooldown(tags[TAG_COOLDOWN]) if TAG_COOLDOWN in tags else DEFAULT_COOLDOWN_SECONDS
        )
    except InvalidTag as exc:
        return TagError(exc.key, exc.reason)
    return AlarmBinding(target, step, cooldown)


# ---------------------------------------------------------------------------
# State the flow gathers, and the decisions
# ---------------------------------------------------------------------------
class ScalableTargetState(NamedTuple):
    """The service's Application Auto Scaling scalable target."""

    min_capacity: int
    max_capacity: int
    #: The MinCapacity recorded (ledger) before autopilot first raised it, if it did.
    recorded_original_min: int | None = None


class ServiceState(NamedTuple):
    name: str
    desired_count: int
    scaling_tag: str | None = None
    scalable_target: ScalableTargetState | None = None
    deployment_in_progress: bool = False
    #: Alarm names of the in-progress deployment's ``deploymentConfiguration.alarms``.
    deployment_alarms: frozenset[str] = frozenset()
    strategy: Strategy = ()


class AsgState(NamedTuple):
    name: str
    min_size: int
    max_size: int
    desired: int
    managed_scaling: bool = False
    recorded_original_min: int | None = None


class Owner(StrEnum):
    """Which API and field a change goes through."""

    SERVICE_DESIRED_COUNT = "ecs:UpdateService desiredCount"
    SCALABLE_TARGET_MIN = "application-autoscaling:RegisterScalableTarget MinCapacity"
    ASG_DESIRED = "autoscaling:SetDesiredCapacity"
    ASG_MIN = "autoscaling:UpdateAutoScalingGroup MinSize"


class Change(NamedTuple):
    owner: Owner
    target: str
    old: int
    new: int
    bounds: Bounds
    reason: str
    #: Floors: record this original value before applying (first raise only).
    record_original: int | None = None
    #: Floors: the original is back; forget the record.
    clear_original: bool = False


class StrategyShift(NamedTuple):
    service: str
    old: Strategy
    new: Strategy
    reason: str
    #: True on the fallback (record ``old`` as the original), False on the way back.
    record_original: bool


class NoChange(NamedTuple):
    reason: str
    retry_at: datetime | None = None


Decision = Change | StrategyShift | NoChange


def cooldown_gate(
    last_change_at: datetime | None, cooldown_seconds: int, now: datetime
) -> NoChange | None:
    """``NoChange`` (with when to retry) while inside the cooldown, else ``None``."""
    if last_change_at is None:
        return None
    until = last_change_at + timedelta(seconds=cooldown_seconds)
    if now < until:
        return NoChange("inside the cooldown since the last change", retry_at=until)
    return None


def resolve_bounds(state: ServiceState | AsgState) -> Bounds | None:
    """Bounds for a change to ``state``; raises ``InvalidTag`` on a bad ``autopilot:scaling``."""
    if isinstance(state, AsgState):
        low = (
            state.recorded_original_min
            if state.recorded_original_min is not None
            else state.min_size
        )
        return Bounds(min(low, state.max_size), state.max_size, "auto-scaling-group")
    if state.scaling_tag is not None:
        return parse_scaling_bounds(state.scaling_tag)
    target = state.scalable_target
    if target is not None:
        low = (
            target.recorded_original_min
            if target.recorded_original_min is not None
            else target.min_capacity
        )
        return Bounds(min(low, target.max_capacity), target.max_capacity, "application-autoscaling")
    return None


def _step_value(
    owner: Owner, target: str, old: int, *, bounds: Bounds, step: Step, why: str
) -> Decision:
    delta = step.delta(old)
    if delta > 0:
        new = min(max(old + delta, bounds.low), bounds.high)
        if new <= old:
            return NoChange(f"{target} is already at or above its max ({bounds.high})")
    else:
        new = max(min(old + delta, bounds.high), bounds.low)
        if new >= old:
            return NoChange(f"{target} is already at or below its min ({bounds.low})")
    return Change(owner, target, old, new, bounds, why)


def _move_floor(
    owner: Owner,
    target: str,
    *,
    floor: int,
    current: int,
    recorded: int | None,
    bounds: Bounds,
    step: Step,
    clearing: bool,
    why: str,
) -> Decision:
    """Raise a floor to ``current + step``, lower it towards, or restore, its original."""
    if clearing:
        if recorded is None or recorded >= floor:
            return NoChange(f"{target}'s floor was not raised by autopilot: nothing to restore")
        restored = bounds.clamp(recorded)
        if restored >= floor:
            return NoChange(f"{target}'s floor is already at the lowest its bounds allow")
        return Change(owner, target, floor, restored, bounds, why, clear_original=True)
    delta = step.delta(current)
    if delta > 0:
        new = min(max(current + delta, bounds.low), bounds.high)
        if new <= floor:
            return NoChange(f"{target}'s floor ({floor}) already covers the step")
        original = floor if recorded is None else None
        return Change(owner, target, floor, new, bounds, why, record_original=original)
    if recorded is None or recorded >= floor:
        return NoChange(f"{target}'s floor was not raised by autopilot; its owner scales in")
    new = bounds.clamp(max(floor + delta, recorded))
    if new >= floor:
        return NoChange(f"{target}'s floor is already at its original")
    return Change(owner, target, floor, new, bounds, why, clear_original=new == recorded)


def _change_service(
    service: ServiceState, bounds: Bounds, step: Step, *, clearing: bool, why: str
) -> Decision:
    target = service.scalable_target
    if target is None:
        if clearing:
            return NoChange("OK applies nothing to a service's desired count")
        return _step_value(
            Owner.SERVICE_DESIRED_COUNT,
            service.name,
            service.desired_count,
            bounds=bounds,
            step=step,
            why=why,
        )
    # Application Auto Scaling owns desiredCount: move its floor, inside its max.
    if bounds.low > target.max_capacity:
        return NoChange(
            f"{service.name}: autopilot:scaling minimum exceeds the scalable target's max"
        )
    inner = Bounds(bounds.low, min(bounds.high, target.max_capacity), bounds.source)
    return _move_floor(
        Owner.SCALABLE_TARGET_MIN,
        service.name,
        floor=target.min_capacity,
        current=max(service.desired_count, target.min_capacity),
        recorded=target.recorded_original_min,
        bounds=inner,
        step=step,
        clearing=clearing,
        why=why,
    )


def _change_asg(asg: AsgState, bounds: Bounds, step: Step, *, clearing: bool, why: str) -> Decision:
    if asg.managed_scaling:
        # ECS managed scaling owns the desired capacity: move the ASG's minimum instead.
        return _move_floor(
            Owner.ASG_MIN,
            asg.name,
            floor=asg.min_size,
            current=max(asg.desired, asg.min_size),
            recorded=asg.recorded_original_min,
            bounds=bounds,
            step=step,
            clearing=clearing,
            why=why,
        )
    if clearing:
        return NoChange("OK applies nothing to an Auto Scaling group's desired capacity")
    return _step_value(Owner.ASG_DESIRED, asg.name, asg.desired, bounds=bounds, step=step, why=why)


def decide_alarm(
    *,
    alarm_name: str,
    state: str,
    binding: AlarmBinding,
    target: ServiceState | AsgState | None,
    last_change_at: datetime | None,
    now: datetime,
) -> Decision:
    """The change an alarm's new state makes to what it drives (or why none).

    For a ``CapacityProviderTarget`` the flow passes the provider's ASG (its
    ``managed_scaling`` set from the provider) as ``target``.
    """
    if state not in ("ALARM", "OK"):
        return NoChange(f"alarm state {state[:32]} changes nothing")
    if target is None:
        return NoChange("alarm target not found")
    if isinstance(binding.target, ServiceTarget) != isinstance(target, ServiceState):
        return NoChange("alarm target and loaded state are of different kinds")
    if (
        isinstance(target, ServiceState)
        and target.deployment_in_progress
        and alarm_name in target.deployment_alarms
    ):
        return NoChange("the service's deployment in progress watches this alarm")
    clearing = state == "OK"
    if clearing and binding.step.direction < 0:
        return NoChange("OK of a scale-in alarm applies nothing")
    gate = cooldown_gate(last_change_at, binding.cooldown_seconds, now)
    if gate is not None:
        return gate
    try:
        bounds = resolve_bounds(target)
    except InvalidTag as exc:
        return NoChange(f"malformed {exc.key}: {exc.reason}")
    if bounds is None:
        return NoChange("no bounds: neither autopilot:scaling nor a scalable target")
    why = f"alarm {alarm_name[:255]} {state}"
    if isinstance(target, ServiceState):
        return _change_service(target, bounds, binding.step, clearing=clearing, why=why)
    return _change_asg(target, bounds, binding.step, clearing=clearing, why=why)


def on_demand(strategy: Strategy) -> Strategy:
    """``strategy`` with every FARGATE_SPOT item's weight and base moved onto FARGATE."""
    spot = [i for i in strategy if i.capacity_provider == FARGATE_SPOT]
    if not spot:
        return strategy
    extra_weight = sum(i.weight for i in spot)
    extra_base = sum(i.base for i in spot)
    out: list[StrategyItem] = []
    merged = False
    for item in strategy:
        if item.capacity_provider == FARGATE_SPOT:
            continue
        if item.capacity_provider == FARGATE:
            merged = True
            out.append(
                item._replace(weight=item.weight + extra_weight, base=item.base + extra_base)
            )
        else:
            out.append(item)
    if not merged:
        index = next(i for i, item in enumerate(strategy) if item.capacity_provider == FARGATE_SPOT)
        position = sum(1 for item in strategy[:index] if item.capacity_provider != FARGATE_SPOT)
        out.insert(position, StrategyItem(FARGATE, max(extra_weight, 1), extra_base))
    if all(i.weight == 0 for i in out):
        out = [i._replace(weight=1) if i.capacity_provider == FARGATE else i for i in out]
    return tuple(out)


def _raise_asg(asg: AsgState, step: Step, why: str) -> Decision:
    bounds = resolve_bounds(asg)
    assert bounds is not None  # an ASG always has bounds
    return _change_asg(asg, bounds, step, clearing=False, why=why)


def decide_placement_failure(
    *,
    reason: str | None,
    service: ServiceState,
    asg: AsgState | None,
    last_change_at: datetime | None,
    cooldown_seconds: int,
    now: datetime,
    step: Step | None = None,
) -> Decision:
    """A ``SERVICE_TASK_PLACEMENT_FAILURE`` for ``service``.

    ``asg`` is the ASG behind the service's EC2 capacity provider (``None`` if none);
    ``last_change_at`` is the last change to that ASG.
    """
    if reason in (REASON_CPU, REASON_MEMORY):
        if asg is None:
            return NoChange(f"{reason}: the service has no EC2 capacity provider ASG")
        gate = cooldown_gate(last_change_at, cooldown_seconds, now)
        if gate is not None:
            return gate
        why = f"placement failure {reason} for {service.name}"
        return _raise_asg(asg, step or Step(1, 1), why)
    if reason == REASON_FARGATE:
        if not any(i.capacity_provider == FARGATE_SPOT for i in service.strategy):
            return NoChange("RESOURCE:FARGATE: the service does not use FARGATE_SPOT")
        return StrategyShift(
            service.name,
            service.strategy,
            on_demand(service.strategy),
            "Fargate Spot has no capacity: fall back to on-demand FARGATE",
            record_original=True,
        )
    return NoChange(f"placement failure reason {(reason or 'none')[:64]} is not handled")


def decide_steady_state(
    *,
    service: ServiceState,
    shift: RecordedShift | None,
    last_failure_at: datetime | None,
    calm_seconds: int,
    now: datetime,
) -> StrategyShift | NoChange:
    """On ``SERVICE_STEADY_STATE``: undo a Fargate Spot fallback after the calm period."""
    if shift is None:
        return NoChange("no Fargate Spot fallback to undo")
    if service.strategy != shift.shifted_to:
        return NoChange("strategy changed since the fallback; leaving it as it is")
    if service.deployment_in_progress:
        return NoChange("deployment in progress")
    quiet_since = max(shift.shifted_at, last_failure_at or shift.shifted_at)
    calm_until = quiet_since + timedelta(seconds=calm_seconds)
    if now < calm_until:
        return NoChange("inside the calm period", retry_at=calm_until)
    return StrategyShift(
        service.name,
        service.strategy,
        shift.original,
        "calm period over: back to the original strategy",
        record_original=False,
    )


def decide_spot_interruption(
    *,
    asg: AsgState | None,
    last_change_at: datetime | None,
    cooldown_seconds: int,
    now: datetime,
) -> Decision:
    """A Spot interruption warning for an instance of ``asg``: one instance more, within max."""
    if asg is None:
        return NoChange("the instance is not in one of the cluster's Auto Scaling groups")
    gate = cooldown_gate(last_change_at, cooldown_seconds, now)
    if gate is not None:
        return gate
    return _raise_asg(asg, Step(1, 1), "Spot interruption warning")


def decide_floor_release(
    *,
    asg: AsgState,
    last_change_at: datetime | None,
    cooldown_seconds: int,
    now: datetime,
) -> Decision:
    """Put back an ASG minimum autopilot raised (managed scaling), once the cooldown is over."""
    gate = cooldown_gate(last_change_at, cooldown_seconds, now)
    if gate is not None:
        return gate
    bounds = resolve_bounds(asg)
    assert bounds is not None
    return _move_floor(
        Owner.ASG_MIN,
        asg.name,
        floor=asg.min_size,
        current=asg.desired,
        recorded=asg.recorded_original_min,
        bounds=bounds,
        step=Step(-1, 1),
        clearing=True,
        why="release the floor raised by autopilot",
    )


def outcome(decision: Decision) -> tuple[Outcome, str]:
    """The outcome a capacity decision is recorded with, and its reason in words."""
    if isinstance(decision, NoChange):
        if decision.retry_at:
            return Outcome.DEFERRED, f"{decision.reason} (until {decision.retry_at.isoformat()})"
        return Outcome.UNCHANGED, decision.reason
    if isinstance(decision, StrategyShift):
        shown = ", ".join(f"{i.capacity_provider}:{i.weight}/{i.base}" for i in decision.new)
        kind = Outcome.FALLBACK if decision.record_original else Outcome.RESTORED
        return kind, f"{decision.reason}: capacity provider strategy to {shown}"
    b = decision.bounds
    kind = Outcome.RESTORED if decision.clear_original else Outcome.SCALED
    return kind, (
        f"{decision.reason}: {decision.owner.value} {decision.old} -> {decision.new}"
        f" (bounds {b.low}-{b.high} from {b.source})"
    )
