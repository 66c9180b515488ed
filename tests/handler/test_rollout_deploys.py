"""A deploy with ECS's own strategies and alarm rollback (``autopilot:strategy``,
``autopilot:alarms``): the UpdateService carries the service's ``deploymentConfiguration``
with them, against moto."""

from __future__ import annotations

from typing import Any

from autopilot.handlers import image_events

from tests.estate import ACCOUNT, REGION, Estate

REPO = "demo/web"
TG = f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}:targetgroup"
WIRED = [
    {
        "targetGroupArn": f"{TG}/web-blue/1",
        "containerName": "app",
        "containerPort": 80,
        "advancedConfiguration": {
            "alternateTargetGroupArn": f"{TG}/web-green/2",
            "productionListenerRule": (
                f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}:listener-rule/app/web/1/2/3"
            ),
            "roleArn": f"arn:aws:iam::{ACCOUNT}:role/ecs-infrastructure",
        },
    }
]


def _service(world: Estate, tags: dict[str, str], **update: Any) -> tuple[str, str]:
    """A service on v1.2.0 with ``tags`` (scan gate off), ``update`` applied to it; and the
    digest of a push of v1.3.0."""
    world.push(REPO, "v1.2.0")
    svc = world.service("web", REPO, tag="v1.2.0", tags={"autopilot:scan": "off", **tags})
    if update:
        world.ecs.update_service(cluster=svc.split("/")[-2], service=svc, **update)
    return svc, world.push(REPO, "v1.3.0")


def _deploy(world: Estate, digest: str) -> dict[str, Any]:
    report = image_events.run(world.push_event(REPO, digest, "v1.3.0"), aws=world.clients)
    (decision,) = report.to_json()["decisions"]
    return dict(decision)


def test_a_canary_with_the_wiring_deploys_through_ecs_and_keeps_the_other_fields(
    world: Estate,
) -> None:
    kept = {"maximumPercent": 150, "minimumHealthyPercent": 50}
    svc, digest = _service(
        world,
        {"autopilot:strategy": "canary:10:5"},
        loadBalancers=WIRED,
        deploymentConfiguration=kept,
    )
    decision = _deploy(world, digest)
    assert decision["outcome"] == "deployed"
    assert decision["reason"].endswith("; strategy canary:10:5")
    config = world.describe(svc)["deploymentConfiguration"]
    assert config == {
        **kept,
        "strategy": "CANARY",
        "canaryConfiguration": {"canaryPercent": 10.0, "canaryBakeTimeInMinutes": 5},
    }


def test_a_strategy_without_the_wiring_deploys_rolling_and_says_why(world: Estate) -> None:
    svc, digest = _service(world, {"autopilot:strategy": "blue-green:15"})
    decision = _deploy(world, digest)
    assert decision["outcome"] == "deployed"
    assert (
        "strategy blue-green:15 needs a load balancer with an advanced configuration"
        in (decision["reason"])
    )
    assert world.describe(svc)["deploymentConfiguration"]["strategy"] == "ROLLING"
    assert world.running_image(svc).endswith(digest)


def test_a_bad_strategy_is_rejected_for_that_service_and_nothing_is_registered(
    world: Estate,
) -> None:
    svc, digest = _service(world, {"autopilot:strategy": "canary:0:5"})
    before = world.describe(svc)["taskDefinition"]
    decision = _deploy(world, digest)
    assert decision["outcome"] == "rejected"
    assert "autopilot:strategy" in decision["reason"]
    assert "0.1 to 100" in decision["reason"]
    assert world.calls["ecs:RegisterTaskDefinition"] == 0
    assert world.describe(svc)["taskDefinition"] == before


def test_the_alarms_a_service_names_roll_its_deploy_back_through_ecs(world: Estate) -> None:
    world.alarm("web-5xx")
    world.alarm("web-latency")
    svc, digest = _service(world, {"autopilot:alarms": "web-5xx web-latency"})
    decision = _deploy(world, digest)
    assert decision["outcome"] == "deployed"
    assert decision["reason"].endswith("; rolled back by ECS on alarm web-5xx web-latency")
    assert world.describe(svc)["deploymentConfiguration"]["alarms"] == {
        "alarmNames": ["web-5xx", "web-latency"],
        "enable": True,
        "rollback": True,
    }
    assert world.calls["cloudwatch:DescribeAlarms"] == 1


def test_an_alarm_that_does_not_exist_rejects_the_deploy(world: Estate) -> None:
    world.alarm("web-5xx")
    svc, digest = _service(world, {"autopilot:alarms": "web-5xx web-typo"})
    before = world.describe(svc)["taskDefinition"]
    decision = _deploy(world, digest)
    assert decision["outcome"] == "rejected"
    assert decision["reason"] == "autopilot:alarms names no such alarm: web-typo"
    assert world.calls["ecs:RegisterTaskDefinition"] == 0
    assert world.describe(svc)["taskDefinition"] == before


def test_no_rollout_tag_sends_no_deployment_configuration(world: Estate) -> None:
    _svc, digest = _service(world, {})
    sent: list[dict[str, Any]] = []
    world.ecs.meta.events.register(
        "before-parameter-build.ecs.UpdateService", lambda params, **_: sent.append(dict(params))
    )
    assert _deploy(world, digest)["outcome"] == "deployed"
    assert "deploymentConfiguration" not in sent[0]
    assert world.calls["cloudwatch:DescribeAlarms"] == 0
