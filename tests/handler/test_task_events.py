"""task-events against moto: zone balance, debounce and crash loops through the handler, and
the edges."""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from autopilot.domain.records import DeployRecord
from autopilot.errors import AwsCallFailed, Incomplete, InvalidEvent, UnsupportedEvent
from autopilot.flows import rollback, zone_balance
from autopilot.handlers import task_events
from autopilot.store.ledger import Ledger

from tests.estate import CLUSTER, TABLE, ZONES, Estate, LambdaContext

A, B, C = ZONES
EVENTS = Path(__file__).parents[2] / "events"
BINPACK = [{"type": "binpack", "field": "memory"}]


def run(rx: Estate, event: dict[str, Any], **kw: Any) -> dict[str, Any]:
    report = task_events.run(event, aws=rx.clients, **kw)
    return report.to_json()


def decision(report: dict[str, Any]) -> dict[str, Any]:
    (only,) = report["decisions"]
    return dict(only)


def ec2_ineligible(rx: Estate, name: str = "api", **kw: Any) -> str:
    """An EC2 service placed binpack first (not eligible for ECS's rebalancing), with room
    in every zone."""
    for zone in ZONES:
        rx.container_instance(zone)
    kw.setdefault("spread", {A: 4, B: 1, C: 1})
    kw.setdefault("min_healthy", 50)
    return rx.service(name, launch_type="EC2", placement=BINPACK, rebalancing=None, **kw)


# ---------------------------------------------------------------------------
# Every ignore case changes nothing and is recorded with its reason
# ---------------------------------------------------------------------------
IGNORES: dict[str, tuple[dict[str, Any], str]] = {
    "standalone task": ({"service": None}, "standalone task"),
    "az rebalancing stop": (
        {
            "status": "STOPPED",
            "stop_code": "ServiceSchedulerInitiated",
            "reason": "Availability-zone rebalancing initiated by (deployment ecs-svc/1)",
        },
        "availability-zone rebalancing",
    ),
    "spot interruption": (
        {
            "status": "STOPPED",
            "stop_code": "SpotInterruption",
            "reason": "Your Spot Task was interrupted.",
        },
        "Spot interruption",
    ),
    "not running or stopped": ({"status": "PENDING"}, "neither RUNNING nor STOPPED"),
    "deployment in progress": ({"deploying": True}, "deployment in progress"),
    "rebalance off": ({"tags": {"autopilot:rebalance": "off"}}, "autopilot:rebalance=off"),
}


@pytest.mark.parametrize("case", list(IGNORES))
def test_each_ignore_case_changes_nothing_and_is_recorded_with_its_reason(
    rx: Estate, world: Estate, case: str
) -> None:
    # Given a lopsided service that would otherwise be acted on
    kw, expected = IGNORES[case]
    kw = dict(kw)
    deploying = kw.pop("deploying", False)
    tags = kw.pop("tags", {})
    svc = rx.service("web", spread={A: 5, B: 1, C: 0}, tags=tags)
    if deploying:
        rx.start_deployment("web")
    service = kw.pop("service", "web")
    event = rx.task_event(service, **kw)

    # When its task event arrives
    report = run(rx, event)

    # Then: ignored, the reason recorded in the ledger, and no change made
    d = decision(report)
    assert d["outcome"] == "ignored"
    assert expected.lower() in d["reason"].lower()
    assert report["actions"] == []
    assert rx.mutations() == {}
    subject = svc if service else event["detail"]["clusterArn"]
    (recorded,) = world.ledger.decisions.list(subject)
    assert recorded["outcome"] == "ignored"
    assert recorded["reason"] == d["reason"]
    assert recorded["function"] == "task-events"


def test_a_malformed_rebalance_tag_skips_the_service_and_says_so(rx: Estate) -> None:
    rx.service("web", spread={A: 5, B: 1}, tags={"autopilot:rebalance": "sometimes"})
    d = decision(run(rx, rx.task_event("web")))
    assert d["outcome"] == "rejected"
    assert "autopilot:rebalance" in d["reason"]
    assert rx.mutations() == {"sns:Publish": 1}


