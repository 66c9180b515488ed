"""Notices: the encrypted SNS topic every part of the app announces to (people subscribe to it).

A construct of its own because the cluster (Auto Scaling notifications), the alarms and the
automation functions all publish to it, and the automation needs the cluster first.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import ArnFormat, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from constructs import Construct


@dataclass(frozen=True)
class NoticesProps:
    """``topic_name``: physical name of the topic. ``alarm_name_prefixes``: the CloudWatch
    alarms of this account and region that may publish to it, by name prefix (default none).
    ``removal_policy``: of the KMS key (default RETAIN)."""

    topic_name: str
    alarm_name_prefixes: tuple[str, ...] = ()
    removal_policy: RemovalPolicy = RemovalPolicy.RETAIN


class Notices(Construct):
    """Exposes ``topic`` and its ``key``; ``grant_publish`` for IAM principals."""

    def __init__(self, scope: Construct, construct_id: str, *, props: NoticesProps) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self.key = kms.Key(
            self,
            "Key",
            description=f"Encrypts the {props.topic_name} topic",
            enable_key_rotation=True,
            removal_policy=props.removal_policy,
        )
        # Services that publish to the topic with their own identity need the key too.
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchAlarmsPublish",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],
                conditions={"StringEquals": {"aws:SourceAccount": stack.account}},
            )
        )
        # Auto Scaling notifications are sent by its service-linked role, which may not exist
        # yet when the key is created: name it in a condition, not as a principal.
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AutoScalingNotificationsPublish",
                principals=[iam.AnyPrincipal()],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],
                conditions={
                    "StringEquals": {"kms:CallerAccount": stack.account},
                    "ArnLike": {
                        "aws:PrincipalArn": stack.format_arn(
                            service="iam",
                            region="",
                            resource="role",
                            resource_name=(
                                "aws-service-role/autoscaling.amazonaws.com/"
                                "AWSServiceRoleForAutoScaling*"
                            ),
                        )
                    },
                },
            )
        )
        self.topic = sns.Topic(
            self,
            "Topic",
            topic_name=props.topic_name,
            display_name="ecs-autopilot notices",
            master_key=self.key,
            enforce_ssl=True,
        )
        # enforce_ssl writes a topic policy, and a topic policy replaces SNS's default one
        # (which admits the owner's account): without this statement the policy holds only
        # the SSL Deny and every alarm action fails, "not authorized to perform SNS:Publish".
        # Auto Scaling needs none: its service-linked role is of this account and its own
        # policy allows sns:Publish (it needs the key statement above instead).
        if props.alarm_name_prefixes:
            self.topic.add_to_resource_policy(
                iam.PolicyStatement(
                    sid="CloudWatchAlarmsPublish",
                    principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                    actions=["sns:Publish"],
                    resources=[self.topic.topic_arn],
                    conditions={
                        "StringEquals": {"aws:SourceAccount": stack.account},
                        "ArnLike": {
                            "aws:SourceArn": [
                                stack.format_arn(
                                    service="cloudwatch",
                                    resource="alarm",
                                    resource_name=f"{prefix}*",
                                    arn_format=ArnFormat.COLON_RESOURCE_NAME,
                                )
                                for prefix in props.alarm_name_prefixes
                            ]
                        },
                    },
                )
            )

    def grant_publish(self, grantee: iam.IGrantable) -> iam.Grant:
        # Not topic.grant_publish: it adds kms:GenerateDataKey*, broader than publishing needs.
        grant = iam.Grant.add_to_principal(
            grantee=grantee, actions=["sns:Publish"], resource_arns=[self.topic.topic_arn]
        )
        # Publishing to a topic encrypted with a customer managed key needs the key too.
        self.key.grant(grantee, "kms:Decrypt", "kms:GenerateDataKey")
        return grant
