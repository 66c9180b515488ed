"""A larger estate: the functions' roles outgrow one inline policy and CDK splits it."""

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


def test_twenty_five_services_synthesize_through_the_gate(tmp_path: Path) -> None:
    # Given 25 services: 50 task and execution roles to pass, more than one policy holds
    config = AutopilotConfig.model_validate(_estate(SERVICES))
    # When it is synthesized with cdk-nag on (a finding raises here)
    app = App(outdir=str(tmp_path), context=cdk_context())
    stack = build(app, config)
    template = app.synth().get_stack_by_name(stack.stack_name).template
    # Then CDK split the functions' policies, and the split parts passed the gate too
    overflow = [lid for lid, r in template["Resources"].items() if "OverflowPolicy" in lid]
    assert overflow
    services = [r for r in template["Resources"].values() if r["Type"] == "AWS::ECS::Service"]
    assert len(services) == SERVICES


def test_an_estate_too_large_for_one_stack_fails_with_one_line(tmp_path: Path) -> None:
    # Given 40 services: more than CloudFormation's 500 resources in one stack
    path = tmp_path / "estate-40.yaml"
    path.write_text(yaml.safe_dump(_estate(40), sort_keys=False))
    # When app.py synthesizes it (as `cdk synth -c autopilot:config=...` runs it)
    result = subprocess.run(
        [sys.executable, str(REPO / "app.py")],
        cwd=REPO,
        env=scrubbed_env(
            CDK_CONTEXT_JSON=f'{{"autopilot:config": "{path}"}}', CDK_OUTDIR=str(tmp_path / "o")
        ),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    # Then it exits 2 with one line that says what to do, no traceback
    assert result.returncode == 2, result.stderr[-2000:]
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr[-2000:]
    assert f"{path}: services: 40 services" in lines[0]
    assert "split them" in lines[0]
