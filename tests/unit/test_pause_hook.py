"""``autopilot:approval=manual-traffic``: the tag value, autopilot's PAUSE hook in the deploy's
``deploymentConfiguration.lifecycleHooks`` (``logic.rollout``), and the refusal on rolling
(``logic.image_plan``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from autopilot.domain.images import Candidate, ContainerImage, ImageInfo, parse_image
from autopilot.domain.records import ServiceLedgerState
from autopilot.domain.report import Outcome
from autopilot.domain.service import Service
from autopilot.errors import MalformedTag
from autopilot.logic.image_plan import decide
from autopilot.logic.policy import Floors, parse_approval, parse_service_config, service_config
from autopilot.logic.rollout import (
    Rollout,
    deployment_configuration,
    hook_refusal,
    is_ours,
    pause_hook,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)
REG = "123456789012.dkr.ecr.us-east-1.amazonaws.com"
NEW = "sha256:" + "b" * 64
OLD = "sha256:" + "a" * 64
CLUSTER = "arn:aws:ecs:us-east-1:123456789012:cluster/c"
THEIRS_LAMBDA = {
    "hookTargetArn": "arn:aws:lambda:us-east-1:123456789012:function:smoke",
    "roleArn": "arn:aws:iam::123456789012:role/hooks",
    "targetType": "AWS_LAMBDA",
    "lifecycleStages": ["POST_TEST_TRAFFIC_SHIFT"],
}
THEIRS_PAUSE = {
    "targetType": "PAUSE",
    "lifecycleStages": ["POST_SCALE_UP"],
    "timeoutConfiguration": {"timeoutInMinutes": 60, "action": "CONTINUE"},
}


def test_the_tag_takes_manual_traffic_and_names_itself_when_wrong() -> None:
    assert parse_approval("manual-traffic") == "manual-traffic"
    with pytest.raises(MalformedTag) as bad:
        parse_approval("manual_traffic")
    assert bad.value.key == "autopilot:approval"
    assert "manual-traffic" in str(bad.value)


def test_a_cluster_requiring_approval_keeps_manual_traffic() -> None:
    cfg = service_config(
        {"autopilot:repository": "demo/web", "autopilot:approval": "manual-traffic"},
        CLUSTER,
        Floors(manual_approval_clusters=frozenset({CLUSTER})),
    )
    assert cfg is not None
    assert cfg.approval == "manual-traffic"
    assert cfg.approval_tag is None


def test_our_hook_is_added_beside_the_services_own_hooks_never_twice() -> None:
    current = {"strategy": "BLUE_GREEN", "lifecycleHooks": [THEIRS_LAMBDA, THEIRS_PAUSE]}
    config, note = deployment_configuration(
        current, Rollout("blue-green", None, 5), (), traffic_ready=True, pause_minutes=90
    )
    assert config is not None
    ours = pause_hook(90)
    assert config["lifecycleHooks"] == [THEIRS_LAMBDA, THEIRS_PAUSE, ours]
    assert ours == {
        "targetType": "PAUSE",
        "lifecycleStages": ["PRE_PRODUCTION_TRAFFIC_SHIFT"],
        "timeoutConfiguration": {"timeoutInMinutes": 90, "action": "ROLLBACK"},
    }
    assert "autopilot approve" in note
    assert "strategy blue-green:5" in note
    # the next deploy replaces ours (another timeout, too) rather than adding a second one
    again, _ = deployment_configuration(config, None, (), traffic_ready=True, pause_minutes=30)
    assert again is not None
    assert again["lifecycleHooks"] == [THEIRS_LAMBDA, THEIRS_PAUSE, pause_hook(30)]
    assert current["lifecycleHooks"] == [THEIRS_LAMBDA, THEIRS_PAUSE]  # not edited in place


def test_our_hook_goes_when_the_approval_is_no_longer_manual_traffic() -> None:
    current = {"strategy": "CANARY", "lifecycleHooks": [THEIRS_PAUSE, pause_hook(1440)]}
    config, _ = deployment_configuration(current, None, (), traffic_ready=True)
    assert config is not None
    assert config["lifecycleHooks"] == [THEIRS_PAUSE]
    # a service with only its own hooks is left as it is
    assert deployment_configuration(
        {"lifecycleHooks": [THEIRS_PAUSE]}, None, (), traffic_ready=True
    ) == (None, "")


def test_how_ours_is_recognised() -> None:
    assert is_ours(pause_hook(5))
    assert not is_ours(THEIRS_PAUSE)
    assert not is_ours(THEIRS_LAMBDA)
    two_stages = {
        **pause_hook(5),
        "lifecycleStages": ["PRE_PRODUCTION_TRAFFIC_SHIFT", "POST_SCALE_UP"],
    }
    assert not is_ours(two_stages)
    continues = {
        **pause_hook(5),
        "timeoutConfiguration": {"timeoutInMinutes": 5, "action": "CONTINUE"},
    }
    assert not is_ours(continues)


@pytest.mark.parametrize(
    ("current", "rollout", "ready", "refused"),
    [
        ({}, None, True, True),  # no strategy set: ROLLING
        ({"strategy": "ROLLING"}, None, True, True),
        ({"strategy": "BLUE_GREEN"}, Rollout(), True, True),  # the tag says rolling
        ({}, Rollout("canary", 10.0, 5), False, True),  # no traffic wiring: would run rolling
        ({}, Rollout("canary", 10.0, 5), True, False),
        ({"strategy": "LINEAR"}, None, True, False),
        ({"strategy": "BLUE_GREEN"}, None, True, False),
    ],
)
def test_only_the_strategies_that_run_hooks_take_it(
    current: dict[str, Any], rollout: Rollout | None, ready: bool, refused: bool
) -> None:
    assert bool(hook_refusal(current, rollout, traffic_ready=ready)) is refused


def _decide(svc: Service, **tags: str) -> Any:
    cfg = parse_service_config({"autopilot:repository": "demo/web", **tags})
    assert cfg is not None
    image = f"{REG}/demo/web:v1.2.0"
    td = {
        "taskDefinitionArn": svc.task_definition,
        "family": "web",
        "containerDefinitions": [{"name": "app", "image": image}],
    }
    return decide(
        Candidate("demo/web", NEW, ("v1.3.0",), "e1", T0, "push", REG),  # type: ignore[arg-type]
        svc,
        cfg,
        ServiceLedgerState(),
        running=ContainerImage("app", image, parse_image(image)),
        running_digest=OLD,
        cand_info=ImageInfo(NEW, ("v1.3.0",), T0 + timedelta(minutes=10)),
        running_info=ImageInfo(OLD, ("v1.2.0",), T0),
        task_definition=td,
        task_definition_tags=[],
        pause_minutes=45,
    )


SVC = Service(
    arn="arn:aws:ecs:us-east-1:123456789012:service/c/web",
    name="web",
    cluster_arn=CLUSTER,
    task_definition="arn:aws:ecs:us-east-1:123456789012:task-definition/web:3",
)


def test_manual_traffic_deploys_at_once_with_the_pause_hook() -> None:
    svc = SVC._replace(deployment_configuration={"strategy": "BLUE_GREEN"}, traffic_ready=True)
    planned = _decide(svc, **{"autopilot:approval": "manual-traffic"})
    assert planned.decision.outcome is Outcome.DEPLOYED
    assert not planned.asks_approval
    assert planned.update["deploymentConfiguration"]["lifecycleHooks"] == [pause_hook(45)]
    assert "waits for `autopilot approve` before production traffic" in planned.decision.reason


def test_manual_traffic_on_rolling_is_refused_with_nothing_deployed() -> None:
    planned = _decide(SVC, **{"autopilot:approval": "manual-traffic"})
    assert planned.decision.outcome is Outcome.REJECTED
    assert planned.decision.notify
    assert planned.update is None
    assert planned.register is None
    assert "canary, linear or blue-green" in planned.decision.reason


def test_auto_approval_sends_no_pause_hook() -> None:
    svc = SVC._replace(deployment_configuration={"strategy": "BLUE_GREEN"}, traffic_ready=True)
    planned = _decide(svc, **{"autopilot:strategy": "blue-green:5"})
    assert planned.decision.outcome is Outcome.DEPLOYED
    assert "lifecycleHooks" not in planned.update["deploymentConfiguration"]
