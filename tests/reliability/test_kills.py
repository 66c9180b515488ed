"""image-events killed mid-flight, with no clean-up (the calls after the kill raise a
BaseException), then redelivered as Lambda would: nothing lost, no revision left unused,
no double deploy, no lease held. CI size: a kill after each RegisterTaskDefinition,
UpdateService and DeleteItem (the intent forgotten) of a deploy of two services; the
full harness (``python -m reliability --full``) kills after every call."""

from __future__ import annotations

from typing import Any

from reliability import faults

AFTER = frozenset({"RegisterTaskDefinition", "UpdateService", "DeleteItem"})


def test_a_kill_mid_flight_loses_nothing_and_leaves_nothing(rel_sandbox: Any) -> None:
    r = faults.kill_run(rel_sandbox, only=AFTER)
    assert r.positions > 10, "a deploy makes more calls than that"
    assert r.tried >= 6, "two services: each registers, updates and forgets its intent"
    assert r.kills == r.tried
    assert set(r.killed_after) == AFTER
    assert r.lost == []
    assert r.orphans == []
    assert r.double_deploys == []
    assert r.leases_held == []
