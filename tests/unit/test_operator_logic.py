"""Pure logic of the operator controls: notices people can act on, approvals superseded by
a newer image, approval expiry, --since."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from autopilot.domain.images import ImageInfo
from autopilot.domain.records import ApprovalRecord, ScanRecord
from autopilot.domain.report import ANNOUNCED, Decision, Outcome
from autopilot.logic.image_plan import superseded_by
from autopilot.logic.notices import notice_params, subject_line
from autopilot.logic.policy import parse_policy
from autopilot.settings import ImageEventsSettings

from cli.controls import OperatorError, parse_since

SVC = "arn:aws:ecs:eu-west-1:123456789012:service/demo-cluster/web"
DIGEST = "sha256:" + "ab" * 32
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def decision(outcome: Outcome, **kw: object) -> Decision:
    values: dict[str, object] = {
        "service": SVC,
        "outcome": outcome,
        "reason": "why it happened",
        "repository": "demo/web",
        "tag": "1.4.2",
        "digest": DIGEST,
        "notify": True,
    }
    values.update(kw)
    return Decision(**values)  # type: ignore[arg-type]


def params(d: Decision) -> tuple[dict[str, object], str, dict[str, object]]:
    p = notice_params("arn:aws:sns:eu-west-1:123456789012:notices", "image-events", "e-1", d)
    message = json.loads(str(p["Message"]))
    return p, message["default"], json.loads(message["sqs"])


def test_subject_is_one_line_with_service_outcome_tag_and_digest() -> None:
    p, _text, _details = params(decision(Outcome.DEPLOYED))
    assert p["Subject"] == f"[autopilot] web: deployed 1.4.2 ({DIGEST[:19]})"
    long = decision(Outcome.BLOCKED, tag="x" * 200 + "\nsecond line")
    subject = subject_line(long)
    assert len(subject) <= 100
    assert "\n" not in subject


def test_attributes_filterable_by_outcome_service_severity() -> None:
    p, _text, _details = params(decision(Outcome.ROLLED_BACK))
    attributes = p["MessageAttributes"]
    assert isinstance(attributes, dict)
    assert {k: v["StringValue"] for k, v in attributes.items()} == {
        "outcome": "rolled-back",
        "service": SVC,
        "severity": "error",
    }
    assert p["MessageStructure"] == "json"


def test_blocked_body_has_the_reason_the_counts_and_the_next_step() -> None:
    d = decision(Outcome.BLOCKED, reason="1 CRITICAL finding", counts={"CRITICAL": 1, "HIGH": 2})
    _p, text, details = params(d)
    lines = text.splitlines()
    assert lines[0] == f"web: blocked 1.4.2 ({DIGEST[:19]})"
    assert "Reason:     1 CRITICAL finding" in text
    assert "Findings:   CRITICAL=1, HIGH=2" in text
    assert "Next step:" in text
    assert "push a new image" in text
    assert "Details (JSON):" in text
    assert details["counts"] == {"CRITICAL": 1, "HIGH": 2}
    assert details["text"].startswith("web: blocked")


def test_pending_approval_says_what_deploys_and_the_commands() -> None:
    image = f"123456789012.dkr.ecr.eu-west-1.amazonaws.com/demo/web@{DIGEST}"
    d = decision(Outcome.PENDING_APPROVAL, image=image, approval_expires="2026-01-02T00:00:00Z")
    _p, text, details = params(d)
    assert f"Image:      {image}" in text
    assert f"autopilot approve web {DIGEST}" in text
    assert f"autopilot reject web {DIGEST}" in text
    assert "2026-01-02T00:00:00Z" in text
    assert details["approval_expires"] == "2026-01-02T00:00:00Z"


def test_every_announced_outcome_has_a_next_step_other_than_history() -> None:
    for outcome in ANNOUNCED:
        _p, _text, details = params(decision(outcome))
        assert not str(details["next_step"]).startswith("See: "), outcome


def test_nothing_to_do_outcomes_are_not_announceable() -> None:
    quiet = {
        Outcome.ALREADY_RUNNING,
        Outcome.OLDER,
        Outcome.POLICY_MISMATCH,
        Outcome.AWAITING_SCAN,
        Outcome.IGNORED,
        Outcome.BUSY,
        Outcome.DUPLICATE,
        Outcome.BALANCED,
        Outcome.DEFERRED,
        Outcome.DEBOUNCED,
        Outcome.UNCHANGED,
        Outcome.LAST_KNOWN_GOOD,
        Outcome.PROTECTED,
        Outcome.ADMITTED,
    }
    assert not quiet & ANNOUNCED
    assert quiet | ANNOUNCED == set(Outcome)


def scan(digest: str, counts: dict[str, int]) -> ScanRecord:
    return ScanRecord("demo/web", digest, "complete", counts, "COMPLETE", T0, "e")


def image(digest: str, tag: str, minutes: int) -> ImageInfo:
    return ImageInfo(digest, (tag,), T0 + timedelta(minutes=minutes))


def test_a_newer_version_supersedes_unless_blocked_or_quarantined() -> None:
    mine = image("sha256:1", "1.3.0", 0)
    newer = image("sha256:2", "1.4.0", 1)
    policy = parse_policy("semver")

    def check(scans: dict[str, ScanRecord | None], quarantined: frozenset[str]) -> object:
        return superseded_by(
            mine, [mine, newer], policy, gate="critical", scans=scans, quarantined=quarantined
        )

    assert check({}, frozenset()) == newer  # awaiting its scan: it will be asked for
    assert check({"sha256:2": scan("sha256:2", {})}, frozenset()) == newer
    assert check({"sha256:2": scan("sha256:2", {"CRITICAL": 1})}, frozenset()) is None
    assert check({}, frozenset({"sha256:2"})) is None


def test_older_versions_and_out_of_scope_ones_do_not_supersede() -> None:
    mine = image("sha256:1", "1.3.0", 5)
    older = image("sha256:0", "1.2.9", 9)  # pushed later, lower version
    major = image("sha256:2", "2.0.0", 6)
    kw = {"gate": "off", "scans": {}, "quarantined": frozenset()}
    assert superseded_by(mine, [older], parse_policy("semver"), **kw) is None  # type: ignore[arg-type]
    assert superseded_by(mine, [major], parse_policy("semver:minor"), **kw) is None  # type: ignore[arg-type]
    assert superseded_by(mine, [major], parse_policy("semver"), **kw) == major  # type: ignore[arg-type]


def test_non_version_policies_compare_push_times_of_matching_tags() -> None:
    mine = image("sha256:1", "main-1", 0)
    later = image("sha256:2", "main-2", 1)
    other = image("sha256:3", "dev-9", 2)
    policy = parse_policy("glob:main-*")
    kw = {"gate": "off", "scans": {}, "quarantined": frozenset()}
    assert superseded_by(mine, [other], policy, **kw) is None  # type: ignore[arg-type]
    assert superseded_by(mine, [later, other], policy, **kw) == later  # type: ignore[arg-type]


def test_an_approval_expires_only_while_pending() -> None:
    pending = ApprovalRecord(DIGEST, "pending", approval_expires=100)
    assert not pending.expired(99)
    assert pending.expired(100)
    assert not pending._replace(status="approved").expired(1000)
    assert not ApprovalRecord(DIGEST, "pending").expired(10**12)  # no expiry recorded
    assert pending.expires_iso == "1970-01-01T00:01:40.000000Z"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2h", T0 - timedelta(hours=2)),
        ("30m", T0 - timedelta(minutes=30)),
        ("7d", T0 - timedelta(days=7)),
        ("90s", T0 - timedelta(seconds=90)),
        ("2025-12-31T12:00:00Z", datetime(2025, 12, 31, 12, tzinfo=UTC)),
        ("2025-12-31T12:00:00", datetime(2025, 12, 31, 12, tzinfo=UTC)),
    ],
)
def test_since_takes_durations_and_iso_times(text: str, expected: datetime) -> None:
    assert parse_since(text, T0) == expected


def test_since_rejects_junk_with_a_clear_error() -> None:
    with pytest.raises(OperatorError, match="--since"):
        parse_since("last week", T0)


def test_the_approval_ttl_comes_from_the_settings() -> None:
    base = {
        "powertools_service_name": "image-events",
        "powertools_metrics_namespace": "EcsAutopilot",
        "ledger_table": "t",
        "notices_topic_arn": "arn:aws:sns:eu-west-1:123456789012:n",
        "cluster_arns": "arn:aws:ecs:eu-west-1:123456789012:cluster/c",
    }
    assert ImageEventsSettings.model_validate(base).approval_ttl_hours == 24
    ttl = ImageEventsSettings.model_validate({**base, "approval_ttl_hours": "6"}).approval_ttl_hours
    assert ttl == 6
