"""The simulator's shared state: the services it runs, their tasks, the cluster's instances,
the digests pushed as crashing, and the way into moto's ECS backend where they are mirrored.

Every concern module reads and changes this state; none keeps a copy of it. What one
concern alone owns (the Auto Scaling groups behind a cluster, whether Fargate Spot has
capacity, how long a lost task waits for its replacement) stays on that concern.
"""

# ruff: noqa: PLC0415 - imports are deferred: moto loads only where its backends are read

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sandbox.server import ACCOUNT_ID, REGION
from sandbox.simulator.bus import now

if TYPE_CHECKING:
    from moto.ecs.models import EC2ContainerServiceBackend, Service

FARGATE_PROVIDERS = ("FARGATE", "FARGATE_SPOT")


class SimulatorError(ValueError):
    """A stimulus the simulator cannot apply (unknown repository, service, alarm...)."""


@dataclass
class SimTask:
    arn: str
    task_definition_arn: str
    az: str
    subnet: str | None
    deployment_id: str
    status: str = "RUNNING"
    version: int = 1
    created: datetime = field(default_factory=now)
    #: FARGATE / FARGATE_SPOT, or the EC2 capacity provider
    provider: str | None = None
    instance_id: str | None = None


@dataclass
class SimInstance:
    """An EC2 instance of an Auto Scaling group, registered with the cluster."""

    instance_id: str
    az: str
    asg: str
    cluster_name: str
    container_instance_arn: str
    cpu: int
    memory: int


@dataclass
class SimService:
    arn: str
    name: str
    cluster_arn: str
    task_definition: str
    deployment_id: str
    azs: list[str]
    subnets: dict[str, str]  # az -> subnet
    rollback: bool = True
    impaired_az: str | None = None
    tasks: list[SimTask] = field(default_factory=list)
    ec2: bool = False
    cpu: int = 0
    memory: int = 0
    #: monotonic time before which lost tasks are not replaced
    replace_after: float = 0.0
    #: the reason of the placement failure reported and not yet resolved
    placement_failure: str | None = None
    steady: bool = True

    @property
    def cluster_name(self) -> str:
        return self.cluster_arn.rsplit("/", 1)[-1]

    def running(self) -> list[SimTask]:
        return [t for t in self.tasks if t.status == "RUNNING"]

    def spread(self) -> dict[str, int]:
        counts = dict.fromkeys(self.azs, 0)
        for t in self.running():
            counts[t.az] = counts.get(t.az, 0) + 1
        return counts


@dataclass
class SimState:
    """What the concerns share."""

    #: service ARN -> service
    services: dict[str, SimService] = field(default_factory=dict)
    #: EC2 instance id -> the instance, registered with its cluster
    instances: dict[str, SimInstance] = field(default_factory=dict)
    #: image digests pushed as crashing: their tasks exit, their deployments fail
    crashing: set[str] = field(default_factory=set)
    #: image digests pushed as stalling: their tasks never turn healthy and their
    #: deployments stay IN_PROGRESS until something stops them (StopServiceDeployment, a
    #: newer deployment)
    stalling: set[str] = field(default_factory=set)
    #: image digest -> the deployment alarm its next staged (or baking) deployment sets to
    #: ALARM at BAKE_TIME (pushed as alarming: sandbox.simulator.delivery)
    alarming: dict[str, str] = field(default_factory=dict)

    def service(self, name_or_arn: str) -> SimService:
        for svc in self.services.values():
            if name_or_arn in (svc.arn, svc.name):
                return svc
        raise SimulatorError(
            f"no service named {name_or_arn!r} in the sandbox "
            f"(known: {', '.join(sorted(s.name for s in self.services.values())) or 'none'})"
        )

    def tasks_on(self, instance_id: str) -> int:
        """How many running tasks an instance carries."""
        return sum(
            1 for s in self.services.values() for t in s.running() if t.instance_id == instance_id
        )


def image_digest(image: str) -> str | None:
    """The digest of an image reference pinned by digest (``repo@sha256:...``), else None."""
    return image.split("@", 1)[1] if "@sha256:" in image else None


def new_service(
    description: dict[str, Any], task_definition: dict[str, Any], subnets: dict[str, str]
) -> SimService:
    """A service as ``DescribeServices`` and ``DescribeTaskDefinition`` describe it, running
    in the zones of its subnets (``subnets``: zone -> subnet), with no tasks yet."""
    d = description
    azs = sorted(subnets) or [f"{REGION}a", f"{REGION}b"]
    breaker = (d.get("deploymentConfiguration") or {}).get("deploymentCircuitBreaker") or {}
    cpu, memory = task_size(task_definition)
    return SimService(
        d["serviceArn"],
        d["serviceName"],
        d["clusterArn"],
        d["taskDefinition"],
        current_deployment(d),
        azs,
        subnets,
        rollback=bool(breaker.get("enable") and breaker.get("rollback", True)),
        ec2=runs_on_ec2(d, task_definition),
        cpu=cpu,
        memory=memory,
    )


def current_deployment(description: dict[str, Any]) -> str:
    """The id of the service's primary deployment, or a new one if it has none."""
    first: dict[str, Any] = (description.get("deployments") or [{}])[0]
    return str(first.get("id") or f"ecs-svc/{secrets.randbelow(10**18)}")


def runs_on_ec2(service: dict[str, Any], td: dict[str, Any]) -> bool:
    """EC2 unless the capacity provider strategy (else launch type, else the task
    definition's compatibilities) says Fargate."""
    strategy = [i.get("capacityProvider") for i in service.get("capacityProviderStrategy") or []]
    if strategy:
        return not all(p in FARGATE_PROVIDERS for p in strategy)
    if service.get("launchType") in ("FARGATE", "EC2"):
        return service.get("launchType") == "EC2"
    return "FARGATE" not in (td.get("requiresCompatibilities") or [])


def task_size(td: dict[str, Any]) -> tuple[int, int]:
    """(CPU units, MiB) one task takes: task-level sizes, else the containers' sum."""
    containers = td.get("containerDefinitions", [])
    cpu = int(td.get("cpu") or 0) or sum(int(c.get("cpu") or 0) for c in containers)
    memory = int(td.get("memory") or 0) or sum(
        int(c.get("memory") or c.get("memoryReservation") or 0) for c in containers
    )
    return cpu, memory


# ------------------------------------------------------------------ moto's ECS backend
def ecs_backend() -> EC2ContainerServiceBackend:
    """moto's in-process ECS backend, where the simulator mirrors tasks and deployments."""
    from moto.ecs.models import ecs_backends

    return ecs_backends[ACCOUNT_ID][REGION]


def moto_service(svc: SimService) -> Service:
    return ecs_backend()._get_service(svc.cluster_name, svc.name)


def primary_deployment(ms: Service) -> dict[str, Any]:
    """moto's PRIMARY deployment of a service (``{}`` if it has none)."""
    first: dict[str, Any] = (ms.deployments or [{}])[0]
    return first
