"""Concurrent events on the same services: one deploy, the lease holds, the newest wins;
concurrent copies of one event (one event id, several invocations) deploy once."""

from __future__ import annotations

from typing import Any

from reliability import concurrency


def test_concurrent_events_deploy_once_and_the_lease_holds(rel_sandbox: Any) -> None:
    # rounds: same (one image, an event id per delivery), race, copies (one event id)
    r = concurrency.run_rounds(rel_sandbox, rounds=3, threads=4, seed=31)
    assert r.errors == []
    assert r.failures == []
    assert r.busy > 0, "the race round never met a held lease"
    assert r.one_image_rounds == 2
    assert r.double_deploys == []
    assert r.one_image_update_service == 4, "one UpdateService per service in each round"
