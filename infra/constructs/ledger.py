"""Ledger: the DynamoDB table the functions keep their records in, and its one grant.

Keys ``pk`` and ``sk`` (strings), on-demand billing, point-in-time recovery, AWS-managed
encryption, items expire through ``expires_at``. What the items are is the business of the
functions' store code (``functions/autopilot``); the infra only knows the calls it makes
(``LEDGER_ACTIONS``).
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import RemovalPolicy
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


@dataclass(frozen=True)
class LedgerProps:
    """``table_name``: physical name of the table. ``removal_policy``: of the table
    (default RETAIN: the ledger is what the functions remember)."""

    table_name: str
    removal_policy: RemovalPolicy = RemovalPolicy.RETAIN


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

    @property
    def table_name(self) -> str:
        return self.table.table_name

    def grant_item_calls(self, grantee: iam.IGrantable) -> iam.Grant:
        """Exactly the item calls the functions make: no Scan, no batch, no streams."""
        return self.table.grant(grantee, *LEDGER_ACTIONS)
