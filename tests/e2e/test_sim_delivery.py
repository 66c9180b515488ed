"""The sandbox's ECS delivery machinery that moto lacks, through real boto3 against a
sandbox server with the simulator running one plain service (no stacks): the service
deployments' and revisions' records (DescribeServiceDeployments, DescribeServiceRevisions)
and ContinueServiceDeployment's refusals."""

from __future__ import annotations

import io
import secrets
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from sandbox.server import Clients
from sandbox.simulator import Simulator
from tests.e2e import sim_hook_target
from tests.e2e.plain_sandbox import IMAGE, deployment_alarm, fargate_task_definition, plain_sandbox


@dataclass
class Estate:
    clients: Clients
    sim: Simulator
    cluster: str
    service: str

    def ecs(self) -> Any:
        return self.clients("ecs")

    def task_definition(self, digest_char: str) -> str:
        return fargate_task_definition(self.clients, "app", IMAGE + digest_char * 64)

    def deploy(self, td: str, **config: Any) -> dict[str, Any]:
        """UpdateService to ``td`` (with ``deploymentConfiguration`` ``config``), settled;
        the newest service deployment, as ListServiceDeployments lists it."""
        kwargs: dict[str, Any] = {"deploymentConfiguration": config} if config else {}
        self.ecs().update_service(
            cluster=self.cluster, service=self.service, taskDefinition=td, **kwargs
        )
        self.sim.settle()
        return self.deployments()[0]

    def deployments(self) -> list[dict[str, Any]]:
        listed: list[dict[str, Any]] = self.ecs().list_service_deployments(
            cluster=self.cluster, service=self.service
        )["serviceDeployments"]
        return listed


@pytest.fixture
def estate() -> Iterator[Estate]:
    """A service of its own cluster, in a sandbox of its own (tests/e2e/plain_sandbox.py)."""
    with plain_sandbox("sim-delivery") as box:
        est = Estate(box.clients, None, box.cluster, "app")  # type: ignore[arg-type]
        box.fargate_service("app", est.task_definition("a"))
        est.sim = box.simulator()
        yield est


def test_describe_service_deployments_and_revisions_tell_one_revision_arn(
    estate: Estate,
) -> None:
    ecs = estate.ecs()
    old = estate.deployments()[0]
    new_td = estate.task_definition("b")
    brief = estate.deploy(
        new_td,
        deploymentCircuitBreaker={"enable": True, "rollback": True},
        bakeTimeInMinutes=0,
    )
    assert brief["status"] == "SUCCESSFUL"
    answer = ecs.describe_service_deployments(
        serviceDeploymentArns=[brief["serviceDeploymentArn"], brief["serviceDeploymentArn"] + "x"]
    )
    (sd,) = answer["serviceDeployments"]
    assert answer["failures"] == [{"arn": brief["serviceDeploymentArn"] + "x", "reason": "MISSING"}]
    assert sd["serviceArn"].endswith("/app")
    assert sd["clusterArn"] == estate.cluster
    assert sd["status"] == "SUCCESSFUL"
    assert sd["targetServiceRevision"]["arn"] == brief["targetServiceRevisionArn"]
    assert sd["targetServiceRevision"]["runningTaskCount"] == 2
    assert sd["deploymentConfiguration"]["deploymentCircuitBreaker"]["rollback"] is True
    assert sd["deploymentConfiguration"]["strategy"] == "ROLLING"
    assert sd["deploymentCircuitBreaker"]["status"] == "MONITORING_COMPLETE"
    assert sd["alarms"]["status"] == "DISABLED"
    assert "finishedAt" in sd

    revs = ecs.describe_service_revisions(
        serviceRevisionArns=[
            brief["targetServiceRevisionArn"],
            old["targetServiceRevisionArn"],
            brief["targetServiceRevisionArn"] + "9",
        ]
    )
    new_rev, old_rev = revs["serviceRevisions"]
    assert revs["failures"][0]["reason"] == "MISSING"
    assert new_rev["serviceRevisionArn"] == brief["targetServiceRevisionArn"]
    assert new_rev["taskDefinition"] == new_td
    assert new_rev["containerImages"] == [
        {"containerName": "app", "image": IMAGE + "b" * 64, "imageDigest": "sha256:" + "b" * 64}
    ]
    assert old_rev["containerImages"][0]["imageDigest"] == "sha256:" + "a" * 64
    assert new_rev["serviceArn"] == sd["serviceArn"]


