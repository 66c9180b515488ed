"""deployment-events against moto: last known good, quarantine, rollback, and the loop
back into image-events (a quarantined digest never deploys again; a newer one does)."""

from __future__ import annotations

from typing import Any

import pytest
from autopilot.errors import InvalidEvent
from autopilot.handlers import deployment_events, image_events
from botocore.exceptions import ClientError

from tests.estate import REGISTRY, Estate

REPO = "demo/web"
BREAKER = "ECS deployment circuit breaker: task failed to start."


def images(world: Estate, event: dict[str, Any]) -> str:
    (decision,) = image_events.run(event, aws=world.clients).decisions
    return decision.outcome.value


def deployments(world: Estate, event: dict[str, Any]) -> dict[str, Any]:
    return deployment_events.run(event, aws=world.clients).to_json()


def outcome(report: dict[str, Any]) -> str:
    (decision,) = report["decisions"]
    return str(decision["outcome"])


def deployed_and_completed(world: Estate, tag: str) -> tuple[str, str]:
    """Push ``tag``, deploy it, let ECS complete the deployment; returns (digest, td arn)."""
    svc = world.describe_web()
    digest = world.push(REPO, tag)
    assert images(world, world.push_event(REPO, digest, tag)) == "deployed"
    deployment = world.start_deployment(svc)
    world.finish_deployment(svc)
    report = deployments(world, world.deployment_event(svc, "COMPLETED", deployment))
    assert outcome(report) == "last-known-good"
    return digest, world.describe(svc)["taskDefinition"]


@pytest.fixture
def svc(world: Estate) -> str:
    world.push(REPO, "v1.0.0")
    arn = world.service("web", REPO, tag="v1.0.0", tags={"autopilot:scan": "off"})
    world.describe_web = lambda: arn  # type: ignore[attr-defined]
    return arn


def test_completed_records_last_known_good(world: Estate, svc: str) -> None:
    digest, td = deployed_and_completed(world, "v1.1.0")
    lkg = world.ledger.state.last_known_good(svc)
    assert lkg is not None
    assert (lkg.task_definition, lkg.digest) == (td, digest)
    assert lkg.image == f"{REGISTRY}/{REPO}@{digest}"
    assert world.notices()[-1]["attributes"]["outcome"] == "deployed"  # LKG itself is quiet


def test_failed_rolls_back_to_last_known_good_and_quarantines(world: Estate, svc: str) -> None:
    # Given v1.1.0 known good, and v1.2.0 deployed
    _good, good_td = deployed_and_completed(world, "v1.1.0")
    bad = world.push(REPO, "v1.2.0")
    assert images(world, world.push_event(REPO, bad, "v1.2.0")) == "deployed"
    failing = world.start_deployment(svc)
    world.notices()

    # When the deployment fails (no ECS rollback configured)
    report = deployments(world, world.deployment_event(svc, "FAILED", failing, BREAKER))

    # Then the service goes back to the last known good revision, the digest is quarantined
    assert outcome(report) == "rolled-back"
    assert world.describe(svc)["taskDefinition"] == good_td
    assert report["actions"][0]["api"] == "ecs:UpdateService"
    assert report["actions"][0]["params"]["taskDefinition"] == good_td
    assert world.ledger.state.is_quarantined(svc, bad)
    (notice,) = world.notices()
    assert notice["attributes"] == {"outcome": "rolled-back", "service": svc, "severity": "error"}

    # A re-delivered push of the bad digest does nothing, under any event id
    assert images(world, world.push_event(REPO, bad, "v1.2.0")) == "quarantined"
    assert world.describe(svc)["taskDefinition"] == good_td
    # A newer push still deploys
    newer = world.push(REPO, "v1.2.1")
    assert images(world, world.push_event(REPO, newer, "v1.2.1")) == "deployed"
    assert world.running_image(svc).endswith(newer)


def test_failed_without_last_known_good_goes_back_to_the_replaced_revision(
    world: Estate, svc: str
) -> None:
    original = world.describe(svc)["taskDefinition"]
    bad = world.push(REPO, "v1.2.0")
    assert images(world, world.push_event(REPO, bad, "v1.2.0")) == "deployed"
    failing = world.start_deployment(svc)

    report = deployments(world, world.deployment_event(svc, "FAILED", failing, BREAKER))

    assert outcome(report) == "rolled-back"
    assert world.describe(svc)["taskDefinition"] == original
    assert "the revision it replaced" in report["decisions"][0]["reason"]


