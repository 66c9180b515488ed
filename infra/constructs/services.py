"""Services: the ECS services of the config, with safe deployments, scaling and opt-in tags."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from aws_cdk import ArnFormat, RemovalPolicy, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.nag import acknowledge, default_policy

Capacity = Literal["fargate", "fargate-spot-mix", "ec2"]


@dataclass(frozen=True)
class ScalingSpec:
    """Service Auto Scaling: task-count bounds and the CPU target of target tracking."""

    min: int
    max: int
    cpu_target: int = 60


@dataclass(frozen=True)
class ServiceSpec:
    """One service.

    ``image``: the container image the task definition starts from. ``tags``: written on
    the ECS service (the opt-in tags of DESIGN section 3). ``scaling``: None for a fixed
    count. ``min_healthy_percent`` / ``max_healthy_percent``: deployment bounds (100/200).
    """

    name: str
    capacity: Capacity
    image: ecs.ContainerImage
    container_name: str
    container_port: int = 8080
    cpu: int = 256
    memory_mib: int = 512
    desired_count: int = 2
    scaling: ScalingSpec | None = None
    tags: Mapping[str, str] = field(default_factory=dict)
    min_healthy_percent: int = 100
    max_healthy_percent: int = 200


@dataclass(frozen=True)
class ServicesProps:
    """``cluster`` with Fargate capacity providers enabled and ``ec2_capacity_provider``
    (its name) for ``ec2`` services. ``fargate_base`` / ``fargate_weight`` / ``spot_weight``:
    the ``fargate-spot-mix`` strategy. ``log_group_prefix``: each service logs to
    ``<prefix>/<name>`` with ``log_retention``. ``cluster_name``: the cluster's physical
    name, when known, so that ARNs in policies and event patterns read plainly (default:
    a reference to the cluster)."""

    cluster: ecs.ICluster
    vpc: ec2.IVpc
    ec2_capacity_provider: str
    services: tuple[ServiceSpec, ...]
    log_group_prefix: str
    cluster_name: str | None = None
    subnets: ec2.SubnetSelection | None = None
    fargate_base: int = 1
    fargate_weight: int = 1
    spot_weight: int = 3
    log_retention: logs.RetentionDays = logs.RetentionDays.ONE_MONTH
    removal_policy: RemovalPolicy = RemovalPolicy.RETAIN


class Services(Construct):
    """Exposes ``services``, ``task_definitions``, ``security_groups`` and ``log_groups`` by
    service name; ``grant_deploy`` lets automation roll services to new task definitions."""

    def __init__(self, scope: Construct, construct_id: str, *, props: ServicesProps) -> None:
        super().__init__(scope, construct_id)
        self._cluster = props.cluster
        self.cluster_name = props.cluster_name or props.cluster.cluster_name
        subnets = props.subnets or ec2.SubnetSelection(
            subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS
        )
        self.services: dict[str, ecs.BaseService] = {}
        self.task_definitions: dict[str, ecs.TaskDefinition] = {}
        self.security_groups: dict[str, ec2.SecurityGroup] = {}
        self.log_groups: dict[str, logs.LogGroup] = {}
        self._roles: list[iam.IRole] = []

        for spec in props.services:
            scope_ = Construct(self, spec.name)
            log_group = logs.LogGroup(
                scope_,
                "Logs",
                log_group_name=f"{props.log_group_prefix}/{spec.name}",
                retention=props.log_retention,
                removal_policy=props.removal_policy,
            )
            sg = ec2.SecurityGroup(
                scope_,
                "SecurityGroup",
                vpc=props.vpc,
                description=f"{spec.name} tasks (no inbound unless a load balancer is added)",
                allow_all_outbound=True,
            )
            task_def: ecs.TaskDefinition
            if spec.capacity == "ec2":
                task_def = ecs.Ec2TaskDefinition(
                    scope_, "TaskDefinition", network_mode=ecs.NetworkMode.AWS_VPC
                )
            else:
                task_def = ecs.FargateTaskDefinition(
                    scope_,
                    "TaskDefinition",
                    cpu=spec.cpu,
                    memory_limit_mib=spec.memory_mib,
                    runtime_platform=ecs.RuntimePlatform(
                        cpu_architecture=ecs.CpuArchitecture.X86_64,
                        operating_system_family=ecs.OperatingSystemFamily.LINUX,
                    ),
                )
            task_def.add_container(
                spec.container_name,
                container_name=spec.container_name,
                image=spec.image,
                cpu=spec.cpu if spec.capacity == "ec2" else None,
                memory_limit_mib=spec.memory_mib,
                essential=True,
                port_mappings=[ecs.PortMapping(container_port=spec.container_port)],
                logging=ecs.LogDrivers.aws_logs(stream_prefix="ecs", log_group=log_group),
            )
            common = {
                "cluster": props.cluster,
                "task_definition": task_def,
                "service_name": spec.name,
                "desired_count": spec.desired_count,
                "security_groups": [sg],
                "vpc_subnets": subnets,
                "circuit_breaker": ecs.DeploymentCircuitBreaker(enable=True, rollback=True),
                "min_healthy_percent": spec.min_healthy_percent,
                "max_healthy_percent": spec.max_healthy_percent,
                "availability_zone_rebalancing": ecs.AvailabilityZoneRebalancing.ENABLED,
                "enable_ecs_managed_tags": True,
                "propagate_tags": ecs.PropagatedTagSource.SERVICE,
            }
            service: ecs.BaseService
            if spec.capacity == "ec2":
                service = ecs.Ec2Service(
                    scope_,
                    "Service",
                    capacity_provider_strategies=[
                        ecs.CapacityProviderStrategy(
                            capacity_provider=props.ec2_capacity_provider, weight=1
                        )
                    ],
                    placement_strategies=[
                        ecs.PlacementStrategy.spread_across(
                            ecs.BuiltInAttributes.AVAILABILITY_ZONE
                        ),
                        ecs.PlacementStrategy.spread_across_instances(),
                    ],
                    **common,
                )
            else:
                strategies = [ecs.CapacityProviderStrategy(capacity_provider="FARGATE", weight=1)]
                if spec.capacity == "fargate-spot-mix":
                    strategies = [
                        ecs.CapacityProviderStrategy(
                            capacity_provider="FARGATE",
                            base=props.fargate_base,
                            weight=props.fargate_weight,
                        ),
                        ecs.CapacityProviderStrategy(
                            capacity_provider="FARGATE_SPOT", weight=props.spot_weight
                        ),
                    ]
                service = ecs.FargateService(
                    scope_, "Service", capacity_provider_strategies=strategies, **common
                )
            # The opt-in tags, on the service itself (CloudFormation's Tags property).
            cfn_service = service.node.default_child
            assert isinstance(cfn_service, ecs.CfnService)
            for key, value in sorted(spec.tags.items()):
                cfn_service.tags.set_tag(key, value)

            if spec.scaling is not None:
                count = service.auto_scale_task_count(
                    min_capacity=spec.scaling.min, max_capacity=spec.scaling.max
                )
                count.scale_on_cpu_utilization(
                    "CpuTarget", target_utilization_percent=spec.scaling.cpu_target
                )

            self.services[spec.name] = service
            self.task_definitions[spec.name] = task_def
            self.security_groups[spec.name] = sg
            self.log_groups[spec.name] = log_group
            execution_role = task_def.obtain_execution_role()
            self._roles.append(task_def.task_role)
            self._roles.append(execution_role)
            if isinstance(execution_role, iam.Role) and (
                execution_role.node.try_find_child("DefaultPolicy") is not None
            ):
                acknowledge(
                    default_policy(execution_role),
                    "AwsSolutions-IAM5[Resource::*]",
                    "ecr:GetAuthorizationToken (image pulls) has no resource-level scope; "
                    "pulls and log writes are scoped to the repository and the log group.",
                )
            if spec.capacity == "ec2":
                acknowledge(
                    task_def.node.default_child or task_def,
                    "AwsSolutions-ECS2",
                    "The only variable is AWS_REGION, which CDK adds to EC2 task definitions; "
                    "it is not a secret.",
                )

    @property
    def service_arn_prefix(self) -> str:
        """``arn:<partition>:ecs:<region>:<account>:service/<cluster>/``: every service of the
        cluster, including ones created outside this app that opt in by tag."""
        return Stack.of(self).format_arn(
            service="ecs",
            resource="service",
            resource_name=f"{self.cluster_name}/",
            arn_format=ArnFormat.SLASH_RESOURCE_NAME,
        )

    @property
    def roles(self) -> list[iam.IRole]:
        """The task and execution roles of the services (what automation may pass to ECS)."""
        return list(self._roles)

    def grant_deploy(self, grantee: iam.IGrantable) -> None:
        """Let ``grantee`` roll the cluster's services to new task definition revisions.

        Service-level actions are scoped to this cluster's services. Task definition actions
        have no resource-level scope in IAM (RegisterTaskDefinition, DescribeTaskDefinition,
        DeregisterTaskDefinition) and the tag look-up is account-wide by nature.
        """
        stack = Stack.of(self)
        services_arn = f"{self.service_arn_prefix}*"
        task_definitions_arn = stack.format_arn(
            service="ecs",
            resource="task-definition",
            resource_name="*",
            arn_format=ArnFormat.SLASH_RESOURCE_NAME,
        )
        iam.Grant.add_to_principal(
            grantee=grantee,
            actions=["ecs:DescribeServices", "ecs:UpdateService"],
            resource_arns=[services_arn],
        ).assert_success()
        iam.Grant.add_to_principal(
            grantee=grantee,
            actions=["ecs:ListTagsForResource"],
            resource_arns=[services_arn, task_definitions_arn],
        ).assert_success()
        iam.Grant.add_to_principal(
            grantee=grantee,
            actions=[
                "ecs:DescribeTaskDefinition",
                "ecs:RegisterTaskDefinition",
                "ecs:DeregisterTaskDefinition",
                "tag:GetResources",
            ],
            resource_arns=["*"],
        ).assert_success()
        # Tags on a task definition are written by RegisterTaskDefinition itself only.
        grantee.grant_principal.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["ecs:TagResource"],
                resources=[task_definitions_arn],
                conditions={"StringEquals": {"ecs:CreateAction": "RegisterTaskDefinition"}},
            )
        )
        grantee.grant_principal.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["iam:PassRole"],
                resources=[role.role_arn for role in self._roles],
                conditions={"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}},
            )
        )
