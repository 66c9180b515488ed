"""The reaction functions and the reconciler, one construct each: its rules, its grants and the
acknowledgements of the wildcards in them, on top of ``AutomatedFunction``.

* ``ImageEvents``: ECR pushes, ECR basic scans, Inspector scans and findings of the managed
  repositories; registers task definition revisions and rolls services to them.
* ``DeploymentEvents``: ECS deployment state changes of the managed clusters' services;
  rolls back.
* ``TaskEvents``: ECS task state changes of the managed clusters and a re-check schedule;
  zone balance (stops tasks, moves Auto Scaling groups) and crash-loop rollbacks.
* ``CapacityEvents``: the scaling alarms' state changes, placement failures and steady
  states of the managed clusters' services, EC2 Spot interruption warnings.
* ``Reconciler``: a schedule (``reconciler.rate_minutes``); deploys through image-events'
  flow, so it has image-events' grants, and puts its own shards (``Reconcile Shard``, source
  ``ecs-autopilot``) on the default bus, which its shard rule brings back to it.

Every rule pins the account and the region (``Aws.ACCOUNT_ID``, ``Aws.REGION``) and is built
by ``autopilot.contract``'s pattern builders from the managed clusters' ARNs and the
repository filter; the grants come from ``infra.managed.ManagedScope``. Each function's
environment is its settings model's fields (``AutomatedFunction``).
"""

from __future__ import annotations

from dataclasses import dataclass

from autopilot import contract
from autopilot.settings import (
    CapacityEventsSettings,
    DeploymentEventsSettings,
    ImageEventsSettings,
    ReconcilerSettings,
    TaskEventsSettings,
)
from aws_cdk import Aws
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from constructs import Construct

from infra.constructs.function import AutomatedFunction, FunctionProps
from infra.managed import arn, nag_id

#: Where the rules listen: this stack's account and region.
_HERE = (Aws.ACCOUNT_ID, Aws.REGION)


@dataclass(frozen=True)
class ImageEventsProps:
    """``function``: what every function shares (its ``managed`` scope names the
    repositories whose pushes and scans it reacts to and whose push times it reads)."""

    function: FunctionProps


class ImageEvents(AutomatedFunction):
    """image-events: rules ``<prefix>-ecr-image-action``, ``-ecr-image-scan``,
    ``-inspector2-scan``, ``-inspector2-finding`` (findings that change after a deploy:
    the re-gate of running images); the only function that registers task definition
    revisions (and so passes the services' roles) and reads ECR (``ManagedScope.grant_deploy``)."""

    spec = contract.IMAGE_EVENTS
    settings_model = ImageEventsSettings

    def __init__(self, scope: Construct, construct_id: str, *, props: ImageEventsProps) -> None:
        super().__init__(scope, construct_id, props=props.function)
        prefix = props.function.name_prefix
        managed = props.function.managed
        repos = managed.repositories
        managed.grant_deploy(self.role)
        self.add_rule(
            "EcrImageActionRule",
            f"{prefix}-ecr-image-action",
            contract.ecr_image_action_pattern(*_HERE, repos),
        )
        self.add_rule(
            "EcrImageScanRule",
            f"{prefix}-ecr-image-scan",
            contract.ecr_image_scan_pattern(*_HERE, repos),
        )
        self.add_rule(
            "Inspector2ScanRule",
            f"{prefix}-inspector2-scan",
            contract.inspector2_scan_pattern(*_HERE, repos, arn("ecr", "repository/")),
        )
        self.add_rule(
            "Inspector2FindingRule",
            f"{prefix}-inspector2-finding",
            contract.inspector2_finding_pattern(*_HERE, repos, arn("ecr", "repository/")),
        )
        self.acknowledge_grants(managed.repository_findings())


@dataclass(frozen=True)
class DeploymentEventsProps:
    """``function``: what every function shares."""

    function: FunctionProps


