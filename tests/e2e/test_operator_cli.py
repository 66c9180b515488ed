"""The operator commands through the `autopilot` CLI against the session's sandbox:
approve, reject, expiry, double approval, approvals that became ineligible, pause/resume,
status and history of the real state, and the notices published since the demo."""

# ruff: noqa: PLC0415 - imports are deferred: moto and the functions load only where used

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from autopilot import contract

from cli.invoke import approver
from cli.main import main
from sandbox.core import Sandbox
from sandbox.demo import DemoContext, outcomes, run_scenes
from sandbox.demo.approval import SCENES as OPERATOR_SCENES
from sandbox.demo.approval import next_version

SERVICE = "web"
REPO = "demo/web"
NOTHING_TO_DO = {
    "already-running",
    "older",
    "policy-mismatch",
    "awaiting-scan",
    "ignored",
    "busy",
    "duplicate",
    "balanced",
    "deferred",
    "debounced",
    "unchanged",
    "last-known-good",
}


def cli(capsys: pytest.CaptureFixture[str], sb: Sandbox, *argv: str) -> tuple[int, str, str]:
    code = main([*argv, "--endpoint", sb.endpoint])
    out, err = capsys.readouterr()
    return code, out, err


def cli_json(capsys: pytest.CaptureFixture[str], sb: Sandbox, *argv: str) -> Any:
    code, out, err = cli(capsys, sb, *argv, "--json")
    assert code == 0, err
    return json.loads(out)


@pytest.fixture(scope="module")
def ctx(sandbox: Sandbox, demo_results: Any) -> DemoContext:
    return DemoContext(sandbox, approve=approver(sandbox.endpoint))


@pytest.fixture
def manual(ctx: DemoContext) -> Iterator[dict[str, Any]]:
    """web under manual approval for one test; auto, and not paused, afterwards."""
    ecs = ctx.ecs()
    svc = next(s for s in ctx.tracked_services() if s["name"] == SERVICE)
    ecs.tag_resource(
        resourceArn=svc["arn"], tags=[{"key": contract.TAG_APPROVAL, "value": "manual"}]
    )
    try:
        yield svc
    finally:
        ecs.untag_resource(resourceArn=svc["arn"], tagKeys=[contract.TAG_APPROVAL])
        main(["resume", SERVICE, "--endpoint", ctx.sandbox.endpoint])
        ctx.sim.settle()


def push_pending(ctx: DemoContext) -> str:
    pushed = ctx.sim.push(REPO, next_version(ctx, REPO))
    assert "pending-approval" in outcomes(pushed.routes, "image-events")
    return pushed.digest


def running_image(ctx: DemoContext) -> str:
    svc = next(s for s in ctx.tracked_services() if s["name"] == SERVICE)
    return ctx.image(svc)


def test_the_approval_scene_passes(ctx: DemoContext, demo_results: Any) -> None:
    titles = {r.title: r for r in demo_results}
    scene = OPERATOR_SCENES[0]
    result = titles.get(scene.title) or run_scenes(ctx, [scene])[0]
    assert result.ok, [c for c in result.checks if not c.ok] or result.error


