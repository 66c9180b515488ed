"""The sandbox's parts that need no running sandbox: template adjustments, the resolver,
event re-homing, the CLI's parsing and exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cli.main import _parse_findings, main
from sandbox import moto_adjustments as adj
from sandbox.intrinsics import Resolver, Unresolvable
from sandbox.router import RuleInfo, normalize_event, rehome_event
from sandbox.server import ACCOUNT_ID, REGION
from sandbox.synth import REPO_ROOT

TEMPLATE = {
    "Resources": {
        "Sg": {"Type": "Custom::VpcRestrictDefaultSG", "Properties": {}},
        "Subnet": {
            "Type": "AWS::EC2::Subnet",
            "Properties": {"AvailabilityZone": {"Fn::Select": [0, {"Fn::GetAZs": ""}]}},
            "DependsOn": ["Sg", "Vpc"],
        },
        "Vpc": {"Type": "AWS::EC2::VPC", "Properties": {}},
        "Errors": {"Type": "AWS::CloudWatch::Alarm", "Properties": {"AlarmName": "demo-errors"}},
        "Board": {
            "Type": "AWS::CloudWatch::Dashboard",
            "Properties": {
                "DashboardBody": {"Fn::Join": ["", [{"Fn::GetAtt": ["Errors", "Arn"]}]]}
            },
        },
    },
    "Outputs": {"SgOut": {"Value": {"Ref": "Sg"}}, "VpcOut": {"Value": {"Ref": "Vpc"}}},
}


def test_adjust_template_strips_custom_resources_and_rewrites_what_moto_cannot_resolve() -> None:
    body, removed = adj.adjust_template(TEMPLATE, "Stack")
    assert removed == ["Sg"]
    assert "Sg" not in body["Resources"]
    assert body["Resources"]["Subnet"]["DependsOn"] == ["Vpc"]
    assert set(body["Outputs"]) == {"VpcOut"}
    assert body["Resources"]["Subnet"]["Properties"]["AvailabilityZone"] == {
        "Fn::Select": [0, {"Fn::GetAZs": REGION}]
    }
    joined = body["Resources"]["Board"]["Properties"]["DashboardBody"]["Fn::Join"][1][0]
    assert "demo-errors" in json.dumps(joined)
    assert "Fn::GetAtt" not in json.dumps(joined)
    # the input is untouched
    assert "Sg" in TEMPLATE["Resources"]


def test_every_adjustment_has_a_reason() -> None:
    keys = [a.key for a in adj.ADJUSTMENTS]
    assert len(keys) == len(set(keys))
    for a in adj.ADJUSTMENTS:
        assert a.kind in {"template", "account", "reconcile"}
        assert a.what
        assert a.why


def test_every_backend_patch_has_a_reason_and_is_in_the_readme() -> None:
    keys = [p.key for p in adj.BACKEND_PATCHES]
    assert len(keys) == len(set(keys))
    assert not set(keys) & {a.key for a in adj.ADJUSTMENTS}
    for p in adj.BACKEND_PATCHES:
        assert p.kind == "backend"
        assert p.what
        assert p.why
    readme = (REPO_ROOT / "sandbox" / "README.md").read_text()
    missing = [k for k in keys if f"`{k}`" not in readme]
    assert not missing, f"sandbox/README.md does not list: {missing}"


def test_resolver_answers_refs_getatts_and_joins() -> None:
    template = {
        "Resources": {
            "Q": {"Type": "AWS::SQS::Queue"},
            "R": {"Type": "AWS::ECR::Repository"},
            "S": {"Type": "AWS::ECS::Service"},
            "L": {"Type": "AWS::ElasticLoadBalancingV2::LoadBalancer"},
            "T": {"Type": "AWS::ElasticLoadBalancingV2::TargetGroup"},
        }
    }
    elb = f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT_ID}"
    ids = {
        "Q": f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT_ID}/dlq",
        "R": "demo/web",
        "S": f"arn:aws:ecs:{REGION}:{ACCOUNT_ID}:service/c/web",
        "L": f"{elb}:loadbalancer/app/web/50dc6c495c0c9188",
        "T": f"{elb}:targetgroup/web-tasks/cbf133c568e0d028",
    }
    r = Resolver(template, ids)
    # the dimensions of a load balancer's metrics, as ELB's CloudFormation reference gives them
    assert r.resolve({"Fn::GetAtt": ["L", "LoadBalancerFullName"]}) == "app/web/50dc6c495c0c9188"
    assert (
        r.resolve({"Fn::GetAtt": ["T", "TargetGroupFullName"]})
        == "targetgroup/web-tasks/cbf133c568e0d028"
    )
    assert r.resolve({"Fn::GetAtt": ["Q", "Arn"]}) == f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:dlq"
    assert r.resolve({"Fn::GetAtt": ["R", "Arn"]}).endswith(":repository/demo/web")
    assert r.resolve({"Fn::GetAtt": ["S", "Name"]}) == "web"
    assert (
        r.resolve({"Fn::Join": ["/", ["service", {"Ref": "AWS::Region"}, {"Ref": "R"}]]})
        == f"service/{REGION}/demo/web"
    )
    assert r.resolve({"Fn::Sub": "${AWS::AccountId}-${R}"}) == f"{ACCOUNT_ID}-demo/web"
    with pytest.raises(Unresolvable):
        r.resolve({"Ref": "Missing"})


def test_rehome_rewrites_account_and_region_of_arns() -> None:
    event = {
        "source": "aws.ecs",
        "detail-type": "ECS Deployment State Change",
        "account": "111122223333",
        "region": "us-west-2",
        "resources": ["arn:aws:ecs:us-west-2:111122223333:service/c/web"],
        "detail": {"availabilityZone": "us-west-2a"},
    }
    out = rehome_event(event)
    assert out["region"] == REGION
    assert out["account"] == ACCOUNT_ID
    assert out["resources"] == [f"arn:aws:ecs:{REGION}:{ACCOUNT_ID}:service/c/web"]
    assert normalize_event(out)["id"]
    with pytest.raises(ValueError, match="EventBridge"):
        normalize_event({"detail": {}})


def test_rule_matching_uses_eventbridge_operators() -> None:
    rule = RuleInfo(
        "r",
        "arn",
        {"source": ["aws.cloudwatch"], "detail": {"alarmName": [{"prefix": "demo-"}]}},
        (),
    )
    assert rule.matches({"source": "aws.cloudwatch", "detail": {"alarmName": "demo-cpu"}})
    assert not rule.matches({"source": "aws.cloudwatch", "detail": {"alarmName": "other"}})


def test_findings_parsing() -> None:
    assert _parse_findings("CRITICAL=1,high=2") == {"CRITICAL": 1, "HIGH": 2}
    assert _parse_findings(None) == {}


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["bogus"],
        ["local"],
        ["local", "push"],
        ["local", "push", "demo/web:1.0.0", "--findings", "CRITICAL=x"],
        ["local", "alarm", "name", "MAYBE"],
        ["invoke", "image-events"],
        ["invoke", "image-events", "/no/such/file.json"],
    ],
)
def test_bad_usage_exits_2_with_one_line(
    argv: list[str],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("AUTOPILOT_SANDBOX_STATE", str(tmp_path / "none.json"))
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert [line for line in err.splitlines() if line.startswith("error:")]


def test_local_commands_without_a_sandbox_say_so(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("AUTOPILOT_SANDBOX_STATE", str(tmp_path / "none.json"))
    assert main(["local", "emit", str(REPO_ROOT / "events" / "ecr-image-push.json")]) == 2
    assert "autopilot local up" in capsys.readouterr().err
