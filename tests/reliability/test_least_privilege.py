"""Least privilege, read from the templates synthesized in this session, and checkov."""

# ruff: noqa: PLC0415 - imports are deferred: moto, boto3 and checkov load only where used

from __future__ import annotations

from typing import Any

import pytest

from reliability import least_privilege as lp
from reliability.hooks import HOOKS
from sandbox.synth import CloudAssembly


@pytest.fixture(scope="module")
def template(estate_assembly: CloudAssembly) -> dict[str, Any]:
    return estate_assembly.stacks[0].template


@pytest.fixture(scope="module")
def findings(template: dict[str, Any]) -> lp.Findings:
    from reliability.tools import ToolUnavailable

    try:
        return lp.check(template, "estate")
    except ToolUnavailable as exc:  # policy_sentry comes with the checkov tool venv
        pytest.skip(str(exc))


def test_the_code_derivation_finds_each_functions_calls() -> None:
    calls = lp.code_actions()
    assert {"ecs:RegisterTaskDefinition", "ecs:UpdateService", "tag:GetResources"} <= calls[
        "image-events"
    ]
    assert "ecs:UpdateService" in calls["deployment-events"]
    assert "ecs:StopTask" in calls["task-events"]
    assert "application-autoscaling:RegisterScalableTarget" in calls["capacity-events"]


def test_pass_role_only_to_ecs_tasks(findings: lp.Findings) -> None:
    assert findings.pass_role == []


def test_no_star_resource_on_a_mutating_action_with_resource_level_support(
    findings: lp.Findings,
) -> None:
    assert findings.star_mutating == []


def test_each_function_holds_only_the_actions_its_code_calls(findings: lp.Findings) -> None:
    assert {fn: extra for fn, extra in findings.extra.items() if extra} == {}


def test_every_call_seen_in_the_sandbox_is_granted(template: dict[str, Any]) -> None:
    seen = lp.observed_actions(HOOKS.calls)
    if not seen:
        pytest.skip("no sandbox run in this session yet (run the whole package)")
    policies = lp.function_policies(template)
    missing = {
        fn: sorted(set(actions) - {a for st in policies[fn] for a in st.actions})
        for fn, actions in seen.items()
        if fn in policies
    }
    assert {fn: m for fn, m in missing.items() if m} == {}


def test_checkov_has_no_failed_check_without_a_written_reason(
    estate_assembly: CloudAssembly,
) -> None:
    from reliability import checkov_run
    from reliability.tools import ToolUnavailable

    try:
        res = checkov_run.run(estate_assembly.stacks[0].template_file)
    except ToolUnavailable as exc:
        pytest.skip(str(exc))
    assert res.passed > 0
    assert res.unexplained == []
    assert res.verify_failed == []


def test_cdk_nag_passed_the_estate_with_every_acknowledgement_reasoned(
    estate_assembly: CloudAssembly,
) -> None:
    from reliability import nag_report

    nag = nag_report.read(estate_assembly.stacks[0].template_file)
    assert nag.plugin_reports == 1
    assert nag.violations == []
    assert nag.acknowledged > 0
    assert nag.without_reason == []
    assert nag.ok


def test_the_nag_reader_sees_a_violation_and_a_reasonless_acknowledgement(tmp_path: Any) -> None:
    import json

    from reliability import nag_report

    # Given an assembly whose report holds one violation and whose metadata one bare ack
    (tmp_path / "S.template.json").write_text("{}")
    violation = {"ruleName": "AwsSolutions-S1", "violatingResources": [{"resourceLogicalId": "B"}]}
    (tmp_path / "validation-report.json").write_text(
        json.dumps({"pluginReports": [{"violations": [violation]}]})
    )
    ack = {"type": "aws:cdk:acknowledged-rules", "data": {"AwsSolutions::AwsSolutions-L1": "ok"}}
    (tmp_path / "S.metadata.json").write_text(json.dumps({"/S/Fn": [ack]}))
    # Then both are reported and the verdict fails
    nag = nag_report.read(tmp_path / "S.template.json")
    assert nag.violations == ["AwsSolutions-S1: ['B']"]
    assert nag.without_reason == ["/S/Fn AwsSolutions::AwsSolutions-L1"]
    assert not nag.ok