def test_a_stopped_deployment_is_described_with_its_rollback(estate: Estate) -> None:
    ecs = estate.ecs()
    old = estate.deployments()[0]
    estate.sim.state.stalling.add("sha256:" + "c" * 64)
    brief = estate.deploy(estate.task_definition("c"))
    assert brief["status"] == "IN_PROGRESS"
    (sd,) = ecs.describe_service_deployments(serviceDeploymentArns=[brief["serviceDeploymentArn"]])[
        "serviceDeployments"
    ]
    assert sd["status"] == "IN_PROGRESS"
    assert [s["arn"] for s in sd["sourceServiceRevisions"]] == [old["targetServiceRevisionArn"]]
    assert "finishedAt" not in sd
    ecs.stop_service_deployment(serviceDeploymentArn=brief["serviceDeploymentArn"])
    estate.sim.settle()
    (sd,) = ecs.describe_service_deployments(serviceDeploymentArns=[brief["serviceDeploymentArn"]])[
        "serviceDeployments"
    ]
    assert sd["status"] == "ROLLBACK_SUCCESSFUL"
    assert sd["rollback"]["serviceRevisionArn"] == old["targetServiceRevisionArn"]
    assert "StopServiceDeployment ROLLBACK" in sd["rollback"]["reason"]


def test_continue_service_deployment_refuses_what_ecs_refuses(estate: Estate) -> None:
    ecs = estate.ecs()
    brief = estate.deploy(estate.task_definition("d"))
    arn = brief["serviceDeploymentArn"]
    with pytest.raises(ecs.exceptions.ServiceDeploymentNotFoundException):
        ecs.continue_service_deployment(serviceDeploymentArn=arn + "0", hookId="ecs-pause-x")
    with pytest.raises(ecs.exceptions.InvalidParameterException):
        ecs.continue_service_deployment(serviceDeploymentArn=arn, hookId="ecs-pause-x")
    with pytest.raises(ecs.exceptions.InvalidParameterException):
        ecs.continue_service_deployment(
            serviceDeploymentArn=arn, hookId="ecs-pause-x", action="SKIP"
        )


def stage_of(estate: Estate, brief: dict[str, Any]) -> str:
    (sd,) = estate.ecs().describe_service_deployments(
        serviceDeploymentArns=[brief["serviceDeploymentArn"]]
    )["serviceDeployments"]
    return str(sd.get("lifecycleStage", ""))


def revisions_running(estate: Estate) -> set[str]:
    return {t.task_definition_arn for t in estate.sim.service(estate.service).running()}


def test_a_canary_walks_ecs_stages_and_bakes_on_the_sandbox_clock(estate: Estate) -> None:
    old_td = estate.sim.service(estate.service).task_definition
    new_td = estate.task_definition("e")
    brief = estate.deploy(
        new_td,
        strategy="CANARY",
        canaryConfiguration={"canaryPercent": 10.0, "canaryBakeTimeInMinutes": 5},
        bakeTimeInMinutes=20,
    )
    walk = estate.sim.delivery.walks[estate.sim.service(estate.service).deployment_id]
    # the canary step is shifted and bakes: both revisions run
    assert brief["status"] == "IN_PROGRESS"
    assert stage_of(estate, brief) == "PRODUCTION_TRAFFIC_SHIFT"
    assert walk.weight == 10.0
    assert revisions_running(estate) == {old_td, new_td}
    sd = described(estate, brief["serviceDeploymentArn"])
    assert sd["targetServiceRevision"]["runningTaskCount"] == 2
    assert sd["sourceServiceRevisions"][0]["runningTaskCount"] == 2
    estate.sim.advance(4.9)
    assert walk.weight == 10.0
    estate.sim.advance(0.2)  # the canary bake passed: 100 %, then the bake time
    assert walk.weight == 100.0
    assert stage_of(estate, brief) == "BAKE_TIME"
    estate.sim.advance(19.0)
    assert estate.deployments()[0]["status"] == "IN_PROGRESS"
    assert revisions_running(estate) == {old_td, new_td}
    estate.sim.advance(1.0)
    assert estate.deployments()[0]["status"] == "SUCCESSFUL"
    assert revisions_running(estate) == {new_td}
    assert len(estate.sim.service(estate.service).running()) == 2
    stages = [line.removeprefix("stage ") for line in walk.log if line.startswith("stage ")]
    assert stages == [
        "PRE_SCALE_UP",
        "SCALE_UP",
        "POST_SCALE_UP",
        "TEST_TRAFFIC_SHIFT",
        "POST_TEST_TRAFFIC_SHIFT",
        "PRE_PRODUCTION_TRAFFIC_SHIFT",
        "PRODUCTION_TRAFFIC_SHIFT",
        "PRE_PRODUCTION_TRAFFIC_SHIFT",
        "PRODUCTION_TRAFFIC_SHIFT",
        "POST_PRODUCTION_TRAFFIC_SHIFT",
        "BAKE_TIME",
        "CLEAN_UP",
    ]
    names = [
        e["detail"]["eventName"] for e in estate.sim.emitted if "Deployment" in e["detail-type"]
    ]
    assert names[-2:] == ["SERVICE_DEPLOYMENT_IN_PROGRESS", "SERVICE_DEPLOYMENT_COMPLETED"]


