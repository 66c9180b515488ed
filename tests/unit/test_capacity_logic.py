"""Capacity decisions: tag grammar, owners, bounds, cooldowns and the Spot fallback."""

from __future__ import annotations

import itertools
import time
from datetime import UTC, datetime, timedelta

import pytest
from autopilot.logic.capacity import (
    DEFAULT_COOLDOWN_SECONDS,
    FARGATE,
    FARGATE_SPOT,
    AlarmBinding,
    AsgState,
    AsgTarget,
    Bounds,
    CapacityProviderTarget,
    Change,
    InvalidTag,
    NoChange,
    Owner,
    RecordedShift,
    ScalableTargetState,
    ServiceState,
    ServiceTarget,
    Step,
    StrategyItem,
    StrategyShift,
    TagError,
    decide_alarm,
    decide_floor_release,
    decide_placement_failure,
    decide_spot_interruption,
    decide_steady_state,
    on_demand,
    parse_alarm_tags,
    parse_cooldown,
    parse_scaling_bounds,
    parse_step,
    parse_target,
    resolve_bounds,
)
from hypothesis import assume, given, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.disable_socket


NOW = datetime(2026, 11, 27, 18, 0, tzinfo=UTC)
ARN = "arn:aws:ecs:eu-west-1:123456789012:service/demo-cluster/web"


def tags(
    target: object = "service:web", step: object = "+2", cooldown: object = None
) -> dict[str, object]:
    out: dict[str, object] = {"autopilot:target": target, "autopilot:step": step}
    if cooldown is not None:
        out["autopilot:cooldown"] = cooldown
    return out


# ---------------------------------------------------------------------------
# Tag grammar
# ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("service:web", ServiceTarget("web")),
        ("web", ServiceTarget("web")),
        ("  web  ", ServiceTarget("web")),
        (ARN, ServiceTarget("web", "demo-cluster", ARN)),
        (
            "arn:aws:ecs:eu-west-1:123456789012:service/web",
            ServiceTarget("web", None, "arn:aws:ecs:eu-west-1:123456789012:service/web"),
        ),
        ("asg:demo-cluster-asg.v2", AsgTarget("demo-cluster-asg.v2")),
        ("capacity-provider:demo-cluster-asg-cp", CapacityProviderTarget("demo-cluster-asg-cp")),
    ],
)
def test_targets(value: str, expected: object) -> None:
    parsed = parse_target(value)
    # the targets are NamedTuples: equal values of two kinds compare equal as tuples
    assert (type(parsed), parsed) == (type(expected), expected)


@pytest.mark.parametrize(
    "value",
    [
        "",
        "   ",
        "queue:orders",
        "service:",
        "service:web/extra",
        "asg:",
        "asg:-leading-dash",
        "capacity-provider:FARGATE_SPOT",
        "capacity-provider:FARGATE",
        "arn:aws:sqs:eu-west-1:123456789012:queue",
        "arn:aws:ecs:eu-west-1:123456789012:service/demo/web/x",
        "sérvice:web",
        "web\x00",
        "web\n",
        "\u202eweb",
        "w" * 257,
        "service:" + "w" * 256,
        42,
        None,
        ["web"],
    ],
)
def test_bad_targets(value: object) -> None:
    with pytest.raises(InvalidTag) as info:
        parse_target(value)
    assert info.value.key == "autopilot:target"
    assert info.value.reason


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("+1", Step(1, 1)),
        ("-3", Step(-1, 3)),
        ("+50%", Step(1, 50, percent=True)),
        ("-100%", Step(-1, 100, percent=True)),
        ("+10000", Step(1, 10000)),
    ],
)
def test_steps(value: str, expected: Step) -> None:
    assert parse_step(value) == expected


@pytest.mark.parametrize(
    "value",
    ["1", "+0", "-0%", "+", "++1", "+1.5", "+10001", "-101%", "+1001%", "+\uff11", "+1 %", "", 3],
)
def test_bad_steps(value: object) -> None:
    with pytest.raises(InvalidTag):
        parse_step(value)


