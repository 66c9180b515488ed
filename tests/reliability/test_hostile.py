"""Hostile input: generated malformed events through every handler, hostile tag values."""

from __future__ import annotations

from typing import Any

import pytest
from autopilot.errors import MalformedTag
from autopilot.logic.policy import parse_service_config

from reliability import hostile


@pytest.fixture(scope="module")
def result(rel_sandbox: Any) -> hostile.HostileResult:
    res = hostile.run_events(rel_sandbox, n_events=300, seed=41)
    hostile.run_tag_parsing(res, n_values=200, seed=41)
    values = hostile.hostile_tag_values()
    picked = [values[0], values[11], values[16]]  # (a+)+$, a 10 KB glob, an injection string
    hostile.run_tags(rel_sandbox, res, seed=41, values=picked)
    return res


def test_every_handler_saw_malformed_events(result: hostile.HostileResult) -> None:
    assert set(result.by_function) == {
        "image-events",
        "deployment-events",
        "task-events",
        "capacity-events",
    }
    assert result.rejected > result.events / 2


def test_no_untyped_exception(result: hostile.HostileResult) -> None:
    assert result.untyped == []


def test_no_mutating_call_and_every_rejection_has_a_reason(result: hostile.HostileResult) -> None:
    assert result.mutating == []
    assert result.calls_on_rejection == []
    assert result.unclear == []


def test_hostile_tag_values_skip_the_service_with_a_reason(result: hostile.HostileResult) -> None:
    assert result.tag_values == 3
    assert result.tag_checks_failed == []


def test_each_run_is_bounded(result: hostile.HostileResult) -> None:
    # generous: a pathological regex would take minutes; the hypothesis deadline is 30 s
    assert result.max_seconds < 10
    assert result.tag_max_seconds < 20


def test_no_hostile_value_runs_past_its_bound(result: hostile.HostileResult) -> None:
    # the ReDoS the harness found (hostile.REDOS_POLICY) included: it is rejected now
    assert result.hangs == []


def test_a_policy_regex_is_rejected_or_matches_in_bounded_time() -> None:
    try:
        cfg = parse_service_config(
            {"autopilot:repository": "rel/app0", "autopilot:policy": hostile.REDOS_POLICY}
        )
    except MalformedTag:
        return  # rejected: the fix
    assert cfg is not None
    with hostile.bounded(5):
        cfg.policy.accepts_tag("a" * 40 + "!")


def test_image_events_on_a_backtracking_policy_is_bounded(rel_sandbox: Any) -> None:
    res = hostile.HostileResult()
    hostile.run_redos_push(rel_sandbox, res, bound=5)
    assert res.hangs == []