def test_linear_steps_and_blue_green_shift_once(estate: Estate) -> None:
    estate.deploy(
        estate.task_definition("f"),
        strategy="LINEAR",
        linearConfiguration={"stepPercent": 30.0, "stepBakeTimeInMinutes": 2},
        bakeTimeInMinutes=0,
    )
    walk = estate.sim.delivery.walks[estate.sim.service(estate.service).deployment_id]
    weights = [walk.weight]
    for _ in range(3):
        estate.sim.advance(2)
        weights.append(walk.weight)
    assert weights == [30.0, 60.0, 90.0, 100.0]  # ceil(100 / 30) = 4 steps
    assert estate.deployments()[0]["status"] == "SUCCESSFUL"  # bake 0: done at once
    # blue/green, bake unset: 15 minutes
    estate.deploy(estate.task_definition("g"), strategy="BLUE_GREEN")
    assert estate.deployments()[0]["status"] == "IN_PROGRESS"
    estate.sim.advance(14.5)
    assert estate.deployments()[0]["status"] == "IN_PROGRESS"
    estate.sim.advance(0.5)
    assert estate.deployments()[0]["status"] == "SUCCESSFUL"


def alarm(estate: Estate, name: str) -> dict[str, Any]:
    return deployment_alarm(estate.clients, name)


def described(estate: Estate, arn: str) -> dict[str, Any]:
    (sd,) = estate.ecs().describe_service_deployments(serviceDeploymentArns=[arn])[
        "serviceDeployments"
    ]
    return dict(sd)


def deployment_events(estate: Estate, since: int) -> list[tuple[str, str]]:
    return [
        (e["detail"]["eventName"], e["detail"]["reason"])
        for e in estate.sim.emitted[since:]
        if e["detail-type"] == "ECS Deployment State Change"
    ]


def test_an_alarm_during_the_bake_rolls_a_canary_back(estate: Estate) -> None:
    old_td = estate.sim.service(estate.service).task_definition
    alarms = alarm(estate, "app-5xx")
    emitted = len(estate.sim.emitted)
    brief = estate.deploy(
        estate.task_definition("h"),
        strategy="CANARY",
        canaryConfiguration={"canaryPercent": 10.0, "canaryBakeTimeInMinutes": 1},
        bakeTimeInMinutes=10,
        alarms=alarms,
    )
    estate.sim.advance(1)
    assert stage_of(estate, brief) == "BAKE_TIME"
    assert described(estate, brief["serviceDeploymentArn"])["alarms"]["status"] == "MONITORING"

    estate.sim.alarm("app-5xx", "ALARM")

    events = deployment_events(estate, emitted)
    assert [n for n, _ in events] == [
        "SERVICE_DEPLOYMENT_IN_PROGRESS",
        "SERVICE_DEPLOYMENT_FAILED",
        "SERVICE_DEPLOYMENT_IN_PROGRESS",
        "SERVICE_DEPLOYMENT_COMPLETED",
    ]
    assert "app-5xx" in events[1][1]
    assert "rolling back to deploymentId" in events[2][1]
    (listed,) = [
        b
        for b in estate.deployments()
        if b["serviceDeploymentArn"] == brief["serviceDeploymentArn"]
    ]
    assert listed["status"] == "ROLLBACK_SUCCESSFUL"
    sd = described(estate, brief["serviceDeploymentArn"])
    assert sd["status"] == "ROLLBACK_SUCCESSFUL"
    assert sd["alarms"]["status"] == "TRIGGERED"
    assert sd["alarms"]["triggeredAlarmNames"] == ["app-5xx"]
    assert sd["rollback"]["serviceRevisionArn"] == sd["sourceServiceRevisions"][0]["arn"]
    assert revisions_running(estate) == {old_td}
    assert len(estate.sim.service(estate.service).running()) == 2
    # the clock passing the old bake does nothing more
    estate.sim.advance(30)
    assert deployment_events(estate, emitted)[-1][0] == "SERVICE_DEPLOYMENT_COMPLETED"
    assert len(deployment_events(estate, emitted)) == 4