def test_failed_when_ecs_rolls_back_itself_only_quarantines(world: Estate, svc: str) -> None:
    deployed_and_completed(world, "v1.1.0")
    bad = world.push(REPO, "v1.2.0")
    images(world, world.push_event(REPO, bad, "v1.2.0"))
    bad_td = world.describe(svc)["taskDefinition"]
    failing = world.start_deployment(svc, rollback=True)

    report = deployments(world, world.deployment_event(svc, "FAILED", failing, BREAKER))

    assert outcome(report) == "quarantined"
    assert report["actions"][0]["api"] == "sns:Publish"
    assert world.calls["ecs:UpdateService"] == 1  # only the deploy, no rollback of ours
    assert world.describe(svc)["taskDefinition"] == bad_td
    assert world.ledger.state.is_quarantined(svc, bad)


def test_failed_when_the_deployment_alarms_autopilot_set_roll_back_only_quarantines(
    world: Estate,
) -> None:
    # Given a service whose deploys set its deployment alarms (autopilot:alarms), rollback on
    world.alarm("web-5xx")
    world.push(REPO, "v1.0.0")
    svc = world.service(
        "web", REPO, tag="v1.0.0", tags={"autopilot:scan": "off", "autopilot:alarms": "web-5xx"}
    )
    bad = world.push(REPO, "v1.2.0")
    assert images(world, world.push_event(REPO, bad, "v1.2.0")) == "deployed"
    bad_td = world.describe(svc)["taskDefinition"]
    failing = world.start_deployment(svc)
    # When ECS fails the deployment (its event does not say the alarm did it)
    reason = f"ECS deployment {failing} failed."
    report = deployments(world, world.deployment_event(svc, "FAILED", failing, reason))
    # Then ECS's own rollback is left to run: the digest is quarantined, nothing moved by us
    assert outcome(report) == "quarantined"
    assert "its deployment alarms roll back" in report["decisions"][0]["reason"]
    assert world.calls["ecs:UpdateService"] == 1  # only the deploy
    assert world.describe(svc)["taskDefinition"] == bad_td
    assert world.ledger.state.is_quarantined(svc, bad)


def test_failed_deployment_unknown_to_ecs_and_ledger_is_announced_and_changes_nothing(
    world: Estate, svc: str
) -> None:
    _good, _good_td = deployed_and_completed(world, "v1.1.0")
    bad = world.push(REPO, "v1.2.0")
    report = image_events.run(world.push_event(REPO, bad, "v1.2.0"), aws=world.clients)
    bad_td = report.decisions[0].task_definition
    assert bad_td is not None
    # a deployment id neither ECS nor the ledger knows: no guessing, a notice
    world.notices()
    event = world.deployment_event(svc, "FAILED", "ecs-svc/unknown", BREAKER)
    out = deployments(world, event)
    assert outcome(out) == "failed"
    assert world.describe(svc)["taskDefinition"] == bad_td
    assert [n["attributes"]["outcome"] for n in world.notices()] == ["failed"]


def test_rolling_back_in_progress_is_recorded_and_not_acted_on(world: Estate, svc: str) -> None:
    reason = "ECS deployment circuit breaker: rolling back to deploymentId ecs-svc/1."
    report = deployments(world, world.deployment_event(svc, "IN_PROGRESS", "ecs-svc/2", reason))
    assert outcome(report) == "ignored"
    assert "rolling back" in report["decisions"][0]["reason"]
    assert world.aws_calls() == {}
    assert world.ledger.decisions.list(svc)[0]["outcome"] == "ignored"


def test_duplicate_failed_event_rolls_back_once(world: Estate, svc: str) -> None:
    deployed_and_completed(world, "v1.1.0")
    bad = world.push(REPO, "v1.2.0")
    images(world, world.push_event(REPO, bad, "v1.2.0"))
    failing = world.start_deployment(svc)
    event = world.deployment_event(svc, "FAILED", failing, BREAKER)
    world.calls.clear()
    outcomes = [outcome(deployments(world, event)) for _ in range(3)]
    assert outcomes == ["rolled-back", "duplicate", "duplicate"]
    assert world.calls["ecs:UpdateService"] == 1


def test_dry_run_plans_the_rollback_and_changes_nothing(world: Estate, svc: str) -> None:
    _good, good_td = deployed_and_completed(world, "v1.1.0")
    bad = world.push(REPO, "v1.2.0")
    images(world, world.push_event(REPO, bad, "v1.2.0"))
    bad_td = world.describe(svc)["taskDefinition"]
    failing = world.start_deployment(svc)
    world.calls.clear()

    report = deployment_events.run(
        world.deployment_event(svc, "FAILED", failing, BREAKER), dry_run=True, aws=world.clients
    ).to_json()

    assert outcome(report) == "rolled-back"
    assert report["actions"][0]["params"]["taskDefinition"] == good_td
    assert not any(a["done"] for a in report["actions"])
    assert world.describe(svc)["taskDefinition"] == bad_td
    assert not world.ledger.state.is_quarantined(svc, bad)
    assert "ecs:UpdateService" not in world.calls


