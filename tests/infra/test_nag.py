"""cdk-nag AwsSolutions: on for the real app, every acknowledgement narrow and reasoned on
every stack, and a deliberately bad construct proves the gate bites."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from aws_cdk import App, Stack, Validations
from aws_cdk import aws_sqs as sqs
from aws_cdk.assertions import Template
from cdk_nag import AwsSolutionsChecks

from reliability.nag_report import acknowledgements

_ARN = "arn:<AWS::Partition>"
_RA = "<AWS::Region>:<AWS::AccountId>"
_ASG = f"{_ARN}:autoscaling:{_RA}:autoScalingGroup:*:autoScalingGroupName/*"
_CAPACITY_PROVIDERS = f"{_ARN}:ecs:{_RA}:capacity-provider/*"
_PASS_ROLES = f"{_ARN}:iam::<AWS::AccountId>:role/ecs-autopilot/demo/*"
# The demo manages its estate's cluster and the sandbox's brownfield one (config/demo.yaml)
_CLUSTERS = ("demo-cluster", "brownfield")

# (construct path under the stack, rule id) of every acknowledgement each demo stack
# carries. A new acknowledgement must be added here on purpose, with its reason in the code.
EXPECTED_ESTATE = {
    ("Registry/PushPolicy/Resource", "AwsSolutions-IAM5[Resource::*]"),
    (
        "Cluster/InstanceRole/Resource",
        "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/AmazonSSMManagedInstanceCore]",
    ),
    ("Cluster/AgentPolicy/Resource", "AwsSolutions-IAM5[Resource::*]"),
    ("Cluster/AgentPolicy/Resource", "AwsSolutions-IAM5[Action::ecs:Submit*]"),
    (
        "Cluster/AgentPolicy/Resource",
        "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:"
        "log-group:/ecs/demo/*:log-stream:*]",
    ),
    ("Cluster/Instances/ASG", "AwsSolutions-EC26"),
    ("Services/worker/TaskDefinition/Resource", "AwsSolutions-ECS2"),
    ("Services/web/LoadBalancer/SecurityGroup/Resource", "AwsSolutions-EC23"),
    ("Services/AccessLogs/Resource", "AwsSolutions-S1"),
    ("Services/batch/TaskDefinition/Resource", "AwsSolutions-ECS2"),
    *{
        (
            f"Services/{svc}/TaskDefinition/ExecutionRole/DefaultPolicy",
            "AwsSolutions-IAM5[Resource::*]",
        )
        for svc in ("web", "api", "worker", "feed", "batch")
    },
}
EXPECTED_CONTROL = {
    *{
        pair
        for fn in (
            "ImageEvents",
            "DeploymentEvents",
            "TaskEvents",
            "CapacityEvents",
            "Reconciler",
            "Admission",
        )
        for pair in (
            (f"Automation/{fn}/Role/DefaultPolicy", "AwsSolutions-IAM5[Resource::*]"),
            *(
                (
                    f"Automation/{fn}/Role/DefaultPolicy",
                    f"AwsSolutions-IAM5[Resource::{_ARN}:ecs:{_RA}:service/{cluster}/*]",
                )
                for cluster in _CLUSTERS
            ),
            (
                f"Automation/{fn}/Role/DefaultPolicy",
                "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ecs:<AWS::Region>:<AWS::AccountId>:task-definition/*]",
            ),
            (f"Automation/{fn}/EventsDeadLetterQueue/Resource", "AwsSolutions-SQS3"),
            (f"Automation/{fn}/Function/Resource", "AwsSolutions-L1"),
        )
        # capacity-events reads no task definition
        if not (fn == "CapacityEvents" and "task-definition" in pair[1])
    },
    # image-events and the reconciler (which deploys through image-events' flow), the only
    # ones that register revisions: iam:PassRole on the estate's task and execution roles
    # (its IAM path), and on the roles under the path the config names (/brownfield/);
    # rollbacks (deployment-events, task-events) pass no role; and the images of the
    # repositories under the brownfield/ prefix
    *{
        (f"Automation/{fn}/Role/DefaultPolicy", f"AwsSolutions-IAM5[Resource::{arn}]")
        for fn in ("ImageEvents", "Reconciler")
        for arn in (
            _PASS_ROLES,
            f"{_ARN}:iam::<AWS::AccountId>:role/brownfield/*",
            f"{_ARN}:ecr:{_RA}:repository/brownfield/*",
        )
    },
    # admission: the managed clusters' service revisions (ids made per deployment), and the
    # images of the repositories under the brownfield/ prefix
    *{
        ("Automation/Admission/Role/DefaultPolicy", f"AwsSolutions-IAM5[Resource::{arn}]")
        for arn in (
            *(f"{_ARN}:ecs:{_RA}:service-revision/{cluster}/*" for cluster in _CLUSTERS),
            f"{_ARN}:ecr:{_RA}:repository/brownfield/*",
        )
    },
    # task-events: the managed clusters' tasks and container instances, their capacity
    # providers and tagged Auto Scaling groups
    *{
        ("Automation/TaskEvents/Role/DefaultPolicy", f"AwsSolutions-IAM5[Resource::{arn}]")
        for arn in (
            *(f"{_ARN}:ecs:{_RA}:task/{cluster}/*" for cluster in _CLUSTERS),
            *(f"{_ARN}:ecs:{_RA}:container-instance/{cluster}/*" for cluster in _CLUSTERS),
            _CAPACITY_PROVIDERS,
            _ASG,
        )
    },
    # the functions that roll back through ECS: StopServiceDeployment on the managed
    # clusters' service deployments (ids made per deployment)
    *{
        (
            f"Automation/{fn}/Role/DefaultPolicy",
            f"AwsSolutions-IAM5[Resource::{_ARN}:ecs:{_RA}:service-deployment/{cluster}/*]",
        )
        for fn in ("DeploymentEvents", "TaskEvents")
        for cluster in _CLUSTERS
    },
    # capacity-events: scalable targets, the managed alarms, capacity providers, groups
    *{
        ("Automation/CapacityEvents/Role/DefaultPolicy", f"AwsSolutions-IAM5[Resource::{arn}]")
        for arn in (
            f"{_ARN}:application-autoscaling:{_RA}:scalable-target/*",
            f"{_ARN}:cloudwatch:{_RA}:alarm:autopilot-*",
            _CAPACITY_PROVIDERS,
            _ASG,
        )
    },
}


def test_every_demo_stack_passes_the_gate(synth) -> None:
    # The session synth ran with the plugin on; the report lists no violation at all.
    report = json.loads((synth.outdir / "validation-report.json").read_text())
    assert all(r["conclusion"] == "success" for r in report["pluginReports"])
    assert not [v for r in report["pluginReports"] for v in r.get("violations", [])]
    # and each stack's template was checked by it
    for view in synth.views:
        assert view.template is not None


@pytest.mark.parametrize(
    ("stack", "expected"),
    [("EcsAutopilot-demo", EXPECTED_CONTROL), ("EcsAutopilot-demo-estate", EXPECTED_ESTATE)],
)
def test_acknowledgements_are_the_expected_narrow_ones_with_reasons(
    synth, stack: str, expected: set[tuple[str, str]]
) -> None:
    acks = acknowledgements(synth.outdir, stack)
    assert set(acks) == expected
    for (path, rule), reason in acks.items():
        assert len(reason) >= 40, (path, rule)
        assert path.count("/") >= 2, f"{rule} is acknowledged too broadly, on {path}"


def test_a_bad_construct_fails_the_gate(tmp_path: Path) -> None:
    # Given a stack with an unencrypted queue that accepts plain HTTP
    app = App(outdir=str(tmp_path))
    stack = Stack(app, "BadStack")
    sqs.Queue(stack, "Plaintext", encryption=sqs.QueueEncryption.UNENCRYPTED)
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    # When it is synthesized, Then the gate stops it
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        Template.from_stack(stack)
    report = json.loads((tmp_path / "validation-report.json").read_text())
    rules = {v["ruleName"] for r in report["pluginReports"] for v in r["violations"]}
    assert {"AwsSolutions-SQS2", "AwsSolutions-SQS4"} <= rules
