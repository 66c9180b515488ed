"""4. Storm: task-state events across many services through ``task-events``, in moto.

100 services (quick: 10) in one cluster, three zones:
- 4 in 10 Fargate, ECS's AZ rebalancing off, tasks lopsided 4/1/1 (the plan: turn it on);
- 3 in 10 Fargate, rebalancing on, balanced 2/2/2 (nothing to do);
- 3 in 10 on EC2 placed binpack first (not eligible for ECS's rebalancing), lopsided 4/1/1,
  room in every zone (the plan: stop a task in the crowded zone, one per cooldown).
10,000 events (quick: 300) spread evenly over 10 evaluation windows of 60 s (the
function's defaults: one evaluation per service per 60 s window, one move per service per
300 s), on a fake clock. The mix: RUNNING changes, stops by the scheduler, by users, by AZ
rebalancing and by Spot interruptions, and 10 % redeliveries of an earlier event (same
task ARN and version, new envelope id: EventBridge's at-least-once).

Figures: total AWS calls (and without the ledger), describe calls per service per window,
duplicate actions, wall time.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from typing import Any

from bench.common import Figure, Section, summary, verdict
from tests.estate import MUTATING, ZONES, Estate, functions_environment

WINDOW = 60  # TaskEventsSettings.evaluation_window_seconds default
COOLDOWN = 300  # TaskEventsSettings.move_cooldown_seconds default
WINDOWS = 10
BINPACK = [{"type": "binpack", "field": "memory"}]
MOVES = {"ecs:StopTask", "autoscaling:SetDesiredCapacity", "autoscaling:UpdateAutoScalingGroup"}
DESCRIBES = ("ecs:DescribeServices",)
NOTICE = "sns:Publish"
#: The calls that change something (a notice is not a change), as the call counts name them.
CHANGES = MUTATING - {NOTICE}
SCALING_STOP = "Scaling activity initiated by (deployment ecs-svc/1)"


def _build(w: Estate, services: int) -> dict[str, list[str]]:
    tasks: dict[str, list[str]] = {}
    for zone in ZONES:
        w.container_instance(zone, cpu=65536, memory=262144)
    for i in range(services):
        kind = i % 10
        name = f"svc-{i:03d}"
        if kind < 4:
            w.service(name, rebalancing="DISABLED", desired=6)
            spread = (4, 1, 1)
        elif kind < 7:
            w.service(name, rebalancing="ENABLED", desired=6)
            spread = (2, 2, 2)
        else:
            w.service(
                name,
                launch_type="EC2",
                placement=BINPACK,
                rebalancing=None,
                min_healthy=50,
                desired=6,
            )
            spread = (4, 1, 1)
        tasks[name] = [
            w.add_task(name, zone) for zone, n in zip(ZONES, spread, strict=True) for _ in range(n)
        ]
    return tasks


def _event(w: Estate, rng: random.Random, name: str, tasks: list[str]) -> dict[str, Any]:
    task = rng.choice(tasks)
    zone = rng.choice(ZONES)
    roll = rng.random()
    if roll < 0.55:
        return w.task_event(name, task, zone=zone)
    if roll < 0.70:
        return w.task_event(
            name,
            task,
            status="STOPPED",
            zone=zone,
            stop_code="UserInitiated",
            reason="Task stopped by user",
            exit_code=0,
        )
    if roll < 0.85:
        return w.task_event(
            name,
            task,
            status="STOPPED",
            zone=zone,
            stop_code="ServiceSchedulerInitiated",
            reason=SCALING_STOP,
            exit_code=0,
        )
    if roll < 0.95:
        return w.task_event(
            name,
            task,
            status="STOPPED",
            zone=zone,
            stop_code="ServiceSchedulerInitiated",
            reason="Availability-zone rebalancing initiated by (deployment ecs-svc/1)",
            exit_code=0,
        )
    return w.task_event(
        name,
        task,
        status="STOPPED",
        zone=zone,
        stop_code="SpotInterruption",
        reason="Your Spot Task was interrupted.",
        exit_code=0,
    )


def storm(services: int, events: int, *, seed: int = 9) -> dict[str, Any]:  # noqa: PLR0915
    from autopilot.handlers import task_events  # noqa: PLC0415

    rng = random.Random(seed)
    with functions_environment(log_level="WARNING"), Estate() as w:
        clock = w.clock  # the reaction state's, from 2026-06-01 12:00
        start = clock.now
        tasks = _build(w, services)
        names = sorted(tasks)
        aws = w.clients
        w.reset_counts()
        sent: list[dict[str, Any]] = []
        outcomes: Counter[str] = Counter()
        redelivered_mutations = 0
        actions: list[tuple[str, float, str, str]] = []  # (service, t, api, params)
        step = WINDOW * WINDOWS / events
        began, began_cpu = time.perf_counter(), time.process_time()
        for k in range(events):
            clock.now = start + k * step
            window = int(k * step // WINDOW)
            redelivery = bool(sent) and rng.random() < 0.10
            if redelivery:
                event = dict(rng.choice(sent), id=f"redelivery-{k}")
            else:
                name = names[k % len(names)] if rng.random() < 0.5 else rng.choice(names)
                event = _event(w, rng, name, tasks[name])
                sent.append(event)
            name = event["detail"]["group"].split(":", 1)[1]
            w.subject = f"{name}|{window}"
            before = sum(w.calls[m] for m in CHANGES)
            report = task_events.run(event, aws=aws)
            made = sum(w.calls[m] for m in CHANGES) - before
            if redelivery:
                redelivered_mutations += made
            for d in report.decisions:
                outcomes[d.outcome.value] += 1
            for a in report.actions:
                if a.done and a.api != NOTICE:
                    actions.append((name, clock.now, a.api, repr(sorted(a.params.items()))))
        wall = time.perf_counter() - began
        cpu = time.process_time() - began_cpu
        spreads = {n: w.spread(n) for n in names}

    describes: dict[str, int] = {}
    all_describes: dict[str, int] = {}
    for subject, calls in w.by_subject.items():
        if subject == "-":
            continue
        describes[subject] = sum(calls[d] for d in DESCRIBES)
        all_describes[subject] = sum(v for k, v in calls.items() if ":Describe" in k)
    # duplicates: moves closer than the cooldown, and the same change made twice
    too_close = 0
    repeated = 0
    last_move: dict[str, float] = {}
    seen: set[tuple[str, str, str]] = set()
    for service, t, api, params in sorted(actions, key=lambda a: a[1]):
        if api in MOVES:
            if service in last_move and t - last_move[service] < COOLDOWN:
                too_close += 1
            last_move[service] = t
        elif (service, api, params) in seen:
            repeated += 1
        seen.add((service, api, params))
    total = dict(sorted(w.calls.items()))
    return {
        "services": services,
        "events": events,
        "windows": WINDOWS,
        "window_seconds": WINDOW,
        "wall_seconds": wall,
        "cpu_seconds": cpu,
        "calls": total,
        "calls_total": sum(total.values()),
        "calls_without_ledger": sum(
            v for k, v in total.items() if not k.startswith(("dynamodb:", "sns:"))
        ),
        "describes_per_service_window": describes,
        "all_describes_per_service_window": all_describes,
        "outcomes": dict(outcomes.most_common()),
        "actions": Counter(a[2] for a in actions),
        "duplicates": {
            "mutations_on_redelivered_events": redelivered_mutations,
            "moves_inside_cooldown": too_close,
            "same_change_twice": repeated,
        },
        "spread_after": Counter(tuple(sorted(s.values(), reverse=True)) for s in spreads.values()),
    }


def run(*, quick: bool) -> Section:
    services, events = (10, 300) if quick else (100, 10_000)
    section = Section(
        key="storm",
        title=f"4. Storm: {events:,} task-state events across {services} services (task-events)",
        command="python -m bench.run --only storm",
    )
    try:
        import autopilot.handlers.task_events  # noqa: F401, PLC0415
    except ImportError:
        section.skipped = "functions/autopilot/handlers/task_events.py does not exist yet"
        return section
    r = storm(services, events)
    section.details = {
        k: (dict(v) if isinstance(v, Counter) else v)
        for k, v in r.items()
        if k not in ("describes_per_service_window", "all_describes_per_service_window")
    }
    section.details["spread_after"] = {
        "/".join(map(str, k)): v for k, v in r["spread_after"].items()
    }
    per_window = list(r["describes_per_service_window"].values())
    all_per_window = list(r["all_describes_per_service_window"].values())
    worst = max(per_window) if per_window else 0
    dup = sum(r["duplicates"].values())
    section.figures += [
        Figure(
            name="total AWS calls (ledger DynamoDB and SNS included)",
            unit="calls",
            values=[r["calls_total"]],
            extra={"calls": r["calls"], "per_event": round(r["calls_total"] / events, 2)},
        ),
        Figure(
            name="AWS calls besides the ledger and notices",
            unit="calls",
            values=[r["calls_without_ledger"]],
            extra={"per_event": round(r["calls_without_ledger"] / events, 3)},
        ),
        Figure(
            name="DescribeServices per service per 60 s window (max over service-windows)",
            unit="calls",
            values=[worst],
            target="<= 2",
            verdict=verdict(worst <= 2),
            why=""
            if worst <= 2
            else "the debounce let a service be described more than twice in a window",
            extra={
                "distribution": summary(per_window),
                "service_windows": len(per_window),
                "every_describe_call_max": max(all_per_window, default=0),
                "every_describe_call": summary(all_per_window),
            },
        ),
        Figure(
            name="duplicate actions",
            unit="actions",
            values=[dup],
            target="0",
            verdict=verdict(dup == 0),
            why="" if dup == 0 else f"{r['duplicates']}",
            extra={"breakdown": r["duplicates"], "actions": dict(r["actions"])},
        ),
        Figure(
            name="wall time (in-process, moto mock_aws, one run)",
            unit="s",
            values=[round(r["wall_seconds"], 2)],
            extra={
                "events_per_second": round(events / r["wall_seconds"], 1),
                "cpu_seconds": round(r["cpu_seconds"], 2),
            },
        ),
    ]
    section.notes.append(
        "Duplicate actions = mutating calls made while handling a redelivered event + moves "
        "(StopTask, ASG changes) on one service closer together than the 300 s cooldown + the "
        "same change (API and parameters) made twice on one service."
    )
    evaluations = r["calls"].get("ecs:DescribeServices", 0)
    if evaluations:
        section.notes.append(
            f"{evaluations} evaluations (one per service per window at most); reads per "
            f"evaluation besides the ledger: {r['calls_without_ledger'] / evaluations:.1f} "
            "(Fargate: DescribeServices, ListTasks, DescribeTasks, DescribeSubnets; on EC2 also "
            "DescribeClusters, DescribeTaskDefinition, ListContainerInstances, "
            "DescribeContainerInstances). Ledger and notices: "
            f"{(r['calls_total'] - r['calls_without_ledger']) / events:.1f} calls per event "
            "(idempotency check, window claim, decision record, event mark)."
        )
    section.notes.append(
        "Describe calls per service per window are read as describes of the service "
        "(DescribeServices). Counting every Describe* call of an evaluation (DescribeServices, "
        "DescribeTasks, DescribeSubnets; on EC2 also DescribeClusters, DescribeTaskDefinition, "
        "DescribeContainerInstances) the most in one service-window is "
        f"{max(all_per_window, default=0)}"
        + (": one evaluation's reads, never two evaluations." if worst <= 1 else ".")
    )
    section.notes.append(
        "moto runs no scheduler: after ECS's rebalancing is turned on nothing moves the "
        "Fargate tasks, and a stopped EC2 task is not replaced, so the spread after the storm "
        "shows autopilot's own moves only."
    )
    section.notes.append(
        "Wall time is dominated by moto (every call is serialized, routed and answered "
        "in-process); it is not Lambda's time, but it compares runs on one machine."
    )
    return section