class DeploymentEvents(AutomatedFunction):
    """deployment-events: rules ``<prefix>-ecs-deployment`` (the managed clusters'
    services) and ``<prefix>-ecs-hook`` (their PAUSE hooks' state changes, read back
    with ``ManagedScope.grant_read_service_deployments``); rolls back to revisions that
    exist (``ManagedScope.grant_roll_back``), which passes no role, or through ECS while a
    deployment is in progress (``ManagedScope.grant_roll_back_through_ecs``)."""

    spec = contract.DEPLOYMENT_EVENTS
    settings_model = DeploymentEventsSettings

    def __init__(
        self, scope: Construct, construct_id: str, *, props: DeploymentEventsProps
    ) -> None:
        super().__init__(scope, construct_id, props=props.function)
        managed = props.function.managed
        managed.grant_roll_back(self.role)
        managed.grant_roll_back_through_ecs(self.role)
        self.add_rule(
            "EcsDeploymentRule",
            f"{props.function.name_prefix}-ecs-deployment",
            contract.ecs_deployment_pattern(*_HERE, managed.cluster_arns),
        )
        # approval at autopilot's PAUSE hook (manual-traffic): the hook's state changes,
        # each decided on DescribeServiceDeployments (``flows.traffic_approval``)
        managed.grant_read_service_deployments(self.role)
        self.add_rule(
            "EcsHookRule",
            f"{props.function.name_prefix}-ecs-hook",
            contract.ecs_hook_pattern(*_HERE, managed.cluster_arns),
        )
        self.acknowledge_grants(managed.service_deployment_findings())


@dataclass(frozen=True)
class TaskEventsProps:
    """``function``: what every function shares. ``recheck_interval_minutes``: the
    zone-balance re-check rule runs ``rate(<this> minutes)`` (default 1)."""

    function: FunctionProps
    recheck_interval_minutes: int = 1


