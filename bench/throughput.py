"""5. Decision throughput: the pure planners alone, decisions per second on one core.

Inputs are built before the clock starts (a varied set, cycled), so the figure is the
planner's own cost: no parsing, no AWS, no ledger. Each run is one pass of N decisions in
this single-threaded process, timed in its CPU time (``time.process_time``: the machine is
shared); several runs, median and spread.

- image plan: ``image_plan.precheck`` then ``image_plan.decide`` (versions compared by the
  policy, the pinned registration built) for one service;
- zone balance: ``zone_balance.plan_zone_balance`` for Fargate and EC2 snapshots;
- capacity: ``capacity.decide_alarm`` and ``capacity.decide_placement_failure``.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from bench.common import Figure, Section

T0 = datetime(2026, 1, 1, tzinfo=UTC)
REG = "123456789012.dkr.ecr.us-east-1.amazonaws.com"


def _image_cases(n: int) -> list[Callable[[], Any]]:
    from autopilot.domain.images import (  # noqa: PLC0415
        Candidate,
        ContainerImage,
        ImageInfo,
        parse_image,
    )
    from autopilot.domain.records import ServiceLedgerState  # noqa: PLC0415
    from autopilot.domain.service import Service  # noqa: PLC0415
    from autopilot.logic import image_plan  # noqa: PLC0415
    from autopilot.logic.policy import parse_service_config  # noqa: PLC0415
    from autopilot.logic.scan import scan_record  # noqa: PLC0415

    policies = [
        "semver",
        "semver:minor",
        "semver:patch",
        "glob:v1.*",
        "regex:^v\\d+\\.\\d+\\.\\d+$",
    ]
    cases: list[Callable[[], Any]] = []
    for i in range(n):
        new = f"sha256:{i:064x}"
        old = f"sha256:{i + 10**6:064x}"
        svc = Service(
            arn=f"arn:aws:ecs:us-east-1:123456789012:service/c/web-{i}",
            name=f"web-{i}",
            cluster_arn="arn:aws:ecs:us-east-1:123456789012:cluster/c",
            task_definition=f"arn:aws:ecs:us-east-1:123456789012:task-definition/web-{i}:3",
        )
        td = {
            "taskDefinitionArn": svc.task_definition,
            "family": f"web-{i}",
            "revision": 3,
            "networkMode": "awsvpc",
            "cpu": "256",
            "memory": "512",
            "containerDefinitions": [
                {"name": "app", "image": f"{REG}/demo/web:v1.{i % 7}.0"},
                {"name": "log", "image": "fluent/fluent-bit:3"},
            ],
        }
        cfg = parse_service_config(
            {
                "autopilot:repository": "demo/web",
                "autopilot:policy": policies[i % len(policies)],
                "autopilot:scan": "off" if i % 3 else "critical",
            }
        )
        assert cfg is not None
        tag = f"v1.{i % 7 + (i % 2)}.{i % 5}"
        cand = Candidate("demo/web", new, (tag,), f"e{i}", T0, "push", REG)
        scan = scan_record(
            repository="demo/web",
            digest=new,
            status="COMPLETE",
            counts={"HIGH": i % 2},
            at=T0,
            event_id="s",
        )
        image = f"{REG}/demo/web:v1.{i % 7}.0"
        running = ContainerImage("app", image, parse_image(image))
        state = ServiceLedgerState()
        cand_info = ImageInfo(new, cand.tags, T0 + timedelta(minutes=10))
        running_info = ImageInfo(old, (f"v1.{i % 7}.0",), T0)

        def case(  # noqa: PLR0917 - binds the loop's values
            cand: Any = cand,
            svc: Any = svc,
            cfg: Any = cfg,
            state: Any = state,
            scan: Any = scan,
            running: Any = running,
            old: str = old,
            cand_info: Any = cand_info,
            running_info: Any = running_info,
            td: dict[str, Any] = td,
        ) -> Any:
            early = image_plan.precheck(cand, svc, cfg, state, scan)
            if early is not None:
                return early
            return image_plan.decide(
                cand,
                svc,
                cfg,
                state,
                running=running,
                running_digest=old,
                cand_info=cand_info,
                running_info=running_info,
                task_definition=td,
                task_definition_tags=[],
            )

        cases.append(case)
    return cases


def _zone_cases(n: int) -> list[Callable[[], Any]]:
    from autopilot.logic import zone_balance as zb  # noqa: PLC0415

    zones = ("eu-west-1a", "eu-west-1b", "eu-west-1c")
    cases: list[Callable[[], Any]] = []
    for i in range(n):
        counts = ((i % 5) + 1, i % 3, (i * 7) % 4)
        tasks = tuple(
            zb.RunningTask(f"arn:aws:ecs:eu-west-1:123456789012:task/c/{i}-{z}-{k}", z)
            for z, c in zip(zones, counts, strict=True)
            for k in range(c)
        )
        ec2 = None
        if i % 2:
            ec2 = zb.Ec2Capacity(
                tuple(
                    zb.ZoneCapacity(z, has_room=(i + j) % 3 != 0, instances=1)
                    for j, z in enumerate(zones)
                ),
                (zb.AsgCapacity("asg", desired=3, min_size=1, max_size=6, zones=zones),),
            )
        snap = zb.ZoneBalanceSnapshot(
            service=f"svc-{i}",
            desired_count=sum(counts),
            min_healthy_percent=50,
            tasks=tasks,
            zones=zones,
            now=T0,
            native_eligible=i % 4 == 0,
            native_enabled=False,
            ec2=ec2,
            last_move_at=T0 - timedelta(seconds=600 if i % 5 else 60),
        )
        cases.append(partial(zb.plan_zone_balance, snap))
    return cases


def _capacity_cases(n: int) -> list[Callable[[], Any]]:
    from autopilot.domain.service import StrategyItem  # noqa: PLC0415
    from autopilot.logic import capacity as cap  # noqa: PLC0415

    cases: list[Callable[[], Any]] = []
    for i in range(n):
        service = cap.ServiceState(
            name=f"web-{i}",
            desired_count=2 + i % 5,
            scaling_tag="2-10" if i % 2 else None,
            scalable_target=cap.ScalableTargetState(2, 12) if not i % 2 else None,
            strategy=(StrategyItem("FARGATE", 1, 1), StrategyItem("FARGATE_SPOT", 3)),
        )
        binding = cap.parse_alarm_tags(
            {"autopilot:target": f"service:web-{i}", "autopilot:step": "+2" if i % 3 else "-1"}
        )
        assert isinstance(binding, cap.AlarmBinding)
        asg = cap.AsgState("asg", min_size=1, max_size=8, desired=2 + i % 4)
        last = T0 - timedelta(seconds=30 if i % 7 == 0 else 3600)
        if i % 2:
            cases.append(
                partial(
                    cap.decide_alarm,
                    alarm_name=f"cpu-high-{i}",
                    state="ALARM" if i % 4 else "OK",
                    binding=binding,
                    target=service,
                    last_change_at=last,
                    now=T0,
                )
            )
        else:
            reason = ("RESOURCE:CPU", "RESOURCE:MEMORY", "RESOURCE:FARGATE")[i % 3]
            cases.append(
                partial(
                    cap.decide_placement_failure,
                    reason=reason,
                    service=service,
                    asg=asg,
                    last_change_at=last,
                    cooldown_seconds=300,
                    now=T0,
                )
            )
    return cases


def _kind(result: Any) -> str:
    """What a planner decided, for the input mix (image: outcome; zone: first step; capacity:
    the decision's type)."""
    decision = getattr(result, "decision", result)
    outcome = getattr(decision, "outcome", None)
    if outcome is not None:
        return str(outcome.value)
    actions = getattr(result, "actions", None)
    if actions is not None:
        return type(actions[0]).__name__ if actions else "nothing"
    return type(result).__name__


def _measure(cases: list[Callable[[], Any]], n: int) -> float:
    """Decisions per CPU second of this process over one pass of ``n`` decisions (CPU time,
    not wall: the machine is shared, and a planner is pure CPU work on one core)."""
    m = len(cases)
    start = time.process_time()
    for k in range(n):
        cases[k % m]()
    return n / (time.process_time() - start)


def run(*, quick: bool) -> Section:
    runs, n = (3, 2_000) if quick else (7, 50_000)
    section = Section(
        key="throughput",
        title="5. Decision throughput: the pure planners, one core",
        command="python -m bench.run --only throughput",
    )
    planners = {
        "image plan (precheck + decide)": _image_cases,
        "zone balance (plan_zone_balance)": _zone_cases,
        "capacity (decide_alarm / decide_placement_failure)": _capacity_cases,
    }
    for name, build in planners.items():
        cases = build(500)
        mix = Counter(_kind(case()) for case in cases)
        _measure(cases, min(n, 1000))  # warm-up
        values = [round(_measure(cases, n), 1) for _ in range(runs)]
        section.figures.append(
            Figure(
                name=name,
                unit="decisions/s",  # per CPU second
                values=values,
                extra={
                    "decisions_per_run": n,
                    "distinct_inputs": len(cases),
                    "mix": dict(mix.most_common()),
                },
            )
        )
    section.notes.append(
        "No target: these show the decision logic is never the bottleneck "
        "(a decision costs microseconds; an AWS call costs tens of milliseconds)."
    )
    return section
