"""ECS (and EC2 subnets) for task-events and capacity-events: a service's placement facts,
its running tasks per zone, container instances, capacity providers, and the changes
(StopTask, AZ rebalancing flag, capacity provider strategy, desired count).

Reads return plain frozen dataclasses; nothing outside ``adapters/`` sees boto3 shapes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from autopilot.adapters.aws_errors import translate
from autopilot.logic.capacity import FARGATE, FARGATE_SPOT, StrategyItem

if TYPE_CHECKING:
    from mypy_boto3_ec2 import EC2Client
    from mypy_boto3_ecs import ECSClient

DESCRIBE_TASKS_BATCH = 100
DESCRIBE_INSTANCES_BATCH = 100
AZ_ATTRIBUTE = "attribute:ecs.availability-zone"
FARGATE_PROVIDERS = frozenset({FARGATE, FARGATE_SPOT})


@dataclass(frozen=True)
class ServiceDetails:
    """What zone balance and capacity read of one service (DescribeServices with tags)."""

    arn: str
    name: str
    cluster_arn: str
    status: str
    desired_count: int
    running_count: int
    task_definition: str
    launch_type: str | None
    scheduling_strategy: str
    min_healthy_percent: int
    strategy: tuple[StrategyItem, ...]
    placement_strategy: tuple[tuple[str, str], ...]
    az_placement_constraint: bool
    subnets: tuple[str, ...]
    az_rebalancing: str | None
    deployment_in_progress: bool
    deployment_alarms: frozenset[str]
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def fargate(self) -> bool:
        if self.strategy:
            return all(i.capacity_provider in FARGATE_PROVIDERS for i in self.strategy)
        return self.launch_type == "FARGATE"

    @property
    def ec2_providers(self) -> tuple[str, ...]:
        """The service's own EC2 capacity providers (empty: launch type or cluster default)."""
        return tuple(
            i.capacity_provider
            for i in self.strategy
            if i.capacity_provider not in FARGATE_PROVIDERS
        )


@dataclass(frozen=True)
class TaskInfo:
    arn: str
    zone: str | None
    task_definition: str
    container_instance: str | None


@dataclass(frozen=True)
class CapacityProviderInfo:
    name: str
    asg_name: str | None
    managed_scaling: bool


@dataclass(frozen=True)
class ClusterCapacity:
    providers: tuple[CapacityProviderInfo, ...]
    default_strategy: tuple[StrategyItem, ...]

    def provider(self, name: str) -> CapacityProviderInfo | None:
        return next((p for p in self.providers if p.name == name), None)


@dataclass(frozen=True)
class ContainerInstanceInfo:
    arn: str
    zone: str | None
    remaining_cpu: int
    remaining_memory: int
    ec2_instance_id: str | None


def service_arn_of(cluster_arn: str, service_name: str) -> str:
    """``arn:...:cluster/<c>`` + name -> the service's (long-format) ARN."""
    prefix, _, cluster = cluster_arn.partition(":cluster/")
    return f"{prefix}:service/{cluster}/{service_name}"


def cluster_name(cluster_arn: str) -> str:
    return cluster_arn.rsplit("/", 1)[-1]


def _strategy(raw: Iterable[Any]) -> tuple[StrategyItem, ...]:
    return tuple(
        StrategyItem(str(i["capacityProvider"]), int(i.get("weight", 0)), int(i.get("base", 0)))
        for i in raw
        if "capacityProvider" in i
    )


def strategy_params(strategy: Iterable[StrategyItem]) -> list[dict[str, Any]]:
    return [
        {"capacityProvider": i.capacity_provider, "weight": i.weight, "base": i.base}
        for i in strategy
    ]


def _in_progress(deployments: list[Any]) -> bool:
    """A deployment is in progress while ECS has more than one, or the primary's rollout runs."""
    if len(deployments) > 1:
        return True
    return any(d.get("rolloutState") == "IN_PROGRESS" for d in deployments)