# ---------------------------------------------------------------------------
# Measure and plan: ECS's rebalancing turned on, a task stopped, capacity raised
# ---------------------------------------------------------------------------
def test_eligible_service_with_native_rebalancing_off_gets_it_turned_on(rx: Estate) -> None:
    svc = rx.service("web", spread={A: 4, B: 1, C: 1}, rebalancing="DISABLED")

    report = run(rx, rx.task_event("web"))

    d = decision(report)
    assert d["outcome"] == "rebalanced"
    assert d["counts"] == {A: 4, B: 1, C: 1}
    (action,) = report["actions"][:1]
    assert action["api"] == "ecs:UpdateService"
    assert action["params"]["availabilityZoneRebalancing"] == "ENABLED"
    assert action["done"] is True
    assert rx.describe(svc)["availabilityZoneRebalancing"] == "ENABLED"
    assert "ecs:StopTask" not in rx.mutations()


def test_a_service_on_the_clusters_default_fargate_strategy_counts_as_fargate(
    rx: Estate, world: Estate
) -> None:
    world.ecs.put_cluster_capacity_providers(
        cluster=CLUSTER,
        capacityProviders=["FARGATE", "FARGATE_SPOT"],
        defaultCapacityProviderStrategy=[{"capacityProvider": "FARGATE", "weight": 1}],
    )
    rx.service("web", spread={A: 4, B: 1, C: 1})
    rx.moto_service("web").launch_type = None  # placed by the default strategy
    world.calls.clear()

    report = run(rx, rx.task_event("web"))

    assert decision(report)["outcome"] == "rebalanced"
    assert [a["api"] for a in report["actions"]] == ["ecs:UpdateService", "sns:Publish"]
    assert "ecs:ListContainerInstances" not in world.calls


def test_eligible_service_with_native_rebalancing_on_is_left_to_ecs(rx: Estate) -> None:
    rx.service("web", spread={A: 4, B: 1, C: 1}, rebalancing="ENABLED")
    d = decision(run(rx, rx.task_event("web")))
    assert d["outcome"] == "balanced"
    assert "native rebalancing is on" in d["reason"]
    assert rx.mutations() == {}


def test_a_balanced_service_gets_nothing(rx: Estate) -> None:
    rx.service("web", spread={A: 2, B: 2, C: 1})
    d = decision(run(rx, rx.task_event("web")))
    assert d["outcome"] == "balanced"
    assert rx.mutations() == {}


def test_ineligible_service_is_rebalanced_one_task_at_a_time_within_the_cooldown(
    rx: Estate, clock: Any
) -> None:
    # Given an EC2 binpack service, 4/1/1 over three zones, room everywhere
    ec2_ineligible(rx)
    stopped_before = rx.tasks("api")[A]

    # When a task event arrives: one task of the most loaded zone is stopped
    report = run(rx, rx.task_event("api"))
    d = decision(report)
    assert d["outcome"] == "rebalanced"
    (stop,) = [a for a in report["actions"] if a["api"] == "ecs:StopTask"]
    assert stop["params"]["reason"] == "autopilot: az rebalance"
    assert stop["params"]["task"] in stopped_before
    assert rx.spread("api") == {A: 3, B: 1, C: 1}
    assert rx.mutations()["ecs:StopTask"] == 1

    # ECS replaces it (the simulator's job; here by hand) in the emptiest zone
    rx.add_task("api", C)
    # After the debounce window but inside the move cooldown: no second stop
    clock.advance(120)
    deferred = decision(run(rx, rx.task_event("api")))
    assert deferred["outcome"] == "deferred"
    assert "cooldown" in deferred["reason"]
    assert rx.mutations()["ecs:StopTask"] == 1

    # After the cooldown: the next move
    clock.advance(300)
    again = decision(run(rx, rx.task_event("api")))
    assert again["outcome"] == "rebalanced"
    assert rx.spread("api") == {A: 2, B: 1, C: 2}
    assert rx.mutations()["ecs:StopTask"] == 2


def test_a_stop_never_takes_the_service_below_minimum_healthy(rx: Estate) -> None:
    ec2_ineligible(rx, min_healthy=100)
    d = decision(run(rx, rx.task_event("api")))
    assert d["outcome"] == "deferred"
    assert "minimum healthy" in d["reason"]
    assert rx.mutations() == {}


