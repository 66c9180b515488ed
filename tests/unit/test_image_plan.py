"""image-events decision table, pure: (candidate, service, ledger state, policy) -> plan."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from autopilot.domain.images import (
    Candidate,
    ContainerImage,
    ImageInfo,
    parse_image,
    tracked_container,
)
from autopilot.domain.records import ScanRecord, ServiceLedgerState
from autopilot.domain.report import Outcome
from autopilot.domain.service import Service
from autopilot.logic.image_plan import decide, precheck
from autopilot.logic.policy import Floors, parse_service_config, service_config
from autopilot.logic.scan import scan_record
from autopilot.logic.taskdef import pinned_registration

T0 = datetime(2026, 1, 1, tzinfo=UTC)
REG = "123456789012.dkr.ecr.us-east-1.amazonaws.com"
NEW = "sha256:" + "b" * 64
OLD = "sha256:" + "a" * 64
SVC = Service(
    arn="arn:aws:ecs:us-east-1:123456789012:service/c/web",
    name="web",
    cluster_arn="arn:aws:ecs:us-east-1:123456789012:cluster/c",
    task_definition="arn:aws:ecs:us-east-1:123456789012:task-definition/web:3",
)
TD: dict[str, Any] = {
    "taskDefinitionArn": SVC.task_definition,
    "family": "web",
    "revision": 3,
    "status": "ACTIVE",
    "compatibilities": ["EC2", "FARGATE"],
    "requiresAttributes": [{"name": "x"}],
    "registeredAt": T0,
    "registeredBy": "me",
    "networkMode": "awsvpc",
    "cpu": "256",
    "memory": "512",
    "containerDefinitions": [
        {"name": "app", "image": f"{REG}/demo/web:v1.2.0"},
        {"name": "log", "image": "fluent/fluent-bit:3"},
    ],
}


def cand(tags: tuple[str, ...] = ("v1.3.0",), trigger: str = "push") -> Candidate:
    return Candidate("demo/web", NEW, tags, "e1", T0, trigger, REG)  # type: ignore[arg-type]


def cfg(**tags: str) -> Any:
    config = parse_service_config({"autopilot:repository": "demo/web", **tags})
    assert config is not None
    return config


def clean() -> ScanRecord:
    record = scan_record(
        repository="demo/web", digest=NEW, status="COMPLETE", counts={}, at=T0, event_id="s"
    )
    assert record is not None
    return record


def running(image: str = f"{REG}/demo/web:v1.2.0") -> ContainerImage:
    return ContainerImage("app", image, parse_image(image))


def plan(
    c: Candidate,
    config: Any,
    *,
    state: ServiceLedgerState | None = None,
    run: ContainerImage | None = None,
    running_digest: str | None = OLD,
    cand_time: int = 10,
    run_time: int = 5,
    run_tags: tuple[str, ...] = ("v1.2.0",),
) -> Any:
    return decide(
        c,
        SVC,
        config,
        state or ServiceLedgerState(),
        running=run or running(),
        running_digest=running_digest,
        cand_info=ImageInfo(NEW, c.tags, T0 + timedelta(minutes=cand_time)),
        running_info=ImageInfo(OLD, run_tags, T0 + timedelta(minutes=run_time)),
        task_definition=TD,
        task_definition_tags=[{"key": "team", "value": "x"}],
    )


@pytest.mark.parametrize(
    ("state", "scan", "tags", "expected"),
    [
        (ServiceLedgerState(paused=True), None, {}, Outcome.PAUSED),
        (ServiceLedgerState(quarantined=frozenset({NEW})), None, {}, Outcome.QUARANTINED),
        (ServiceLedgerState(), None, {}, Outcome.AWAITING_SCAN),
        (ServiceLedgerState(), None, {"autopilot:scan": "off"}, None),
        (ServiceLedgerState(), "clean", {}, None),
        (ServiceLedgerState(), "critical", {}, Outcome.BLOCKED),
        (ServiceLedgerState(), "high", {}, None),
        (ServiceLedgerState(), "high", {"autopilot:scan": "high"}, Outcome.BLOCKED),
        (ServiceLedgerState(), "failed", {}, Outcome.BLOCKED),
    ],
)
def test_precheck(
    state: ServiceLedgerState, scan: str | None, tags: dict[str, str], expected: Outcome | None
) -> None:
    records = {
        None: None,
        "clean": clean(),
        "critical": scan_record(
            repository="demo/web",
            digest=NEW,
            status="COMPLETE",
            counts={"CRITICAL": 1},
            at=T0,
            event_id="s",
        ),
        "high": scan_record(
            repository="demo/web",
            digest=NEW,
            status="COMPLETE",
            counts={"HIGH": 1},
            at=T0,
            event_id="s",
        ),
        "failed": scan_record(
            repository="demo/web", digest=NEW, status="FAILED", counts={}, at=T0, event_id="s"
        ),
    }
    decision = precheck(cand(), SVC, cfg(**tags), state, records[scan])
    assert (decision.outcome if decision else None) == expected


def test_blocked_is_announced_only_when_the_scan_arrives() -> None:
    critical = scan_record(
        repository="demo/web",
        digest=NEW,
        status="COMPLETE",
        counts={"CRITICAL": 1},
        at=T0,
        event_id="s",
    )
    on_scan = precheck(cand(trigger="scan"), SVC, cfg(), ServiceLedgerState(), critical)
    on_push = precheck(cand(), SVC, cfg(), ServiceLedgerState(), critical)
    assert on_scan is not None
    assert on_push is not None
    assert (on_scan.notify, on_push.notify) == (True, False)
    assert on_scan.counts == {"CRITICAL": 1}


@pytest.mark.parametrize(
    ("tags", "policy", "expected"),
    [
        (("v1.3.0",), "semver", Outcome.DEPLOYED),
        (("v1.2.0",), "semver", Outcome.OLDER),
        (("v1.1.9",), "semver", Outcome.OLDER),
        (("latest",), "semver", Outcome.POLICY_MISMATCH),
        (("v2.0.0",), "semver:minor", Outcome.POLICY_MISMATCH),
        (("v1.9.0",), "semver:minor", Outcome.DEPLOYED),
        (("v1.3.0",), "semver:patch", Outcome.POLICY_MISMATCH),
        (("v1.2.7",), "semver:patch", Outcome.DEPLOYED),
        (("v1.3.0-rc.1",), "semver", Outcome.POLICY_MISMATCH),
        (("v1.3.0-rc.1",), "semver+pre", Outcome.DEPLOYED),
        (("latest", "v1.3.0"), "semver", Outcome.DEPLOYED),
        (("release-7",), "glob:release-*", Outcome.DEPLOYED),
        (("nightly",), "glob:release-*", Outcome.POLICY_MISMATCH),
        (("release-7",), r"regex:release-\d+", Outcome.DEPLOYED),
        (("stable",), "tag:stable", Outcome.DEPLOYED),
        (("canary",), "tag:stable", Outcome.POLICY_MISMATCH),
    ],
)
def test_decide_policy_and_newer_than(
    tags: tuple[str, ...], policy: str, expected: Outcome
) -> None:
    result = plan(cand(tags), cfg(**{"autopilot:policy": policy}))
    assert result.decision.outcome == expected
    assert (result.register is not None) == (expected == Outcome.DEPLOYED)


def test_push_time_decides_for_non_semver_policies() -> None:
    config = cfg(**{"autopilot:policy": "tag:stable"})
    older = plan(cand(("stable",)), config, cand_time=1, run_time=5, run_tags=("stable",))
    assert older.decision.outcome == Outcome.OLDER
    newer = plan(cand(("stable",)), config, cand_time=9, run_time=5, run_tags=())
    assert newer.decision.outcome == Outcome.DEPLOYED


def test_already_running_digest_does_nothing() -> None:
    result = plan(cand(), cfg(), running_digest=NEW)
    assert result.decision.outcome == Outcome.ALREADY_RUNNING
    assert result.register is None


def test_manual_approval_unless_approved() -> None:
    config = cfg(**{"autopilot:approval": "manual"})
    assert plan(cand(), config).decision.outcome == Outcome.PENDING_APPROVAL
    approved = ServiceLedgerState(approved=frozenset({NEW}))
    assert plan(cand(), config, state=approved).decision.outcome == Outcome.DEPLOYED


def test_deploy_plan_pins_the_digest_and_keeps_the_rest() -> None:
    result = plan(cand(), cfg())
    register = result.register
    assert register["containerDefinitions"][0]["image"] == f"{REG}/demo/web@{NEW}"
    assert register["containerDefinitions"][1]["image"] == "fluent/fluent-bit:3"
    assert register["tags"] == [{"key": "team", "value": "x"}]
    for read_only in (
        "taskDefinitionArn",
        "revision",
        "status",
        "compatibilities",
        "requiresAttributes",
        "registeredAt",
        "registeredBy",
    ):
        assert read_only not in register
    assert TD["containerDefinitions"][0]["image"].endswith(":v1.2.0")  # input untouched
    assert result.update == {
        "cluster": SVC.cluster_arn,
        "service": SVC.arn,
        "taskDefinition": None,
    }
    assert result.decision.previous_task_definition == SVC.task_definition


@pytest.mark.parametrize("approval", ["auto", "manual"])
def test_a_task_definition_field_autopilot_does_not_know_refuses_the_deploy(
    approval: str,
) -> None:
    td = {**TD, "fooBar": True}
    result = decide(
        cand(),
        SVC,
        cfg(**{"autopilot:approval": approval}),
        ServiceLedgerState(),
        running=running(),
        running_digest=OLD,
        cand_info=ImageInfo(NEW, ("v1.3.0",), T0 + timedelta(minutes=10)),
        running_info=ImageInfo(OLD, ("v1.2.0",), T0),
        task_definition=td,
        task_definition_tags=[],
    )
    assert result.decision.outcome == Outcome.REJECTED
    assert result.decision.reason == (
        f"{SVC.task_definition}: task definition field 'fooBar' is unknown to this version "
        "of autopilot: not copied, so not deployed"
    )
    assert result.decision.notify
    assert result.register is None
    assert result.update is None
    assert not result.asks_approval


def test_tracked_container_by_tag_or_by_repository() -> None:
    assert tracked_container(TD, "demo/web", None) is not None
    log = tracked_container(TD, "demo/web", "log")
    assert log is not None
    assert log.name == "log"
    assert tracked_container(TD, "demo/other", None) is None
    assert tracked_container(TD, "demo/web", "missing") is None
    with pytest.raises(KeyError):
        pinned_registration(TD, [], "missing", "x")


# -- the config's floors: the decision says when one overrode a tag ---------------------------
def floored(floors: Floors, **tags: str) -> Any:
    config = service_config({"autopilot:repository": "demo/web", **tags}, SVC.cluster_arn, floors)
    assert config is not None
    return config


def test_a_scan_floor_holds_a_service_tagged_off_until_its_scan_and_says_so() -> None:
    config = floored(Floors(min_scan="critical"), **{"autopilot:scan": "off"})
    waiting = precheck(cand(), SVC, config, ServiceLedgerState(), None)
    assert waiting is not None
    assert waiting.outcome is Outcome.AWAITING_SCAN
    assert waiting.reason.endswith("scan gate critical (the config's floor; the tag says off)")
    critical = scan_record(
        repository="demo/web",
        digest=NEW,
        status="COMPLETE",
        counts={"CRITICAL": 1},
        at=T0,
        event_id="s",
    )
    blocked = precheck(cand(trigger="scan"), SVC, config, ServiceLedgerState(), critical)
    assert blocked is not None
    assert blocked.outcome is Outcome.BLOCKED
    assert "the tag says off" in blocked.reason
    # a clean scan passes, as it would under the tag critical
    assert precheck(cand(), SVC, config, ServiceLedgerState(), clean()) is None


def test_a_high_floor_blocks_what_the_tag_critical_lets_through() -> None:
    config = floored(Floors(min_scan="high"))
    high = scan_record(
        repository="demo/web",
        digest=NEW,
        status="COMPLETE",
        counts={"HIGH": 2},
        at=T0,
        event_id="s",
    )
    decision = precheck(cand(), SVC, config, ServiceLedgerState(), high)
    assert decision is not None
    assert decision.outcome is Outcome.BLOCKED
    assert "scan gate high (the config's floor; the tag says critical)" in decision.reason


def test_a_cluster_that_requires_approval_holds_a_service_tagged_auto() -> None:
    floors = Floors(manual_approval_clusters=frozenset({SVC.cluster_arn}))
    planned = plan(cand(), floored(floors, **{"autopilot:approval": "auto"}))
    assert planned.decision.outcome is Outcome.PENDING_APPROVAL
    assert planned.asks_approval
    assert planned.decision.reason == (
        "approval manual (the config requires it in this cluster; the tag says auto): "
        "waiting for `autopilot approve`"
    )
    # the same service in a cluster the config names not deploys as its tag says
    other = Floors(manual_approval_clusters=frozenset({"arn:aws:ecs:us-east-1:1:cluster/x"}))
    assert plan(cand(), floored(other)).decision.outcome is Outcome.DEPLOYED
