"""Registry: the ECR repositories, their lifecycle and pull policy, and a push policy for CI.

With a protective tag prefix (``RepositorySpec.protect_prefix``, the config's
``retention.prefix``), each repository's lifecycle policy starts with the rule that keeps
every image tagged under it (priority 1: tagged, that prefix, expire only beyond
``autopilot.logic.retention.PROTECT_COUNT`` images, so no rule of a lower priority may
expire them), and an IMMUTABLE repository is ``IMMUTABLE_WITH_EXCLUSION`` with the
prefix's WILDCARD filter: the reconciler moves the protective tags, every other tag stays
immutable.
"""

from __future__ import annotations

from dataclasses import dataclass

from autopilot.logic import retention
from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_iam as iam
from constructs import Construct

from infra.nag import acknowledge

_PULL_ACTIONS = [
    "ecr:BatchCheckLayerAvailability",
    "ecr:BatchGetImage",
    "ecr:GetDownloadUrlForLayer",
]
_PUSH_ACTIONS = [
    "ecr:BatchCheckLayerAvailability",
    "ecr:CompleteLayerUpload",
    "ecr:InitiateLayerUpload",
    "ecr:PutImage",
    "ecr:UploadLayerPart",
    "ecr:BatchGetImage",
    "ecr:GetDownloadUrlForLayer",
]
# What image automation reads about the tracked images: image-events reads tags, push times
# and media types (DescribeImages), the scan verdict at decision time
# (DescribeImageScanFindings) and an image index's manifests (BatchGetImage)
_AUTOMATION_READ_ACTIONS = [
    "ecr:DescribeImages",
    "ecr:DescribeImageScanFindings",
    "ecr:BatchGetImage",
]


@dataclass(frozen=True)
class RepositorySpec:
    """One repository.

    ``name`` is the physical name (moto and users need it explicit). ``mutable``: tag
    mutability (default IMMUTABLE). ``scan_on_push``: basic scanning on push (default on).
    ``untagged_expire_days`` / ``keep_tagged``: the lifecycle policy. ``pull_principals``:
    12-digit account ids or IAM ARNs that may pull. ``protect_prefix``: the protective tag
    prefix (default none: no protective rule, no exclusion).
    """

    name: str
    mutable: bool = False
    scan_on_push: bool = True
    untagged_expire_days: int = 7
    keep_tagged: int = 50
    pull_principals: tuple[str, ...] = ()
    protect_prefix: str | None = None


@dataclass(frozen=True)
class RegistryProps:
    """``repositories``: at least one. ``push_policy_name``: physical name of the CI push
    policy (default: generated). ``removal_policy``: of the repositories (default RETAIN)."""

    repositories: tuple[RepositorySpec, ...]
    push_policy_name: str | None = None
    removal_policy: RemovalPolicy = RemovalPolicy.RETAIN


