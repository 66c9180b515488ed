"""``autopilot:strategy`` and ``autopilot:alarms`` (``logic.rollout``): the four forms within
ECS's ranges, and the ``deploymentConfiguration`` a deploy sends."""

from __future__ import annotations

import pytest
from autopilot.errors import MalformedTag
from autopilot.logic.rollout import Rollout, deployment_configuration, parse_alarms, parse_rollout


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("rolling", Rollout()),
        (" rolling ", Rollout()),
        ("canary:10:5", Rollout("canary", 10.0, 5)),
        ("canary:0.1:0", Rollout("canary", 0.1, 0)),
        ("canary:100:1440", Rollout("canary", 100.0, 1440)),
        ("linear:3:6", Rollout("linear", 3.0, 6)),
        ("linear:12.5:0", Rollout("linear", 12.5, 0)),
        ("blue-green:15", Rollout("blue-green", None, 15)),
    ],
)
def test_the_four_forms(value: str | None, expected: Rollout | None) -> None:
    assert parse_rollout(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        "",
        "rolling:5",
        "canary",
        "canary:10",
        "canary:0:5",  # below 0.1
        "canary:100.1:5",
        "canary:10.25:5",  # not a multiple of 0.1
        "canary:10:1441",
        "canary:-1:5",
        "canary:1e1:5",
        "canary:\u0661\u0660:5",  # Arabic-Indic digits: not ASCII
        "canary:10:5:1",
        "linear:2.9:5",  # below ECS's 3.0
        "blue-green",
        "blue-green:5:5",
        "bluegreen:5",
        "CANARY:10:5",
    ],
)
def test_anything_else_is_a_malformed_tag_naming_it(value: str) -> None:
    with pytest.raises(MalformedTag) as bad:
        parse_rollout(value)
    assert bad.value.key == "autopilot:strategy"


def test_alarms_are_space_separated_names_at_most_ten() -> None:
    assert parse_alarms(None) == ()
    assert parse_alarms("web-5xx  web-latency web-5xx") == ("web-5xx", "web-latency")
    with pytest.raises(MalformedTag):
        parse_alarms("   ")
    with pytest.raises(MalformedTag):
        parse_alarms(" ".join(f"a{i}" for i in range(11)))


CURRENT = {
    "maximumPercent": 200,
    "minimumHealthyPercent": 100,
    "deploymentCircuitBreaker": {"enable": True, "rollback": True},
    "strategy": "LINEAR",
    "linearConfiguration": {"stepPercent": 10.0, "stepBakeTimeInMinutes": 6},
}


def test_no_tag_leaves_the_configuration_alone() -> None:
    assert deployment_configuration(CURRENT, None, (), traffic_ready=True) == (None, "")


def test_a_canary_keeps_every_other_field_and_drops_the_linear_one() -> None:
    config, note = deployment_configuration(
        CURRENT, Rollout("canary", 10.0, 5), (), traffic_ready=True
    )
    assert config == {
        "maximumPercent": 200,
        "minimumHealthyPercent": 100,
        "deploymentCircuitBreaker": {"enable": True, "rollback": True},
        "strategy": "CANARY",
        "canaryConfiguration": {"canaryPercent": 10.0, "canaryBakeTimeInMinutes": 5},
    }
    assert note == "strategy canary:10:5"
    assert CURRENT["strategy"] == "LINEAR"  # the service's own view is not changed


def test_a_strategy_that_shifts_traffic_without_the_wiring_is_rolling_and_says_why() -> None:
    config, note = deployment_configuration(
        {}, Rollout("blue-green", None, 15), (), traffic_ready=False
    )
    assert config == {"strategy": "ROLLING"}
    assert "blue-green:15 needs a load balancer with an advanced configuration" in note
    assert note.endswith("deployed rolling")


def test_alarms_are_set_with_rollback() -> None:
    config, note = deployment_configuration(
        {"maximumPercent": 150}, None, ("a", "b"), traffic_ready=False
    )
    assert config == {
        "maximumPercent": 150,
        "alarms": {"alarmNames": ["a", "b"], "enable": True, "rollback": True},
    }
    assert note == "rolled back by ECS on alarm a b"