def test_an_alarm_already_in_alarm_at_the_start_is_not_watched(estate: Estate) -> None:
    alarms = alarm(estate, "app-unhealthy")
    estate.sim.alarm("app-unhealthy", "ALARM")
    new_td = estate.task_definition("i")
    brief = estate.deploy(new_td, strategy="BLUE_GREEN", bakeTimeInMinutes=5, alarms=alarms)
    assert described(estate, brief["serviceDeploymentArn"])["alarms"]["status"] == "DISABLED"
    estate.sim.advance(5)
    assert estate.deployments()[0]["status"] == "SUCCESSFUL"
    assert revisions_running(estate) == {new_td}


def test_a_rolling_deployment_with_alarms_bakes_and_rolls_back_on_alarm(estate: Estate) -> None:
    old_td = estate.sim.service(estate.service).task_definition
    alarms = alarm(estate, "app-errors")
    brief = estate.deploy(estate.task_definition("j"), bakeTimeInMinutes=3, alarms=alarms)
    assert brief["status"] == "IN_PROGRESS"
    estate.sim.advance(2)
    estate.sim.alarm("app-errors", "ALARM")
    listed = next(
        b
        for b in estate.deployments()
        if b["serviceDeploymentArn"] == brief["serviceDeploymentArn"]
    )
    assert listed["status"] == "ROLLBACK_SUCCESSFUL"
    assert revisions_running(estate) == {old_td}
    # without rollback: FAILED, STOPPED in the list, nothing rolled back
    estate.sim.alarm("app-errors", "OK")
    new_td = estate.task_definition("k")
    brief = estate.deploy(new_td, bakeTimeInMinutes=3, alarms=alarms | {"rollback": False})
    estate.sim.alarm("app-errors", "ALARM")
    listed = next(
        b
        for b in estate.deployments()
        if b["serviceDeploymentArn"] == brief["serviceDeploymentArn"]
    )
    assert listed["status"] == "STOPPED"
    assert "app-errors" in listed["statusReason"]


def hook_events(estate: Estate, since: int) -> list[dict[str, Any]]:
    return [
        dict(e["detail"])
        for e in estate.sim.emitted[since:]
        if e["detail-type"] == "ECS Hook State Change"
    ]


def pause(stage: str, **timeout: Any) -> dict[str, Any]:
    hook: dict[str, Any] = {"targetType": "PAUSE", "lifecycleStages": [stage]}
    if timeout:
        hook["timeoutConfiguration"] = timeout
    return hook


def test_a_pause_hook_waits_for_continue_service_deployment(estate: Estate) -> None:
    ecs = estate.ecs()
    emitted = len(estate.sim.emitted)
    new_td = estate.task_definition("l")
    brief = estate.deploy(
        new_td,
        strategy="BLUE_GREEN",
        bakeTimeInMinutes=0,
        lifecycleHooks=[pause("POST_TEST_TRAFFIC_SHIFT")],
    )
    arn = brief["serviceDeploymentArn"]
    (awaiting,) = hook_events(estate, emitted)
    assert awaiting["eventName"] == "HOOK_AWAITING_ACTION"
    assert awaiting["hookId"].startswith("ecs-pause-")
    assert (awaiting["hookType"], awaiting["lifecycleStage"]) == (
        "PAUSE",
        "POST_TEST_TRAFFIC_SHIFT",
    )
    assert awaiting["serviceDeploymentArn"] == arn
    assert awaiting["serviceArn"] == brief["serviceArn"]
    assert set(awaiting) >= {"eventType", "expiresAt", "clusterArn", "updatedAt"}
    sd = described(estate, arn)
    assert sd["lifecycleStage"] == "POST_TEST_TRAFFIC_SHIFT"
    (detail,) = sd["lifecycleHookDetails"]
    assert detail["hookId"] == awaiting["hookId"]
    assert (detail["targetType"], detail["status"], detail["timeoutAction"]) == (
        "PAUSE",
        "AWAITING_ACTION",
        "ROLLBACK",
    )
    assert "targetArn" not in detail
    assert "expiresAt" in detail
    estate.sim.advance(60)  # far from the default 1440-minute timeout: still waiting
    assert estate.deployments()[0]["status"] == "IN_PROGRESS"

    assert (
        ecs.continue_service_deployment(serviceDeploymentArn=arn, hookId=detail["hookId"])[
            "serviceDeploymentArn"
        ]
        == arn
    )
    with pytest.raises(ecs.exceptions.ClientException):  # continued already
        ecs.continue_service_deployment(serviceDeploymentArn=arn, hookId=detail["hookId"])
    estate.sim.settle()
    assert [e["eventName"] for e in hook_events(estate, emitted)] == [
        "HOOK_AWAITING_ACTION",
        "HOOK_SUCCEEDED",
    ]
    assert estate.deployments()[0]["status"] == "SUCCESSFUL"
    assert revisions_running(estate) == {new_td}
    assert described(estate, arn)["lifecycleHookDetails"][0]["status"] == "SUCCEEDED"


