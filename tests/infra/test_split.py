"""An estate split over several stacks: each within CloudFormation's limits, the plan's
counts those CDK writes, cdk-nag and cfn-lint clean on every template.

54 services of every shape (capacity, scaling, load balancer, alarms), most of them heavy,
so that the estate stack and two services stacks are needed (one synth, about 40 s).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from infra import limits, split
from infra.config import AutopilotConfig
from reliability.nag_report import acknowledgements
from tests.infra.conftest import REPO, Synthesized, synthesize
from tests.infra.test_cfn_lint import cfn_lint

SHAPES = [
    # (capacity, scaling, load balancer, alarms)
    (capacity, scaling, lb, alarms)
    for capacity in ("fargate", "fargate-spot-mix", "ec2")
    for scaling, lb, alarms in (
        (False, False, None),
        (True, False, {"memory": None}),
        (False, True, {"cpu": {"high": 70, "low": None}}),
        (True, True, {}),
    )
]
HEAVY = ("fargate", True, True, {})
SERVICES = 54


def split_config(n: int = SERVICES) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((REPO / "config" / "demo.yaml").read_text())
    data["repositories"] = [{"name": f"split/svc{i:02d}"} for i in range(n)] + [
        {"name": "split/unused"}
    ]
    services = []
    for i in range(n):
        capacity, scaling, lb, alarms = SHAPES[i] if i < len(SHAPES) else HEAVY
        svc: dict[str, Any] = {
            "name": f"svc{i:02d}",
            # the last service tracks the first one's repository, in another stack
            "repository": f"split/svc{0 if i == n - 1 else i:02d}",
            "capacity": capacity,
            "desired_count": 2,
        }
        if i == 5:
            svc = {
                "name": "plain",
                "image": "public.ecr.aws/nginx/nginx:stable",
                "capacity": capacity,
            }
        if scaling:
            svc["scaling"] = {"min": 1, "max": 4}
        if lb:
            svc["load_balancer"] = {"port": 80, "health_check_path": "/healthz"}
        if alarms is not None:
            svc["alarms"] = alarms
        services.append(svc)
    data["services"] = services
    data["repositories"] = [r for r in data["repositories"] if r["name"] != "split/svc05"]
    data["manage"] = {"repositories": {"prefixes": ["split/"]}}
    return data


@pytest.fixture(scope="module")
def split_synth(_no_aws_credentials: None, tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    config = AutopilotConfig.model_validate(split_config())
    return synthesize(config, tmp_path_factory.mktemp("split.out"))


def _templates(s: Synthesized) -> dict[str, dict[str, Any]]:
    return {
        st.stack_name: json.loads((s.outdir / f"{st.stack_name}.template.json").read_text())
        for st in s.stacks.all
    }


def test_the_split_needs_the_estate_and_two_services_stacks(split_synth) -> None:
    names = [s.stack_name for s in split_synth.stacks.all]
    assert names == [
        "EcsAutopilot-demo",
        "EcsAutopilot-demo-estate",
        "EcsAutopilot-demo-services-2",
        "EcsAutopilot-demo-services-3",
    ]
    manifest = json.loads((split_synth.outdir / "manifest.json").read_text())["artifacts"]

    def deps(name: str) -> set[str]:
        return {d for d in manifest[name].get("dependencies", []) if d in names}

    assert deps("EcsAutopilot-demo") == set()
    assert deps("EcsAutopilot-demo-estate") == {"EcsAutopilot-demo"}
    assert deps("EcsAutopilot-demo-services-2") == {"EcsAutopilot-demo-estate"}
    assert deps("EcsAutopilot-demo-services-3") == {"EcsAutopilot-demo-estate"}


def test_every_service_and_repository_is_placed_once(split_synth) -> None:
    templates = _templates(split_synth)
    services = [
        r["Properties"]["ServiceName"]
        for t in templates.values()
        for r in t["Resources"].values()
        if r["Type"] == "AWS::ECS::Service"
    ]
    repos = [
        r["Properties"]["RepositoryName"]
        for t in templates.values()
        for r in t["Resources"].values()
        if r["Type"] == "AWS::ECR::Repository"
    ]
    config = split_config()
    assert sorted(services) == sorted(s["name"] for s in config["services"])
    assert sorted(repos) == sorted(r["name"] for r in config["repositories"])
    # the control plane holds none of them
    control = templates["EcsAutopilot-demo"]["Resources"].values()
    assert not {"AWS::ECS::Service", "AWS::ECR::Repository", "AWS::ECS::Cluster"} & {
        r["Type"] for r in control
    }


def test_each_estate_stack_stays_within_cloudformation_limits(split_synth) -> None:
    for name, template in _templates(split_synth).items():
        path = split_synth.outdir / f"{name}.template.json"
        # cdk synth adds AWS::CDK::Metadata to each deployed template: one more resource
        assert len(template["Resources"]) + split.CDK_METADATA <= limits.MAX_RESOURCES, name
        assert len(template.get("Outputs", {})) <= limits.MAX_OUTPUTS, name
        assert len(template.get("Parameters", {})) <= 200, name
        assert len(template.get("Mappings", {})) <= 200, name
        assert len(template.get("Description", "").encode()) <= limits.MAX_DESCRIPTION_BYTES
        assert path.stat().st_size <= limits.MAX_TEMPLATE_BYTES, name
        # the resource limit binds first: a stack at 500 resources stays under 1 MB
        per_resource = path.stat().st_size / len(template["Resources"])
        assert per_resource * limits.MAX_RESOURCES < limits.MAX_TEMPLATE_BYTES, name
        # a stack's push policy lists its repositories: within IAM's managed policy size
        for r in template["Resources"].values():
            if r["Type"] == "AWS::IAM::ManagedPolicy":
                repos = r["Properties"]["PolicyDocument"]["Statement"][1]["Resource"]
                worst = (
                    sum(split.repository_policy_chars("x" * 30) for _ in repos)
                    + limits.STATEMENT_OVERHEAD
                )
                assert worst <= limits.MAX_MANAGED_POLICY, name


def test_the_plan_counts_what_cdk_writes(split_synth) -> None:
    templates = _templates(split_synth)
    for plan in split_synth.stacks.plan:
        template = templates[plan.name]
        # exact, so that the split fills stacks as planned (CDK::Metadata comes with the CLI)
        assert plan.resources == len(template["Resources"]) + split.CDK_METADATA, plan.name
        assert plan.outputs >= len(template.get("Outputs", {})), plan.name
        assert plan.resources <= limits.MAX_RESOURCES * split.FILL
    # the estate publishes the VPC and its subnets to the services stacks: as reserved
    estate = templates["EcsAutopilot-demo-estate"]["Outputs"]
    published = [k for k in estate if k.startswith("PublishOutput")]
    assert 0 < len(published) <= split.CROSS_STACK_OUTPUTS


def test_a_service_finds_a_repository_of_another_stack_by_name(split_synth) -> None:
    templates = _templates(split_synth)
    last = templates["EcsAutopilot-demo-services-3"]
    (task_def,) = [
        r
        for lid, r in last["Resources"].items()
        if r["Type"] == "AWS::ECS::TaskDefinition" and lid.startswith(f"Servicessvc{SERVICES - 1}")
    ]
    image = json.dumps(task_def["Properties"]["ContainerDefinitions"][0]["Image"])
    assert "/split/svc00:latest" in image
    assert "Fn::GetStackOutput" not in image
    # the VPC and its subnets are the only values read from another stack
    refs = set(re.findall(r'"OutputName": "([A-Za-z0-9]+)"', json.dumps(last)))
    assert refs
    assert all(r.startswith("PublishOutputRefNetworkVpc") for r in refs)


def test_nag_and_cfn_lint_pass_on_every_template(split_synth) -> None:
    # the synth ran with cdk-nag on (a finding raises); its report holds no violation
    report = json.loads((split_synth.outdir / "validation-report.json").read_text())
    assert not [v for r in report["pluginReports"] for v in r.get("violations", [])]
    for stack in split_synth.stacks.all:
        for (path, rule), reason in acknowledgements(split_synth.outdir, stack.stack_name).items():
            assert len(reason) >= 40, (stack.stack_name, path, rule)
            assert path.count("/") >= 2, f"{rule} is acknowledged too broadly, on {path}"
    templates = sorted(Path(split_synth.outdir).glob("*.template.json"))
    assert len(templates) == 4
    result = cfn_lint(templates)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == ""


def _placement(n: int) -> dict[str, str]:
    config = AutopilotConfig.model_validate(split_config(n))
    plans = split.plan(config, estate_resources=60, estate_outputs=3)
    return {svc: p.name for p in plans for svc in p.services}


def test_services_added_at_the_end_keep_the_others_in_their_stacks() -> None:
    # The plan alone (no CDK): 200 services, then 20 more at the end of the list
    before, after = _placement(200), _placement(220)
    moved = {s for s, stack in before.items() if after.get(s) != stack and s != "svc199"}
    # (svc199 tracks the first repository in both; the 200th service differs by name)
    assert moved == set()
    assert len(after) == 220
    assert set(before.values()) <= set(after.values())


def test_the_plan_respects_every_budget() -> None:
    config = AutopilotConfig.model_validate(split_config(300))
    for p in split.plan(config, estate_resources=60, estate_outputs=3):
        assert p.resources <= limits.MAX_RESOURCES * split.FILL
        assert p.outputs <= limits.MAX_OUTPUTS
        assert p.policy_chars <= limits.MAX_MANAGED_POLICY
