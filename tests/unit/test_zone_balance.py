"""Zone balance: the ignore rules and the planner (examples and properties)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from autopilot.logic.zone_balance import (
    STOP_REASON,
    AsgCapacity,
    Ec2Capacity,
    EnableNativeRebalancing,
    Evaluate,
    Ignore,
    Nothing,
    RaiseCapacity,
    ReleaseCapacityFloor,
    RunningTask,
    ServiceFacts,
    StopTask,
    ZoneBalanceSnapshot,
    ZoneCapacity,
    classify,
    is_imbalanced,
    measure,
    min_healthy_tasks,
    native_rebalancing_eligible,
    plan_zone_balance,
)
from hypothesis import given, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.disable_socket

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
ZONES = ("eu-west-1a", "eu-west-1b", "eu-west-1c")
A, B, C = ZONES


def tasks(**per_zone: int) -> tuple[RunningTask, ...]:
    out: list[RunningTask] = []
    for key, count in per_zone.items():
        zone = "eu-west-1" + key
        out.extend(
            RunningTask(f"arn:aws:ecs:eu-west-1:123456789012:task/demo/{zone}-{i:04d}", zone)
            for i in range(count)
        )
    return tuple(out)


def snapshot(**overrides: object) -> ZoneBalanceSnapshot:
    base = ZoneBalanceSnapshot(
        service="web",
        desired_count=6,
        min_healthy_percent=50,
        tasks=tasks(a=4, b=2, c=0),
        zones=ZONES,
        now=NOW,
    )
    return base._replace(**overrides)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------
# classify: which task events are evaluated
# ---------------------------------------------------------------------------
@dataclass(frozen=True)
class FakeEvent:
    group: str = "service:web"
    last_status: str = "STOPPED"
    stop_code: str | None = "UserInitiated"
    stopped_reason: str | None = "Task stopped by user"


ON = ServiceFacts(rebalance_on=True, deployment_in_progress=False)


@pytest.mark.parametrize(
    ("event", "facts", "expected"),
    [
        (FakeEvent(), ON, Evaluate("web")),
        (
            FakeEvent(last_status="RUNNING", stop_code=None, stopped_reason=None),
            ON,
            Evaluate("web"),
        ),
        (FakeEvent(group="family:migrate"), ON, Ignore),
        (FakeEvent(group="service:"), ON, Ignore),
        (FakeEvent(group="custom-group"), None, Ignore),
        (FakeEvent(last_status="PENDING"), ON, Ignore),
        (
            FakeEvent(
                stop_code="ServiceSchedulerInitiated",
                stopped_reason="Availability-zone rebalancing initiated by (deployment ecs-svc/1)",
            ),
            ON,
            Ignore,
        ),
        (
            FakeEvent(
                stop_code="SpotInterruption", stopped_reason="Your Spot Task was interrupted."
            ),
            ON,
            Ignore,
        ),
        (FakeEvent(), ServiceFacts(rebalance_on=False, deployment_in_progress=False), Ignore),
        (FakeEvent(), ServiceFacts(rebalance_on=True, deployment_in_progress=True), Ignore),
        (FakeEvent(), None, Evaluate("web")),
        (
            FakeEvent(
                last_status="RUNNING",
                stop_code=None,
                stopped_reason="Availability-zone rebalancing initiated by (deployment ecs-svc/9)",
            ),
            ON,
            Ignore,
        ),
    ],
)
def test_classify(event: FakeEvent, facts: ServiceFacts | None, expected: object) -> None:
    result = classify(event, facts)
    if expected is Ignore:
        assert isinstance(result, Ignore)
        assert result.reason
    else:
        assert result == expected


def test_classify_reasons_name_the_cause() -> None:
    assert "rebalance=off" in classify(FakeEvent(), ServiceFacts(False, False)).reason  # type: ignore[union-attr]
    assert "deployment" in classify(FakeEvent(), ServiceFacts(True, True)).reason  # type: ignore[union-attr]
    assert "standalone" in classify(FakeEvent(group="family:x")).reason  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("kwargs", "eligible"),
    [
        ({"scheduling_strategy": "REPLICA", "fargate": True}, True),
        ({"scheduling_strategy": "DAEMON", "fargate": True}, False),
        (
            {
                "scheduling_strategy": "REPLICA",
                "fargate": True,
                "has_az_placement_constraint": True,
            },
            False,
        ),
        (
            {
                "scheduling_strategy": "REPLICA",
                "placement_strategy_types": [
                    ("spread", "attribute:ecs.availability-zone"),
                    ("binpack", "memory"),
                ],
            },
            True,
        ),
        (
            {
                "scheduling_strategy": "REPLICA",
                "placement_strategy_types": [
                    ("binpack", "memory"),
                    ("spread", "attribute:ecs.availability-zone"),
                ],
            },
            False,
        ),
        ({"scheduling_strategy": "REPLICA"}, False),
    ],
)
def test_native_rebalancing_eligibility(kwargs: dict[str, object], eligible: bool) -> None:
    assert native_rebalancing_eligible(**kwargs) is eligible  # type: ignore[arg-type]


# ---------------------------------------------------------------------------
# measure: tasks per zone
# ---------------------------------------------------------------------------
def test_measure_counts_empty_zones_and_skips_unusable_ones() -> None:
    counts = measure((*tasks(a=3, b=1), RunningTask("t-x", "eu-west-1z")), ZONES)
    assert counts == {A: 3, B: 1, C: 0}
    assert is_imbalanced(counts)
    assert not is_imbalanced({A: 2, B: 1, C: 1})
    assert not is_imbalanced({A: 5})


def test_min_healthy_rounds_up() -> None:
    assert min_healthy_tasks(3, 50) == 2
    assert min_healthy_tasks(6, 100) == 6
    assert min_healthy_tasks(6, 0) == 0


# ---------------------------------------------------------------------------
# plan: examples
# ---------------------------------------------------------------------------
def test_ineligible_fargate_service_stops_one_task_in_the_most_loaded_zone() -> None:
    plan = plan_zone_balance(snapshot())
    assert plan.spread == ((A, 4), (B, 2), (C, 0))
    (step,) = plan.actions
    assert isinstance(step, StopTask)
    assert step.zone == A
    assert step.reason == STOP_REASON


@pytest.mark.parametrize(
    ("overrides", "why"),
    [
        ({"rebalance_on": False}, "rebalance=off"),
        ({"deployment_in_progress": True}, "deployment"),
        ({"tasks": tasks(a=2, b=2, c=2)}, "balanced"),
        ({"tasks": tasks(a=3, b=2, c=2), "desired_count": 7}, "balanced"),
        ({"zones": ()}, "no usable"),
        ({"min_healthy_percent": 100}, "minimum healthy"),
        ({"tasks": tasks(a=4, b=1, c=0)}, "not steady"),
        ({"last_move_at": NOW - timedelta(seconds=10)}, "cooldown"),
    ],
)
def test_nothing_with_a_reason(overrides: dict[str, object], why: str) -> None:
    plan = plan_zone_balance(snapshot(**overrides))
    assert plan.actions == ()
    assert why in plan.reason


def test_cooldown_reports_when_to_retry_and_ends() -> None:
    last = NOW - timedelta(seconds=100)
    plan = plan_zone_balance(snapshot(last_move_at=last, cooldown_seconds=300))
    (step,) = plan.steps
    assert isinstance(step, Nothing)
    assert step.retry_at == last + timedelta(seconds=300)
    later = plan_zone_balance(
        snapshot(last_move_at=last, cooldown_seconds=300, now=last + timedelta(seconds=300))
    )
    assert isinstance(later.actions[0], StopTask)


def test_a_eligible_service_with_native_rebalancing_off_gets_it_turned_on() -> None:
    plan = plan_zone_balance(snapshot(native_eligible=True, native_enabled=False))
    assert plan.actions == (EnableNativeRebalancing("web"),)


def test_eligible_service_with_native_rebalancing_on_is_left_to_ecs() -> None:
    plan = plan_zone_balance(snapshot(native_eligible=True, native_enabled=True))
    assert plan.actions == ()
    assert "native" in plan.reason


def ec2(room: dict[str, bool], instances: dict[str, int], *asgs: AsgCapacity) -> Ec2Capacity:
    return Ec2Capacity(
        tuple(ZoneCapacity(z, room.get(z, False), instances.get(z, 0)) for z in ZONES), asgs
    )


SPREAD_ASG = AsgCapacity("demo-asg", desired=4, min_size=2, max_size=6, zones=ZONES)


def test_b_no_room_in_the_empty_zone_raises_the_asg_desired() -> None:
    capacity = ec2({A: True, B: True}, {A: 2, B: 2, C: 0}, SPREAD_ASG)
    plan = plan_zone_balance(snapshot(ec2=capacity))
    assert plan.actions == (RaiseCapacity("demo-asg", 5, C),)


def test_a_and_b_together_when_enabling_native_cannot_add_capacity() -> None:
    capacity = ec2({A: True, B: True}, {A: 2, B: 2, C: 0}, SPREAD_ASG)
    plan = plan_zone_balance(snapshot(ec2=capacity, native_eligible=True))
    assert plan.actions == (EnableNativeRebalancing("web"), RaiseCapacity("demo-asg", 5, C))


def test_b_under_managed_scaling_raises_the_minimum_not_just_desired() -> None:
    asg = SPREAD_ASG._replace(managed_scaling=True)
    capacity = ec2({A: True, B: True}, {A: 2, B: 2, C: 0}, asg)
    (step,) = plan_zone_balance(snapshot(ec2=capacity)).actions
    assert step == RaiseCapacity("demo-asg", 5, C, new_min=5)


def test_b_prefers_a_one_zone_asg() -> None:
    per_zone = AsgCapacity("demo-asg-c", desired=0, min_size=0, max_size=2, zones=(C,))
    capacity = ec2({A: True, B: True}, {A: 2, B: 2, C: 0}, SPREAD_ASG, per_zone)
    (step,) = plan_zone_balance(snapshot(ec2=capacity)).actions
    assert step == RaiseCapacity("demo-asg-c", 1, C)


def test_b_refuses_a_multi_zone_asg_that_would_launch_elsewhere() -> None:
    capacity = ec2({A: True, B: True}, {A: 1, B: 3, C: 2}, SPREAD_ASG)
    plan = plan_zone_balance(snapshot(ec2=capacity))
    assert plan.actions == ()
    assert "would launch" in plan.reason


def test_b_at_max_does_nothing() -> None:
    capacity = ec2({A: True, B: True}, {}, SPREAD_ASG._replace(desired=6))
    plan = plan_zone_balance(snapshot(ec2=capacity))
    assert plan.actions == ()
    assert "max" in plan.reason


def test_b_respects_the_cooldown() -> None:
    capacity = ec2({A: True, B: True}, {}, SPREAD_ASG)
    plan = plan_zone_balance(snapshot(ec2=capacity, last_move_at=NOW - timedelta(seconds=5)))
    assert plan.actions == ()
    assert "cooldown" in plan.reason


def test_c_on_ec2_with_room_stops_a_task() -> None:
    capacity = ec2({A: True, B: True, C: True}, {A: 2, B: 2, C: 1}, SPREAD_ASG)
    (step,) = plan_zone_balance(snapshot(ec2=capacity)).actions
    assert isinstance(step, StopTask)
    assert step.zone == A


def raised(by: str | None, held_seconds: int = 60) -> AsgCapacity:
    """SPREAD_ASG with its minimum raised 2 -> 5 by ``by``, ``held_seconds`` ago."""
    return SPREAD_ASG._replace(
        managed_scaling=True,
        min_size=5,
        recorded_original_min=2,
        floor_raised_by=by,
        floor_raised_at=NOW - timedelta(seconds=held_seconds),
    )


BALANCED = tasks(a=2, b=2, c=2)


def test_balanced_service_releases_the_floor_it_raised() -> None:
    capacity = ec2({A: True, B: True, C: True}, {}, raised("web"))
    plan = plan_zone_balance(snapshot(ec2=capacity, tasks=BALANCED))
    assert plan.actions == (ReleaseCapacityFloor("demo-asg", 2),)
    assert plan.recheck_at is None


def test_a_balanced_service_keeps_the_floor_another_service_raised() -> None:
    capacity = ec2({A: True, B: True, C: True}, {}, raised("worker"))
    plan = plan_zone_balance(snapshot(ec2=capacity, tasks=BALANCED))
    assert plan.actions == ()
    assert plan.reason == "balanced"
    assert plan.recheck_at is None  # not its floor: its owner comes back for it


def test_a_floor_capacity_events_raised_is_left_to_it() -> None:
    capacity = ec2({A: True, B: True, C: True}, {}, raised(None, held_seconds=10_000))
    assert plan_zone_balance(snapshot(ec2=capacity, tasks=BALANCED)).actions == ()


@pytest.mark.parametrize("balanced", [True, False])
def test_a_floor_held_past_its_max_age_is_released_by_any_evaluation(balanced: bool) -> None:
    capacity = ec2({A: True, B: True, C: True}, {A: 2, B: 2, C: 2}, raised("worker", 1800))
    running = BALANCED if balanced else tasks(a=4, b=1, c=1)
    plan = plan_zone_balance(snapshot(ec2=capacity, tasks=running))
    assert ReleaseCapacityFloor("demo-asg", 2) in plan.actions
    younger = ec2({A: True, B: True, C: True}, {A: 2, B: 2, C: 2}, raised("worker", 1799))
    kept = plan_zone_balance(snapshot(ec2=younger, tasks=running))
    assert not any(isinstance(a, ReleaseCapacityFloor) for a in kept.actions)


def test_an_expired_floor_is_not_released_by_a_plan_that_raises_it_again() -> None:
    asg = raised("worker", 5000)._replace(desired=4)
    capacity = ec2({A: True, B: True}, {A: 2, B: 2, C: 0}, asg)
    plan = plan_zone_balance(snapshot(ec2=capacity, tasks=tasks(a=3, b=3, c=0)))
    assert plan.actions == (RaiseCapacity("demo-asg", 5, C, new_min=5),)


def test_the_owner_of_a_floor_is_re_checked_at_its_max_age() -> None:
    # imbalanced, inside the cooldown, holding its floor: the earlier of the two
    capacity = ec2({A: True, B: True, C: True}, {A: 2, B: 2, C: 2}, raised("web", 1790))
    plan = plan_zone_balance(
        snapshot(ec2=capacity, last_move_at=NOW - timedelta(seconds=100), cooldown_seconds=300)
    )
    assert plan.actions == ()
    assert plan.recheck_at == NOW + timedelta(seconds=10)
    # a raise under managed scaling: re-checked when the new floor reaches its max age
    managed = ec2({A: True, B: True}, {A: 2, B: 2}, SPREAD_ASG._replace(managed_scaling=True))
    raise_plan = plan_zone_balance(snapshot(ec2=managed))
    assert raise_plan.recheck_at == NOW + timedelta(seconds=1800)


def test_a_cooldown_deferral_is_re_checked_when_the_cooldown_ends() -> None:
    plan = plan_zone_balance(snapshot(last_move_at=NOW - timedelta(seconds=100)))
    assert plan.actions == ()
    assert plan.recheck_at == NOW + timedelta(seconds=200)
    assert plan_zone_balance(snapshot()).recheck_at is None


# ---------------------------------------------------------------------------
# plan: properties
# ---------------------------------------------------------------------------
@st.composite
def snapshots(draw: st.DrawFn) -> ZoneBalanceSnapshot:
    zones = ZONES[: draw(st.integers(1, 3))]
    counts = [draw(st.integers(0, 8)) for _ in zones]
    stray = draw(st.integers(0, 2))
    running = tuple(
        RunningTask(f"t-{z}-{i}", z) for z, n in zip(zones, counts, strict=True) for i in range(n)
    ) + tuple(RunningTask(f"t-stray-{i}", "eu-west-1z") for i in range(stray))
    desired = draw(st.one_of(st.just(len(running)), st.integers(0, 30)))
    capacity = None
    if draw(st.booleans()):
        capacity = Ec2Capacity(
            tuple(ZoneCapacity(z, draw(st.booleans()), draw(st.integers(0, 4))) for z in zones),
            (
                AsgCapacity(
                    "asg",
                    desired=draw(st.integers(0, 10)),
                    min_size=0,
                    max_size=draw(st.integers(0, 10)),
                    zones=zones,
                    managed_scaling=draw(st.booleans()),
                ),
            ),
        )
    last = draw(
        st.one_of(st.none(), st.integers(0, 1000).map(lambda s: NOW - timedelta(seconds=s)))
    )
    return ZoneBalanceSnapshot(
        service="web",
        desired_count=desired,
        min_healthy_percent=draw(st.integers(0, 100)),
        tasks=running,
        zones=zones,
        now=NOW,
        deployment_in_progress=draw(st.booleans()),
        rebalance_on=draw(st.booleans()),
        native_eligible=draw(st.booleans()),
        native_enabled=draw(st.booleans()),
        ec2=capacity,
        last_move_at=last,
        cooldown_seconds=draw(st.integers(0, 600)),
    )


@given(snapshots())
@settings(max_examples=400, deadline=None)
def test_never_below_minimum_healthy_and_at_most_one_stop(s: ZoneBalanceSnapshot) -> None:
    plan = plan_zone_balance(s)
    stops = [a for a in plan.actions if isinstance(a, StopTask)]
    assert len(stops) <= 1
    if stops:
        assert len(s.tasks) - 1 >= min_healthy_tasks(s.desired_count, s.min_healthy_percent)
        assert not s.deployment_in_progress
        assert s.rebalance_on
        assert s.last_move_at is None or s.now - s.last_move_at >= timedelta(
            seconds=s.cooldown_seconds
        )
        assert stops[0].task_arn in {t.task_arn for t in s.tasks if t.zone == stops[0].zone}
    for step in plan.actions:
        if isinstance(step, RaiseCapacity):
            assert s.ec2 is not None
            (asg,) = s.ec2.asgs
            assert step.new_desired <= asg.max_size


@given(snapshots())
@settings(max_examples=300, deadline=None)
def test_a_balanced_service_gets_no_task_or_capacity_change(s: ZoneBalanceSnapshot) -> None:
    if is_imbalanced(measure(s.tasks, s.zones)):
        return
    plan = plan_zone_balance(s)
    assert not any(
        isinstance(a, StopTask | RaiseCapacity | EnableNativeRebalancing) for a in plan.actions
    )


@given(
    counts=st.lists(st.integers(0, 12), min_size=2, max_size=3),
    min_healthy=st.sampled_from([0, 50, 66, 90]),
    eligible=st.booleans(),
    on_ec2=st.booleans(),
)
@settings(max_examples=200, deadline=None)
def test_repeated_evaluation_converges(
    counts: list[int], min_healthy: int, eligible: bool, on_ec2: bool
) -> None:
    """Apply each plan; the scheduler places each replacement in the least-loaded zone."""
    zones = ZONES[: len(counts)]
    capacity = Ec2Capacity(tuple(ZoneCapacity(z, True, 3) for z in zones)) if on_ec2 else None
    running = [
        RunningTask(f"t-{z}-{i}", z) for z, n in zip(zones, counts, strict=True) for i in range(n)
    ]
    desired = len(running)
    native_on = False
    now, last_move, serial = NOW, None, 0
    for _ in range(4 * desired + 4):
        s = ZoneBalanceSnapshot(
            service="web",
            desired_count=desired,
            min_healthy_percent=min_healthy,
            tasks=tuple(running),
            zones=zones,
            now=now,
            native_eligible=eligible,
            native_enabled=native_on,
            last_move_at=last_move,
            cooldown_seconds=60,
            ec2=capacity,
        )
        plan = plan_zone_balance(s)
        assert not any(isinstance(a, RaiseCapacity) for a in plan.actions)
        if not plan.actions and (not eligible or not native_on):
            break
        for step in plan.actions:
            if isinstance(step, EnableNativeRebalancing):
                native_on = True
            elif isinstance(step, StopTask):
                running = [t for t in running if t.task_arn != step.task_arn]
                last_move = now
        if eligible and native_on:
            # ECS's own rebalancing: start one task in the least, then stop one in the most.
            c = measure(running, zones)
            if not is_imbalanced(c):
                break
            most = max(c, key=lambda z: (c[z], z))
            running.remove(next(t for t in running if t.zone == most))
        if len(running) < desired:
            c = measure(running, zones)
            serial += 1
            running.append(RunningTask(f"new-{serial}", min(c, key=lambda z: (c[z], z))))
        now += timedelta(seconds=60)
    final = measure(running, zones)
    below = min_healthy_tasks(desired, min_healthy) > desired - 1
    if not below or eligible:
        assert max(final.values()) - min(final.values()) <= 1, final
