"""The zone balance scenes: a zone's tasks are lost and the spread comes back, by ECS's own
AZ rebalancing (turned on by task-events) or by task-events' StopTask one task at a time;
a burst inside the debounce window is re-checked by the schedule; a zone that lost its
instance gets capacity again."""

from __future__ import annotations

import time

from sandbox.demo.framework import (
    Check,
    DemoContext,
    Scene,
    actions_by,
    balanced,
    no_failure,
    outcomes,
)
from sandbox.router import RouteResult


class ZoneLossRebalanced:
    title = "A six-task service loses a zone's tasks; autopilot restores the spread"

    def run(self, ctx: DemoContext) -> list[Check]:
        name = "feed"
        svc = ctx.sim.service(name)
        zone = svc.azs[0]
        before = ctx.describe_service(name).get("availabilityZoneRebalancing")
        routes = ctx.sim.stop_tasks(name, zone)
        after = ctx.spread(name)
        turned_on = [
            a
            for a in actions_by(routes, "task-events")
            if a.get("api") == "ecs:UpdateService"
            and a["params"].get("availabilityZoneRebalancing") == "ENABLED"
        ]
        return [
            no_failure(routes),
            Check(f"{name} had ECS's AZ rebalancing off", before == "DISABLED", str(before)),
            Check("task-events turned ECS's AZ rebalancing on", bool(turned_on)),
            Check(
                f"{name} runs six tasks spread over the zones again",
                sum(after.values()) == 6 and balanced(after),
                str(after),
            ),
        ]


class IneligibleServiceMovedOneByOne:
    title = "An ineligible service is rebalanced one task at a time"

    def run(self, ctx: DemoContext) -> list[Check]:
        name = "batch"
        svc = ctx.sim.service(name)
        zone = next(z for z, n in svc.spread().items() if n)
        routes = ctx.sim.stop_tasks(name, zone)
        after = ctx.spread(name)
        stops = [a for a in actions_by(routes, "task-events") if a.get("api") == "ecs:StopTask"]
        per_evaluation = [
            sum(1 for a in r.report.get("actions") or [] if a.get("api") == "ecs:StopTask")
            for r in routes
            if r.report and r.function == "task-events"
        ]
        return [
            no_failure(routes),
            Check(
                "task-events moved tasks with StopTask, at most one per evaluation",
                bool(stops) and max(per_evaluation, default=0) <= 1,
                f"{len(stops)} stops",
            ),
            Check(f"{name} is spread over the zones again", balanced(after), str(after)),
        ]


class DebouncedEventRechecked:
    title = "A burst's last events land in the debounce window; the schedule re-checks them"
    #: the debounce window for this scene: longer than the burst takes here, whatever the
    #: machine's speed (the demo config's 1 s is shorter than a few handler runs)
    window = 4

    def run(self, ctx: DemoContext) -> list[Check]:
        name = "batch"
        sim = ctx.sim
        assert ctx.sandbox.router is not None
        zone = next(z for z, n in sim.service(name).spread().items() if n)
        saved = sim.replacement_seconds
        # ECS replaces lost tasks inside the window: the replacements' RUNNING events, the
        # burst's last, are debounced and the service is left lopsided. Before the re-check,
        # nothing came back to them.
        sim.replacement_seconds = 0.2
        ticks: list[RouteResult] = []
        try:
            with ctx.sandbox.router.environment_override(
                "task-events", EVALUATION_WINDOW_SECONDS=str(self.window)
            ):
                burst = sim.stop_tasks(name, zone)
                lopsided = ctx.spread(name)
                last = outcomes([r for r in burst if r.function == "task-events"][-2:])
                for _ in range(8):
                    if balanced(ctx.spread(name)):
                        break
                    time.sleep(self.window + 0.1)  # the schedule's next tick
                    ticks += sim.tick()
        finally:
            sim.replacement_seconds = saved
        after = ctx.spread(name)
        rechecked = [
            a
            for r in ticks
            if r.report and r.function == "task-events" and r.detail_type == "Scheduled Event"
            for a in r.report.get("actions") or []
            if a.get("done") and a.get("api") == "ecs:StopTask"
        ]
        routes = burst + ticks
        return [
            no_failure(routes),
            Check(
                f"the burst's last task events were debounced and left {name} lopsided",
                bool(last) and set(last) == {"debounced"} and not balanced(lopsided),
                f"{lopsided}; {', '.join(last)}",
            ),
            Check(
                "the re-check schedule (Scheduled Event) came back and moved tasks with StopTask",
                bool(rechecked),
                f"{len(rechecked)} stops",
            ),
            Check(f"{name} is spread over the zones again", balanced(after), str(after)),
        ]


class EmptyZoneGetsCapacity:
    title = "An EC2 service whose zone lost its capacity gets an instance there"

    def run(self, ctx: DemoContext) -> list[Check]:
        name = "worker"
        svc = ctx.sim.service(name)
        zone = svc.azs[-1]
        routes = ctx.sim.lose_instance(zone)
        raised = [
            a
            for a in actions_by(routes, "task-events")
            if a.get("api")
            in ("autoscaling:UpdateAutoScalingGroup", "autoscaling:SetDesiredCapacity")
        ]
        after = ctx.spread(name)
        zones = ctx.sim.instance_zones()
        return [
            no_failure(routes),
            Check(
                "task-events raised the Auto Scaling group (its minimum: managed scaling "
                "owns the desired capacity)",
                bool(raised),
                ", ".join(str(a.get("params")) for a in raised),
            ),
            Check(f"an instance runs in {zone} again", zones.get(zone, 0) >= 1, str(zones)),
            Check(
                f"{name} runs a task in {zone} and is spread",
                after.get(zone, 0) >= 1 and balanced(after),
                str(after),
            ),
        ]


#: this theme's scenes, in story order
SCENES: list[type[Scene]] = [
    ZoneLossRebalanced,
    IneligibleServiceMovedOneByOne,
    DebouncedEventRechecked,
    EmptyZoneGetsCapacity,
]
