"""The admission function and the role ECS assumes to call it, one construct.

``Admission`` is an ``AutomatedFunction`` (its role, log group, queues, ops alarms) that no
rule invokes: ECS calls it as the Lambda lifecycle hook (PRE_SCALE_UP) of a deployment of a
service that carries the hook (``autopilot.flows.admission``). It reads the managed
clusters' services and their service revisions, the task definitions, and the managed
repositories' images and scans; it changes nothing in AWS but the ledger and the notices.

``hook_role``: ``<prefix>-admission-hook``, trusted by ``ecs.amazonaws.com`` only, allowed
``lambda:InvokeFunction`` on the admission function only (the ``roleArn`` of the hook).
``hook_target_arn``: what the hook names (the function, or its ``live`` alias with
SnapStart). Both are fixed names, so an estate stack can name them without a reference
to the control plane (``hook_arns``).
"""

from __future__ import annotations

from dataclasses import dataclass

from autopilot import contract
from autopilot.settings import AdmissionSettings
from aws_cdk import aws_iam as iam
from constructs import Construct

from infra.constructs.function import LIVE_ALIAS, AutomatedFunction, FunctionProps
from infra.managed import ManagedScope, arn, nag_id


def hook_role_name(name_prefix: str) -> str:
    return f"{name_prefix}-admission-hook"


def hook_arns(name_prefix: str, *, snapstart: bool) -> tuple[str, str]:
    """(hookTargetArn, roleArn) of the admission hook of the control plane named
    ``name_prefix``, in this stack's account and region."""
    target = arn("lambda", f"function:{name_prefix}-{contract.ADMISSION.name}")
    if snapstart:
        target = f"{target}:{LIVE_ALIAS}"
    return target, arn("iam", f"role/{hook_role_name(name_prefix)}", region=False)


@dataclass(frozen=True)
class AdmissionProps:
    """``function``: what every function shares (its ``managed`` scope: the services and
    repositories the hook reads)."""

    function: FunctionProps


class Admission(AutomatedFunction):
    """admission: no rule; ECS invokes it through ``hook_role``."""

    spec = contract.ADMISSION
    settings_model = AdmissionSettings

    def __init__(self, scope: Construct, construct_id: str, *, props: AdmissionProps) -> None:
        super().__init__(scope, construct_id, props=props.function)
        managed = props.function.managed
        managed.grant_read_services(self.role)
        revisions = managed.in_clusters("service-revision")
        self.role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["ecs:DescribeServiceRevisions"],
                resources=[*managed.in_clusters("service"), *revisions],
            )
        )
        self.role.add_to_principal_policy(
            iam.PolicyStatement(actions=["ecs:DescribeTaskDefinition"], resources=["*"])
        )
        self.role.add_to_principal_policy(
            iam.PolicyStatement(
                # an image index?; its manifests (the gate is on the task's platform); the scan
                actions=[
                    "ecr:DescribeImages",
                    "ecr:DescribeImageScanFindings",
                    "ecr:BatchGetImage",
                ],
                resources=managed.repository_arns,
            )
        )
        self.hook_target_arn = self.invoked.function_arn
        self.hook_role = iam.Role(
            self,
            "HookRole",
            role_name=hook_role_name(props.function.name_prefix),
            assumed_by=iam.ServicePrincipal("ecs.amazonaws.com"),
            description=f"ECS invokes {self.function_name} as a deployment lifecycle hook",
        )
        self.hook_role.add_to_principal_policy(
            iam.PolicyStatement(actions=["lambda:InvokeFunction"], resources=[self.hook_target_arn])
        )
        self._acknowledge(managed)

    def grant_pass_hook_role(self, role: iam.IRole) -> None:
        """Pass ``hook_role`` to ECS: what an UpdateService that adds the hook needs."""
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["iam:PassRole"],
                resources=[self.hook_role.role_arn],
                conditions={"StringEquals": {"iam:PassedToService": "ecs.amazonaws.com"}},
            )
        )

    def _acknowledge(self, managed: ManagedScope) -> None:
        revisions = managed.in_clusters("service-revision")
        self.acknowledge_grants(
            [
                *managed.repository_findings(),
                *(
                    (
                        nag_id(r),
                        "DescribeServiceRevisions of the managed clusters' services: the "
                        "revision ids are ECS's, made per deployment.",
                    )
                    for r in revisions
                ),
            ]
        )
