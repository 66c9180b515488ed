"""The `autopilot` command against the session's sandbox: local commands through the
control endpoint (as with `autopilot local up`), invoke, dry runs and history."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cli.main import main
from sandbox.control import ControlServer, write_state
from sandbox.core import Sandbox
from sandbox.synth import REPO_ROOT

EVENTS = REPO_ROOT / "events"


@pytest.fixture(scope="module")
def running(
    sandbox: Sandbox, demo_results: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Sandbox]:
    """The session's sandbox, reachable as if `autopilot local up` ran it."""
    state = tmp_path_factory.mktemp("sandbox") / "state.json"
    mp = pytest.MonkeyPatch()
    mp.setenv("AUTOPILOT_SANDBOX_STATE", str(state))
    control = ControlServer(sandbox).start()
    write_state(sandbox, control.url)
    try:
        yield sandbox
    finally:
        control.stop()
        mp.undo()


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def image_of(sb: Sandbox, service: str) -> str:
    assert sb.clients is not None
    ecs = sb.clients("ecs")
    svc = ecs.describe_services(cluster="demo-cluster", services=[service])["services"][0]
    td = ecs.describe_task_definition(taskDefinition=svc["taskDefinition"])["taskDefinition"]
    return str(td["containerDefinitions"][0]["image"])


def snapshot(sb: Sandbox) -> dict[str, Any]:
    assert sb.clients is not None
    ecs, ddb = sb.clients("ecs"), sb.clients("dynamodb")
    services = ecs.list_services(cluster="demo-cluster")["serviceArns"]
    described = ecs.describe_services(cluster="demo-cluster", services=services)["services"]
    table = sb.outputs["LedgerTableName"]
    return {
        "services": {s["serviceName"]: (s["taskDefinition"], s["desiredCount"]) for s in described},
        "task_definitions": sorted(ecs.list_task_definitions()["taskDefinitionArns"]),
        "ledger_items": ddb.scan(TableName=table, Select="COUNT")["Count"],
    }


