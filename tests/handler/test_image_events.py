"""image-events against moto: scan-gated deploys by digest, one behaviour a test, and the edges."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from autopilot.aws.clients import AwsClients
from autopilot.errors import Incomplete, InvalidEvent, UnsupportedEvent
from autopilot.handlers import image_events
from autopilot.logic.scan import scan_record
from botocore.exceptions import ClientError

from tests.estate import CLUSTER_ARN, READ_ONLY, REGISTRY, Estate, LambdaContext

REPO = "demo/web"


def run(world: Estate, event: dict[str, Any], **kw: Any) -> dict[str, Any]:
    report = image_events.run(event, aws=world.clients, **kw)
    return report.to_json()


def outcome(report: dict[str, Any]) -> str:
    (decision,) = report["decisions"]
    return str(decision["outcome"])


def deploy_ready(world: Estate, *, running: str = "v1.2.0", **tags: str) -> tuple[str, str]:
    """A service on ``running`` (by tag) tracking REPO; returns (service arn, running digest)."""
    digest = world.push(REPO, running)
    svc = world.service("web", REPO, tag=running, tags=tags)
    return svc, digest


def test_accepted_push_and_clean_scan_pins_the_digest_and_keeps_every_other_field(
    world: Estate,
) -> None:
    # Given a service on v1.2.0 and a push of v1.3.0
    svc, _ = deploy_ready(world)
    before = world.running_td(svc)
    digest = world.push(REPO, "v1.3.0")

    # When the push arrives, then its clean scan
    pushed = run(world, world.push_event(REPO, digest, "v1.3.0"))
    scanned = run(world, world.scan_event(REPO, digest, {"MEDIUM": 2}, tags=["v1.3.0"]))

    # Then the push waited for the scan, and the scan deployed the exact digest
    assert outcome(pushed) == "awaiting-scan"
    assert outcome(scanned) == "deployed"
    after = world.running_td(svc)
    assert after["containerDefinitions"][0]["image"] == f"{REGISTRY}/{REPO}@{digest}"
    assert after["revision"] == before["revision"] + 1

    def comparable(td: dict[str, Any]) -> dict[str, Any]:
        out = {k: v for k, v in td.items() if k not in READ_ONLY}
        out["containerDefinitions"] = [
            {k: v for k, v in c.items() if k != "image"} for c in td["containerDefinitions"]
        ]
        return out

    assert comparable(after) == comparable(before)
    assert after["containerDefinitions"][1]["image"] == before["containerDefinitions"][1]["image"]
    tags = world.ecs.describe_task_definition(
        taskDefinition=after["taskDefinitionArn"], include=["TAGS"]
    )
    # the copy keeps the revision's tags; autopilot adds who registered it and its intent
    assert [t for t in tags["tags"] if not t["key"].startswith("autopilot:")] == [
        {"key": "team", "value": "payments"}
    ]
    (notice,) = [n for n in world.notices() if n["attributes"]["outcome"] == "deployed"]
    assert notice["attributes"]["service"] == svc
    assert "\n" not in notice["subject"]
    assert notice["message"]["digest"] == digest


@pytest.mark.parametrize("inspector", [False, True], ids=["basic-scan", "inspector2"])
def test_critical_finding_blocks_with_a_ledger_entry_and_a_notice(
    world: Estate, inspector: bool
) -> None:
    svc, _ = deploy_ready(world)
    family_before = world.revisions("web")
    digest = world.push(REPO, "v1.3.0")

    run(world, world.push_event(REPO, digest, "v1.3.0"))
    report = run(
        world,
        world.scan_event(
            REPO, digest, {"CRITICAL": 1, "LOW": 3}, tags=["v1.3.0"], inspector=inspector
        ),
    )

    assert outcome(report) == "blocked"
    assert report["decisions"][0]["counts"] == {"CRITICAL": 1, "LOW": 3}
    assert world.revisions("web") == family_before
    assert report["actions"][0]["api"] == "sns:Publish"
    history = world.ledger.decisions.list(svc)
    assert [d["outcome"] for d in history] == ["blocked", "awaiting-scan"]
    assert history[0]["counts"] == {"CRITICAL": 1, "LOW": 3}
    assert {"event_id", "repository", "tag", "digest", "reason", "decided_at"} <= set(history[0])
    (listed,) = world.ledger.decisions.list_services()
    assert (listed["sk"], listed["last_outcome"]) == (svc, "blocked")
    (notice,) = world.notices()
    assert notice["attributes"] == {"outcome": "blocked", "service": svc, "severity": "warning"}
    # and a later re-push of the blocked digest never deploys (and is not re-announced)
    assert outcome(run(world, world.push_event(REPO, digest, "v1.3.0"))) == "blocked"
    assert world.notices() == []


def test_the_same_push_three_times_makes_one_revision_and_one_update(world: Estate) -> None:
    deploy_ready(world, **{"autopilot:scan": "off"})
    digest = world.push(REPO, "v1.3.0")
    event = world.push_event(REPO, digest, "v1.3.0")

    outcomes = [outcome(run(world, event)) for _ in range(3)]

    assert outcomes == ["deployed", "duplicate", "duplicate"]
    assert world.calls["ecs:RegisterTaskDefinition"] == 1
    assert world.calls["ecs:UpdateService"] == 1
    assert len(world.revisions("web")) == 2
    # a copy of the event with a new id (a second ECR event for the same push) changes nothing
    copy = dict(event, id="another-id")
    assert outcome(run(world, copy)) == "already-running"
    assert world.calls["ecs:UpdateService"] == 1


def test_a_late_older_push_changes_nothing_and_says_older(world: Estate) -> None:
    svc, _ = deploy_ready(world, **{"autopilot:scan": "off"})
    new = world.push(REPO, "v1.3.0")
    old = world.push(REPO, "v1.2.9")
    assert outcome(run(world, world.push_event(REPO, new, "v1.3.0"))) == "deployed"
    image = world.running_image(svc)

    report = run(world, world.push_event(REPO, old, "v1.2.9"))

    assert outcome(report) == "older"
    assert "1.2.9 is not newer than running 1.3.0" in report["decisions"][0]["reason"]
    assert world.running_image(svc) == image
    assert world.ledger.decisions.list(svc)[0]["outcome"] == "older"


def test_scan_before_push_deploys_once(world: Estate) -> None:
    deploy_ready(world)
    digest = world.push(REPO, "v1.3.0")

    first = run(world, world.scan_event(REPO, digest, {}, tags=["v1.3.0"]))
    second = run(world, world.push_event(REPO, digest, "v1.3.0"))

    assert [outcome(first), outcome(second)] == ["deployed", "already-running"]
    assert world.calls["ecs:UpdateService"] == 1


def test_a_scan_ecr_already_holds_lets_a_push_by_digest_deploy_at_once(world: Estate) -> None:
    deploy_ready(world, **{"autopilot:scan": "high"})
    digest = world.push(REPO, "v1.3.0")
    world.hold_scan(REPO, digest, {"MEDIUM": 1})
    # a push by digest has no image-tag: the tags come from ECR
    report = run(world, world.push_event(REPO, digest, None))
    assert outcome(report) == "deployed"
    assert report["decisions"][0]["tag"] == "v1.3.0"
    # and what was read is recorded in the ledger (a record, not the verdict)
    recorded = world.ledger.scans.get(REPO, digest)
    assert recorded is not None
    assert (recorded.state, recorded.counts) == ("complete", {"MEDIUM": 1})


def test_a_clean_scan_in_the_ledger_alone_does_not_open_the_gate(world: Estate) -> None:
    # Given a clean record in the ledger (as an earlier version wrote from an event), and
    # an ECR that never scanned the digest
    svc, _ = deploy_ready(world, **{"autopilot:scan": "high"})
    digest = world.push(REPO, "v1.3.0")
    record = scan_record(
        repository=REPO,
        digest=digest,
        status="COMPLETE",
        counts={},
        at=datetime(2026, 1, 1, tzinfo=UTC),
        event_id="earlier",
    )
    assert record is not None
    world.ledger.scans.remember(record)

    report = run(world, world.push_event(REPO, digest, None))

    assert outcome(report) == "awaiting-scan"
    assert world.running_image(svc).endswith(":v1.2.0")


def test_failed_scan_blocks_with_its_reason(world: Estate) -> None:
    deploy_ready(world)
    digest = world.push(REPO, "v1.3.0")
    report = run(world, world.scan_event(REPO, digest, status="FAILED", tags=["v1.3.0"]))
    assert outcome(report) == "blocked"
    assert "FAILED" in report["decisions"][0]["reason"]


def test_scan_without_a_verdict_is_ignored(world: Estate) -> None:
    deploy_ready(world)
    digest = world.push(REPO, "v1.3.0")
    report = run(
        world, world.scan_event(REPO, digest, status="SCAN_ELIGIBILITY_EXPIRED", inspector=True)
    )
    assert outcome(report) == "ignored"
    assert report["decisions"][0]["service"] == f"repository/{REPO}"
    assert world.aws_calls() == {}


@pytest.mark.parametrize(
    ("action", "result", "expected"),
    [("DELETE", "SUCCESS", "ignored"), ("PUSH", "FAILURE", "ignored")],
)
def test_deletes_and_failed_pushes_are_recorded_as_ignored(
    world: Estate, action: str, result: str, expected: str
) -> None:
    deploy_ready(world)
    event = world.push_event(REPO, "sha256:" + "a" * 64, "v9.0.0")
    event["detail"].update({"action-type": action, "result": result})
    if result == "FAILURE":
        del event["detail"]["image-digest"]
    report = run(world, event)
    assert outcome(report) == expected
    assert world.ledger.decisions.list(f"repository/{REPO}")[0]["outcome"] == "ignored"
    assert world.aws_calls() == {}


def test_policy_mismatch_and_prerelease(world: Estate) -> None:
    svc, _ = deploy_ready(world, **{"autopilot:scan": "off", "autopilot:policy": "semver:minor"})
    major = world.push(REPO, "v2.0.0")
    pre = world.push(REPO, "v1.4.0-rc.1")
    latest = world.push(REPO, "latest")
    assert outcome(run(world, world.push_event(REPO, major, "v2.0.0"))) == "policy-mismatch"
    assert outcome(run(world, world.push_event(REPO, pre, "v1.4.0-rc.1"))) == "policy-mismatch"
    assert outcome(run(world, world.push_event(REPO, latest, "latest"))) == "policy-mismatch"
    assert world.running_image(svc).endswith(":v1.2.0")


def test_tag_policy_follows_a_moving_tag_by_push_time(world: Estate) -> None:
    svc, _ = deploy_ready(
        world, running="stable", **{"autopilot:scan": "off", "autopilot:policy": "tag:stable"}
    )
    first = world.push(REPO, "stable")
    assert outcome(run(world, world.push_event(REPO, first, "stable"))) == "deployed"
    second = world.push(REPO, "stable")
    assert outcome(run(world, world.push_event(REPO, second, "stable"))) == "deployed"
    # the first push's event arriving late: that digest no longer carries the tag (moto
    # even drops the untagged image); either way it never goes back
    late = world.push_event(REPO, first, "stable")
    assert outcome(run(world, late)) in {"older", "policy-mismatch", "ignored"}
    assert world.running_image(svc).endswith(second)


def test_glob_and_regex_policies(world: Estate) -> None:
    world.push(REPO, "release-1")
    glob_svc = world.service(
        "glob",
        REPO,
        tag="release-1",
        tags={"autopilot:policy": "glob:release-*", "autopilot:scan": "off"},
    )
    regex_svc = world.service(
        "regex",
        REPO,
        tag="release-1",
        tags={"autopilot:policy": r"regex:release-\d+", "autopilot:scan": "off"},
    )
    digest = world.push(REPO, "release-2")
    report = run(world, world.push_event(REPO, digest, "release-2"))
    assert {d["service"]: d["outcome"] for d in report["decisions"]} == {
        glob_svc: "deployed",
        regex_svc: "deployed",
    }


def test_a_malformed_tag_is_rejected_and_the_others_still_deploy(world: Estate) -> None:
    world.push(REPO, "v1.2.0")
    good = world.service("good", REPO, tag="v1.2.0", tags={"autopilot:scan": "off"})
    bad = world.service("bad", REPO, tag="v1.2.0", tags={"autopilot:policy": "regex:(a+)+$"})
    digest = world.push(REPO, "v1.3.0")
    report = run(world, world.push_event(REPO, digest, "v1.3.0"))
    outcomes = {d["service"]: d["outcome"] for d in report["decisions"]}
    assert outcomes == {good: "deployed", bad: "rejected"}
    rejected = next(d for d in report["decisions"] if d["service"] == bad)
    assert "nested repetition" in rejected["reason"]


def test_a_task_definition_field_autopilot_does_not_know_is_refused_and_nothing_registered(
    world: Estate,
) -> None:
    # Given a service whose task definition holds a field this autopilot does not know (as
    # a newer botocore than autopilot's lists would return it; moto's never does)
    svc, _ = deploy_ready(world, **{"autopilot:scan": "off", "autopilot:approval": "manual"})
    family = world.running_td(svc)["family"]
    before = world.revisions(family)

    def newer_field(parsed: dict[str, Any], **_: Any) -> None:
        parsed["taskDefinition"]["fooBar"] = {"enabled": True}

    world.ecs.meta.events.register("after-call.ecs.DescribeTaskDefinition", newer_field)
    digest = world.push(REPO, "v1.3.0")

    # When a newer image is pushed
    report = run(world, world.push_event(REPO, digest, "v1.3.0"))

    # Then the service is refused with the reason, announced, and nothing is registered
    assert outcome(report) == "rejected"
    (decision,) = report["decisions"]
    assert decision["reason"].endswith(
        "task definition field 'fooBar' is unknown to this version of autopilot: "
        "not copied, so not deployed"
    )
    assert world.revisions(family) == before
    assert world.running_image(svc).endswith(":v1.2.0")
    assert world.ledger.state.load(svc).pending_approval == set()  # no approval asked for
    assert [n["attributes"]["outcome"] for n in world.notices()] == ["rejected"]


def test_manual_approval_is_recorded_and_announced(world: Estate) -> None:
    svc, _ = deploy_ready(world, **{"autopilot:scan": "off", "autopilot:approval": "manual"})
    digest = world.push(REPO, "v1.3.0")
    report = run(world, world.push_event(REPO, digest, "v1.3.0"))
    assert outcome(report) == "pending-approval"
    assert world.running_image(svc).endswith(":v1.2.0")
    assert [n["attributes"]["outcome"] for n in world.notices()] == ["pending-approval"]
    assert world.ledger.state.load(svc).pending_approval == {digest}
    # announced once; once approved (what `autopilot approve` writes) the next event deploys
    again = world.scan_event(REPO, digest, {}, tags=["v1.3.0"])
    assert outcome(run(world, again)) == "pending-approval"
    assert world.notices() == []
    world.ledger.approvals.set(svc, digest, "approved", event_id="operator")
    assert outcome(run(world, world.push_event(REPO, digest, "v1.3.0"))) == "deployed"


def test_dry_run_returns_the_plan_and_changes_nothing(world: Estate) -> None:
    svc, _ = deploy_ready(world, **{"autopilot:scan": "off"})
    digest = world.push(REPO, "v1.3.0")
    event = world.push_event(REPO, digest, "v1.3.0")

    planned = run(world, event, dry_run=True)

    assert outcome(planned) == "deployed"
    assert [a["api"] for a in planned["actions"]] == [
        "ecs:RegisterTaskDefinition",
        "ecs:UpdateService",
        "sns:Publish",
    ]
    assert not any(a["done"] for a in planned["actions"])
    register = planned["actions"][0]["params"]
    assert register["containerDefinitions"][0]["image"] == f"{REGISTRY}/{REPO}@{digest}"
    mutating = {"ecs:RegisterTaskDefinition", "ecs:UpdateService", "sns:Publish"}
    assert not mutating & set(world.calls)
    assert not {k for k in world.calls if k.startswith("dynamodb:") and "Put" in k}
    assert world.ledger.decisions.list(svc) == []
    # the real run afterwards does exactly what was planned
    done = run(world, event)
    assert outcome(done) == "deployed"
    assert done["actions"][0]["params"] == register


def test_update_failure_deregisters_the_unused_revision(world: Estate) -> None:
    svc, _ = deploy_ready(world, **{"autopilot:scan": "off"})
    digest = world.push(REPO, "v1.3.0")

    def refuse(**_: Any) -> None:
        raise ClientError(
            {"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "UpdateService"
        )

    world.ecs.meta.events.register("before-call.ecs.UpdateService", refuse)
    report = run(world, world.push_event(REPO, digest, "v1.3.0"))

    assert outcome(report) == "failed"
    apis = [(a["api"], a["done"]) for a in report["actions"]]
    assert ("ecs:DeregisterTaskDefinition", True) in apis
    new = report["actions"][0]["result"]["taskDefinitionArn"]
    status = world.ecs.describe_task_definition(taskDefinition=new)["taskDefinition"]["status"]
    assert status == "INACTIVE"
    assert world.running_image(svc).endswith(":v1.2.0")


def test_a_throttled_update_is_retried_through_lambda_reusing_the_revision(
    world: Estate, context: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    svc, _ = deploy_ready(world, **{"autopilot:scan": "off"})
    digest = world.push(REPO, "v1.3.0")
    throttled: list[int] = []

    def throttle_once(**_: Any) -> None:
        if not throttled:
            throttled.append(1)
            raise ClientError(
                {"Error": {"Code": "ThrottlingException", "Message": "slow down"}}, "UpdateService"
            )

    world.ecs.meta.events.register("before-call.ecs.UpdateService", throttle_once)
    monkeypatch.setattr(image_events, "get_clients", lambda: world.clients)
    event = world.push_event(REPO, digest, "v1.3.0")
    with pytest.raises(Incomplete):
        image_events.handler(event, context)
    assert world.running_image(svc).endswith(":v1.2.0")
    assert len(world.revisions("web")) == 2  # kept for the retry
    world.calls.clear()
    result = image_events.handler(event, context)  # Lambda's retry
    assert [d["outcome"] for d in result["decisions"]] == ["deployed"]
    assert result["actions"][0]["result"]["reused"] is True
    assert world.calls["ecs:RegisterTaskDefinition"] == 0  # the kept revision is reused
    assert len(world.revisions("web")) == 2
    assert world.running_image(svc).endswith(digest)


def test_a_busy_lease_defers_the_service_and_the_handler_asks_for_a_retry(
    world: Estate, context: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    svc, _ = deploy_ready(world, **{"autopilot:scan": "off"})
    digest = world.push(REPO, "v1.3.0")
    world.ledger.leases.acquire(svc, "someone-else", 60)
    event = world.push_event(REPO, digest, "v1.3.0")

    monkeypatch.setattr(image_events, "get_clients", lambda: world.clients)
    with pytest.raises(Incomplete) as raised:
        image_events.handler(event, context)
    assert raised.value.services == [svc]
    assert world.calls["ecs:UpdateService"] == 0
    # once the lease is free, the retried event deploys
    world.ledger.leases.release(svc, "someone-else")
    result = image_events.handler(event, context)
    assert [d["outcome"] for d in result["decisions"]] == ["deployed"]


def _context(request_id: str) -> LambdaContext:
    """The context of one invocation (its own request id)."""
    context = LambdaContext()
    context.aws_request_id = request_id
    return context


def test_a_second_delivery_of_one_push_is_refused_while_the_first_holds_the_lease(
    world: Estate, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given one push delivered twice (two invocations, two request ids)
    svc, _ = deploy_ready(world, **{"autopilot:scan": "off"})
    digest = world.push(REPO, "v1.3.0")
    event = world.push_event(REPO, digest, "v1.3.0")
    monkeypatch.setattr(image_events, "get_clients", lambda: world.clients)
    second: list[BaseException | dict[str, Any]] = []
    fired: list[str] = []

    def second_copy_meanwhile(**_: Any) -> None:
        # copy B runs while copy A holds the lease, just before A registers its revision
        if not fired:
            fired.append("b")
            try:
                second.append(image_events.handler(dict(event), _context("request-b")))
            except Incomplete as exc:
                second.append(exc)

    world.ecs.meta.events.register("before-call.ecs.RegisterTaskDefinition", second_copy_meanwhile)

    # When copy A is handled
    first = image_events.handler(dict(event), _context("request-a"))

    # Then A deployed, and B was refused the lease (retried): one revision, one UpdateService
    assert [d["outcome"] for d in first["decisions"]] == ["deployed"]
    (refused,) = second
    assert isinstance(refused, Incomplete)
    assert refused.services == [svc]
    assert world.calls["ecs:RegisterTaskDefinition"] == 1
    assert world.calls["ecs:UpdateService"] == 1
    assert len(world.revisions("web")) == 2
    # and B's retry finds the event handled
    again = image_events.handler(dict(event), _context("request-b"))
    assert [d["outcome"] for d in again["decisions"]] == ["duplicate"]
    assert world.calls["ecs:UpdateService"] == 1


def test_a_lambda_retry_takes_back_the_lease_its_crashed_attempt_left(
    world: Estate, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given an attempt that took the lease and died (its lease not given back)
    svc, _ = deploy_ready(world, **{"autopilot:scan": "off"})
    digest = world.push(REPO, "v1.3.0")
    event = world.push_event(REPO, digest, "v1.3.0")
    world.ledger.leases.acquire(svc, f"image-events:{event['id']}:request-a", 300)
    monkeypatch.setattr(image_events, "get_clients", lambda: world.clients)
    # When another delivery of the event comes (another invocation), it is refused
    with pytest.raises(Incomplete):
        image_events.handler(dict(event), _context("request-b"))
    assert world.calls["ecs:UpdateService"] == 0
    # Then Lambda's retry of the crashed invocation (the same request id) deploys
    result = image_events.handler(dict(event), _context("request-a"))
    assert [d["outcome"] for d in result["decisions"]] == ["deployed"]
    assert world.running_image(svc).endswith(digest)


def test_handler_returns_the_report_and_emits_one_metric_per_outcome(
    world: Estate, context: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    deploy_ready(world, **{"autopilot:scan": "off"})
    digest = world.push(REPO, "v1.3.0")
    monkeypatch.setattr(image_events, "get_clients", lambda: world.clients)

    result = image_events.handler(world.push_event(REPO, digest, "v1.3.0"), context)

    assert set(result) >= {"function", "event_id", "decisions", "actions"}
    assert result["function"] == "image-events"
    assert {"service", "outcome", "reason"} <= set(result["decisions"][0])
    assert {"api", "params", "done"} <= set(result["actions"][0])
    out = capsys.readouterr().out
    assert '"Name":"deployed"' in out


@pytest.mark.parametrize(
    "event",
    [
        {},
        [],
        {"detail-type": "ECR Image Action"},
        {
            "version": "0",
            "id": "x",
            "detail-type": "ECR Image Action",
            "source": "aws.ecr",
            "account": "123456789012",
            "time": "2026-01-01T00:00:00Z",
            "region": "us-east-1",
            "resources": [],
            "detail": {
                "result": "SUCCESS",
                "repository-name": "demo/web",
                "image-digest": "not-a-digest",
                "action-type": "PUSH",
            },
        },
    ],
    ids=["empty", "not-an-object", "no-detail", "junk-digest"],
)
def test_invalid_events_raise_a_typed_error_before_any_aws_call(
    world: Estate, context: Any, event: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(image_events, "get_clients", lambda: world.clients)
    with pytest.raises(InvalidEvent):
        image_events.handler(event, context)
    assert world.calls == {}


def test_an_unsupported_detail_type_is_its_own_error(world: Estate, context: Any) -> None:
    event = world.deployment_event(
        "arn:aws:ecs:us-east-1:123456789012:service/c/s", "COMPLETED", "d"
    )
    with pytest.raises(UnsupportedEvent) as raised:
        image_events.run(event, aws=world.clients)
    assert raised.value.detail_type == "ECS Deployment State Change"


def test_a_concurrent_newer_deploy_wins_and_the_stale_decision_is_retried(world: Estate) -> None:
    # Given v1.3.0 and v1.4.0 pushed, handled by two concurrent invocations
    svc, _ = deploy_ready(world, **{"autopilot:scan": "off"})
    v13, v14 = world.push(REPO, "v1.3.0"), world.push(REPO, "v1.4.0")
    other_clients = AwsClients(  # a second invocation with its own (unhooked) clients
        ecs=boto3.client("ecs", region_name="us-east-1"),
        ecr=boto3.client("ecr", region_name="us-east-1"),
        tagging=world.tagging,
        dynamodb=world.dynamodb,
        sns=world.sns,
    )
    fired: list[str] = []

    def newer_lands_meanwhile(**_: Any) -> None:
        # B decides and deploys v1.4.0 after A has read the service, before A's lease
        if not fired:
            fired.append("b")
            image_events.run(world.push_event(REPO, v14, "v1.4.0"), aws=other_clients)

    world.ecr.meta.events.register("before-call.ecr.DescribeImages", newer_lands_meanwhile)

    # When A (v1.3.0) goes on with what it read
    report = image_events.run(world.push_event(REPO, v13, "v1.3.0"), aws=world.clients)

    # Then A does not roll the service back: it is deferred for a retry, and the retry says older
    assert report.outcomes() == {svc: "busy"}
    assert report.retry_services == [svc]
    assert world.running_image(svc).endswith(v14)
    again = image_events.run(dict(world.push_event(REPO, v13, "v1.3.0")), aws=world.clients)
    assert again.outcomes() == {svc: "older"}


def _fail_once(world: Estate, operation: str, when: Any, code: str = "ThrottlingException") -> None:
    """The first ``operation`` call whose parameters satisfy ``when`` fails with ``code``."""
    failed: list[int] = []
    client = world.dynamodb if operation in {"PutItem", "DeleteItem"} else world.ecs
    service = "dynamodb" if client is world.dynamodb else "ecs"

    def fail(params: dict[str, Any], **_: Any) -> None:
        if not failed and when(params):
            failed.append(1)
            raise ClientError({"Error": {"Code": code, "Message": "injected"}}, operation)

    client.meta.events.register(f"before-parameter-build.{service}.{operation}", fail)


def _status(world: Estate, arn: str) -> str:
    return str(world.ecs.describe_task_definition(taskDefinition=arn)["taskDefinition"]["status"])


def test_a_deploy_whose_record_fails_is_completed_by_the_retry_without_a_second_update(
    world: Estate, context: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the "deployed" record fails once, after UpdateService moved the service
    svc, _ = deploy_ready(world, **{"autopilot:scan": "off"})
    digest = world.push(REPO, "v1.3.0")
    _fail_once(world, "PutItem", lambda p: p["Item"].get("state") == {"S": "deployed"})
    monkeypatch.setattr(image_events, "get_clients", lambda: world.clients)
    event = world.push_event(REPO, digest, "v1.3.0")
    # When the handler runs, then Lambda retries
    with pytest.raises(Incomplete):
        image_events.handler(event, context)
    assert world.running_image(svc).endswith(digest)
    world.calls.clear()
    result = image_events.handler(event, context)
    # Then the retry records that deploy, says so, and moves nothing again
    (decision,) = result["decisions"]
    assert decision["outcome"] == "deployed"
    assert "earlier attempt" in decision["reason"]
    assert world.calls["ecs:UpdateService"] == 0
    assert world.calls["ecs:RegisterTaskDefinition"] == 0
    record = world.ledger.deploys.get(svc, decision["task_definition"])
    assert record is not None
    assert record.state == "deployed"
    assert record.digest == digest
    # and a third delivery is only "already running"
    again = run(world, {**event, "id": "another-delivery"})
    assert outcome(again) == "already-running"


def test_a_retry_after_one_service_failed_reports_the_other_services_deploy_once_again(
    world: Estate, context: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given two services on one repository, and the second's UpdateService fails once
    first, _ = deploy_ready(world, **{"autopilot:scan": "off"})
    second = world.service("api", REPO, tag="v1.2.0", tags={"autopilot:scan": "off"})
    digest = world.push(REPO, "v1.3.0")
    _fail_once(world, "UpdateService", lambda p: p["service"] == second)
    monkeypatch.setattr(image_events, "get_clients", lambda: world.clients)
    event = world.push_event(REPO, digest, "v1.3.0")
    # When the handler runs (the first service deploys, the second is retried), then Lambda
    # retries the event
    with pytest.raises(Incomplete):
        image_events.handler(event, context)
    assert world.running_image(first).endswith(digest)
    world.calls.clear()
    result = image_events.handler(event, context)
    # Then the retry's report says this event deployed both, and moved the first no more
    outcomes = {d["service"]: (d["outcome"], d["reason"]) for d in result["decisions"]}
    assert outcomes[first] == (
        "deployed",
        "deployed and recorded by an earlier attempt of this event",
    )
    assert outcomes[second][0] == "deployed"
    # (the second with the revision the first attempt registered for it)
    assert world.calls["ecs:UpdateService"] == 1
    assert world.calls["ecs:RegisterTaskDefinition"] == 0
    # and another event with the same image finds both only already running
    again = run(world, {**event, "id": "another-delivery"})
    assert {d["outcome"] for d in again["decisions"]} == {"already-running"}


def test_a_revision_whose_record_fails_is_deregistered_at_once(world: Estate) -> None:
    # Given the "registered" record fails: no retry could find the revision
    svc, _ = deploy_ready(world, **{"autopilot:scan": "off"})
    digest = world.push(REPO, "v1.3.0")
    _fail_once(world, "PutItem", lambda p: p["Item"].get("state") == {"S": "registered"})
    report = run(world, world.push_event(REPO, digest, "v1.3.0"))
    # Then the deploy failed (retried), and the revision does not stay behind
    assert outcome(report) == "failed"
    assert report["retry_services"] == [svc]
    new = report["actions"][0]["result"]["taskDefinitionArn"]
    assert _status(world, new) == "INACTIVE"
    assert world.ledger.deploys.list_registered(svc) == []
    assert world.running_image(svc).endswith(":v1.2.0")


def test_a_stale_revision_that_will_not_deregister_is_kept_for_the_next_clean_up(
    world: Estate,
) -> None:
    # Given v1.3.0's revision was registered and kept for a retry (UpdateService throttled)
    svc, _ = deploy_ready(world, **{"autopilot:scan": "off"})
    d13 = world.push(REPO, "v1.3.0")
    _fail_once(world, "UpdateService", lambda _p: True)
    first = run(world, world.push_event(REPO, d13, "v1.3.0"))
    stale = first["actions"][0]["result"]["taskDefinitionArn"]
    # When v1.4.0 deploys and deregistering the stale revision fails
    d14 = world.push(REPO, "v1.4.0")
    _fail_once(world, "DeregisterTaskDefinition", lambda p: p["taskDefinition"] == stale)
    second = run(world, world.push_event(REPO, d14, "v1.4.0"))
    # Then the deploy stands, and the stale revision's record is kept, not forgotten
    assert outcome(second) == "deployed"
    assert _status(world, stale) == "ACTIVE"
    assert [r.task_definition for r in world.ledger.deploys.list_registered(svc)] == [stale]
    # and the next deploy's clean-up removes it
    d15 = world.push(REPO, "v1.5.0")
    assert outcome(run(world, world.push_event(REPO, d15, "v1.5.0"))) == "deployed"
    assert _status(world, stale) == "INACTIVE"
    assert world.ledger.deploys.list_registered(svc) == []


def test_a_stale_revision_another_service_of_the_family_runs_is_not_deregistered(
    world: Estate,
) -> None:
    # Given v1.3.0's revision registered for web and kept for a retry (UpdateService
    # throttled), and web-b, of the same family, since moved onto that revision by its owner
    svc, _ = deploy_ready(world, **{"autopilot:scan": "off"})
    d13 = world.push(REPO, "v1.3.0")
    _fail_once(world, "UpdateService", lambda _p: True)
    first = run(world, world.push_event(REPO, d13, "v1.3.0"))
    kept = first["actions"][0]["result"]["taskDefinitionArn"]
    other = world.service("web-b", REPO, task_definition=kept, tags={"autopilot:scan": "off"})
    assert [r.task_definition for r in world.ledger.deploys.list_registered(svc)] == [kept]
    # When v1.4.0 deploys to both
    d14 = world.push(REPO, "v1.4.0")
    second = image_events.run(world.push_event(REPO, d14, "v1.4.0"), aws=world.clients)
    # Then web's clean-up leaves web-b's revision (the one its deploy replaced) ACTIVE
    assert second.outcomes() == {svc: "deployed", other: "deployed"}
    assert "ecs:DeregisterTaskDefinition" not in [a.api for a in second.actions]
    assert _status(world, kept) == "ACTIVE"


# -- the config's floors: a tag cannot switch safety off ---------------------------------------
def test_a_scan_floor_makes_a_service_tagged_off_wait_for_its_scan_and_blocks_critical(
    world: Estate, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the config's floor critical and a service tagged autopilot:scan=off
    monkeypatch.setenv("MIN_SCAN_GATE", "critical")
    svc, _ = deploy_ready(world, **{"autopilot:scan": "off"})
    family_before = world.revisions("web")
    digest = world.push(REPO, "v1.3.0")

    # When the push arrives, then a scan with a CRITICAL finding
    pushed = run(world, world.push_event(REPO, digest, "v1.3.0"))
    scanned = run(world, world.scan_event(REPO, digest, {"CRITICAL": 1}, tags=["v1.3.0"]))

    # Then the push waited for the scan, the scan blocked it, and each reason names the floor
    assert outcome(pushed) == "awaiting-scan"
    assert outcome(scanned) == "blocked"
    floor = "scan gate critical (the config's floor; the tag says off)"
    assert floor in pushed["decisions"][0]["reason"]
    assert floor in scanned["decisions"][0]["reason"]
    assert world.revisions("web") == family_before
    assert world.running_image(svc).endswith(":v1.2.0")


def test_a_cluster_that_requires_approval_holds_a_service_tagged_auto(
    world: Estate, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the service's cluster requires approval, whatever autopilot:approval=auto says
    monkeypatch.setenv("MANUAL_APPROVAL_CLUSTER_ARNS", CLUSTER_ARN)
    svc, _ = deploy_ready(world, **{"autopilot:scan": "off", "autopilot:approval": "auto"})
    digest = world.push(REPO, "v1.3.0")

    report = run(world, world.push_event(REPO, digest, "v1.3.0"))

    assert outcome(report) == "pending-approval"
    assert (
        "the config requires it in this cluster; the tag says auto"
        in (report["decisions"][0]["reason"])
    )
    assert world.running_image(svc).endswith(":v1.2.0")
    assert world.ledger.state.load(svc).pending_approval == {digest}