def test_untracked_service_is_ignored(world: Estate) -> None:
    world.push(REPO, "v1.0.0")
    other = world.service("other", REPO, tag="v1.0.0", track=False)
    report = deployments(world, world.deployment_event(other, "FAILED", "ecs-svc/1", BREAKER))
    assert outcome(report) == "ignored"


def test_handler_entry_and_invalid_input(
    world: Estate, svc: str, context: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(deployment_events, "get_clients", lambda: world.clients)
    event = world.deployment_event(svc, "IN_PROGRESS", "ecs-svc/2")
    result = deployment_events.handler(event, context)
    assert result["function"] == "deployment-events"
    assert result["decisions"][0]["outcome"] == "ignored"
    bad = dict(event, resources=["arn:aws:ecs:us-east-1:123456789012:cluster/x"])
    with pytest.raises(InvalidEvent):
        deployment_events.handler(bad, context)


def test_failed_deployment_no_longer_listed_by_ecs_is_found_through_the_deploy_record(
    world: Estate, svc: str
) -> None:
    _good, good_td = deployed_and_completed(world, "v1.1.0")
    bad = world.push(REPO, "v1.2.0")
    report = image_events.run(world.push_event(REPO, bad, "v1.2.0"), aws=world.clients)
    bad_td = report.decisions[0].task_definition
    assert bad_td is not None
    # (moto's UpdateService starts no deployment: record the id ECS would have returned)
    record = world.ledger.deploys.get(svc, bad_td)
    assert record is not None
    world.ledger.deploys.record(svc, record._replace(deployment_id="ecs-svc/gone"))

    out = deployments(world, world.deployment_event(svc, "FAILED", "ecs-svc/gone", BREAKER))

    assert outcome(out) == "rolled-back"
    assert out["decisions"][0]["digest"] == bad
    assert world.describe(svc)["taskDefinition"] == good_td
    assert world.ledger.state.is_quarantined(svc, bad)


def _status(world: Estate, task_definition: str) -> str:
    return str(world.backend.describe_task_definition(task_definition).status)


def _refuse_updates_to_inactive_revisions(world: Estate) -> None:
    """ECS refuses UpdateService to an INACTIVE (deregistered) revision; moto does not."""

    def refuse(params: dict[str, Any], **_: Any) -> None:
        td = params.get("taskDefinition")
        if td and _status(world, td) == "INACTIVE":
            raise ClientError(
                {
                    "Error": {
                        "Code": "InvalidParameterException",
                        "Message": "TaskDefinition is inactive",
                    }
                },
                "UpdateService",
            )

    world.ecs.meta.events.register("before-parameter-build.ecs.UpdateService", refuse)


def test_a_last_known_good_still_recorded_as_registered_survives_the_next_clean_up(
    world: Estate, svc: str
) -> None:
    # Given v1.1.0 deployed, its "deployed" record lost after UpdateService moved the service
    # (recorded as registered, the retry not come yet), and its deployment completed
    _refuse_updates_to_inactive_revisions(world)
    good = world.push(REPO, "v1.1.0")
    lost: list[int] = []

    def lose_the_deployed_record(params: dict[str, Any], **_: Any) -> None:
        if not lost and params["Item"].get("state") == {"S": "deployed"}:
            lost.append(1)
            raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "x"}}, "PutItem")

    world.dynamodb.meta.events.register(
        "before-parameter-build.dynamodb.PutItem", lose_the_deployed_record
    )
    first = image_events.run(world.push_event(REPO, good, "v1.1.0"), aws=world.clients)
    assert first.retry_services == [svc]
    good_td = world.describe(svc)["taskDefinition"]
    assert [r.task_definition for r in world.ledger.deploys.list_registered(svc)] == [good_td]
    deployment = world.start_deployment(svc)
    world.finish_deployment(svc)
    completed = deployments(world, world.deployment_event(svc, "COMPLETED", deployment))
    assert outcome(completed) == "last-known-good"

    # When v1.2.0 deploys over it (the clean-up sees v1.1.0's revision as never used)
    bad = world.push(REPO, "v1.2.0")
    pushed = image_events.run(world.push_event(REPO, bad, "v1.2.0"), aws=world.clients)

    # Then the last known good (the revision the deploy replaced) is still ACTIVE
    assert pushed.outcomes() == {svc: "deployed"}
    assert "ecs:DeregisterTaskDefinition" not in [a.api for a in pushed.actions]
    assert _status(world, good_td) == "ACTIVE"
    # and when v1.2.0's deployment fails, the rollback to it works
    failing = world.start_deployment(svc)
    rolled = deployments(world, world.deployment_event(svc, "FAILED", failing, BREAKER))
    assert outcome(rolled) == "rolled-back"
    assert world.describe(svc)["taskDefinition"] == good_td
    assert world.running_image(svc).endswith(good)