def test_a_pause_hook_rolled_back_or_timed_out_rolls_the_deployment_back(estate: Estate) -> None:
    ecs = estate.ecs()
    old_td = estate.sim.service(estate.service).task_definition
    emitted = len(estate.sim.emitted)
    brief = estate.deploy(
        estate.task_definition("m"),
        strategy="BLUE_GREEN",
        lifecycleHooks=[pause("PRE_PRODUCTION_TRAFFIC_SHIFT")],
    )
    (awaiting,) = hook_events(estate, emitted)
    ecs.continue_service_deployment(
        serviceDeploymentArn=brief["serviceDeploymentArn"],
        hookId=awaiting["hookId"],
        action="ROLLBACK",
    )
    estate.sim.settle()
    assert hook_events(estate, emitted)[-1]["eventName"] == "HOOK_FAILED"
    listed = next(
        b
        for b in estate.deployments()
        if b["serviceDeploymentArn"] == brief["serviceDeploymentArn"]
    )
    assert listed["status"] == "ROLLBACK_SUCCESSFUL"
    assert revisions_running(estate) == {old_td}
    with pytest.raises(ecs.exceptions.ClientException):  # no longer in progress
        ecs.continue_service_deployment(
            serviceDeploymentArn=brief["serviceDeploymentArn"], hookId=awaiting["hookId"]
        )

    # the timeout: ROLLBACK by default
    emitted = len(estate.sim.emitted)
    brief = estate.deploy(
        estate.task_definition("n"),
        strategy="BLUE_GREEN",
        lifecycleHooks=[pause("POST_SCALE_UP", timeoutInMinutes=30)],
    )
    estate.sim.advance(29)
    assert estate.deployments()[0]["status"] == "IN_PROGRESS"
    estate.sim.advance(1)
    assert [e["eventName"] for e in hook_events(estate, emitted)] == [
        "HOOK_AWAITING_ACTION",
        "HOOK_TIMED_OUT",
    ]
    listed = next(
        b
        for b in estate.deployments()
        if b["serviceDeploymentArn"] == brief["serviceDeploymentArn"]
    )
    assert listed["status"] == "ROLLBACK_SUCCESSFUL"
    assert "timed out" in listed["statusReason"]

    # a timeout whose action is CONTINUE goes on
    new_td = estate.task_definition("o")
    estate.deploy(
        new_td,
        strategy="BLUE_GREEN",
        bakeTimeInMinutes=0,
        lifecycleHooks=[pause("POST_SCALE_UP", timeoutInMinutes=5, action="CONTINUE")],
    )
    estate.sim.advance(5)
    assert estate.deployments()[0]["status"] == "SUCCESSFUL"
    assert revisions_running(estate) == {new_td}


def test_a_linear_pre_production_pause_fires_at_every_step(estate: Estate) -> None:
    ecs = estate.ecs()
    emitted = len(estate.sim.emitted)
    brief = estate.deploy(
        estate.task_definition("p"),
        strategy="LINEAR",
        linearConfiguration={"stepPercent": 50.0, "stepBakeTimeInMinutes": 0},
        bakeTimeInMinutes=0,
        lifecycleHooks=[pause("PRE_PRODUCTION_TRAFFIC_SHIFT")],
    )
    seen = []
    for _ in range(2):
        awaiting = hook_events(estate, emitted)[-1]
        assert awaiting["eventName"] == "HOOK_AWAITING_ACTION"
        seen.append(awaiting["hookId"])
        ecs.continue_service_deployment(
            serviceDeploymentArn=brief["serviceDeploymentArn"], hookId=awaiting["hookId"]
        )
        estate.sim.settle()
    assert len(set(seen)) == 2
    assert estate.deployments()[0]["status"] == "SUCCESSFUL"


@pytest.fixture
def hook_fn(estate: Estate) -> Iterator[str]:
    iam = estate.clients("iam")
    role = iam.create_role(RoleName=f"hook-{secrets.token_hex(3)}", AssumeRolePolicyDocument="{}")[
        "Role"
    ]["Arn"]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("index.py", "def handler(e, c):\n    return {}\n")
    arn: str = estate.clients("lambda").create_function(
        FunctionName=f"admission-{secrets.token_hex(3)}",
        Runtime="python3.13",
        Role=role,
        Handler="tests.e2e.sim_hook_target.handler",
        Code={"ZipFile": buf.getvalue()},
    )["FunctionArn"]
    sim_hook_target.ANSWERS.clear()
    sim_hook_target.CALLS.clear()
    yield arn
    sim_hook_target.ANSWERS.clear()
    sim_hook_target.CALLS.clear()


