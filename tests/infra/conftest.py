"""Infra tier: one synthesized app per session, with no AWS credentials anywhere.

The environment is scrubbed of ``AWS_*`` variables and the AWS config/credentials files
point at a path that does not exist, before the CDK (and its jsii node process) starts:
a synth that tried to reach AWS would fail here. Restored when the package's tests end.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App
from aws_cdk.assertions import Template

from infra.app_builder import CONFIG_CONTEXT_KEY, Stacks, build
from infra.config import AutopilotConfig, load_config

REPO = Path(__file__).resolve().parents[2]
BAD_CONFIGS = Path(__file__).resolve().parent / "bad_configs"
NOWHERE = "/nonexistent/ecs-autopilot/aws"


def scrubbed_env(**extra: str) -> dict[str, str]:
    """The process environment minus AWS_* credentials, plus the venv's Node first on PATH."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.pop("CDK_DEFAULT_ACCOUNT", None)
    env.pop("CDK_DEFAULT_REGION", None)
    env["AWS_CONFIG_FILE"] = NOWHERE
    env["AWS_SHARED_CREDENTIALS_FILE"] = NOWHERE
    env["PATH"] = f"{REPO / '.venv' / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION"] = "20"
    env["CDK_DISABLE_VERSION_CHECK"] = "1"
    env["CDK_CLI_NOTICES"] = "false"
    env.update(extra)
    return env


@pytest.fixture(scope="package", autouse=True)
def _no_aws_credentials() -> Iterator[None]:
    saved = dict(os.environ)
    clean = scrubbed_env()
    os.environ.clear()
    os.environ.update(clean)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def cdk_context() -> dict[str, Any]:
    """The context of cdk.json (feature flags and the config file), as the CLI passes it."""
    return dict(json.loads((REPO / "cdk.json").read_text())["context"])


@dataclass(frozen=True)
class StackView:
    """One synthesized stack: the construct, its assertions ``Template`` (built with cdk-nag
    on: a finding raises) and its template as written."""

    stack: Any
    template: Any  # aws_cdk.assertions.Template
    outdir: Path

    @property
    def template_json(self) -> dict[str, Any]:
        return json.loads((self.outdir / f"{self.stack.stack_name}.template.json").read_text())


@dataclass(frozen=True)
class Synthesized:
    app: Any
    stacks: Stacks
    outdir: Path

    def view(self, name: str) -> StackView:
        stack = self.stacks.by_name()[name]
        return StackView(stack=stack, template=Template.from_stack(stack), outdir=self.outdir)

    @property
    def views(self) -> list[StackView]:
        return [self.view(s.stack_name) for s in self.stacks.all]


def synthesize(config: AutopilotConfig, outdir: Path) -> Synthesized:
    """Build and synthesize ``config`` with the app's context and cdk-nag on."""
    app = App(outdir=str(outdir), context=cdk_context())
    stacks = build(app, config)
    app.synth()  # raises on any unacknowledged AwsSolutions finding
    return Synthesized(app=app, stacks=stacks, outdir=outdir)


@pytest.fixture(scope="package")
def synth(_no_aws_credentials: None, tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    """The demo config, synthesized once with cdk-nag on: a nag finding fails every test."""
    config = load_config(REPO / cdk_context()[CONFIG_CONTEXT_KEY])
    return synthesize(config, tmp_path_factory.mktemp("cdk.out"))


@pytest.fixture(scope="package")
def control(synth: Synthesized) -> StackView:
    """The demo's control plane, ``EcsAutopilot-demo``."""
    return synth.view("EcsAutopilot-demo")


@pytest.fixture(scope="package")
def estate(synth: Synthesized) -> StackView:
    """The demo's estate, ``EcsAutopilot-demo-estate`` (its five services fit in it)."""
    return synth.view("EcsAutopilot-demo-estate")


@pytest.fixture(scope="package")
def demo_config() -> Any:
    return load_config(REPO / "config" / "demo.yaml")
