"""`autopilot rollback` and the status it reads, against moto: the operator's rollback goes
through the rollback every flow uses (``flows.rollback.rollback_plan``: under the service's
lease, ECS's own rollback while the deployment is in progress (StopServiceDeployment
ROLLBACK, read from ListServiceDeployments), else or if ECS refuses it UpdateService; the
deploy record, the decision recorded and announced); quarantine only when asked; refused
clearly, with nothing changed, when there is nothing to go back to, the service is not
managed, paused, or its lease is busy. Status shows the counts and the PRIMARY
deployment's rollout as DescribeServices says them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from autopilot.domain.report import Decision, Outcome
from autopilot.handlers import deployment_events, image_events
from autopilot.store.ledger import Ledger
from botocore.exceptions import ClientError

from cli import controls as operator
from tests.estate import CLUSTER_ARN, REGISTRY, TABLE, Estate

REPO = "demo/web"


def target(world: Estate) -> operator.Target:
    return operator.Target(table=TABLE, cluster_arn=CLUSTER_ARN, topic_arn=world.topic_arn)


def deploy(world: Estate, svc: str, tag: str, *, complete: bool = True) -> tuple[str, str]:
    """Push ``tag``; image-events deploys it; ECS completes it (deployment-events records
    it as last known good) unless ``complete`` is False. (digest, revision)."""
    digest = world.push(REPO, tag)
    (decision,) = image_events.run(world.push_event(REPO, digest, tag), aws=world.clients).decisions
    assert decision.outcome is Outcome.DEPLOYED
    deployment = world.start_deployment(svc)
    if complete:
        world.finish_deployment(svc)
        event = world.deployment_event(svc, "COMPLETED", deployment)
        (done,) = deployment_events.run(event, aws=world.clients).decisions
        assert done.outcome is Outcome.LAST_KNOWN_GOOD
    return digest, world.describe(svc)["taskDefinition"]


@pytest.fixture
def web(world: Estate) -> dict[str, Any]:
    """web: v1.1.0 deployed and completed (last known good), then v1.2.0 deployed."""
    world.push(REPO, "v1.0.0")
    svc = world.service("web", REPO, tag="v1.0.0", tags={"autopilot:scan": "off"})
    good, good_td = deploy(world, svc, "v1.1.0")
    bad, bad_td = deploy(world, svc, "v1.2.0", complete=False)
    world.notices()
    return {"arn": svc, "good": good, "good_td": good_td, "bad": bad, "bad_td": bad_td}


def rollback(world: Estate, **kw: Any) -> operator.Result:
    return operator.rollback(world.clients, target(world), "web", actor="dana", **kw)


def test_rollback_goes_back_to_the_last_known_good_recorded_and_announced(
    world: Estate, web: dict[str, Any]
) -> None:
    world.reset_counts()
    result = rollback(world, reason="checkout errors")

    assert result.ok, result.message
    assert result.changed
    assert world.describe(web["arn"])["taskDefinition"] == web["good_td"]
    assert world.running_image(web["arn"]) == f"{REGISTRY}/{REPO}@{web['good']}"
    assert result.report is not None
    # v1.2.0's deployment is still in progress: ECS rolls it back itself, no UpdateService
    assert [a.api for a in result.report.actions] == ["ecs:StopServiceDeployment", "sns:Publish"]
    (stop, _publish) = result.report.actions
    assert stop.params["stopType"] == "ROLLBACK"
    assert ":service-deployment/" in stop.params["serviceDeploymentArn"]
    assert world.mutations() == {"ecs:StopServiceDeployment": 1, "sns:Publish": 1}
    assert world.calls["ecs:ListServiceDeployments"] == 1
    (decision,) = result.report.decisions
    assert decision.outcome is Outcome.ROLLED_BACK
    assert decision.reason.startswith("rolled back by dana: checkout errors; ")
    assert "back to last known good" in decision.reason
    assert "through ECS: StopServiceDeployment ROLLBACK of " in decision.reason
    # the ledger: the decision, the deploy record of the rollback, no quarantine
    (recorded,) = operator.history(world.clients, target(world), "web", limit=1)
    assert recorded["outcome"] == "rolled-back"
    assert recorded["function"] == "operator"
    assert recorded["event_id"].startswith("rollback-")
    record = world.ledger.deploys.get(web["arn"], web["good_td"])
    assert record is not None
    assert record.previous_task_definition == web["bad_td"]
    assert not world.ledger.state.is_quarantined(web["arn"], web["bad"])
    # the lease was taken and given back: the next change to the service may take it
    world.ledger.leases.acquire(web["arn"], "next", 60)
    (notice,) = world.notices()
    assert notice["attributes"]["outcome"] == "rolled-back"
    assert "rolled back by dana" in notice["message"]["text"]
    assert result.to_json()["to"]["digest"] == web["good"]


def test_quarantine_only_when_asked_and_the_digest_never_deploys_again(
    world: Estate, web: dict[str, Any]
) -> None:
    result = rollback(world, quarantine=True)

    assert result.ok, result.message
    assert result.report is not None
    assert result.report.actions[0].api == "ecs:StopServiceDeployment"
    assert world.ledger.state.is_quarantined(web["arn"], web["bad"])
    assert result.details["quarantined"] == web["bad"]
    again = image_events.run(world.push_event(REPO, web["bad"], "v1.2.0"), aws=world.clients)
    assert again.decisions[0].outcome is not Outcome.DEPLOYED
    assert world.describe(web["arn"])["taskDefinition"] == web["good_td"]


def test_rollback_to_a_digest_it_ran_before_by_its_start(
    world: Estate, web: dict[str, Any]
) -> None:
    first = world.ledger.state.last_known_good(web["arn"])
    assert first is not None
    newest, newest_td = deploy(world, web["arn"], "v1.3.0")  # now the last known good

    result = rollback(world, to=web["bad"][:19])

    assert result.ok, result.message
    assert world.describe(web["arn"])["taskDefinition"] == web["bad_td"]
    assert result.details["to"]["source"] == "a revision it deployed"
    # back to the one before, by the digest of a completed deployment
    assert rollback(world, to=web["good"]).ok
    assert world.describe(web["arn"])["taskDefinition"] == web["good_td"]
    assert newest_td != web["good_td"]
    assert newest


def test_to_a_digest_never_run_or_quarantined_is_refused_and_changes_nothing(
    world: Estate, web: dict[str, Any]
) -> None:
    never = "sha256:" + "e" * 64
    with pytest.raises(operator.OperatorError, match="records no revision of web"):
        rollback(world, to=never)
    with pytest.raises(operator.OperatorError, match="expected an image digest"):
        rollback(world, to="v1.1.0")
    world.ledger.state.quarantine(web["arn"], web["good"], reason="x", event_id="e")
    with pytest.raises(operator.OperatorError, match="quarantined"):
        rollback(world, to=web["good"])
    refused = rollback(world)  # the last known good is quarantined too
    assert not refused.ok
    assert "is quarantined" in refused.message
    assert world.describe(web["arn"])["taskDefinition"] == web["bad_td"]
    assert world.notices() == []


def test_nothing_to_roll_back_to_is_not_ok_and_changes_nothing(world: Estate) -> None:
    world.push(REPO, "v1.0.0")
    svc = world.service("web", REPO, tag="v1.0.0", tags={"autopilot:scan": "off"})
    before = world.describe(svc)["taskDefinition"]

    result = rollback(world)

    assert not result.ok
    assert "no last known good" in result.message
    assert "--to" in result.message
    assert world.describe(svc)["taskDefinition"] == before
    assert operator.history(world.clients, target(world), "web") == []


def test_already_on_the_last_known_good_is_ok_and_changes_nothing(
    world: Estate, web: dict[str, Any]
) -> None:
    assert rollback(world).changed
    again = rollback(world)
    assert again.ok
    assert not again.changed
    assert "already runs" in again.message


def test_a_busy_lease_refuses_and_changes_nothing(world: Estate, web: dict[str, Any]) -> None:
    world.ledger.leases.acquire(web["arn"], "image-events:other", 300)

    result = rollback(world)

    assert not result.ok
    assert result.details["outcome"] == "busy"
    assert "in flight" in result.message
    assert "run the rollback again" in result.message
    assert world.describe(web["arn"])["taskDefinition"] == web["bad_td"]
    assert result.report is not None
    assert result.report.retry_services == []  # no Lambda here to retry it


def test_dry_run_says_what_it_would_do_and_changes_nothing(
    world: Estate, web: dict[str, Any]
) -> None:
    result = rollback(world, dry_run=True, quarantine=True)

    assert result.ok
    assert not result.changed
    assert "dry run" in result.message
    assert result.report is not None
    assert [a.api for a in result.report.actions] == ["ecs:StopServiceDeployment", "sns:Publish"]
    assert not any(a.done for a in result.report.actions)
    assert world.describe(web["arn"])["taskDefinition"] == web["bad_td"]
    assert not world.ledger.state.is_quarantined(web["arn"], web["bad"])
    (newest,) = operator.history(world.clients, target(world), "web", limit=1)
    assert newest["outcome"] == "deployed"  # the dry run recorded nothing
    assert world.notices() == []


def test_after_the_deployment_completed_it_is_an_update_service_as_before(
    world: Estate, web: dict[str, Any]
) -> None:
    # v1.2.0's deployment completed (ECS is rolling nothing out): nothing for ECS to stop
    world.finish_deployment(web["arn"])
    world.reset_counts()

    result = rollback(world, quarantine=True)

    assert result.ok, result.message
    assert result.report is not None
    assert [a.api for a in result.report.actions] == ["ecs:UpdateService", "sns:Publish"]
    assert result.report.actions[0].params["taskDefinition"] == web["good_td"]
    assert world.mutations() == {"ecs:UpdateService": 1, "sns:Publish": 1}
    # DescribeServices shows no previous revision ECS could go back to: ECS is not asked
    assert "ecs:ListServiceDeployments" not in world.calls
    assert "StopServiceDeployment" not in result.report.decisions[0].reason
    assert world.describe(web["arn"])["taskDefinition"] == web["good_td"]
    assert world.ledger.state.is_quarantined(web["arn"], web["bad"])


def test_a_stop_ecs_refuses_falls_back_to_update_service_with_the_reason(
    world: Estate, web: dict[str, Any]
) -> None:
    # Given ECS completes v1.2.0's deployment just after autopilot listed it in progress
    def completes(**_: Any) -> None:
        world.finish_deployment(web["arn"])

    world.ecs.meta.events.register("after-call.ecs.ListServiceDeployments", completes)
    world.reset_counts()

    # When the operator rolls back: ECS refuses the stop (ConflictException: not in progress)
    result = rollback(world, quarantine=True)

    # Then the rollback is an UpdateService to the last known good, saying why
    assert result.ok, result.message
    assert result.report is not None
    apis = [a.api for a in result.report.actions]
    assert apis == ["ecs:StopServiceDeployment", "ecs:UpdateService", "sns:Publish"]
    stop, update, _publish = result.report.actions
    assert not stop.done
    assert stop.error is not None
    assert stop.error.startswith("ConflictException")
    assert update.done
    assert update.params["taskDefinition"] == web["good_td"]
    (decision,) = result.report.decisions
    assert decision.outcome is Outcome.ROLLED_BACK
    assert decision.reason.endswith(
        "; UpdateService (ecs:StopServiceDeployment refused: ConflictException)"
    )
    assert "back to last known good" in decision.reason
    assert world.describe(web["arn"])["taskDefinition"] == web["good_td"]
    assert world.ledger.state.is_quarantined(web["arn"], web["bad"])
    record = world.ledger.deploys.get(web["arn"], web["good_td"])
    assert record is not None
    assert record.previous_task_definition == web["bad_td"]


def test_a_failed_list_of_deployments_never_holds_the_rollback_back(
    world: Estate, web: dict[str, Any]
) -> None:
    def denied(**_: Any) -> None:
        raise ClientError(
            {"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "ListServiceDeployments"
        )

    world.ecs.meta.events.register("before-call.ecs.ListServiceDeployments", denied)

    result = rollback(world, quarantine=True)

    assert result.ok, result.message
    assert result.report is not None
    assert [a.api for a in result.report.actions] == ["ecs:UpdateService", "sns:Publish"]
    assert result.report.decisions[0].reason.endswith(
        "; UpdateService: ecs:ListServiceDeployments failed (AccessDeniedException)"
    )
    assert world.describe(web["arn"])["taskDefinition"] == web["good_td"]
    assert world.ledger.state.is_quarantined(web["arn"], web["bad"])


def test_a_throttled_stop_is_not_a_refusal_and_changes_nothing(
    world: Estate, web: dict[str, Any]
) -> None:
    def throttled(**_: Any) -> None:
        raise ClientError(
            {"Error": {"Code": "ThrottlingException", "Message": "slow down"}},
            "StopServiceDeployment",
        )

    world.ecs.meta.events.register("before-call.ecs.StopServiceDeployment", throttled)
    world.reset_counts()

    result = rollback(world)

    # no UpdateService over a deployment ECS may be stopping: left for the operator to retry
    assert not result.ok
    assert result.report is not None
    assert [a.api for a in result.report.actions] == ["ecs:StopServiceDeployment"]
    assert "ecs:UpdateService" not in world.calls
    assert "nothing changed: run the rollback again" in result.message
    assert world.describe(web["arn"])["taskDefinition"] == web["bad_td"]


def test_paused_or_unmanaged_services_are_refused(world: Estate, web: dict[str, Any]) -> None:
    operator.pause(world.clients, target(world), "web", actor="carol")
    paused = rollback(world)
    assert not paused.ok
    assert "paused by carol" in paused.message
    assert world.describe(web["arn"])["taskDefinition"] == web["bad_td"]

    world.service("plain", "demo/other", tag="1", track=False)
    with pytest.raises(operator.OperatorError, match="tracks no repository"):
        operator.rollback(world.clients, target(world), "plain", actor="dana")
    with pytest.raises(operator.OperatorError, match="no active service"):
        operator.rollback(world.clients, target(world), "nope", actor="dana")
    with pytest.raises(operator.OperatorError, match="not a managed cluster"):
        operator.rollback(world.clients, target(world), "other/web", actor="dana")


# ---------------------------------------------------------------------------
# status
# ---------------------------------------------------------------------------
def test_status_shows_counts_and_the_primary_rollout(world: Estate, web: dict[str, Any]) -> None:
    (doc,) = operator.status(world.clients, target(world))

    described = world.describe(web["arn"])
    assert doc["counts"] == {
        "desired": described["desiredCount"],
        "running": described["runningCount"],
        "pending": described["pendingCount"],
    }
    primary = next(d for d in described["deployments"] if d["status"] == "PRIMARY")
    assert doc["deployment"]["id"] == primary["id"]
    assert doc["deployment"]["rollout_state"] == "IN_PROGRESS"  # v1.2.0's, not completed
    assert doc["deployment"]["task_definition"] == web["bad_td"]
    assert doc["deployments"] == len(described["deployments"])
    assert doc["last_known_good"]["digest"] == web["good"]


def test_status_last_decision_is_the_newest_within_one_second(
    world: Estate, web: dict[str, Any]
) -> None:
    second = datetime.now(UTC).replace(microsecond=0)
    now = [second.timestamp()]
    ledger = Ledger(world.clients.dynamodb, TABLE, clock=lambda: now[0])
    for n, (event_id, outcome) in enumerate(
        [("zz-first", Outcome.AWAITING_SCAN), ("aa-second", Outcome.PENDING_APPROVAL)]
    ):
        now[0] = second.timestamp() + 0.1 * (n + 1)
        ledger.decisions.record(
            Decision(service=web["arn"], outcome=outcome, reason=f"order {n}"),
            function="image-events",
            event_id=event_id,
            event_time=second,
        )

    (doc,) = operator.status(world.clients, target(world))

    assert doc["last_decision"]["outcome"] == "pending-approval"
    assert doc["last_decision"]["event_id"] == "aa-second"
