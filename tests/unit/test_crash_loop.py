"""Crash-loop detection: N crashes of one task definition in M minutes, no deployment."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from autopilot.domain.records import StopRecord
from autopilot.logic.crash_loop import (
    CrashLoop,
    CrashLoopPolicy,
    InvalidCrashLoopPolicy,
    detect_crash_loop,
)
from hypothesis import given, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.disable_socket

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
TD = "arn:aws:ecs:eu-west-1:123456789012:task-definition/api:13"
TD_OLD = "arn:aws:ecs:eu-west-1:123456789012:task-definition/api:12"
POLICY = CrashLoopPolicy(threshold=3, window_minutes=10)


def stop(i: int, *codes: int | None, td: str = TD, ago: int = 60) -> StopRecord:
    return StopRecord(f"task-{td[-2:]}-{i}", td, tuple(codes), NOW - timedelta(seconds=ago))


def detect(records: list[StopRecord], *, deploying: bool = False) -> CrashLoop | None:
    return detect_crash_loop(records, POLICY, now=NOW, deployment_in_progress=deploying)


def test_three_crashes_in_the_window_are_a_loop() -> None:
    records = [stop(1, 1, ago=500), stop(2, 137, 0, ago=300), stop(3, 0, 2, ago=10)]
    assert detect(records) == CrashLoop(
        TD, 3, NOW - timedelta(seconds=500), NOW - timedelta(seconds=10)
    )


def test_two_crashes_are_not_enough() -> None:
    assert detect([stop(1, 1), stop(2, 1)]) is None


def test_clean_exits_and_never_started_containers_are_not_crashes() -> None:
    assert detect([stop(1, 0), stop(2, None), stop(3, 0, None), stop(4, 1)]) is None


def test_crashes_outside_the_window_do_not_count() -> None:
    assert detect([stop(1, 1, ago=601), stop(2, 1, ago=700), stop(3, 1), stop(4, 1)]) is None


def test_future_records_do_not_count() -> None:
    assert detect([stop(1, 1, ago=-5), stop(2, 1), stop(3, 1)]) is None


def test_duplicate_deliveries_count_once() -> None:
    record = stop(1, 1)
    assert detect([record, record, record]) is None


def test_no_crash_loop_during_a_deployment() -> None:
    assert detect([stop(i, 1) for i in range(10)], deploying=True) is None


def test_counts_are_per_task_definition_and_the_worst_wins() -> None:
    records = [stop(i, 1, td=TD_OLD) for i in range(3)] + [stop(i, 1) for i in range(4)]
    loop = detect(records)
    assert loop is not None
    assert (loop.task_definition_arn, loop.count) == (TD, 4)


@pytest.mark.parametrize(("threshold", "window"), [(0, 10), (1, 0), (1001, 10), (3, 1441)])
def test_policy_is_checked(threshold: int, window: int) -> None:
    with pytest.raises(InvalidCrashLoopPolicy):
        CrashLoopPolicy(threshold=threshold, window_minutes=window)


@given(
    st.lists(
        st.tuples(
            st.sampled_from([TD, TD_OLD]),
            st.lists(st.one_of(st.none(), st.integers(0, 255)), max_size=3),
            st.integers(-100, 1200),
        ),
        max_size=30,
    ),
    st.integers(1, 6),
)
@settings(max_examples=300, deadline=None)
def test_a_detected_loop_is_real(raw: list[tuple[str, list[int | None], int]], n: int) -> None:
    records = [
        StopRecord(f"t{i}", td, tuple(codes), NOW - timedelta(seconds=ago))
        for i, (td, codes, ago) in enumerate(raw)
    ]
    policy = CrashLoopPolicy(threshold=n, window_minutes=10)
    loop = detect_crash_loop(records, policy, now=NOW, deployment_in_progress=False)
    expected = {
        td: sum(
            1
            for r in records
            if r.task_definition_arn == td
            and r.crashed
            and NOW - timedelta(seconds=600) <= r.stopped_at <= NOW
        )
        for td in (TD, TD_OLD)
    }
    if loop is None:
        assert all(count < n for count in expected.values())
    else:
        assert loop.count == expected[loop.task_definition_arn] >= n
        assert loop.count == max(expected.values())
