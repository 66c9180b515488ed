"""The one stack: composes the constructs from the typed config. No logic of its own."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from autopilot import contract
from aws_cdk import Aws, CfnOutput, Duration, Fn, RemovalPolicy, Stack
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.config import AutopilotConfig
from infra.constructs.alarms import ScalingAlarms, ScalingAlarmsProps
from infra.constructs.cluster import Cluster, ClusterProps
from infra.constructs.function import (
    AutomatedFunction,
    FunctionCode,
    FunctionCodeProps,
    FunctionProps,
    FunctionSettings,
)
from infra.constructs.ledger import Ledger, LedgerProps
from infra.constructs.monitoring import Monitoring, MonitoringProps
from infra.constructs.network import Network, NetworkProps
from infra.constructs.notices import Notices, NoticesProps
from infra.constructs.reactions import (
    CapacityEvents,
    CapacityEventsProps,
    DeploymentEvents,
    DeploymentEventsProps,
    ImageEvents,
    ImageEventsProps,
    TaskEvents,
    TaskEventsProps,
)
from infra.constructs.registry import Registry, RegistryProps, RepositorySpec
from infra.constructs.services import (
    LoadBalancerSpec,
    ScalingSpec,
    Services,
    ServiceSpec,
    ServicesProps,
)

FUNCTIONS_DIR = Path(__file__).resolve().parents[2] / "functions"


def stack_name(environment: str) -> str:
    return f"EcsAutopilot-{environment}"


class AutopilotStack(Stack):
    """``EcsAutopilot-<environment>``: network, registry, notices, cluster, services and,
    under ``Automation``, the ledger, the functions' code, the scaling alarms, the four
    functions and the dashboard."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: AutopilotConfig,
        functions_dir: Path = FUNCTIONS_DIR,
        **kwargs: Any,
    ) -> None:
        self._az_count = config.network.new_vpc.max_azs if config.network.new_vpc else 2
        super().__init__(scope, construct_id, **kwargs)
        env = config.environment
        removal = RemovalPolicy.RETAIN if config.retain_data else RemovalPolicy.DESTROY
        retention = _retention(config.observability.log_retention_days)

        network = Network(
            self,
            "Network",
            props=NetworkProps(
                new_vpc=config.network.new_vpc,
                existing_vpc=config.network.existing_vpc,
                log_retention=retention,
                removal_policy=removal,
            ),
        )
        registry = Registry(
            self,
            "Registry",
            props=RegistryProps(
                repositories=tuple(
                    RepositorySpec(
                        name=r.name,
                        mutable=config.is_mutable(r),
                        scan_on_push=r.scanning == "basic",
                        untagged_expire_days=r.untagged_expire_days,
                        keep_tagged=r.keep_tagged,
                        pull_principals=tuple(r.pull_principals),
                    )
                    for r in config.repositories
                ),
                push_policy_name=f"{env}-ecr-push",
                removal_policy=removal,
            ),
        )
        notices = Notices(
            self, "Notices", props=NoticesProps(topic_name=f"{env}-notices", removal_policy=removal)
        )
        cap = config.ec2_capacity
        log_group_prefix = f"/ecs/{env}"
        cluster = Cluster(
            self,
            "Cluster",
            props=ClusterProps(
                vpc=network.vpc,
                cluster_name=f"{env}-cluster",
                instance_types=tuple(cap.instance_types),
                notices_topic=notices.topic,
                min_capacity=cap.min_capacity,
                max_capacity=cap.max_capacity,
                spot=cap.spot,
                root_volume_gib=cap.root_volume_gib,
                target_capacity_percent=cap.target_capacity_percent,
                subnets=network.private_subnets,
                log_group_prefix=log_group_prefix,
            ),
        )
        fargate = config.fargate_capacity
        services = Services(
            self,
            "Services",
            props=ServicesProps(
                cluster=cluster.cluster,
                cluster_name=cluster.name,
                vpc=network.vpc,
                ec2_capacity_provider=cluster.capacity_provider.capacity_provider_name,
                services=tuple(
                    ServiceSpec(
                        name=s.name,
                        capacity=s.capacity,
                        image=(
                            ecs.ContainerImage.from_registry(s.image)
                            if s.image
                            else ecs.ContainerImage.from_ecr_repository(
                                registry.repositories[s.repository or ""], s.image_tag
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
                        tags=_service_tags(s, registry),
                        min_healthy_percent=s.min_healthy_percent,
                        placement=s.placement,
                        az_rebalancing=s.az_rebalancing,
                        load_balancer=(
                            LoadBalancerSpec(
                                port=s.load_balancer.port,
                                health_check_path=s.load_balancer.health_check_path,
                            )
                            if s.load_balancer
                            else None
                        ),
                    )
                    for s in config.services
                ),
                log_group_prefix=log_group_prefix,
                subnets=network.private_subnets,
                public_subnets=network.public_subnets,
                access_log_bucket_name=f"{env}-alb-logs-{Aws.ACCOUNT_ID}-{Aws.REGION}",
                fargate_base=fargate.fargate_base,
                fargate_weight=fargate.fargate_weight,
                spot_weight=fargate.spot_weight,
                log_retention=retention,
                removal_policy=removal,
            ),
        )
        # One scope for the ledger, the functions and what watches them: their constructs
        # keep the paths, hence the logical IDs, their resources had when one construct
        # built them all. Most are named (table, functions, queues, log groups, rules,
        # alarms): under a new logical ID CloudFormation would create them anew and delete
        # the old ones, which for the ledger means its records.
        automation = Construct(self, "Automation")
        ledger = Ledger(
            automation,
            "Ledger",
            props=LedgerProps(table_name=f"{env}-ledger", removal_policy=removal),
        )
        fn_cfg = config.functions
        code = FunctionCode(
            automation,
            "Code",
            props=FunctionCodeProps(
                code_path=functions_dir, powertools_version=fn_cfg.powertools_version
            ),
        )
        scaling_alarms = ScalingAlarms(
            automation,
            "ScalingAlarms",
            props=ScalingAlarmsProps(
                name_prefix=config.alarm_name_prefix,
                cluster_name=services.cluster_name,
                capacity_provider_name=cluster.capacity_provider_name,
                cluster=config.capacity_alarms.cluster,
                services={s.name: s.alarms for s in config.services if s.alarms},
                period=Duration.seconds(config.capacity_alarms.period_seconds),
                evaluation_periods=config.capacity_alarms.evaluation_periods,
            ),
        )
        shared = FunctionProps(
            name_prefix=env,
            code=code,
            ledger=ledger,
            notices=notices,
            cluster=cluster,
            services=services,
            settings=FunctionSettings(
                metrics_namespace=config.observability.metrics_namespace,
                lease_seconds=fn_cfg.lease_seconds,
                approval_ttl_hours=fn_cfg.approval_ttl_hours,
                evaluation_window_seconds=fn_cfg.evaluation_window_seconds,
                move_cooldown_seconds=fn_cfg.move_cooldown_seconds,
                crash_loop_threshold=fn_cfg.crash_loop_threshold,
                crash_loop_window_minutes=fn_cfg.crash_loop_window_minutes,
                capacity_cooldown_seconds=fn_cfg.capacity_cooldown_seconds,
                spot_calm_seconds=fn_cfg.spot_calm_seconds,
            ),
            memory_mib=fn_cfg.memory_mib,
            timeout=Duration.seconds(fn_cfg.timeout_seconds),
            max_event_age=Duration.minutes(fn_cfg.max_event_age_minutes),
            rule_retry_attempts=fn_cfg.rule_retry_attempts,
            log_retention=retention,
            removal_policy=removal,
        )
        functions: tuple[AutomatedFunction, ...] = (
            ImageEvents(
                automation,
                "ImageEvents",
                props=ImageEventsProps(function=shared, registry=registry),
            ),
            DeploymentEvents(
                automation, "DeploymentEvents", props=DeploymentEventsProps(function=shared)
            ),
            TaskEvents(
                automation,
                "TaskEvents",
                props=TaskEventsProps(
                    function=shared, recheck_interval_minutes=fn_cfg.recheck_interval_minutes
                ),
            ),
            CapacityEvents(
                automation,
                "CapacityEvents",
                props=CapacityEventsProps(
                    function=shared, alarm_name_prefix=config.alarm_name_prefix
                ),
            ),
        )
        monitoring = Monitoring(
            automation,
            "Dashboard",
            props=MonitoringProps(
                dashboard_name=f"{env}-autopilot",
                functions=functions,
                scaling_alarms=tuple(scaling_alarms.alarms.values()),
                metrics_namespace=config.observability.metrics_namespace,
            ),
        )
        self.network, self.registry, self.notices = network, registry, notices
        self.cluster, self.services = cluster, services
        self.ledger, self.functions = ledger, {fn.spec.name: fn for fn in functions}
        self.scaling_alarms, self.monitoring = scaling_alarms, monitoring

        # -- outputs: what the CLI, the sandbox and people look up -----------------------
        CfnOutput(self, "ClusterName", value=cluster.cluster.cluster_name)
        CfnOutput(self, "ClusterArn", value=cluster.cluster.cluster_arn)
        CfnOutput(self, "LedgerTableName", value=ledger.table_name)
        CfnOutput(self, "NoticesTopicArn", value=notices.topic.topic_arn)
        CfnOutput(self, "RegistryUrl", value=registry.registry_url)
        CfnOutput(self, "EcrPushPolicyArn", value=registry.push_policy.managed_policy_arn)
        for name, repo in registry.repositories.items():
            CfnOutput(
                self,
                f"RepositoryUri{_alnum(name)}",
                value=repo.repository_uri,
                description=f"URI of the {name} repository",
            )
        for fn in functions:
            key = _alnum(fn.spec.name)
            CfnOutput(self, f"{key}FunctionName", value=fn.function.function_name)
            CfnOutput(
                self,
                f"{key}DlqUrl",
                value=fn.dead_letter_queue.queue_url,
                description=f"{fn.function_name}: async invocations that failed",
            )
            CfnOutput(
                self,
                f"{key}EventsDlqUrl",
                value=fn.events_dead_letter_queue.queue_url,
                description=f"{fn.function_name}: events EventBridge could not deliver",
            )
        for name, alb in services.load_balancers.items():
            CfnOutput(
                self,
                f"LoadBalancerUrl{_alnum(name)}",
                value=f"http://{alb.load_balancer_dns_name}",
                description=f"The {name} service's load balancer",
            )
        CfnOutput(self, "DashboardName", value=monitoring.dashboard.dashboard_name)

    @property
    def availability_zones(self) -> list[str]:
        """Env-agnostic, yet three AZs: CloudFormation picks them at deploy time (Fn::GetAZs);
        CDK's default for an env-agnostic stack is two."""
        return [Fn.select(i, Fn.get_azs()) for i in range(self._az_count)]


def _service_tags(service: Any, registry: Registry) -> dict[str, str]:
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
    return tags


def _alnum(name: str) -> str:
    return "".join(p.capitalize() for p in "".join(c if c.isalnum() else " " for c in name).split())


_RETENTION = {
    1: logs.RetentionDays.ONE_DAY,
    3: logs.RetentionDays.THREE_DAYS,
    5: logs.RetentionDays.FIVE_DAYS,
    7: logs.RetentionDays.ONE_WEEK,
    14: logs.RetentionDays.TWO_WEEKS,
    30: logs.RetentionDays.ONE_MONTH,
    60: logs.RetentionDays.TWO_MONTHS,
    90: logs.RetentionDays.THREE_MONTHS,
    120: logs.RetentionDays.FOUR_MONTHS,
    150: logs.RetentionDays.FIVE_MONTHS,
    180: logs.RetentionDays.SIX_MONTHS,
    365: logs.RetentionDays.ONE_YEAR,
    400: logs.RetentionDays.THIRTEEN_MONTHS,
    545: logs.RetentionDays.EIGHTEEN_MONTHS,
    731: logs.RetentionDays.TWO_YEARS,
}


def _retention(days: int) -> logs.RetentionDays:
    return _RETENTION[days]
