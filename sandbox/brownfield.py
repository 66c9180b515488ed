"""A brownfield estate in the sandbox: what another tool (Terraform, the console) made,
by plain API calls, with no CloudFormation and no ``autopilot:*`` tag.

In the sandbox's account: a VPC over three zones with a security group, the cluster
``brownfield`` (the FARGATE and FARGATE_SPOT capacity providers, FARGATE by default), the
ECR repositories ``brownfield/shop`` and ``brownfield/reports`` with an image each, IAM task
and execution roles, and four services, each made to meet one of `autopilot adopt`'s
answers (:data:`SERVICES` says which): one it can manage, one deployed by CodeDeploy, one
running a public image, one whose task role the control plane may not pass.

``create(clients)`` makes it (again in the same process, it finds what is there); the
``Sandbox`` makes it after the stacks are deployed when asked (``Sandbox(brownfield=True)``),
and the simulator then runs its services like the stacks' ones. The control plane manages
it once the config names the cluster (its ARN: :func:`cluster_arn`) and lets it pass the
roles under :data:`ROLE_PATH`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

from sandbox.server import ACCOUNT_ID, REGION, Clients
from sandbox.simulator.registry import image_manifest

CLUSTER: Final = "brownfield"
SHOP_REPOSITORY: Final = "brownfield/shop"
REPORTS_REPOSITORY: Final = "brownfield/reports"
#: the roles the control plane may pass are under this path (the foreign role is not)
ROLE_PATH: Final = "/brownfield/"
REGISTRY: Final = f"{ACCOUNT_ID}.dkr.ecr.{REGION}.amazonaws.com"
CIDR: Final = "10.60.0.0/16"
ZONES: Final = (f"{REGION}a", f"{REGION}b", f"{REGION}c")
#: the tag every resource here carries (the other tool's own)
OWNER_TAGS: Final = {"managed-by": "terraform", "team": "shop"}
PUBLIC_IMAGE: Final = "public.ecr.aws/nginx/nginx:stable"
LOG_ROUTER: Final = "public.ecr.aws/aws-observability/aws-for-fluent-bit:stable"
FIRST_TAG: Final = "1.0.0"


def cluster_arn() -> str:
    return f"arn:aws:ecs:{REGION}:{ACCOUNT_ID}:cluster/{CLUSTER}"


def role_arn(name: str, path: str = ROLE_PATH) -> str:
    return f"arn:aws:iam::{ACCOUNT_ID}:role{path}{name}"


@dataclass(frozen=True)
class ServiceSpec:
    """One brownfield service, and what `autopilot adopt` answers for it."""

    name: str
    image: str
    desired: int
    task_role: str
    #: ``deploymentController.type``
    controller: str = "ECS"
    #: the deployment circuit breaker with rollback
    breaker: bool = True
    #: the verdict adopt gives, and the reason code that decides it (None: none)
    verdict: str = "manage"
    because: str | None = None


SERVICES: Final = (
    ServiceSpec(
        "shop",
        f"{REGISTRY}/{SHOP_REPOSITORY}:{FIRST_TAG}",
        3,
        role_arn("shop-task"),
    ),
    ServiceSpec(
        "shop-bluegreen",
        f"{REGISTRY}/{SHOP_REPOSITORY}:{FIRST_TAG}",
        2,
        role_arn("shop-task"),
        controller="CODE_DEPLOY",
        verdict="never",
        because="deployment-controller",
    ),
    ServiceSpec(
        "promo",
        PUBLIC_IMAGE,
        2,
        role_arn("shop-task"),
        breaker=False,
        verdict="partial",
        because="image-not-ecr",
    ),
    ServiceSpec(
        "reports",
        f"{REGISTRY}/{REPORTS_REPOSITORY}:{FIRST_TAG}",
        1,
        role_arn("reports-admin", "/"),
        verdict="partial",
        because="role-not-passable",
    ),
)
EXECUTION_ROLE: Final = role_arn("shop-execution")


@dataclass
class BrownfieldEstate:
    """What :func:`create` made (or found)."""

    cluster_arn: str
    repositories: tuple[str, ...]
    subnets: dict[str, str]
    security_group: str
    roles: tuple[str, ...]
    #: service name -> ARN
    services: dict[str, str] = field(default_factory=dict)

    @property
    def specs(self) -> dict[str, ServiceSpec]:
        return {s.name: s for s in SERVICES}

    def to_json(self) -> dict[str, Any]:
        return {
            "cluster": self.cluster_arn,
            "repositories": list(self.repositories),
            "roles": list(self.roles),
            "services": self.services,
        }


def create(clients: Clients, progress: Callable[[str], None] | None = None) -> BrownfieldEstate:
    """Make the brownfield estate in the sandbox's account (what exists already is kept)."""
    say = progress or (lambda _m: None)
    subnets, group = _network(clients)
    roles = _roles(clients)
    for repository in (SHOP_REPOSITORY, REPORTS_REPOSITORY):
        _repository(clients, repository)
    arn = _cluster(clients)
    estate = BrownfieldEstate(arn, (SHOP_REPOSITORY, REPORTS_REPOSITORY), subnets, group, roles)
    for spec in SERVICES:
        estate.services[spec.name] = _service(clients, spec, estate)
    say(
        f"brownfield estate: cluster {CLUSTER}, {len(estate.services)} services, "
        f"repositories {', '.join(estate.repositories)} (plain API calls, no autopilot tags)"
    )
    return estate