def test_percent_steps_round_up_and_move_at_least_one() -> None:
    assert Step(1, 50, percent=True).delta(3) == 2
    assert Step(1, 10, percent=True).delta(0) == 1
    assert Step(-1, 10, percent=True).delta(4) == -1
    assert Step(-1, 100, percent=True).delta(8) == -8


@pytest.mark.parametrize(("value", "expected"), [("0", 0), ("300", 300), ("86400", 86400)])
def test_cooldowns(value: str, expected: int) -> None:
    assert parse_cooldown(value) == expected


@pytest.mark.parametrize("value", ["-1", "86401", "5m", "1e3", "", "٣٠٠"])
def test_bad_cooldowns(value: str) -> None:
    with pytest.raises(InvalidTag):
        parse_cooldown(value)


def test_scaling_bounds() -> None:
    assert parse_scaling_bounds("2-10") == Bounds(2, 10, "autopilot:scaling")
    assert parse_scaling_bounds("0 - 0") == Bounds(0, 0, "autopilot:scaling")
    for bad in ("10-2", "2", "2-", "-2-10", "a-b", "2-10000000"):
        with pytest.raises(InvalidTag):
            parse_scaling_bounds(bad)


def test_alarm_tags_bind() -> None:
    assert parse_alarm_tags(tags(cooldown="120")) == AlarmBinding(
        ServiceTarget("web"), Step(1, 2), 120
    )
    assert parse_alarm_tags(tags()) == AlarmBinding(
        ServiceTarget("web"), Step(1, 2), DEFAULT_COOLDOWN_SECONDS
    )


@pytest.mark.parametrize(
    ("given_tags", "key"),
    [
        (None, "autopilot:target"),
        ({}, "autopilot:target"),
        ({"team": "platform"}, "autopilot:target"),
        ({"autopilot:target": "web"}, "autopilot:step"),
        (tags(target="queue:x"), "autopilot:target"),
        (tags(step="lots"), "autopilot:step"),
        (tags(cooldown="soon"), "autopilot:cooldown"),
        (tags(target={"nested": 1}), "autopilot:target"),
    ],
)
def test_missing_or_malformed_alarm_tags_are_a_tag_error(
    given_tags: dict[str, object] | None, key: str
) -> None:
    result = parse_alarm_tags(given_tags)
    assert isinstance(result, TagError)
    assert result.key == key
    assert result.reason


def test_hostile_tag_values_are_rejected_quickly() -> None:
    hostile = [
        "a" * 10_000_000,
        "service:" + "a-" * 5_000_000,
        "arn:aws:ecs:eu-west-1:123456789012:service/" + "a/" * 1_000_000,
        "+" + "9" * 1_000_000,
        "\U0001f4a5" * 100_000,
        "a" * 255 + "\x00",
    ]
    started = time.perf_counter()
    for value in hostile:
        assert isinstance(parse_alarm_tags(tags(target=value)), TagError)
        assert isinstance(parse_alarm_tags(tags(step=value)), TagError)
        assert isinstance(parse_alarm_tags(tags(cooldown=value)), TagError)
    assert time.perf_counter() - started < 0.5


@given(
    st.dictionaries(
        st.text(max_size=30), st.one_of(st.text(max_size=300), st.integers(), st.none()), max_size=5
    )
)
@settings(max_examples=300, deadline=None)
def test_parse_alarm_tags_never_raises(raw: dict[str, object]) -> None:
    assert isinstance(parse_alarm_tags(raw), AlarmBinding | TagError)


@given(st.text(max_size=300))
@settings(max_examples=300, deadline=None)
def test_any_text_target_is_a_binding_or_a_tag_error(text: str) -> None:
    assert isinstance(parse_alarm_tags(tags(target=text)), AlarmBinding | TagError)


