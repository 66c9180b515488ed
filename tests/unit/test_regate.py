"""The re-gate, pure (``logic.regate``): the services that run a digest which now fails their
gate get a vulnerable decision and a mark each, and ONE notice for them all, unless every one
was announced already for the same verdict. And the ``Inspector2 Finding`` model: every real
shape accepted (the image only in its resource), junk rejected."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from autopilot.domain.images import Candidate, ImageInfo
from autopilot.domain.records import ScanRecord, ServiceLedgerState, VulnerableMark
from autopilot.domain.report import Outcome
from autopilot.domain.service import Service
from autopilot.errors import InvalidEvent
from autopilot.events.image import Inspector2FindingEvent, parse_image_event
from autopilot.logic import regate
from autopilot.logic.policy import parse_policy
from autopilot.logic.sweep import policy_pick

T0 = datetime(2026, 1, 1, tzinfo=UTC)
DIGEST = "sha256:" + "d" * 64
CLUSTER = "arn:aws:ecs:us-east-1:123456789012:cluster/c"
EVENTS = Path(__file__).parent.parent.parent / "events"


def svc(name: str) -> Service:
    return Service(
        arn=f"arn:aws:ecs:us-east-1:123456789012:service/c/{name}",
        name=name,
        cluster_arn=CLUSTER,
        task_definition=f"arn:aws:ecs:us-east-1:123456789012:task-definition/{name}:1",
    )


CAND = Candidate("demo/web", DIGEST, ("v1.2.0",), "ev-1", T0, "finding", "registry")


def scan(counts: dict[str, int]) -> ScanRecord:
    return ScanRecord("demo/web", DIGEST, "complete", counts, "ACTIVE", T0, "ev-1")


def blocked(
    name: str,
    counts: dict[str, int],
    *,
    gate: Any = "critical",
    marked: str | None = None,
    by: str = "ev-0",
) -> regate.Regated:
    marks = (VulnerableMark(DIGEST, "demo/web", marked, {}, "earlier", by),) if marked else ()
    reason = ", ".join(f"{k}={v}" for k, v in counts.items())
    return regate.Regated(
        svc(name), gate, ServiceLedgerState(vulnerable=marks), scan(counts), f"scan found {reason}"
    )


def test_one_notice_names_every_service_and_the_findings_nothing_stopped() -> None:
    planned = regate.plan(
        CAND,
        [blocked("web", {"CRITICAL": 1, "LOW": 4}), blocked("api", {"CRITICAL": 2}, gate="high")],
    )

    assert [s.decision.outcome for s in planned.services] == [Outcome.VULNERABLE] * 2
    assert not any(s.decision.notify for s in planned.services)
    assert all("nothing running was stopped" in s.decision.reason for s in planned.services)
    assert [(s.mark.verdict, s.mark.digest) for s in planned.services] == [
        ("CRITICAL", DIGEST),
        ("CRITICAL", DIGEST),
    ]
    notice = planned.notice
    assert notice is not None
    assert (notice.outcome, notice.notify, notice.digest) == (Outcome.VULNERABLE, True, DIGEST)
    assert "web (scan found CRITICAL=1, LOW=4)" in notice.reason
    assert "api (scan found CRITICAL=2)" in notice.reason
    assert "Nothing running was stopped" in notice.reason
    assert notice.counts == {"CRITICAL": 2, "LOW": 4}  # per severity, the most any service saw


def test_no_notice_when_every_service_was_announced_for_the_same_verdict() -> None:
    planned = regate.plan(CAND, [blocked("web", {"CRITICAL": 3}, marked="CRITICAL")])

    assert planned.notice is None
    (only,) = planned.services
    assert not only.new
    assert "announced already" in only.decision.reason
    assert only.mark.counts == {"CRITICAL": 3}  # the mark still takes the latest read


def test_a_retry_of_the_event_that_marked_it_announces_again() -> None:
    # the earlier attempt of ev-1 wrote the mark, and may have died before publishing
    planned = regate.plan(CAND, [blocked("web", {"CRITICAL": 3}, marked="CRITICAL", by="ev-1")])
    assert planned.notice is not None


def test_a_new_service_or_a_new_verdict_is_announced_again() -> None:
    same = blocked("web", {"CRITICAL": 1}, marked="CRITICAL")
    wider = blocked("api", {"CRITICAL": 1, "HIGH": 1}, gate="high", marked="CRITICAL")
    planned = regate.plan(CAND, [same, wider])

    assert [s.new for s in planned.services] == [False, True]
    assert planned.notice is not None
    assert regate.verdict_of("high", scan({"CRITICAL": 1, "HIGH": 1})) == "CRITICAL,HIGH"


def test_a_scan_that_cannot_pass_is_its_own_verdict() -> None:
    failed = ScanRecord(
        "demo/web", DIGEST, "failed", {}, "SCAN_ELIGIBILITY_EXPIRED", T0, "e", reason="stale"
    )
    assert regate.verdict_of("critical", failed) == "failed SCAN_ELIGIBILITY_EXPIRED"
    assert regate.plan(CAND, []) == regate.RegatePlan((), None)


# -- the Inspector2 Finding model --------------------------------------------------------
def sample(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((EVENTS / name).read_text())
    return loaded


@pytest.mark.parametrize(
    "name", ["inspector2-finding-critical.json", "inspector2-finding-2021-shape.json"]
)
def test_both_real_shapes_name_the_image_in_their_resource(name: str) -> None:
    parsed = parse_image_event(sample(name))
    assert isinstance(parsed, Inspector2FindingEvent)
    assert parsed.detail.repository_name == "demo/web"
    assert parsed.detail.image_digest.startswith("sha256:7f5b2640")


def test_a_finding_on_something_else_than_an_ecr_image_is_rejected() -> None:
    event = sample("inspector2-finding-critical.json")
    ec2 = copy.deepcopy(event)
    ec2["detail"]["resources"] = [
        {"type": "AWS_EC2_INSTANCE", "id": "i-0123", "details": {"awsEc2Instance": {}}}
    ]
    junk_digest = copy.deepcopy(event)
    junk_digest["detail"]["resources"][0]["details"]["awsEcrContainerImage"]["imageHash"] = "x"
    no_resources = copy.deepcopy(event)
    no_resources["detail"]["resources"] = []
    for bad in (ec2, junk_digest, no_resources):
        with pytest.raises(InvalidEvent):
            parse_image_event(bad)


def test_the_sweeps_next_pick_leaves_out_the_refused_digests() -> None:
    # the reconciler's fallback: the newest the policy takes among the images not refused
    def img(digest: str, tag: str, minute: int) -> ImageInfo:
        return ImageInfo(digest=digest, tags=(tag,), pushed_at=T0 + timedelta(minutes=minute))

    images = [
        img("sha256:a", "v1.2.0", 0),
        img("sha256:b", "v1.3.0", 1),
        img("sha256:c", "v1.4.0", 2),
    ]
    semver, glob = parse_policy("semver"), parse_policy("tag:v1.3.0")
    assert policy_pick(images, semver, ["v1.2.0"]) == images[2]
    assert policy_pick(images, semver, ["v1.2.0"], exclude=frozenset({"sha256:c"})) == images[1]
    both = frozenset({"sha256:b", "sha256:c"})
    assert policy_pick(images, semver, ["v1.2.0"], exclude=both) == images[0]  # what runs
    assert policy_pick(images, glob, [], exclude=frozenset({"sha256:b"})) is None
