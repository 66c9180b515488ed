"""Images: references (``registry/repo:tag``, ``registry/repo@sha256:...``), what ECR knows of
one (its details, its scan findings, an image index's manifests), the candidate a push or a
scan offers, the container a service's revision runs, and the platform it runs on."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Literal, NamedTuple

_REF = re.compile(
    r"(?:(?P<registry>[^/]+\.[^/]+|localhost(?::[0-9]+)?)/)?(?P<repo>[^:@]+?)"
    r"(?::(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}))?(?:@(?P<digest>[a-z0-9]+:[a-f0-9]{32,128}))?"
)


class ImageRef(NamedTuple):
    registry: str | None
    repository: str
    tag: str | None = None
    digest: str | None = None

    def pinned(self, digest: str) -> str:
        """The same image pinned to ``digest`` (any tag dropped)."""
        prefix = f"{self.registry}/" if self.registry else ""
        return f"{prefix}{self.repository}@{digest}"


def parse_image(image: str) -> ImageRef | None:
    match = _REF.fullmatch(image.strip())
    if match is None:
        return None
    return ImageRef(
        match.group("registry"), match.group("repo"), match.group("tag"), match.group("digest")
    )


def ecr_registry(account: str, region: str) -> str:
    suffix = "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
    return f"{account}.dkr.ecr.{region}.{suffix}"


#: Manifest media types of an image index (OCI) or a manifest list (Docker): ECR cannot scan
#: them; each names per-platform image manifests (and attestations).
INDEX_MEDIA_TYPES = frozenset(
    {
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
    }
)


class ImageInfo(NamedTuple):
    """What ECR knows of one image (DescribeImages)."""

    digest: str
    tags: tuple[str, ...] = ()
    pushed_at: datetime | None = None
    media_type: str | None = None

    @property
    def is_index(self) -> bool:
        return self.media_type in INDEX_MEDIA_TYPES


class ScanFindings(NamedTuple):
    """What ECR says of one digest's scan (DescribeImageScanFindings), basic or enhanced:
    its status (COMPLETE, FAILED, ACTIVE, SCAN_ELIGIBILITY_EXPIRED, ...) and the count of
    findings per severity."""

    status: str
    counts: dict[str, int]
    description: str = ""


class Platform(NamedTuple):
    """An OCI platform: ``os``/``architecture`` as an image index names them."""

    os: str
    architecture: str

    def __str__(self) -> str:
        return f"{self.os}/{self.architecture}"


#: ``runtimePlatform.cpuArchitecture`` -> the OCI architecture
_ARCHITECTURES = {"X86_64": "amd64", "ARM64": "arm64"}


def task_platform(task_definition: dict[str, Any]) -> Platform:
    """The platform a task definition runs on (its ``runtimePlatform``; linux/amd64 when it
    declares none, as Fargate and x86 instances run it)."""
    declared = task_definition.get("runtimePlatform") or {}
    cpu = str(declared.get("cpuArchitecture") or "X86_64")
    family = str(declared.get("operatingSystemFamily") or "LINUX")
    os_name = "windows" if family.startswith("WINDOWS") else family.lower()
    return Platform(os_name, _ARCHITECTURES.get(cpu, cpu.lower()))


class Candidate(NamedTuple):
    """An image that might deploy: from a push, a scan result, or the reconciler's sweep;
    or (``finding``: an Inspector finding changed) one whose running services are
    re-gated, and that deploys nowhere else."""

    repository: str
    digest: str
    tags: tuple[str, ...]
    event_id: str
    event_time: datetime
    trigger: Literal["push", "scan", "reconcile", "finding"]
    registry: str


class ContainerImage(NamedTuple):
    """The tracked container of a task definition and its image."""

    name: str
    image: str
    ref: ImageRef | None

    @property
    def digest(self) -> str | None:
        return self.ref.digest if self.ref else None

    @property
    def tag(self) -> str | None:
        return self.ref.tag if self.ref else None


def tracked_container(
    task_definition: dict[str, Any], repository: str, container: str | None
) -> ContainerImage | None:
    """The container to update: the one the tag names, else the one using ``repository``."""
    for c in task_definition.get("containerDefinitions", []):
        name, image = str(c.get("name", "")), str(c.get("image", ""))
        ref = parse_image(image)
        if container is not None:
            if name == container:
                return ContainerImage(name, image, ref)
        elif ref is not None and ref.repository == repository:
            return ContainerImage(name, image, ref)
    return None
