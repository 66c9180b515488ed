"""The admission hook in the templates: the function (no rule: ECS invokes it), the role
ECS assumes to invoke it (trusted by ecs.amazonaws.com, InvokeFunction on that function
only), its ARNs in the environment of the functions that deploy (and their PassRole of it),
and the hook on the estate's services whose strategy runs lifecycle hooks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from infra.config import AutopilotConfig
from tests.infra.conftest import StackView, synthesize
from tests.infra.test_deployment_wiring import _services, _with_web

HOOK_ROLE = "demo-admission-hook"


def _resources(view: StackView, rtype: str) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = view.template.find_resources(rtype)
    return found


def _role_id(view: StackView, name: str) -> str:
    return next(
        lid
        for lid, r in _resources(view, "AWS::IAM::Role").items()
        if r["Properties"].get("RoleName") == name
    )


def _function_id(view: StackView, name: str) -> str:
    return next(
        lid
        for lid, r in _resources(view, "AWS::Lambda::Function").items()
        if r["Properties"].get("FunctionName") == name
    )


def _statements(view: StackView, role_id: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for policy in _resources(view, "AWS::IAM::Policy").values():
        props = policy["Properties"]
        if {"Ref": role_id} in props.get("Roles", []):
            out += props["PolicyDocument"]["Statement"]
    return out


def test_the_hook_role_is_ecs_s_and_invokes_the_admission_function_only(
    control: StackView,
) -> None:
    role_id = _role_id(control, HOOK_ROLE)
    role = _resources(control, "AWS::IAM::Role")[role_id]["Properties"]
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "ecs.amazonaws.com"}
    assert trust["Action"] == "sts:AssumeRole"
    fn = _function_id(control, "demo-admission")
    (statement,) = _statements(control, role_id)
    assert statement["Action"] == "lambda:InvokeFunction"
    assert statement["Resource"] == {"Fn::GetAtt": [fn, "Arn"]}
    assert "ManagedPolicyArns" not in role


def test_no_rule_invokes_the_admission_function(control: StackView) -> None:
    fn = _function_id(control, "demo-admission")
    for rule in _resources(control, "AWS::Events::Rule").values():
        assert fn not in json.dumps(rule["Properties"].get("Targets", []))


def test_the_admission_function_reads_and_changes_no_service(control: StackView) -> None:
    fn = _resources(control, "AWS::Lambda::Function")[_function_id(control, "demo-admission")]
    role_id = fn["Properties"]["Role"]["Fn::GetAtt"][0]
    actions = {
        a
        for s in _statements(control, role_id)
        for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    }
    assert "ecs:DescribeServiceRevisions" in actions
    assert {"ecr:DescribeImageScanFindings", "ecs:DescribeServices"} <= actions
    assert not {
        a for a in actions if a.startswith("ecs:") and not a.startswith(("ecs:Desc", "ecs:List"))
    }
    assert "iam:PassRole" not in actions


def test_the_functions_that_deploy_know_the_hook_and_may_pass_its_role(
    control: StackView,
) -> None:
    role_id = _role_id(control, HOOK_ROLE)
    fn_id = _function_id(control, "demo-admission")
    for name in ("demo-image-events", "demo-reconciler"):
        fn = _resources(control, "AWS::Lambda::Function")[_function_id(control, name)]
        env = fn["Properties"]["Environment"]["Variables"]
        assert env["ADMISSION_FUNCTION_ARN"] == {"Fn::GetAtt": [fn_id, "Arn"]}
        assert env["ADMISSION_ROLE_ARN"] == {"Fn::GetAtt": [role_id, "Arn"]}
        passes = [
            s
            for s in _statements(control, fn["Properties"]["Role"]["Fn::GetAtt"][0])
            if s["Action"] == "iam:PassRole" and s["Resource"] == {"Fn::GetAtt": [role_id, "Arn"]}
        ]
        assert passes == [
            {
                "Action": "iam:PassRole",
                "Condition": {"StringEquals": {"iam:PassedToService": "ecs.amazonaws.com"}},
                "Effect": "Allow",
                "Resource": {"Fn::GetAtt": [role_id, "Arn"]},
            }
        ]


def test_a_rolling_estate_service_has_no_hook(estate: StackView) -> None:
    for name, props in _services(estate).items():
        assert "LifecycleHooks" not in props["DeploymentConfiguration"], name


def test_a_blue_green_estate_service_carries_the_admission_hook(
    demo_config: AutopilotConfig, tmp_path: Path
) -> None:
    config = _with_web(demo_config, strategy="blue-green:5")
    synthesized = synthesize(config, tmp_path)  # cdk-nag on
    web = _services(synthesized.view("EcsAutopilot-demo-estate"))["web"]
    (hook,) = web["DeploymentConfiguration"]["LifecycleHooks"]
    assert hook["LifecycleStages"] == ["PRE_SCALE_UP"]
    text = json.dumps(hook)
    assert "function:demo-admission" in text
    assert f"role/{HOOK_ROLE}" in text
    # opted out: no hook
    off = _with_web(demo_config, strategy="blue-green:5", admission="off")
    web = _services(synthesize(off, tmp_path / "off").view("EcsAutopilot-demo-estate"))["web"]
    assert "LifecycleHooks" not in web["DeploymentConfiguration"]
