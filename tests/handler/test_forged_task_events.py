"""task-events against moto: a crash counts only when ECS confirms it (DescribeTasks), never
on the event's word. Anyone allowed ``lambda:InvokeFunction`` can hand the function any
JSON: three forged STOPPED events must not roll a service back or quarantine its image."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from autopilot.domain.records import DeployRecord

from tests.estate import TABLE, ZONES, Estate
from tests.handler.test_task_events import decision, run, tracked_service

A, B, C = ZONES


def _forged(rx: Estate, digest: str, task_arns: list[str | None]) -> list[dict[str, Any]]:
    """STOPPED events claiming the app (image ``digest``) crashed (exit 1) on the service's
    current revision, two minutes apart: a crash loop, if they were true. ``None``: a task
    ECS never ran."""
    start = datetime.fromtimestamp(rx.clock.now, UTC)
    return [
        rx.task_event(
            "api",
            arn,
            status="STOPPED",
            exit_code=1,
            digest=digest,
            stopped_at=start + timedelta(minutes=2 * i),
            real=False,
        )
        for i, arn in enumerate(task_arns)
    ]


def _nothing_rolled_back(rx: Estate, world: Estate, svc: str, td2: str) -> None:
    assert rx.describe(svc)["taskDefinition"] == td2
    assert "ecs:UpdateService" not in world.calls
    assert "ecs:RegisterTaskDefinition" not in world.calls
    state = world.ledger.state.load(svc)
    assert state.quarantined == frozenset()
    assert world.ledger.crashes.list(svc) == []
    assert [n["attributes"]["outcome"] for n in world.notices()] == []


def test_three_forged_stops_of_tasks_ecs_never_ran_roll_nothing_back(
    rx: Estate, world: Estate
) -> None:
    # Given a service whose image is newer than its last known good (a loop would roll back)
    svc, _td1, td2, _old, new = tracked_service(rx, world)

    # When three STOPPED events arrive for tasks ECS does not know
    reports = []
    calls = []
    for event in _forged(rx, new, [None, None, None]):
        rx.reset_counts()
        reports.append(run(rx, event))
        calls.append(rx.aws_calls())

    # Then each is ignored with its reason, for one DescribeTasks, and nothing changes
    for report in reports:
        d = decision(report)
        assert d["outcome"] == "ignored"
        assert "ECS does not know the task" in d["reason"]
        assert "forged or expired" in d["reason"]
        assert report["actions"] == []
    assert calls == [{"ecs:DescribeTasks": 1}] * 3
    _nothing_rolled_back(rx, world, svc, td2)
    (recorded, *_) = world.ledger.decisions.list(svc)
    assert "ECS does not know the task" in recorded["reason"]


def test_three_forged_stops_of_running_tasks_roll_nothing_back(rx: Estate, world: Estate) -> None:
    svc, _td1, td2, _old, new = tracked_service(rx, world)
    running: list[str | None] = [rx.add_task("api", zone) for zone in ZONES]

    reports = [run(rx, event) for event in _forged(rx, new, running)]

    for report in reports:
        d = decision(report)
        assert d["outcome"] == "ignored"
        assert "ECS says the task is RUNNING, not STOPPED" in d["reason"]
    _nothing_rolled_back(rx, world, svc, td2)
    assert sum(len(arns) for arns in rx.tasks("api").values()) == 6 + 3  # still running


def test_clean_stops_claimed_as_crashes_are_no_loop(rx: Estate, world: Estate) -> None:
    # Given three tasks ECS stopped cleanly (the app exited 0, stopped by a user)
    svc, _td1, td2, _old, new = tracked_service(rx, world)
    stopped: list[str | None] = [
        rx.stopped_task(
            "api", A, exit_code=0, stop_code="UserInitiated", reason="Task stopped by user"
        )
        for _ in range(3)
    ]

    # When events claim each of them crashed (exit 1)
    outcomes = [decision(run(rx, event))["outcome"] for event in _forged(rx, new, stopped)]

    # Then ECS's exit codes are judged: no crash, no loop (zone balance goes on)
    assert "crash-loop" not in outcomes
    assert "rolled-back" not in outcomes
    _nothing_rolled_back(rx, world, svc, td2)


def test_crashes_of_another_service_claimed_as_this_ones_are_not_counted(
    rx: Estate, world: Estate
) -> None:
    svc, _td1, td2, _old, new = tracked_service(rx, world)
    rx.service("batch", spread={A: 1})
    crashed: list[str | None] = [rx.stopped_task("batch", B, exit_code=1) for _ in range(3)]

    reports = [run(rx, event) for event in _forged(rx, new, crashed)]

    for report in reports:
        d = decision(report)
        assert d["outcome"] == "ignored"
        assert "ECS says the task is of 'service:batch', not 'service:api'" in d["reason"]
    _nothing_rolled_back(rx, world, svc, td2)


@pytest.mark.parametrize(
    ("stop_code", "reason", "expected"),
    [
        ("SpotInterruption", "Your Spot Task was interrupted.", "Spot interruption"),
        (
            "ServiceSchedulerInitiated",
            "Availability-zone rebalancing initiated by (deployment ecs-svc/1)",
            "availability-zone rebalancing",
        ),
    ],
    ids=["spot", "az-rebalancing"],
)
def test_a_stop_ecs_made_itself_claimed_as_a_crash_is_not_counted(
    rx: Estate, world: Estate, stop_code: str, reason: str, expected: str
) -> None:
    svc, _td1, td2, _old, new = tracked_service(rx, world)
    stops: list[str | None] = [
        rx.stopped_task("api", C, exit_code=137, stop_code=stop_code, reason=reason)
        for _ in range(3)
    ]

    reports = [run(rx, event) for event in _forged(rx, new, stops)]

    for report in reports:
        d = decision(report)
        assert d["outcome"] == "ignored"
        assert d["reason"].startswith("ECS says: ")
        assert expected in d["reason"]
    _nothing_rolled_back(rx, world, svc, td2)


def test_the_crashing_revision_is_ecs_answer_not_the_events(rx: Estate, world: Estate) -> None:
    # Given three tasks of td:1 (the last known good) that ECS says crashed
    svc, td1, td2, _old, new = tracked_service(rx, world)
    crashed: list[str | None] = [
        rx.stopped_task("api", A, task_definition=td1, exit_code=1) for _ in range(3)
    ]

    # When the events claim they ran td:2 (the newer image, which a loop would roll back)
    events = _forged(rx, new, crashed)
    for event in events:
        assert event["detail"]["taskDefinitionArn"] == td2
    reports = [run(rx, event) for event in events]

    # Then the loop is td:1's (the last known good itself): announced, not rolled back
    d = decision(reports[-1])
    assert d["outcome"] == "crash-loop"
    assert d["task_definition"] == td1
    assert rx.describe(svc)["taskDefinition"] == td2
    assert "ecs:UpdateService" not in world.calls
    assert world.ledger.state.load(svc).quarantined == frozenset()
    assert {c.task_definition_arn for c in world.ledger.crashes.list(svc)} == {td1}


def test_a_claimed_crash_costs_one_describe_tasks(rx: Estate, world: Estate) -> None:
    # Given a balanced service, a clean stop and a crash of it
    rx.service("api", spread={A: 2, B: 2, C: 2})
    clean = rx.task_event("api", status="STOPPED", exit_code=0, stop_code="UserInitiated")
    crash = rx.task_event("api", status="STOPPED", exit_code=1)

    counts = []
    for event in (clean, crash):
        rx.reset_counts()
        run(rx, event)
        rx.clock.advance(600)  # past the zone-balance debounce: each is evaluated
        counts.append(rx.aws_calls())

    # Then the crash costs one DescribeTasks (the task, read before it counts) and one
    # DescribeTaskDefinition (its essential containers) more than the clean stop
    extra = {k: counts[1].get(k, 0) - counts[0].get(k, 0) for k in counts[1] | counts[0]}
    assert {k: v for k, v in extra.items() if v} == {
        "ecs:DescribeTasks": 1,
        "ecs:DescribeTaskDefinition": 1,
    }


def test_a_stop_of_another_clusters_task_is_not_asked_about(rx: Estate, world: Estate) -> None:
    svc, _td1, td2, _old, new = tracked_service(rx, world)
    other = "arn:aws:ecs:us-east-1:123456789012:task/elsewhere/0123456789abcdef"
    events = _forged(rx, new, [other, other.replace("us-east-1", "eu-west-1")])

    for event in events:
        rx.reset_counts()
        d = decision(run(rx, event))
        assert d["outcome"] == "ignored"
        assert "ECS does not know the task" in d["reason"]
        assert rx.aws_calls() == {}  # ECS is not asked about another cluster's task
    _nothing_rolled_back(rx, world, svc, td2)


def test_the_crashing_digest_is_ecs_answer_not_the_events(rx: Estate, world: Estate) -> None:
    # Given a service on td:2, which runs demo/api by tag (ECS resolved it to digest new),
    # deployed after its last known good td:1 (digest old)
    repo = "demo/api"
    old = world.push(repo, "v1.0.0")
    new = world.push(repo, "v1.1.0")
    image = f"123456789012.dkr.ecr.us-east-1.amazonaws.com/{repo}"
    td1 = rx.task_definition("api", f"{image}@{old}")
    td2 = rx.task_definition("api", f"{image}:v1.1.0")
    svc = rx.service(
        "api", task_definition=td2, spread={A: 2, B: 2, C: 2}, tags={"autopilot:repository": repo}
    )
    Ledger = type(world.ledger)
    Ledger(world.dynamodb, TABLE, clock=lambda: 1_000_000).state.set_last_known_good(
        svc, task_definition=td1, digest=old, image=f"{image}@{old}", event_id="seed"
    )
    Ledger(world.dynamodb, TABLE, clock=lambda: 1_000_600).deploys.record(
        svc,
        DeployRecord(
            task_definition=td2,
            digest=new,
            tag="v1.1.0",
            previous_task_definition=td1,
            event_id="push",
        ),
    )
    crashed: list[str | None] = [
        rx.stopped_task("api", A, exit_code=1, digest=new) for _ in range(3)
    ]

    # When the events claim the crashing image is the last known good's digest (old)
    reports = [run(rx, event) for event in _forged(rx, old, crashed)]

    # Then ECS's digest (new) is rolled back and quarantined, never the claimed one
    d = decision(reports[-1])
    assert d["outcome"] == "rolled-back"
    assert rx.describe(svc)["taskDefinition"] == td1
    quarantined = world.ledger.state.load(svc).quarantined
    assert new in quarantined
    assert old not in quarantined
