"""Ledger: the DynamoDB table the functions keep their records in, its one grant, and the
resource policy that keeps everyone else from writing it.

Keys ``pk`` and ``sk`` (strings), on-demand billing, point-in-time recovery, AWS-managed
encryption, items expire through ``expires_at``. What the items are is the business of the
functions' store code (``functions/autopilot``); the infra only knows the calls it makes
(``LEDGER_ACTIONS``).

Whoever can write the ledger decides approvals, scan verdicts, quarantines and pauses. So
the table's resource policy denies every item write (``LEDGER_WRITE_ACTIONS``) to every
principal but the roles granted the item calls (the functions') and the operator roles of
the config (``operators.role_arns``). An explicit Deny in a resource policy binds the
account's administrators and its root user too: an identity policy cannot undo it.
"""

from __future__ import annotations

from dataclasses import dataclass

import jsii
from aws_cdk import IStableListProducer, Lazy, RemovalPolicy, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from constructs import Construct

#: The DynamoDB calls the functions make on the ledger (their store code in
#: functions/autopilot); reliability/least_privilege.py compares what the template grants
#: with what the code calls.
LEDGER_ACTIONS = (
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:Query",
)

#: Every call that changes an item of a table: the item-level Write actions of DynamoDB in
#: the Service Authorization Reference (a transaction, TransactWriteItems, is authorized as
#: the PutItem/UpdateItem/DeleteItem it holds; ConditionCheckItem is a read). Denied on the
#: ledger to all but its writers. Table management (UpdateTable, UpdateTimeToLive,
#: Put/DeleteResourcePolicy, DeleteTable) is not denied: CloudFormation's deploy role makes
#: those calls on every update of the stack, and denying them would lock the stack out of
#: its own table. Restores and imports write other, new tables.
LEDGER_WRITE_ACTIONS = (
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:BatchWriteItem",
    "dynamodb:PartiQLInsert",
    "dynamodb:PartiQLUpdate",
    "dynamodb:PartiQLDelete",
)


@dataclass(frozen=True)
class LedgerProps:
    """``table_name``: physical name of the table. ``removal_policy``: of the table
    (default RETAIN: the ledger is what the functions remember). ``operator_role_arns``:
    the roles, beside those granted the item calls, that may write items (ARNs with their
    path; a trailing ``*`` is a name prefix); default none: only the grantees write."""

    table_name: str
    removal_policy: RemovalPolicy = RemovalPolicy.RETAIN
    operator_role_arns: tuple[str, ...] = ()


@jsii.implements(IStableListProducer)
class _Writers:
    """The ARNs the write Deny exempts, read when the template is written: the roles
    ``grant_item_calls`` saw (however many, in whatever order the stack grants them), then
    the operator roles."""

    def __init__(self, operators: tuple[str, ...]) -> None:
        self.roles: list[str] = []
        self.operators = operators

    def produce(self) -> list[str]:
        return [*self.roles, *self.operators]


class Ledger(Construct):
    """Exposes ``table`` (and its ``table_name``); ``grant_item_calls`` for the functions."""

    def __init__(self, scope: Construct, construct_id: str, *, props: LedgerProps) -> None:
        super().__init__(scope, construct_id)
        # CDK leaves the id "Default" out of logical IDs: the table has the logical ID of a
        # table that is the child ``construct_id`` of ``scope`` (the stack's
        # Automation/Ledger: AutomationLedgerE30973CA, as before this construct wrapped it).
        # To CloudFormation a new logical ID is a new table: it would try to create a second
        # one of this name and delete this one, records and all.
        self.table = dynamodb.Table(
            self,
            "Default",
            table_name=props.table_name,
            partition_key=dynamodb.Attribute(name="pk", type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name="sk", type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            time_to_live_attribute="expires_at",
            removal_policy=props.removal_policy,
        )
        self._writers = _Writers(props.operator_role_arns)
        # The Deny names its exempt writers in a condition on aws:PrincipalArn, not in
        # NotPrincipal, and its Principal is "*":
        # - no cycle: the roles' policies refer to the table (GetAtt Arn) and this policy to
        #   the roles (GetAtt Arn), but the roles themselves refer to nothing, so the order is
        #   roles -> table -> the roles' policies. The policy's resource is the table's ARN
        #   built from its name, never a reference to the table itself.
        # - no principal check: a resource policy naming in Principal/NotPrincipal a role
        #   that does not exist (an operator role made later, a typo) is refused ("Invalid
        #   principal in policy"), and a named role is kept as its unique id, so a role
        #   re-created under its name no longer matches. Condition values are plain strings:
        #   the stack deploys, and an ARN matches once (and whenever) its role exists.
        # - for a role's session aws:PrincipalArn is the role's ARN (with its path), what
        #   GetAtt Role.Arn gives; ArnNotLike lets an operator ARN end in * (a permission
        #   set's role has a generated suffix). A principal with no PrincipalArn (a service)
        #   matches no value, so it is denied too.
        # Reads are not denied: identity policies decide them, as before.
        self.table.add_to_resource_policy(
            iam.PolicyStatement(
                sid="OnlyTheFunctionsAndOperatorsWriteItems",
                effect=iam.Effect.DENY,
                principals=[iam.AnyPrincipal()],
                actions=list(LEDGER_WRITE_ACTIONS),
                resources=[
                    Stack.of(self).format_arn(
                        service="dynamodb", resource="table", resource_name=props.table_name
                    )
                ],
                conditions={
                    "ArnNotLike": {"aws:PrincipalArn": Lazy.list(self._writers)},
                },
            )
        )

    @property
    def table_name(self) -> str:
        return self.table.table_name

    @property
    def writers(self) -> list[str]:
        """The ARNs (tokens for the roles of this app) the table lets write items."""
        return self._writers.produce()

    def grant_item_calls(self, role: iam.IRole) -> iam.Grant:
        """Exactly the item calls the functions make: no Scan, no batch, no streams; and
        ``role`` becomes one of the writers the table's resource policy lets through."""
        self._writers.roles.append(role.role_arn)
        return self.table.grant(role, *LEDGER_ACTIONS)
