"""Whole-estate reads for the operator commands (``autopilot status`` / ``approve``): every
service of a cluster, every image of a repository. The functions never call these."""

from __future__ import annotations

from typing import TYPE_CHECKING

from autopilot.adapters.aws_errors import translate
from autopilot.models.state import ImageInfo

if TYPE_CHECKING:
    from mypy_boto3_ecr import ECRClient
    from mypy_boto3_ecs import ECSClient


def list_service_arns(ecs: ECSClient, cluster_arn: str) -> list[str]:
    """Every service of the cluster (ListServices, 100 per call)."""
    arns: list[str] = []
    token = ""
    while True:
        with translate("ecs:ListServices"):
            if token:
                response = ecs.list_services(cluster=cluster_arn, maxResults=100, nextToken=token)
            else:
                response = ecs.list_services(cluster=cluster_arn, maxResults=100)
        arns.extend(response.get("serviceArns", []))
        token = response.get("nextToken", "")
        if not token:
            return sorted(arns)


def list_images(ecr: ECRClient, repository: str) -> list[ImageInfo]:
    """Every tagged image of the repository with its tags and push time (DescribeImages)."""
    images: list[ImageInfo] = []
    token = ""
    while True:
        with translate("ecr:DescribeImages"):
            if token:
                response = ecr.describe_images(
                    repositoryName=repository,
                    filter={"tagStatus": "TAGGED"},
                    maxResults=1000,
                    nextToken=token,
                )
            else:
                response = ecr.describe_images(
                    repositoryName=repository, filter={"tagStatus": "TAGGED"}, maxResults=1000
                )
        images.extend(
            ImageInfo(
                digest=d["imageDigest"],
                tags=tuple(d.get("imageTags", [])),
                pushed_at=d.get("imagePushedAt"),
            )
            for d in response.get("imageDetails", [])
        )
        token = response.get("nextToken", "")
        if not token:
            return images