class Registry(Construct):
    """Exposes ``repositories`` (by name), ``push_policy`` and ``registry_url``."""

    def __init__(self, scope: Construct, construct_id: str, *, props: RegistryProps) -> None:
        super().__init__(scope, construct_id)
        if not props.repositories:
            raise ValueError("RegistryProps needs at least one repository")
        self.repositories: dict[str, ecr.Repository] = {}
        for spec in props.repositories:
            prefix = spec.protect_prefix
            mutability = ecr.TagMutability.MUTABLE if spec.mutable else ecr.TagMutability.IMMUTABLE
            exclusions = None
            if prefix and not spec.mutable:
                mutability = ecr.TagMutability.IMMUTABLE_WITH_EXCLUSION
                exclusions = [
                    ecr.ImageTagMutabilityExclusionFilter.wildcard(
                        retention.exclusion_filter(prefix)
                    )
                ]
            repo = ecr.Repository(
                self,
                _construct_id(spec.name),
                repository_name=spec.name,
                image_scan_on_push=spec.scan_on_push,
                image_tag_mutability=mutability,
                image_tag_mutability_exclusion_filters=exclusions,
                encryption=ecr.RepositoryEncryption.AES_256,
                removal_policy=props.removal_policy,
            )
            # Explicit in the template (CDK leaves ECR's default AES256 implicit).
            cfn_repo = repo.node.default_child
            assert isinstance(cfn_repo, ecr.CfnRepository)
            cfn_repo.encryption_configuration = ecr.CfnRepository.EncryptionConfigurationProperty(
                encryption_type="AES256"
            )
            first = 1
            if prefix:
                rule = retention.lifecycle_rule(prefix)
                repo.add_lifecycle_rule(
                    description=str(rule["description"]),
                    rule_priority=1,
                    tag_status=ecr.TagStatus.TAGGED,
                    tag_prefix_list=[prefix],
                    max_image_count=retention.PROTECT_COUNT,
                )
                first = 2
            repo.add_lifecycle_rule(
                description=f"expire untagged images after {spec.untagged_expire_days} days",
                rule_priority=first,
                tag_status=ecr.TagStatus.UNTAGGED,
                max_image_age=Duration.days(spec.untagged_expire_days),
            )
            repo.add_lifecycle_rule(
                description=f"keep the last {spec.keep_tagged} tagged images",
                rule_priority=first + 1,
                tag_status=ecr.TagStatus.TAGGED,
                tag_pattern_list=["*"],
                max_image_count=spec.keep_tagged,
            )
            for principal in spec.pull_principals:
                repo.add_to_resource_policy(
                    iam.PolicyStatement(
                        sid=f"Pull{_construct_id(principal)[:40]}",
                        principals=[
                            iam.AccountPrincipal(principal)
                            if principal.isdigit()
                            else iam.ArnPrincipal(principal)
                        ],
                        actions=_PULL_ACTIONS,
                    )
                )
            self.repositories[spec.name] = repo

        # For CI systems: push to the declared repositories and nothing else.
        self.push_policy = iam.ManagedPolicy(
            self,
            "PushPolicy",
            managed_policy_name=props.push_policy_name,
            description="Push images to the ecs-autopilot repositories (attach to a CI role)",
            statements=[
                iam.PolicyStatement(actions=["ecr:GetAuthorizationToken"], resources=["*"]),
                iam.PolicyStatement(
                    actions=_PUSH_ACTIONS,
                    resources=[r.repository_arn for r in self.repositories.values()],
                ),
            ],
        )
        acknowledge(
            self.push_policy.node.default_child or self.push_policy,
            "AwsSolutions-IAM5[Resource::*]",
            "ecr:GetAuthorizationToken has no resource-level scope in IAM; the push actions "
            "are scoped to the declared repositories.",
        )
        stack = Stack.of(self)
        self.registry_url = f"{stack.account}.dkr.ecr.{stack.region}.{stack.url_suffix}"

    @property
    def repository_names(self) -> list[str]:
        return [r.repository_name for r in self.repositories.values()]

    @property
    def repository_arns(self) -> list[str]:
        return [r.repository_arn for r in self.repositories.values()]

    def grant_pull(self, grantee: iam.IGrantable) -> None:
        for repo in self.repositories.values():
            repo.grant_pull(grantee)

    def grant_read_images(
        self, grantee: iam.IGrantable, names: list[str] | None = None
    ) -> iam.Grant:
        """Read images (tags, push times, scan findings, manifests) in the repositories (all
        of them by default)."""
        repos = [self.repositories[n] for n in names] if names else list(self.repositories.values())
        return iam.Grant.add_to_principal(
            grantee=grantee,
            actions=_AUTOMATION_READ_ACTIONS,
            resource_arns=[r.repository_arn for r in repos],
        )


def _construct_id(name: str) -> str:
    return (
        "".join(
            part.capitalize()
            for part in name.replace("/", "-").replace(".", "-").replace("_", "-").split("-")
        )
        or "Repo"
    )