class TaskEvents(AutomatedFunction):
    """task-events: rule ``<prefix>-ecs-task`` (the managed clusters' tasks) and the
    schedule ``<prefix>-task-recheck``; the managed clusters' tasks, container instances,
    capacity providers and tagged Auto Scaling groups; native AZ rebalancing on their
    services; crash loops roll back through deployment-events' path
    (``ManagedScope.grant_roll_back``)."""

    spec = contract.TASK_EVENTS
    settings_model = TaskEventsSettings

    def __init__(self, scope: Construct, construct_id: str, *, props: TaskEventsProps) -> None:
        super().__init__(scope, construct_id, props=props.function)
        shared = props.function
        managed = shared.managed
        # crash loops roll back through deployment-events' own path: existing revisions
        # only, no role passed; zone balance turns ECS's own AZ rebalancing on, on services
        # that may carry no autopilot tag (a missing autopilot:rebalance means on), so
        # UpdateService is granted on the managed clusters' services without the repository
        # condition
        managed.grant_roll_back(self.role, update=False)
        managed.grant_roll_back_through_ecs(self.role)
        managed.grant_change_services(self.role)
        self.add_rule(
            "EcsTaskRule",
            f"{shared.name_prefix}-ecs-task",
            contract.ecs_task_pattern(*_HERE, managed.cluster_arns),
        )
        # The trailing edge of the debounce: due re-checks (debounced or deferred
        # evaluations) are evaluated on this schedule.
        self.add_schedule(
            "RecheckSchedule",
            f"{shared.name_prefix}-task-recheck",
            contract.recheck_schedule(props.recheck_interval_minutes),
        )
        managed.grant_tasks(self.role)
        self.role.add_to_principal_policy(
            iam.PolicyStatement(actions=["ec2:DescribeSubnets"], resources=["*"])
        )
        managed.grant_capacity(self.role)
        self.acknowledge_grants(
            [
                (
                    "AwsSolutions-IAM5[Resource::*]",
                    "No resource-level scope exists for ecs:DescribeTaskDefinition, "
                    "ec2:DescribeSubnets, autoscaling:DescribeAutoScalingGroups and X-Ray; "
                    "ecs:ListTasks is conditioned on ecs:cluster = a managed cluster.",
                ),
                *managed.task_findings(),
                *managed.capacity_findings(),
                *managed.service_deployment_findings(),
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
    ``-spot-warning``; the managed clusters' services (desired count, capacity provider
    strategy), their scalable targets, the clusters' capacity providers and tagged Auto
    Scaling groups, the tags of the managed alarms. Registers no task definition, passes no
    role, reads no image."""

    spec = contract.CAPACITY_EVENTS
    settings_model = CapacityEventsSettings

    def __init__(self, scope: Construct, construct_id: str, *, props: CapacityEventsProps) -> None:
        super().__init__(scope, construct_id, props=props.function)
        shared = props.function
        prefix = shared.name_prefix
        managed = shared.managed
        self.add_rule(
            "AlarmRule",
            f"{prefix}-scaling-alarms",
            contract.alarm_pattern(*_HERE, props.alarm_name_prefix),
        )
        self.add_rule(
            "EcsServiceActionRule",
            f"{prefix}-ecs-service-action",
            contract.ecs_placement_failure_pattern(*_HERE, managed.cluster_arns),
        )
        self.add_rule(
            "SpotWarningRule", f"{prefix}-spot-warning", contract.spot_warning_pattern(*_HERE)
        )
        role = self.role
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["ecs:DescribeServices", "ecs:ListTagsForResource"],
                resources=managed.in_clusters("service"),
            )
        )
        # a service an alarm names in its tags, or one whose Fargate Spot placement failed
        managed.grant_change_services(role)
        managed.grant_capacity(role)
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=[
                    "autoscaling:DescribeAutoScalingInstances",
                    "application-autoscaling:DescribeScalableTargets",
                ],
                resources=["*"],
            )
        )
        managed.grant_scalable_targets(role)
        alarms = arn("cloudwatch", f"alarm:{props.alarm_name_prefix}*")
        role.add_to_principal_policy(
            iam.PolicyStatement(actions=["cloudwatch:ListTagsForResource"], resources=[alarms])
        )
        # the alarm's state now (whether its event is true): CloudWatch answers composite
        # alarms only to a DescribeAlarms allowed on "*" (a narrower scope answers none)
        role.add_to_principal_policy(
            iam.PolicyStatement(actions=["cloudwatch:DescribeAlarms"], resources=["*"])
        )
        self.acknowledge_grants(
            [
                (
                    "AwsSolutions-IAM5[Resource::*]",
                    "No resource-level scope exists for autoscaling:DescribeAutoScalingGroups, "
                    "autoscaling:DescribeAutoScalingInstances, "
                    "application-autoscaling:DescribeScalableTargets and X-Ray; "
                    "cloudwatch:DescribeAlarms (read only: the alarm's state now) answers "
                    "composite alarms only when allowed on * (a narrower scope answers none).",
                ),
                (
                    nag_id(arn("application-autoscaling", "scalable-target/*")),
                    "RegisterScalableTarget (moving a service's scale-out floor) is authorized "
                    "on scalable-target/<random id>: the ids are not known at synth; it is "
                    "conditioned on service namespace ecs and dimension ecs:service:DesiredCount.",
                ),
                (
                    nag_id(alarms),
                    "ListTagsForResource on the alarms this app manages only (their names share "
                    "the prefix the capacity rule matches).",
                ),
                *managed.capacity_findings(),
            ]
        )


@dataclass(frozen=True)
class ReconcilerProps:
    """``function``: what every function shares. ``rate_minutes``: the sweep rule runs
    ``rate(<this> minutes)`` (default 5; at least 1)."""

    function: FunctionProps
    rate_minutes: int = 5


class Reconciler(AutomatedFunction):
    """reconciler: the schedule ``<prefix>-reconcile`` and the rule ``<prefix>-reconcile-shard``
    (the shards its tick puts on the default bus past ``reconciler.shard_size`` services, one
    ``events:PutEvents`` of its own source and detail-type on that bus); sweeps the managed
    services and deploys through image-events' flow, so it reads and changes what image-events does
    (``ManagedScope.grant_deploy``: the tag look-up, DescribeServices, the task definitions,
    the managed repositories' images and scans, RegisterTaskDefinition, UpdateService on
    tagged services, PassRole of the allowed roles), and its acknowledgements are
    image-events' own."""

    spec = contract.RECONCILER
    settings_model = ReconcilerSettings

    def __init__(self, scope: Construct, construct_id: str, *, props: ReconcilerProps) -> None:
        super().__init__(scope, construct_id, props=props.function)
        managed = props.function.managed
        managed.grant_deploy(self.role)
        managed.grant_retention(self.role)  # the protective tags (flows.retention)
        expression = contract.reconcile_schedule(props.rate_minutes)
        rule = events.Rule(
            self,
            "SweepSchedule",
            rule_name=f"{props.function.name_prefix}-reconcile",
            description=f"{expression} -> {self.function_name} (the reconciler's sweep)",
            schedule=events.Schedule.expression(expression),
        )
        rule.add_target(self._target())
        self.rules.append(rule)
        # fan-out: a tick over reconciler.shard_size services puts its shards on the default
        # bus (only its own source and detail-type); this rule brings them back
        self.role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["events:PutEvents"],
                resources=[arn("events", "event-bus/default")],
                conditions={
                    "StringEquals": {
                        "events:source": contract.SOURCE_AUTOPILOT,
                        "events:detail-type": contract.DT_RECONCILE_SHARD,
                    }
                },
            )
        )
        self.add_rule(
            "ShardRule",
            f"{props.function.name_prefix}-reconcile-shard",
            contract.reconcile_shard_pattern(*_HERE),
        )
        self.acknowledge_grants([*managed.repository_findings(), *managed.pass_role_findings()])