# ---------------------------------------------------------------------------
# Bounds
# ---------------------------------------------------------------------------
def test_bounds_resolution_order() -> None:
    aas = ScalableTargetState(min_capacity=2, max_capacity=8)
    assert resolve_bounds(ServiceState("web", 3, scaling_tag="1-5", scalable_target=aas)) == Bounds(
        1, 5, "autopilot:scaling"
    )
    assert resolve_bounds(ServiceState("web", 3, scalable_target=aas)) == Bounds(
        2, 8, "application-autoscaling"
    )
    raised = aas._replace(min_capacity=6, recorded_original_min=2)
    assert resolve_bounds(ServiceState("web", 6, scalable_target=raised)) == Bounds(
        2, 8, "application-autoscaling"
    )
    assert resolve_bounds(ServiceState("web", 3)) is None
    assert resolve_bounds(AsgState("asg", 1, 6, 3)) == Bounds(1, 6, "auto-scaling-group")
    with pytest.raises(InvalidTag):
        resolve_bounds(ServiceState("web", 3, scaling_tag="lots"))


# ---------------------------------------------------------------------------
# Owners
# ---------------------------------------------------------------------------
WEB = AlarmBinding(ServiceTarget("web"), Step(1, 2), 300)
ASG = AlarmBinding(AsgTarget("demo-asg"), Step(1, 1), 300)


def alarm(
    target: ServiceState | AsgState | None,
    state: str = "ALARM",
    binding: AlarmBinding = WEB,
    last: datetime | None = None,
    now: datetime = NOW,
) -> Change | StrategyShift | NoChange:
    return decide_alarm(
        alarm_name="autopilot-web-cpu-high",
        state=state,
        binding=binding,
        target=target,
        last_change_at=last,
        now=now,
    )


def test_service_with_a_scalable_target_moves_the_floor_never_desired_count() -> None:
    # Given a service whose desired count Application Auto Scaling owns
    service = ServiceState("web", 3, scalable_target=ScalableTargetState(2, 10))
    # When its alarm fires
    change = alarm(service)
    # Then the floor goes to desired + step, recording the original floor
    assert change == Change(
        Owner.SCALABLE_TARGET_MIN,
        "web",
        2,
        5,
        Bounds(2, 10, "application-autoscaling"),
        "alarm autopilot-web-cpu-high ALARM",
        record_original=2,
    )
    # And when it clears, the recorded floor comes back
    raised = service._replace(desired_count=5, scalable_target=ScalableTargetState(5, 10, 2))
    restore = alarm(raised, "OK", last=NOW - timedelta(seconds=301))
    assert isinstance(restore, Change)
    assert (restore.owner, restore.old, restore.new, restore.clear_original) == (
        Owner.SCALABLE_TARGET_MIN,
        5,
        2,
        True,
    )


@given(
    desired=st.integers(0, 50),
    low=st.integers(0, 20),
    span=st.integers(0, 20),
    step=st.integers(1, 5),
    state=st.sampled_from(["ALARM", "OK"]),
)
def test_owner_a_scalable_target_is_never_scaled_through_desired_count(
    desired: int, low: int, span: int, step: int, state: str
) -> None:
    service = ServiceState("web", desired, scalable_target=ScalableTargetState(low, low + span))
    result = alarm(service, state, WEB._replace(step=Step(1, step)))
    assert not (isinstance(result, Change) and result.owner is Owner.SERVICE_DESIRED_COUNT)


def test_service_without_scalable_target_changes_desired_count_within_its_tag() -> None:
    service = ServiceState("web", 3, scaling_tag="1-4")
    change = alarm(service)
    assert isinstance(change, Change)
    assert (change.owner, change.old, change.new) == (Owner.SERVICE_DESIRED_COUNT, 3, 4)
    assert isinstance(alarm(service, "OK"), NoChange)


def test_service_without_any_bounds_is_not_scaled() -> None:
    result = alarm(ServiceState("web", 3))
    assert isinstance(result, NoChange)
    assert "bounds" in result.reason


def test_service_with_a_malformed_scaling_tag_is_skipped_with_the_reason() -> None:
    result = alarm(ServiceState("web", 3, scaling_tag="ten-to-twenty"))
    assert isinstance(result, NoChange)
    assert "autopilot:scaling" in result.reason


def test_plain_asg_gets_desired_capacity() -> None:
    change = alarm(AsgState("demo-asg", 1, 6, 3), binding=ASG)
    assert isinstance(change, Change)
    assert (change.owner, change.old, change.new) == (Owner.ASG_DESIRED, 3, 4)