def test_approve_deploys_and_approving_twice_deploys_once(
    ctx: DemoContext, manual: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    digest = push_pending(ctx)
    code, out, err = cli(capsys, ctx.sandbox, "approve", SERVICE, digest)
    assert code == 0, err
    assert "deploys to web" in out
    assert running_image(ctx).endswith("@" + digest)
    ctx.sim.settle()
    revisions = ctx.revisions(manual)

    again = cli_json(capsys, ctx.sandbox, "approve", SERVICE, digest)

    assert again["ok"]
    assert not again["changed"]
    assert again["outcome"] == "already-running"
    assert ctx.revisions(manual) == revisions


def test_reject_then_approve_deploys_nothing(
    ctx: DemoContext, manual: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    before = running_image(ctx)
    digest = push_pending(ctx)
    code, out, err = cli(capsys, ctx.sandbox, "reject", SERVICE, digest, "--reason", "not today")
    assert code == 0, err
    assert "rejected by" in out

    code, _out, err = cli(capsys, ctx.sandbox, "approve", SERVICE, digest)

    assert code == 1
    assert "rejected" in err or "rejected" in _out
    assert running_image(ctx) == before
    (web,) = [
        s for s in cli_json(capsys, ctx.sandbox, "status")["services"] if s["service"] == SERVICE
    ]
    assert digest not in [p["digest"] for p in web["pending_approvals"]]


def test_an_expired_approval_is_recorded_and_not_deployed(
    ctx: DemoContext, manual: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    before = running_image(ctx)
    digest = push_pending(ctx)
    ddb = ctx.sandbox.clients("dynamodb")  # type: ignore[misc]
    ddb.update_item(
        TableName=ctx.sandbox.outputs["LedgerTableName"],
        Key={"pk": {"S": f"SVC#{manual['arn']}"}, "sk": {"S": f"STATE#APPROVAL#{digest}"}},
        UpdateExpression="SET approval_expires = :past",
        ExpressionAttributeValues={":past": {"N": "1"}},
    )

    code, out, err = cli(capsys, ctx.sandbox, "approve", SERVICE, digest)

    assert code == 1
    assert "expired" in out + err
    assert running_image(ctx) == before
    last = cli_json(capsys, ctx.sandbox, "history", SERVICE, "--outcome", "expired")
    assert last[0]["digest"] == digest


def test_approval_of_a_superseded_or_quarantined_digest_deploys_nothing(
    ctx: DemoContext, manual: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    before = running_image(ctx)
    older = push_pending(ctx)
    newer = push_pending(ctx)

    code, out, _err = cli(capsys, ctx.sandbox, "approve", SERVICE, older)

    assert code == 1
    assert "superseded" in out
    assert running_image(ctx) == before

    from autopilot.store.ledger import Ledger

    ledger = Ledger(ctx.sandbox.clients("dynamodb"), ctx.sandbox.outputs["LedgerTableName"])  # type: ignore[misc]
    ledger.state.quarantine(manual["arn"], newer, reason="bad elsewhere", event_id="test")
    code, out, _err = cli(capsys, ctx.sandbox, "approve", SERVICE, newer)
    assert code == 1
    assert "quarantined" in out
    assert running_image(ctx) == before


def test_pause_holds_image_and_capacity_reactions_and_resume_releases_them(
    ctx: DemoContext, capsys: pytest.CaptureFixture[str]
) -> None:
    sb = ctx.sandbox
    paused = cli_json(capsys, sb, "pause", SERVICE, "--reason", "incident 42")
    assert paused["changed"]
    try:
        (web,) = [s for s in cli_json(capsys, sb, "status")["services"] if s["service"] == SERVICE]
        assert web["paused"]["reason"] == "incident 42"
        before = running_image(ctx)
        pushed = ctx.sim.push(REPO, next_version(ctx, REPO))
        assert "paused" in outcomes(pushed.routes, "image-events")
        assert running_image(ctx) == before
        cw = sb.clients("cloudwatch")  # type: ignore[misc]
        alarm = next(
            a["AlarmName"]
            for a in cw.describe_alarms(AlarmNamePrefix="autopilot-")["MetricAlarms"]
            if a["AlarmName"].endswith(f"{SERVICE}-cpu-high")
        )
        held = ctx.sim.alarm(alarm, "ALARM")
        assert "paused" in outcomes(held, "capacity-events")
        ctx.sim.alarm(alarm, "OK")
    finally:
        resumed = cli_json(capsys, sb, "resume", SERVICE)
    assert resumed["changed"]
    again = ctx.sim.emit({**pushed.events[-1], "id": "after-resume-" + pushed.digest[-8:]})
    assert "deployed" in outcomes(again, "image-events")
    assert running_image(ctx).endswith("@" + pushed.digest)
    ctx.sim.settle()
    history = cli_json(
        capsys, sb, "history", SERVICE, "--since", "1h", "--outcome", "paused,resumed"
    )
    assert {h["outcome"] for h in history} == {"paused", "resumed"}


def test_status_prints_the_sandbox_state(
    ctx: DemoContext, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = cli_json(capsys, ctx.sandbox, "status")
    services = {s["service"]: s for s in doc["services"]}
    assert {"web", "api", "worker"} <= set(services)
    web = services["web"]
    assert running_image(ctx).endswith("@" + web["running"]["digest"])
    assert web["running"]["tag"]
    assert web["last_known_good"]["digest"]
    assert web["quarantined"]  # the crashing image of the story
    assert web["last_decision"]["outcome"]
    assert web["paused"] is None
    code, out, err = cli(capsys, ctx.sandbox, "status")
    assert code == 0, err
    assert "web" in out
    assert "running" in out
    assert "quarantined" in out


def test_history_filters_and_prints_newest_first(
    ctx: DemoContext, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = cli_json(capsys, ctx.sandbox, "history", SERVICE, "--since", "2h")
    assert rows
    times = [r["event_time"] for r in rows]
    assert times == sorted(times, reverse=True)
    assert all(r["reason"] and r["event_id"] for r in rows)
    only = cli_json(capsys, ctx.sandbox, "history", SERVICE, "--outcome", "deployed,blocked")
    assert only
    assert {r["outcome"] for r in only} <= {"deployed", "blocked"}
    code, out, err = cli(capsys, ctx.sandbox, "history", SERVICE, "--outcome", "blocked")
    assert code == 0, err
    assert "blocked" in out


def test_bad_usage_exits_2_with_one_line(
    ctx: DemoContext, capsys: pytest.CaptureFixture[str]
) -> None:
    for argv in (
        ("approve", "no-such-service", "sha256:" + "0" * 64),
        ("approve", SERVICE, "sha256:" + "0" * 64),
        ("history", SERVICE, "--since", "last tuesday"),
        ("history", SERVICE, "--outcome", "bogus"),
        ("status", "--stack", "NoSuchStack"),
    ):
        code, _out, err = cli(capsys, ctx.sandbox, *argv)
        assert code == 2, argv
        assert err.strip().startswith("error:"), err
        assert "Traceback" not in err


def test_notices_since_the_demo_are_actionable_and_never_nothing_to_do(
    ctx: DemoContext,
) -> None:
    from autopilot.domain.report import ANNOUNCED
    from moto.sns.models import sns_backends

    topic = ctx.sandbox.outputs["NoticesTopicArn"]
    account, region = topic.split(":")[4], topic.split(":")[3]
    sent = sns_backends[account][region].topics[topic].sent_notifications
    assert sent
    seen: set[str] = set()
    for _id, message, subject, attributes, _group in sent:
        assert subject is not None
        assert subject.startswith("[autopilot] ")
        assert "\n" not in subject
        assert len(subject) <= 100
        attrs = {k: v.get("Value") or v.get("StringValue") for k, v in (attributes or {}).items()}
        assert set(attrs) == {"outcome", "service", "severity"}
        outcome = attrs["outcome"]
        seen.add(outcome)
        assert outcome not in NOTHING_TO_DO
        assert outcome in {o.value for o in ANNOUNCED}
        assert attrs["severity"] in {"info", "warning", "error"}
        assert outcome in subject
        structured = json.loads(message)
        text = structured["default"]
        assert "Next step:" in text
        assert "Details (JSON):" in text
        details = json.loads(structured["sqs"])
        assert details["outcome"] == outcome
        if outcome == "blocked":
            assert "Findings:" in text
        if outcome == "pending-approval":
            assert f"autopilot approve {details['service'].rsplit('/', 1)[-1]} " in text
    assert {"deployed", "blocked", "pending-approval"} <= seen