def _details(raw: Any) -> ServiceDetails:
    config = raw.get("deploymentConfiguration") or {}
    alarms = config.get("alarms") or {}
    network = (raw.get("networkConfiguration") or {}).get("awsvpcConfiguration") or {}
    constraints = raw.get("placementConstraints") or []
    return ServiceDetails(
        arn=raw["serviceArn"],
        name=raw["serviceName"],
        cluster_arn=raw.get("clusterArn", ""),
        status=raw.get("status", ""),
        desired_count=int(raw.get("desiredCount", 0)),
        running_count=int(raw.get("runningCount", 0)),
        task_definition=raw.get("taskDefinition", ""),
        launch_type=raw.get("launchType"),
        scheduling_strategy=raw.get("schedulingStrategy", "REPLICA"),
        min_healthy_percent=int(config.get("minimumHealthyPercent", 100)),
        strategy=_strategy(raw.get("capacityProviderStrategy") or []),
        placement_strategy=tuple(
            (str(p.get("type", "")), str(p.get("field", "")))
            for p in raw.get("placementStrategy") or []
        ),
        az_placement_constraint=any(
            "ecs.availability-zone" in str(c.get("expression", "")) for c in constraints
        ),
        subnets=tuple(network.get("subnets") or ()),
        az_rebalancing=raw.get("availabilityZoneRebalancing"),
        deployment_in_progress=_in_progress(list(raw.get("deployments") or [])),
        deployment_alarms=frozenset(
            alarms.get("alarmNames") or () if alarms.get("enable", True) else ()
        ),
        tags={t["key"]: t["value"] for t in raw.get("tags", []) if "key" in t and "value" in t},
    )


def describe_service(ecs: ECSClient, cluster_arn: str, service: str) -> ServiceDetails | None:
    """One service (ARN or name) with its tags, or None if it is not active."""
    with translate("ecs:DescribeServices"):
        response = ecs.describe_services(cluster=cluster_arn, services=[service], include=["TAGS"])
    for raw in response.get("services", []):
        if raw.get("status") == "ACTIVE":
            return _details(raw)
    return None


def running_tasks(ecs: ECSClient, cluster_arn: str, service_name: str) -> list[TaskInfo]:
    """The service's RUNNING tasks (desired and last status), with their zones."""
    arns: list[str] = []
    token: str | None = None
    while True:
        kwargs: dict[str, Any] = {
            "cluster": cluster_arn,
            "serviceName": service_name,
            "desiredStatus": "RUNNING",
        }
        if token:
            kwargs["nextToken"] = token
        with translate("ecs:ListTasks"):
            response = ecs.list_tasks(**kwargs)
        arns.extend(response.get("taskArns", []))
        token = response.get("nextToken")
        if not token:
            break
    group = f"service:{service_name}"
    tasks: list[TaskInfo] = []
    for start in range(0, len(arns), DESCRIBE_TASKS_BATCH):
        with translate("ecs:DescribeTasks"):
            described = ecs.describe_tasks(
                cluster=cluster_arn, tasks=arns[start : start + DESCRIBE_TASKS_BATCH]
            )
        tasks.extend(
            TaskInfo(
                arn=t["taskArn"],
                zone=t.get("availabilityZone"),
                task_definition=t.get("taskDefinitionArn", ""),
                container_instance=t.get("containerInstanceArn"),
            )
            for t in described.get("tasks", [])
            if t.get("group") == group
            and t.get("lastStatus") == "RUNNING"
            and t.get("desiredStatus") == "RUNNING"
        )
    return tasks


def cluster_capacity(ecs: ECSClient, cluster_arn: str) -> ClusterCapacity:
    """The cluster's capacity providers (their ASGs and managed scaling) and default strategy."""
    with translate("ecs:DescribeClusters"):
        response = ecs.describe_clusters(clusters=[cluster_arn])
    clusters = response.get("clusters", [])
    if not clusters:
        return ClusterCapacity((), ())
    raw = clusters[0]
    names = [n for n in raw.get("capacityProviders", []) if n not in FARGATE_PROVIDERS]
    providers: list[CapacityProviderInfo] = []
    if names:
        with translate("ecs:DescribeCapacityProviders"):
            described = ecs.describe_capacity_providers(capacityProviders=names)
        for cp in described.get("capacityProviders", []):
            asg: Any = cp.get("autoScalingGroupProvider") or {}
            arn = asg.get("autoScalingGroupArn")
            providers.append(
                CapacityProviderInfo(
                    name=cp["name"],
                    asg_name=arn.split("autoScalingGroupName/", 1)[-1] if arn else None,
                    managed_scaling=(asg.get("managedScaling") or {}).get("status") == "ENABLED",
                )
            )
    return ClusterCapacity(
        tuple(providers), _strategy(raw.get("defaultCapacityProviderStrategy") or [])
    )