def test_managed_asg_gets_its_minimum_raised_and_restored() -> None:
    asg = AsgState("demo-asg", 1, 6, 3, managed_scaling=True)
    change = alarm(asg, binding=ASG)
    assert isinstance(change, Change)
    assert (change.owner, change.old, change.new, change.record_original) == (
        Owner.ASG_MIN,
        1,
        4,
        1,
    )
    raised = asg._replace(min_size=4, desired=4, recorded_original_min=1)
    restore = alarm(raised, "OK", ASG, last=NOW - timedelta(hours=1))
    assert isinstance(restore, Change)
    assert (restore.owner, restore.new, restore.clear_original) == (Owner.ASG_MIN, 1, True)


def test_capacity_provider_target_goes_through_its_asg() -> None:
    binding = AlarmBinding(CapacityProviderTarget("demo-cp"), Step(1, 1), 300)
    change = alarm(AsgState("demo-asg", 0, 4, 2, managed_scaling=True), binding=binding)
    assert isinstance(change, Change)
    assert change.owner is Owner.ASG_MIN


def test_target_kind_mismatch_and_missing_target_change_nothing() -> None:
    assert isinstance(alarm(AsgState("demo-asg", 0, 4, 2)), NoChange)
    assert isinstance(alarm(ServiceState("web", 2, scaling_tag="1-5"), binding=ASG), NoChange)
    assert isinstance(alarm(None), NoChange)


def test_insufficient_data_changes_nothing() -> None:
    assert isinstance(
        alarm(ServiceState("web", 2, scaling_tag="1-5"), "INSUFFICIENT_DATA"), NoChange
    )


def test_scale_in_alarm() -> None:
    binding = WEB._replace(step=Step(-1, 1))
    change = alarm(ServiceState("web", 3, scaling_tag="2-5"), binding=binding)
    assert isinstance(change, Change)
    assert change.new == 2
    assert isinstance(alarm(ServiceState("web", 2, scaling_tag="2-5"), binding=binding), NoChange)
    # a floor only goes back down to what autopilot recorded
    floor = ServiceState("web", 6, scalable_target=ScalableTargetState(6, 10, 2))
    lowered = alarm(floor, binding=WEB._replace(step=Step(-1, 10)))
    assert isinstance(lowered, Change)
    assert (lowered.new, lowered.clear_original) == (2, True)
    untouched = ServiceState("web", 6, scalable_target=ScalableTargetState(2, 10))
    assert isinstance(alarm(untouched, binding=binding), NoChange)
    assert isinstance(alarm(ServiceState("web", 3, scaling_tag="2-5"), "OK", binding), NoChange)


def test_deployment_that_watches_the_alarm_is_not_touched() -> None:
    service = ServiceState(
        "web",
        3,
        scaling_tag="1-9",
        deployment_in_progress=True,
        deployment_alarms=frozenset({"autopilot-web-cpu-high"}),
    )
    result = alarm(service)
    assert isinstance(result, NoChange)
    assert "deployment" in result.reason
    other = service._replace(deployment_alarms=frozenset({"web-5xx"}))
    assert isinstance(alarm(other), Change)


def test_flapping_inside_the_cooldown_makes_one_change() -> None:
    service = ServiceState("web", 3, scalable_target=ScalableTargetState(2, 10))
    first = alarm(service)
    assert isinstance(first, Change)
    raised = service._replace(scalable_target=ScalableTargetState(5, 10, 2))
    ok = alarm(raised, "OK", last=NOW, now=NOW + timedelta(seconds=60))
    again = alarm(raised, "ALARM", last=NOW, now=NOW + timedelta(seconds=120))
    assert isinstance(ok, NoChange)
    assert ok.retry_at == NOW + timedelta(seconds=300)
    assert isinstance(again, NoChange)
    later = alarm(raised, "OK", last=NOW, now=NOW + timedelta(seconds=300))
    assert isinstance(later, Change)
    assert later.new == 2


