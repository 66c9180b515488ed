"""The four reaction functions, one construct each: its rules, its grants and the
acknowledgements of the wildcards in them, on top of ``AutomatedFunction``.

* ``ImageEvents``: ECR pushes, ECR basic scans and Inspector scans of the declared
  repositories; registers task definition revisions and rolls services to them.
* ``DeploymentEvents``: ECS deployment state changes of the cluster's services; rolls back.
* ``TaskEvents``: ECS task state changes of the cluster and a re-check schedule; zone
  balance (stops tasks, moves the Auto Scaling group) and crash-loop rollbacks.
* ``CapacityEvents``: the scaling alarms' state changes (``ScalingAlarms``), placement
  failures and steady states of the cluster's services, EC2 Spot interruption warnings.

Event patterns and rule schedules come from ``autopilot.contract``; each function's
environment is its settings model's fields (``AutomatedFunction``).
"""

from __future__ import annotations

from dataclasses import dataclass

from autopilot import contract
from autopilot.settings import (
    CapacityEventsSettings,
    DeploymentEventsSettings,
    ImageEventsSettings,
    TaskEventsSettings,
)
from aws_cdk import ArnFormat, Stack
from aws_cdk import aws_autoscaling as autoscaling
from aws_cdk import aws_iam as iam
from constructs import Construct

from infra.constructs.cluster import Cluster
from infra.constructs.function import AutomatedFunction, FunctionProps
from infra.constructs.registry import Registry
from infra.nag import ARN_PREFIX, REGION_ACCOUNT


@dataclass(frozen=True)
class ImageEventsProps:
    """``function``: what every function shares. ``registry``: the repositories whose
    pushes and scans it reacts to and whose push times it reads."""

    function: FunctionProps
    registry: Registry


class ImageEvents(AutomatedFunction):
    """image-events: rules ``<prefix>-ecr-image-action``, ``-ecr-image-scan``,
    ``-inspector2-scan``; the only function that registers task definition revisions
    (``Services.grant_deploy``) and reads ECR (``Registry.grant_read_images``)."""

    spec = contract.IMAGE_EVENTS
    settings_model = ImageEventsSettings

    def __init__(self, scope: Construct, construct_id: str, *, props: ImageEventsProps) -> None:
        super().__init__(scope, construct_id, props=props.function)
        prefix = props.function.name_prefix
        registry = props.registry
        props.function.services.grant_deploy(self.role)
        # push times of candidate images (ECR DescribeImages), nothing else of ECR
        registry.grant_read_images(self.role)
        self.add_rule(
            "EcrImageActionRule",
            f"{prefix}-ecr-image-action",
            contract.ecr_image_action_pattern(registry.repository_names),
        )
        self.add_rule(
            "EcrImageScanRule",
            f"{prefix}-ecr-image-scan",
            contract.ecr_image_scan_pattern(registry.repository_names),
        )
        self.add_rule(
            "Inspector2ScanRule",
            f"{prefix}-inspector2-scan",
            contract.inspector2_scan_pattern(registry.repository_arns),
        )
        self.acknowledge_grants()


@dataclass(frozen=True)
class DeploymentEventsProps:
    """``function``: what every function shares."""

    function: FunctionProps


class DeploymentEvents(AutomatedFunction):
    """deployment-events: rule ``<prefix>-ecs-deployment`` (the cluster's services); rolls
    back to revisions that exist (``Services.grant_roll_back``)."""

    spec = contract.DEPLOYMENT_EVENTS
    settings_model = DeploymentEventsSettings

    def __init__(
        self, scope: Construct, construct_id: str, *, props: DeploymentEventsProps
    ) -> None:
        super().__init__(scope, construct_id, props=props.function)
        services = props.function.services
        services.grant_roll_back(self.role)
        self.add_rule(
            "EcsDeploymentRule",
            f"{props.function.name_prefix}-ecs-deployment",
            contract.ecs_deployment_pattern(services.service_arn_prefix),
        )
        self.acknowledge_grants()


@dataclass(frozen=True)
class TaskEventsProps:
    """``function``: what every function shares. ``recheck_interval_minutes``: the
    zone-balance re-check rule runs ``rate(<this> minutes)`` (default 1)."""

    function: FunctionProps
    recheck_interval_minutes: int = 1