@pytest.mark.parametrize("managed", [False, True], ids=["plain-asg", "managed-scaling"])
def test_ec2_zone_without_room_gets_capacity_from_its_asg(rx: Estate, managed: bool) -> None:
    # Given an EC2 service spread on AZs (eligible) over an ASG in three zones, whose
    # instances are only in A and B: C has no room
    rx.asg("nodes", desired=2, min_size=1, max_size=6, provider="nodes-cp", managed=managed)
    rx.container_instance(A)
    rx.container_instance(B)
    spread_az = [{"type": "spread", "field": "attribute:ecs.availability-zone"}]
    rx.service(
        "api",
        launch_type="EC2",
        placement=spread_az,
        rebalancing="ENABLED",
        strategy=[{"capacityProvider": "nodes-cp", "weight": 1, "base": 0}],
        spread={A: 3, B: 3, C: 0},
    )

    report = run(rx, rx.task_event("api"))

    d = decision(report)
    assert d["outcome"] == "rebalanced"
    (action,) = report["actions"][:1]
    group = rx.describe_asg("nodes")
    if managed:
        # ECS owns the desired capacity: the floor moves, the old floor is recorded
        assert action["api"] == "autoscaling:UpdateAutoScalingGroup"
        assert action["params"] == {"AutoScalingGroupName": "nodes", "MinSize": 3}
        assert group["MinSize"] == 3
        assert rx.ledger.table.get("TGT#asg:nodes", "CAP#ORIGINAL_MIN")["value"] == 1
        assert "auto-scaling:SetDesiredCapacity" not in rx.mutations()
        assert rx.mutations()["auto-scaling:UpdateAutoScalingGroup"] == 1
    else:
        assert action["api"] == "autoscaling:SetDesiredCapacity"
        assert action["params"]["DesiredCapacity"] == 3
        assert group["DesiredCapacity"] == 3
        assert "auto-scaling:UpdateAutoScalingGroup" not in rx.mutations()
        assert rx.mutations()["auto-scaling:SetDesiredCapacity"] == 1
    assert "ecs:StopTask" not in rx.mutations()


def test_a_raised_floor_is_released_once_the_zones_are_balanced(rx: Estate, clock: Any) -> None:
    # Given the managed-scaling raise above (MinSize 1 -> 3, recorded)
    rx.asg("nodes", desired=2, min_size=1, max_size=6, provider="nodes-cp", managed=True)
    rx.container_instance(A)
    rx.container_instance(B)
    spread_az = [{"type": "spread", "field": "attribute:ecs.availability-zone"}]
    rx.service(
        "api",
        launch_type="EC2",
        placement=spread_az,
        rebalancing="ENABLED",
        strategy=[{"capacityProvider": "nodes-cp", "weight": 1, "base": 0}],
        spread={A: 3, B: 3, C: 0},
    )
    assert decision(run(rx, rx.task_event("api")))["outcome"] == "rebalanced"
    assert rx.describe_asg("nodes")["MinSize"] == 3

    # When the instance in C has joined and ECS has moved tasks there
    rx.container_instance(C)
    for zone in (A, B):
        rx.backend.tasks[CLUSTER].pop(rx.tasks("api")[zone][0])
    rx.add_task("api", C)
    rx.add_task("api", C)
    clock.advance(120)
    report = run(rx, rx.task_event("api"))

    # Then the floor goes back to what it was, and the record is gone
    d = decision(report)
    assert d["outcome"] == "restored"
    assert d["counts"] == {A: 2, B: 2, C: 2}
    assert rx.describe_asg("nodes")["MinSize"] == 1
    assert rx.ledger.table.get("TGT#asg:nodes", "CAP#ORIGINAL_MIN") is None


# ---------------------------------------------------------------------------
# Debounce: 1,000 events for one service inside one window
# ---------------------------------------------------------------------------
def test_a_storm_of_1000_events_gives_one_evaluation_and_one_action(rx: Estate) -> None:
    # Given a lopsided Fargate service with ECS's rebalancing off
    rx.service("web", spread={A: 4, B: 1, C: 1}, rebalancing="DISABLED")
    events = [rx.task_event("web", zone=ZONES[i % 3]) for i in range(1000)]
    rx.calls.clear()

    # When 1,000 task events for it arrive inside one window
    started = time.perf_counter()
    outcomes = [decision(run(rx, e))["outcome"] for e in events]
    elapsed = time.perf_counter() - started

    # Then one evaluation (one round of describes) and one action; the rest debounced
    assert outcomes[0] == "rebalanced"
    assert set(outcomes[1:]) == {"debounced"}
    assert rx.reads() == {
        "ecs:DescribeServices": 1,
        "ecs:ListTasks": 1,
        "ecs:DescribeTasks": 1,
        "ec2:DescribeSubnets": 1,
    }
    assert rx.mutations() == {"ecs:UpdateService": 1, "sns:Publish": 1}
    print(f"\n1000 events: {elapsed:.2f} s, calls {dict(rx.calls)}")


