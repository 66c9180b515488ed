"""The ledger's resource policy: whoever can write the ledger decides approvals, scan
verdicts, quarantines and pauses, so every item write is denied to every principal but the
six functions' roles (the four reaction functions, the reconciler and admission) and the config's
operator roles (``operators.role_arns``); reads are left to identity policies."""

from __future__ import annotations

import json
from typing import Any

import pytest

from infra.config import AutopilotConfig
from infra.constructs.ledger import LEDGER_WRITE_ACTIONS
from tests.infra.conftest import Synthesized, synthesize
from tests.infra.test_cfn_lint import cfn_lint
from tests.infra.test_stack import actions, pseudo

OPERATORS = [
    "arn:aws:iam::123456789012:role/ops/autopilot-operator",
    "arn:aws:iam::123456789012:role/aws-reserved/sso.amazonaws.com/eu-west-1/AWSReservedSSO_Ops_*",
]
WITH_OPERATORS = {
    "environment": "ops",
    "manage": {"clusters": ["prod"], "pass_roles": {"paths": ["/ecs-tasks/"]}},
    "operators": {"role_arns": OPERATORS},
}
#: DynamoDB's item-level Write actions (Service Authorization Reference)
ITEM_WRITES = {
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:BatchWriteItem",
    "dynamodb:PartiQLInsert",
    "dynamodb:PartiQLUpdate",
    "dynamodb:PartiQLDelete",
}
READS = {
    "dynamodb:GetItem",
    "dynamodb:BatchGetItem",
    "dynamodb:Query",
    "dynamodb:Scan",
    "dynamodb:ConditionCheckItem",
    "dynamodb:PartiQLSelect",
    "dynamodb:DescribeTable",
    "dynamodb:GetResourcePolicy",
}


@pytest.fixture(scope="module")
def with_operators(
    _no_aws_credentials: None, tmp_path_factory: pytest.TempPathFactory
) -> Synthesized:
    return synthesize(
        AutopilotConfig.model_validate(WITH_OPERATORS), tmp_path_factory.mktemp("operators")
    )


def _ops(s: Synthesized) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((s.outdir / "EcsAutopilot-ops.template.json").read_text())
    return doc


def _table(template: dict[str, Any]) -> dict[str, Any]:
    (table,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::DynamoDB::Table"]
    return table["Properties"]


def _function_roles(template: dict[str, Any]) -> list[dict[str, Any]]:
    """``GetAtt <role> Arn`` of each function that has a FunctionName (the six)."""
    return [
        {"Fn::GetAtt": [r["Properties"]["Role"]["Fn::GetAtt"][0], "Arn"]}
        for r in template["Resources"].values()
        if r["Type"] == "AWS::Lambda::Function" and "FunctionName" in r["Properties"]
    ]


def _statements(template: dict[str, Any]) -> list[dict[str, Any]]:
    statements: list[dict[str, Any]] = _table(template)["ResourcePolicy"]["PolicyDocument"][
        "Statement"
    ]
    return statements


def _assert_only_writers(template: dict[str, Any], table: str, operators: list[str]) -> None:
    (deny,) = _statements(template)
    # Given the table's policy: one Deny, to any principal, of every item write
    assert deny["Effect"] == "Deny"
    assert deny["Principal"] == {"AWS": "*"}
    assert set(actions(deny)) == ITEM_WRITES == set(LEDGER_WRITE_ACTIONS)
    assert not set(actions(deny)) & READS
    assert pseudo(deny["Resource"]) == (
        f"arn:${{AWS::Partition}}:dynamodb:${{AWS::Region}}:${{AWS::AccountId}}:table/{table}"
    )
    # Then exempt are exactly the six function roles, then the operator roles
    roles = _function_roles(template)
    assert len(roles) == 6
    assert deny["Condition"] == {"ArnNotLike": {"aws:PrincipalArn": [*roles, *operators]}}


def test_the_demo_ledger_denies_writes_to_all_but_the_functions(control) -> None:
    # config/demo.yaml names no operator role: only the functions may write
    _assert_only_writers(control.template_json, "demo-ledger", [])


def test_operator_roles_are_exempted_beside_the_functions(with_operators) -> None:
    _assert_only_writers(_ops(with_operators), "ops-ledger", OPERATORS)


def test_the_policy_refers_to_the_roles_not_the_table(with_operators) -> None:
    # The roles' policies refer to the table; the table's policy may refer to the roles
    # only if the roles themselves refer to nothing of the table (no cycle), and to the
    # table by its name, never by a reference to itself.
    template = _ops(with_operators)
    table_id = next(
        k for k, r in template["Resources"].items() if r["Type"] == "AWS::DynamoDB::Table"
    )
    policy_text = repr(_table(template)["ResourcePolicy"])
    assert table_id not in policy_text
    for ref in _function_roles(template):
        role = template["Resources"][ref["Fn::GetAtt"][0]]
        assert table_id not in repr(role)
        assert "DependsOn" not in role


def test_the_functions_still_hold_their_item_grants(with_operators) -> None:
    # The Deny exempts the roles; their identity policies are still what allows the calls.
    template = _ops(with_operators)
    granted = [
        set(actions(s))
        for r in template["Resources"].values()
        if r["Type"] == "AWS::IAM::Policy"
        for s in r["Properties"]["PolicyDocument"]["Statement"]
        if "dynamodb:PutItem" in actions(s)
    ]
    assert len(granted) == 6
    assert all(g >= {"dynamodb:PutItem", "dynamodb:UpdateItem"} for g in granted)


def test_a_control_plane_with_operators_passes_nag_and_cfn_lint(with_operators) -> None:
    # nag ran in synthesize (a finding raises); cfn-lint finds no cycle and no bad policy
    result = cfn_lint(sorted(with_operators.outdir.glob("*.template.json")))
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == ""