class TaskEvents(AutomatedFunction):
    """task-events: rule ``<prefix>-ecs-task`` (the cluster's tasks) and the schedule
    ``<prefix>-task-recheck``; the cluster's tasks, container instances, EC2 capacity
    provider and Auto Scaling group; crash loops roll back through deployment-events' path
    (``Services.grant_roll_back``)."""

    spec = contract.TASK_EVENTS
    settings_model = TaskEventsSettings

    def __init__(self, scope: Construct, construct_id: str, *, props: TaskEventsProps) -> None:
        super().__init__(scope, construct_id, props=props.function)
        shared = props.function
        cluster = shared.cluster
        # crash loops roll back through deployment-events' own path: existing revisions only
        shared.services.grant_roll_back(self.role)
        self.add_rule(
            "EcsTaskRule",
            f"{shared.name_prefix}-ecs-task",
            contract.ecs_task_pattern(cluster.cluster_arn),
        )
        # The trailing edge of the debounce: due re-checks (debounced or deferred
        # evaluations) are evaluated on this schedule.
        self.add_schedule(
            "RecheckSchedule",
            f"{shared.name_prefix}-task-recheck",
            contract.recheck_schedule(props.recheck_interval_minutes),
        )
        arns = _Arns(self, shared.services.cluster_name)
        cluster_condition = {"ArnEquals": {"ecs:cluster": cluster.cluster_arn}}
        role = self.role
        # ListTasks is authorized on container instances: any, of this cluster only
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["ecs:ListTasks"], resources=["*"], conditions=cluster_condition
            )
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["ecs:DescribeTasks", "ecs:StopTask"],
                resources=[arns.ecs("task", f"{arns.cluster}/*")],
                conditions=cluster_condition,
            )
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["ecs:DescribeContainerInstances"],
                resources=[arns.ecs("container-instance", f"{arns.cluster}/*")],
                conditions=cluster_condition,
            )
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["ecs:DescribeClusters", "ecs:ListContainerInstances"],
                resources=[cluster.cluster_arn],
            )
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(actions=["ec2:DescribeSubnets"], resources=["*"])
        )
        _grant_capacity_provider_and_asg(self, cluster)
        self.acknowledge_grants(
            [
                (
                    "AwsSolutions-IAM5[Resource::*]",
                    "No resource-level scope exists for ecs:RegisterTaskDefinition, "
                    "ecs:DescribeTaskDefinition, ecs:DeregisterTaskDefinition, tag:GetResources, "
                    "ec2:DescribeSubnets, autoscaling:DescribeAutoScalingGroups and X-Ray; "
                    "ecs:ListTasks is conditioned on ecs:cluster = this cluster.",
                ),
                (
                    f"AwsSolutions-IAM5[Resource::{ARN_PREFIX}:ecs:{REGION_ACCOUNT}:task/"
                    f"{arns.cluster}/*]",
                    "DescribeTasks/StopTask on this cluster's tasks (task ids are not known in "
                    "advance), also conditioned on ecs:cluster = this cluster.",
                ),
                (
                    f"AwsSolutions-IAM5[Resource::{ARN_PREFIX}:ecs:{REGION_ACCOUNT}:"
                    f"container-instance/{arns.cluster}/*]",
                    "DescribeContainerInstances on this cluster's instances (launched by its "
                    "Auto Scaling group, ids not known in advance).",
                ),
                _asg_acknowledgement(self, cluster),
            ]
        )


@dataclass(frozen=True)
class CapacityEventsProps:
    """``function``: what every function shares. ``alarm_name_prefix``: the names of the
    scaling alarms it acts on (its alarm rule matches the prefix; default ``autopilot-``)."""

    function: FunctionProps
    alarm_name_prefix: str = "autopilot-"