def test_a_failed_evaluation_gives_its_window_back_so_the_retry_evaluates(
    rx: Estate, clock: Any
) -> None:
    rx.service("web", spread={A: 4, B: 1, C: 1})
    svc = rx.moto_service("web")
    good = svc.network_configuration
    svc.network_configuration = {
        "awsvpcConfiguration": {"subnets": ["subnet-0000000000000dead"], "securityGroups": []}
    }
    event = rx.task_event("web")
    with pytest.raises(AwsCallFailed):
        run(rx, event)  # Lambda retries the event, a minute or so later
    svc.network_configuration = good
    # a storm meanwhile is still debounced; the retry after that evaluates
    assert decision(run(rx, rx.task_event("web")))["outcome"] == "debounced"
    clock.advance(11)
    assert decision(run(rx, event))["outcome"] == "rebalanced"


def test_a_busy_service_is_retried_and_the_retry_evaluates(
    rx: Estate, world: Estate, clock: Any
) -> None:
    # Given another function holding the service's lease (a deploy in flight)
    svc = rx.service("web", spread={A: 4, B: 1, C: 1})
    world.ledger.leases.acquire(svc, "image-events:push-1", 300)
    event = rx.task_event("web")

    # When the task event arrives, the Lambda entry raises Incomplete (Lambda retries)
    with pytest.raises(Incomplete):
        task_events.handler(event, LambdaContext())
    assert rx.describe(svc).get("availabilityZoneRebalancing") == "DISABLED"

    # and once the lease is free, the retry evaluates (not debounced, not a duplicate)
    world.ledger.leases.release(svc, "image-events:push-1")
    clock.advance(60)
    assert decision(run(rx, event))["outcome"] == "rebalanced"
    assert rx.describe(svc)["availabilityZoneRebalancing"] == "ENABLED"


def test_a_change_made_after_the_read_refuses_the_lease_so_the_plan_is_made_again(
    rx: Estate, world: Estate
) -> None:
    # Given a deploy that changes the service right after this evaluation read it
    svc = rx.service("web", spread={A: 4, B: 1, C: 1})

    def deploy_in_between(**_: Any) -> None:
        world.ecs.meta.events.unregister("after-call.ecs.DescribeServices", deploy_in_between)
        world.ledger.leases.acquire(svc, "image-events:push-2", 300)
        world.ledger.leases.release(svc, "image-events:push-2", changed=True)

    world.ecs.meta.events.register("after-call.ecs.DescribeServices", deploy_in_between)
    report = run(rx, rx.task_event("web"))

    # Then nothing is changed on the stale plan, and the event is to be retried
    assert decision(report)["outcome"] == "busy"
    assert report["retry_services"] == [svc]
    assert "ecs:UpdateService" not in rx.mutations()


def test_the_same_state_change_twice_is_a_duplicate(rx: Estate) -> None:
    rx.service("web", spread={A: 4, B: 1, C: 1})
    event = rx.task_event("web")
    first = decision(run(rx, event))
    rx.calls.clear()
    copy = dict(event, id="another-delivery")
    second = run(rx, copy)
    assert first["outcome"] == "rebalanced"
    assert decision(second)["outcome"] == "duplicate"
    assert second["duplicate"] is True
    assert rx.reads() == {}
    assert rx.mutations() == {}


def test_dry_run_plans_without_changing_or_recording_anything(rx: Estate) -> None:
    ec2_ineligible(rx)
    report = run(rx, rx.task_event("api"), dry_run=True)
    d = decision(report)
    assert d["outcome"] == "rebalanced"
    assert [a["api"] for a in report["actions"]] == ["ecs:StopTask", "sns:Publish"]
    assert not any(a["done"] for a in report["actions"])
    assert rx.mutations() == {}
    assert [k for k in rx.calls if k.startswith("dynamodb:") and "Put" in k] == []
    assert rx.spread("api") == {A: 4, B: 1, C: 1}