def container_instances(ecs: ECSClient, cluster_arn: str) -> list[ContainerInstanceInfo]:
    """The cluster's ACTIVE container instances, with zone and remaining CPU/memory."""
    arns: list[str] = []
    token: str | None = None
    while True:
        kwargs: dict[str, Any] = {"cluster": cluster_arn, "status": "ACTIVE"}
        if token:
            kwargs["nextToken"] = token
        with translate("ecs:ListContainerInstances"):
            response = ecs.list_container_instances(**kwargs)
        arns.extend(response.get("containerInstanceArns", []))
        token = response.get("nextToken")
        if not token:
            break
    out: list[ContainerInstanceInfo] = []
    for start in range(0, len(arns), DESCRIBE_INSTANCES_BATCH):
        with translate("ecs:DescribeContainerInstances"):
            described = ecs.describe_container_instances(
                cluster=cluster_arn,
                containerInstances=arns[start : start + DESCRIBE_INSTANCES_BATCH],
            )
        for ci in described.get("containerInstances", []):
            remaining = {r["name"]: r for r in ci.get("remainingResources", []) if "name" in r}
            zone = next(
                (
                    a.get("value")
                    for a in ci.get("attributes", [])
                    if a.get("name") == "ecs.availability-zone"
                ),
                None,
            )
            out.append(
                ContainerInstanceInfo(
                    arn=ci["containerInstanceArn"],
                    zone=zone,
                    remaining_cpu=int(remaining.get("CPU", {}).get("integerValue", 0)),
                    remaining_memory=int(remaining.get("MEMORY", {}).get("integerValue", 0)),
                    ec2_instance_id=ci.get("ec2InstanceId"),
                )
            )
    return out


def task_size(task_definition: dict[str, Any]) -> tuple[int, int]:
    """(CPU units, MiB) one task needs: the task-level values, else the containers' sum."""
    containers = task_definition.get("containerDefinitions", [])

    def number(value: Any) -> int:
        try:
            return int(str(value))
        except ValueError:
            return 0

    cpu = number(task_definition.get("cpu") or 0) or sum(
        number(c.get("cpu", 0)) for c in containers
    )
    memory = number(task_definition.get("memory") or 0) or sum(
        number(c.get("memory") or c.get("memoryReservation") or 0) for c in containers
    )
    return cpu, memory


def subnet_zones(ec2: EC2Client, subnets: Iterable[str]) -> tuple[str, ...]:
    """The Availability Zones of ``subnets`` (one DescribeSubnets call)."""
    ids = sorted(set(subnets))
    if not ids:
        return ()
    with translate("ec2:DescribeSubnets"):
        response = ec2.describe_subnets(SubnetIds=ids)
    return tuple(
        sorted(
            {s["AvailabilityZone"] for s in response.get("Subnets", []) if "AvailabilityZone" in s}
        )
    )


# -- changes ------------------------------------------------------------------------------
def stop_task(ecs: ECSClient, params: dict[str, Any]) -> dict[str, Any]:
    """StopTask(cluster, task, reason)."""
    with translate("ecs:StopTask"):
        response = ecs.stop_task(**params)
    task = response.get("task", {})
    return {"taskArn": task.get("taskArn"), "desiredStatus": task.get("desiredStatus")}


def update_service(ecs: ECSClient, params: dict[str, Any]) -> dict[str, Any]:
    """UpdateService for the flag, strategy or count changes (never a new task definition)."""
    with translate("ecs:UpdateService"):
        response = ecs.update_service(**params)
    service = response.get("service", {})
    return {
        "desiredCount": service.get("desiredCount"),
        "availabilityZoneRebalancing": service.get("availabilityZoneRebalancing"),
        "capacityProviderStrategy": service.get("capacityProviderStrategy"),
    }


def rebalancing_params(cluster_arn: str, service_arn: str) -> dict[str, Any]:
    """Turn on ECS's own AZ rebalancing (starts no deployment)."""
    return {
        "cluster": cluster_arn,
        "service": service_arn,
        "availabilityZoneRebalancing": "ENABLED",
    }


#: ECS refuses a change to a service's capacity provider strategy without a new deployment
#: ("InvalidParameterException: When switching from launch type to capacity provider
#: strategy on an existing service, or making a change to a capacity provider strategy on a
#: service that is already using one, you must force a new deployment."). The new
#: deployment keeps the task definition; it re-places the tasks under the new strategy.
STRATEGY_CHANGE_FORCES_DEPLOYMENT = True


def strategy_update_params(
    cluster_arn: str, service_arn: str, strategy: Iterable[StrategyItem]
) -> dict[str, Any]:
    return {
        "cluster": cluster_arn,
        "service": service_arn,
        "capacityProviderStrategy": strategy_params(strategy),
        "forceNewDeployment": STRATEGY_CHANGE_FORCES_DEPLOYMENT,
    }


def desired_count_params(cluster_arn: str, service_arn: str, desired: int) -> dict[str, Any]:
    return {"cluster": cluster_arn, "service": service_arn, "desiredCount": desired}
