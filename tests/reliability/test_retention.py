"""Retention against lifecycle expiry (``reliability/retention.py``): after many pushes,
deploys and sweeps, an aggressive expiry run (keep 1 image, below the protective rule)
removes no digest a service runs or keeps as known good, and a service still rolls back."""

from __future__ import annotations

from typing import Any

import pytest

from reliability import retention
from reliability.report import retention_row


@pytest.fixture(scope="module")
def result(rel_sandbox: Any) -> retention.RetentionResult:
    return retention.run_retention(rel_sandbox, rounds=5)


def test_the_expiry_run_removes_no_protected_digest(result: retention.RetentionResult) -> None:
    assert result.protected > 0
    assert result.protected_removed == []
    # it did expire: everything else beyond the newest image
    assert result.expired > 0
    # and without the protective rule the same run would have removed protected digests
    assert result.unprotected_would_remove > 0


def test_a_service_still_rolls_back_to_its_last_known_good(
    result: retention.RetentionResult,
) -> None:
    assert result.rolled_back
    assert result.rollback_target_held


def test_no_event_and_no_sweep_failed(result: retention.RetentionResult) -> None:
    assert result.failed_routes == []
    assert result.ok


def test_the_phase_has_its_row_in_reliability_md(result: retention.RetentionResult) -> None:
    row = retention_row(result.summary())
    assert row.startswith("| lifecycle expiry never removes a protected digest")
    assert "0 protected digests removed" in row
    assert row.endswith("| pass |")
