"""Build the CDK app from a config: used by ``app.py`` and by the infra tests alike.

``build`` adds the control plane, ``EcsAutopilot-<env>``, and when the config has an
estate, ``EcsAutopilot-<env>-estate`` and as many ``EcsAutopilot-<env>-services-<n>`` as
the split needs (``infra/split.py``), and switches cdk-nag's AwsSolutions pack on for the
app. Every stack is env-agnostic (no ``env=``): no look-ups and no credentials at synth, and
the same templates whoever synthesizes them (the sandbox deploys them into its own account).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from aws_cdk import App, Stack, Validations
from cdk_nag import AwsSolutionsChecks

from infra import split
from infra.config import AutopilotConfig, ConfigError, check_config
from infra.stacks.control_plane import ControlPlaneStack
from infra.stacks.estate import EstateStack, ServicesStack

CONFIG_CONTEXT_KEY = "autopilot:config"
DEFAULT_CONFIG = "config/demo.yaml"


@dataclass
class Stacks:
    """What ``build`` added: the control plane, the estate (None without one) and the
    services stacks after it, and the plan they follow."""

    control: ControlPlaneStack
    estate: EstateStack | None = None
    services: list[ServicesStack] = field(default_factory=list)
    plan: list[split.StackPlan] = field(default_factory=list)

    @property
    def all(self) -> list[Stack]:
        estate: list[Stack] = [self.estate] if self.estate else []
        return [self.control, *estate, *self.services]

    def by_name(self) -> dict[str, Stack]:
        return {s.stack_name: s for s in self.all}


def build(app: App, config: AutopilotConfig, *, file: str | Path = "config") -> Stacks:
    """Add the stacks for ``config`` to ``app`` (``file`` names the config in errors)."""
    check_config(config, file)
    control_name, estate_name = split.stack_names(config.environment)
    control = ControlPlaneStack(
        app,
        control_name,
        config=config,
        description="ecs-autopilot control plane: the functions, their rules, the ledger "
        "(see README)",
    )
    stacks = Stacks(control=control)
    if config.has_estate:
        estate = EstateStack(
            app,
            estate_name,
            config=config,
            description="ecs-autopilot estate: network, cluster, capacity, repositories, "
            "services (see infra/README.md)",
        )
        # the estate's Auto Scaling notifications go to the control plane's topic
        estate.add_stack_dependency(control, "the notices topic")
        try:
            plans = split.plan(
                config,
                estate_resources=estate.fixed_resources,
                estate_outputs=estate.fixed_outputs,
            )
        except split.PlacementError as exc:
            raise ConfigError(file, "services", str(exc)) from None
        estate.add_part(plans[0])
        holder: dict[str, Stack] = dict.fromkeys(plans[0].repositories, estate)
        for plan in plans[1:]:
            stack = ServicesStack(
                app,
                plan.name,
                config=config,
                estate=estate,
                plan=plan,
                description=f"ecs-autopilot estate, services part {plan.number} (see "
                "infra/README.md)",
            )
            for other in {holder[n] for n in stack.part.imported if n in holder} - {estate}:
                stack.add_stack_dependency(other, "the repositories it names")
            holder.update(dict.fromkeys(plan.repositories, stack))
            stacks.services.append(stack)
        stacks.estate, stacks.plan = estate, plans
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return stacks
