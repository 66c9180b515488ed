"""Zone balance: which task events to act on, and what to do about a lopsided service.

Pure: no AWS, no clock. The flow (``flows.zone_balance``) builds a ``ZoneBalanceSnapshot``
from describes and the ledger, calls ``plan_zone_balance``, and records the plan with
``outcome`` (rebalanced, restored, balanced or deferred) as it carries it out.

Measure: running tasks per usable AZ (zones with no task count as 0; tasks in a zone the
service may no longer use are counted as running, but not in the spread). Imbalanced
when the most and the least loaded usable zones differ by more than one task.

Plan, in this order, each only if the previous cannot fix it:

====================================  ===================================================
situation                             plan
====================================  ===================================================
rebalance tag off / deployment in     Nothing (reason)
progress / no usable zone / balanced
(a) eligible for native rebalancing,  EnableNativeRebalancing (no deployment is started)
    native rebalancing off            (+ (b) if the under-loaded zone also lacks capacity)
eligible and on, capacity there       Nothing: ECS's own rebalancing handles it
(b) EC2 and the under-loaded zone     RaiseCapacity on an ASG that launches in that zone
    has no instance with room         (a one-zone ASG, or a multi-zone ASG whose
                                      fewest-instances zone is that zone: EC2 Auto
                                      Scaling launches into the least populated zone).
                                      Plain ASG: desired + 1 within max. Under managed
                                      scaling the ASG's desired capacity belongs to ECS:
                                      raise its *minimum* (``new_min``) instead, so the
                                      managed target-tracking policy cannot scale the new
                                      instance in, and release that floor once *that
                                      service* is balanced (``ReleaseCapacityFloor``; the
                                      ledger records who raised it), or by any evaluation
                                      once it has been held ``floor_max_age_seconds``.
                                      Cooldown applies.
(c) ineligible, capacity in the       StopTask: one task of the most loaded zone, only if
    under-loaded zone                 running - 1 >= ceil(desired x minimumHealthyPercent
                                      / 100), the service is steady (running == desired)
                                      and the last move is at least the cooldown ago.
====================================  ===================================================

``Plan.recheck_at``: when the service should be evaluated again even if no task event
comes (the cooldown ends, or a floor it raised reaches its max age); the flow marks a
re-check due then, and the scheduled re-check evaluates it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Final, NamedTuple, Protocol

from autopilot.domain.report import Outcome

STOP_REASON: Final = "autopilot: az rebalance"
SERVICE_GROUP_PREFIX: Final = "service:"
AZ_REBALANCING_REASON: Final = "availability-zone rebalancing"
STOP_CODE_SPOT: Final = "SpotInterruption"
NATIVE_ON: Final = "native rebalancing is on and will fix it"
ACTED_ON_STATUSES: Final = frozenset({"RUNNING", "STOPPED"})


# ---------------------------------------------------------------------------
# Which task events are evaluated
# ---------------------------------------------------------------------------
class TaskEventLike(Protocol):
    """What ``classify`` reads of a task event (``events.task.TaskStateChangeDetail``)."""

    @property
    def group(self) -> str: ...
    @property
    def last_status(self) -> str: ...
    @property
    def stop_code(self) -> str | None: ...
    @property
    def stopped_reason(self) -> str | None: ...


class ServiceFacts(NamedTuple):
    """What the describes say about the task's service (``None``: not loaded yet)."""

    rebalance_on: bool
    deployment_in_progress: bool


class Ignore(NamedTuple):
    reason: str


class Evaluate(NamedTuple):
    service_name: str


def _is_az_rebalancing_stop(reason: str | None) -> bool:
    text = (reason or "").lstrip().lower().replace("availability zone", "availability-zone")
    return text.startswith(AZ_REBALANCING_REASON)


def classify(event: TaskEventLike, facts: ServiceFacts | None = None) -> Ignore | Evaluate:
    """Ignore (with the reason to record) or evaluate the task's service.

    Event-only checks come first so the flow can call this with ``facts=None`` before
    any describe, and again with the facts once loaded.
    """
    if not event.group.startswith(SERVICE_GROUP_PREFIX) or event.group == SERVICE_GROUP_PREFIX:
        return Ignore(f"standalone task (group {event.group[:64]!r} is not service:NAME)")
    if event.last_status not in ACTED_ON_STATUSES:
        return Ignore(f"task state {event.last_status} is neither RUNNING nor STOPPED")
    if _is_az_rebalancing_stop(event.stopped_reason):
        return Ignore("stopped by ECS availability-zone rebalancing")
    if event.stop_code == STOP_CODE_SPOT:
        return Ignore("stopped by a Spot interruption")
    if facts is not None and (ignore := service_ignore(facts)) is not None:
        return ignore
    return Evaluate(event.group[len(SERVICE_GROUP_PREFIX) :])


