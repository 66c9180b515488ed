"""Forged image events against moto: anyone allowed lambda:InvokeFunction can hand
image-events any JSON, so the scan verdict is read from ECR (DescribeImageScanFindings) and
the image's tags from DescribeImages, never from the event."""

from __future__ import annotations

import json
from typing import Any

import pytest
from autopilot.aws import ecr
from autopilot.handlers import image_events
from moto.ecr.models import ecr_backends

from tests.estate import ACCOUNT, REGION, Estate

REPO = "demo/web"


def _outcome(report: Any) -> str:
    (decision,) = report.decisions
    return str(decision.outcome)


@pytest.mark.parametrize("inspector", [False, True], ids=["basic-scan", "inspector2"])
def test_a_forged_clean_scan_of_an_unscanned_digest_does_not_open_the_gate(
    world: Estate, inspector: bool
) -> None:
    # Given a digest ECR never scanned
    world.push(REPO, "v1.2.0")
    svc = world.service("web", REPO, tag="v1.2.0")
    digest = world.push(REPO, "v1.3.0")

    # When a clean scan result is forged for it
    forged = world.scan_event(REPO, digest, {}, tags=["v1.3.0"], inspector=inspector, forged=True)
    report = image_events.run(forged, aws=world.clients)

    # Then the gate still waits for ECR's scan, and nothing is deployed
    assert _outcome(report) == "awaiting-scan"
    assert world.running_image(svc).endswith(":v1.2.0")
    assert "ecs:RegisterTaskDefinition" not in world.calls
    assert world.ledger.scans.get(REPO, digest) is None  # the claim is not remembered


@pytest.mark.parametrize("inspector", [False, True], ids=["basic-scan", "inspector2"])
def test_a_forged_clean_scan_of_a_vulnerable_digest_is_blocked_by_what_ecr_says(
    world: Estate, inspector: bool
) -> None:
    # Given ECR found a CRITICAL vulnerability in the digest
    world.push(REPO, "v1.2.0")
    svc = world.service("web", REPO, tag="v1.2.0")
    digest = world.push(REPO, "v1.3.0")
    world.hold_scan(REPO, digest, {"CRITICAL": 1, "LOW": 2}, inspector=inspector)

    # When a clean result is forged for it
    forged = world.scan_event(REPO, digest, {}, tags=["v1.3.0"], inspector=inspector, forged=True)
    report = image_events.run(forged, aws=world.clients)

    # Then ECR's verdict blocks it
    assert _outcome(report) == "blocked"
    assert report.decisions[0].counts == {"CRITICAL": 1, "LOW": 2}
    assert world.running_image(svc).endswith(":v1.2.0")
    recorded = world.ledger.scans.get(REPO, digest)
    assert recorded is not None
    assert recorded.counts == {"CRITICAL": 1, "LOW": 2}  # what was read, not what was claimed


def test_an_enhanced_scan_whose_eligibility_expired_blocks(world: Estate) -> None:
    world.push(REPO, "v1.2.0")
    svc = world.service("web", REPO, tag="v1.2.0")
    digest = world.push(REPO, "v1.3.0")
    world.hold_scan(REPO, digest, {}, inspector=True, status="SCAN_ELIGIBILITY_EXPIRED")

    forged = world.scan_event(REPO, digest, {}, status="ACTIVE", inspector=True, forged=True)
    report = image_events.run(forged, aws=world.clients)

    assert _outcome(report) == "blocked"
    assert "SCAN_ELIGIBILITY_EXPIRED" in report.decisions[0].reason
    assert world.running_image(svc).endswith(":v1.2.0")


def test_enhanced_findings_without_severity_counts_are_counted_one_by_one(world: Estate) -> None:
    # Given an enhanced scan whose answer lists findings (one ACTIVE CRITICAL, one CLOSED
    # CRITICAL, one ACTIVE HIGH) and no severity counts
    digest = world.push(REPO, "v1.3.0")
    world.hold_scan(REPO, digest, {}, inspector=True)
    image = ecr_backends[ACCOUNT][REGION].repositories[REPO]._get_image(None, digest)
    (result,) = image.scan_finding_results.values()
    result["imageScanFindings"] = {
        "enhancedFindings": [
            {"severity": "CRITICAL", "status": "ACTIVE"},
            {"severity": "CRITICAL", "status": "CLOSED"},
            {"severity": "HIGH", "status": "ACTIVE"},
        ]
    }
    image.scan_finding_results = {json.dumps({"imageDigest": digest}): result}

    findings = ecr.scan_findings(world.ecr, REPO, digest)

    assert findings is not None
    assert (findings.status, findings.counts) == ("ACTIVE", {"CRITICAL": 1, "HIGH": 1})
    assert ecr.scan_findings(world.ecr, REPO, world.push(REPO, "v1.4.0")) is None


def test_a_forged_push_claiming_a_newer_tag_on_an_old_digest_does_not_deploy_backwards(
    world: Estate,
) -> None:
    # Given a service on v1.3.0, and v1.2.0 (older) in the repository
    old = world.push(REPO, "v1.2.0")
    world.push(REPO, "v1.3.0")
    svc = world.service("web", REPO, tag="v1.3.0", tags={"autopilot:scan": "off"})

    # When a push of the old digest is forged with image-tag 99.0.0
    report = image_events.run(world.push_event(REPO, old, "99.0.0"), aws=world.clients)

    # Then the tags are ECR's: v1.2.0 is older than the running v1.3.0
    assert _outcome(report) == "older"
    assert report.decisions[0].tag == "v1.2.0"
    assert "1.2.0 is not newer than running 1.3.0" in report.decisions[0].reason
    assert world.running_image(svc).endswith(":v1.3.0")


def test_a_forged_scan_claiming_a_newer_tag_on_an_old_digest_does_not_deploy_backwards(
    world: Estate,
) -> None:
    old = world.push(REPO, "v1.2.0")
    world.push(REPO, "v1.3.0")
    svc = world.service("web", REPO, tag="v1.3.0")
    world.hold_scan(REPO, old, {})

    forged = world.scan_event(REPO, old, {}, tags=["99.0.0"], forged=True)
    report = image_events.run(forged, aws=world.clients)

    assert _outcome(report) == "older"
    assert world.running_image(svc).endswith(":v1.3.0")


def test_a_forged_push_of_a_digest_ecr_does_not_hold_is_ignored(world: Estate) -> None:
    world.push(REPO, "v1.2.0")
    svc = world.service("web", REPO, tag="v1.2.0")

    forged = world.push_event(REPO, "sha256:" + "4f" * 32, "99.0.0")
    report = image_events.run(forged, aws=world.clients)

    assert _outcome(report) == "ignored"
    assert report.decisions[0].reason == "the image is no longer in the repository"
    assert "ecr:DescribeImageScanFindings" not in world.calls
    assert world.running_image(svc).endswith(":v1.2.0")
