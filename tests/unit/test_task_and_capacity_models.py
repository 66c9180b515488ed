"""Contract tests: every sample event of ours parses with its model; junk is rejected."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from autopilot import contract
from autopilot.events.capacity import (
    AlarmStateChangeEvent,
    ServiceActionEvent,
    SpotInterruptionEvent,
)
from autopilot.events.task import TaskStateChangeEvent
from autopilot.logic.zone_balance import Evaluate, Ignore, ServiceFacts, classify
from autopilot.schema import Model, ValidationError

pytestmark = pytest.mark.disable_socket

EVENTS = Path(__file__).resolve().parents[2] / "events"
PREFIXES = ("ecs-task-", "ecs-service-action-", "cloudwatch-alarm-", "ec2-spot-interruption")
MODELS: dict[str, type[Model]] = {
    contract.DT_ECS_TASK: TaskStateChangeEvent,
    contract.DT_ECS_SERVICE_ACTION: ServiceActionEvent,
    contract.DT_ALARM: AlarmStateChangeEvent,
    contract.DT_SPOT_WARNING: SpotInterruptionEvent,
}
SAMPLES = sorted(p for p in EVENTS.glob("*.json") if p.name.startswith(PREFIXES))


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((EVENTS / name).read_text())
    return data


def test_the_samples_are_there() -> None:
    assert len(SAMPLES) >= 15


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: p.name)
def test_every_sample_parses_with_its_model(path: Path) -> None:
    # Given a sample event in the shape AWS sends
    event = json.loads(path.read_text())
    # When it is parsed by the model of its detail-type
    parsed = MODELS[event["detail-type"]].model_validate(event)
    # Then it round-trips the envelope and matches our sandbox's routing facts
    assert parsed.model_dump(by_alias=True)["detail-type"] == event["detail-type"]
    assert event["account"] == "123456789012"
    assert event["region"] == "eu-west-1"


# ---------------------------------------------------------------------------
# ECS Task State Change
# ---------------------------------------------------------------------------
def test_running_fargate_task() -> None:
    e = TaskStateChangeEvent.model_validate(load("ecs-task-running-fargate.json"))
    d = e.detail
    assert d.service_name == "web"
    assert d.availability_zone == "eu-west-1a"
    assert d.launch_type == "FARGATE"
    assert d.version == 4
    assert d.dedup_key == d.task_arn + "#4"
    assert d.containers[0].image_digest is not None
    assert d.stop_code is None
    assert d.stopped_reason is None


def test_running_ec2_task_has_its_zone() -> None:
    d = TaskStateChangeEvent.model_validate(load("ecs-task-running-ec2.json")).detail
    assert (d.service_name, d.availability_zone, d.launch_type) == ("api", "eu-west-1b", "EC2")
    assert d.capacity_provider_name == "demo-cluster-asg-cp"


def test_stop_by_az_rebalancing_is_recognised_and_ignored() -> None:
    d = TaskStateChangeEvent.model_validate(load("ecs-task-stopped-az-rebalancing.json")).detail
    assert d.stopped_by_az_rebalancing
    verdict = classify(d)
    assert isinstance(verdict, Ignore)
    assert verdict.reason == "stopped by ECS availability-zone rebalancing"


def test_spot_interruption_is_ignored() -> None:
    d = TaskStateChangeEvent.model_validate(load("ecs-task-stopped-spot-interruption.json")).detail
    assert d.spot_interrupted
    assert isinstance(classify(d), Ignore)


def test_essential_container_exit_is_evaluated_and_carries_exit_codes() -> None:
    d = TaskStateChangeEvent.model_validate(
        load("ecs-task-stopped-essential-container-exited.json")
    ).detail
    assert d.stop_code == "EssentialContainerExited"
    assert [c.exit_code for c in d.containers] == [1, 0]
    assert d.containers[1].image_digest is None
    verdict = classify(d, ServiceFacts(rebalance_on=True, deployment_in_progress=False))
    assert isinstance(verdict, Evaluate)
    assert verdict.service_name == "api"


def test_standalone_task_is_ignored() -> None:
    d = TaskStateChangeEvent.model_validate(load("ecs-task-standalone.json")).detail
    assert d.service_name is None
    assert d.started_by is None
    assert isinstance(classify(d), Ignore)


def test_task_without_zone_or_exit_codes_parses() -> None:
    d = TaskStateChangeEvent.model_validate(
        load("ecs-task-stopped-failed-to-start-no-az.json")
    ).detail
    assert d.availability_zone is None
    assert d.containers[0].exit_code is None
    assert d.containers[0].image_digest is None


def test_unknown_fields_are_ignored() -> None:
    event = load("ecs-task-running-fargate.json")
    event["detail"]["somethingNew"] = {"nested": [1, 2, 3]}
    event["brandNewTopLevel"] = True
    assert TaskStateChangeEvent.model_validate(event).detail.service_name == "web"


def _broken(name: str, path: tuple[str, ...], value: Any) -> dict[str, Any]:
    event = copy.deepcopy(load(name))
    node: Any = event
    for key in path[:-1]:
        node = node[key]
    if value is _DELETE:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return event


_DELETE = object()


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("detail", "taskArn"), _DELETE),
        (("detail", "taskArn"), "arn:aws:s3:::bucket/key"),
        (("detail", "clusterArn"), 42),
        (("detail", "version"), -1),
        (("detail", "version"), "four"),
        (("detail", "group"), ""),
        (("detail", "lastStatus"), "running; drop table"),
        (("detail", "availabilityZone"), "not a zone"),
        (("detail", "containers"), "web"),
        (("detail", "taskDefinitionArn"), "arn:aws:ecs:eu-west-1:123456789012:task-definition/x"),
        (("detail",), _DELETE),
        (("detail",), []),
        (("detail-type",), "ECS Service Action"),
        (("source",), "aws.ec2"),
        (("account",), "12345"),
        (("time",), "yesterday"),
    ],
)
def test_junk_task_events_are_rejected(path: tuple[str, ...], value: Any) -> None:
    with pytest.raises(ValidationError):
        TaskStateChangeEvent.model_validate(_broken("ecs-task-running-fargate.json", path, value))


@pytest.mark.parametrize("junk", [None, [], "event", 7, {}])
def test_non_events_are_rejected(junk: Any) -> None:
    with pytest.raises(ValidationError):
        TaskStateChangeEvent.model_validate(junk)


# ---------------------------------------------------------------------------
# CloudWatch Alarm State Change
# ---------------------------------------------------------------------------
def test_plain_alarm_has_no_tags() -> None:
    d = AlarmStateChangeEvent.model_validate(load("cloudwatch-alarm-alarm.json")).detail
    assert d.state.value == "ALARM"
    assert d.previous_state is not None
    assert d.previous_state.value == "OK"
    assert d.alarm_tags is None
    assert not d.configuration.is_composite
    metric = d.configuration.metrics[0].metric_stat  # type: ignore[index]
    assert metric is not None
    assert metric.metric.dimensions["ServiceName"] == "web"


def test_ok_alarm() -> None:
    d = AlarmStateChangeEvent.model_validate(load("cloudwatch-alarm-ok.json")).detail
    assert d.state.value == "OK"


def test_alarm_with_propagated_tags() -> None:
    d = AlarmStateChangeEvent.model_validate(load("cloudwatch-alarm-alarm-with-tags.json")).detail
    assert d.alarm_tags is not None
    assert d.alarm_tags[contract.TAG_TARGET] == "service:api"
    assert d.alarm_tags_status == "SUCCESS"


def test_composite_alarm_has_an_alarm_rule() -> None:
    d = AlarmStateChangeEvent.model_validate(load("cloudwatch-alarm-composite.json")).detail
    assert d.configuration.is_composite
    assert d.configuration.metrics is None


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("detail", "state", "value"), "ON_FIRE"),
        (("detail", "state"), _DELETE),
        (("detail", "alarmName"), ""),
        (("detail", "configuration"), {"description": "neither metrics nor rule"}),
        (("detail", "alarmTags"), ["autopilot:target", "web"]),
        (("source",), "aws.ecs"),
    ],
)
def test_junk_alarm_events_are_rejected(path: tuple[str, ...], value: Any) -> None:
    with pytest.raises(ValidationError):
        AlarmStateChangeEvent.model_validate(_broken("cloudwatch-alarm-alarm.json", path, value))


def test_alarm_without_previous_state_parses() -> None:
    event = _broken("cloudwatch-alarm-alarm.json", ("detail", "previousState"), _DELETE)
    assert AlarmStateChangeEvent.model_validate(event).detail.previous_state is None


# ---------------------------------------------------------------------------
# ECS Service Action and Spot warnings
# ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "service", "reason"),
    [
        ("ecs-service-action-placement-failure-cpu.json", "api", "RESOURCE:CPU"),
        ("ecs-service-action-placement-failure-memory.json", "api", "RESOURCE:MEMORY"),
        ("ecs-service-action-placement-failure-fargate.json", "worker", "RESOURCE:FARGATE"),
        ("ecs-service-action-steady-state.json", "worker", None),
    ],
)
def test_service_actions(name: str, service: str, reason: str | None) -> None:
    e = ServiceActionEvent.model_validate(load(name))
    assert e.service_name == service
    assert e.service_arn.endswith("service/demo-cluster/" + service)
    assert e.detail.reason == reason
    assert e.detail.is_placement_failure == (reason is not None)
    assert e.detail.is_steady_state == (reason is None)


def test_old_short_service_arn_is_accepted() -> None:
    event = load("ecs-service-action-steady-state.json")
    event["resources"] = ["arn:aws:ecs:eu-west-1:123456789012:service/worker"]
    assert ServiceActionEvent.model_validate(event).service_name == "worker"


@pytest.mark.parametrize(
    "resources", [[], ["arn:aws:ecs:eu-west-1:123456789012:cluster/demo-cluster"], ["x"]]
)
def test_service_action_without_a_service_is_rejected(resources: list[str]) -> None:
    event = load("ecs-service-action-steady-state.json")
    event["resources"] = resources
    with pytest.raises(ValidationError):
        ServiceActionEvent.model_validate(event)


def test_service_action_with_bad_event_type_is_rejected() -> None:
    event = _broken("ecs-service-action-steady-state.json", ("detail", "eventType"), "DEBUG")
    with pytest.raises(ValidationError):
        ServiceActionEvent.model_validate(event)


def test_spot_warning() -> None:
    e = SpotInterruptionEvent.model_validate(load("ec2-spot-interruption-warning.json"))
    assert e.detail.instance_id == "i-0b662ef9931388ba0"
    assert e.detail.instance_action == "terminate"


@pytest.mark.parametrize(
    ("key", "value"), [("instance-id", "vol-123"), ("instance-action", "explode")]
)
def test_junk_spot_warning_is_rejected(key: str, value: str) -> None:
    event = _broken("ec2-spot-interruption-warning.json", ("detail", key), value)
    with pytest.raises(ValidationError):
        SpotInterruptionEvent.model_validate(event)