def service_ignore(facts: ServiceFacts) -> Ignore | None:
    """The checks of ``classify`` that need only the service (a re-check has no event)."""
    if not facts.rebalance_on:
        return Ignore("service is tagged autopilot:rebalance=off")
    if facts.deployment_in_progress:
        return Ignore("service has a deployment in progress")
    return None


def native_rebalancing_eligible(
    *,
    scheduling_strategy: str,
    placement_strategy_types: Iterable[tuple[str, str]] = (),
    fargate: bool = False,
    has_az_placement_constraint: bool = False,
) -> bool:
    """AWS's eligibility for ``availabilityZoneRebalancing``.

    Replica scheduling; no ``attribute:ecs.availability-zone`` placement constraint; and
    either Fargate or a first placement strategy ``spread`` on
    ``attribute:ecs.availability-zone`` (``placement_strategy_types`` is a sequence of
    ``(type, field)`` pairs in order).
    """
    if scheduling_strategy != "REPLICA" or has_az_placement_constraint:
        return False
    if fargate:
        return True
    first = next(iter(placement_strategy_types), None)
    return (
        first is not None and first[0] == "spread" and first[1] == "attribute:ecs.availability-zone"
    )


# ---------------------------------------------------------------------------
# Measure and plan
# ---------------------------------------------------------------------------
class RunningTask(NamedTuple):
    task_arn: str
    zone: str


class ZoneCapacity(NamedTuple):
    """EC2 capacity in one zone: is there an instance with room for one more task?"""

    zone: str
    has_room: bool
    instances: int = 0


class AsgCapacity(NamedTuple):
    """An Auto Scaling group behind the service's capacity provider."""

    name: str
    desired: int
    min_size: int
    max_size: int
    zones: tuple[str, ...]
    managed_scaling: bool = False
    #: The minimum recorded before autopilot raised it (managed scaling), if it did.
    recorded_original_min: int | None = None
    #: The service whose zone-balance evaluation raised that floor (``None``: raised by
    #: capacity-events, which releases its own floors), and when.
    floor_raised_by: str | None = None
    floor_raised_at: datetime | None = None


class Ec2Capacity(NamedTuple):
    zones: tuple[ZoneCapacity, ...]
    asgs: tuple[AsgCapacity, ...] = ()

    def has_room(self, zone: str) -> bool:
        return any(z.zone == zone and z.has_room for z in self.zones)

    def instances(self, zone: str) -> int:
        return sum(z.instances for z in self.zones if z.zone == zone)


class ZoneBalanceSnapshot(NamedTuple):
    service: str
    desired_count: int
    min_healthy_percent: int
    tasks: tuple[RunningTask, ...]
    #: The AZs the service may use (its subnets' zones; on EC2, those its capacity spans).
    zones: tuple[str, ...]
    now: datetime
    deployment_in_progress: bool = False
    rebalance_on: bool = True
    native_eligible: bool = False
    native_enabled: bool = False
    #: ``None`` on Fargate: there is always room.
    ec2: Ec2Capacity | None = None
    last_move_at: datetime | None = None
    cooldown_seconds: int = 300
    #: A raised ASG floor is released by any evaluation once held this long.
    floor_max_age_seconds: int = 1800


class EnableNativeRebalancing(NamedTuple):
    service: str


class RaiseCapacity(NamedTuple):
    """Add one instance in ``zone``: set the ASG's desired to ``new_desired``.

    ``new_min`` is set under managed scaling: raise the ASG's minimum to it (recording the
    old minimum) instead of fighting the capacity provider over the desired capacity.
    """

    asg: str
    new_desired: int
    zone: str
    new_min: int | None = None


class ReleaseCapacityFloor(NamedTuple):
    """Put back the ASG minimum recorded before ``RaiseCapacity.new_min`` raised it."""

    asg: str
    min_size: int


class StopTask(NamedTuple):
    task_arn: str
    zone: str
    reason: str = STOP_REASON


class Nothing(NamedTuple):
    reason: str
    retry_at: datetime | None = None


Step = EnableNativeRebalancing | RaiseCapacity | ReleaseCapacityFloor | StopTask | Nothing


