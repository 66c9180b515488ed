"""The state decisions read: services as ECS describes them, images, scans, ledger state.

Plain frozen dataclasses built by the adapters; the pure logic takes and returns these.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, NamedTuple

from autopilot import contract
from autopilot.logic.images import ImageRef, parse_image
from autopilot.logic.policy import (
    Approval,
    Policy,
    ScanGate,
    parse_approval,
    parse_policy,
    parse_scan_gate,
)

ScanState = Literal["complete", "failed"]


class DeploymentView(NamedTuple):
    id: str
    status: str  # PRIMARY | ACTIVE | INACTIVE
    task_definition: str
    rollout_state: str | None = None


class ServiceView(NamedTuple):
    """An ECS service as DescribeServices shows it (with its tags)."""

    arn: str
    name: str
    cluster_arn: str
    task_definition: str
    tags: dict[str, str] = {}
    deployments: tuple[DeploymentView, ...] = ()
    circuit_breaker_rollback: bool = False

    @property
    def primary(self) -> DeploymentView | None:
        return next((d for d in self.deployments if d.status == "PRIMARY"), None)

    def deployment(self, deployment_id: str) -> DeploymentView | None:
        return next((d for d in self.deployments if d.id == deployment_id), None)


class ServiceConfig(NamedTuple):
    """A service's ``autopilot:*`` tags, parsed (``parse_service_config`` raises MalformedTag)."""

    repository: str
    container: str | None
    policy: Policy
    scan: ScanGate
    approval: Approval


def parse_service_config(tags: dict[str, str]) -> ServiceConfig | None:
    """None when the service tracks no repository."""
    repository = tags.get(contract.TAG_REPOSITORY)
    if repository is None:
        return None
    container = tags.get(contract.TAG_CONTAINER)
    return ServiceConfig(
        repository=repository.strip(),
        container=container.strip() if container else None,
        policy=parse_policy(tags.get(contract.TAG_POLICY)),
        scan=parse_scan_gate(tags.get(contract.TAG_SCAN)),
        approval=parse_approval(tags.get(contract.TAG_APPROVAL)),
    )


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


class ImageInfo(NamedTuple):
    """What ECR knows of one image (DescribeImages)."""

    digest: str
    tags: tuple[str, ...] = ()
    pushed_at: datetime | None = None


class ScanRecord(NamedTuple):
    """A remembered scan result for one digest (joined to pushes by digest)."""

    repository: str
    digest: str
    state: ScanState
    counts: dict[str, int]
    status: str
    at: datetime
    event_id: str
    reason: str = ""


class LastKnownGood(NamedTuple):
    task_definition: str
    digest: str | None
    image: str | None
    at: datetime | None = None


class DeployRecord(NamedTuple):
    """What a deploy (or a rollback) put on a service: task definition -> digest, and what
    it replaced."""

    task_definition: str
    digest: str | None
    tag: str | None
    previous_task_definition: str | None
    event_id: str
    deployment_id: str | None = None
    at: datetime | None = None
    # "registered": the revision exists but UpdateService has not (yet) used it, so a retry
    # reuses it instead of registering another; "deployed": the service was moved to it.
    state: str = "deployed"
    #: When ECR received the image (imagePushedAt): the start of the deploy's lead time.
    pushed_at: datetime | None = None


class ServiceLedgerState(NamedTuple):
    """Everything the ledger holds about one service's present (not its history)."""

    last_known_good: LastKnownGood | None = None
    quarantined: frozenset[str] = frozenset()
    approved: frozenset[str] = frozenset()
    pending_approval: frozenset[str] = frozenset()  # unexpired pending approvals only
    paused: bool = False
    rejected: frozenset[str] = frozenset()  # digests an operator rejected for this service


class Candidate(NamedTuple):
    """An image that might deploy: from a push, or from a scan result."""

    repository: str
    digest: str
    tags: tuple[str, ...]
    event_id: str
    event_time: datetime
    trigger: Literal["push", "scan"]
    registry: str
