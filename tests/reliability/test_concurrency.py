"""Concurrent events on the same services: one deploy, the lease holds, the newest wins."""

from __future__ import annotations

from typing import Any

from reliability import concurrency


def test_concurrent_events_deploy_once_and_the_lease_holds(rel_sandbox: Any) -> None:
    r = concurrency.run_rounds(rel_sandbox, rounds=2, threads=4, seed=31)
    assert r.errors == []
    assert r.failures == []
    assert r.busy > 0, "the race round never met a held lease"
