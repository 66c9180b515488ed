"""What the edge validates is ASCII and the whole string: Python's ``$`` also matches before
a trailing newline and its ``\\d`` takes any Unicode digit (Arabic-Indic, fullwidth...), so
a validator built on them lets through names AWS never sends and never accepts."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from autopilot.domain.images import parse_image
from autopilot.errors import InvalidEvent
from autopilot.events.capacity import ServiceActionEvent
from autopilot.events.deployment import parse_deployment_event
from autopilot.events.image import parse_image_event
from autopilot.events.task import TaskStateChangeEvent
from autopilot.schema import ValidationError
from autopilot.settings import ImageEventsSettings

EVENTS = Path(__file__).resolve().parents[2] / "events"
ARABIC_ACCOUNT = "\u0661\u0662\u0663\u0664\u0665\u0666\u0667\u0668\u0669\u0660\u0661\u0662"
FULLWIDTH_7 = "\uff17"


def load(name: str, change: Any = None) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / name).read_text())
    event = copy.deepcopy(event)
    if change is not None:
        change(event)
    return event


def detail(key: str, value: Any) -> Any:
    return lambda e: e["detail"].__setitem__(key, value)


def top(key: str, value: Any) -> Any:
    return lambda e: e.__setitem__(key, value)


def test_the_valid_samples_still_parse() -> None:
    assert parse_image_event(load("ecr-image-push.json")).detail.repository_name
    assert parse_image_event(load("inspector2-scan.json")).detail.repository_name
    assert parse_deployment_event(load("ecs-deployment-completed.json")).service_arn
    ServiceActionEvent.model_validate(load("ecs-service-action-steady-state.json"))
    TaskStateChangeEvent.model_validate(load("ecs-task-running-fargate.json"))


@pytest.mark.parametrize(
    ("name", "change"),
    [
        ("ecr-image-push.json", detail("repository-name", "demo/web\n")),
        ("ecr-image-push.json", top("account", ARABIC_ACCOUNT)),
        ("ecr-image-push.json", top("region", "us-east-" + "\u0661")),
        (
            "inspector2-scan.json",
            detail("repository-name", "arn:aws:ecr:us-east-1:123456789012:repository/web\n"),
        ),
        (
            "inspector2-scan.json",
            detail("repository-name", f"arn:aws:ecr:us-east-1:{ARABIC_ACCOUNT}:repository/web"),
        ),
    ],
    ids=[
        "repository-name-newline",
        "account-arabic-digits",
        "region-arabic-digit",
        "repository-arn-newline",
        "repository-arn-arabic-account",
    ],
)
def test_image_events_refuse(name: str, change: Any) -> None:
    with pytest.raises(InvalidEvent):
        parse_image_event(load(name, change))


@pytest.mark.parametrize(
    "arn",
    [
        "arn:aws:ecs:us-east-1:123456789012:service/demo-cluster/web\n",
        f"arn:aws:ecs:us-east-1:{ARABIC_ACCOUNT}:service/demo-cluster/web",
    ],
    ids=["newline", "arabic-account"],
)
def test_deployment_events_refuse_a_service_arn(arn: str) -> None:
    with pytest.raises(InvalidEvent):
        parse_deployment_event(load("ecs-deployment-completed.json", top("resources", [arn])))


@pytest.mark.parametrize(
    "arn",
    [
        "arn:aws:ecs:eu-west-1:123456789012:service/demo-cluster/worker\n",
        "arn:aws:ecs:eu-west-1:123456789012:service/worker\n",
        f"arn:aws:ecs:eu-west-1:{ARABIC_ACCOUNT}:service/demo-cluster/worker",
    ],
    ids=["newline", "short-newline", "arabic-account"],
)
def test_service_actions_refuse_a_service_arn(arn: str) -> None:
    event = load("ecs-service-action-steady-state.json", top("resources", [arn]))
    with pytest.raises(ValidationError):
        ServiceActionEvent.model_validate(event)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        (
            "taskDefinitionArn",
            "arn:aws:ecs:eu-west-1:123456789012:task-definition/web:" + FULLWIDTH_7,
        ),
        ("clusterArn", f"arn:aws:ecs:eu-west-1:{ARABIC_ACCOUNT}:cluster/demo-cluster"),
    ],
)
def test_task_events_refuse_unicode_digits(key: str, value: str) -> None:
    with pytest.raises(ValidationError):
        TaskStateChangeEvent.model_validate(
            load("ecs-task-running-fargate.json", detail(key, value))
        )


def test_settings_refuse_a_cluster_arn_with_unicode_digits() -> None:
    base = {
        "powertools_service_name": "image-events",
        "powertools_metrics_namespace": "EcsAutopilot",
        "ledger_table": "t",
        "notices_topic_arn": "arn:aws:sns:eu-west-1:123456789012:n",
        "cluster_arns": "arn:aws:ecs:eu-west-1:123456789012:cluster/c",
    }
    ImageEventsSettings.model_validate(base)
    bad = {**base, "cluster_arns": f"arn:aws:ecs:eu-west-1:{ARABIC_ACCOUNT}:cluster/c"}
    with pytest.raises(ValidationError):
        ImageEventsSettings.model_validate(bad)


def test_an_image_reference_is_ascii() -> None:
    assert parse_image("localhost:5000/demo/web:v1") is not None
    assert parse_image("localhost:\u0665\u0660\u0660\u0660/demo/web:v1") is None