# ---------------------------------------------------------------------------
# Properties: bounds and cooldowns
# ---------------------------------------------------------------------------
@st.composite
def targets(draw: st.DrawFn) -> tuple[AlarmBinding, ServiceState | AsgState]:
    step = Step(draw(st.sampled_from([1, -1])), draw(st.integers(1, 20)), draw(st.booleans()))
    cooldown = draw(st.integers(0, 900))
    kind = draw(st.sampled_from(["tagged", "aas", "asg"]))
    if kind == "asg":
        low, high = sorted((draw(st.integers(0, 20)), draw(st.integers(0, 20))))
        recorded = draw(st.one_of(st.none(), st.integers(0, low)))
        state: ServiceState | AsgState = AsgState(
            "demo-asg", low, high, draw(st.integers(0, 25)), draw(st.booleans()), recorded
        )
        return AlarmBinding(AsgTarget("demo-asg"), step, cooldown), state
    desired = draw(st.integers(0, 40))
    aas = None
    if kind == "aas" or draw(st.booleans()):
        low, high = sorted((draw(st.integers(0, 20)), draw(st.integers(0, 30))))
        aas = ScalableTargetState(low, high, draw(st.one_of(st.none(), st.integers(0, low))))
    tag = None
    if kind == "tagged":
        a, b = sorted((draw(st.integers(0, 20)), draw(st.integers(0, 30))))
        tag = f"{a}-{b}"
    return AlarmBinding(ServiceTarget("web"), step, cooldown), ServiceState(
        "web", desired, tag, aas
    )


@given(targets(), st.sampled_from(["ALARM", "OK", "INSUFFICIENT_DATA"]))
@settings(max_examples=500, deadline=None)
def test_no_change_is_ever_outside_the_bounds(
    case: tuple[AlarmBinding, ServiceState | AsgState], state: str
) -> None:
    binding, target = case
    result = alarm(target, state, binding)
    if isinstance(result, Change):
        bounds = resolve_bounds(target)
        assert bounds is not None
        assert result.new in result.bounds
        assert bounds.low <= result.new <= bounds.high
        assert result.new != result.old


def _apply(target: ServiceState | AsgState, change: Change) -> ServiceState | AsgState:
    if isinstance(target, AsgState):
        if change.owner is Owner.ASG_DESIRED:
            return target._replace(desired=change.new)
        recorded = (
            change.record_original
            if change.record_original is not None
            else target.recorded_original_min
        )
        return target._replace(
            min_size=change.new,
            desired=max(target.desired, change.new),
            recorded_original_min=None if change.clear_original else recorded,
        )
    if change.owner is Owner.SERVICE_DESIRED_COUNT:
        return target._replace(desired_count=change.new)
    aas = target.scalable_target
    assert aas is not None
    recorded = (
        change.record_original if change.record_original is not None else aas.recorded_original_min
    )
    return target._replace(
        desired_count=max(target.desired_count, change.new),
        scalable_target=aas._replace(
            min_capacity=change.new,
            recorded_original_min=None if change.clear_original else recorded,
        ),
    )


@given(
    targets(),
    st.lists(
        st.tuples(st.integers(1, 400), st.sampled_from(["ALARM", "OK", "INSUFFICIENT_DATA"])),
        min_size=1,
        max_size=40,
    ),
)
@settings(max_examples=300, deadline=None)
def test_two_changes_to_one_target_are_never_closer_than_its_cooldown(
    case: tuple[AlarmBinding, ServiceState | AsgState], events: list[tuple[int, str]]
) -> None:
    binding, target = case
    assume(isinstance(binding.target, ServiceTarget) == isinstance(target, ServiceState))
    now, last = NOW, None
    changes: list[datetime] = []
    for gap, state in events:
        now += timedelta(seconds=gap)
        result = alarm(target, state, binding, last=last, now=now)
        if isinstance(result, Change):
            changes.append(now)
            last = now
            target = _apply(target, result)
            bounds = resolve_bounds(target)
            assert bounds is not None
            assert bounds.low <= result.new <= bounds.high
    for earlier, later in itertools.pairwise(changes):
        assert later - earlier >= timedelta(seconds=binding.cooldown_seconds)


