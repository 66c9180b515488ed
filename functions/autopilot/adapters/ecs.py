"""ECS and the Resource Groups Tagging API: find tracking services, read and change them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from autopilot import contract
from autopilot.adapters.aws_errors import translate
from autopilot.models.state import DeploymentView, ServiceView

if TYPE_CHECKING:
    from mypy_boto3_ecs import ECSClient
    from mypy_boto3_resourcegroupstaggingapi import ResourceGroupsTaggingAPIClient

DESCRIBE_BATCH = 10  # DescribeServices takes at most 10 services


def _cluster_name(cluster_arn: str) -> str:
    return cluster_arn.rsplit("/", 1)[-1]


def in_cluster(service_arn: str, cluster_arn: str) -> bool:
    """New-format ARNs (service/<cluster>/<name>) name their cluster; old ones cannot be told."""
    parts = service_arn.split(":", 5)
    if len(parts) < 6 or not parts[5].startswith("service/"):
        return False
    path = parts[5].split("/")
    if len(path) == 3:
        return path[1] == _cluster_name(cluster_arn)
    return True


def tagged_service_arns(
    tagging: ResourceGroupsTaggingAPIClient, repository: str, cluster_arn: str
) -> list[str]:
    """ARNs of the cluster's services tagged ``autopilot:repository=<repository>``: one call
    per 100 services, whatever the number of untracked services."""
    arns: list[str] = []
    token = ""
    while True:
        with translate("tag:GetResources"):
            response = tagging.get_resources(
                TagFilters=[{"Key": contract.TAG_REPOSITORY, "Values": [repository]}],
                ResourceTypeFilters=["ecs:service"],
                ResourcesPerPage=100,
                PaginationToken=token,
            )
        arns.extend(
            m["ResourceARN"]
            for m in response.get("ResourceTagMappingList", [])
            if in_cluster(m["ResourceARN"], cluster_arn)
        )
        token = response.get("PaginationToken", "")
        if not token:
            return sorted(set(arns))


def _service_view(raw: Any) -> ServiceView:
    breaker = raw.get("deploymentConfiguration", {}).get("deploymentCircuitBreaker", {})
    return ServiceView(
        arn=raw["serviceArn"],
        name=raw["serviceName"],
        cluster_arn=raw.get("clusterArn", ""),
        task_definition=raw.get("taskDefinition", ""),
        tags={t["key"]: t["value"] for t in raw.get("tags", []) if "key" in t and "value" in t},
        deployments=tuple(
            DeploymentView(
                id=d.get("id", ""),
                status=d.get("status", ""),
                task_definition=d.get("taskDefinition", ""),
                rollout_state=d.get("rolloutState"),
            )
            for d in raw.get("deployments", [])
        ),
        circuit_breaker_rollback=bool(breaker.get("enable") and breaker.get("rollback")),
    )


def describe_services(ecs: ECSClient, cluster_arn: str, arns: list[str]) -> list[ServiceView]:
    """Active services among ``arns``, with their tags, 10 per call."""
    views: list[ServiceView] = []
    for start in range(0, len(arns), DESCRIBE_BATCH):
        with translate("ecs:DescribeServices"):
            response = ecs.describe_services(
                cluster=cluster_arn, services=arns[start : start + DESCRIBE_BATCH], include=["TAGS"]
            )
        views.extend(
            _service_view(s) for s in response.get("services", []) if s.get("status") == "ACTIVE"
        )
    return views


def describe_task_definition(
    ecs: ECSClient, arn: str
) -> tuple[dict[str, Any], list[dict[str, str]]]:
    """The task definition and its tags."""
    with translate("ecs:DescribeTaskDefinition"):
        response = ecs.describe_task_definition(taskDefinition=arn, include=["TAGS"])
    task_definition: dict[str, Any] = dict(response["taskDefinition"])
    tags = [{"key": t["key"], "value": t["value"]} for t in response.get("tags", [])]
    return task_definition, tags


def register_task_definition(ecs: ECSClient, params: dict[str, Any]) -> str:
    with translate("ecs:RegisterTaskDefinition"):
        response = ecs.register_task_definition(**params)
    return response["taskDefinition"]["taskDefinitionArn"]


def update_service(ecs: ECSClient, params: dict[str, Any]) -> dict[str, Any]:
    with translate("ecs:UpdateService"):
        response = ecs.update_service(**params)
    service = response["service"]
    primary = [d for d in service.get("deployments", []) if d.get("status") == "PRIMARY"]
    return {
        "taskDefinition": service.get("taskDefinition"),
        "deploymentId": primary[0].get("id") if primary else None,
        "primaryTaskDefinition": primary[0].get("taskDefinition") if primary else None,
    }


def deregister_task_definition(ecs: ECSClient, arn: str) -> None:
    with translate("ecs:DeregisterTaskDefinition"):
        ecs.deregister_task_definition(taskDefinition=arn)
