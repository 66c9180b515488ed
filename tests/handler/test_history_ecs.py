"""``autopilot history`` with ECS's service deployments beside the ledger's decisions,
against moto with the sandbox's ListServiceDeployments / DescribeServiceDeployments /
DescribeServiceRevisions: rows interleaved by time, ECS's marked ``"source": "ecs"`` and
``ecs:<STATE>``, ``--since`` / ``--limit`` / ``--outcome`` / ``--source`` over both, paging
in bounded calls, and the ledger's rows alone (with one warning) when ECS will not say.

What ECS tells of a deployment beyond moto's ``deployments`` (its status, rollback, alarms,
creation time) is written where the sandbox's answers read it
(``sandbox.moto_adjustments.deployment_details``), as the simulator does."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from autopilot.domain.report import Decision, Outcome
from botocore.awsrequest import AWSResponse

from cli import controls as operator
from sandbox import moto_adjustments as adj
from tests.estate import CLUSTER, CLUSTER_ARN, TABLE, Estate

REPO = "demo/web"
T0 = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


def target(world: Estate) -> operator.Target:
    return operator.Target(table=TABLE, cluster_arn=CLUSTER_ARN, topic_arn=world.topic_arn)


def tell(world: Estate, svc: str, deployment_id: str, **fields: Any) -> None:
    """What ECS says of one of ``svc``'s deployments (the sandbox's details)."""
    adj.deployment_details(world.moto_service(svc)).setdefault(
        adj.short_id(deployment_id), {}
    ).update(fields)


def decide(world: Estate, svc: str, outcome: Outcome, at: datetime, event_id: str) -> None:
    world.ledger.decisions.record(
        Decision(service=svc, outcome=outcome, reason=f"{outcome.value} at {at:%H:%M}"),
        function="deployment-events",
        event_id=event_id,
        event_time=at,
    )


@pytest.fixture
def story(world: Estate) -> dict[str, str]:
    """``web``: its first deployment (10:00, SUCCESSFUL), a deploy decided at 10:05, ECS's
    canary of it (10:06) rolled back by its alarm ``web-5xx``, the ledger's rollback decided
    at 10:20. Returns the service and both deployments' ids."""
    world.push(REPO, "v1.0.0")
    svc = world.service("web", REPO, tag="v1.0.0", tags={"autopilot:scan": "off"})
    first = str(world.moto_service(svc).deployments[0]["id"])
    world.finish_deployment(svc)
    tell(world, svc, first, _created=T0)
    canary = world.start_deployment(svc)
    tell(
        world,
        svc,
        canary,
        _created=T0 + timedelta(minutes=6),
        _brief={
            "status": "ROLLBACK_SUCCESSFUL",
            "statusReason": "Service deployment rolled back because of alarm web-5xx.",
        },
        lifecycleStage="BAKE_TIME",
        deploymentConfiguration={"strategy": "CANARY"},
        rollback={
            "reason": "Service deployment rolled back because of alarm web-5xx.",
            "startedAt": T0 + timedelta(minutes=15),
            "serviceRevisionArn": adj.revision_arn(world.moto_service(svc), first),
        },
        alarms={
            "status": "TRIGGERED",
            "alarmNames": ["web-5xx", "web-unhealthy"],
            "triggeredAlarmNames": ["web-5xx"],
        },
    )
    decide(world, svc, Outcome.DEPLOYED, T0 + timedelta(minutes=5), "ev-deploy")
    decide(world, svc, Outcome.ROLLED_BACK, T0 + timedelta(minutes=20), "ev-rollback")
    world.reset_counts()
    return {"service": svc, "first": first, "canary": canary}


def test_ecs_rows_interleave_with_the_ledger_in_bounded_calls(
    world: Estate, story: dict[str, str]
) -> None:
    rows = operator.history(world.clients, target(world), "web", source="all")
    assert [r["outcome"] for r in rows] == [
        "rolled-back",
        "ecs:ROLLBACK_SUCCESSFUL",
        "deployed",
        "ecs:SUCCESSFUL",
    ]
    assert [r["source"] for r in rows] == ["ledger", "ecs", "ledger", "ecs"]
    canary = rows[1]
    record = canary["ecs_deployment"]
    assert canary["event_id"] == record["arn"]
    assert record["arn"].endswith("/" + adj.short_id(story["canary"]))
    assert record["status"] == "ROLLBACK_SUCCESSFUL"
    assert record["strategy"] == "CANARY"
    assert record["lifecycle_stage"] == "BAKE_TIME"
    assert record["created_at"] == "2026-12-01T10:06:00Z"
    assert record["rollback"]["reason"].endswith("alarm web-5xx.")
    assert record["rollback"]["service_revision_arn"].endswith(adj.short_id(story["first"]))
    assert record["alarms"] == {"names": ["web-5xx", "web-unhealthy"], "triggered": ["web-5xx"]}
    assert set(record["target_counts"]) == {"requested", "running", "pending"}
    assert record["target_revision"]["task_definition"]
    assert "CANARY at BAKE_TIME" in canary["reason"]
    assert "alarms triggered: web-5xx" in canary["reason"]
    calls = world.aws_calls()
    # 1 ListServiceDeployments (2 deployments, one page), 1 DescribeServiceDeployments,
    # 1 DescribeServiceRevisions (the revisions both name)
    assert calls.get("ecs:ListServiceDeployments") == 1, calls
    assert calls.get("ecs:DescribeServiceDeployments") == 1, calls
    assert calls.get("ecs:DescribeServiceRevisions") == 1, calls


