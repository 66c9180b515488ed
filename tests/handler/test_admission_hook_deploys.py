"""A deploy puts the admission hook on a service whose strategy runs lifecycle hooks, when
the control plane has the admission function (``ADMISSION_FUNCTION_ARN``,
``ADMISSION_ROLE_ARN``) and the service has not opted out; the service's own hooks stay."""

from __future__ import annotations

import pytest
from autopilot.settings import get_settings

from tests.estate import ACCOUNT, REGION, Estate
from tests.handler.test_rollout_deploys import WIRED, _deploy, _service

FUNCTION = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:demo-admission"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/demo-admission-hook"
HOOK = {
    "targetType": "AWS_LAMBDA",
    "hookTargetArn": FUNCTION,
    "roleArn": ROLE,
    "lifecycleStages": ["PRE_SCALE_UP"],
}
THEIRS = {
    "targetType": "AWS_LAMBDA",
    "hookTargetArn": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:their-smoke-test",
    "roleArn": ROLE,
    "lifecycleStages": ["POST_TEST_TRAFFIC_SHIFT"],
}


@pytest.fixture
def hooked(world: Estate, monkeypatch: pytest.MonkeyPatch) -> Estate:
    monkeypatch.setenv("ADMISSION_FUNCTION_ARN", FUNCTION)
    monkeypatch.setenv("ADMISSION_ROLE_ARN", ROLE)
    get_settings.cache_clear()
    return world


def test_a_blue_green_deploy_adds_the_admission_hook_beside_the_services_own(
    hooked: Estate,
) -> None:
    svc, digest = _service(
        hooked,
        {"autopilot:strategy": "blue-green:5"},
        loadBalancers=WIRED,
        deploymentConfiguration={"lifecycleHooks": [THEIRS]},
    )
    decision = _deploy(hooked, digest)
    assert decision["outcome"] == "deployed"
    assert "admission hook added" in decision["reason"]
    config = hooked.describe(svc)["deploymentConfiguration"]
    assert config["lifecycleHooks"] == [THEIRS, HOOK]


def test_an_opted_out_service_gets_no_hook(hooked: Estate) -> None:
    svc, digest = _service(
        hooked,
        {"autopilot:strategy": "blue-green:5", "autopilot:admission": "off"},
        loadBalancers=WIRED,
    )
    assert _deploy(hooked, digest)["outcome"] == "deployed"
    assert "lifecycleHooks" not in hooked.describe(svc)["deploymentConfiguration"]


def test_a_rolling_service_gets_no_hook(hooked: Estate) -> None:
    svc, digest = _service(hooked, {"autopilot:strategy": "rolling"})
    decision = _deploy(hooked, digest)
    assert decision["outcome"] == "deployed"
    assert "admission" not in decision["reason"]
    assert "lifecycleHooks" not in hooked.describe(svc)["deploymentConfiguration"]