class Plan(NamedTuple):
    service: str
    spread: tuple[tuple[str, int], ...]
    steps: tuple[Step, ...] = ()
    #: Evaluate again then, even without a task event (see the module docstring).
    recheck_at: datetime | None = None

    @property
    def actions(self) -> tuple[Step, ...]:
        """The steps that change something (everything but ``Nothing``)."""
        return tuple(s for s in self.steps if not isinstance(s, Nothing))

    @property
    def reason(self) -> str:
        return "; ".join(s.reason for s in self.steps if isinstance(s, Nothing))


def measure(tasks: Iterable[RunningTask], zones: Iterable[str]) -> dict[str, int]:
    """Running tasks per usable zone, zones with none included (as 0)."""
    counts = dict.fromkeys(sorted(set(zones)), 0)
    for task in tasks:
        if task.zone in counts:
            counts[task.zone] += 1
    return counts


def is_imbalanced(counts: Mapping[str, int]) -> bool:
    return len(counts) > 1 and max(counts.values()) - min(counts.values()) > 1


def min_healthy_tasks(desired_count: int, min_healthy_percent: int) -> int:
    """ECS's lower limit on running tasks (rounded up)."""
    return math.ceil(desired_count * min_healthy_percent / 100)


def _cooldown_left(s: ZoneBalanceSnapshot) -> datetime | None:
    if s.last_move_at is None:
        return None
    until = s.last_move_at + timedelta(seconds=s.cooldown_seconds)
    return until if s.now < until else None


def _asg_for_zone(ec2: Ec2Capacity, zone: str) -> AsgCapacity | Nothing:
    """An ASG that will launch its next instance in ``zone``."""
    spanning = [a for a in ec2.asgs if zone in a.zones]
    if not spanning:
        return Nothing(f"no Auto Scaling group known to launch in {zone}")
    # One-zone ASGs first; then multi-zone ASGs whose least populated zone is ``zone``.
    for asg in sorted(spanning, key=lambda a: (len(a.zones), a.name)):
        fewest = min(ec2.instances(z) for z in asg.zones)
        if ec2.instances(zone) > fewest:
            continue
        if asg.desired >= asg.max_size:
            return Nothing(f"Auto Scaling group {asg.name} is at its max ({asg.max_size})")
        return asg
    return Nothing(f"no Auto Scaling group would launch its next instance in {zone}")


def _raise_capacity(s: ZoneBalanceSnapshot, ec2: Ec2Capacity, zone: str) -> Step:
    until = _cooldown_left(s)
    if until is not None:
        return Nothing(f"{zone} has no capacity; inside the cooldown", retry_at=until)
    asg = _asg_for_zone(ec2, zone)
    if isinstance(asg, Nothing):
        return asg
    new_desired = asg.desired + 1
    if asg.managed_scaling:
        return RaiseCapacity(asg.name, new_desired, zone, new_min=max(asg.min_size, new_desired))
    return RaiseCapacity(asg.name, new_desired, zone)


def _floor_expires(s: ZoneBalanceSnapshot, asg: AsgCapacity) -> datetime | None:
    if asg.floor_raised_at is None:
        return None
    return asg.floor_raised_at + timedelta(seconds=s.floor_max_age_seconds)


def _held_floors(s: ZoneBalanceSnapshot) -> tuple[AsgCapacity, ...]:
    """Floors zone balance raised (an owner is recorded) and that are still raised."""
    if s.ec2 is None:
        return ()
    return tuple(
        a
        for a in s.ec2.asgs
        if a.recorded_original_min is not None
        and a.recorded_original_min < a.min_size
        and a.floor_raised_by is not None
    )


def _floors_to_release(
    s: ZoneBalanceSnapshot, *, balanced: bool, raising: frozenset[str] = frozenset()
) -> tuple[ReleaseCapacityFloor, ...]:
    """The service's own floors once it is balanced; anyone's once past the max age (unless
    this plan raises that group again: the raise renews it)."""
    out: list[ReleaseCapacityFloor] = []
    for a in _held_floors(s):
        assert a.recorded_original_min is not None
        expires = _floor_expires(s, a)
        expired = expires is not None and s.now >= expires
        if (balanced and a.floor_raised_by == s.service) or (expired and a.name not in raising):
            out.append(ReleaseCapacityFloor(a.name, a.recorded_original_min))
    return tuple(out)


