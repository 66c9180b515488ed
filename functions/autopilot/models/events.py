"""Pydantic models of the EventBridge events the functions handle, and their parsers.

Our own envelope rather than Powertools' ``EventBridgeModel``: importing the parser's
model package costs about 0.1 s of cold start, and these models are small.

Real shapes have traps, all accepted here:
- ``Inspector2 Scan``'s ``repository-name`` is a repository ARN, ``ECR Image Scan``'s a
  bare name: both normalize to the bare name (``repository``).
- ``image-tag`` is absent on a push by digest; a failed push may carry no digest.
- ``finding-severity-counts`` omits zero keys; Inspector adds ``TOTAL``.
- Scan statuses are open-ended (COMPLETE, FAILED, ACTIVE, INITIAL_SCAN_COMPLETE,
  SCAN_ELIGIBILITY_EXPIRED, ...): any upper-case word is accepted; the logic classifies.
Anything else (wrong types, junk digests, unknown detail-types) raises ``InvalidEvent``.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    NonNegativeInt,
    StringConstraints,
    model_validator,
)

from autopilot import contract
from autopilot.models.parse import validate_event

_REPO_NAME = re.compile(r"^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*$")
_REPO_ARN = re.compile(r"^arn:aws[a-z-]*:ecr:[a-z0-9-]+:\d{12}:repository/(?P<name>.+)$")


def _repository_name(value: str) -> str:
    """Bare repository name from a bare name or a repository ARN."""
    match = _REPO_ARN.match(value)
    name = match.group("name") if match else value
    if len(name) > 256 or not _REPO_NAME.match(name):
        raise ValueError("not an ECR repository name or repository ARN")
    return name


RepositoryName = Annotated[
    str, StringConstraints(min_length=2, max_length=400), AfterValidator(_repository_name)
]
Digest = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-f0-9]{32,128}$", max_length=200),
]
ImageTag = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")]
Word = Annotated[str, StringConstraints(pattern=r"^[A-Z][A-Z0-9_]{0,63}$")]
SeverityName = Annotated[str, StringConstraints(pattern=r"^[A-Z][A-Z_]{0,31}$")]


# defer_build: a model's validator is built on its first use, so a function pays only for
# the event models it actually receives (deployment-events never builds the image ones).
class _Detail(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True, defer_build=True)


class EcrImageActionDetail(_Detail):
    """``ECR Image Action``: PUSH or DELETE, SUCCESS or FAILURE."""

    action_type: Word = Field(alias="action-type")
    result: Word
    repository_name: RepositoryName = Field(alias="repository-name")
    image_digest: Digest | None = Field(default=None, alias="image-digest")
    image_tag: ImageTag | None = Field(default=None, alias="image-tag")

    @model_validator(mode="after")
    def _success_names_a_digest(self) -> EcrImageActionDetail:
        if self.result == "SUCCESS" and self.image_digest is None:
            raise ValueError("a successful image action names its image-digest")
        return self


class ScanDetail(_Detail):
    """``ECR Image Scan`` (basic) and ``Inspector2 Scan`` (enhanced): same fields."""

    scan_status: Word = Field(alias="scan-status")
    repository_name: RepositoryName = Field(alias="repository-name")
    image_digest: Digest = Field(alias="image-digest")
    image_tags: list[ImageTag] = Field(default_factory=list, alias="image-tags", max_length=1000)
    finding_severity_counts: dict[SeverityName, NonNegativeInt] = Field(
        default_factory=dict, alias="finding-severity-counts"
    )

    def count(self, severity: str) -> int:
        return self.finding_severity_counts.get(severity, 0)


class EcrImageScanDetail(ScanDetail):
    """Basic scanning result."""


class Inspector2ScanDetail(ScanDetail):
    """Enhanced scanning result (Amazon Inspector)."""

    version: str | None = None


class EcsDeploymentDetail(_Detail):
    """``ECS Deployment State Change``."""

    event_type: Literal["INFO", "WARN", "ERROR"] = Field(alias="eventType")
    event_name: Literal[
        "SERVICE_DEPLOYMENT_IN_PROGRESS",
        "SERVICE_DEPLOYMENT_COMPLETED",
        "SERVICE_DEPLOYMENT_FAILED",
    ] = Field(alias="eventName")
    deployment_id: str = Field(alias="deploymentId", min_length=1, max_length=255)
    updated_at: datetime = Field(alias="updatedAt")
    reason: str = Field(default="", max_length=4096)


class Event(BaseModel):
    """An EventBridge event; each subclass types its ``detail`` (no Generic: parametrized
    pydantic generics cost import time, and there are only four)."""

    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True, defer_build=True)

    version: str = "0"
    id: str = Field(min_length=1, max_length=256)
    detail_type: str = Field(alias="detail-type", min_length=1)
    source: str = Field(min_length=1)
    account: Annotated[str, StringConstraints(pattern=r"^\d{12}$")]
    time: datetime
    region: Annotated[str, StringConstraints(pattern=r"^[a-z]{2}(-[a-z]+)+-\d+$")]
    resources: list[str] = Field(default_factory=list)


class EcrImageActionEvent(Event):
    detail: EcrImageActionDetail
    source: Literal["aws.ecr"]
    detail_type: Literal["ECR Image Action"] = Field(alias="detail-type")


class EcrImageScanEvent(Event):
    detail: EcrImageScanDetail
    source: Literal["aws.ecr"]
    detail_type: Literal["ECR Image Scan"] = Field(alias="detail-type")


class Inspector2ScanEvent(Event):
    detail: Inspector2ScanDetail
    source: Literal["aws.inspector2"]
    detail_type: Literal["Inspector2 Scan"] = Field(alias="detail-type")


_SERVICE_ARN = re.compile(r"^arn:aws[a-z-]*:ecs:[a-z0-9-]+:\d{12}:service/[^/]+/[^/]+$")


class EcsDeploymentEvent(Event):
    detail: EcsDeploymentDetail
    source: Literal["aws.ecs"]
    detail_type: Literal["ECS Deployment State Change"] = Field(alias="detail-type")

    @model_validator(mode="after")
    def _names_a_service(self) -> EcsDeploymentEvent:
        if not any(_SERVICE_ARN.match(r) for r in self.resources):
            raise ValueError("resources names no ECS service ARN (service/<cluster>/<name>)")
        return self

    @property
    def service_arn(self) -> str:
        return next(r for r in self.resources if _SERVICE_ARN.match(r))


ImageEvent = EcrImageActionEvent | EcrImageScanEvent | Inspector2ScanEvent

IMAGE_EVENT_MODELS: dict[
    str, type[EcrImageActionEvent | EcrImageScanEvent | Inspector2ScanEvent]
] = {
    contract.DT_ECR_IMAGE_ACTION: EcrImageActionEvent,
    contract.DT_ECR_IMAGE_SCAN: EcrImageScanEvent,
    contract.DT_INSPECTOR2_SCAN: Inspector2ScanEvent,
}
DEPLOYMENT_EVENT_MODELS: dict[str, type[EcsDeploymentEvent]] = {
    contract.DT_ECS_DEPLOYMENT: EcsDeploymentEvent,
}


def parse_image_event(event: Any) -> ImageEvent:
    """Parse an image-events event, or raise ``InvalidEvent`` / ``UnsupportedEvent``."""
    return validate_event(IMAGE_EVENT_MODELS, event)


def parse_deployment_event(event: Any) -> EcsDeploymentEvent:
    """Parse a deployment-events event, or raise ``InvalidEvent`` / ``UnsupportedEvent``."""
    return validate_event(DEPLOYMENT_EVENT_MODELS, event)
