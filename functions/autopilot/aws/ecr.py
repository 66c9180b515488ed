"""ECR: what it knows of images (tags, push time, manifest media type): the images a decision
names, in one DescribeImages call where it can, and every tagged image of a repository; one
digest's scan findings (DescribeImageScanFindings, basic and enhanced); an image index's
manifest (BatchGetImage)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from autopilot.aws.translate import translate
from autopilot.domain.images import ImageInfo, ScanFindings
from autopilot.errors import AwsCallFailed, NotFound

if TYPE_CHECKING:
    from mypy_boto3_ecr import ECRClient


def _info(detail: Any) -> ImageInfo:
    return ImageInfo(
        digest=detail["imageDigest"],
        tags=tuple(detail.get("imageTags", [])),
        pushed_at=detail.get("imagePushedAt"),
        media_type=detail.get("imageManifestMediaType"),
    )


def describe_images(
    ecr: ECRClient,
    repository: str,
    digests: list[str],
    tags: list[str] | None = None,
) -> tuple[dict[str, ImageInfo], dict[str, ImageInfo]]:
    """(by digest, by tag) for the images asked for; missing images are left out.

    One call for everything; if ECR says one of them is missing, each is asked for alone.
    """
    ids: list[dict[str, str]] = [{"imageDigest": d} for d in dict.fromkeys(digests)]
    ids += [{"imageTag": t} for t in dict.fromkeys(tags or ())]
    found: list[Any] = []
    if not ids:
        return {}, {}
    try:
        found = _describe(ecr, repository, ids)
    except NotFound:
        for one in ids:
            try:
                found.extend(_describe(ecr, repository, [one]))
            except NotFound:
                continue
    by_digest = {d["imageDigest"]: _info(d) for d in found}
    by_tag = {t: _info(d) for d in found for t in d.get("imageTags", [])}
    return by_digest, by_tag


def _describe(ecr: ECRClient, repository: str, ids: list[dict[str, str]]) -> list[Any]:
    with translate("ecr:DescribeImages"):
        response = ecr.describe_images(repositoryName=repository, imageIds=ids)  # type: ignore[arg-type]
    return list(response.get("imageDetails", []))


def list_images(ecr: ECRClient, repository: str) -> list[ImageInfo]:
    """Every tagged image of the repository with its tags and push time (DescribeImages)."""
    images: list[ImageInfo] = []
    token = ""
    while True:
        kwargs: dict[str, Any] = {
            "repositoryName": repository,
            "filter": {"tagStatus": "TAGGED"},
            "maxResults": 1000,
        }
        if token:
            kwargs["nextToken"] = token
        with translate("ecr:DescribeImages"):
            response = ecr.describe_images(**kwargs)
        images.extend(_info(d) for d in response.get("imageDetails", []))
        token = response.get("nextToken", "")
        if not token:
            return images


#: An enhanced finding's status that still counts (SUPPRESSED and CLOSED ones do not)
_OPEN_FINDING = "ACTIVE"


def scan_findings(ecr: ECRClient, repository: str, digest: str) -> ScanFindings | None:
    """ECR's scan status and findings per severity for ``digest``; None when ECR holds no
    scan of it (``ScanNotFoundException``: not scanned yet, or never will be; or the image
    is gone).

    Basic scanning gives ``findingSeverityCounts``; enhanced scanning (Inspector) gives
    ``enhancedFindings``, one severity each (only ACTIVE ones count), and may give counts
    too: for each severity the larger of the two is kept. One call (1,000 findings a page);
    more pages are read only when a page says there are more.
    """
    counts: dict[str, int] = {}
    enhanced: dict[str, int] = {}
    status, description = "", ""
    token = ""
    while True:
        kwargs: dict[str, Any] = {
            "repositoryName": repository,
            "imageId": {"imageDigest": digest},
            "maxResults": 1000,
        }
        if token:
            kwargs["nextToken"] = token
        try:
            with translate("ecr:DescribeImageScanFindings"):
                response = ecr.describe_image_scan_findings(**kwargs)
        except NotFound:
            return None
        except AwsCallFailed as exc:
            if exc.code == "ScanNotFoundException":
                return None
            raise
        scan_status = response.get("imageScanStatus") or {}
        status = str(scan_status.get("status", status))
        description = str(scan_status.get("description", description))
        findings: Any = response.get("imageScanFindings") or {}
        for severity, n in (findings.get("findingSeverityCounts") or {}).items():
            counts[str(severity)] = max(counts.get(str(severity), 0), int(n))
        for finding in findings.get("enhancedFindings") or []:
            if finding.get("status", _OPEN_FINDING) == _OPEN_FINDING:
                severity = str(finding.get("severity", "UNTRIAGED"))
                enhanced[severity] = enhanced.get(severity, 0) + 1
        token = str(response.get("nextToken", ""))
        if not token:
            break
    for severity, n in enhanced.items():
        counts[severity] = max(counts.get(severity, 0), n)
    return ScanFindings(status, counts, description)


#: the manifests BatchGetImage is asked for: image indexes and single-platform images, OCI
#: and Docker (ECR answers with the media type it stores)
MANIFEST_MEDIA_TYPES = (
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
)


def image_manifest(ecr: ECRClient, repository: str, digest: str) -> dict[str, Any]:
    """The manifest of ``digest`` as JSON (BatchGetImage), e.g. an image index's list of
    per-platform manifests; ``NotFound`` if ECR no longer holds it."""
    with translate("ecr:BatchGetImage"):
        response = ecr.batch_get_image(
            repositoryName=repository,
            imageIds=[{"imageDigest": digest}],
            acceptedMediaTypes=list(MANIFEST_MEDIA_TYPES),
        )
    for image in response.get("images", []):
        manifest = image.get("imageManifest")
        if manifest:
            parsed = json.loads(manifest)
            if isinstance(parsed, dict):
                return parsed
    failure: Any = next(iter(response.get("failures", [])), {})
    raise NotFound(
        "ecr:BatchGetImage",
        str(failure.get("failureCode", "ImageNotFound")),
        str(failure.get("failureReason", f"{repository}@{digest} has no manifest")),
    )


def manifests(ecr: ECRClient, repository: str, digests: list[str]) -> dict[str, tuple[str, str]]:
    """digest -> (manifest, media type) as ECR stores them (BatchGetImage, 100 a call);
    a digest ECR no longer holds is left out."""
    out: dict[str, tuple[str, str]] = {}
    wanted = list(dict.fromkeys(digests))
    for at in range(0, len(wanted), 100):
        with translate("ecr:BatchGetImage"):
            response = ecr.batch_get_image(
                repositoryName=repository,
                imageIds=[{"imageDigest": d} for d in wanted[at : at + 100]],
                acceptedMediaTypes=list(MANIFEST_MEDIA_TYPES),
            )
        for image in response.get("images", []):
            digest = image.get("imageId", {}).get("imageDigest")
            manifest = image.get("imageManifest")
            if digest and manifest:
                out[digest] = (manifest, str(image.get("imageManifestMediaType", "")))
    return out


def put_tag(ecr: ECRClient, params: dict[str, Any]) -> dict[str, Any]:
    """PutImage: put a tag on the image whose manifest ``params`` carries (the tag leaves
    the image that had it). ECR's "already exists" for a tag already on that very digest is
    success."""
    try:
        with translate("ecr:PutImage"):
            response = ecr.put_image(**params)
    except AwsCallFailed as exc:
        if exc.code == "ImageAlreadyExistsException":
            return {"already": True}
        raise
    image: Any = response.get("image", {})
    return {"imageId": dict(image.get("imageId", {}))}


def remove_tags(ecr: ECRClient, params: dict[str, Any]) -> dict[str, Any]:
    """BatchDeleteImage by tag (``params["imageIds"]``: ``{"imageTag": ...}`` items): each
    tag leaves its image, and an image whose last tag it was is deleted (so callers give
    only tags whose image keeps another). A tag already gone is no failure."""
    with translate("ecr:BatchDeleteImage"):
        response = ecr.batch_delete_image(**params)
    failures = [f for f in response.get("failures", []) if f.get("failureCode") != "ImageNotFound"]
    if failures:
        first: Any = failures[0]
        raise AwsCallFailed(
            "ecr:BatchDeleteImage",
            str(first.get("failureCode", "Unknown")),
            str(first.get("failureReason", "")),
        )
    return {"removed": [dict(i) for i in response.get("imageIds", [])]}


def tag_mutability(ecr: ECRClient, repository: str) -> tuple[str, list[str]]:
    """The repository's tag mutability and its exclusion filters (DescribeRepositories)."""
    with translate("ecr:DescribeRepositories"):
        response = ecr.describe_repositories(repositoryNames=[repository])
    repo: Any = next(iter(response.get("repositories", [])), {})
    filters = [str(f.get("filter", "")) for f in repo.get("imageTagMutabilityExclusionFilters", [])]
    return str(repo.get("imageTagMutability", "MUTABLE")), filters


def lifecycle_policy(ecr: ECRClient, repository: str) -> str | None:
    """The repository's lifecycle policy text (GetLifecyclePolicy); None when it has none."""
    try:
        with translate("ecr:GetLifecyclePolicy"):
            response = ecr.get_lifecycle_policy(repositoryName=repository)
    except AwsCallFailed as exc:
        if exc.code == "LifecyclePolicyNotFoundException":
            return None
        raise
    return str(response.get("lifecyclePolicyText") or "") or None
