"""Operator controls against moto: approve, reject, expiry, double approval, approvals that
became ineligible, pause/resume over every reaction, status, history, notices, lead time."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from autopilot.domain.report import ANNOUNCED
from autopilot.handlers import capacity_events, deployment_events, image_events, task_events
from autopilot.logic.policy import Floors

from cli import controls as operator
from tests.estate import CLUSTER_ARN, REGISTRY, TABLE, ZONES, Estate, LambdaContext

REPO = "demo/web"
MANUAL = {"autopilot:scan": "off", "autopilot:approval": "manual"}
A, B, C = ZONES


def images(world: Estate, event: dict[str, Any]) -> str:
    (decision,) = image_events.run(event, aws=world.clients).decisions
    return decision.outcome.value


def target(world: Estate) -> operator.Target:
    return operator.Target(table=TABLE, cluster_arn=CLUSTER_ARN, topic_arn=world.topic_arn)


def manual_service(world: Estate, **tags: str) -> str:
    world.push(REPO, "v1.2.0")
    return world.service("web", REPO, tag="v1.2.0", tags={**MANUAL, **tags})


def pending(world: Estate, tag: str) -> str:
    """Push ``tag`` to the manual service: it is recorded as pending approval."""
    digest = world.push(REPO, tag)
    assert images(world, world.push_event(REPO, digest, tag)) == "pending-approval"
    return digest


def approve(world: Estate, digest: str, **kw: Any) -> operator.Result:
    return operator.approve(world.clients, target(world), "web", digest, actor="alice", **kw)


def test_pending_approval_notice_says_what_would_deploy_and_the_command(world: Estate) -> None:
    svc = manual_service(world)
    digest = pending(world, "v1.3.0")

    (notice,) = world.notices()
    assert notice["subject"] == f"[autopilot] web: pending-approval v1.3.0 ({digest[:19]})"
    assert notice["attributes"] == {
        "outcome": "pending-approval",
        "service": svc,
        "severity": "info",
    }
    body = notice["message"]  # the JSON protocols' body (this queue is an sqs subscriber)
    assert body["image"] == f"{REGISTRY}/{REPO}@{digest}"
    assert f"autopilot approve web {digest}" in body["next_step"]
    assert f"autopilot reject web {digest}" in body["next_step"]
    assert body["approval_expires"]
    text = body["text"]
    for part in ("Service:", svc, "Image:", "Tag:", "v1.3.0", "Reason:", "Next step:"):
        assert part in text
    (approval,) = world.ledger.approvals.list(svc)
    assert approval.status == "pending"
    assert approval.approval_expires is not None
    hours = (approval.approval_expires - time.time()) / 3600
    assert 23.9 < hours <= 24


def test_approve_deploys_through_the_deploy_path_and_twice_deploys_once(world: Estate) -> None:
    svc = manual_service(world)
    digest = pending(world, "v1.3.0")
    revisions = len(world.revisions("web"))
    world.notices()

    first = approve(world, digest)

    assert first.ok, first.message
    assert first.changed
    assert world.running_image(svc) == f"{REGISTRY}/{REPO}@{digest}"
    assert len(world.revisions("web")) == revisions + 1
    assert first.report is not None
    (decision,) = first.report.decisions
    assert decision.outcome.value == "deployed"
    assert decision.reason.startswith("approved by alice: ")
    apis = [a.api for a in first.report.actions]
    assert apis == ["ecs:RegisterTaskDefinition", "ecs:UpdateService", "sns:Publish"]
    # the deploy record carries the push time (lead time) as every image-events deploy does
    record = world.ledger.deploys.get(svc, world.describe(svc)["taskDefinition"])
    assert record is not None
    assert record.pushed_at is not None
    assert world.ledger.approvals.get(svc, digest).status == "approved"
    assert [n["attributes"]["outcome"] for n in world.notices()] == ["deployed"]

    second = approve(world, digest)

    assert second.ok
    assert not second.changed
    assert "already runs" in second.message
    assert len(world.revisions("web")) == revisions + 1
    assert world.notices() == []  # already-running is recorded, not announced
    history = operator.history(world.clients, target(world), "web", limit=3)
    assert [h["outcome"] for h in history][:2] == ["already-running", "deployed"]


def test_approve_accepts_a_unique_digest_prefix(world: Estate) -> None:
    manual_service(world)
    digest = pending(world, "v1.3.0")
    assert approve(world, digest[:19]).changed


def test_reject_records_and_the_digest_never_deploys_by_approval(world: Estate) -> None:
    svc = manual_service(world)
    digest = pending(world, "v1.3.0")
    world.notices()

    result = operator.reject(
        world.clients, target(world), svc, digest, actor="bob", reason="breaks checkout"
    )

    assert result.ok
    assert result.changed
    assert world.ledger.approvals.get(svc, digest).status == "rejected"
    (notice,) = world.notices()
    assert notice["attributes"]["outcome"] == "rejected"
    assert "rejected by bob: breaks checkout" in notice["message"]["text"]
    # approving it now deploys nothing
    refused = approve(world, digest)
    assert not refused.ok
    assert "rejected" in refused.message
    assert world.running_image(svc).endswith(":v1.2.0")
    # and the digest coming again (a re-push, a re-scan) is not asked for again
    assert images(world, world.push_event(REPO, digest, "v1.3.0")) == "rejected"
    assert world.ledger.state.load(svc).pending_approval == frozenset()
    assert world.notices() == []


def test_expiry_is_recorded_when_met_and_the_next_event_asks_again(world: Estate) -> None:
    svc = manual_service(world)
    digest = pending(world, "v1.3.0")
    world.notices()
    later = time.time() + 25 * 3600

    result = approve(world, digest, clock=lambda: later)

    assert not result.ok
    assert "expired" in result.message
    assert world.running_image(svc).endswith(":v1.2.0")
    assert world.ledger.approvals.get(svc, digest).status == "expired"
    (notice,) = world.notices()
    assert notice["attributes"] == {"outcome": "expired", "service": svc, "severity": "warning"}
    # met again: recorded once
    again = operator.reject(world.clients, target(world), "web", digest, actor="bob")
    assert not again.ok
    assert [h["outcome"] for h in operator.history(world.clients, target(world), "web")].count(
        "expired"
    ) == 1
    # image-events treats it as not pending: the next event for the digest asks again
    assert images(world, world.scan_event(REPO, digest, {}, tags=["v1.3.0"])) == "pending-approval"
    assert [n["attributes"]["outcome"] for n in world.notices()] == ["pending-approval"]
    assert world.ledger.approvals.get(svc, digest).status == "pending"


def test_an_expired_pending_approval_is_not_pending_for_image_events(world: Estate) -> None:
    svc = manual_service(world)
    digest = pending(world, "v1.3.0")
    ledger = type(world.ledger)(world.dynamodb, TABLE, clock=lambda: time.time() + 25 * 3600)
    assert digest not in ledger.state.load(svc).pending_approval
    assert digest in world.ledger.state.load(svc).pending_approval


def test_approval_of_a_digest_superseded_by_a_newer_push_does_not_deploy(world: Estate) -> None:
    svc = manual_service(world)
    old = pending(world, "v1.3.0")
    new = pending(world, "v1.4.0")

    result = approve(world, old)

    assert not result.ok
    assert not result.changed
    assert "superseded" in result.message
    assert "v1.4.0" in result.message
    assert world.running_image(svc).endswith(":v1.2.0")
    assert world.ledger.approvals.get(svc, old).status == "ineligible"
    # the newer one still deploys
    assert approve(world, new).changed
    assert world.running_image(svc).endswith("@" + new)


def test_a_newer_image_blocked_by_its_scan_does_not_supersede(world: Estate) -> None:
    svc = manual_service(world, **{"autopilot:scan": "critical"})
    old = world.push(REPO, "v1.3.0")
    assert images(world, world.scan_event(REPO, old, {}, tags=["v1.3.0"])) == "pending-approval"
    bad = world.push(REPO, "v1.4.0")
    assert images(world, world.scan_event(REPO, bad, {"CRITICAL": 2}, tags=["v1.4.0"])) == (
        "blocked"
    )
    assert approve(world, old).changed
    assert world.running_image(svc).endswith("@" + old)


def test_approval_of_a_quarantined_digest_does_not_deploy(world: Estate) -> None:
    svc = manual_service(world)
    digest = pending(world, "v1.3.0")
    world.ledger.state.quarantine(svc, digest, reason="failed elsewhere", event_id="e")

    result = approve(world, digest)

    assert not result.ok
    assert "quarantined" in result.message
    assert world.running_image(svc).endswith(":v1.2.0")
    assert world.ledger.approvals.get(svc, digest).status == "ineligible"
    (last,) = operator.history(world.clients, target(world), "web", limit=1)
    assert last["outcome"] == "quarantined"
    assert last["function"] == "operator"


def test_approval_while_paused_stays_pending_and_deploys_after_resume(world: Estate) -> None:
    svc = manual_service(world)
    digest = pending(world, "v1.3.0")
    operator.pause(world.clients, target(world), "web", actor="carol", reason="freeze")

    held = approve(world, digest)

    assert not held.ok
    assert "stays pending" in held.message
    assert world.ledger.approvals.get(svc, digest).status == "pending"
    operator.resume(world.clients, target(world), "web", actor="carol")
    assert approve(world, digest).changed


def test_unknown_service_or_approval_is_a_clear_error(world: Estate) -> None:
    manual_service(world)
    with pytest.raises(operator.OperatorError, match="no active service"):
        operator.approve(world.clients, target(world), "nope", "sha256:abc", actor="a")
    with pytest.raises(operator.OperatorError, match="no approval"):
        approve(world, "sha256:" + "0" * 64)


# ---------------------------------------------------------------------------
# pause / resume hold and release every reaction
# ---------------------------------------------------------------------------
def test_pause_holds_image_reactions_and_resume_releases_them(world: Estate) -> None:
    world.push(REPO, "v1.2.0")
    svc = world.service("web", REPO, tag="v1.2.0", tags={"autopilot:scan": "off"})
    before = world.describe(svc)

    paused = operator.pause(world.clients, target(world), svc, actor="carol", reason="incident")

    assert paused.ok
    assert paused.changed
    assert world.describe(svc)["taskDefinition"] == before["taskDefinition"]  # ECS untouched
    (notice,) = world.notices()
    assert notice["attributes"]["outcome"] == "paused"
    assert "autopilot resume web" in notice["message"]["next_step"]
    assert not operator.pause(world.clients, target(world), svc, actor="carol").changed
    digest = world.push(REPO, "v1.3.0")
    assert images(world, world.push_event(REPO, digest, "v1.3.0")) == "paused"
    assert world.running_image(svc).endswith(":v1.2.0")
    assert world.notices() == []  # held reactions are recorded, not announced

    resumed = operator.resume(world.clients, target(world), "web", actor="carol")

    assert resumed.changed
    assert [n["attributes"]["outcome"] for n in world.notices()] == ["resumed"]
    assert images(world, world.push_event(REPO, digest, "v1.3.0")) == "deployed"
    # (history is ordered by event time: the fixture's events are dated 2026-01)
    outcomes = [h["outcome"] for h in operator.history(world.clients, target(world), "web")]
    assert sorted(outcomes) == ["deployed", "paused", "paused", "resumed"]


def _rx_target(rx: Estate) -> operator.Target:
    return operator.Target(table=TABLE, cluster_arn=CLUSTER_ARN, topic_arn=rx.topic_arn)


def test_pause_holds_zone_balance_and_resume_releases_it(rx: Estate, clock: Any) -> None:
    for zone in ZONES:
        rx.container_instance(zone)
    rx.service(
        "api",
        launch_type="EC2",
        placement=[{"type": "binpack", "field": "memory"}],
        rebalancing=None,
        spread={A: 4, B: 1, C: 1},
        min_healthy=50,
    )
    operator.pause(rx.clients, _rx_target(rx), "api", actor="carol")
    rx.calls.clear()

    held = task_events.run(rx.task_event("api"), aws=rx.clients)

    (decision,) = held.decisions
    assert decision.outcome.value == "paused"
    assert "held" in decision.reason
    assert not held.actions
    assert rx.mutations() == {}
    assert rx.spread("api") == {A: 4, B: 1, C: 1}

    operator.resume(rx.clients, _rx_target(rx), "api", actor="carol")
    clock.advance(120)
    released = task_events.run(rx.task_event("api"), aws=rx.clients)
    assert released.decisions[0].outcome.value == "rebalanced"
    assert rx.spread("api") == {A: 3, B: 1, C: 1}


STEP_UP = {"autopilot:target": "service:web", "autopilot:step": "+2", "autopilot:cooldown": "300"}


def test_pause_holds_capacity_reactions_and_resume_releases_them(rx: Estate, clock: Any) -> None:
    rx.service("web", desired=3)
    rx.scalable_target("web", 2, 10)
    operator.pause(rx.clients, _rx_target(rx), "web", actor="carol")

    held = capacity_events.run(rx.alarm_event("web-cpu-high", tags=STEP_UP), aws=rx.clients)

    (decision,) = held.decisions
    assert decision.outcome.value == "paused"
    assert "RegisterScalableTarget" in decision.reason
    assert rx.target_bounds("web") == (2, 10)
    assert not held.actions

    operator.resume(rx.clients, _rx_target(rx), "web", actor="carol")
    released = capacity_events.run(rx.alarm_event("web-cpu-high", tags=STEP_UP), aws=rx.clients)
    assert released.decisions[0].outcome.value == "scaled"
    assert rx.target_bounds("web") == (5, 10)


def test_pause_holds_the_rollback_of_a_failed_deployment_but_quarantines(world: Estate) -> None:
    world.push(REPO, "v1.0.0")
    svc = world.service("web", REPO, tag="v1.0.0", tags={"autopilot:scan": "off"})
    bad = world.push(REPO, "v1.1.0")
    assert images(world, world.push_event(REPO, bad, "v1.1.0")) == "deployed"
    failing = world.start_deployment(svc)
    deployed_td = world.describe(svc)["taskDefinition"]
    operator.pause(world.clients, target(world), "web", actor="carol")
    world.notices()

    report = deployment_events.run(
        world.deployment_event(svc, "FAILED", failing, "tasks failed to start"), aws=world.clients
    )

    (decision,) = report.decisions
    assert decision.outcome.value == "paused"
    assert "NOT rolled back" in decision.reason
    assert world.describe(svc)["taskDefinition"] == deployed_td
    assert world.ledger.state.is_quarantined(svc, bad)
    (notice,) = world.notices()  # a real problem left to a person: announced
    assert notice["attributes"]["outcome"] == "paused"


# ---------------------------------------------------------------------------
# status and history
# ---------------------------------------------------------------------------
def test_status_shows_running_lkg_quarantine_approvals_pause_and_last_decision(
    world: Estate,
) -> None:
    svc = manual_service(world)
    digest = pending(world, "v1.3.0")
    world.ledger.state.quarantine(svc, "sha256:" + "b" * 64, reason="x", event_id="e")
    operator.pause(world.clients, target(world), "web", actor="carol", reason="freeze")
    world.service("plain", "demo/other", tag="1", track=False)  # no autopilot tag: not listed

    (doc,) = operator.status(world.clients, target(world))

    assert doc["service"] == "web"
    assert doc["arn"] == svc
    assert doc["approval"] == "manual"
    assert doc["running"]["tag"] == "v1.2.0"
    assert doc["running"]["digest"].startswith("sha256:")
    assert doc["quarantined"] == ["sha256:" + "b" * 64]
    assert [p["digest"] for p in doc["pending_approvals"]] == [digest]
    assert doc["pending_approvals"][0]["tag"] == "v1.3.0"
    assert doc["paused"]["by"] == "carol"
    assert doc["paused"]["reason"] == "freeze"
    assert doc["last_decision"]["outcome"] == "paused"
    json.dumps(doc)  # machine-readable as is


def test_status_records_an_expired_approval_it_meets(world: Estate) -> None:
    svc = manual_service(world)
    digest = pending(world, "v1.3.0")
    later = time.time() + 25 * 3600
    (doc,) = operator.status(world.clients, target(world), clock=lambda: later)
    assert doc["pending_approvals"] == []
    assert world.ledger.approvals.get(svc, digest).status == "expired"


def test_history_filters_by_time_and_outcome_newest_first(world: Estate) -> None:
    manual_service(world)
    pending(world, "v1.3.0")
    operator.pause(world.clients, target(world), "web", actor="carol")
    operator.resume(world.clients, target(world), "web", actor="carol")

    every = operator.history(world.clients, target(world), "web")
    assert [h["outcome"] for h in every] == ["resumed", "paused", "pending-approval"]
    assert all(h["event_id"] and h["reason"] for h in every)
    only = operator.history(
        world.clients, target(world), "web", outcomes=["paused", "pending-approval"]
    )
    assert [h["outcome"] for h in only] == ["paused", "pending-approval"]
    # the push's event time is in 2026-01; the operator's decisions are now
    recent = operator.history(world.clients, target(world), "web", since="2h")
    assert [h["outcome"] for h in recent] == ["resumed", "paused"]
    iso = operator.history(world.clients, target(world), "web", since="2025-12-31T00:00:00Z")
    assert len(iso) == 3
    with pytest.raises(operator.OperatorError, match="--since"):
        operator.history(world.clients, target(world), "web", since="yesterday")
    with pytest.raises(operator.OperatorError, match="--outcome"):
        operator.history(world.clients, target(world), "web", outcomes=["bogus"])


# ---------------------------------------------------------------------------
# lead time, and what is announced
# ---------------------------------------------------------------------------
def test_lead_time_is_recorded_on_completed_and_emitted_as_a_metric(
    world: Estate, capsys: pytest.CaptureFixture[str]
) -> None:
    world.push(REPO, "v1.0.0")
    svc = world.service("web", REPO, tag="v1.0.0", tags={"autopilot:scan": "off"})
    digest = world.push(REPO, "v1.1.0")
    assert images(world, world.push_event(REPO, digest, "v1.1.0")) == "deployed"
    deployment = world.start_deployment(svc)
    world.finish_deployment(svc)
    event = world.deployment_event(svc, "COMPLETED", deployment)
    capsys.readouterr()

    result = deployment_events.handler(event, LambdaContext())

    (decision,) = result["decisions"]
    assert decision["outcome"] == "last-known-good"
    lead = decision["lead_time_seconds"]
    assert 0 < lead < 60  # the fixture's push is seconds before the event
    (recorded,) = operator.history(world.clients, target(world), "web", limit=1)
    assert recorded["lead_time_seconds"] == lead
    emitted = [json.loads(line) for line in capsys.readouterr().out.splitlines() if "_aws" in line]
    metric = next(m for m in emitted if "deploy-lead-time" in m)
    assert metric["deploy-lead-time"] in (lead, [lead])
    units = {d["Name"]: d["Unit"] for d in metric["_aws"]["CloudWatchMetrics"][0]["Metrics"]}
    assert units["deploy-lead-time"] == "Seconds"


def test_nothing_to_do_is_recorded_never_announced(world: Estate) -> None:
    world.push(REPO, "v1.2.0")
    svc = world.service("web", REPO, tag="v1.2.0", tags={"autopilot:scan": "critical"})
    digest = world.push(REPO, "v1.3.0")
    reports = [
        image_events.run(world.push_event(REPO, digest, "v1.3.0"), aws=world.clients),  # awaiting
        image_events.run(world.scan_event(REPO, digest, {}, tags=["v1.3.0"]), aws=world.clients),
        image_events.run(world.push_event(REPO, digest, "v1.3.0"), aws=world.clients),  # running
    ]
    older = world.push(REPO, "v1.1.0")
    reports.append(image_events.run(world.push_event(REPO, older, "v1.1.0"), aws=world.clients))
    world.ledger.state.quarantine(svc, "sha256:" + "c" * 64, reason="x", event_id="e")

    outcomes = [d.outcome.value for r in reports for d in r.decisions]
    assert outcomes == ["awaiting-scan", "deployed", "already-running", "awaiting-scan"]
    announced = [n["attributes"]["outcome"] for n in world.notices()]
    assert announced == ["deployed"]
    for report in reports:
        for d in report.decisions:
            assert not d.notify or d.outcome in ANNOUNCED


def test_a_paused_service_that_tracks_no_repository_is_listed_in_status(
    rx: Estate, clock: Any
) -> None:
    rx.service("feed", spread={A: 2, B: 2, C: 2})
    operator.pause(rx.clients, _rx_target(rx), "feed", actor="carol", reason="maintenance")

    (doc,) = operator.status(rx.clients, _rx_target(rx))

    assert doc["service"] == "feed"
    assert doc["repository"] is None
    assert doc["paused"]["reason"] == "maintenance"
    assert doc["running"] == {"task_definition": rx.describe("feed")["taskDefinition"]}


def test_approve_applies_the_scan_floor_image_events_applies(world: Estate) -> None:
    # Given a digest pending approval on a service tagged autopilot:scan=off, no scan yet
    svc = manual_service(world)
    digest = pending(world, "v1.3.0")
    revisions = len(world.revisions("web"))
    # When an operator approves it under the config's floor critical
    floored = operator.Target(
        table=TABLE,
        cluster_arn=CLUSTER_ARN,
        topic_arn=world.topic_arn,
        floors=Floors(min_scan="critical"),
    )
    result = operator.approve(world.clients, floored, "web", digest, actor="alice")
    # Then it waits for the scan, as image-events would, and stays pending
    assert not result.ok
    assert result.details["outcome"] == "awaiting-scan"
    assert "scan gate critical (the config's floor; the tag says off)" in result.message
    assert len(world.revisions("web")) == revisions
    (approval,) = world.ledger.approvals.list(svc)
    assert approval.status == "pending"
