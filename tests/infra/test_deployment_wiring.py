"""An estate service's deployment, in the template as autopilot's deploys send it: its
ECS strategy, the load-balancer wiring canary, linear and blue/green shift traffic with,
and its deployment alarms (by default, for a service behind a load balancer, its targets'
5xx rate and unhealthy hosts), named in its ``autopilot:alarms`` tag."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from infra.config import AutopilotConfig
from tests.infra.conftest import StackView, synthesize

WEB_ALARMS = [
    "EcsAutopilot-demo-estate-web-target-5xx",
    "EcsAutopilot-demo-estate-web-unhealthy-hosts",
]


def _services(view: StackView) -> dict[str, dict[str, Any]]:
    found = view.template.find_resources("AWS::ECS::Service")
    return {r["Properties"]["ServiceName"]: r["Properties"] for r in found.values()}


def _tags(props: dict[str, Any]) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in props.get("Tags", [])}


def _with_web(config: AutopilotConfig, **automation: Any) -> AutopilotConfig:
    data = config.model_dump(mode="json", exclude_unset=True)
    for s in data["services"]:
        if s["name"] == "web":
            s["automation"] = {**s.get("automation", {}), **automation}
    return AutopilotConfig.model_validate(data)


def test_a_load_balanced_service_gets_two_deployment_alarms_by_default(estate: StackView) -> None:
    services = _services(estate)
    web = services["web"]
    assert web["DeploymentConfiguration"]["Alarms"] == {
        "AlarmNames": WEB_ALARMS,
        "Enable": True,
        "Rollback": True,
    }
    assert _tags(web)["autopilot:alarms"] == " ".join(WEB_ALARMS)
    alarms = estate.template.find_resources("AWS::CloudWatch::Alarm")
    by_name = {a["Properties"].get("AlarmName"): a["Properties"] for a in alarms.values()}
    errors, unhealthy = by_name[WEB_ALARMS[0]], by_name[WEB_ALARMS[1]]
    assert errors["Threshold"] == 5
    assert "100 * errors / requests" in str(errors["Metrics"])
    assert unhealthy["MetricName"] == "UnHealthyHostCount"
    for a in (errors, unhealthy):
        assert a["TreatMissingData"] == "notBreaching"
        assert a["EvaluationPeriods"] == a["DatapointsToAlarm"] == 2
    # a service with no load balancer has no deployment alarm, nor the tag
    for name, props in services.items():
        if name != "web":
            assert "Alarms" not in props["DeploymentConfiguration"], name
            assert "autopilot:alarms" not in _tags(props), name


def test_a_canary_service_is_wired_for_ecs_to_shift_its_traffic(
    demo_config: AutopilotConfig, tmp_path: Path
) -> None:
    config = _with_web(demo_config, strategy="canary:10:5", deployment_alarms=["web-latency"])
    estate = synthesize(config, tmp_path).view("EcsAutopilot-demo-estate")  # cdk-nag on
    web = _services(estate)["web"]
    deployment = web["DeploymentConfiguration"]
    assert deployment["Strategy"] == "CANARY"
    assert deployment["CanaryConfiguration"] == {
        "CanaryPercent": 10,
        "CanaryBakeTimeInMinutes": 5,
    }
    assert deployment["Alarms"]["AlarmNames"] == ["web-latency"]
    tags = _tags(web)
    assert tags["autopilot:strategy"] == "canary:10:5"
    assert tags["autopilot:alarms"] == "web-latency"
    (lb,) = web["LoadBalancers"]
    advanced = lb["AdvancedConfiguration"]
    assert {"AlternateTargetGroupArn", "ProductionListenerRule", "RoleArn"} <= set(advanced)
    rules = estate.template.find_resources("AWS::ElasticLoadBalancingV2::ListenerRule")
    assert len(rules) == 1
    (rule,) = rules.values()
    groups = rule["Properties"]["Actions"][0]["ForwardConfig"]["TargetGroups"]
    assert sorted(g["Weight"] for g in groups) == [0, 100]
    # the names given replace the defaults: none of them is made
    alarms = estate.template.find_resources("AWS::CloudWatch::Alarm")
    names = {a["Properties"].get("AlarmName") for a in alarms.values()}
    assert not names & set(WEB_ALARMS)


@pytest.mark.parametrize(
    ("automation", "says"),
    [
        ({"strategy": "canary:200:5"}, "percent must be 0.1 to 100"),
        ({"strategy": "linear:10:2000"}, "bake time must be 0 to 1440"),
        ({"strategy": "wavy"}, "expected rolling, canary"),
        ({"deployment_alarms": ["two words"]}, "what an ECS tag value can hold"),
        ({"deployment_alarms": [f"a{i}" for i in range(11)]}, "at most 10 alarms"),
    ],
)
def test_a_bad_strategy_or_alarm_name_names_the_field(
    demo_config: AutopilotConfig, automation: dict[str, Any], says: str
) -> None:
    with pytest.raises(ValidationError) as err:
        _with_web(demo_config, **automation)
    assert says in str(err.value)
    assert "automation" in str(err.value)


def test_traffic_shifting_without_a_load_balancer_is_refused(demo_config: AutopilotConfig) -> None:
    data = demo_config.model_dump(mode="json", exclude_unset=True)
    api = next(s for s in data["services"] if s["name"] == "api")
    api["automation"] = {**api.get("automation", {}), "strategy": "blue-green:10"}
    with pytest.raises(ValidationError, match="give the service a load_balancer"):
        AutopilotConfig.model_validate(data)
    api["automation"]["strategy"] = "rolling"
    AutopilotConfig.model_validate(data)
