"""The estate stacks: what the app builds for a greenfield start (optional).

``EcsAutopilot-<environment>-estate`` (``EstateStack``): the network, the cluster with its
capacity providers and its scaling alarms, the load balancers' access-log bucket, then the
first services and their repositories, as many as fit (``infra/split.py``).
``EcsAutopilot-<environment>-services-<n>`` (``ServicesStack``, n = 2, 3, ...): the rest.

Between estate stacks, the VPC and its subnets are referenced across stacks (CDK writes
``Fn::GetStackOutput``, the app's ``defaultCrossStackReferences`` being ``weak``); the
cluster, the repositories of other stacks, the access-log bucket and the control plane's
notices topic are named (``<env>-cluster``, the repository names, ...), with an explicit
stack dependency for the order. No estate stack is referred to by the control plane.
"""

from __future__ import annotations

from typing import Any

from autopilot import contract
from aws_cdk import Aws, CfnOutput, CfnResource, Duration, Fn, Stack
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from constructs import Construct

from infra.config import AutopilotConfig, Service
from infra.constructs.admission import hook_arns
from infra.constructs.alarms import ScalingAlarms, ScalingAlarmsProps
from infra.constructs.cluster import Cluster, ClusterProps
from infra.constructs.network import Network, NetworkProps
from infra.constructs.registry import Registry, RegistryProps, RepositorySpec
from infra.constructs.services import (
    LoadBalancerSpec,
    ScalingSpec,
    Services,
    ServiceSpec,
    ServicesProps,
)
from infra.managed import ASG_CLUSTER_TAG, arn
from infra.split import StackPlan
from infra.stacks.common import alnum, notices_topic_name, removal, retention

#: ``AWS::ECS::ClusterCapacityProviderAssociations``: one, written at synth.
CAPACITY_PROVIDER_ASSOCIATIONS = 1


def log_group_prefix(config: AutopilotConfig) -> str:
    return f"/ecs/{config.environment}"


def access_log_bucket_name(config: AutopilotConfig) -> str:
    return f"{config.environment}-alb-logs-{Aws.ACCOUNT_ID}-{Aws.REGION}"


class _EstatePart:
    """What every estate stack holds of the plan: its repositories (and their push
    policy), its services and their scaling alarms, and their outputs."""

    def __init__(
        self,
        stack: Stack,
        config: AutopilotConfig,
        plan: StackPlan,
        services: Services,
        alarms: ScalingAlarms,
    ) -> None:
        self._stack, self._config = stack, config
        env = config.environment
        self.registry: Registry | None = None
        if plan.repositories:
            self.registry = Registry(
                stack,
                "Registry",
                props=RegistryProps(
                    repositories=tuple(
                        _repository_spec(config, name) for name in plan.repositories
                    ),
                    push_policy_name=(
                        f"{env}-ecr-push" if plan.is_estate else f"{env}-ecr-push-{plan.number}"
                    ),
                    removal_policy=removal(config),
                ),
            )
        #: repositories of other stacks, by name (imported once each)
        self.imported: dict[str, ecr.IRepository] = {}
        by_name = {s.name: s for s in config.services}
        for name in plan.services:
            svc = by_name[name]
            services.add_service(self._service_spec(svc))
            if svc.alarms:
                alarms.add_service(name, svc.alarms)
        if self.registry is not None:
            CfnOutput(
                stack,
                "EcrPushPolicyArn",
                value=self.registry.push_policy.managed_policy_arn,
                description="Push to this stack's repositories (attach to a CI role)",
            )
            for name, repo in self.registry.repositories.items():
                CfnOutput(
                    stack,
                    f"RepositoryUri{alnum(name)}",
                    value=repo.repository_uri,
                    description=f"URI of the {name} repository",
                )
        for name, alb in services.load_balancers.items():
            CfnOutput(
                stack,
                f"LoadBalancerUrl{alnum(name)}",
                value=f"http://{alb.load_balancer_dns_name}",
                description=f"The {name} service's load balancer",
            )

    def repository(self, name: str) -> ecr.IRepository:
        if self.registry is not None and name in self.registry.repositories:
            return self.registry.repositories[name]
        if name not in self.imported:
            self.imported[name] = ecr.Repository.from_repository_name(
                self._stack, f"Repository{alnum(name)}", name
            )
        return self.imported[name]

    def _service_spec(self, s: Service) -> ServiceSpec:
        return ServiceSpec(
            name=s.name,
            capacity=s.capacity,
            image=(
                ecs.ContainerImage.from_registry(s.image)
                if s.image
                else ecs.ContainerImage.from_ecr_repository(
                    self.repository(s.repository or ""), s.image_tag
                )
            ),
            container_name=s.container,
            container_port=s.container_port,
            cpu=s.cpu,
            memory_mib=s.memory_mib,
            desired_count=s.desired_count,
            scaling=(
                ScalingSpec(s.scaling.min, s.scaling.max, s.scaling.cpu_target)
                if s.scaling
                else None
            ),
            tags=service_tags(s),
            min_healthy_percent=s.min_healthy_percent,
            placement=s.placement,
            az_rebalancing=s.az_rebalancing,
            load_balancer=(
                LoadBalancerSpec(
                    port=s.load_balancer.port,
                    health_check_path=s.load_balancer.health_check_path,
                    alternate_target=s.automation.shifts_traffic,
                    default_alarms=s.automation.deployment_alarms is None,
                )
                if s.load_balancer
                else None
            ),
        )


