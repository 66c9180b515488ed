"""Larger configs: many managed clusters outgrow one inline policy and CDK splits it; more
services than the split can place fail with one line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml
from aws_cdk import App

from infra.app_builder import build
from infra.config import AutopilotConfig
from tests.infra.conftest import REPO, cdk_context, scrubbed_env

SERVICES = 25
CLUSTERS = 30


def _estate(n: int) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((REPO / "config" / "demo.yaml").read_text())
    data["repositories"] = [{"name": f"estate/svc{i:02d}"} for i in range(n)]
    data["services"] = [
        {
            "name": f"svc{i:02d}",
            "repository": f"estate/svc{i:02d}",
            "capacity": ("fargate", "fargate-spot-mix", "ec2")[i % 3],
            "desired_count": 2,
            "scaling": {"min": 2, "max": 6},
        }
        for i in range(n)
    ]
    return data


def test_many_managed_clusters_split_the_functions_policies_through_the_gate(
    tmp_path: Path,
) -> None:
    # Given 25 services and 30 more managed clusters: the statements that list every
    # cluster (its services, tasks, instances) outgrow one inline policy
    data = _estate(SERVICES)
    data["manage"] = {"clusters": [f"legacy-{i:02d}" for i in range(CLUSTERS)]}
    config = AutopilotConfig.model_validate(data)
    # When it is synthesized with cdk-nag on (a finding raises here)
    app = App(outdir=str(tmp_path), context=cdk_context())
    stacks = build(app, config)
    assembly = app.synth()
    # Then CDK split the functions' policies, and the split parts passed the gate too
    control = assembly.get_stack_by_name(stacks.control.stack_name).template
    overflow = [lid for lid, r in control["Resources"].items() if "OverflowPolicy" in lid]
    assert overflow
    services = [
        r
        for stack in stacks.all
        for r in assembly.get_stack_by_name(stack.stack_name).template["Resources"].values()
        if r["Type"] == "AWS::ECS::Service"
    ]
    assert len(services) == SERVICES


def test_more_services_than_the_split_can_place_fail_with_one_line(tmp_path: Path) -> None:
    # Given 5,001 services: more than ECS's 5,000 per cluster, and the estate has one
    data: dict[str, Any] = yaml.safe_load((REPO / "config" / "demo.yaml").read_text())
    data["repositories"] = []
    data["services"] = [
        {"name": f"s{i}", "image": "public.ecr.aws/nginx/nginx:stable", "capacity": "fargate"}
        for i in range(5001)
    ]
    path = tmp_path / "estate-5001.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    # When app.py synthesizes it (as `cdk synth -c autopilot:config=...` runs it)
    out = tmp_path / "o"
    result = subprocess.run(
        [sys.executable, str(REPO / "app.py")],
        cwd=REPO,
        env=scrubbed_env(CDK_CONTEXT_JSON=f'{{"autopilot:config": "{path}"}}', CDK_OUTDIR=str(out)),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    # Then it exits 2 with one line that names the file and the field, no traceback, and
    # nothing is synthesized
    assert result.returncode == 2, result.stderr[-2000:]
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr[-2000:]
    assert f"{path}: services: 5001 services" in lines[0]
    assert "more than the split can place" in lines[0]
    assert not list(out.glob("*.template.json"))
