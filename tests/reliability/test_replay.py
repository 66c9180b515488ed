"""Replay: duplicates (30%) and reordering (20%) of image events, checked against the model.

CI size; `python -m reliability --full` runs 1,000 events.
"""

from __future__ import annotations

from typing import Any

import pytest

from reliability import replay


@pytest.fixture(scope="module")
def result(rel_sandbox: Any) -> replay.ReplayResult:
    return replay.run_replay(rel_sandbox, seed=11, n_events=24)


def test_the_stream_has_duplicates_reordering_vulnerable_and_deploys(
    result: replay.ReplayResult,
) -> None:
    assert result.duplicates >= 0.25 * result.events
    assert result.reordered > 0
    assert result.vulnerable > 0
    assert result.deploy_decisions > 0


def test_every_service_ends_on_its_newest_eligible_digest(result: replay.ReplayResult) -> None:
    assert result.wrong_final == []


def test_no_deploy_goes_backward(result: replay.ReplayResult) -> None:
    assert result.backward == []


def test_no_blocked_or_quarantined_digest_is_deployed(result: replay.ReplayResult) -> None:
    assert result.blocked_deploys == []


def test_exactly_one_update_service_per_deploy_decision(result: replay.ReplayResult) -> None:
    assert result.duplicate_deploys == []
    assert result.update_service_ok == result.deploy_decisions


def test_no_event_failed(result: replay.ReplayResult) -> None:
    assert result.failed_routes == []
    assert result.dead_lettered == 0
