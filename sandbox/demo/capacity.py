"""The capacity scenes: an alarm scales a service out within its scalable target's bounds
and its clearing restores them; a Fargate Spot shortage shifts a service to on-demand
Fargate, and the calm period after it shifts it back."""

from __future__ import annotations

import time

from autopilot import contract

from sandbox.demo.framework import Check, DemoContext, Scene, no_failure, outcomes


class AlarmScalesOutAndBack:
    title = "An alarm scales a service out within bounds, and its clearing restores it"

    def run(self, ctx: DemoContext) -> list[Check]:
        name = "web"
        assert ctx.sandbox.clients is not None
        cw = ctx.sandbox.clients("cloudwatch")
        alarm = next(
            a
            for a in cw.describe_alarms(AlarmNamePrefix="autopilot-")["MetricAlarms"]
            if a["AlarmName"].endswith(f"{name}-cpu-high")
        )
        tags = {
            t["Key"]: t["Value"]
            for t in cw.list_tags_for_resource(ResourceARN=alarm["AlarmArn"])["Tags"]
        }
        floor, ceiling = _scalable_bounds(ctx, name)
        desired = int(ctx.describe_service(name)["desiredCount"])
        up = ctx.sim.alarm(alarm["AlarmName"], "ALARM")
        raised, _ = _scalable_bounds(ctx, name)
        scaled = int(ctx.describe_service(name)["desiredCount"])
        running = len(ctx.sim.service(name).running())
        time.sleep(int(tags.get(contract.TAG_COOLDOWN, "0")) + 0.1)
        down = ctx.sim.alarm(alarm["AlarmName"], "OK")
        restored, _ = _scalable_bounds(ctx, name)
        routes = up + down
        return [
            no_failure(routes),
            Check(
                f"the alarm's tags drive {tags.get(contract.TAG_TARGET)} "
                f"by {tags.get(contract.TAG_STEP)}",
                # by name, or by ARN (the form a control plane of several clusters needs)
                tags.get(contract.TAG_TARGET) in (f"service:{name}", ctx.sim.service(name).arn),
                str(tags),
            ),
            Check(
                f"ALARM raised the scalable target's minimum {floor} -> {raised} "
                f"(within {floor}-{ceiling})",
                floor < raised <= ceiling,
            ),
            Check(
                f"{name} scaled out {desired} -> {scaled} tasks, all running",
                scaled > desired and running == scaled,
                f"{running} running",
            ),
            Check(
                f"OK restored the minimum to {floor}",
                restored == floor and "restored" in outcomes(down, "capacity-events"),
                f"{restored}; {', '.join(outcomes(down, 'capacity-events'))}",
            ),
        ]


class FargateSpotFallsBack:
    title = "A Fargate Spot placement failure falls back to on-demand Fargate, and back"

    def run(self, ctx: DemoContext) -> list[Check]:
        name = "api"

        def strategy() -> list[str]:
            return sorted(
                f"{i['capacityProvider']}:{i.get('weight', 0)}"
                for i in ctx.describe_service(name).get("capacityProviderStrategy") or []
            )

        original = strategy()
        short = ctx.sim.fargate_spot_shortage(True)
        during = strategy()
        providers = {t.provider for t in ctx.sim.service(name).running()}
        ctx.sim.fargate_spot_shortage(False)
        assert ctx.sandbox.router is not None
        env = ctx.sandbox.router.function("capacity-events").environment
        calm = env.get("SPOT_CALM_SECONDS", "0")
        time.sleep(float(calm) + 0.2)
        back = ctx.sim.service_action(name, "SERVICE_STEADY_STATE")
        after = strategy()
        routes = short + back
        return [
            no_failure(routes),
            Check(
                "the placement failure (RESOURCE:FARGATE) shifted the service to FARGATE",
                "fallback" in outcomes(short, "capacity-events")
                and bool(during)
                and all(s.startswith("FARGATE:") for s in during),
                f"{original} -> {during}",
            ),
            Check("its tasks run on on-demand Fargate", providers == {"FARGATE"}, str(providers)),
            Check(
                "after the calm period the original strategy is back",
                "restored" in outcomes(back, "capacity-events") and after == original,
                f"{after}; {', '.join(outcomes(back, 'capacity-events'))}",
            ),
        ]


def _scalable_bounds(ctx: DemoContext, name: str) -> tuple[int, int]:
    """(MinCapacity, MaxCapacity) of the service's scalable target."""
    assert ctx.sandbox.clients is not None
    aas = ctx.sandbox.clients("application-autoscaling")
    cluster = ctx.sim.service(name).cluster_name
    t = aas.describe_scalable_targets(
        ServiceNamespace="ecs", ResourceIds=[f"service/{cluster}/{name}"]
    )["ScalableTargets"][0]
    return int(t["MinCapacity"]), int(t["MaxCapacity"])


#: this theme's scenes, in story order
SCENES: list[type[Scene]] = [AlarmScalesOutAndBack, FargateSpotFallsBack]
