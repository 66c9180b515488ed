"""admission against moto and the sandbox's ECS deployment records: the Lambda lifecycle
hook (PRE_SCALE_UP) answers FAILED for a quarantined or gate-failing digest, whoever
started the deployment, SUCCEEDED otherwise; fail-closed on state it cannot read."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from autopilot.handlers import admission

from sandbox.moto_adjustments import revision_arn
from tests.estate import CLUSTER_ARN, REGISTRY, TABLE, Estate, LambdaContext

REPO = "demo/web"
SAMPLE = Path(__file__).parents[2] / "events" / "admission" / "pre-scale-up.json"


def hook_payload(world: Estate, svc: str) -> dict[str, Any]:
    """What ECS sends the hook at PRE_SCALE_UP of the deployment an UpdateService (by
    anyone) started on ``svc``: the sample's shape, with this deployment's ARNs."""
    deployment = world.start_deployment(svc)
    ms = world.moto_service(svc)
    revision = revision_arn(ms, deployment)
    payload = copy.deepcopy(json.loads(SAMPLE.read_text()))
    payload["resourceArn"] = revision.replace(":service-revision/", ":service-deployment/")
    payload["executionDetails"]["serviceArn"] = svc
    payload["executionDetails"]["targetServiceRevisionArn"] = revision
    return payload


def answer(world: Estate, payload: Any) -> dict[str, Any]:
    """The hook's response, through the Lambda entry."""
    del world  # the clients are the estate's (the environment)
    result: dict[str, Any] = admission.handler(payload, LambdaContext())
    return result


def decisions(world: Estate, svc: str) -> list[dict[str, Any]]:
    return [d for d in world.ledger.decisions.list(svc) if d.get("function") == "admission"]


def deploy_outside(world: Estate, svc: str, digest: str) -> None:
    """A deployment autopilot did not start: a plain RegisterTaskDefinition + UpdateService
    of ``digest`` (a cdk deploy, the console, another tool)."""
    td = world.task_definition("web", f"{REGISTRY}/{REPO}@{digest}")
    world.ecs.update_service(cluster=CLUSTER_ARN, service=svc, taskDefinition=td)


@pytest.fixture
def svc(world: Estate) -> str:
    good = world.push(REPO, "v1.0.0")
    world.hold_scan(REPO, good, {"LOW": 1})
    return world.service("web", REPO, tag="v1.0.0")


def test_quarantined_digest_is_failed_with_the_reason_and_one_notice(
    world: Estate, svc: str
) -> None:
    # Given a digest quarantined for the service after a failed deployment
    bad = world.push(REPO, "v1.1.0")
    world.hold_scan(REPO, bad, {})
    world.ledger.state.quarantine(svc, bad, reason="circuit breaker", event_id="e-1")
    world.notices()
    # When someone deploys it outside autopilot and ECS calls the hook
    deploy_outside(world, svc, bad)
    response = answer(world, hook_payload(world, svc))
    # Then the hook fails the deployment, says why, records it and announces it once
    assert response["hookStatus"] == "FAILED"
    assert "quarantined" in response["hookDetails"]["reason"]
    assert bad in response["hookDetails"]["reason"]
    (recorded,) = decisions(world, svc)
    assert recorded["outcome"] == "quarantined"
    (notice,) = world.notices()
    assert notice["attributes"]["service"] == svc
    assert notice["message"]["digest"] == bad
    assert "admission refused" in notice["message"]["reason"]


def test_digest_failing_the_scan_gate_is_failed(world: Estate, svc: str) -> None:
    bad = world.push(REPO, "v1.2.0")
    world.hold_scan(REPO, bad, {"CRITICAL": 2})
    deploy_outside(world, svc, bad)
    response = answer(world, hook_payload(world, svc))
    assert response["hookStatus"] == "FAILED"
    assert "CRITICAL=2" in response["hookDetails"]["reason"]
    (recorded,) = decisions(world, svc)
    assert recorded["outcome"] == "blocked"
    assert len(world.notices()) == 1


def test_digest_with_no_scan_verdict_yet_waits_then_is_failed(world: Estate, svc: str) -> None:
    unscanned = world.push(REPO, "v1.2.1")
    deploy_outside(world, svc, unscanned)
    payload = hook_payload(world, svc)
    response = answer(world, payload)
    assert response["hookStatus"] == "IN_PROGRESS"
    assert response["callBackDelay"] == 60
    assert "no scan result" in response["hookDetails"]["reason"]
    # ECS asks again with the hookDetails returned; past the wait it is FAILED
    started = datetime.now(UTC) - timedelta(minutes=31)
    again = {**payload, "hookDetails": {"autopilotAwaitingScanSince": started.isoformat()}}
    response = answer(world, again)
    assert response["hookStatus"] == "FAILED"
    assert "after 30 min" in response["hookDetails"]["reason"]
    assert [d["outcome"] for d in decisions(world, svc)].count("awaiting-scan") == 1


