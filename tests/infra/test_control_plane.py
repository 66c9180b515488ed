"""The control plane on its own: onto existing clusters (no estate), and the same template
whatever the number of services it manages."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from aws_cdk import App

from infra import limits
from infra.config import AutopilotConfig, check_config
from infra.stacks.control_plane import ControlPlaneStack
from reliability.nag_report import acknowledgements
from tests.infra.conftest import REPO, Synthesized, cdk_context, synthesize
from tests.infra.test_cfn_lint import cfn_lint
from tests.infra.test_split import split_config
from tests.infra.test_stack import actions, pseudo

EXISTING = {
    "environment": "brown",
    "manage": {
        "clusters": ["prod", "arn:aws:ecs:eu-west-1:123456789012:cluster/batch"],
        "repositories": {"names": ["shop/web"], "prefixes": ["team-a/"]},
        "pass_roles": {
            "arns": ["arn:aws:iam::123456789012:role/shop-task"],
            "paths": ["/ecs-tasks/"],
            "tag": {"key": "autopilot:passable", "value": "yes"},
        },
    },
    "guardrails": {
        "min_scan": "high",
        "manual_approval_clusters": ["arn:aws:ecs:eu-west-1:123456789012:cluster/batch", "prod"],
    },
}


@pytest.fixture(scope="module")
def alone(_no_aws_credentials: None, tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    return synthesize(AutopilotConfig.model_validate(EXISTING), tmp_path_factory.mktemp("alone"))


def _template(s: Synthesized) -> dict[str, Any]:
    return json.loads((s.outdir / "EcsAutopilot-brown.template.json").read_text())


def _policies(template: dict[str, Any], function: str) -> list[dict[str, Any]]:
    return [
        st
        for lid, r in template["Resources"].items()
        if r["Type"] == "AWS::IAM::Policy" and lid.startswith(f"Automation{function}Role")
        for st in r["Properties"]["PolicyDocument"]["Statement"]
    ]


def test_the_control_plane_deploys_alone_onto_existing_clusters(alone) -> None:
    # Given a config with no estate: one stack, through cdk-nag (the synth raised otherwise)
    assert [s.stack_name for s in alone.stacks.all] == ["EcsAutopilot-brown"]
    assert alone.stacks.estate is None
    template = _template(alone)
    # Then the functions manage the clusters by name (this account and region) and by ARN
    env = {
        r["Properties"]["FunctionName"]: r["Properties"]["Environment"]["Variables"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::Lambda::Function" and "FunctionName" in r["Properties"]
    }
    assert len(env) == 6  # the four reaction functions, the reconciler and admission
    for variables in env.values():
        assert pseudo(variables["CLUSTER_ARNS"]) == (
            "arn:${AWS::Partition}:ecs:${AWS::Region}:${AWS::AccountId}:cluster/prod,"
            "arn:aws:ecs:eu-west-1:123456789012:cluster/batch"
        )
        assert variables["REPOSITORIES"] == "name:shop/web,prefix:team-a/"
    outputs = template["Outputs"]
    assert outputs["ManagedRepositories"]["Value"] == "name:shop/web,prefix:team-a/"
    assert outputs["PassRoles"]["Value"] == (
        "arn:aws:iam::123456789012:role/shop-task,path:/ecs-tasks/,tag:autopilot:passable=yes"
    )
    assert "ClusterArn" not in outputs


def test_the_guardrails_reach_image_events_alone_and_the_outputs(alone) -> None:
    # Given guardrails: floor high, approval required in both clusters (by ARN and by name)
    template = _template(alone)
    env = {
        r["Properties"]["FunctionName"]: r["Properties"]["Environment"]["Variables"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::Lambda::Function" and "FunctionName" in r["Properties"]
    }
    # Then image-events gets them (the name resolved to this account's ARN), in their order
    image = env["brown-image-events"]
    assert image["MIN_SCAN_GATE"] == "high"
    assert pseudo(image["MANUAL_APPROVAL_CLUSTER_ARNS"]) == (
        "arn:aws:ecs:eu-west-1:123456789012:cluster/batch,"
        "arn:${AWS::Partition}:ecs:${AWS::Region}:${AWS::AccountId}:cluster/prod"
    )
    # and the reconciler, which deploys through image-events' flow, the same
    sweep = env["brown-reconciler"]
    assert sweep["MIN_SCAN_GATE"] == image["MIN_SCAN_GATE"]
    assert sweep["MANUAL_APPROVAL_CLUSTER_ARNS"] == image["MANUAL_APPROVAL_CLUSTER_ARNS"]
    # and the admission hook the scan gate's floor (it applies image-events' gate)
    assert env["brown-admission"]["MIN_SCAN_GATE"] == image["MIN_SCAN_GATE"]
    # and no other function, which reads neither the scan gate nor approval
    for name, variables in env.items():
        if name not in {"brown-image-events", "brown-reconciler"}:
            assert "MANUAL_APPROVAL_CLUSTER_ARNS" not in variables, name
            if name != "brown-admission":
                assert "MIN_SCAN_GATE" not in variables, name
    # and the outputs the operator commands read (`autopilot approve` applies them too)
    outputs = template["Outputs"]
    assert outputs["MinScanGate"]["Value"] == "high"
    assert pseudo(outputs["ManualApprovalClusterArns"]["Value"]) == pseudo(
        image["MANUAL_APPROVAL_CLUSTER_ARNS"]
    )


def test_without_guardrails_there_is_no_floor(control) -> None:
    (image,) = [
        r["Properties"]["Environment"]["Variables"]
        for r in control.template_json["Resources"].values()
        if r["Type"] == "AWS::Lambda::Function"
        and r["Properties"].get("FunctionName") == "demo-image-events"
    ]
    assert (image["MIN_SCAN_GATE"], image["MANUAL_APPROVAL_CLUSTER_ARNS"]) == ("off", "")
    outputs = control.template_json["Outputs"]
    assert outputs["MinScanGate"]["Value"] == "off"
    assert outputs["ManualApprovalClusterArns"]["Value"] == "-"


def test_existing_clusters_and_roles_in_the_grants(alone) -> None:
    template = _template(alone)
    image = _policies(template, "ImageEvents")
    # (the admission hook's role, passed to ECS itself: test_admission_wiring.py)
    passes = [
        st
        for st in image
        if "iam:PassRole" in actions(st)
        and st["Condition"]["StringEquals"]["iam:PassedToService"] != "ecs.amazonaws.com"
    ]
    assert [sorted(pseudo(st["Resource"])) for st in passes[:1]] == [
        [
            "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/ecs-tasks/*",
            "arn:aws:iam::123456789012:role/shop-task",
        ]
    ]
    assert pseudo(passes[1]["Resource"]) == "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/*"
    assert passes[1]["Condition"] == {
        "StringEquals": {
            "iam:PassedToService": "ecs-tasks.amazonaws.com",
            "iam:ResourceTag/autopilot:passable": "yes",
        }
    }
    assert all(
        st["Condition"]["StringEquals"]["iam:PassedToService"] == "ecs-tasks.amazonaws.com"
        for st in passes
    )
    (update,) = [st for st in image if "ecs:UpdateService" in actions(st)]
    assert set(pseudo(update["Resource"])) == {
        "arn:${AWS::Partition}:ecs:${AWS::Region}:${AWS::AccountId}:service/prod/*",
        "arn:aws:ecs:eu-west-1:123456789012:service/batch/*",
    }
    assert update["Condition"] == {
        "StringLike": {"aws:ResourceTag/autopilot:repository": ["shop/web", "team-a/*"]}
    }
    (describe,) = [st for st in image if "ecr:DescribeImages" in actions(st)]
    assert pseudo(describe["Resource"]) == [
        "arn:${AWS::Partition}:ecr:${AWS::Region}:${AWS::AccountId}:repository/shop/web",
        "arn:${AWS::Partition}:ecr:${AWS::Region}:${AWS::AccountId}:repository/team-a/*",
    ]
    tasks = _policies(template, "TaskEvents")
    (asg,) = [st for st in tasks if "autoscaling:SetDesiredCapacity" in actions(st)]
    assert asg["Condition"] == {
        "StringEquals": {"aws:ResourceTag/autopilot:cluster": ["prod", "batch"]}
    }


def test_the_control_plane_alone_passes_nag_and_cfn_lint(alone) -> None:
    acks = acknowledgements(alone.outdir, "EcsAutopilot-brown")
    image = {rule for path, rule in acks if path == "Automation/ImageEvents/Role/DefaultPolicy"}
    # the prefix, the role path and the tag form are acknowledged, each with its reason
    assert {
        "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ecr:<AWS::Region>:<AWS::AccountId>:repository/team-a/*]",
        "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:iam::<AWS::AccountId>:role/ecs-tasks/*]",
        "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:iam::<AWS::AccountId>:role/*]",
        "AwsSolutions-IAM5[Resource::arn:aws:ecs:eu-west-1:123456789012:service/batch/*]",
    } <= image
    for (path, rule), reason in acks.items():
        assert len(reason) >= 40, (path, rule)
        assert path.count("/") >= 2, f"{rule} is acknowledged too broadly, on {path}"
    result = cfn_lint(sorted(alone.outdir.glob("*.template.json")))
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == ""


def _control_plane(config: AutopilotConfig, outdir: Path) -> dict[str, Any]:
    """The control plane alone (no estate, no cdk-nag: cheap), as synthesized."""
    app = App(outdir=str(outdir), context=cdk_context())
    stack = ControlPlaneStack(app, "EcsAutopilot-demo", config=config)
    template: dict[str, Any] = app.synth().get_stack_by_name(stack.stack_name).template
    return json.loads(re.sub(r"\b[0-9a-f]{64}\b", "<asset-hash>", json.dumps(template)))


def test_the_control_plane_is_the_same_for_10_and_1000_services(tmp_path: Path) -> None:
    # Given estates of 10 and of 1,000 services (repositories managed by prefix)
    small = AutopilotConfig.model_validate(split_config(10))
    large = AutopilotConfig.model_validate(split_config(1000))
    check_config(small, "small")
    check_config(large, "large")
    # When the control plane is built for each, Then its template is the same
    a = _control_plane(small, tmp_path / "10")
    b = _control_plane(large, tmp_path / "1000")
    assert a["Resources"].keys() == b["Resources"].keys()
    assert a == b


def test_the_limit_estimates_hold_what_the_templates_hold(alone, synth) -> None:
    # The config checks estimate patterns, environments and statements at their longest;
    # what the templates hold, with the pseudo parameters at their longest, is no more.
    worst = {
        "${AWS::Partition}": limits.WORST_PARTITION,
        "${AWS::Region}": limits.WORST_REGION,
        "${AWS::AccountId}": limits.WORST_ACCOUNT,
    }

    def longest(value: Any) -> str:
        text = json.dumps(pseudo(value), separators=(",", ":"))
        for k, v in worst.items():
            text = text.replace(k, v)
        return text

    demo = yaml.safe_load((REPO / "config" / "demo.yaml").read_text())
    for s, config in (
        (alone, AutopilotConfig.model_validate(EXISTING)),
        (synth, AutopilotConfig.model_validate(demo)),
    ):
        template = json.loads(
            (s.outdir / f"{s.stacks.control.stack_name}.template.json").read_text()
        )
        arns = [limits.worst_cluster_arn(c.name, c.arn) for c in config.managed_clusters]
        patterns = limits.rule_patterns(arns, config.managed_repositories, config.alarm_name_prefix)
        for r in template["Resources"].values():
            if r["Type"] == "AWS::Events::Rule" and "EventPattern" in r["Properties"]:
                rule = r["Properties"]["Name"].removeprefix(f"{config.environment}-")
                assert len(longest(r["Properties"]["EventPattern"])) <= limits.compact(
                    patterns[rule]
                ), rule
            if r["Type"] == "AWS::Lambda::Function" and "Environment" in r["Properties"]:
                variables = r["Properties"]["Environment"]["Variables"]
                # the ledger's name and the topic's ARN are references: at their longest
                resolved = {
                    k: {"LEDGER_TABLE": "x" * 255, "NOTICES_TOPIC_ARN": "x" * 256}.get(
                        k, longest(v).strip('"')
                    )
                    for k, v in variables.items()
                }
                size = sum(len(k) + len(v) for k, v in resolved.items())
                assert size <= limits.environment_size(arns, config.managed_repositories)
            if r["Type"] == "AWS::IAM::Policy":
                for st in r["Properties"]["PolicyDocument"]["Statement"]:
                    _, most = limits.largest_statement(arns, config.managed_repositories)
                    assert len(longest(st)) <= most, st
