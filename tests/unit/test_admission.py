"""The admission hook's pure parts: the payload model (every sample in events/admission/),
the decision (``logic.admission``), the hook a deploy adds (``logic.rollout``) and the
``autopilot:admission`` tag."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from autopilot import contract
from autopilot.domain.images import Candidate
from autopilot.domain.records import ScanRecord
from autopilot.domain.report import Outcome
from autopilot.domain.service import RevisionImage, Service, ServiceRevision
from autopilot.errors import InvalidEvent, MalformedTag
from autopilot.events.admission import parse_hook_payload
from autopilot.logic import admission, rollout
from autopilot.logic.policy import Floors, ServiceConfig, parse_admission, service_config

SAMPLES = sorted((Path(__file__).parents[2] / "events" / "admission").glob("*.json"))
SVC = "arn:aws:ecs:us-east-1:123456789012:service/c/web"
CLUSTER = "arn:aws:ecs:us-east-1:123456789012:cluster/c"
REV = "arn:aws:ecs:us-east-1:123456789012:service-revision/c/web/123"
GOOD = "sha256:" + "a" * 64
BAD = "sha256:" + "b" * 64
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/demo/web"
HOOK = rollout.AdmissionHook(
    "arn:aws:lambda:us-east-1:123456789012:function:demo-admission",
    "arn:aws:iam::123456789012:role/demo-admission-hook",
)


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: p.name)
def test_every_sample_payload_parses(path: Path) -> None:
    payload = json.loads(path.read_text())
    hook = parse_hook_payload(payload)
    assert hook.service_arn == payload["executionDetails"]["serviceArn"]
    assert hook.revision_arn == payload["executionDetails"]["targetServiceRevisionArn"]
    assert hook.lifecycle_stage == payload["lifecycleStage"]


def test_samples_are_there() -> None:
    assert len(SAMPLES) >= 3


@pytest.mark.parametrize(
    "change",
    [
        {"executionId": ""},
        {"resourceArn": "arn:aws:ecs:us-west-2:123456789012:service/c/s"},
        {"lifecycleStage": "BAKE_TIME"},
        {"executionDetails": {"serviceArn": SVC}},
    ],
)
def test_junk_payload_is_a_typed_error(change: dict[str, Any]) -> None:
    payload = json.loads(SAMPLES[0].read_text()) | change
    with pytest.raises(InvalidEvent):
        parse_hook_payload(payload)


def _svc(tags: dict[str, str]) -> Service:
    return Service(SVC, "web", CLUSTER, "td:1", tags=tags)


def _revision(digest: str | None = GOOD) -> ServiceRevision:
    return ServiceRevision(
        REV,
        SVC,
        CLUSTER,
        "td:2",
        (
            RevisionImage("app", f"{IMAGE}:v2", digest),
            RevisionImage("log", "public.ecr.aws/fluent:stable", "sha256:" + "c" * 64),
        ),
    )


def _cfg(**tags: str) -> ServiceConfig:
    cfg = service_config({contract.TAG_REPOSITORY: "demo/web", **tags}, CLUSTER, Floors())
    assert cfg is not None
    return cfg


def test_policy_check_settles_unmanaged_opted_out_and_malformed() -> None:
    unmanaged = admission.policy_check(_svc({}), Floors())
    assert isinstance(unmanaged, admission.Answer)
    assert unmanaged.status == "SUCCEEDED"
    off = admission.policy_check(
        _svc({contract.TAG_REPOSITORY: "demo/web", contract.TAG_ADMISSION: "off"}), Floors()
    )
    assert isinstance(off, admission.Answer)
    assert (off.status, off.decision.outcome) == ("SUCCEEDED", Outcome.IGNORED)
    bad = admission.policy_check(
        _svc({contract.TAG_REPOSITORY: "demo/web", contract.TAG_SCAN: "loose"}), Floors()
    )
    assert isinstance(bad, admission.Answer)
    assert (bad.status, bad.decision.outcome) == ("FAILED", Outcome.REJECTED)
    assert bad.decision.notify


def test_quarantine_check_looks_at_every_container() -> None:
    cfg = _cfg()
    assert admission.quarantine_check(_svc({}), cfg, _revision(), frozenset({BAD})) is None
    sidecar = "sha256:" + "c" * 64
    refused = admission.quarantine_check(_svc({}), cfg, _revision(), frozenset({sidecar}))
    assert refused is not None
    assert refused.status == "FAILED"
    assert refused.decision.digest == sidecar
    assert refused.response()["hookDetails"]["reason"].startswith("admission refused:")


def test_a_pinned_image_counts_when_ecs_resolved_no_digest() -> None:
    revision = _revision(None)._replace(images=(RevisionImage("app", f"{IMAGE}@{BAD}", None),))
    assert admission.revision_digests(revision) == {"app": BAD}


def _candidate(digest: str) -> Candidate:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    return Candidate("demo/web", digest, (), "e", at, "reconcile", IMAGE.split("/", maxsplit=1)[0])


def _scan(counts: dict[str, int]) -> ScanRecord:
    return ScanRecord("demo/web", GOOD, "complete", counts, "COMPLETE", datetime.now(UTC), "e")


@pytest.mark.parametrize(
    ("gate", "counts", "status", "outcome"),
    [
        ("critical", {"HIGH": 3}, "SUCCEEDED", Outcome.ADMITTED),
        ("critical", {"CRITICAL": 1}, "FAILED", Outcome.BLOCKED),
        ("high", {"HIGH": 3}, "FAILED", Outcome.BLOCKED),
        ("off", {"CRITICAL": 9}, "SUCCEEDED", Outcome.ADMITTED),
    ],
)
def test_gate_check_is_the_image_flows_gate(
    gate: str, counts: dict[str, int], status: str, outcome: Outcome
) -> None:
    got = admission.gate_check(
        _svc({}), _cfg(**{contract.TAG_SCAN: gate}), _candidate(GOOD), _scan(counts)
    )
    assert (got.status, got.decision.outcome) == (status, outcome)


def test_no_scan_verdict_waits_then_fails_closed() -> None:
    now = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
    # the first ask: IN_PROGRESS, asked again in a minute, the wait's start passed back
    first = admission.gate_check(_svc({}), _cfg(), _candidate(GOOD), None, now=now)
    assert first.status == "IN_PROGRESS"
    assert first.decision.outcome == Outcome.AWAITING_SCAN
    assert not first.decision.notify
    response = first.response()
    assert response["callBackDelay"] == admission.SCAN_CALLBACK_SECONDS
    since = admission.waiting_since(response["hookDetails"], now + timedelta(minutes=5))
    assert since == now
    # still none after the wait: FAILED, announced
    late = now + timedelta(minutes=admission.SCAN_WAIT_MINUTES)
    got = admission.gate_check(_svc({}), _cfg(), _candidate(GOOD), None, now=late, since=since)
    assert got.status == "FAILED"
    assert "no scan result" in got.decision.reason
    assert got.decision.notify
    assert "callBackDelay" not in got.response()


@pytest.mark.parametrize(
    "details",
    [
        None,
        "x",
        {},
        {admission.WAITING_SINCE: 5},
        {admission.WAITING_SINCE: "not a time"},
        {admission.WAITING_SINCE: "2026-12-02T12:00:00"},
        {admission.WAITING_SINCE: "2027-01-01T00:00:00+00:00"},
    ],
)
def test_a_wait_start_that_is_not_a_past_time_is_now(details: Any) -> None:
    now = datetime(2026, 12, 2, 12, 30, tzinfo=UTC)
    assert admission.waiting_since(details, now) == now


def test_admission_tag_is_validated_like_the_others() -> None:
    assert parse_admission(None) is True
    assert parse_admission("off") is False
    with pytest.raises(MalformedTag):
        parse_admission("sometimes")


def test_floors_give_the_hook_unless_opted_out() -> None:
    floors = Floors(admission_hook=HOOK)
    tags = {contract.TAG_REPOSITORY: "demo/web"}
    on = service_config(tags, CLUSTER, floors)
    off = service_config({**tags, contract.TAG_ADMISSION: "off"}, CLUSTER, floors)
    assert on is not None
    assert on.admission_hook == HOOK
    assert off is not None
    assert off.admission_hook is None


def test_a_deploy_adds_the_hook_to_a_hooked_strategy_keeping_the_services_own() -> None:
    theirs = {"targetType": "PAUSE", "lifecycleStages": ["POST_TEST_TRAFFIC_SHIFT"]}
    current = {"strategy": "BLUE_GREEN", "bakeTimeInMinutes": 5, "lifecycleHooks": [theirs]}
    config, note = rollout.deployment_configuration(
        current, None, (), traffic_ready=True, admission=HOOK
    )
    assert config is not None
    assert config["lifecycleHooks"] == [theirs, HOOK.hook()]
    assert HOOK.hook()["lifecycleStages"] == ["PRE_SCALE_UP"]
    assert "admission hook added" in note
    # once there, it is not added again
    again, _ = rollout.deployment_configuration(
        config, None, (), traffic_ready=True, admission=HOOK
    )
    assert again is None


def test_canary_tag_gets_the_hook_rolling_does_not() -> None:
    canary = rollout.parse_rollout("canary:10:5")
    config, _ = rollout.deployment_configuration({}, canary, (), traffic_ready=True, admission=HOOK)
    assert config is not None
    assert config["lifecycleHooks"] == [HOOK.hook()]
    rolling, _ = rollout.deployment_configuration(
        {}, rollout.parse_rollout("rolling"), (), traffic_ready=True, admission=HOOK
    )
    assert rolling is not None
    assert "lifecycleHooks" not in rolling
    # no load-balancer wiring: deployed rolling, so no hook either
    unready, _ = rollout.deployment_configuration(
        {}, canary, (), traffic_ready=False, admission=HOOK
    )
    assert unready is not None
    assert "lifecycleHooks" not in unready


def test_a_dry_run_answer_dumps_as_a_report_with_its_decision() -> None:
    answer = admission.unreadable(SVC, "the service is not active (DescribeServices)")
    dumped = answer.to_json()
    assert dumped["hookStatus"] == "FAILED"
    assert dumped["function"] == "admission"
    (decision,) = dumped["decisions"]
    assert decision["outcome"] == "rejected"
    assert json.dumps(dumped)
