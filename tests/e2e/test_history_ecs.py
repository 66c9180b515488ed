"""`autopilot history` through the sandbox's delivery machinery (a sandbox server, the
simulator running one plain service, no stacks): a canary rolled back by its deployment
alarm during the bake, ECS's ``SERVICE_DEPLOYMENT_FAILED`` handled by deployment-events
(the ledger's decision), and history showing ECS's ROLLBACK_SUCCESSFUL record with the
alarm that triggered it beside that decision, in JSON and in text."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from autopilot.aws.clients import AwsClients
from autopilot.domain.records import DeployRecord
from autopilot.handlers import deployment_events
from autopilot.settings import get_settings
from autopilot.store.ledger import Ledger

from cli import controls as operator
from cli.main import main
from tests.e2e.plain_sandbox import IMAGE, PlainSandbox, plain_sandbox


@pytest.fixture(scope="module")
def rolled_back() -> Iterator[dict[str, Any]]:
    """The canary of ``app`` rolled back by alarm ``app-5xx``, its failure handled by
    deployment-events: the sandbox, the ledger table, the deployment's ARN, the decision."""
    patch = pytest.MonkeyPatch()
    with plain_sandbox("history-ecs") as box:
        clients = box.clients
        table = box.ledger_table()
        topic = clients("sns").create_topic(Name=f"history-notices-{box.suffix}")["TopicArn"]
        for key, value in box.function_environment(table, topic).items():
            patch.setenv(key, value)
        get_settings.cache_clear()
        try:
            ecs = clients("ecs")
            service = box.fargate_service(
                "app",
                box.task_definition("app", IMAGE + "a" * 64),
                tags={"autopilot:repository": f"demo/history-{box.suffix}"},
            )
            sim = box.simulator()
            alarms = box.alarm("app-5xx")
            repo = clients("ecr").create_repository(repositoryName=f"demo/history-{box.suffix}")[
                "repository"
            ]
            pushed = sim.push(f"demo/history-{box.suffix}", "v2")
            first = ecs.describe_services(cluster=box.cluster, services=["app"])["services"][0]
            emitted = len(sim.emitted)
            canary_td = box.task_definition("app", f"{repo['repositoryUri']}@{pushed.digest}")
            ecs.update_service(
                cluster=box.cluster,
                service="app",
                taskDefinition=canary_td,
                deploymentConfiguration={
                    "strategy": "CANARY",
                    "canaryConfiguration": {"canaryPercent": 10.0, "canaryBakeTimeInMinutes": 1},
                    "bakeTimeInMinutes": 10,
                    "alarms": alarms,
                },
            )
            sim.settle()
            # what image-events records of its deploy: the deployment it started
            (started,) = [
                d
                for d in ecs.describe_services(cluster=box.cluster, services=["app"])["services"][
                    0
                ]["deployments"]
                if d["taskDefinition"] == canary_td
            ]
            Ledger(clients("dynamodb"), table).deploys.record(
                service,
                DeployRecord(
                    task_definition=canary_td,
                    digest=pushed.digest,
                    tag="v2",
                    previous_task_definition=first["taskDefinition"],
                    event_id="push-v2",
                    deployment_id=started["id"],
                ),
            )
            arn = ecs.list_service_deployments(cluster=box.cluster, service="app")[
                "serviceDeployments"
            ][0]["serviceDeploymentArn"]
            sim.advance(1)  # the canary's bake done: 100 %, BAKE_TIME
            sim.alarm("app-5xx", "ALARM")  # ECS rolls the canary back
            failed = next(
                e
                for e in sim.emitted[emitted:]
                if e["detail-type"] == "ECS Deployment State Change"
                and e["detail"]["eventName"] == "SERVICE_DEPLOYMENT_FAILED"
            )
            aws = AwsClients(ecs=ecs, dynamodb=clients("dynamodb"), sns=clients("sns"))
            (decision,) = deployment_events.run(failed, aws=aws).decisions
            yield {
                "box": box,
                "table": table,
                "service": service,
                "arn": arn,
                "canary_td": canary_td,
                "decision": decision.outcome.value,
                "why": decision.reason,
                "aws": AwsClients(
                    ecs=ecs, ecr=clients("ecr"), dynamodb=clients("dynamodb"), sns=clients("sns")
                ),
            }
        finally:
            get_settings.cache_clear()
            patch.undo()


def test_history_shows_ecs_rollback_and_its_alarm_beside_the_ledger(
    rolled_back: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    box: PlainSandbox = rolled_back["box"]
    target = operator.Target(table=rolled_back["table"], cluster_arn=box.cluster)
    rows = operator.history(rolled_back["aws"], target, "app", source="all")
    ecs_rows = [r for r in rows if r["source"] == "ecs"]
    ledger_rows = [r for r in rows if r["source"] == "ledger"]
    (canary,) = [r for r in ecs_rows if r["event_id"] == rolled_back["arn"]]
    assert canary["outcome"] == "ecs:ROLLBACK_SUCCESSFUL"
    record = canary["ecs_deployment"]
    assert record["strategy"] == "CANARY"
    assert record["alarms"]["triggered"] == ["app-5xx"]
    assert record["rollback"]["service_revision_arn"]
    assert record["target_revision"]["task_definition"] == rolled_back["canary_td"]
    # ECS rolled the canary back itself: the ledger quarantines the digest, naming the alarm
    assert [r["outcome"] for r in ledger_rows] == ["quarantined"], ledger_rows
    assert "app-5xx" in ledger_rows[0]["reason"]
    times = [r["event_time"] for r in rows]
    assert times == sorted(times, reverse=True)

    # the command: JSON as above, and text rows marked ecs
    where = ("--table", rolled_back["table"], "--cluster", box.cluster)
    where += ("--endpoint", box.clients.endpoint)
    assert main(["history", "app", "--json", *where]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert {r["source"] for r in printed} == {"ecs", "ledger"}
    assert main(["history", "app", *where]) == 0
    lines = capsys.readouterr().out.splitlines()
    (line,) = [x for x in lines if "ecs:ROLLBACK_SUCCESSFUL" in x]
    assert rolled_back["canary_td"].rsplit("/", 1)[-1] in line  # family:revision
    assert "alarms triggered: app-5xx" in line
    assert "[ecs service-deployment/" in line
    assert any(rolled_back["decision"] in x and "deployment-events" in x for x in lines), lines
    assert main(["history", "app", "--outcome", "ecs:ROLLBACK_SUCCESSFUL", "--json", *where]) == 0
    only = json.loads(capsys.readouterr().out)
    assert [r["event_id"] for r in only] == [rolled_back["arn"]]
