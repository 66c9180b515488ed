"""Faults injected at the botocore level: 20% absorbed by retries; a 100% outage ends in the
DLQ, intact, and `redrive` completes the reactions; nothing is left half-changed."""

from __future__ import annotations

from typing import Any

import pytest

from reliability import faults, replay
from reliability.hooks import HOOKS


@pytest.fixture(scope="module")
def at_20_percent(rel_sandbox: Any) -> replay.ReplayResult:
    return replay.run_replay(rel_sandbox, seed=21, n_events=12, fault_rate=0.2)


def test_at_20_percent_every_reaction_completes(at_20_percent: replay.ReplayResult) -> None:
    r = at_20_percent
    assert sum(r.faults.values()) > 0, "no fault was injected"
    assert r.failed_routes == []
    assert r.dead_lettered == 0
    assert r.wrong_final == []
    assert r.backward == []
    assert r.duplicate_deploys == []
    assert r.blocked_deploys == []
    assert r.update_service_ok == r.deploy_decisions


@pytest.mark.parametrize(("scope", "seed"), [("all", 23), ("UpdateService", 24)])
def test_a_100_percent_outage_ends_in_the_dlq_and_redrive_completes(
    rel_sandbox: Any, scope: str, seed: int
) -> None:
    o = faults.outage_run(rel_sandbox, seed=seed, n_images=2, scope=scope)
    assert o.events > 0
    assert o.dead_lettered == o.events, "every event ends in the DLQ"
    assert o.intact == o.events, "the DLQ holds each event unchanged"
    assert o.dry_run_listed == o.events, "redrive --dry-run lists them all (and keeps them)"
    assert o.redriven == o.events
    assert o.redrive_failed == 0
    assert o.left_in_dlq == 0
    assert o.wrong_final == []


def test_nothing_is_left_half_changed(rel_sandbox: Any, at_20_percent: Any) -> None:
    left = faults.leftovers(rel_sandbox, HOOKS.calls)
    assert left.registered > 0
    assert left.unused == [], "registered revisions never used and not deregistered"
    assert left.leases_held == []
    assert left.leases_past_expiry == []


def test_an_outage_with_two_images_per_service_leaves_no_unused_revision(
    rel_sandbox: Any,
) -> None:
    mark = HOOKS.mark()
    o = faults.outage_run(
        rel_sandbox, seed=25, n_images=2, scope="UpdateService", repositories=("rel/app1",)
    )
    assert o.ok
    left = faults.leftovers(rel_sandbox, HOOKS.since(mark))
    assert left.unused == []