class EstateStack(Stack):
    """``EcsAutopilot-<environment>-estate``. Built in two steps: the constructor builds the
    network, the cluster, its alarms and (when any service has a load balancer) the
    access-log bucket, and says what they cost (``fixed_resources``, ``fixed_outputs``);
    ``add_part`` then adds the services and repositories the plan gives this stack."""

    def __init__(
        self, scope: Construct, construct_id: str, *, config: AutopilotConfig, **kwargs: Any
    ) -> None:
        assert config.network is not None
        assert config.ec2_capacity is not None
        self._az_count = config.network.new_vpc.max_azs if config.network.new_vpc else 2
        super().__init__(scope, construct_id, **kwargs)
        self._config = config
        removal_policy = removal(config)
        self.network = Network(
            self,
            "Network",
            props=NetworkProps(
                new_vpc=config.network.new_vpc,
                existing_vpc=config.network.existing_vpc,
                log_retention=retention(config),
                removal_policy=removal_policy,
            ),
        )
        # The control plane's topic, by name: the estate refers to no output of it.
        notices = sns.Topic.from_topic_arn(self, "Notices", arn("sns", notices_topic_name(config)))
        cap = config.ec2_capacity
        self.cluster = Cluster(
            self,
            "Cluster",
            props=ClusterProps(
                vpc=self.network.vpc,
                cluster_name=config.estate_cluster_name,
                instance_types=tuple(cap.instance_types),
                notices_topic=notices,
                min_capacity=cap.min_capacity,
                max_capacity=cap.max_capacity,
                spot=cap.spot,
                root_volume_gib=cap.root_volume_gib,
                target_capacity_percent=cap.target_capacity_percent,
                subnets=self.network.private_subnets,
                log_group_prefix=log_group_prefix(config),
                asg_tags={ASG_CLUSTER_TAG: config.estate_cluster_name},
            ),
        )
        self.scaling_alarms = _scaling_alarms(self, config, include_cluster=True)
        self.services = Services(
            self,
            "Services",
            props=_services_props(
                config,
                cluster=self.cluster.cluster,
                network=self.network,
                access_log_bucket=None,
            ),
        )
        if any(s.load_balancer for s in config.services):
            self.services.ensure_access_log_bucket()
        # what is built so far, and the cluster's capacity provider associations, which
        # ecs.Cluster only writes when the app is synthesized
        self.fixed_resources = CAPACITY_PROVIDER_ASSOCIATIONS + sum(
            1 for c in self.node.find_all() if CfnResource.is_cfn_resource(c)
        )
        self.fixed_outputs = 3  # ClusterName, ClusterArn, RegistryUrl
        CfnOutput(self, "ClusterName", value=self.cluster.cluster.cluster_name)
        CfnOutput(self, "ClusterArn", value=self.cluster.cluster.cluster_arn)
        CfnOutput(
            self, "RegistryUrl", value=f"{Aws.ACCOUNT_ID}.dkr.ecr.{Aws.REGION}.{Aws.URL_SUFFIX}"
        )
        self.part: _EstatePart | None = None

    def add_part(self, plan: StackPlan) -> _EstatePart:
        self.part = _EstatePart(self, self._config, plan, self.services, self.scaling_alarms)
        return self.part

    @property
    def availability_zones(self) -> list[str]:
        """Env-agnostic, yet three AZs: CloudFormation picks them at deploy time (Fn::GetAZs);
        CDK's default for an env-agnostic stack is two."""
        return [Fn.select(i, Fn.get_azs()) for i in range(self._az_count)]


