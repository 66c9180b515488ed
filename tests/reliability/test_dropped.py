"""Lost events: 20% of the ECR push and scan events dropped (seeded), then one reconciler
sweep: every service ends on its newest eligible image, nothing goes backward, nothing is
deployed twice. CI size; `python -m reliability --full` runs the full stream."""

from __future__ import annotations

from typing import Any

import pytest

from reliability import dropped, estate, replay
from reliability.report import dropped_detail, dropped_row


@pytest.fixture(scope="module")
def result(rel_sandbox: Any) -> dropped.DroppedResult:
    return dropped.run_dropped(rel_sandbox, seed=5, n_events=30, drop_rate=0.2)


def test_the_stream_lost_pushes_and_scans_that_mattered(result: dropped.DroppedResult) -> None:
    assert result.dropped_pushes > 0
    assert result.dropped_scans > 0
    # some service's newest eligible image came only through a lost event
    assert result.lost_eligible > 0
    assert result.deployed_by_sweep > 0


def test_after_one_sweep_every_service_is_on_its_newest_eligible_image(
    result: dropped.DroppedResult,
) -> None:
    assert result.wrong_final == []
    assert result.deployed_share == 1.0


def test_no_deploy_goes_backward_or_twice(result: dropped.DroppedResult) -> None:
    assert result.backward == []
    assert result.duplicate_deploys == []
    assert result.blocked_deploys == []


def test_no_event_and_no_sweep_failed(result: dropped.DroppedResult) -> None:
    assert result.failed_routes == []


def test_the_phase_has_its_row_in_reliability_md(result: dropped.DroppedResult) -> None:
    phase = result.summary() | {"deployed_share": result.deployed_share, "ok": result.ok}
    row = dropped_row(phase)
    assert row.startswith("| 20% of ECR events lost")
    assert row.endswith("| pass |")
    assert f"{result.dropped} dropped" in row
    assert "100% on their newest eligible image" in row
    assert "0 backward, 0 duplicate deploys" in row
    assert dropped_detail(phase).startswith(f"- Lost events: {result.images} images")


def test_a_lost_clean_push_behind_a_blocked_newer_one_is_deployed_by_the_sweep(
    rel_sandbox: Any, result: dropped.DroppedResult
) -> None:
    sim = rel_sandbox.simulator
    svc = estate.SERVICES[0]
    repo = estate.service_repository(svc)
    clean_version, vulnerable_version = replay.allocate(repo, 2)
    clean, vulnerable = (".".join(map(str, v)) for v in (clean_version, vulnerable_version))
    lost = sim.push(repo, clean, drop_event=True)
    blocked = sim.push(repo, vulnerable, findings={"CRITICAL": 1})
    # known to the later phases' models, which read what each service runs by its digest
    replay.KNOWN[lost.digest] = replay.Image(repo, clean_version, {}, False, lost.digest)
    replay.KNOWN[blocked.digest] = replay.Image(
        repo, vulnerable_version, {"CRITICAL": 1}, False, blocked.digest
    )
    assert "blocked" in [
        d["outcome"] for r in blocked.routes if r.report for d in r.report["decisions"]
    ]
    sim.tick("reconcile")
    observer = replay.DeployObserver(rel_sandbox)
    ecs = rel_sandbox.clients("ecs")
    td = ecs.describe_services(cluster=sim.service(svc).cluster_arn, services=[svc])["services"]
    assert observer.image_of(td[0]["taskDefinition"])[0] == lost.digest