def lambda_hook(arn: str, *stages: str) -> dict[str, Any]:
    return {
        "targetType": "AWS_LAMBDA",
        "hookTargetArn": arn,
        "roleArn": "arn:aws:iam::123456789012:role/ecs-hooks",
        "lifecycleStages": list(stages),
        "hookDetails": {"gate": "scan"},
    }


def test_a_lambda_hook_is_invoked_with_ecs_payload_and_its_answer_decides(
    estate: Estate, hook_fn: str
) -> None:
    old_td = estate.sim.service(estate.service).task_definition
    sim_hook_target.ANSWERS[:] = [
        {"hookStatus": "IN_PROGRESS", "callBackDelay": 60, "hookDetails": {"round": 1}},
        {"hookStatus": "SUCCEEDED"},
    ]
    new_td = estate.task_definition("q")
    brief = estate.deploy(
        new_td,
        strategy="BLUE_GREEN",
        bakeTimeInMinutes=0,
        lifecycleHooks=[lambda_hook(hook_fn, "PRE_SCALE_UP")],
    )
    (first,) = sim_hook_target.CALLS
    assert first["lifecycleStage"] == "PRE_SCALE_UP"
    assert first["resourceArn"] == brief["serviceDeploymentArn"]
    assert first["hookDetails"] == {"gate": "scan"}
    assert first["executionDetails"] == {
        "serviceArn": brief["serviceArn"],
        "targetServiceRevisionArn": brief["targetServiceRevisionArn"],
        "testTrafficWeights": {},
        "productionTrafficWeights": {},
    }
    assert set(first) >= {"executionId"}
    assert stage_of(estate, brief) == "PRE_SCALE_UP"
    estate.sim.advance(0.9)  # callBackDelay 60 s: not yet
    assert len(sim_hook_target.CALLS) == 1
    estate.sim.advance(0.1)
    assert sim_hook_target.CALLS[1]["hookDetails"] == {"gate": "scan", "round": 1}
    assert estate.deployments()[0]["status"] == "SUCCESSFUL"
    assert revisions_running(estate) == {new_td}
    assert any("Lambda hook" in e.text for e in estate.sim.timeline.entries)

    # FAILED, an error, a missing hookStatus: rolled back
    for answer in (
        {"hookStatus": "FAILED"},
        RuntimeError("the scan gate is down"),
        {"status": "ok"},
    ):
        sim_hook_target.ANSWERS[:] = [answer]
        before = estate.sim.service(estate.service).task_definition
        brief = estate.deploy(
            estate.task_definition("r"),
            strategy="BLUE_GREEN",
            lifecycleHooks=[lambda_hook(hook_fn, "PRE_SCALE_UP")],
        )
        listed = next(
            b
            for b in estate.deployments()
            if b["serviceDeploymentArn"] == brief["serviceDeploymentArn"]
        )
        assert listed["status"] == "ROLLBACK_SUCCESSFUL", answer
        assert revisions_running(estate) == {before}
    assert old_td != before


def test_hooks_at_one_stage_run_together_and_one_rollback_rolls_all_back(
    estate: Estate, hook_fn: str
) -> None:
    emitted = len(estate.sim.emitted)
    sim_hook_target.ANSWERS[:] = [{"hookStatus": "FAILED"}]
    brief = estate.deploy(
        estate.task_definition("s"),
        strategy="BLUE_GREEN",
        lifecycleHooks=[
            pause("POST_TEST_TRAFFIC_SHIFT"),
            lambda_hook(hook_fn, "POST_TEST_TRAFFIC_SHIFT"),
        ],
    )
    assert hook_events(estate, emitted)[0]["eventName"] == "HOOK_AWAITING_ACTION"
    listed = next(
        b
        for b in estate.deployments()
        if b["serviceDeploymentArn"] == brief["serviceDeploymentArn"]
    )
    assert listed["status"] == "ROLLBACK_SUCCESSFUL"
    statuses = {
        d["targetType"]: d["status"]
        for d in described(estate, brief["serviceDeploymentArn"])["lifecycleHookDetails"]
    }
    assert statuses == {"PAUSE": "FAILED", "AWS_LAMBDA": "FAILED"}