# ---------------------------------------------------------------------------
# Crash loops roll back through deployment-events' own path
# ---------------------------------------------------------------------------
def tracked_service(rx: Estate, world: Estate) -> tuple[str, str, str, str, str]:
    """A service on td:2 (digest new) deployed after its last known good td:1 (digest old)."""
    repo = "demo/api"
    old = world.push(repo, "v1.0.0")
    new = world.push(repo, "v1.1.0")
    registry = f"{world.ecs.meta.region_name}"
    del registry
    image = "123456789012.dkr.ecr.us-east-1.amazonaws.com/demo/api@"
    td1 = rx.task_definition("api", image + old)
    td2 = rx.task_definition("api", image + new)
    svc = rx.service(
        "api",
        task_definition=td2,
        spread={A: 2, B: 2, C: 2},
        tags={"autopilot:repository": repo},
    )
    ledger = type(world.ledger)(world.dynamodb, TABLE, clock=lambda: 1_000_000)
    ledger.state.set_last_known_good(
        svc, task_definition=td1, digest=old, image=image + old, event_id="seed"
    )
    later = type(world.ledger)(world.dynamodb, TABLE, clock=lambda: 1_000_600)
    later.deploys.record(
        svc,
        DeployRecord(
            task_definition=td2,
            digest=new,
            tag="v1.1.0",
            previous_task_definition=td1,
            event_id="push",
        ),
    )
    world.calls.clear()
    return svc, td1, td2, old, new


def test_a_crash_loop_of_a_newer_digest_rolls_back_and_quarantines_through_the_shared_path(
    rx: Estate, world: Estate, monkeypatch: pytest.MonkeyPatch
) -> None:
    svc, td1, td2, _old, new = tracked_service(rx, world)
    shared: list[str] = []
    real_plan = rollback.rollback_plan

    def spy(*args: Any, **kwargs: Any) -> Any:
        shared.append(args[1].decision.outcome.value)
        return real_plan(*args, **kwargs)

    monkeypatch.setattr(rollback, "rollback_plan", spy)
    start = datetime.fromtimestamp(rx.clock.now, UTC)

    # When three tasks of td:2 crash (exit 1) within ten minutes
    reports = [
        run(
            rx,
            rx.task_event(
                "api",
                status="STOPPED",
                exit_code=1,
                digest=new,
                stopped_at=start + timedelta(minutes=2 * i),
            ),
        )
        for i in range(3)
    ]

    # Then the first two are recorded crashes (zone balance goes on, debounced), the third
    # rolls back
    assert [decision(r)["outcome"] for r in reports[:2]] == ["balanced", "debounced"]
    d = decision(reports[2])
    assert d["outcome"] == "rolled-back"
    assert "crash loop: 3 crashes" in d["reason"]
    assert d["task_definition"] == td1
    assert shared == ["rolled-back"]  # deployment-events' rollback plan did it
    assert rx.describe(svc)["taskDefinition"] == td1
    state = world.ledger.state.load(svc)
    assert new in state.quarantined
    assert world.ledger.deploys.get(svc, td1) is not None
    outcomes = [n["attributes"]["outcome"] for n in world.notices()]
    assert outcomes == ["rolled-back"]

    # and a fourth crash in the same window is not a second report
    fourth = run(
        rx,
        rx.task_event(
            "api",
            status="STOPPED",
            exit_code=1,
            digest=new,
            task_definition=td2,
            stopped_at=start + timedelta(minutes=7),
        ),
    )
    assert "already reported" in decision(fourth)["reason"]
    assert world.calls["ecs:UpdateService"] == 1


def test_a_crash_loop_met_by_a_busy_lease_is_rolled_back_by_the_retry(
    rx: Estate, world: Estate
) -> None:
    svc, td1, _td2, _old, new = tracked_service(rx, world)
    start = datetime.fromtimestamp(rx.clock.now, UTC)
    events = [
        rx.task_event(
            "api",
            status="STOPPED",
            exit_code=1,
            digest=new,
            stopped_at=start + timedelta(minutes=i),
        )
        for i in range(3)
    ]
    for event in events[:2]:
        run(rx, event)
    world.ledger.leases.acquire(svc, "image-events:push-3", 300)
    with pytest.raises(Incomplete):
        task_events.handler(events[2], LambdaContext())
    world.ledger.leases.release(svc, "image-events:push-3")
    assert decision(run(rx, events[2]))["outcome"] == "rolled-back"
    assert rx.describe(svc)["taskDefinition"] == td1