class ServicesStack(Stack):
    """``EcsAutopilot-<environment>-services-<n>``: the services (and repositories) the plan
    gives it, in the estate's cluster and VPC."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: AutopilotConfig,
        estate: EstateStack,
        plan: StackPlan,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        cluster = ecs.Cluster.from_cluster_attributes(
            self,
            "Cluster",
            cluster_name=config.estate_cluster_name,
            vpc=estate.network.vpc,
            security_groups=[],
        )
        services = Services(
            self,
            "Services",
            props=_services_props(
                config,
                cluster=cluster,
                network=estate.network,
                access_log_bucket=s3.Bucket.from_bucket_name(
                    self, "AccessLogs", access_log_bucket_name(config)
                ),
            ),
        )
        alarms = _scaling_alarms(self, config, include_cluster=False)
        self.services, self.scaling_alarms = services, alarms
        self.part = _EstatePart(self, config, plan, services, alarms)
        self.add_stack_dependency(estate, "the estate's cluster, network and access-log bucket")


def _services_props(
    config: AutopilotConfig,
    *,
    cluster: ecs.ICluster,
    network: Network,
    access_log_bucket: s3.IBucket | None,
) -> ServicesProps:
    fargate = config.fargate_capacity
    return ServicesProps(
        cluster=cluster,
        cluster_name=config.estate_cluster_name,
        vpc=network.vpc,
        ec2_capacity_provider=f"{config.estate_cluster_name}-ec2",
        log_group_prefix=log_group_prefix(config),
        subnets=network.private_subnets,
        public_subnets=network.public_subnets,
        access_log_bucket_name=access_log_bucket_name(config),
        access_log_bucket=access_log_bucket,
        role_path=config.role_path,
        admission_hook=hook_arns(config.environment, snapstart=config.functions.snapstart),
        fargate_base=fargate.fargate_base,
        fargate_weight=fargate.fargate_weight,
        spot_weight=fargate.spot_weight,
        log_retention=retention(config),
        removal_policy=removal(config),
    )


def _scaling_alarms(
    stack: Stack, config: AutopilotConfig, *, include_cluster: bool
) -> ScalingAlarms:
    return ScalingAlarms(
        stack,
        "ScalingAlarms",
        props=ScalingAlarmsProps(
            name_prefix=config.alarm_name_prefix,
            cluster_name=config.estate_cluster_name,
            capacity_provider_name=f"{config.estate_cluster_name}-ec2",
            cluster=config.capacity_alarms.cluster if include_cluster else None,
            period=Duration.seconds(config.capacity_alarms.period_seconds),
            evaluation_periods=config.capacity_alarms.evaluation_periods,
        ),
    )


def _repository_spec(config: AutopilotConfig, name: str) -> RepositorySpec:
    r = config.repository(name)
    return RepositorySpec(
        name=r.name,
        mutable=config.is_mutable(r),
        scan_on_push=r.scanning == "basic",
        untagged_expire_days=r.untagged_expire_days,
        keep_tagged=r.keep_tagged,
        pull_principals=tuple(r.pull_principals),
        protect_prefix=config.retention.prefix,
    )


def service_tags(service: Service) -> dict[str, str]:
    """The opt-in tags (README.md, the tag contract), keys from ``autopilot.contract``."""
    auto = service.automation
    tags = {
        contract.TAG_CONTAINER: service.container,
        contract.TAG_POLICY: auto.policy_tag,
        contract.TAG_SCAN: auto.scan,
        contract.TAG_APPROVAL: auto.approval,
        contract.TAG_REBALANCE: auto.rebalance,
    }
    if service.repository:
        tags[contract.TAG_REPOSITORY] = service.repository
    if service.scaling:
        tags[contract.TAG_SCALING] = f"{service.scaling.min}-{service.scaling.max}"
    if auto.strategy:
        tags[contract.TAG_STRATEGY] = auto.strategy
    if auto.admission == "off":  # on is the default: no tag
        tags[contract.TAG_ADMISSION] = auto.admission
    if auto.deployment_alarms:  # the defaults are named by the construct that makes them
        tags[contract.TAG_ALARMS] = " ".join(auto.deployment_alarms)
    return tags