def _recheck_at(s: ZoneBalanceSnapshot, steps: tuple[Step, ...]) -> datetime | None:
    """The earliest of: a deferral's retry time, the max age of a floor this service holds
    (kept or raised by this plan)."""
    released = {r.asg for r in steps if isinstance(r, ReleaseCapacityFloor)}
    times = [r.retry_at for r in steps if isinstance(r, Nothing) and r.retry_at is not None]
    for a in _held_floors(s):
        expires = _floor_expires(s, a)
        if a.floor_raised_by == s.service and a.name not in released and expires is not None:
            times.append(expires)
    if any(isinstance(r, RaiseCapacity) and r.new_min is not None for r in steps):
        times.append(s.now + timedelta(seconds=s.floor_max_age_seconds))
    return min(times, default=None)


def plan_zone_balance(s: ZoneBalanceSnapshot) -> Plan:
    """The plan for one service (at most one task stop, never below minimum healthy)."""
    counts = measure(s.tasks, s.zones)
    spread = tuple(counts.items())

    def plan(*steps: Step) -> Plan:
        return Plan(s.service, spread, steps)

    if not s.rebalance_on:
        return plan(Nothing("service is tagged autopilot:rebalance=off"))
    if s.deployment_in_progress:
        return plan(Nothing("deployment in progress"))
    if not counts:
        return plan(Nothing("service has no usable availability zone"))
    balanced = not is_imbalanced(counts)
    steps = (Nothing("balanced"),) if balanced else _imbalanced_steps(s, counts)
    raising = frozenset(r.asg for r in steps if isinstance(r, RaiseCapacity))
    releases = _floors_to_release(s, balanced=balanced, raising=raising)
    ordered = (*releases, *steps) if balanced else (*steps, *releases)
    return Plan(s.service, spread, ordered, _recheck_at(s, ordered))


def _imbalanced_steps(s: ZoneBalanceSnapshot, counts: dict[str, int]) -> tuple[Step, ...]:
    low_zone = min(counts, key=lambda z: (counts[z], z))
    high_zone = max(counts, key=lambda z: (counts[z], z))
    room = s.ec2 is None or s.ec2.has_room(low_zone)

    steps: list[Step] = []
    if s.native_eligible:
        if not s.native_enabled:
            steps.append(EnableNativeRebalancing(s.service))  # (a)
        if room:
            if s.native_enabled:
                steps.append(Nothing(NATIVE_ON))
            return tuple(steps)
    if not room:
        assert s.ec2 is not None
        steps.append(_raise_capacity(s, s.ec2, low_zone))  # (b)
        return tuple(steps)

    # (c) ineligible: move one task, within minimum healthy and the cooldown.
    running = len(s.tasks)
    floor = min_healthy_tasks(s.desired_count, s.min_healthy_percent)
    until = _cooldown_left(s)
    if running != s.desired_count:
        return (Nothing(f"not steady: {running} running of {s.desired_count} desired"),)
    if running - 1 < floor:
        return (Nothing(f"a stop would go below minimum healthy ({floor} tasks)"),)
    if until is not None:
        return (Nothing("inside the cooldown since the last move", retry_at=until),)
    victim = min(t.task_arn for t in s.tasks if t.zone == high_zone)
    return (StopTask(victim, high_zone),)


def describe(step: Step) -> str:
    """One change of a plan, in words."""
    if isinstance(step, StopTask):
        return f"stop {step.task_arn.rsplit('/', 1)[-1]} ({step.reason})"
    if isinstance(step, EnableNativeRebalancing):
        return "turn on ECS availability-zone rebalancing"
    if isinstance(step, RaiseCapacity):
        if step.new_min is not None:
            return f"{step.asg} minimum to {step.new_min}"
        return f"{step.asg} desired capacity to {step.new_desired}"
    if isinstance(step, ReleaseCapacityFloor):
        return f"{step.asg} minimum to {step.min_size}"
    return step.reason


def outcome(plan: Plan) -> tuple[Outcome, str]:
    """What a plan is recorded as: rebalanced (it moves tasks or raises capacity), restored
    (it only releases floors), balanced (nothing to do, or ECS's own rebalancing will fix
    it) or deferred (lopsided, but nothing can be done now); and its reason in words."""
    changes = plan.actions
    if any(not isinstance(s, ReleaseCapacityFloor) for s in changes):
        kind = Outcome.REBALANCED
    elif changes:
        kind = Outcome.RESTORED
    elif not is_imbalanced(dict(plan.spread)) or any(
        isinstance(s, Nothing) and s.reason == NATIVE_ON for s in plan.steps
    ):
        kind = Outcome.BALANCED
    else:
        kind = Outcome.DEFERRED
    summary = "; ".join(describe(s) for s in changes) or plan.reason
    shown = ", ".join(f"{z}={n}" for z, n in plan.spread) or "no zones"
    return kind, f"spread {shown}: {summary}"