def _tags(key: str = "Key", value: str = "Value") -> list[dict[str, str]]:
    return [{key: k, value: v} for k, v in OWNER_TAGS.items()]


def _network(clients: Clients) -> tuple[dict[str, str], str]:
    """A VPC of its own (the other tool's), a subnet per zone and a security group."""
    ec2 = clients("ec2")
    found = ec2.describe_vpcs(Filters=[{"Name": "cidr", "Values": [CIDR]}])["Vpcs"]
    vpc = found[0]["VpcId"] if found else ec2.create_vpc(CidrBlock=CIDR)["Vpc"]["VpcId"]
    if not found:
        ec2.create_tags(Resources=[vpc], Tags=[{"Key": "Name", "Value": "brownfield"}, *_tags()])
        # as most VPCs are made (tasks' network interfaces get DNS names: moto needs them)
        ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsSupport={"Value": True})
        ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
    existing = {
        s["AvailabilityZone"]: s["SubnetId"]
        for s in ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"]
    }
    subnets: dict[str, str] = {}
    for i, zone in enumerate(ZONES):
        subnets[zone] = existing.get(zone) or str(
            ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.60.{i}.0/24", AvailabilityZone=zone)[
                "Subnet"
            ]["SubnetId"]
        )
    groups = ec2.describe_security_groups(
        Filters=[
            {"Name": "vpc-id", "Values": [vpc]},
            {"Name": "group-name", "Values": ["brownfield-tasks"]},
        ]
    )["SecurityGroups"]
    group = (
        groups[0]["GroupId"]
        if groups
        else ec2.create_security_group(
            GroupName="brownfield-tasks", Description="brownfield tasks", VpcId=vpc
        )["GroupId"]
    )
    return subnets, str(group)


def _roles(clients: Clients) -> tuple[str, ...]:
    """The task and execution roles: the shop's under ``ROLE_PATH``, one foreign at ``/``."""
    iam = clients("iam")
    trust = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "ecs-tasks.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
    )
    made: list[str] = []
    for arn in (role_arn("shop-task"), EXECUTION_ROLE, role_arn("reports-admin", "/")):
        name = arn.rsplit("/", 1)[-1]
        path = arn.split(":role", 1)[1][: -len(name)]
        try:
            iam.get_role(RoleName=name)
        except iam.exceptions.NoSuchEntityException:
            iam.create_role(RoleName=name, Path=path, AssumeRolePolicyDocument=trust, Tags=_tags())
        made.append(arn)
    return tuple(made)