def test_clean_digest_succeeds_and_is_recorded(world: Estate, svc: str) -> None:
    clean = world.push(REPO, "v1.3.0")
    world.hold_scan(REPO, clean, {"LOW": 4})
    deploy_outside(world, svc, clean)
    world.notices()
    payload = hook_payload(world, svc)
    world.reset_counts()
    response = admission.run(payload, aws=world.clients).response()
    assert response == {
        "hookStatus": "SUCCEEDED",
        "hookDetails": {"reason": f"{clean} passes: scan clean at gate critical"},
    }
    (recorded,) = decisions(world, svc)
    assert recorded["outcome"] == "admitted"
    assert world.notices() == []
    # read from AWS at hook time: the service, the revision, the image and its scan
    assert world.aws_calls() == {
        "ecs:DescribeServices": 1,
        "ecs:DescribeServiceRevisions": 1,
        "ecr:DescribeImages": 1,
        "ecr:DescribeImageScanFindings": 1,
    }


def test_opted_out_service_succeeds_even_for_a_quarantined_digest(world: Estate) -> None:
    good = world.push(REPO, "v1.0.0")
    svc = world.service("web", REPO, tag="v1.0.0", tags={"autopilot:admission": "off"})
    world.ledger.state.quarantine(svc, good, reason="circuit breaker", event_id="e-1")
    response = answer(world, hook_payload(world, svc))
    assert response["hookStatus"] == "SUCCEEDED"
    assert "opted out" in response["hookDetails"]["reason"]
    (recorded,) = decisions(world, svc)
    assert recorded["outcome"] == "ignored"


def test_unmanaged_service_succeeds(world: Estate) -> None:
    svc = world.service("plain")  # no autopilot:repository tag
    response = answer(world, hook_payload(world, svc))
    assert response["hookStatus"] == "SUCCEEDED"
    assert "unmanaged" in response["hookDetails"]["reason"]


def test_malformed_admission_tag_fails_closed(world: Estate) -> None:
    world.push(REPO, "v1.0.0")
    svc = world.service("web", REPO, tag="v1.0.0", tags={"autopilot:admission": "maybe"})
    response = answer(world, hook_payload(world, svc))
    assert response["hookStatus"] == "FAILED"
    assert "autopilot:admission" in response["hookDetails"]["reason"]


def test_unreadable_revision_fails_closed(world: Estate, svc: str) -> None:
    payload = hook_payload(world, svc)
    details = payload["executionDetails"]
    details["targetServiceRevisionArn"] = (
        details["targetServiceRevisionArn"].rsplit("/", 1)[0] + "/1"
    )
    response = answer(world, payload)
    assert response["hookStatus"] == "FAILED"
    assert "DescribeServiceRevisions" in response["hookDetails"]["reason"]
    assert "fail-closed" in response["hookDetails"]["reason"]
    (recorded,) = decisions(world, svc)
    assert recorded["outcome"] == "rejected"
    assert len(world.notices()) == 1


def test_unreadable_ledger_fails_closed(world: Estate, svc: str) -> None:
    payload = hook_payload(world, svc)
    world.dynamodb.delete_table(TableName=TABLE)
    response = answer(world, payload)
    assert response["hookStatus"] == "FAILED"
    assert "fail-closed" in response["hookDetails"]["reason"]


@pytest.mark.parametrize(
    "payload",
    [
        "not a payload",
        [],
        {},
        {"executionId": "x", "lifecycleStage": "PRE_SCALE_UP"},
        {
            "executionId": "x",
            "lifecycleStage": "NOT_A_STAGE",
            "resourceArn": "arn:aws:ecs:us-east-1:123456789012:service-deployment/c/s/abc",
            "executionDetails": {
                "serviceArn": "arn:aws:ecs:us-east-1:123456789012:service/c/s",
                "targetServiceRevisionArn": "arn:aws:ecs:us-east-1:123456789012:"
                "service-revision/c/s/1",
            },
        },
    ],
)
def test_malformed_payload_fails_closed_without_a_traceback(
    world: Estate,
    payload: Any,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    response = answer(world, payload)
    assert response["hookStatus"] == "FAILED"
    assert "invalid" in response["hookDetails"]["reason"]
    out = capsys.readouterr()
    assert "Traceback" not in out.out + out.err + caplog.text
    assert len(world.notices()) == 1