TAG_KEYS = ["autopilot:target", "autopilot:step", "autopilot:cooldown", "team"]
TAG_VALUES = st.one_of(
    st.sampled_from(
        ["service:web", "asg:demo-asg", "+1", "-10%", "300", "web", "capacity-provider:FARGATE"]
    ),
    st.text(max_size=40),
    st.integers(),
    st.none(),
)


def _parses(parser: object, value: object) -> bool:
    try:
        parser(value)  # type: ignore[operator]
    except InvalidTag:
        return False
    return True


@given(st.one_of(st.none(), st.dictionaries(st.sampled_from(TAG_KEYS), TAG_VALUES, max_size=4)))
@settings(max_examples=400, deadline=None)
def test_an_alarm_with_no_or_malformed_tags_binds_nothing_and_says_why(
    raw: dict[str, object] | None,
) -> None:
    # Given any tags; when parsed; then only fully well-formed tags bind (no binding: no change)
    tags_ = raw or {}
    well_formed = (
        "autopilot:target" in tags_
        and "autopilot:step" in tags_
        and _parses(parse_target, tags_["autopilot:target"])
        and _parses(parse_step, tags_["autopilot:step"])
        and (
            "autopilot:cooldown" not in tags_
            or _parses(parse_cooldown, tags_["autopilot:cooldown"])
        )
    )
    result = parse_alarm_tags(raw)
    assert isinstance(result, AlarmBinding) == well_formed
    if isinstance(result, TagError):
        assert result.key in TAG_KEYS
        assert result.reason


# ---------------------------------------------------------------------------
# Placement failures, Spot fallback, Spot warnings
# ---------------------------------------------------------------------------
SPOT = (StrategyItem(FARGATE_SPOT, weight=3), StrategyItem(FARGATE, weight=1, base=1))
WORKER = ServiceState("worker", 4, strategy=SPOT)


def placement(
    reason: str | None,
    service: ServiceState = WORKER,
    asg: AsgState | None = None,
    last: datetime | None = None,
) -> Change | StrategyShift | NoChange:
    return decide_placement_failure(
        reason=reason, service=service, asg=asg, last_change_at=last, cooldown_seconds=300, now=NOW
    )


@pytest.mark.parametrize("reason", ["RESOURCE:CPU", "RESOURCE:MEMORY"])
def test_cpu_or_memory_placement_failure_scales_the_asg_out_by_one(reason: str) -> None:
    change = placement(reason, ServiceState("api", 4), AsgState("demo-asg", 1, 5, 3))
    assert isinstance(change, Change)
    assert (change.owner, change.old, change.new) == (Owner.ASG_DESIRED, 3, 4)
    managed = placement(
        reason, ServiceState("api", 4), AsgState("demo-asg", 1, 5, 3, managed_scaling=True)
    )
    assert isinstance(managed, Change)
    assert (managed.owner, managed.new) == (Owner.ASG_MIN, 4)
    at_max = placement(reason, ServiceState("api", 4), AsgState("demo-asg", 1, 5, 5))
    assert isinstance(at_max, NoChange)
    assert "max" in at_max.reason
    cooling = placement(reason, ServiceState("api", 4), AsgState("demo-asg", 1, 5, 3), last=NOW)
    assert isinstance(cooling, NoChange)
    assert cooling.retry_at is not None
    assert isinstance(placement(reason, ServiceState("api", 4), None), NoChange)


def test_fargate_spot_without_capacity_shifts_to_on_demand_and_records_the_original() -> None:
    shift = placement("RESOURCE:FARGATE")
    assert isinstance(shift, StrategyShift)
    assert shift.record_original
    assert shift.old == SPOT
    assert shift.new == (StrategyItem(FARGATE, weight=4, base=1),)
    # a second failure (or a duplicate event) finds no Spot left: nothing more
    assert isinstance(placement("RESOURCE:FARGATE", WORKER._replace(strategy=shift.new)), NoChange)


def test_fargate_placement_failure_on_a_service_without_spot_is_ignored() -> None:
    service = ServiceState("web", 2, strategy=(StrategyItem(FARGATE, 1),))
    assert isinstance(placement("RESOURCE:FARGATE", service), NoChange)


