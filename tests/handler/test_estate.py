"""The estate itself (``tests/estate.py``): its events have the shapes of the samples in
``events/``, and the moto gaps it fills look the way ECS would."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from autopilot.store import table as ledger_table

from tests.estate import CLUSTER, ZONES, Estate

A, B, C = ZONES
EVENTS = Path(__file__).parents[2] / "events"
DIGEST = "sha256:" + "a" * 64


def _samples() -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for path in sorted(EVENTS.glob("*.json")):
        event = json.loads(path.read_text())
        out.setdefault(event["detail-type"], []).append(event)
    return out


def _keys(items: list[dict[str, Any]]) -> set[str]:
    return {k for item in items for k in item}


def test_every_event_it_builds_has_the_shape_of_the_samples(estate: Estate) -> None:
    svc = estate.service("web", "demo/web", tag="v1", spread={A: 1})
    built = [
        estate.push_event("demo/web", DIGEST, "v1"),
        estate.push_event("demo/web", DIGEST, None),
        estate.scan_event("demo/web", DIGEST, {"LOW": 1}, tags=["v1"]),
        estate.scan_event("demo/web", DIGEST, {"CRITICAL": 1}, inspector=True),
        estate.deployment_event(svc, "FAILED", "ecs-svc/1", "circuit breaker"),
        estate.task_event("web"),
        estate.task_event("web", status="STOPPED", exit_code=1, digest=DIGEST),
        estate.task_event(None),
        estate.alarm_event("web-cpu-high", tags={"autopilot:target": "service:web"}),
        estate.alarm_event("web-cpu-high", "OK"),
        estate.service_action("web", "SERVICE_TASK_PLACEMENT_FAILURE", "RESOURCE:CPU", ("cp",)),
        estate.spot_warning("i-0123456789abcdef0"),
    ]
    samples = _samples()
    for event in built:
        like = samples[event["detail-type"]]
        assert set(event) == _keys(like), event["detail-type"]
        assert set(event["detail"]) <= _keys([s["detail"] for s in like]), event["detail-type"]
        if "containers" in event["detail"]:
            containers = [c for s in like for c in s["detail"].get("containers", [])]
            assert _keys(event["detail"]["containers"]) <= _keys(containers)
    times = [event["time"] for event in built]
    assert times == sorted(times)
    assert len(set(times)) == len(times)  # a second apart


def test_a_service_is_created_as_ecs_keeps_it(estate: Estate) -> None:
    strategy = [{"capacityProvider": "FARGATE_SPOT", "weight": 1, "base": 0}]
    placement = [{"type": "spread", "field": "attribute:ecs.availability-zone"}]
    estate.service(
        "web", strategy=strategy, placement=placement, rebalancing="ENABLED", alarms=["cpu"]
    )

    svc = estate.describe("web")

    assert svc["capacityProviderStrategy"] == strategy
    assert "launchType" not in svc
    assert svc["placementStrategy"] == placement
    assert svc["availabilityZoneRebalancing"] == "ENABLED"
    assert svc["deploymentConfiguration"]["minimumHealthyPercent"] == 100
    assert svc["deploymentConfiguration"]["alarms"]["alarmNames"] == ["cpu"]
    assert sorted(svc["networkConfiguration"]["awsvpcConfiguration"]["subnets"]) == sorted(
        estate.subnets.values()
    )
    (only,) = svc["deployments"]
    assert (only["status"], only["rolloutState"]) == ("PRIMARY", "COMPLETED")


def test_deployments_start_and_finish_as_ecs_runs_them(estate: Estate) -> None:
    estate.service("web")
    deployment = estate.start_deployment("web", rollback=True)

    started = estate.describe("web")
    assert [d["status"] for d in started["deployments"]] == ["PRIMARY", "ACTIVE"]
    assert started["deployments"][0]["id"] == deployment
    assert started["deploymentConfiguration"]["deploymentCircuitBreaker"]["rollback"] is True
    assert started["deploymentConfiguration"]["minimumHealthyPercent"] == 100

    estate.finish_deployment("web")
    (only,) = estate.describe("web")["deployments"]
    assert (only["id"], only["rolloutState"]) == (deployment, "COMPLETED")


def test_tasks_run_in_their_zones_and_list_tasks_names_the_services_own(estate: Estate) -> None:
    estate.service("web", spread={A: 2, B: 1})
    estate.service("api", spread={C: 1})

    listed = estate.ecs.list_tasks(cluster=CLUSTER, serviceName="web", desiredStatus="RUNNING")
    tasks = estate.ecs.describe_tasks(cluster=CLUSTER, tasks=listed["taskArns"])["tasks"]

    assert sorted(t["availabilityZone"] for t in tasks) == [A, A, B]
    assert {t["group"] for t in tasks} == {"service:web"}
    assert {t["lastStatus"] for t in tasks} == {"RUNNING"}
    assert estate.spread("api") == {A: 0, B: 0, C: 1}


def test_counts_start_at_the_last_set_up_step_and_pushes_are_a_minute_apart(
    estate: Estate,
) -> None:
    first = estate.push("demo/web", "v1")
    second = estate.push("demo/web", "v2")
    assert estate.calls == {}

    images = estate.ecr.describe_images(
        repositoryName="demo/web", imageIds=[{"imageDigest": first}, {"imageDigest": second}]
    )["imageDetails"]
    pushed = {i["imageDigest"]: i["imagePushedAt"] for i in images}
    assert (pushed[second] - pushed[first]).total_seconds() == 60
    assert estate.calls == {"ecr:DescribeImages": 1}
    assert estate.by_subject == {"-": {"ecr:DescribeImages": 1}}


def test_the_reaction_state_runs_on_the_fake_clock_while_the_estate_is_open(
    aws_env: None,
) -> None:
    before = ledger_table.CLOCK
    with Estate() as estate:
        assert ledger_table.CLOCK is estate.clock
        estate.clock.advance(30)
        assert ledger_table.CLOCK() == estate.clock.now
    assert ledger_table.CLOCK is before
