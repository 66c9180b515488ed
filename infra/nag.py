"""cdk-nag acknowledgements: one helper so each is placed on the narrowest construct with a reason.

cdk-nag v3 reads CDK's native ``Validations.of(construct).acknowledge``; an acknowledgement
on a construct covers the resources under it, so callers pass the resource itself or the
smallest construct that owns it (a role's ``DefaultPolicy``, not the role or the stack).
IAM5 findings are acknowledged one by one (``AwsSolutions-IAM5[Resource::...]``), under
the pack's well-known prefix (``AwsSolutions::AwsSolutions-IAM5[...]``, as cdk-nag's own
"Acknowledge with" hint spells it).
"""

from __future__ import annotations

import jsii
from aws_cdk import Acknowledgment, Aspects, IAspect, Validations
from aws_cdk import aws_iam as iam
from constructs import IConstruct

PACK_PREFIX = "AwsSolutions::"

# Placeholders cdk-nag uses for the pseudo parameters in IAM5 finding ids.
ARN_PREFIX = "arn:<AWS::Partition>"
REGION_ACCOUNT = "<AWS::Region>:<AWS::AccountId>"


def acknowledge(scope: IConstruct, rule_id: str, reason: str) -> None:
    """Acknowledge ``rule_id`` (e.g. ``AwsSolutions-IAM5[Resource::*]``) on ``scope``."""
    if not reason.strip():
        raise ValueError(f"{rule_id}: an acknowledgement needs a reason")
    full_id = rule_id if rule_id.startswith(PACK_PREFIX) else f"{PACK_PREFIX}{rule_id}"
    Validations.of(scope).acknowledge(Acknowledgment(id=full_id, reason=reason))


def default_policy(role: iam.IRole) -> IConstruct:
    """The role's DefaultPolicy, where CDK grants land (the role itself if there is none yet)."""
    child = role.node.try_find_child("DefaultPolicy")
    return child if child is not None else role


@jsii.implements(IAspect)
class _OverflowPolicies:
    """Carries a role's acknowledgements over to the overflow policies CDK splits off.

    A role whose default policy grows past IAM's size limit (many services: many roles to
    pass) gets ``OverflowPolicyN`` managed policies holding part of the same statements;
    they are the same grants, so they carry the same acknowledgements.
    """

    def __init__(self, role: iam.IRole, findings: list[tuple[str, str]]) -> None:
        self._role = role
        self._findings = findings

    def visit(self, node: IConstruct) -> None:
        if node.node.scope is self._role and node.node.id.startswith("OverflowPolicy"):
            for rule_id, reason in self._findings:
                acknowledge(node, rule_id, reason)


def acknowledge_policy(role: iam.IRole, findings: list[tuple[str, str]]) -> None:
    """Acknowledge ``findings`` on the role's DefaultPolicy and any overflow policy of it."""
    policy = default_policy(role)
    for rule_id, reason in findings:
        acknowledge(policy, rule_id, reason)
    Aspects.of(role).add(_OverflowPolicies(role, findings))
