"""Event models: every real variant accepted, junk rejected with a typed error."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from autopilot.errors import InvalidEvent, UnsupportedEvent
from autopilot.events.deployment import parse_deployment_event
from autopilot.events.image import EcrImageActionEvent, Inspector2ScanEvent, parse_image_event

DIGEST = "sha256:" + "c" * 64
PUSH: dict[str, Any] = {
    "version": "0",
    "id": "13cde686-328b-6117-af20-0e5566167482",
    "detail-type": "ECR Image Action",
    "source": "aws.ecr",
    "account": "123456789012",
    "time": "2019-11-16T01:54:34Z",
    "region": "us-west-2",
    "resources": [],
    "detail": {
        "result": "SUCCESS",
        "repository-name": "my-repository-name",
        "image-digest": DIGEST,
        "action-type": "PUSH",
        "image-tag": "latest",
    },
}
INSPECTOR: dict[str, Any] = {
    "version": "0",
    "id": "fdaa751a-984c-a709-44f9-9a9da9cd3606",
    "detail-type": "Inspector2 Scan",
    "source": "aws.inspector2",
    "account": "111122223333",
    "time": "2023-01-20T23:15:18Z",
    "region": "us-east-1",
    "resources": ["arn:aws:ecr:us-east-1:111122223333:repository/team/inspector2"],
    "detail": {
        "scan-status": "INITIAL_SCAN_COMPLETE",
        "repository-name": "arn:aws:ecr:us-east-1:111122223333:repository/team/inspector2",
        "finding-severity-counts": {"CRITICAL": 0, "HIGH": 0, "MEDIUM": 0, "TOTAL": 0},
        "image-digest": DIGEST,
        "image-tags": ["ubuntu22"],
        "version": "1.0",
    },
}


def with_detail(event: dict[str, Any], **changes: Any) -> dict[str, Any]:
    out = copy.deepcopy(event)
    for name, value in changes.items():
        key = name.replace("_", "-")
        if value is None:
            out["detail"].pop(key, None)
        else:
            out["detail"][key] = value
    return out


def test_push_and_push_by_digest() -> None:
    parsed = parse_image_event(PUSH)
    assert isinstance(parsed, EcrImageActionEvent)
    assert parsed.detail.image_tag == "latest"
    by_digest = parse_image_event(with_detail(PUSH, image_tag=None))
    assert isinstance(by_digest, EcrImageActionEvent)
    assert by_digest.detail.image_tag is None


def test_inspector_repository_arn_becomes_the_bare_name() -> None:
    parsed = parse_image_event(INSPECTOR)
    assert isinstance(parsed, Inspector2ScanEvent)
    assert parsed.detail.repository_name == "team/inspector2"
    assert parsed.detail.count("CRITICAL") == 0
    assert parsed.detail.count("LOW") == 0  # omitted keys count as zero


@pytest.mark.parametrize(
    "status", ["COMPLETE", "FAILED", "ACTIVE", "INITIAL_SCAN_COMPLETE", "SCAN_ELIGIBILITY_EXPIRED"]
)
def test_every_scan_status_is_accepted(status: str) -> None:
    parse_image_event(with_detail(INSPECTOR, scan_status=status))


@pytest.mark.parametrize(
    "changes",
    [
        {"image_digest": "sha256:xyz"},
        {"image_digest": None},
        {"repository_name": "UPPER/case"},
        {"repository_name": "arn:aws:s3:::bucket"},
        {"image_tag": "-bad"},
        {"action_type": "push"},
        {"result": 1},
    ],
)
def test_junk_push_is_rejected_with_structured_errors(changes: dict[str, Any]) -> None:
    with pytest.raises(InvalidEvent) as raised:
        parse_image_event(with_detail(PUSH, **changes))
    assert raised.value.errors
    assert all({"loc", "type", "msg"} <= set(e) for e in raised.value.errors)


@pytest.mark.parametrize(
    "changes",
    [
        {"finding_severity_counts": {"CRITICAL": -1}},
        {"finding_severity_counts": {"CRITICAL": "many"}},
        {"image_tags": "ubuntu22"},
        {"scan_status": "complete"},
    ],
)
def test_junk_scan_is_rejected(changes: dict[str, Any]) -> None:
    with pytest.raises(InvalidEvent):
        parse_image_event(with_detail(INSPECTOR, **changes))


def test_envelope_junk() -> None:
    for bad in ({**PUSH, "account": "12"}, {**PUSH, "source": "aws.ecs"}, {**PUSH, "time": "soon"}):
        with pytest.raises(InvalidEvent):
            parse_image_event(bad)
    with pytest.raises(UnsupportedEvent):
        parse_image_event({**PUSH, "detail-type": "Something Else"})
    with pytest.raises(UnsupportedEvent):
        parse_deployment_event(PUSH)
