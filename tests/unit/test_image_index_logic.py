"""Pure logic of image indexes and ECR's scan statuses: which manifest the gate is on, for
which platform, and what a status read from ECR means."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from autopilot.domain.images import Platform, ScanFindings, task_platform
from autopilot.logic.image_plan import index_manifest_for
from autopilot.logic.scan import from_ecr

AMD, ARM, ATT = "sha256:" + "a" * 64, "sha256:" + "b" * 64, "sha256:" + "c" * 64
LINUX_AMD64, LINUX_ARM64 = Platform("linux", "amd64"), Platform("linux", "arm64")


def _entry(digest: str, os_name: str, arch: str, **extra: Any) -> dict[str, Any]:
    return {
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "digest": digest,
        "size": 1,
        "platform": {"os": os_name, "architecture": arch},
        **extra,
    }


@pytest.mark.parametrize(
    ("runtime_platform", "expected"),
    [
        (None, LINUX_AMD64),
        ({"cpuArchitecture": "X86_64", "operatingSystemFamily": "LINUX"}, LINUX_AMD64),
        ({"cpuArchitecture": "ARM64", "operatingSystemFamily": "LINUX"}, LINUX_ARM64),
        ({"cpuArchitecture": "ARM64"}, LINUX_ARM64),
        (
            {"cpuArchitecture": "X86_64", "operatingSystemFamily": "WINDOWS_SERVER_2022_CORE"},
            Platform("windows", "amd64"),
        ),
    ],
    ids=["none-declared", "x86_64", "arm64", "arm64-no-os", "windows"],
)
def test_task_platform(runtime_platform: dict[str, str] | None, expected: Platform) -> None:
    td = {"runtimePlatform": runtime_platform} if runtime_platform else {}
    assert task_platform(td) == expected


def test_the_platforms_manifest_is_picked_and_attestations_are_skipped() -> None:
    index = {
        "manifests": [
            _entry(ATT, "unknown", "unknown"),
            _entry(ARM, "linux", "arm64"),
            _entry(AMD, "linux", "amd64"),
        ]
    }
    assert index_manifest_for(index, LINUX_AMD64) == (AMD, "")
    assert index_manifest_for(index, LINUX_ARM64) == (ARM, "")


def test_an_annotated_attestation_is_skipped_whatever_its_platform() -> None:
    annotated = _entry(
        ATT, "linux", "amd64", annotations={"vnd.docker.reference.type": "attestation-manifest"}
    )
    index = {"manifests": [annotated, _entry(AMD, "linux", "amd64")]}
    assert index_manifest_for(index, LINUX_AMD64) == (AMD, "")


def test_no_manifest_for_the_platform_says_what_the_index_has() -> None:
    index = {"manifests": [_entry(AMD, "linux", "amd64"), _entry(ATT, "unknown", "unknown")]}
    assert index_manifest_for(index, LINUX_ARM64) == (
        None,
        "the image index has no linux/arm64 manifest (it has linux/amd64)",
    )
    assert index_manifest_for({}, LINUX_AMD64)[1].endswith("(it has no runnable image)")


@pytest.mark.parametrize(
    ("status", "state"),
    [
        ("COMPLETE", "complete"),
        ("ACTIVE", "complete"),
        ("FAILED", "failed"),
        ("UNSUPPORTED_IMAGE", "failed"),
        ("SCAN_ELIGIBILITY_EXPIRED", "failed"),
        ("FINDINGS_UNAVAILABLE", "failed"),
        ("IN_PROGRESS", None),
        ("PENDING", None),
    ],
)
def test_what_a_status_read_from_ecr_means(status: str, state: str | None) -> None:
    record = from_ecr(
        repository="demo/web",
        digest=AMD,
        findings=ScanFindings(status, {"HIGH": 1}),
        at=datetime(2026, 1, 1, tzinfo=UTC),
        event_id="e",
    )
    assert (record.state if record else None) == state


def test_no_scan_in_ecr_is_no_verdict() -> None:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    assert from_ecr(repository="demo/web", digest=AMD, findings=None, at=at, event_id="e") is None
