"""How the estate's services and repositories are placed over stacks (no CDK here).

The estate stack, ``EcsAutopilot-<env>-estate``, holds the network, the cluster and its
alarms, the load balancers' access-log bucket, then as many services (with their
repositories) as fit; ``EcsAutopilot-<env>-services-2``, ``-3``, ... take the rest, in the
config's order. A repository goes to the stack of the first service that tracks it (a
repository no service tracks, to the first stack with room), so most services find their
repository in their own stack; the others name it (no cross-stack output).

What a stack may hold (``infra/limits.py``): CloudFormation's resources and outputs, and the
push policy of its repositories (one IAM managed policy). Each stack is filled to
``FILL`` of the resource limit only, so that a service that grows (a load balancer or
alarms added) stays in its stack. Services keep their stack as long as the ones before them
in the file keep theirs: add new services at the end of the list. Moving a service to
another stack is a delete and a create, and the create fails while the old service still
holds its name.

The resource counts per service are those CDK writes for each shape; an infra test
synthesizes every shape and compares (``tests/infra/test_split.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from infra import limits
from infra.config import AutopilotConfig, Service, ServiceAlarms, Thresholds

#: Share of the resource limit a stack is filled to.
FILL = 0.9
#: CDK's own resource in every stack (``AWS::CDK::Metadata``, written by ``cdk synth``).
CDK_METADATA = 1
#: Outputs the estate stack keeps for the services stacks (``Fn::GetStackOutput``): the
#: VPC and its subnets, at most two per zone.
CROSS_STACK_OUTPUTS = 7

#: Per service: log group, security group, task definition, task role, execution role and
#: its policy, the service.
SERVICE = 7
#: Service Auto Scaling: the scalable target and the target-tracking policy.
SCALING = 2
#: A load balancer: itself, its security group, listener, target group, the ingress rule on
#: the tasks' security group and the egress rule on its own.
LOAD_BALANCER = 6
#: Behind a load balancer, with no ``deployment_alarms`` given: its two deployment alarms.
DEPLOYMENT_ALARMS = 2
#: A strategy that shifts traffic: the alternate target group, the production listener
#: rule and the role ECS shifts traffic with.
TRAFFIC_SHIFTING = 3
#: A stack's repositories share one push policy (and its output).
PUSH_POLICY = 1


def alarm_count(alarms: ServiceAlarms | None) -> int:
    """Alarms a service's ``alarms:`` builds: a high and (unless null) a low per metric."""
    if alarms is None:
        return 0
    metrics: list[Thresholds | None] = [alarms.cpu, alarms.memory]
    return sum(1 + (t.low is not None) for t in metrics if t is not None)


def service_resources(svc: Service) -> int:
    return (
        SERVICE
        + (SCALING if svc.scaling else 0)
        + (LOAD_BALANCER if svc.load_balancer else 0)
        + (
            DEPLOYMENT_ALARMS
            if svc.load_balancer and svc.automation.deployment_alarms is None
            else 0
        )
        + (TRAFFIC_SHIFTING if svc.load_balancer and svc.automation.shifts_traffic else 0)
        + alarm_count(svc.alarms)
    )


def service_outputs(svc: Service) -> int:
    return 1 if svc.load_balancer else 0  # LoadBalancerUrl<Service>


def repository_policy_chars(name: str) -> int:
    """What one repository adds to its stack's push policy (its ARN, at its longest)."""
    return len(f"{limits.worst_prefix('ecr')}:repository/{name}") + 3


@dataclass
class StackPlan:
    """One estate stack: its name, what it holds, and what that costs."""

    name: str
    number: int
    services: list[str] = field(default_factory=list)
    repositories: list[str] = field(default_factory=list)
    resources: int = CDK_METADATA
    outputs: int = 0
    policy_chars: int = limits.STATEMENT_OVERHEAD

    @property
    def is_estate(self) -> bool:
        return self.number == 1

    def _repository_cost(self, name: str) -> tuple[int, int, int]:
        first = 0 if self.repositories else 1
        return 1 + first * PUSH_POLICY, 1 + first, repository_policy_chars(name)

    def fits(self, resources: int, outputs: int, repositories: list[str]) -> bool:
        r, o, p = resources, outputs, 0
        for name in repositories:
            dr, do, dp = self._repository_cost(name)
            r, o, p = r + dr, o + do, p + dp
        return (
            self.resources + r <= int(limits.MAX_RESOURCES * FILL)
            and self.outputs + o <= limits.MAX_OUTPUTS
            and self.policy_chars + p <= limits.MAX_MANAGED_POLICY
        )

    def add_repository(self, name: str) -> None:
        dr, do, dp = self._repository_cost(name)
        self.repositories.append(name)
        self.resources += dr
        self.outputs += do
        self.policy_chars += dp

    def add_service(self, svc: Service) -> None:
        self.services.append(svc.name)
        self.resources += service_resources(svc)
        self.outputs += service_outputs(svc)


class PlacementError(ValueError):
    """A service or repository that fits in no stack, even an empty one."""


def stack_names(environment: str) -> tuple[str, str]:
    """(control plane, estate) stack names; services stacks: ``services_stack_name``."""
    return f"EcsAutopilot-{environment}", f"EcsAutopilot-{environment}-estate"


def services_stack_name(environment: str, number: int) -> str:
    return f"EcsAutopilot-{environment}-services-{number}"


def plan(config: AutopilotConfig, *, estate_resources: int, estate_outputs: int) -> list[StackPlan]:
    """The estate stacks for ``config``: the estate first (whose own network, cluster,
    alarms and access-log bucket come to ``estate_resources`` and ``estate_outputs``), then
    services stacks."""
    _, estate_name = stack_names(config.environment)
    estate = StackPlan(name=estate_name, number=1)
    estate.resources += estate_resources  # with the access-log bucket, if any
    estate.outputs += estate_outputs + CROSS_STACK_OUTPUTS
    stacks = [estate]
    placed: set[str] = set()

    def open_stack() -> StackPlan:
        number = len(stacks) + 1
        stack = StackPlan(name=services_stack_name(config.environment, number), number=number)
        stacks.append(stack)
        return stack

    for svc in config.services:
        repos = [svc.repository] if svc.repository and svc.repository not in placed else []
        need = (service_resources(svc), service_outputs(svc), repos)
        current = stacks[-1]
        if not current.fits(*need):
            current = open_stack()
            if not current.fits(*need):
                raise PlacementError(f"service {svc.name!r} does not fit in an empty stack")
        current.add_service(svc)
        for name in repos:
            current.add_repository(name)
            placed.add(name)
    for repo in config.repositories:
        if repo.name in placed:
            continue
        target = next((s for s in stacks if s.fits(0, 0, [repo.name])), None) or open_stack()
        if not target.fits(0, 0, [repo.name]):
            raise PlacementError(f"repository {repo.name!r} does not fit in an empty stack")
        target.add_repository(repo.name)
        placed.add(repo.name)
    return stacks
