"""Every synthesized IAM policy, linted offline by parliament (an IAM policy linter from PyPI,
pinned in uv.lock): zero findings, or each one listed here with its reason.

parliament reads a policy as IAM would: actions it does not know, resources whose ARN format
the action cannot take, conditions the action does not support, ``Resource: *`` on actions
that support resource-level permissions. The templates' intrinsic functions are resolved to
the ARNs CloudFormation would give (the account, region and partition fixed), so what is
linted is the policy a real account would hold.
"""

from __future__ import annotations

import json
import re
import warnings
from typing import Any

import pytest

# parliament 1.6 imports pkg_resources (hence setuptools < 81 in uv.lock) and writes regexes
# with invalid escapes: its import warns, about itself only
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from parliament import analyze_policy_string

ACCOUNT, REGION = "123456789012", "eu-west-1"
PSEUDO = {
    "AWS::Partition": "aws",
    "AWS::Region": REGION,
    "AWS::AccountId": ACCOUNT,
    "AWS::URLSuffix": "amazonaws.com",
    "AWS::StackName": "stack",
}

# (policy's logical id without its hash, parliament issue, what it names) -> why it stays.
# Exact: a finding not listed fails, and so does an entry no finding needs any more.
ALLOWED: dict[tuple[str, str, str], str] = {
    ("AutomationTaskEventsRoleDefaultPolicy", "RESOURCE_STAR", "ecs:ListTasks"): (
        "ListTasks names a container instance only when it filters by one; task-events lists a "
        "cluster's tasks by service (Fargate tasks have no container instance), so the "
        "statement is held to the managed clusters by the ecs:cluster condition instead"
    ),
    ("AutomationCapacityEventsRoleDefaultPolicy", "RESOURCE_STAR", "cloudwatch:DescribeAlarms"): (
        "capacity-events reads an alarm's state now (is its event true?) for metric and "
        "composite alarms; CloudWatch's DescribeAlarms API reference: composite alarms are "
        "answered only to a DescribeAlarms permission scoped to *, none to a narrower one "
        "(read only: the state, never a change)"
    ),
    **{
        (policy, "RESOURCE_STAR", "cloudwatch:DescribeAlarms"): (
            "image-events and the reconciler check that the deployment alarms a service names "
            "(autopilot:alarms) exist, metric or composite, before a deploy sets them; "
            "composite alarms are answered only to a DescribeAlarms permission scoped to * "
            "(read only: names, never a change)"
        )
        for policy in (
            "AutomationImageEventsRoleDefaultPolicy",
            "AutomationReconcilerRoleDefaultPolicy",
        )
    },
    **{
        (policy, "UNKNOWN_ACTION", "Unknown action ecs:StopServiceDeployment"): (
            "parliament 1.6's IAM database predates StopServiceDeployment (it lists "
            "ListServiceDeployments and DescribeServiceDeployments, not it); the Service "
            "Authorization Reference lists ecs:StopServiceDeployment on the "
            "service-deployment resource type (service-deployment/<cluster>/<service>/<id>), "
            "which is what the statement names, per managed cluster"
        )
        for policy in (
            "AutomationDeploymentEventsRoleDefaultPolicy",
            "AutomationTaskEventsRoleDefaultPolicy",
        )
    },
    ("ClusterAgentPolicy", "RESOURCE_STAR", "ecs:Poll"): (
        "the ECS agent polls as its container instance, whose ARN exists only once the "
        "instance registers; the statement is held to the estate's cluster by ecs:cluster"
    ),
    ("ClusterAgentPolicy", "RESOURCE_STAR", "ecs:StartTelemetrySession"): (
        "the ECS agent's telemetry session is its container instance's, whose ARN exists only "
        "once it registers; the statement is held to the estate's cluster by ecs:cluster"
    ),
}


