"""ECR: what it knows of images (tags, push time): the images a decision names, in one
DescribeImages call where it can, and every tagged image of a repository."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from autopilot.aws.translate import translate
from autopilot.domain.images import ImageInfo
from autopilot.errors import NotFound

if TYPE_CHECKING:
    from mypy_boto3_ecr import ECRClient


def _info(detail: Any) -> ImageInfo:
    return ImageInfo(
        digest=detail["imageDigest"],
        tags=tuple(detail.get("imageTags", [])),
        pushed_at=detail.get("imagePushedAt"),
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