def _repository(clients: Clients, repository: str) -> None:
    """The repository (scan on push, as most are) with its first image."""
    ecr = clients("ecr")
    try:
        ecr.create_repository(
            repositoryName=repository,
            imageScanningConfiguration={"scanOnPush": True},
            tags=_tags(),
        )
    except ecr.exceptions.RepositoryAlreadyExistsException:
        return
    ecr.put_image(
        repositoryName=repository,
        imageManifest=image_manifest(f"{repository}:{FIRST_TAG}:brownfield"),
        imageManifestMediaType="application/vnd.docker.distribution.manifest.v2+json",
        imageTag=FIRST_TAG,
    )


def _cluster(clients: Clients) -> str:
    ecs = clients("ecs")
    found = [
        c
        for c in ecs.describe_clusters(clusters=[CLUSTER])["clusters"]
        if c.get("status") == "ACTIVE"
    ]
    if found:
        return str(found[0]["clusterArn"])
    arn = str(
        ecs.create_cluster(clusterName=CLUSTER, tags=_tags("key", "value"))["cluster"]["clusterArn"]
    )
    ecs.put_cluster_capacity_providers(
        cluster=CLUSTER,
        capacityProviders=["FARGATE", "FARGATE_SPOT"],
        defaultCapacityProviderStrategy=[{"capacityProvider": "FARGATE", "weight": 1}],
    )
    return arn


def _service(clients: Clients, spec: ServiceSpec, estate: BrownfieldEstate) -> str:
    """The service's task definition and the service, as the other tool declares them."""
    ecs = clients("ecs")
    found = [
        s
        for s in ecs.describe_services(cluster=CLUSTER, services=[spec.name])["services"]
        if s.get("status") == "ACTIVE"
    ]
    if found:
        return str(found[0]["serviceArn"])
    td = ecs.register_task_definition(
        family=f"brownfield-{spec.name}",
        taskRoleArn=spec.task_role,
        executionRoleArn=EXECUTION_ROLE,
        networkMode="awsvpc",
        requiresCompatibilities=["FARGATE"],
        cpu="256",
        memory="512",
        containerDefinitions=[
            {
                "name": "app",
                "image": spec.image,
                "essential": True,
                "portMappings": [{"containerPort": 8080, "protocol": "tcp"}],
            },
            {"name": "log-router", "image": LOG_ROUTER, "essential": False, "memory": 64},
        ],
        tags=_tags("key", "value"),
    )["taskDefinition"]["taskDefinitionArn"]
    arn = str(
        ecs.create_service(
            cluster=CLUSTER,
            serviceName=spec.name,
            taskDefinition=td,
            desiredCount=spec.desired,
            launchType="FARGATE",
            deploymentController={"type": spec.controller},
            networkConfiguration={
                "awsvpcConfiguration": {
                    "subnets": list(estate.subnets.values()),
                    "securityGroups": [estate.security_group],
                }
            },
            tags=_tags("key", "value"),
        )["service"]["serviceArn"]
    )
    if spec.controller == "ECS":
        # moto's CreateService drops these (as tests/estate.py notes); UpdateService keeps them.
        # ECS's AZ rebalancing is off, as on services made before it existed.
        ecs.update_service(
            cluster=CLUSTER,
            service=spec.name,
            capacityProviderStrategy=[{"capacityProvider": "FARGATE", "weight": 1}],
            deploymentConfiguration={
                "deploymentCircuitBreaker": {"enable": spec.breaker, "rollback": spec.breaker},
                "maximumPercent": 200,
                "minimumHealthyPercent": 100,
            },
            availabilityZoneRebalancing="DISABLED",
        )
    return arn