class CapacityEvents(AutomatedFunction):
    """capacity-events: rules ``<prefix>-scaling-alarms``, ``-ecs-service-action``,
    ``-spot-warning``; the cluster's services (desired count, capacity provider strategy),
    their scalable targets, the cluster's EC2 capacity provider and Auto Scaling group, the
    tags of the managed alarms. Registers no task definition, passes no role, reads no
    image."""

    spec = contract.CAPACITY_EVENTS
    settings_model = CapacityEventsSettings

    def __init__(self, scope: Construct, construct_id: str, *, props: CapacityEventsProps) -> None:
        super().__init__(scope, construct_id, props=props.function)
        shared = props.function
        prefix = shared.name_prefix
        cluster = shared.cluster
        self.add_rule(
            "AlarmRule",
            f"{prefix}-scaling-alarms",
            contract.alarm_pattern(props.alarm_name_prefix),
        )
        self.add_rule(
            "EcsServiceActionRule",
            f"{prefix}-ecs-service-action",
            contract.ecs_placement_failure_pattern(cluster.cluster_arn),
        )
        self.add_rule("SpotWarningRule", f"{prefix}-spot-warning", contract.spot_warning_pattern())
        arns = _Arns(self, shared.services.cluster_name)
        role = self.role
        services = f"{shared.services.service_arn_prefix}*"
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=[
                    "ecs:DescribeServices",
                    "ecs:UpdateService",
                    "ecs:ListTagsForResource",
                ],
                resources=[services],
            )
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(actions=["ecs:DescribeClusters"], resources=[cluster.cluster_arn])
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=[
                    "autoscaling:DescribeAutoScalingInstances",
                    "application-autoscaling:DescribeScalableTargets",
                ],
                resources=["*"],
            )
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["application-autoscaling:RegisterScalableTarget"],
                resources=[arns.scalable_targets],
            )
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["cloudwatch:ListTagsForResource"],
                resources=[arns.alarms(props.alarm_name_prefix)],
            )
        )
        _grant_capacity_provider_and_asg(self, cluster)
        self.acknowledge_grants(
            [
                (
                    "AwsSolutions-IAM5[Resource::*]",
                    "No resource-level scope exists for autoscaling:DescribeAutoScalingGroups, "
                    "autoscaling:DescribeAutoScalingInstances, "
                    "application-autoscaling:DescribeScalableTargets and X-Ray.",
                ),
                (
                    f"AwsSolutions-IAM5[Resource::{ARN_PREFIX}:application-autoscaling:"
                    f"{REGION_ACCOUNT}:scalable-target/*]",
                    "RegisterScalableTarget (moving a service's scale-out floor) is authorized "
                    "on scalable-target/<random id>: the ids are not known at synth, and the "
                    "service has no condition key for the resource id.",
                ),
                (
                    f"AwsSolutions-IAM5[Resource::{ARN_PREFIX}:cloudwatch:{REGION_ACCOUNT}:"
                    f"alarm:{props.alarm_name_prefix}*]",
                    "ListTagsForResource on the alarms this app manages only (their names share "
                    "the prefix the capacity rule matches).",
                ),
                _asg_acknowledgement(self, cluster),
            ]
        )


def _grant_capacity_provider_and_asg(fn: AutomatedFunction, cluster: Cluster) -> None:
    """The cluster's EC2 capacity provider and its Auto Scaling group, nothing else."""
    arns = _Arns(fn, cluster.name)
    fn.role.add_to_principal_policy(
        iam.PolicyStatement(
            actions=["ecs:DescribeCapacityProviders"],
            resources=[arns.ecs("capacity-provider", cluster.capacity_provider_name)],
        )
    )
    fn.role.add_to_principal_policy(
        iam.PolicyStatement(actions=["autoscaling:DescribeAutoScalingGroups"], resources=["*"])
    )
    fn.role.add_to_principal_policy(
        iam.PolicyStatement(
            actions=["autoscaling:SetDesiredCapacity", "autoscaling:UpdateAutoScalingGroup"],
            resources=[cluster.auto_scaling_group.auto_scaling_group_arn],
        )
    )


def _asg_acknowledgement(fn: AutomatedFunction, cluster: Cluster) -> tuple[str, str]:
    """The IAM5 finding of the Auto Scaling group's ARN (its id is a wildcard), with why."""
    asg = cluster.auto_scaling_group.node.default_child
    assert isinstance(asg, autoscaling.CfnAutoScalingGroup)
    logical_id = Stack.of(fn).get_logical_id(asg)
    return (
        f"AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:autoscaling:{REGION_ACCOUNT}:"
        f"autoScalingGroup:*:autoScalingGroupName/<{logical_id}>]",
        "SetDesiredCapacity/UpdateAutoScalingGroup on the cluster's own Auto Scaling group, "
        "named exactly; the wildcard is the group's id, which IAM ARNs require and "
        "CloudFormation does not expose.",
    )


class _Arns:
    """ARNs in the stack's partition, region and account, for the functions' own grants."""

    def __init__(self, scope: Construct, cluster_name: str) -> None:
        self._stack = Stack.of(scope)
        self.cluster = cluster_name

    def ecs(self, resource: str, name: str) -> str:
        return self._stack.format_arn(
            service="ecs",
            resource=resource,
            resource_name=name,
            arn_format=ArnFormat.SLASH_RESOURCE_NAME,
        )

    @property
    def scalable_targets(self) -> str:
        return self._stack.format_arn(
            service="application-autoscaling",
            resource="scalable-target",
            resource_name="*",
            arn_format=ArnFormat.SLASH_RESOURCE_NAME,
        )

    def alarms(self, prefix: str) -> str:
        return self._stack.format_arn(
            service="cloudwatch",
            resource="alarm",
            resource_name=f"{prefix}*",
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