def test_a_crash_loop_of_the_last_known_good_is_announced_but_not_rolled_back(
    rx: Estate, world: Estate
) -> None:
    repo = "demo/api"
    digest = world.push(repo, "v1.0.0")
    image = f"123456789012.dkr.ecr.us-east-1.amazonaws.com/{repo}@{digest}"
    td = rx.task_definition("api", image)
    svc = rx.service(
        "api", task_definition=td, spread={A: 2, B: 2, C: 2}, tags={"autopilot:repository": repo}
    )
    world.ledger.state.set_last_known_good(
        svc, task_definition=td, digest=digest, image=image, event_id="seed"
    )
    start = datetime.fromtimestamp(rx.clock.now, UTC)
    reports = [
        run(
            rx,
            rx.task_event(
                "api", status="STOPPED", exit_code=137, stopped_at=start + timedelta(minutes=i)
            ),
        )
        for i in range(3)
    ]
    d = decision(reports[-1])
    assert d["outcome"] == "crash-loop"
    assert "last known good itself" in d["reason"]
    assert "ecs:UpdateService" not in rx.mutations()
    assert [n["attributes"]["outcome"] for n in world.notices()] == ["crash-loop"]
    assert world.ledger.state.load(svc).quarantined == frozenset()


def test_crashes_spread_beyond_the_window_or_of_non_essential_containers_are_no_loop(
    rx: Estate, world: Estate
) -> None:
    rx.service("api", spread={A: 2, B: 2, C: 2})
    start = datetime.fromtimestamp(rx.clock.now, UTC)
    outcomes = []
    for i in range(3):
        event = rx.task_event(
            "api", status="STOPPED", exit_code=1, stopped_at=start + timedelta(minutes=6 * i)
        )
        outcomes.append(decision(run(rx, event))["outcome"])
        rx.clock.advance(120)
    assert "crash-loop" not in outcomes
    # a non-essential sidecar exiting 1 is not a crash (ECS says so of the task too)
    task = rx.stopped_task("api", A, exit_code=0, sidecar_exit_code=1)
    sidecar = rx.task_event("api", task, status="STOPPED", exit_code=0)
    sidecar["detail"]["containers"][1]["exitCode"] = 1
    rx.clock.advance(120)
    assert decision(run(rx, sidecar))["outcome"] != "crash-loop"


