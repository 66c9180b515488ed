"""Approval at autopilot's PAUSE hook through the sandbox's delivery machinery (a sandbox
server, the simulator running one plain blue/green service, no stacks): the deploy's
``deploymentConfiguration`` as ``logic.rollout`` builds it for ``manual-traffic``, the
deployment waiting at PRE_PRODUCTION_TRAFFIC_SHIFT, the simulator's own ``ECS Hook State
Change`` handled by deployment-events, and ``autopilot approve`` / ``reject`` (the
operator controls) answering the hook; the timeout rolls back and is recorded."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from autopilot.aws.clients import AwsClients
from autopilot.handlers import deployment_events
from autopilot.logic.rollout import Rollout, deployment_configuration
from autopilot.settings import get_settings
from autopilot.store.ledger import Ledger

from cli import controls as operator
from sandbox.server import Clients
from sandbox.simulator import Simulator
from tests.e2e.plain_sandbox import IMAGE, plain_sandbox


@dataclass
class Estate:
    clients: Clients
    sim: Simulator
    cluster: str
    service: str
    aws: AwsClients
    table: str

    def ecs(self) -> Any:
        return self.clients("ecs")

    def task_definition(self, digest_char: str) -> str:
        arn: str = self.ecs().register_task_definition(
            family="app",
            containerDefinitions=[
                {"name": "app", "image": IMAGE + digest_char * 64, "memory": 128}
            ],
        )["taskDefinition"]["taskDefinitionArn"]
        return arn

    def deploy(self, td: str, pause_minutes: int = 30) -> str:
        """UpdateService to ``td`` with what a manual-traffic deploy sends; the newest
        service deployment's ARN."""
        config, _note = deployment_configuration(
            {},
            Rollout("blue-green", None, 0),
            (),
            traffic_ready=True,
            pause_minutes=pause_minutes,
        )
        self.ecs().update_service(
            cluster=self.cluster,
            service=self.service,
            taskDefinition=td,
            deploymentConfiguration=config,
        )
        self.sim.settle()
        return str(self.deployments()[0]["serviceDeploymentArn"])

    def deployments(self) -> list[dict[str, Any]]:
        listed: list[dict[str, Any]] = self.ecs().list_service_deployments(
            cluster=self.cluster, service=self.service
        )["serviceDeployments"]
        return listed

    def status_of(self, arn: str) -> str:
        return next(
            str(b["status"]) for b in self.deployments() if b["serviceDeploymentArn"] == arn
        )

    def hook_events(self, since: int) -> list[dict[str, Any]]:
        return [
            dict(e) for e in self.sim.emitted[since:] if e["detail-type"] == "ECS Hook State Change"
        ]

    def handle(self, event: dict[str, Any]) -> str:
        (decision,) = deployment_events.run(event, aws=self.aws).decisions
        return decision.outcome.value

    def target(self) -> operator.Target:
        return operator.Target(table=self.table, cluster_arn=self.cluster)

    def outcomes(self, service_arn: str) -> list[str]:
        ledger = Ledger(self.clients("dynamodb"), self.table)
        return [str(d["outcome"]) for d in ledger.decisions.list(service_arn)]


@pytest.fixture
def estate(monkeypatch: pytest.MonkeyPatch) -> Iterator[Estate]:
    with plain_sandbox("manual-traffic") as box:
        clients = box.clients
        table = box.ledger_table()
        topic = clients("sns").create_topic(Name=f"manual-traffic-notices-{box.suffix}")["TopicArn"]
        for key, value in box.function_environment(table, topic).items():
            monkeypatch.setenv(key, value)
        get_settings.cache_clear()
        aws = AwsClients(ecs=clients("ecs"), dynamodb=clients("dynamodb"), sns=clients("sns"))
        try:
            est = Estate(clients, None, box.cluster, "app", aws, table)  # type: ignore[arg-type]
            box.fargate_service(
                "app", est.task_definition("a"), tags={"autopilot:approval": "manual-traffic"}
            )
            est.sim = box.simulator()
            yield est
        finally:
            get_settings.cache_clear()


def test_approve_lets_the_waiting_deployment_complete(estate: Estate) -> None:
    since = len(estate.sim.emitted)
    arn = estate.deploy(estate.task_definition("b"))
    (awaiting,) = estate.hook_events(since)
    assert awaiting["detail"]["lifecycleStage"] == "PRE_PRODUCTION_TRAFFIC_SHIFT"
    assert estate.handle(awaiting) == "awaiting-approval"
    assert estate.handle(awaiting) == "duplicate"  # redelivered: recorded once
    (row,) = operator.status(estate.aws, estate.target())
    assert row["service_deployment"]["waiting_for_approval"]["stage"] == (
        "PRE_PRODUCTION_TRAFFIC_SHIFT"
    )
    result = operator.approve(estate.aws, estate.target(), "app", None, actor="alice")
    assert result.ok, result.message
    estate.sim.settle()
    assert estate.status_of(arn) == "SUCCESSFUL"
    succeeded = estate.hook_events(since)[-1]
    assert succeeded["detail"]["eventName"] == "HOOK_SUCCEEDED"
    assert estate.handle(succeeded) == "approved"
    service_arn = awaiting["detail"]["serviceArn"]
    assert sorted(estate.outcomes(service_arn)) == ["approved", "approved", "awaiting-approval"]


def test_reject_rolls_the_waiting_deployment_back(estate: Estate) -> None:
    since = len(estate.sim.emitted)
    arn = estate.deploy(estate.task_definition("c"))
    (awaiting,) = estate.hook_events(since)
    result = operator.reject(
        estate.aws, estate.target(), "app", None, actor="bob", reason="errors on test traffic"
    )
    assert result.ok, result.message
    estate.sim.settle()
    assert estate.status_of(arn) == "ROLLBACK_SUCCESSFUL"
    failed = estate.hook_events(since)[-1]
    assert failed["detail"]["eventName"] == "HOOK_FAILED"
    assert estate.handle(failed) == "rejected"
    with pytest.raises(operator.OperatorError, match="no deployment waits at a pause hook"):
        operator.approve(estate.aws, estate.target(), "app", None, actor="alice")
    assert awaiting["detail"]["serviceDeploymentArn"] == arn


def test_the_timeout_rolls_back_and_is_recorded_as_a_reject(estate: Estate) -> None:
    since = len(estate.sim.emitted)
    arn = estate.deploy(estate.task_definition("d"), pause_minutes=20)
    estate.sim.advance(19)
    assert estate.status_of(arn) == "IN_PROGRESS"
    estate.sim.advance(1)
    timed_out = estate.hook_events(since)[-1]
    assert timed_out["detail"]["eventName"] == "HOOK_TIMED_OUT"
    assert estate.status_of(arn) == "ROLLBACK_SUCCESSFUL"
    assert estate.handle(timed_out) == "expired"
