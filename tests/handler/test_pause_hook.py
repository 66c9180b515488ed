"""Approval at autopilot's PAUSE hook (``autopilot:approval=manual-traffic``) against moto
with the sandbox's service-deployment answers: the hook's state changes recorded by
deployment-events on what DescribeServiceDeployments says at decision time, ``autopilot
approve`` / ``reject`` answering the waiting hook (ContinueServiceDeployment), and the
refusal on rolling.

The deployment's pause hook is written where the sandbox's DescribeServiceDeployments and
ContinueServiceDeployment read it (``sandbox.moto_adjustments.pause_hooks`` and
``deployment_details``), as ECS has it when it sends the event."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from autopilot.handlers import deployment_events, image_events

from cli import controls as operator
from cli.main import _stage
from sandbox import moto_adjustments as adj
from tests.estate import CLUSTER_ARN, TABLE, Estate

REPO = "demo/web"
SAMPLE = Path(__file__).parent.parent.parent / "events" / "ecs-hook-pause-awaiting-action.json"
HOOK_ID = "ecs-pause-e7tK9G_WRJqNF_EOMjztDXfKenlJuEUVjsNStf4WLKw"


def target(world: Estate) -> operator.Target:
    return operator.Target(table=TABLE, cluster_arn=CLUSTER_ARN, topic_arn=world.topic_arn)


@pytest.fixture
def paused(world: Estate) -> tuple[str, str]:
    """A manual-traffic service whose new deployment waits at a pause hook: (service ARN,
    service deployment ARN)."""
    world.push(REPO, "v1.0.0")
    svc = world.service(
        "web",
        REPO,
        tag="v1.0.0",
        tags={"autopilot:scan": "off", "autopilot:approval": "manual-traffic"},
    )
    deployment_id = world.start_deployment(svc)
    ms = world.moto_service(svc)
    arn = next(
        d["serviceDeploymentArn"]
        for d in adj.service_deployments(ms)
        if d["serviceDeploymentArn"].endswith(deployment_id.rsplit("/", 1)[-1])
    )
    set_hook(world, svc, arn, "AWAITING_ACTION")
    world.notices()
    return svc, arn


def set_hook(world: Estate, svc: str, arn: str, status: str) -> None:
    """ECS's view of the deployment's pause hook: ``status``."""
    ms = world.moto_service(svc)
    adj.pause_hooks(ms)[HOOK_ID] = {"arn": arn, "status": status, "requested": None}
    adj.deployment_details(ms)[arn.rsplit("/", 1)[-1]] = {
        "lifecycleStage": "PRE_PRODUCTION_TRAFFIC_SHIFT",
        "lifecycleHookDetails": [
            {
                "hookId": HOOK_ID,
                "targetType": "PAUSE",
                "status": status,
                "timeoutAction": "ROLLBACK",
                "expiresAt": "2026-01-02T00:00:00Z",
            }
        ],
    }


def hook_event(world: Estate, svc: str, arn: str, name: str, event_id: str = "") -> dict[str, Any]:
    """ECS's sample ``ECS Hook State Change``, for this estate's service and deployment."""
    event: dict[str, Any] = copy.deepcopy(json.loads(SAMPLE.read_text()))
    cluster = svc.replace(":service/", ":cluster/").rsplit("/", 1)[0]
    event.update(id=event_id or f"hook-{name}", account=svc.split(":")[4], region=svc.split(":")[3])
    event["resources"] = [arn]
    event["detail"].update(
        eventName=name,
        lifecycleStage="PRE_PRODUCTION_TRAFFIC_SHIFT",
        clusterArn=cluster,
        serviceArn=svc,
        serviceDeploymentArn=arn,
    )
    return event


def handled(world: Estate, event: dict[str, Any]) -> Any:
    (decision,) = deployment_events.run(event, aws=world.clients).decisions
    return decision


def test_awaiting_action_is_recorded_and_announced_once(
    world: Estate, paused: tuple[str, str]
) -> None:
    svc, arn = paused
    decision = handled(world, hook_event(world, svc, arn, "HOOK_AWAITING_ACTION"))
    assert decision.outcome.value == "awaiting-approval"
    assert "autopilot approve web" in decision.reason
    (notice,) = world.notices()
    assert notice["attributes"]["outcome"] == "awaiting-approval"
    assert "autopilot approve web" in json.dumps(notice["message"])
    # redelivered, and sent again by ECS under another event id: no second notice
    assert handled(world, hook_event(world, svc, arn, "HOOK_AWAITING_ACTION")).outcome.value == (
        "duplicate"
    )
    again = hook_event(world, svc, arn, "HOOK_AWAITING_ACTION", event_id="hook-again")
    assert handled(world, again).outcome.value == "duplicate"
    assert world.notices() == []
    assert [d["outcome"] for d in world.ledger.decisions.list(svc)] == ["awaiting-approval"]


def test_the_decision_rests_on_ecs_not_on_the_event(world: Estate, paused: tuple[str, str]) -> None:
    svc, arn = paused
    set_hook(world, svc, arn, "SUCCEEDED")  # continued before the event was handled
    decision = handled(world, hook_event(world, svc, arn, "HOOK_AWAITING_ACTION"))
    assert decision.outcome.value == "approved"
    assert world.notices() == []


def test_a_timeout_is_a_reject_recorded_and_announced(
    world: Estate, paused: tuple[str, str]
) -> None:
    svc, arn = paused
    set_hook(world, svc, arn, "TIMED_OUT")
    decision = handled(world, hook_event(world, svc, arn, "HOOK_TIMED_OUT"))
    assert decision.outcome.value == "expired"
    assert "counted as a reject" in decision.reason
    (notice,) = world.notices()
    assert notice["attributes"]["outcome"] == "expired"


def test_approve_continues_the_waiting_hook_read_from_ecs(
    world: Estate, paused: tuple[str, str]
) -> None:
    svc, arn = paused
    result = operator.approve(world.clients, target(world), "web", None, actor="alice")
    assert result.ok
    assert result.changed
    assert result.details == {
        "serviceDeploymentArn": arn,
        "hookId": HOOK_ID,
        "hookAction": "CONTINUE",
    }
    assert adj.pause_hooks(world.moto_service(svc))[HOOK_ID]["requested"] == "CONTINUE"
    assert world.ledger.decisions.list(svc)[-1]["outcome"] == "approved"
    (notice,) = world.notices()
    assert notice["attributes"]["outcome"] == "approved"


def test_reject_rolls_the_waiting_hook_back(world: Estate, paused: tuple[str, str]) -> None:
    svc, _arn = paused
    result = operator.reject(
        world.clients, target(world), "web", None, actor="bob", reason="errors on test traffic"
    )
    assert result.ok
    assert result.details["hookAction"] == "ROLLBACK"
    assert adj.pause_hooks(world.moto_service(svc))[HOOK_ID]["requested"] == "ROLLBACK"
    assert "errors on test traffic" in result.message


def test_nothing_waiting_and_nothing_pending_is_a_clear_error(
    world: Estate, paused: tuple[str, str]
) -> None:
    svc, arn = paused
    set_hook(world, svc, arn, "SUCCEEDED")
    with pytest.raises(operator.OperatorError, match="no deployment waits at a pause hook"):
        operator.approve(world.clients, target(world), "web", None, actor="alice")
    with pytest.raises(operator.OperatorError, match="nothing to reject on web"):
        operator.reject(world.clients, target(world), "web", None, actor="alice")


def test_manual_traffic_on_rolling_is_refused_and_nothing_deployed(world: Estate) -> None:
    world.push(REPO, "v1.0.0")
    svc = world.service(
        "web",
        REPO,
        tag="v1.0.0",
        tags={"autopilot:scan": "off", "autopilot:approval": "manual-traffic"},
    )
    before = world.describe(svc)["taskDefinition"]
    digest = world.push(REPO, "v1.1.0")
    (decision,) = image_events.run(
        world.push_event(REPO, digest, "v1.1.0"), aws=world.clients
    ).decisions
    assert decision.outcome.value == "rejected"
    assert "canary, linear or blue-green" in decision.reason
    assert world.describe(svc)["taskDefinition"] == before


def test_status_shows_ecs_records_and_the_wait_in_bounded_calls(
    world: Estate, paused: tuple[str, str]
) -> None:
    _svc, arn = paused
    world.reset_counts()
    (row,) = operator.status(world.clients, target(world))
    record = row["service_deployment"]
    assert record["arn"] == arn
    assert record["status"] == "IN_PROGRESS"
    assert record["lifecycle_stage"] == "PRE_PRODUCTION_TRAFFIC_SHIFT"
    assert set(record["target_counts"]) == {"requested", "running", "pending"}
    assert record["waiting_for_approval"]["hook_id"] == HOOK_ID
    assert record["waiting_for_approval"]["stage"] == "PRE_PRODUCTION_TRAFFIC_SHIFT"
    calls = world.aws_calls()
    # ECS's records: one ListServiceDeployments per service, one DescribeServiceDeployments
    assert calls.get("ecs:ListServiceDeployments") == 1, calls
    assert calls.get("ecs:DescribeServiceDeployments") == 1, calls


def test_the_status_table_says_where_it_waits() -> None:
    waiting = {"waiting_for_approval": {"stage": "PRE_PRODUCTION_TRAFFIC_SHIFT"}}
    assert _stage(waiting) == "waiting for approval at PRE_PRODUCTION_TRAFFIC_SHIFT"
    assert _stage({"lifecycle_stage": "BAKE_TIME", "status": "IN_PROGRESS"}) == "BAKE_TIME"
    assert _stage(None) == "-"