@pytest.mark.parametrize("reason", ["RESOURCE:PORTS", "ATTRIBUTE", None, "x" * 500])
def test_other_placement_failures_are_recorded_only(reason: str | None) -> None:
    assert isinstance(placement(reason, asg=AsgState("demo-asg", 1, 5, 3)), NoChange)


@pytest.mark.parametrize(
    ("strategy", "expected"),
    [
        ((StrategyItem(FARGATE_SPOT, 1),), (StrategyItem(FARGATE, 1),)),
        ((StrategyItem(FARGATE_SPOT, 0, base=2),), (StrategyItem(FARGATE, 1, 2),)),
        (
            (StrategyItem("ec2-cp", 1), StrategyItem(FARGATE_SPOT, 2)),
            (StrategyItem("ec2-cp", 1), StrategyItem(FARGATE, 2)),
        ),
        ((StrategyItem(FARGATE, 1),), (StrategyItem(FARGATE, 1),)),
    ],
)
def test_on_demand(strategy: tuple[StrategyItem, ...], expected: tuple[StrategyItem, ...]) -> None:
    assert on_demand(strategy) == expected


def test_shift_back_after_the_calm_period_on_steady_state() -> None:
    shifted = on_demand(SPOT)
    record = RecordedShift(SPOT, shifted, NOW)
    service = WORKER._replace(strategy=shifted)

    def steady(
        at: datetime, last_failure: datetime | None = None, svc: ServiceState = service
    ) -> StrategyShift | NoChange:
        return decide_steady_state(
            service=svc, shift=record, last_failure_at=last_failure, calm_seconds=1800, now=at
        )

    early = steady(NOW + timedelta(minutes=10))
    assert isinstance(early, NoChange)
    assert early.retry_at == NOW + timedelta(minutes=30)
    failed_again = steady(NOW + timedelta(minutes=31), last_failure=NOW + timedelta(minutes=20))
    assert isinstance(failed_again, NoChange)
    back = steady(NOW + timedelta(minutes=31))
    assert isinstance(back, StrategyShift)
    assert (back.new, back.record_original) == (SPOT, False)
    moved_by_someone = steady(
        NOW + timedelta(hours=1), svc=service._replace(strategy=(StrategyItem(FARGATE, 5),))
    )
    assert isinstance(moved_by_someone, NoChange)
    assert isinstance(
        decide_steady_state(
            service=service, shift=None, last_failure_at=None, calm_seconds=1, now=NOW
        ),
        NoChange,
    )


def test_spot_warning_raises_capacity_by_one_within_max() -> None:
    def spot(
        asg: AsgState | None, last: datetime | None = None
    ) -> Change | StrategyShift | NoChange:
        return decide_spot_interruption(asg=asg, last_change_at=last, cooldown_seconds=120, now=NOW)

    change = spot(AsgState("spot-asg", 0, 4, 2))
    assert isinstance(change, Change)
    assert (change.owner, change.new) == (Owner.ASG_DESIRED, 3)
    assert isinstance(spot(AsgState("spot-asg", 0, 4, 4)), NoChange)
    assert isinstance(spot(None), NoChange)
    assert isinstance(
        spot(AsgState("spot-asg", 0, 4, 2), last=NOW - timedelta(seconds=60)), NoChange
    )
    managed = spot(AsgState("spot-asg", 0, 4, 2, managed_scaling=True))
    assert isinstance(managed, Change)
    assert managed.owner is Owner.ASG_MIN


def test_floor_release() -> None:
    raised = AsgState("spot-asg", 3, 4, 3, managed_scaling=True, recorded_original_min=0)
    release = decide_floor_release(
        asg=raised, last_change_at=NOW - timedelta(hours=1), cooldown_seconds=300, now=NOW
    )
    assert isinstance(release, Change)
    assert (release.new, release.clear_original) == (0, True)
    assert isinstance(
        decide_floor_release(
            asg=raised._replace(recorded_original_min=None),
            last_change_at=None,
            cooldown_seconds=300,
            now=NOW,
        ),
        NoChange,
    )