def test_update_service_refuses_a_pause_hook_at_a_traffic_shift(estate: Estate) -> None:
    ecs = estate.ecs()
    before = estate.sim.service(estate.service).task_definition
    for stage in ("TEST_TRAFFIC_SHIFT", "PRODUCTION_TRAFFIC_SHIFT"):
        with pytest.raises(ecs.exceptions.InvalidParameterException, match=stage):
            ecs.update_service(
                cluster=estate.cluster,
                service=estate.service,
                taskDefinition=estate.task_definition("t"),
                deploymentConfiguration={
                    "strategy": "BLUE_GREEN",
                    "lifecycleHooks": [pause("POST_SCALE_UP"), pause(stage)],
                },
            )
    estate.sim.settle()
    (svc,) = ecs.describe_services(cluster=estate.cluster, services=[estate.service])["services"]
    assert svc["taskDefinition"] == before
    assert "lifecycleHooks" not in (svc.get("deploymentConfiguration") or {})
    # a Lambda hook may sit there; a created service keeps its deploymentConfiguration
    config = {"strategy": "CANARY", "bakeTimeInMinutes": 3}
    ecs.create_service(
        cluster=estate.cluster,
        serviceName="other",
        taskDefinition=before,
        desiredCount=0,
        launchType="FARGATE",
        deploymentConfiguration=config,
    )
    (other,) = ecs.describe_services(cluster=estate.cluster, services=["other"])["services"]
    assert other["deploymentConfiguration"] == config
    ecs.delete_service(cluster=estate.cluster, service="other", force=True)


def test_stop_service_deployment_rolls_a_canary_back_mid_walk(estate: Estate) -> None:
    ecs = estate.ecs()
    old_td = estate.sim.service(estate.service).task_definition
    emitted = len(estate.sim.emitted)
    brief = estate.deploy(
        estate.task_definition("u"),
        strategy="CANARY",
        canaryConfiguration={"canaryPercent": 20.0, "canaryBakeTimeInMinutes": 10},
        lifecycleHooks=[pause("POST_PRODUCTION_TRAFFIC_SHIFT")],
    )
    ecs.stop_service_deployment(serviceDeploymentArn=brief["serviceDeploymentArn"])
    estate.sim.settle()
    estate.sim.advance(60)  # the canary bake's end comes and goes: nothing more
    assert revisions_running(estate) == {old_td}
    assert not hook_events(estate, emitted)
    listed = next(
        b
        for b in estate.deployments()
        if b["serviceDeploymentArn"] == brief["serviceDeploymentArn"]
    )
    assert listed["status"] == "ROLLBACK_SUCCESSFUL"
    assert deployment_events(estate, emitted)[-1][0] == "SERVICE_DEPLOYMENT_COMPLETED"


def test_an_image_pushed_as_alarming_rolls_its_canary_back_at_the_bake(estate: Estate) -> None:
    ecr = estate.clients("ecr")
    repo = ecr.create_repository(repositoryName="demo/app")["repository"]
    old_td = estate.sim.service(estate.service).task_definition
    alarms = alarm(estate, "app-canary-5xx")
    pushed = estate.sim.push("demo/app", "v2", alarming="app-canary-5xx")
    td: str = estate.ecs().register_task_definition(
        family="app",
        containerDefinitions=[
            {"name": "app", "image": f"{repo['repositoryUri']}@{pushed.digest}", "memory": 512}
        ],
        requiresCompatibilities=["FARGATE"],
        networkMode="awsvpc",
        cpu="256",
        memory="512",
    )["taskDefinition"]["taskDefinitionArn"]
    emitted = len(estate.sim.emitted)
    brief = estate.deploy(
        td,
        strategy="CANARY",
        canaryConfiguration={"canaryPercent": 10.0, "canaryBakeTimeInMinutes": 2},
        bakeTimeInMinutes=10,
        alarms=alarms,
    )
    assert brief["status"] == "IN_PROGRESS"  # the canary bakes on 10 %
    estate.sim.advance(2)  # 100 %, BAKE_TIME: the alarm fires, ECS rolls back
    alarm_events = [e for e in estate.sim.emitted[emitted:] if "Alarm" in e["detail-type"]]
    assert alarm_events
    assert alarm_events[0]["detail"]["state"]["value"] == "ALARM"
    events = deployment_events(estate, emitted)
    assert events[1][0] == "SERVICE_DEPLOYMENT_FAILED"
    assert "app-canary-5xx" in events[1][1]
    sd = described(estate, brief["serviceDeploymentArn"])
    assert (sd["status"], sd["lifecycleStage"]) == ("ROLLBACK_SUCCESSFUL", "BAKE_TIME")
    assert revisions_running(estate) == {old_td}
    (rev,) = estate.ecs().describe_service_revisions(
        serviceRevisionArns=[brief["targetServiceRevisionArn"]]
    )["serviceRevisions"]
    assert rev["containerImages"][0]["imageDigest"] == pushed.digest
    # a tag image: its digest resolved in ECR
    by_tag: str = estate.ecs().register_task_definition(
        family="app",
        containerDefinitions=[
            {"name": "app", "image": f"{repo['repositoryUri']}:v2", "memory": 512}
        ],
        requiresCompatibilities=["FARGATE"],
        networkMode="awsvpc",
        cpu="256",
        memory="512",
    )["taskDefinition"]["taskDefinitionArn"]
    brief = estate.deploy(by_tag, strategy="ROLLING")
    (rev,) = estate.ecs().describe_service_revisions(
        serviceRevisionArns=[brief["targetServiceRevisionArn"]]
    )["serviceRevisions"]
    assert rev["containerImages"][0]["imageDigest"] == pushed.digest


