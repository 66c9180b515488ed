"""Models of the events image-events handles (ECR pushes, basic and enhanced scan
results, Inspector findings about ECR images), its model map, and its parser.

Our own envelope (``events.envelope``) rather than Powertools' ``EventBridgeModel``:
importing the parser's model package costs about 0.1 s of cold start, and these models
are small.

Real shapes have traps, all accepted here:
- ``Inspector2 Scan``'s ``repository-name`` is a repository ARN, ``ECR Image Scan``'s a
  bare name: both normalize to the bare name (``repository``).
- ``image-tag`` is absent on a push by digest; a failed push may carry no digest.
- ``finding-severity-counts`` omits zero keys; Inspector adds ``TOTAL``.
- Scan statuses are open-ended (COMPLETE, FAILED, ACTIVE, INITIAL_SCAN_COMPLETE,
  SCAN_ELIGIBILITY_EXPIRED, ...): any upper-case word is accepted; the logic classifies.
- ``Inspector2 Finding`` names no ``repository-name``: the image is the finding's
  ``AWS_ECR_CONTAINER_IMAGE`` resource, ``details.awsEcrContainerImage``
  (``repositoryName``, ``imageHash``); the current shape adds ``details.image``,
  ``provider`` and ``providerAccountId``, the 2021 one ``lastInUseAt`` and ``inUseCount``,
  and its timestamps (``firstObservedAt``, ``pushedAt``, ...) are not ISO-8601 and differ
  between samples: none of them is read. Only the repository and the digest are used.
Anything else (wrong types, junk digests, unknown detail-types) raises ``InvalidEvent``.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from autopilot import contract
from autopilot.events.envelope import Event, Model
from autopilot.events.parse import validate_event
from autopilot.schema import After, Constraints, Field, check

# Whole-string matches (fullmatch), ASCII digits: Python's `$` takes a trailing newline and
# its `\d` any Unicode digit.
_REPO_NAME = re.compile(r"(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*")
_REPO_ARN = re.compile(r"arn:aws[a-z-]*:ecr:[a-z0-9-]+:[0-9]{12}:repository/(?P<name>.+)")


def _repository_name(value: str) -> str:
    """Bare repository name from a bare name or a repository ARN."""
    match = _REPO_ARN.fullmatch(value)
    name = match.group("name") if match else value
    if len(name) > 256 or not _REPO_NAME.fullmatch(name):
        raise ValueError("not an ECR repository name or repository ARN")
    return name


RepositoryName = Annotated[str, Constraints(min_length=2, max_length=400), After(_repository_name)]
Digest = Annotated[
    str,
    Constraints(pattern=r"^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-f0-9]{32,128}$", max_length=200),
]
ImageTag = Annotated[str, Constraints(pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")]
Word = Annotated[str, Constraints(pattern=r"^[A-Z][A-Z0-9_]{0,63}$")]
SeverityName = Annotated[str, Constraints(pattern=r"^[A-Z][A-Z_]{0,31}$")]
NonNegativeInt = Annotated[int, Constraints(ge=0)]


class EcrImageActionDetail(Model):
    """``ECR Image Action``: PUSH or DELETE, SUCCESS or FAILURE."""

    action_type: Word = Field(alias="action-type")
    result: Word
    repository_name: RepositoryName = Field(alias="repository-name")
    image_digest: Digest | None = Field(default=None, alias="image-digest")
    image_tag: ImageTag | None = Field(default=None, alias="image-tag")

    @check
    def _success_names_a_digest(self) -> None:
        if self.result == "SUCCESS" and self.image_digest is None:
            raise ValueError("a successful image action names its image-digest")


class ScanDetail(Model):
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


class EcrContainerImage(Model):
    """``details.awsEcrContainerImage`` of a finding's resource: the image it is about."""

    repository_name: RepositoryName = Field(alias="repositoryName")
    image_hash: Digest = Field(alias="imageHash")
    image_tags: list[ImageTag] = Field(default_factory=list, alias="imageTags", max_length=1000)


class FindingResourceDetails(Model):
    aws_ecr_container_image: EcrContainerImage | None = Field(
        default=None, alias="awsEcrContainerImage"
    )


class FindingResource(Model):
    type: Word
    details: FindingResourceDetails = Field(default_factory=FindingResourceDetails)


class Inspector2FindingDetail(Model):
    """``Inspector2 Finding``: a finding created, updated or closed (``status`` ACTIVE,
    SUPPRESSED or CLOSED) on resources; image-events takes those about an ECR image. The
    finding's own severity and status are claims: the re-gate reads ECR's scan of the digest
    (``flows.image``)."""

    finding_arn: str | None = Field(default=None, alias="findingArn", max_length=2048)
    severity: Word | None = None
    status: Word | None = None
    title: str | None = Field(default=None, max_length=2048)
    resources: list[FindingResource] = Field(min_length=1, max_length=100)

    @check
    def _names_an_ecr_image(self) -> None:
        if not any(r.details.aws_ecr_container_image for r in self.resources):
            raise ValueError("the finding names no AWS_ECR_CONTAINER_IMAGE resource")

    @property
    def image(self) -> EcrContainerImage:
        """The ECR image the finding is about (its first such resource)."""
        return next(
            r.details.aws_ecr_container_image
            for r in self.resources
            if r.details.aws_ecr_container_image is not None
        )

    @property
    def repository_name(self) -> str:
        return self.image.repository_name

    @property
    def image_digest(self) -> str:
        return self.image.image_hash


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


class Inspector2FindingEvent(Event):
    detail: Inspector2FindingDetail
    source: Literal["aws.inspector2"]
    detail_type: Literal["Inspector2 Finding"] = Field(alias="detail-type")


ImageEvent = EcrImageActionEvent | EcrImageScanEvent | Inspector2ScanEvent | Inspector2FindingEvent

#: What image-events parses.
IMAGE_EVENT_MODELS: dict[
    str,
    type[EcrImageActionEvent | EcrImageScanEvent | Inspector2ScanEvent | Inspector2FindingEvent],
] = {
    contract.DT_ECR_IMAGE_ACTION: EcrImageActionEvent,
    contract.DT_ECR_IMAGE_SCAN: EcrImageScanEvent,
    contract.DT_INSPECTOR2_SCAN: Inspector2ScanEvent,
    contract.DT_INSPECTOR2_FINDING: Inspector2FindingEvent,
}


def parse_image_event(event: Any) -> ImageEvent:
    """Parse an image-events event, or raise ``InvalidEvent`` / ``UnsupportedEvent``."""
    return validate_event(IMAGE_EVENT_MODELS, event)