def _arn(resource: dict[str, Any], logical_id: str) -> str:
    """The ARN CloudFormation gives a resource's ``Arn`` attribute (or ``Ref``, for topics)."""
    props = resource.get("Properties", {})
    here = f"{REGION}:{ACCOUNT}"
    kind = resource["Type"]
    if kind == "AWS::DynamoDB::Table":
        return f"arn:aws:dynamodb:{here}:table/{props.get('TableName', logical_id)}"
    if kind == "AWS::Logs::LogGroup":
        return f"arn:aws:logs:{here}:log-group:{props.get('LogGroupName', logical_id)}:*"
    if kind == "AWS::SQS::Queue":
        return f"arn:aws:sqs:{here}:{props.get('QueueName', logical_id)}"
    if kind == "AWS::SNS::Topic":
        return f"arn:aws:sns:{here}:{props.get('TopicName', logical_id)}"
    if kind == "AWS::KMS::Key":
        return f"arn:aws:kms:{here}:key/{logical_id.lower()}"
    if kind == "AWS::ECR::Repository":
        return f"arn:aws:ecr:{here}:repository/{props.get('RepositoryName', logical_id)}"
    if kind == "AWS::IAM::Role":
        name = props.get("RoleName", logical_id)
        return f"arn:aws:iam::{ACCOUNT}:role{props.get('Path', '/')}{name}"
    if kind == "AWS::Lambda::Function":
        return f"arn:aws:lambda:{here}:function:{props.get('FunctionName', logical_id)}"
    if kind == "AWS::ECS::Cluster":
        return f"arn:aws:ecs:{here}:cluster/{props.get('ClusterName', logical_id)}"
    raise AssertionError(f"no ARN rule for {kind} ({logical_id}): add one")


def resolve(value: Any, resources: dict[str, Any]) -> Any:
    """``value`` with ``Ref``, ``Fn::GetAtt``, ``Fn::Join`` and ``Fn::Select`` worked out."""
    if isinstance(value, list):
        return [resolve(v, resources) for v in value]
    if not isinstance(value, dict):
        return value
    if "Ref" in value:
        ref = value["Ref"]
        if ref in PSEUDO:
            return PSEUDO[ref]
        resource = resources[ref]
        if resource["Type"] == "AWS::SNS::Topic":
            return _arn(resource, ref)
        return resource.get("Properties", {}).get("Name", ref)
    if "Fn::GetAtt" in value:
        logical_id, attribute = value["Fn::GetAtt"]
        if attribute == "Arn":
            return _arn(resources[logical_id], logical_id)
        if attribute in ("DefaultSecurityGroup", "GroupId"):
            return "sg-0123456789abcdef0"
        return f"{logical_id}-{attribute}"
    if "Fn::Join" in value:
        sep, parts = value["Fn::Join"]
        return sep.join(str(resolve(p, resources)) for p in parts)
    if "Fn::Select" in value:
        index, items = value["Fn::Select"]
        return resolve(items, resources)[int(index)]
    return {k: resolve(v, resources) for k, v in value.items()}


def policies(template: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(logical id without its hash, resolved policy document) of every identity policy."""
    resources = template["Resources"]
    out = []
    for logical_id, r in resources.items():
        props = r.get("Properties", {})
        path = re.sub(r"[0-9A-F]{8}$", "", logical_id)  # the construct path, in short
        if r["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            out.append((path, resolve(props["PolicyDocument"], resources)))
        elif r["Type"] == "AWS::IAM::Role":
            for inline in props.get("Policies", []):
                out.append((path, resolve(inline["PolicyDocument"], resources)))
    return out


def findings(document: dict[str, Any]) -> list[tuple[str, str]]:
    """(issue, what it names) of every parliament finding on one policy document."""
    out = []
    for f in analyze_policy_string(json.dumps(document)).findings:
        detail = f.detail
        if isinstance(detail, list):
            names = sorted(
                d.get("action", json.dumps(d)) if isinstance(d, dict) else str(d) for d in detail
            )
        else:
            names = [str(detail)]
        out += [(f.issue, name) for name in names]
    return out


def test_every_synthesized_policy_lints_clean_or_is_listed_with_its_reason(synth) -> None:
    found = {
        (path, issue, name)
        for view in synth.views
        for path, document in policies(view.template_json)
        for issue, name in findings(document)
    }
    assert sorted(found - set(ALLOWED)) == []
    assert sorted(set(ALLOWED) - found) == [], "listed, no longer found: drop them"
    assert all(len(reason) >= 30 for reason in ALLOWED.values())


@pytest.mark.parametrize(
    ("statement", "issue"),
    [
        ({"Action": "ecs:NoSuchCall", "Resource": "*"}, "UNKNOWN_ACTION"),
        (
            {"Action": "dynamodb:GetItem", "Resource": f"arn:aws:sqs:{REGION}:{ACCOUNT}:q"},
            "RESOURCE_MISMATCH",
        ),
        ({"Action": "sqs:SendMessage", "Resource": "*"}, "RESOURCE_STAR"),
    ],
)
def test_the_linter_bites(statement: dict[str, Any], issue: str) -> None:
    document = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", **statement}]}
    assert issue in {i for i, _ in findings(document)}