def test_a_rollback_invokes_the_traffic_shift_hooks_again_with_the_new_revision_at_0(
    estate: Estate, hook_fn: str
) -> None:
    alarms = alarm(estate, "app-shift")
    brief = estate.deploy(
        estate.task_definition("v"),
        strategy="BLUE_GREEN",
        bakeTimeInMinutes=10,
        alarms=alarms,
        lifecycleHooks=[lambda_hook(hook_fn, "TEST_TRAFFIC_SHIFT", "PRODUCTION_TRAFFIC_SHIFT")],
    )
    shifts = [c["lifecycleStage"] for c in sim_hook_target.CALLS]
    assert shifts == ["TEST_TRAFFIC_SHIFT", "PRODUCTION_TRAFFIC_SHIFT"]
    target = brief["targetServiceRevisionArn"]
    assert sim_hook_target.CALLS[1]["executionDetails"]["productionTrafficWeights"][target] == 100
    estate.sim.alarm("app-shift", "ALARM")
    again = sim_hook_target.CALLS[2:]
    assert [c["lifecycleStage"] for c in again] == [
        "PRODUCTION_TRAFFIC_SHIFT",
        "TEST_TRAFFIC_SHIFT",
    ]
    weights = again[0]["executionDetails"]["productionTrafficWeights"]
    assert weights[target] == 0
    assert sorted(weights.values()) == [0, 100]
    assert again[0]["executionDetails"]["targetServiceRevisionArn"] == target
    assert again[1]["executionDetails"]["testTrafficWeights"][target] == 0


def test_while_watching_the_clock_can_run_by_itself(estate: Estate) -> None:
    new_td = estate.task_definition("w")
    brief = estate.deploy(new_td, strategy="BLUE_GREEN", bakeTimeInMinutes=1)
    assert brief["status"] == "IN_PROGRESS"
    estate.sim.minutes_per_second = 10.0  # the 1-minute bake passes in 0.1 s of watching
    estate.sim.watch(every=0.05)
    try:
        deadline = time.monotonic() + 20
        while estate.deployments()[0]["status"] != "SUCCESSFUL":
            assert time.monotonic() < deadline, "the bake never ended"
            time.sleep(0.05)
    finally:
        estate.sim.unwatch()
    assert estate.sim.clock.minutes >= 1.0
    assert revisions_running(estate) == {new_td}


@pytest.mark.parametrize(
    "config",
    [
        {"strategy": "LINEAR", "linearConfiguration": {"stepPercent": 2.0}},
        {"strategy": "CANARY", "canaryConfiguration": {"canaryPercent": 0.0}},
        {"strategy": "CANARY", "canaryConfiguration": {"canaryBakeTimeInMinutes": 1441}},
        {"strategy": "BLUE_GREEN", "bakeTimeInMinutes": 1441},
        {
            "strategy": "BLUE_GREEN",
            "lifecycleHooks": [pause("POST_SCALE_UP", timeoutInMinutes=20161)],
        },
        {
            "strategy": "BLUE_GREEN",
            "lifecycleHooks": [{"targetType": "AWS_LAMBDA", "lifecycleStages": ["PRE_SCALE_UP"]}],
        },
        {"strategy": "BLUE_GREEN", "lifecycleHooks": [pause("POST_SCALE_UP")] * 11},
        {
            "strategy": "BLUE_GREEN",
            "lifecycleHooks": [
                {
                    "targetType": "AWS_LAMBDA",
                    "hookTargetArn": "arn:aws:lambda:eu-west-1:123456789012:function:x",
                    "lifecycleStages": ["PRE_SCALE_UP"],
                    "timeoutConfiguration": {"timeoutInMinutes": 1441},
                }
            ],
        },
    ],
)
def test_update_service_refuses_numbers_outside_ecs_ranges(
    estate: Estate, config: dict[str, Any]
) -> None:
    ecs = estate.ecs()
    before = estate.sim.service(estate.service).task_definition
    with pytest.raises(ecs.exceptions.InvalidParameterException):
        ecs.update_service(
            cluster=estate.cluster,
            service=estate.service,
            taskDefinition=estate.task_definition("x"),
            deploymentConfiguration=config,
        )
    (svc,) = ecs.describe_services(cluster=estate.cluster, services=[estate.service])["services"]
    assert svc["taskDefinition"] == before
