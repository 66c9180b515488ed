"""ECS as the functions see it: a service (one DescribeServices view for every flow), its
deployments, tasks, the cluster's capacity providers and instances, and the numbers
Auto Scaling owns. Built by ``aws.ecs`` / ``aws.scaling``; read by planners and flows.

Named tuples, not dataclasses: every function builds these classes at cold start, and a
frozen dataclass costs several times a named tuple to define."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final, NamedTuple

FARGATE: Final = "FARGATE"
FARGATE_SPOT: Final = "FARGATE_SPOT"
FARGATE_PROVIDERS: Final = frozenset({FARGATE, FARGATE_SPOT})


class StrategyItem(NamedTuple):
    """One item of a capacity provider strategy."""

    capacity_provider: str
    weight: int = 0
    base: int = 0


Strategy = tuple[StrategyItem, ...]


class Deployment(NamedTuple):
    """One entry of a service's ``deployments`` list."""

    id: str
    status: str  # PRIMARY | ACTIVE | INACTIVE
    task_definition: str
    rollout_state: str | None = None
    rollout_reason: str | None = None


class ServiceDeployment(NamedTuple):
    """One of a service's service deployments as ListServiceDeployments lists it (ECS's
    deployment record: the ARN StopServiceDeployment takes)."""

    arn: str
    #: PENDING | IN_PROGRESS | STOP_REQUESTED | ROLLBACK_REQUESTED | ROLLBACK_IN_PROGRESS |
    #: SUCCESSFUL | STOPPED | ROLLBACK_SUCCESSFUL | ROLLBACK_FAILED
    status: str
    target_revision: str = ""


class LifecycleHook(NamedTuple):
    """One entry of a service deployment's ``lifecycleHookDetails`` (DescribeServiceDeployments)."""

    hook_id: str
    #: AWS_LAMBDA | PAUSE
    target_type: str
    #: AWAITING_ACTION | IN_PROGRESS | SUCCEEDED | FAILED | TIMED_OUT
    status: str
    expires_at: datetime | None = None
    timeout_action: str = ""
    lifecycle_stage: str = ""


class DeploymentRollback(NamedTuple):
    """A service deployment's ``rollback`` (DescribeServiceDeployments): why ECS rolled it
    back, when, and the service revision it went back to."""

    reason: str = ""
    started_at: datetime | None = None
    revision: str = ""


class DeploymentDetail(NamedTuple):
    """One service deployment as DescribeServiceDeployments describes it (ECS's record)."""

    arn: str
    service_arn: str
    status: str
    #: the strategy's current stage (``lifecycleStage``; "" when ECS gives none)
    lifecycle_stage: str = ""
    strategy: str = ""
    status_reason: str = ""
    target_revision: str = ""
    #: the target revision's requested / running / pending task counts
    requested: int = 0
    running: int = 0
    pending: int = 0
    started_at: datetime | None = None
    finished_at: datetime | None = None
    hooks: tuple[LifecycleHook, ...] = ()
    created_at: datetime | None = None
    #: the service revisions it deploys from (``sourceServiceRevisions[].arn``)
    source_revisions: tuple[str, ...] = ()
    rollback: DeploymentRollback | None = None
    #: its deployment alarms (``alarms.alarmNames``) and those that went to ALARM during it
    #: (``alarms.triggeredAlarmNames``)
    alarm_names: tuple[str, ...] = ()
    triggered_alarms: tuple[str, ...] = ()

    @property
    def awaiting(self) -> tuple[LifecycleHook, ...]:
        """The pause hooks waiting for ContinueServiceDeployment."""
        return tuple(
            h for h in self.hooks if h.status == "AWAITING_ACTION" and h.target_type == "PAUSE"
        )


class RevisionImage(NamedTuple):
    """One container of a service revision (DescribeServiceRevisions' ``containerImages``):
    the image as the task definition names it and the digest ECS resolved it to."""

    container: str
    image: str
    digest: str | None = None


class ServiceRevision(NamedTuple):
    """A service revision as DescribeServiceRevisions shows it: what a deployment rolls out."""

    arn: str
    service_arn: str
    cluster_arn: str
    task_definition: str
    images: tuple[RevisionImage, ...] = ()