# ---------------------------------------------------------------------------
# The trailing edge: debounced and deferred evaluations come back on the schedule
# ---------------------------------------------------------------------------
def tick(rx: Estate) -> dict[str, Any]:
    """What the re-check rule's schedule sends (the shape of events/scheduled-event-recheck)."""
    event = json.loads((EVENTS / "scheduled-event-recheck.json").read_text())
    event["id"] = str(uuid.uuid4())
    event["time"] = datetime.fromtimestamp(rx.clock.now, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return event


def rechecks(world: Estate) -> dict[str, int]:
    """service ARN -> due epoch, straight from the RECHECK partition."""
    items = world.dynamodb.query(
        TableName=TABLE,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": "RECHECK"}},
    )["Items"]
    return {i["service_arn"]["S"]: int(i["due_at"]["N"]) for i in items}


def test_an_ineligible_service_is_not_left_lopsided_by_a_debounced_last_event(
    rx: Estate, world: Estate, clock: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given AWS's defaults (60 s window, 300 s cooldown) and a 4/1/1 ineligible service
    monkeypatch.setenv("EVALUATION_WINDOW_SECONDS", "60")
    monkeypatch.setenv("MOVE_COOLDOWN_SECONDS", "300")
    svc = ec2_ineligible(rx)
    assert decision(run(rx, rx.task_event("api")))["outcome"] == "rebalanced"  # 3/1/1
    rx.add_task("api", C)  # ECS's replacement: 3/1/2

    # When the last event of the burst (the replacement's) lands inside the window
    clock.advance(20)
    d = decision(run(rx, rx.task_event("api", zone=C)))
    assert d["outcome"] == "debounced"
    assert rechecks(world) == {svc: int(clock.now) + 60}

    # Then a tick inside the window changes nothing and keeps the mark
    world.calls.clear()
    assert run(rx, tick(rx))["decisions"] == []
    assert rx.reads() == {}
    assert svc in rechecks(world)

    # the tick after the window evaluates: inside the cooldown, so it is deferred and
    # marked due when the cooldown ends
    clock.advance(60)
    deferred = decision(run(rx, tick(rx)))
    assert deferred["outcome"] == "deferred"
    assert deferred["reason"].startswith("re-check (debounced): ")
    assert rechecks(world) == {svc: int(clock.now) - 80 + 300}

    # and the tick after the cooldown makes the next move, with no task event at all
    clock.advance(230)
    moved = decision(run(rx, tick(rx)))
    assert moved["outcome"] == "rebalanced"
    assert rx.mutations()["ecs:StopTask"] == 1  # counted since the first tick
    assert rx.spread("api") == {A: 2, B: 1, C: 2}


def test_a_storm_gets_one_trailing_evaluation_and_still_one_action(
    rx: Estate, world: Estate, clock: Any
) -> None:
    # Given the storm: 1,000 events in one window (one evaluation, one action)
    svc = rx.service("web", spread={A: 4, B: 1, C: 1}, rebalancing="DISABLED")
    events = [rx.task_event("web", zone=ZONES[i % 3]) for i in range(1000)]
    rx.calls.clear()
    outcomes = [decision(run(rx, e))["outcome"] for e in events]
    assert outcomes.count("rebalanced") == 1
    # the 999 debounced events left one mark: one conditional write each, all but the
    # first failing its condition (with the window claim, the decision and the event
    # record: four puts per debounced event, no read)
    assert list(rechecks(world)) == [svc]
    assert world.calls["dynamodb:PutItem"] <= 4 * 1000

    # When the schedule comes after the window: one re-check, one round of describes
    clock.advance(61)
    rx.calls.clear()
    report = run(rx, tick(rx))

    # Then ECS's own rebalancing is on now: nothing more to do, and no second action
    assert decision(report)["outcome"] == "balanced"
    assert rx.reads() == {
        "ecs:DescribeServices": 1,
        "ecs:ListTasks": 1,
        "ecs:DescribeTasks": 1,
        "ec2:DescribeSubnets": 1,
    }
    assert rx.mutations() == {}
    assert rechecks(world) == {}
    # a second tick finds nothing due
    rx.calls.clear()
    assert run(rx, tick(rx))["decisions"] == []
    assert rx.reads() == {}


def test_a_dry_run_tick_plans_the_due_re_checks_and_changes_nothing(
    rx: Estate, world: Estate, clock: Any
) -> None:
    svc = ec2_ineligible(rx)
    Ledger(world.dynamodb, TABLE).rechecks.mark(svc, int(clock.now), "x")
    world.calls.clear()
    report = run(rx, tick(rx), dry_run=True)
    d = decision(report)
    assert d["outcome"] == "rebalanced"
    assert [a["api"] for a in report["actions"]] == ["ecs:StopTask", "sns:Publish"]
    assert rx.mutations() == {}
    reads = ("dynamodb:GetItem", "dynamodb:Query")
    assert [k for k in world.calls if k.startswith("dynamodb:") and k not in reads] == []
    assert rechecks(world) == {svc: int(clock.now)}


def test_a_busy_re_check_is_marked_for_the_next_tick_not_retried(
    rx: Estate, world: Estate, clock: Any
) -> None:
    svc = rx.service("web", spread={A: 4, B: 1, C: 1})
    Ledger(world.dynamodb, TABLE).rechecks.mark(svc, int(clock.now), "x")
    world.ledger.leases.acquire(svc, "image-events:push-9", 300)
    result = task_events.handler(tick(rx), LambdaContext())  # no Incomplete raised
    assert result["decisions"][0]["outcome"] == "busy"
    assert result["retry_services"] == []
    assert rechecks(world) == {svc: int(clock.now) + 10}
    world.ledger.leases.release(svc, "image-events:push-9")
    clock.advance(11)
    assert decision(run(rx, tick(rx)))["outcome"] == "rebalanced"


def _shared_asg(rx: Estate) -> None:
    """Two EC2 services on one managed-scaling ASG over three zones, instances in A and B."""
    rx.asg("nodes", desired=2, min_size=1, max_size=6, provider="nodes-cp", managed=True)
    rx.container_instance(A)
    rx.container_instance(B)
    spread_az = [{"type": "spread", "field": "attribute:ecs.availability-zone"}]
    strategy = [{"capacityProvider": "nodes-cp", "weight": 1, "base": 0}]
    for name, spread in (("api", {A: 3, B: 3, C: 0}), ("jobs", {A: 2, B: 2, C: 1})):
        rx.service(
            name,
            launch_type="EC2",
            placement=spread_az,
            rebalancing="ENABLED",
            strategy=strategy,
            spread=spread,
            desired=sum(spread.values()),
        )


def test_a_floor_is_released_by_the_service_that_raised_it_not_another(
    rx: Estate, world: Estate, clock: Any
) -> None:
    # Given api raised the ASG's floor 1 -> 3 for its empty zone
    _shared_asg(rx)
    assert decision(run(rx, rx.task_event("api")))["outcome"] == "rebalanced"
    assert rx.describe_asg("nodes")["MinSize"] == 3
    floor = rx.ledger.table.get("TGT#asg:nodes", "CAP#ORIGINAL_MIN")
    assert floor["value"] == 1
    assert floor["raised_by"].endswith("service/" + CLUSTER + "/api")

    # When jobs, another service on that group, is evaluated balanced
    clock.advance(120)
    other = decision(run(rx, rx.task_event("jobs")))

    # Then the floor stays (api still needs its instance)
    assert other["outcome"] == "balanced"
    assert rx.describe_asg("nodes")["MinSize"] == 3

    # and api, once balanced, releases it
    rx.container_instance(C)
    for zone in (A, B):
        rx.backend.tasks[CLUSTER].pop(rx.tasks("api")[zone][0])
    rx.add_task("api", C)
    rx.add_task("api", C)
    assert decision(run(rx, rx.task_event("api")))["outcome"] == "restored"
    assert rx.describe_asg("nodes")["MinSize"] == 1
    assert rx.ledger.table.get("TGT#asg:nodes", "CAP#ORIGINAL_MIN") is None


def test_a_floor_never_sticks_past_its_max_age(rx: Estate, world: Estate, clock: Any) -> None:
    # Given api raised the floor and never becomes balanced (no instance ever joins in C)
    _shared_asg(rx)
    api = rx.moto_service("api").arn
    run(rx, rx.task_event("api"))
    assert rx.describe_asg("nodes")["MinSize"] == 3
    # its owner is marked for a re-check at the floor's max age
    max_age = zone_balance.FLOOR_MAX_AGE_SECONDS
    assert rechecks(world)[api] == int(clock.now) + max_age

    # When another service's evaluation comes after the max age
    clock.advance(max_age)
    d = decision(run(rx, rx.task_event("jobs")))

    # Then the floor goes back to what it was
    assert d["outcome"] == "restored"
    assert rx.describe_asg("nodes")["MinSize"] == 1
    assert rx.ledger.table.get("TGT#asg:nodes", "CAP#ORIGINAL_MIN") is None


def test_the_sample_scheduled_event_runs_through_the_handler_in_dry_run(rx: Estate) -> None:
    event = json.loads((EVENTS / "scheduled-event-recheck.json").read_text())
    report = run(rx, event, dry_run=True)
    assert report["detail_type"] == "Scheduled Event"
    assert report["decisions"] == []
    assert rx.mutations() == {}


# ---------------------------------------------------------------------------
# The Lambda entry
# ---------------------------------------------------------------------------
def test_junk_raises_a_typed_error_so_lambda_retries_then_dead_letters(
    rx: Estate, world: Estate
) -> None:
    rx.service("web", spread={A: 1})
    event = rx.task_event("web")
    event["detail"]["taskArn"] = "not-an-arn"
    with pytest.raises(InvalidEvent) as caught:
        task_events.handler(event, LambdaContext())
    assert any("taskArn" in e["loc"] for e in caught.value.errors)
    with pytest.raises(UnsupportedEvent):
        task_events.handler(dict(event, **{"detail-type": "ECS Service Action"}), LambdaContext())
    assert world.calls == {}


def test_handler_returns_the_report_as_json(rx: Estate) -> None:
    rx.service("web", spread={A: 2, B: 2, C: 2})
    result = task_events.handler(rx.task_event("web"), LambdaContext())
    assert result["function"] == "task-events"
    assert result["decisions"][0]["outcome"] == "balanced"
    assert result["event_id"].endswith("#1")
    assert CLUSTER in result["decisions"][0]["service"]


@pytest.mark.parametrize(
    "path", sorted(EVENTS.glob("ecs-task-*.json")), ids=lambda p: p.stem.removeprefix("ecs-task-")
)
def test_every_sample_task_event_runs_through_the_handler_in_dry_run(
    rx: Estate, monkeypatch: pytest.MonkeyPatch, path: Path
) -> None:
    event = json.loads(path.read_text())
    monkeypatch.setenv("CLUSTER_ARNS", event["detail"]["clusterArn"])
    family, revision = event["detail"]["taskDefinitionArn"].rsplit("/", 1)[-1].split(":")
    for _ in range(int(revision)):  # the sample's revision exists (crashes read it)
        rx.task_definition(family)
    rx.calls.clear()
    report = run(rx, event, dry_run=True)
    assert report["dry_run"] is True
    assert len(report["decisions"]) == 1
    assert rx.mutations() == {}