def test_local_push_clean_moves_the_service_and_critical_does_not(
    running: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run_cli(capsys, "local", "push", "demo/web:3.0.0", "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert image_of(running, "web").endswith("@" + doc["digest"])
    assert any(r["function"] == "image-events" for r in doc["routes"])

    before = image_of(running, "web")
    code, out, err = run_cli(capsys, "local", "push", "demo/web:3.1.0", "--findings", "CRITICAL=1")
    assert code == 0, err
    assert "blocked" in out
    assert image_of(running, "web") == before


def test_local_commands_reject_bad_input_with_exit_2(
    running: Sandbox, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    assert run_cli(capsys, "local", "emit", str(bad))[0] == 2
    assert run_cli(capsys, "local", "push", "no/such-repo:1.0.0")[0] == 2
    assert run_cli(capsys, "local", "push", "demo/web:1.0.0", "--findings", "SEVERE=1")[0] == 2
    assert run_cli(capsys, "local", "stop-tasks", "web", "--az", "mars-1a")[0] == 2
    code, _, err = run_cli(capsys, "local", "bogus")
    assert code == 2
    assert "Traceback" not in err


def test_local_emit_prints_rule_and_decision(
    running: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run_cli(capsys, "local", "emit", str(EVENTS / "ecr-image-scan-critical.json"))
    assert code == 0, err
    assert "image-events" in out


def test_stop_tasks_replaces_the_zone_and_the_spread_comes_back(
    running: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    assert running.simulator is not None
    svc = running.simulator.service("api")
    zone = next(az for az, n in svc.spread().items() if n)
    code, out, err = run_cli(capsys, "local", "stop-tasks", "api", "--az", zone, "--json")
    assert code == 0, err
    # The zone's tasks stop and are replaced lopsidedly; ECS's own AZ rebalancing (on for
    # api) then restores the spread, as the timeline shows
    doc = json.loads(out)
    texts = [e["text"] for e in doc["timeline"]]
    assert any(f"zone {zone} loses" in t for t in texts)
    spread = svc.spread()
    assert sum(spread.values()) == len(svc.running())
    assert max(spread.values()) - min(spread.values()) <= 1
    # ListTasks by service and DescribeTasks answer with zones, as ECS does
    assert running.clients is not None
    ecs = running.clients("ecs")
    arns = ecs.list_tasks(cluster="demo-cluster", serviceName="api")["taskArns"]
    tasks = ecs.describe_tasks(cluster="demo-cluster", tasks=arns)["tasks"]
    assert {t["availabilityZone"] for t in tasks} <= set(svc.azs)
    assert len(tasks) == len(svc.running())


def test_local_alarm_changes_state_and_emits(
    running: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    assert running.clients is not None
    alarm = running.clients("cloudwatch").describe_alarms(MaxRecords=1)["MetricAlarms"][0][
        "AlarmName"
    ]
    code, out, err = run_cli(capsys, "local", "alarm", alarm, "ALARM", "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert any(e["text"].startswith(f"alarm {alarm}") for e in doc["timeline"])
    state = running.clients("cloudwatch").describe_alarms(AlarmNames=[alarm])["MetricAlarms"][0][
        "StateValue"
    ]
    assert state == "ALARM"


def test_invoke_dry_run_changes_nothing(
    running: Sandbox, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # Given a pushed image with no scan yet, and a clean scan event for it
    assert running.simulator is not None
    pushed = running.simulator.push("demo/web", "4.0.0", scanner="none")
    repo = running.clients("ecr").describe_repositories(repositoryNames=["demo/web"])[
        "repositories"
    ][0]  # type: ignore[misc]
    scan = running.simulator.scan_event(repo, pushed.digest, ["4.0.0"], {}, "basic")
    scan_file = tmp_path / "scan.json"
    scan_file.write_text(json.dumps(scan))
    before = snapshot(running)
    for path in (EVENTS / "ecr-image-push.json", scan_file):
        # When image-events is invoked with --dry-run
        code, out, err = run_cli(
            capsys,
            "invoke",
            "image-events",
            str(path),
            "--dry-run",
            "--json",
            "--endpoint-url",
            running.endpoint,
        )
        assert code == 0, err
        doc = json.loads(out)
        # Then it prints the plan and made no mutating call
        assert doc["dry_run"] is True
        assert doc["ok"] is True
        assert doc["mutating_calls"] == []
        assert doc["report"]["decisions"]
    assert snapshot(running) == before
    # the plan for the clean scan is the deploy it would do
    planned = [a["api"] for a in doc["report"].get("actions", []) if not a.get("done")]
    assert any("UpdateService" in a for a in planned), doc["report"]
    # and the same invocation without --dry-run does it
    code, out, err = run_cli(
        capsys, "invoke", "image-events", str(scan_file), "--endpoint", running.endpoint
    )
    assert code == 0, err
    assert image_of(running, "web").endswith("@" + pushed.digest)
    # the simulator carries that deployment through, as ECS would
    settled = running.simulator.settle()
    assert "deployment-events" in {r.function for r in settled}


def test_invoke_bad_input(
    running: Sandbox, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert (
        run_cli(capsys, "invoke", "no-such-function", str(EVENTS / "ecr-image-push.json"))[0] == 2
    )
    junk = tmp_path / "junk.json"
    junk.write_text(
        json.dumps(
            {"source": "aws.ecr", "detail-type": "ECR Image Action", "detail": {"nonsense": 1}}
        )
    )
    code, out, err = run_cli(
        capsys, "invoke", "image-events", str(junk), "--endpoint", running.endpoint
    )
    assert code == 2, (out, err)


def test_history_lists_the_story(running: Sandbox, capsys: pytest.CaptureFixture[str]) -> None:
    # The story's outcomes, asked for by name: other tests may add any number of newer
    # decisions on `web` (tests/e2e/test_cli_habits.py approves there), whatever runs first
    code, out, err = run_cli(
        capsys,
        "history",
        "web",
        "--endpoint",
        running.endpoint,
        "--json",
        "--outcome",
        "deployed,blocked,quarantined",
        "--limit",
        "1000",
    )
    assert code == 0, err
    outcomes = {r.get("outcome") for r in json.loads(out)}
    assert {"deployed", "blocked", "quarantined"} <= outcomes


def test_failed_invocations_retry_then_dead_letter_intact(running: Sandbox) -> None:
    # An event the rule delivers but the handler rejects: 1 + 2 retries, then the DLQ
    assert running.router is not None
    assert running.clients is not None
    event = {
        "version": "0",
        "id": "00000000-dead-4000-8000-000000000001",
        "detail-type": "ECR Image Action",
        "source": "aws.ecr",
        "account": "123456789012",
        "time": "2026-11-28T00:00:00Z",
        "region": "eu-west-1",
        "resources": [],
        "detail": {"repository-name": "demo/web", "action-type": "PUSH", "result": "SUCCESS"},
    }
    (res,) = running.router.route(event)
    assert res.function == "image-events"
    assert not res.ok
    assert res.attempts == 3
    assert res.dead_lettered
    fn = running.router.function("image-events")
    assert fn.dead_letter_arn
    sqs = running.clients("sqs")
    url = sqs.get_queue_url(QueueName=fn.dead_letter_arn.rsplit(":", 1)[-1])["QueueUrl"]
    messages = sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]
    )["Messages"]
    bodies = [json.loads(m["Body"]) for m in messages]
    assert event in bodies