class Service(NamedTuple):
    """An ECS service as DescribeServices (with its tags) shows it."""

    arn: str
    name: str
    cluster_arn: str
    task_definition: str
    tags: dict[str, str] = {}
    deployments: tuple[Deployment, ...] = ()
    #: the deployment circuit breaker is on and rolls back
    circuit_breaker_rollback: bool = False
    status: str = "ACTIVE"
    desired_count: int = 0
    running_count: int = 0
    pending_count: int = 0
    launch_type: str | None = None
    scheduling_strategy: str = "REPLICA"
    min_healthy_percent: int = 100
    strategy: Strategy = ()
    #: ``(type, field)`` of each placement strategy, in order
    placement_strategy: tuple[tuple[str, str], ...] = ()
    az_placement_constraint: bool = False
    subnets: tuple[str, ...] = ()
    az_rebalancing: str | None = None
    #: the alarm names of ``deploymentConfiguration.alarms`` (when enabled)
    deployment_alarms: frozenset[str] = frozenset()
    #: ``deploymentController.type``: ECS, CODE_DEPLOY or EXTERNAL (only ECS is ever updated)
    deployment_controller: str = "ECS"
    #: ``deploymentConfiguration`` as DescribeServices answered it (sent back whole, with
    #: what a deploy changes in it: ``logic.rollout``)
    deployment_configuration: dict[str, Any] = {}
    #: ECS rolls a failed deployment back on its own because of its deployment alarms: they
    #: are on with rollback, and no circuit breaker without rollback could have failed it
    #: instead (ECS's event does not say which one did)
    alarm_rollback: bool = False
    #: it has load balancers, each with an ``advancedConfiguration`` (alternate target group,
    #: listener rule, role): what ECS's canary, linear and blue/green strategies need
    traffic_ready: bool = False

    @property
    def primary(self) -> Deployment | None:
        return next((d for d in self.deployments if d.status == "PRIMARY"), None)

    def deployment(self, deployment_id: str) -> Deployment | None:
        return next((d for d in self.deployments if d.id == deployment_id), None)

    @property
    def ecs_controlled(self) -> bool:
        """ECS's own deployment controller deploys it (CodeDeploy and external ones do not:
        autopilot never updates those)."""
        return self.deployment_controller == "ECS"

    @property
    def deployment_in_progress(self) -> bool:
        """More than one deployment, or the primary's rollout still running."""
        if len(self.deployments) > 1:
            return True
        return any(d.rollout_state == "IN_PROGRESS" for d in self.deployments)

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


class TaskInfo(NamedTuple):
    arn: str
    zone: str | None
    task_definition: str
    container_instance: str | None


class TaskContainerState(NamedTuple):
    """One container of a described task."""

    name: str
    #: ``None``: the container never exited (or never started).
    exit_code: int | None
    image_digest: str | None


class DescribedTask(NamedTuple):
    """One task as ECS describes it (DescribeTasks): what a crash is judged on."""

    arn: str
    cluster_arn: str
    group: str
    task_definition: str
    last_status: str
    desired_status: str
    stop_code: str | None
    stopped_reason: str | None
    stopped_at: datetime | None
    containers: tuple[TaskContainerState, ...]


class CapacityProviderInfo(NamedTuple):
    name: str
    asg_name: str | None
    managed_scaling: bool


class ClusterCapacity(NamedTuple):
    providers: tuple[CapacityProviderInfo, ...]
    default_strategy: Strategy

    def provider(self, name: str) -> CapacityProviderInfo | None:
        return next((p for p in self.providers if p.name == name), None)

    def ec2_default_providers(self) -> tuple[str, ...]:
        """The EC2 capacity providers of the cluster's default strategy."""
        return tuple(
            i.capacity_provider
            for i in self.default_strategy
            if i.capacity_provider not in FARGATE_PROVIDERS
        )


class ContainerInstanceInfo(NamedTuple):
    arn: str
    zone: str | None
    remaining_cpu: int
    remaining_memory: int
    ec2_instance_id: str | None


class AsgInfo(NamedTuple):
    name: str
    min_size: int
    max_size: int
    desired: int
    zones: tuple[str, ...]
    #: In-service (or launching) instances per zone.
    instances: dict[str, int] = {}


class ScalableTargetInfo(NamedTuple):
    resource_id: str
    min_capacity: int
    max_capacity: int


def service_arn_of(cluster_arn: str, service_name: str) -> str:
    """``arn:...:cluster/<c>`` + name -> the service's (long-format) ARN."""
    prefix, _, cluster = cluster_arn.partition(":cluster/")
    return f"{prefix}:service/{cluster}/{service_name}"


def cluster_name(cluster_arn: str) -> str:
    return cluster_arn.rsplit("/", 1)[-1]


def short_name(arn: str) -> str:
    """The last part of an ARN (a service's name)."""
    return arn.rsplit("/", 1)[-1] or arn