def test_the_ledger_alone_is_what_it_always_was(world: Estate, story: dict[str, str]) -> None:
    rows = operator.history(world.clients, target(world), "web")
    assert [r["outcome"] for r in rows] == ["rolled-back", "deployed"]
    assert all("source" not in r for r in rows)
    assert not any(k.startswith("ecs:") for k in world.aws_calls())
    only_ecs = operator.history(world.clients, target(world), "web", source="ecs")
    assert [r["outcome"] for r in only_ecs] == ["ecs:ROLLBACK_SUCCESSFUL", "ecs:SUCCESSFUL"]


def test_outcome_names_ledger_outcomes_and_ecs_states(world: Estate, story: dict[str, str]) -> None:
    def outcomes(*names: str) -> list[str]:
        rows = operator.history(
            world.clients, target(world), "web", outcomes=list(names), source="all"
        )
        return [r["outcome"] for r in rows]

    world.reset_counts()
    assert outcomes("rolled-back") == ["rolled-back"]
    assert not any(k.startswith("ecs:") for k in world.aws_calls())  # ECS not asked
    assert outcomes("ecs:ROLLBACK_SUCCESSFUL") == ["ecs:ROLLBACK_SUCCESSFUL"]
    assert outcomes("rolled-back", "ecs:rollback_successful") == [
        "rolled-back",
        "ecs:ROLLBACK_SUCCESSFUL",
    ]
    with pytest.raises(operator.OperatorError, match="unknown ecs:BOGUS"):
        outcomes("ecs:bogus")
    with pytest.raises(operator.OperatorError, match="--source"):
        operator.history(world.clients, target(world), "web", source="both")


def test_since_and_limit_bound_both(world: Estate, story: dict[str, str]) -> None:
    rows = operator.history(
        world.clients, target(world), "web", since="2026-12-01T10:04:00Z", limit=None, source="all"
    )
    assert [r["outcome"] for r in rows] == ["rolled-back", "ecs:ROLLBACK_SUCCESSFUL", "deployed"]
    newest = operator.history(world.clients, target(world), "web", limit=2, source="all")
    assert [r["outcome"] for r in newest] == ["rolled-back", "ecs:ROLLBACK_SUCCESSFUL"]


def test_many_deployments_page_by_100_and_describe_by_20(world: Estate) -> None:
    world.push(REPO, "v1.0.0")
    svc = world.service("web", REPO, tag="v1.0.0", tags={"autopilot:scan": "off"})
    ms = world.moto_service(svc)
    for n in range(130):
        dep = world.start_deployment(svc)
        tell(world, svc, dep, _created=T0 + timedelta(minutes=n))
    ms.deployments = ms.deployments[:140]
    world.reset_counts()
    rows = operator.history(
        world.clients, target(world), "web", since="2026-12-01T09:00:00Z", limit=None, source="ecs"
    )
    assert len(rows) == len(ms.deployments)
    times = [r["event_time"] for r in rows]
    assert times == sorted(times, reverse=True)
    calls = world.aws_calls()
    assert calls.get("ecs:ListServiceDeployments") == 2, calls  # 100 + the rest
    assert calls.get("ecs:DescribeServiceDeployments") == -(-len(rows) // 20), calls


def deny(world: Estate, operation: str, code: str) -> None:
    """ECS answers ``operation`` with the error ``code`` (as after botocore's retries)."""

    def refuse(**_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        response = AWSResponse("https://ecs", 400, {}, None)
        return response, {"Error": {"Code": code, "Message": "no"}, "ResponseMetadata": {}}

    world.ecs.meta.events.register(f"before-call.ecs.{operation}", refuse)


def test_ecs_unreadable_leaves_the_ledger_rows_and_one_warning(
    world: Estate, story: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    deny(world, "ListServiceDeployments", "AccessDeniedException")
    rows = operator.history(world.clients, target(world), "web", source="all")
    assert [r["outcome"] for r in rows] == ["rolled-back", "deployed"]
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert "ecs:ListServiceDeployments" in line
    assert "AccessDeniedException" in line


def test_a_service_gone_from_ecs_shows_its_ledger(
    world: Estate, capsys: pytest.CaptureFixture[str]
) -> None:
    svc = f"{CLUSTER_ARN.replace(':cluster/', ':service/')}/gone"
    decide(world, svc, Outcome.DEPLOYED, T0, "ev-gone")
    rows = operator.history(world.clients, target(world), f"{CLUSTER}/gone", source="all")
    assert [r["outcome"] for r in rows] == ["deployed"]
    err = capsys.readouterr().err
    assert "ServiceNotFoundException" in err
    assert "ecs:ListServiceDeployments" in err


def test_a_service_without_ecs_records_shows_just_the_ledger(
    world: Estate, story: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    for short in list(adj.deployment_details(world.moto_service(story["service"]))):
        adj.deployment_details(world.moto_service(story["service"]))[short]["_hidden"] = True
    rows = operator.history(world.clients, target(world), "web", source="all")
    assert [r["outcome"] for r in rows] == ["rolled-back", "deployed"]
    assert not capsys.readouterr().err
    calls = world.aws_calls()
    assert calls.get("ecs:ListServiceDeployments") == 1, calls
    assert "ecs:DescribeServiceDeployments" not in calls
