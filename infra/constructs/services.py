"""Services: ECS services with safe deployments, scaling and opt-in tags, in one stack.

An estate larger than one stack has one ``Services`` per stack (``infra/split.py``); they
share the estate's cluster (imported by name outside the estate stack) and its load
balancers' access-log bucket (created by the estate stack's ``Services``, imported by name
by the others)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from autopilot import contract
from autopilot.logic.policy import parse_admission
from autopilot.logic.rollout import parse_alarms, parse_rollout
from aws_cdk import (
    Aws,
    CfnCondition,
    CfnMapping,
    Duration,
    Fn,
    RemovalPolicy,
    Stack,
    region_info,
)
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
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
class LoadBalancerSpec:
    """An internet-facing Application Load Balancer in front of the service (HTTP on
    ``port``); only the load balancer reaches the tasks, on the container port."""

    port: int = 80
    health_check_path: str = "/"
    #: wire what ECS's canary, linear and blue/green deployments shift traffic with: an
    #: alternate target group, the production listener rule and the role ECS uses for it
    alternate_target: bool = False
    #: make the service's deployment alarms (its targets' 5xx responses, its unhealthy
    #: hosts) and name them in its ``autopilot:alarms`` tag
    default_alarms: bool = False


@dataclass(frozen=True)
class ServiceSpec:
    """One service.

    ``image``: the container image the task definition starts from. ``tags``: written on
    the ECS service (the opt-in tags of README.md's tag contract). ``scaling``: None for a
    fixed count. ``min_healthy_percent`` / ``max_healthy_percent``: deployment bounds
    (100/200).
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
    load_balancer: LoadBalancerSpec | None = None
    min_healthy_percent: int = 100
    max_healthy_percent: int = 200
    #: EC2 only: ``spread-zones`` (AZ first, then instances), ``spread-instances`` or
    #: ``binpack`` (memory). Only ``spread-zones`` is eligible for ECS's AZ rebalancing.
    placement: Literal["spread-zones", "spread-instances", "binpack"] = "spread-zones"
    #: ECS's own Availability Zone rebalancing; always off for an ineligible placement.
    az_rebalancing: bool = True


def _admission(service: ecs.BaseService, spec: ServiceSpec, hook: tuple[str, str] | None) -> None:
    """The admission hook (PRE_SCALE_UP) in the service's ``DeploymentConfiguration``, as
    autopilot's deploys add it to an adopted service (``autopilot.logic.rollout``): only
    for the strategies that run lifecycle hooks (ECS documents none for rolling)."""
    rollout = parse_rollout(spec.tags.get(contract.TAG_STRATEGY))
    if hook is None or rollout is None or not rollout.shifts_traffic:
        return
    if not parse_admission(spec.tags.get(contract.TAG_ADMISSION)):
        return
    cfn_service = service.node.default_child
    assert isinstance(cfn_service, ecs.CfnService)
    target, role = hook
    cfn_service.add_property_override(
        "DeploymentConfiguration.LifecycleHooks",
        [
            {
                "HookTargetArn": target,
                "RoleArn": role,
                "LifecycleStages": [contract.ADMISSION_STAGE],
            }
        ],
    )


def _tag(service: ecs.BaseService, spec: ServiceSpec, alarm_names: tuple[str, ...]) -> None:
    """The opt-in tags on the service itself (CloudFormation's Tags property), with the
    names of its deployment alarms."""
    cfn_service = service.node.default_child
    assert isinstance(cfn_service, ecs.CfnService)
    tags = dict(spec.tags)
    if alarm_names:
        tags[contract.TAG_ALARMS] = " ".join(alarm_names)
    for key, value in sorted(tags.items()):
        cfn_service.tags.set_tag(key, value)


_STRATEGIES = {
    "rolling": ecs.DeploymentStrategy.ROLLING,
    "canary": ecs.DeploymentStrategy.CANARY,
    "linear": ecs.DeploymentStrategy.LINEAR,
    "blue-green": ecs.DeploymentStrategy.BLUE_GREEN,
}


def _deployment(spec: ServiceSpec, alarm_names: tuple[str, ...]) -> dict[str, Any]:
    """The service's deployment strategy and alarms in the template, as autopilot's deploys
    send them (``autopilot.logic.rollout``): a later ``cdk deploy`` keeps them."""
    out: dict[str, Any] = {}
    rollout = parse_rollout(spec.tags.get(contract.TAG_STRATEGY))
    if rollout is not None:
        out["deployment_strategy"] = _STRATEGIES[rollout.kind]
        bake = Duration.minutes(rollout.bake_minutes or 0)
        shift = ecs.TrafficShiftConfig(step_percent=rollout.percent, step_bake_time=bake)
        if rollout.kind == "canary":
            out["canary_configuration"] = shift
        elif rollout.kind == "linear":
            out["linear_configuration"] = shift
        elif rollout.kind == "blue-green":
            out["bake_time"] = bake
    if alarm_names:
        out["deployment_alarms"] = ecs.DeploymentAlarmConfig(
            alarm_names=list(alarm_names), behavior=ecs.AlarmBehavior.ROLLBACK_ON_ALARM
        )
    return out


@dataclass(frozen=True)
class ServicesProps:
    """``cluster`` with Fargate capacity providers enabled and ``ec2_capacity_provider``
    (its name) for ``ec2`` services. ``fargate_base`` / ``fargate_weight`` / ``spot_weight``:
    the ``fargate-spot-mix`` strategy. ``log_group_prefix``: each service logs to
    ``<prefix>/<name>`` with ``log_retention``. ``public_subnets``: where load balancers
    go (default: the VPC's public subnets). ``access_log_bucket_name``: physical name of the
    bucket for load balancer access logs (created here when a service has a load balancer, or
    on ``ensure_access_log_bucket``; always retained). ``access_log_bucket``: that bucket,
    made elsewhere (default None: this construct creates it). ``cluster_name``: the
    cluster's physical name, when known, so that ARNs read plainly (default: a reference to
    the cluster). ``admission_hook``: the admission hook of the services that take hooks.
    ``role_path``: the IAM path of the task and execution roles (default
    ``/``), which lets the control plane pass exactly them (``manage.pass_roles``)."""

    cluster: ecs.ICluster
    vpc: ec2.IVpc
    ec2_capacity_provider: str
    log_group_prefix: str
    services: tuple[ServiceSpec, ...] = ()
    cluster_name: str | None = None
    subnets: ec2.SubnetSelection | None = None
    public_subnets: ec2.SubnetSelection | None = None
    access_log_bucket_name: str | None = None
    access_log_bucket: s3.IBucket | None = None
    role_path: str | None = None
    #: the control plane's admission hook (hookTargetArn, roleArn:
    #: ``infra.constructs.admission.hook_arns``), put on each service whose strategy runs
    #: lifecycle hooks (canary, linear, blue/green) unless it says ``autopilot:admission=off``;
    #: None: no hook
    admission_hook: tuple[str, str] | None = None
    fargate_base: int = 1
    fargate_weight: int = 1
    spot_weight: int = 3
    log_retention: logs.RetentionDays = logs.RetentionDays.ONE_MONTH
    removal_policy: RemovalPolicy = RemovalPolicy.RETAIN


class Services(Construct):
    """Exposes ``services``, ``task_definitions``, ``security_groups``, ``log_groups`` and
    ``load_balancers`` by service name, and ``roles`` (the task and execution roles);
    ``add_service`` adds one more."""

    def __init__(self, scope: Construct, construct_id: str, *, props: ServicesProps) -> None:
        super().__init__(scope, construct_id)
        self._cluster = props.cluster
        self.cluster_name = props.cluster_name or props.cluster.cluster_name
        self._subnets = props.subnets or ec2.SubnetSelection(
            subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS
        )
        self.services: dict[str, ecs.BaseService] = {}
        self.task_definitions: dict[str, ecs.TaskDefinition] = {}
        self.security_groups: dict[str, ec2.SecurityGroup] = {}
        self.log_groups: dict[str, logs.LogGroup] = {}
        self.load_balancers: dict[str, elbv2.ApplicationLoadBalancer] = {}
        self.access_log_bucket: s3.IBucket | None = props.access_log_bucket
        self._props = props
        self._roles: list[iam.IRole] = []

        for spec in props.services:
            self.add_service(spec)

    def add_service(self, spec: ServiceSpec) -> None:
        """One more service (its log group, security group, task definition and roles,
        scaling, load balancer), under a construct named after it."""
        props = self._props
        subnets = self._subnets
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
        common: dict[str, Any] = {
            "cluster": props.cluster,
            "task_definition": task_def,
            "service_name": spec.name,
            "desired_count": spec.desired_count,
            "security_groups": [sg],
            "vpc_subnets": subnets,
            "circuit_breaker": ecs.DeploymentCircuitBreaker(enable=True, rollback=True),
            "min_healthy_percent": spec.min_healthy_percent,
            "max_healthy_percent": spec.max_healthy_percent,
            "availability_zone_rebalancing": (
                ecs.AvailabilityZoneRebalancing.ENABLED
                if spec.az_rebalancing and spec.placement == "spread-zones"
                else ecs.AvailabilityZoneRebalancing.DISABLED
            ),
            "enable_ecs_managed_tags": True,
            "propagate_tags": ecs.PropagatedTagSource.SERVICE,
        }
        if spec.load_balancer is not None:
            common["health_check_grace_period"] = Duration.seconds(60)
        alarm_names = self._deployment_alarm_names(spec)
        common.update(_deployment(spec, alarm_names))
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
                placement_strategies=_placement(spec.placement),
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
        _tag(service, spec, alarm_names)
        _admission(service, spec, props.admission_hook)

        if spec.load_balancer is not None:
            self.load_balancers[spec.name] = self._load_balancer(
                scope_, spec, spec.load_balancer, service
            )

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
        if props.role_path:
            for role in (task_def.task_role, execution_role):
                cfn_role = role.node.default_child
                assert isinstance(cfn_role, iam.CfnRole)
                cfn_role.path = props.role_path
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

    def _load_balancer(
        self,
        scope: Construct,
        spec: ServiceSpec,
        lb: LoadBalancerSpec,
        service: ecs.BaseService,
    ) -> elbv2.ApplicationLoadBalancer:
        props = self._props
        alb = elbv2.ApplicationLoadBalancer(
            scope,
            "LoadBalancer",
            vpc=props.vpc,
            internet_facing=True,
            vpc_subnets=props.public_subnets
            or ec2.SubnetSelection(subnet_type=ec2.SubnetType.PUBLIC),
            drop_invalid_header_fields=True,
        )
        self._log_access(alb, spec.name)
        listener = alb.add_listener("Listener", port=lb.port, open=True)
        health = elbv2.HealthCheck(path=lb.health_check_path, healthy_http_codes="200-399")
        if not lb.alternate_target:
            # Registers the service's tasks and lets only the load balancer's security group
            # reach them, on the container port.
            group = listener.add_targets(
                "Tasks",
                port=spec.container_port,
                protocol=elbv2.ApplicationProtocol.HTTP,
                targets=[service],
                health_check=health,
                deregistration_delay=Duration.seconds(30),
            )
        else:
            group = self._alternate_target(scope, spec, listener, service, health)
            service.connections.allow_from(alb, ec2.Port.tcp(spec.container_port))
        if lb.default_alarms:
            self._deployment_alarms(scope, spec, group)
        for sg in alb.connections.security_groups:
            acknowledge(
                sg.node.default_child or sg,
                "AwsSolutions-EC23",
                f"The public entry point of {spec.name}: open on the listener port "
                f"{lb.port} only; the tasks accept traffic from this group alone.",
            )
        return alb

    def _alternate_target(
        self,
        scope: Construct,
        spec: ServiceSpec,
        listener: elbv2.ApplicationListener,
        service: ecs.BaseService,
        health: elbv2.HealthCheck,
    ) -> elbv2.ApplicationTargetGroup:
        """What ECS's canary, linear and blue/green deployments shift production traffic
        with: two target groups (the tasks start in the first), the listener rule that
        forwards to them (ECS sets its weights), and the role ECS calls Elastic Load
        Balancing with (made by ``ecs.AlternateTarget``). Returns the first group."""
        groups = [
            elbv2.ApplicationTargetGroup(
                scope,
                name,
                vpc=self._props.vpc,
                port=spec.container_port,
                protocol=elbv2.ApplicationProtocol.HTTP,
                target_type=elbv2.TargetType.IP,
                health_check=health,
                deregistration_delay=Duration.seconds(30),
            )
            for name in ("Tasks", "AlternateTasks")
        ]
        listener.add_action("NoRoute", action=elbv2.ListenerAction.fixed_response(404))
        rule = elbv2.ApplicationListenerRule(
            scope,
            "ProductionRule",
            listener=listener,
            priority=1,
            conditions=[elbv2.ListenerCondition.path_patterns(["/*"])],
            action=elbv2.ListenerAction.weighted_forward(
                [
                    elbv2.WeightedTargetGroup(target_group=groups[0], weight=100),
                    elbv2.WeightedTargetGroup(target_group=groups[1], weight=0),
                ]
            ),
        )
        target = service.load_balancer_target(
            container_name=spec.container_name,
            container_port=spec.container_port,
            alternate_target=ecs.AlternateTarget(
                "Alternate",
                alternate_target_group=groups[1],
                production_listener=ecs.ListenerRuleConfiguration.application_listener_rule(rule),
            ),
        )
        target.attach_to_application_target_group(groups[0])
        role = service.node.find_child("AlternateRole")
        acknowledge(
            role.node.default_child or role,
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/"
            "AmazonECSInfrastructureRolePolicyForLoadBalancers]",
            "The role ECS assumes to shift traffic between the target groups: AWS's managed "
            "policy for it is the one ECS's blue/green documentation names, kept current by AWS.",
        )
        return groups[0]

    def _deployment_alarm_names(self, spec: ServiceSpec) -> tuple[str, ...]:
        """The names of the default deployment alarms ``_deployment_alarms`` makes (known
        before the service, whose deployment configuration names them), or those of the
        ``autopilot:alarms`` tag."""
        lb = spec.load_balancer
        if lb is not None and lb.default_alarms:
            stack = Stack.of(self).stack_name
            return (f"{stack}-{spec.name}-target-5xx", f"{stack}-{spec.name}-unhealthy-hosts")
        return parse_alarms(spec.tags.get(contract.TAG_ALARMS))

    def _deployment_alarms(
        self, scope: Construct, spec: ServiceSpec, group: elbv2.ApplicationTargetGroup
    ) -> None:
        """A deploy's two alarms: more than 5% of the targets' responses 5xx, or any
        unhealthy target, for 2 minutes out of 2 (no data: not breaching)."""
        names = self._deployment_alarm_names(spec)
        minute = Duration.minutes(1)
        errors = group.metrics.http_code_target(
            elbv2.HttpCodeTarget.TARGET_5XX_COUNT, period=minute, statistic="Sum"
        )
        requests = group.metrics.request_count(period=minute, statistic="Sum")
        rate = cloudwatch.MathExpression(
            expression="IF(requests > 0, 100 * errors / requests, 0)",
            using_metrics={"errors": errors, "requests": requests},
            period=minute,
            label=f"{spec.name}: 5xx responses of its targets (%)",
        )
        unhealthy = group.metrics.unhealthy_host_count(period=minute, statistic="Maximum")
        for cid, name, metric, threshold, what in (
            ("Target5xxAlarm", names[0], rate, 5, "more than 5% of responses 5xx"),
            ("UnhealthyHostsAlarm", names[1], unhealthy, 1, "a target unhealthy"),
        ):
            cloudwatch.Alarm(
                scope,
                cid,
                alarm_name=name,
                alarm_description=f"{spec.name} deployment alarm: {what} for 2 minutes; "
                "ECS rolls back the deployment in progress (autopilot:alarms)",
                metric=metric,
                threshold=threshold,
                comparison_operator=(
                    cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD
                    if threshold == 5
                    else cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD
                ),
                evaluation_periods=2,
                datapoints_to_alarm=2,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            )

    def _log_access(self, alb: elbv2.ApplicationLoadBalancer, prefix: str) -> None:
        """Access logs to one encrypted, private bucket (CDK's ``log_access_logs`` needs the
        region at synth; this stack is env-agnostic)."""
        bucket = self._access_log_bucket()
        alb.set_attribute("access_logs.s3.enabled", "true")
        alb.set_attribute("access_logs.s3.bucket", bucket.bucket_name)
        alb.set_attribute("access_logs.s3.prefix", prefix)
        if bucket.policy is not None:
            alb.node.add_dependency(bucket.policy)

    def ensure_access_log_bucket(self) -> s3.IBucket:
        """The load balancers' access-log bucket, created now if this construct makes it."""
        return self._access_log_bucket()

    def _access_log_bucket(self) -> s3.IBucket:
        if self.access_log_bucket is not None:
            return self.access_log_bucket
        stack = Stack.of(self)
        bucket = s3.Bucket(
            self,
            "AccessLogs",
            bucket_name=self._props.access_log_bucket_name,
            encryption=s3.BucketEncryption.S3_MANAGED,  # the only kind ELB log delivery takes
            enforce_ssl=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            lifecycle_rules=[s3.LifecycleRule(expiration=Duration.days(90))],
            # CloudFormation cannot delete a bucket with objects in it: keep it.
            removal_policy=RemovalPolicy.RETAIN,
        )
        objects = bucket.arn_for_objects(f"*/AWSLogs/{stack.account}/*")
        # Regions opened since August 2022 deliver as this service principal ...
        bucket.add_to_resource_policy(
            iam.PolicyStatement(
                sid="ElbLogDelivery",
                principals=[iam.ServicePrincipal("logdelivery.elasticloadbalancing.amazonaws.com")],
                actions=["s3:PutObject"],
                resources=[objects],
            )
        )
        # ... older regions as the region's ELB account: looked up at deploy time from CDK's
        # region facts (in a region not listed, the own account stands in, which changes
        # nothing).
        legacy = {
            info.name: {"account": f"arn:aws:iam::{info.elbv2_account}:root"}
            for info in region_info.RegionInfo.regions
            if info.elbv2_account and info.partition == "aws"
        }
        if legacy:
            mapping = CfnMapping(self, "ElbAccounts", mapping=dict(sorted(legacy.items())))
            names = sorted(legacy)
            chunks = [names[i : i + 10] for i in range(0, len(names), 10)]
            ors = [
                Fn.condition_or(*[Fn.condition_equals(Aws.REGION, n) for n in chunk])
                if len(chunk) > 1
                else Fn.condition_equals(Aws.REGION, chunk[0])
                for chunk in chunks
            ]
            condition = CfnCondition(
                self,
                "HasElbAccount",
                expression=Fn.condition_or(*ors) if len(ors) > 1 else ors[0],
            )
            principal = Fn.condition_if(
                condition.logical_id,
                mapping.find_in_map(Aws.REGION, "account"),
                f"arn:{Aws.PARTITION}:iam::{Aws.ACCOUNT_ID}:root",
            ).to_string()
            bucket.add_to_resource_policy(
                iam.PolicyStatement(
                    sid="ElbAccountLogDelivery",
                    principals=[iam.ArnPrincipal(principal)],
                    actions=["s3:PutObject"],
                    resources=[objects],
                )
            )
        acknowledge(
            bucket.node.default_child or bucket,
            "AwsSolutions-S1",
            "This is the load balancers' access-log bucket; logging its own access would "
            "log into itself.",
        )
        self.access_log_bucket = bucket
        return bucket

    @property
    def roles(self) -> list[iam.IRole]:
        """The task and execution roles of the services."""
        return list(self._roles)


def _placement(kind: str) -> list[ecs.PlacementStrategy]:
    if kind == "spread-instances":
        return [ecs.PlacementStrategy.spread_across_instances()]
    if kind == "binpack":
        return [ecs.PlacementStrategy.packed_by_memory()]
    return [
        ecs.PlacementStrategy.spread_across(ecs.BuiltInAttributes.AVAILABILITY_ZONE),
        ecs.PlacementStrategy.spread_across_instances(),
    ]
