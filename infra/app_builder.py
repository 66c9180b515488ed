"""Build the CDK app from a config: used by ``app.py`` and by the infra tests alike."""

from __future__ import annotations

from typing import Any

from aws_cdk import App, Validations
from cdk_nag import AwsSolutionsChecks

from infra.config import AutopilotConfig
from infra.stacks.autopilot_stack import AutopilotStack, stack_name

CONFIG_CONTEXT_KEY = "autopilot:config"
DEFAULT_CONFIG = "config/demo.yaml"


def build(app: App, config: AutopilotConfig, **stack_kwargs: Any) -> AutopilotStack:
    """Add the stack to ``app`` and switch cdk-nag's AwsSolutions pack on for the app."""
    # Always env-agnostic (no env=): no look-ups and no credentials at synth, and the same
    # template whoever synthesizes it (the sandbox deploys it into its own account).
    stack = AutopilotStack(
        app,
        stack_name(config.environment),
        config=config,
        description="ecs-autopilot: ECS on EC2 and Fargate, run by events (see README)",
        **stack_kwargs,
    )
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return stack
