"""EC2 Auto Scaling and Application Auto Scaling.

The owners of the numbers capacity-events moves: an ASG's desired capacity or minimum,
a service's scalable target minimum (``ecs:service:DesiredCount``).
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any, Final, Literal

from autopilot.aws.translate import translate
from autopilot.domain.service import AsgInfo, ScalableTargetInfo

if TYPE_CHECKING:
    from mypy_boto3_application_autoscaling import ApplicationAutoScalingClient
    from mypy_boto3_autoscaling import AutoScalingClient

ECS_NAMESPACE: Final[Literal["ecs"]] = "ecs"
ECS_DIMENSION: Final[Literal["ecs:service:DesiredCount"]] = "ecs:service:DesiredCount"
IN_SERVICE = frozenset({"InService", "Pending", "Pending:Wait", "Pending:Proceed"})


def describe_asgs(autoscaling: AutoScalingClient, names: list[str]) -> list[AsgInfo]:
    """The named ASGs (one call per 50; the API's page limit)."""
    out: list[AsgInfo] = []
    unique = sorted(set(names))
    for start in range(0, len(unique), 50):
        with translate("autoscaling:DescribeAutoScalingGroups"):
            response = autoscaling.describe_auto_scaling_groups(
                AutoScalingGroupNames=unique[start : start + 50]
            )
        for g in response.get("AutoScalingGroups", []):
            per_zone = Counter(
                i["AvailabilityZone"]
                for i in g.get("Instances", [])
                if i.get("LifecycleState") in IN_SERVICE and "AvailabilityZone" in i
            )
            out.append(
                AsgInfo(
                    name=g["AutoScalingGroupName"],
                    min_size=int(g["MinSize"]),
                    max_size=int(g["MaxSize"]),
                    desired=int(g["DesiredCapacity"]),
                    zones=tuple(sorted(g.get("AvailabilityZones", []))),
                    instances=dict(per_zone),
                )
            )
    return out


def asg_of_instance(autoscaling: AutoScalingClient, instance_id: str) -> str | None:
    """The ASG an EC2 instance belongs to, or None."""
    with translate("autoscaling:DescribeAutoScalingInstances"):
        response = autoscaling.describe_auto_scaling_instances(InstanceIds=[instance_id])
    for instance in response.get("AutoScalingInstances", []):
        return str(instance["AutoScalingGroupName"])
    return None


def set_desired_capacity(autoscaling: AutoScalingClient, params: dict[str, Any]) -> dict[str, Any]:
    """SetDesiredCapacity(AutoScalingGroupName, DesiredCapacity, HonorCooldown=False)."""
    with translate("autoscaling:SetDesiredCapacity"):
        autoscaling.set_desired_capacity(**params)
    return {}


def update_min_size(autoscaling: AutoScalingClient, params: dict[str, Any]) -> dict[str, Any]:
    """UpdateAutoScalingGroup(AutoScalingGroupName, MinSize): a raised minimum above the
    current size also raises the desired capacity (EC2 Auto Scaling does that itself)."""
    with translate("autoscaling:UpdateAutoScalingGroup"):
        autoscaling.update_auto_scaling_group(**params)
    return {}


def desired_capacity_params(name: str, desired: int) -> dict[str, Any]:
    return {"AutoScalingGroupName": name, "DesiredCapacity": desired, "HonorCooldown": False}


def min_size_params(name: str, min_size: int) -> dict[str, Any]:
    return {"AutoScalingGroupName": name, "MinSize": min_size}


def service_resource_id(cluster_name: str, service_name: str) -> str:
    return f"service/{cluster_name}/{service_name}"


def scalable_target(
    aas: ApplicationAutoScalingClient, resource_id: str
) -> ScalableTargetInfo | None:
    """The service's ``ecs:service:DesiredCount`` scalable target, or None."""
    with translate("application-autoscaling:DescribeScalableTargets"):
        response = aas.describe_scalable_targets(
            ServiceNamespace=ECS_NAMESPACE,
            ResourceIds=[resource_id],
            ScalableDimension=ECS_DIMENSION,
        )
    for target in response.get("ScalableTargets", []):
        return ScalableTargetInfo(
            resource_id=target["ResourceId"],
            min_capacity=int(target["MinCapacity"]),
            max_capacity=int(target["MaxCapacity"]),
        )
    return None


def scalable_target_min_params(resource_id: str, min_capacity: int) -> dict[str, Any]:
    """RegisterScalableTarget on an existing target changes only what it is given."""
    return {
        "ServiceNamespace": ECS_NAMESPACE,
        "ResourceId": resource_id,
        "ScalableDimension": ECS_DIMENSION,
        "MinCapacity": min_capacity,
    }


def set_scalable_target_min(
    aas: ApplicationAutoScalingClient, params: dict[str, Any]
) -> dict[str, Any]:
    with translate("application-autoscaling:RegisterScalableTarget"):
        aas.register_scalable_target(**params)
    return {}
