"""The re-gate of running images against moto: an Inspector finding (or a rescan) that makes
a digest some service runs fail that service's scan gate -> one notice naming the services
and the findings, the digest marked vulnerable in the ledger, nothing running stopped; the
reconciler then deploys a newer eligible image if one exists, never an older one."""

from __future__ import annotations

import json
from typing import Any

import pytest
from autopilot.handlers import deployment_events, image_events, reconciler

from cli import controls as operator
from cli import main as cli_main
from tests.estate import ACCOUNT, CLUSTER_ARN, REGION, REGISTRY, TABLE, Estate

REPO = "demo/web"
RULE_ARN = f"arn:aws:events:{REGION}:{ACCOUNT}:rule/autopilot-reconcile"


def finding_event(
    world: Estate,
    repo: str,
    digest: str,
    *,
    severity: str = "CRITICAL",
    status: str = "ACTIVE",
    event_id: str | None = None,
) -> dict[str, Any]:
    """``Inspector2 Finding`` about an ECR image (the shape of
    ``events/inspector2-finding-critical.json``: the image only in its resource)."""
    image_arn = f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/{repo}/{digest}"
    image = {
        "architecture": "arm64",
        "imageHash": digest,
        "imageTags": ["v1.2.0"],
        "platform": "UBUNTU_24_04",
        "pushedAt": "Wed Sep 04 16:55:28.000 UTC 2024",
        "registry": ACCOUNT,
        "repositoryName": repo,
    }
    detail = {
        "awsAccountId": ACCOUNT,
        "findingArn": f"arn:aws:inspector2:{REGION}:{ACCOUNT}:finding/0f3a5b7c9d1e2f40",
        "firstObservedAt": "Wed Sep 04 16:55:38.411 UTC 2024",
        "resources": [
            {
                "details": {"awsEcrContainerImage": image},
                "id": image_arn,
                "partition": "aws",
                "region": REGION,
                "type": "AWS_ECR_CONTAINER_IMAGE",
            }
        ],
        "severity": severity,
        "status": status,
        "title": "CVE-2024-6119 - libssl3t64, openssl",
        "type": "PACKAGE_VULNERABILITY",
    }
    return world.envelope(
        "Inspector2 Finding", "aws.inspector2", detail, resources=[image_arn], event_id=event_id
    )


def run(world: Estate, event: dict[str, Any]) -> dict[str, Any]:
    return image_events.run(event, aws=world.clients).to_json()


def sweep(world: Estate) -> dict[str, Any]:
    tick = world.envelope("Scheduled Event", "aws.events", {}, resources=[RULE_ARN])
    return reconciler.run(tick, aws=world.clients).to_json()


def outcomes(report: dict[str, Any]) -> dict[str, str]:
    return {d["service"]: d["outcome"] for d in report["decisions"]}


def running_on(world: Estate, name: str, digest: str) -> str:
    return world.service(name, REPO, digest=digest)


def clean_image(world: Estate, tag: str) -> str:
    digest = world.push(REPO, tag)
    world.hold_scan(REPO, digest, {})
    return digest


def test_a_running_digest_that_turns_critical_is_announced_once_and_marked(world: Estate) -> None:
    # Given two services running v1.2.0, clean when it was deployed
    digest = clean_image(world, "v1.2.0")
    web, api = running_on(world, "web", digest), running_on(world, "api", digest)
    before = {s: world.describe(s)["taskDefinition"] for s in (web, api)}
    world.reset_counts()

    # When Inspector finds a CRITICAL in it (ECR's scan now says so)
    world.hold_scan(REPO, digest, {"CRITICAL": 1, "HIGH": 2}, inspector=True)
    event = finding_event(world, REPO, digest)
    report = run(world, event)
    reads = world.reads()

    # Then both are vulnerable, one notice names them and the findings, nothing is stopped
    assert outcomes(report) == {
        web: "vulnerable",
        api: "vulnerable",
        f"repository/{REPO}": "vulnerable",
    }
    # no RegisterTaskDefinition, UpdateService, StopTask: the one notice only
    assert world.mutations() == {"sns:Publish": 1}
    assert {s: world.describe(s)["taskDefinition"] for s in (web, api)} == before
    (notice,) = world.notices()
    assert notice["attributes"]["outcome"] == "vulnerable"
    assert notice["attributes"]["severity"] == "warning"
    text = notice["message"]["text"]
    assert "web (scan found CRITICAL=1 (gate critical))" in text
    assert "api (scan found CRITICAL=1 (gate critical))" in text
    assert "CRITICAL=1, HIGH=2" in text  # the findings by severity
    assert "Nothing running was stopped" in text
    assert notice["message"]["digest"] == digest
    # the verdict is ECR's, read at decision time: a push's reads, one scan read for both
    assert reads == {
        "resource-groups-tagging-api:GetResources": 1,
        "ecs:DescribeServices": 1,
        "ecs:DescribeTaskDefinition": 2,
        "ecr:DescribeImages": 1,
        "ecr:DescribeImageScanFindings": 1,
    }
    for svc in (web, api):
        (mark,) = world.ledger.state.load(svc).vulnerable
        assert (mark.digest, mark.verdict, mark.counts) == (
            digest,
            "CRITICAL",
            {"CRITICAL": 1, "HIGH": 2},
        )
    assert world.ledger.decisions.list(web)[0]["outcome"] == "vulnerable"

    # When the same finding is delivered again, or another finding of the same verdict
    world.reset_counts()
    again = run(world, event)
    other = run(world, finding_event(world, REPO, digest, severity="HIGH"))

    # Then no second notice: a duplicate, and a verdict announced already
    assert again["duplicate"] is True
    assert outcomes(other)[web] == "vulnerable"
    assert f"repository/{REPO}" not in outcomes(other)
    assert "announced already" in other["decisions"][0]["reason"]
    assert world.notices() == []
    assert world.mutations() == {}


def test_a_rescan_of_a_running_digest_regates_it_too(world: Estate) -> None:
    digest = clean_image(world, "v1.2.0")
    web = running_on(world, "web", digest)

    report = run(world, world.scan_event(REPO, digest, {"CRITICAL": 2}, inspector=True))

    assert outcomes(report) == {web: "vulnerable", f"repository/{REPO}": "vulnerable"}
    (notice,) = world.notices()
    assert notice["attributes"]["outcome"] == "vulnerable"
    assert world.ledger.state.load(web).vulnerable[0].digest == digest


def test_a_finding_about_a_digest_no_service_runs_is_recorded_ignored(world: Estate) -> None:
    running = clean_image(world, "v1.2.0")
    web = running_on(world, "web", running)
    other = world.push(REPO, "v0.9.0")
    world.hold_scan(REPO, other, {"CRITICAL": 3}, inspector=True)
    event = finding_event(world, REPO, other)
    world.reset_counts()

    report = run(world, event)

    assert outcomes(report) == {f"repository/{REPO}": "ignored"}
    assert "no managed service runs this digest" in report["decisions"][0]["reason"]
    assert world.notices() == []
    assert world.mutations() == {}
    assert world.ledger.state.load(web).vulnerable == ()
    # what the services run is read, and no scan: nothing runs the digest
    assert world.reads() == {
        "resource-groups-tagging-api:GetResources": 1,
        "ecs:DescribeServices": 1,
        "ecs:DescribeTaskDefinition": 1,
        "ecr:DescribeImages": 1,
    }
    (recorded,) = world.ledger.decisions.list(f"repository/{REPO}")
    assert recorded["outcome"] == "ignored"


def test_a_later_passing_verdict_clears_the_mark(world: Estate) -> None:
    digest = clean_image(world, "v1.2.0")
    web = running_on(world, "web", digest)
    world.hold_scan(REPO, digest, {"CRITICAL": 1}, inspector=True)
    run(world, finding_event(world, REPO, digest))
    assert world.ledger.state.load(web).vulnerable != ()
    world.notices()

    # the finding is closed: ECR's scan holds no CRITICAL any more
    world.hold_scan(REPO, digest, {"MEDIUM": 1}, inspector=True)
    report = run(world, finding_event(world, REPO, digest, status="CLOSED"))

    assert outcomes(report) == {web: "already-running"}
    assert world.ledger.state.load(web).vulnerable == ()
    assert world.notices() == []


def test_the_reconciler_deploys_a_newer_clean_image_over_a_vulnerable_one(world: Estate) -> None:
    # Given web on v1.2.0, turned CRITICAL, and a clean v1.3.0 whose push event was lost
    digest = clean_image(world, "v1.2.0")
    web = running_on(world, "web", digest)
    world.hold_scan(REPO, digest, {"CRITICAL": 1}, inspector=True)
    run(world, finding_event(world, REPO, digest))
    newer = clean_image(world, "v1.3.0")
    world.notices()

    # When the schedule ticks
    report = sweep(world)

    # Then the sweep deploys v1.3.0, and its completed deployment clears the mark
    assert outcomes(report) == {web: "deployed"}
    assert world.running_image(web) == f"{REGISTRY}/{REPO}@{newer}"
    deployment = world.start_deployment(web)
    world.finish_deployment(web)
    completed = deployment_events.run(
        world.deployment_event(web, "COMPLETED", deployment), aws=world.clients
    )
    assert outcomes(completed.to_json()) == {web: "last-known-good"}
    assert world.ledger.state.load(web).vulnerable == ()


def test_the_reconciler_never_deploys_older_over_a_vulnerable_one(world: Estate) -> None:
    # Given a clean v1.1.0 older than web's v1.2.0, which turned CRITICAL
    clean_image(world, "v1.1.0")
    digest = clean_image(world, "v1.2.0")
    web = running_on(world, "web", digest)
    world.hold_scan(REPO, digest, {"CRITICAL": 1}, inspector=True)
    run(world, finding_event(world, REPO, digest))
    world.reset_counts()

    report = sweep(world)

    assert web not in outcomes(report)  # its pick is what it runs: nothing to do
    assert world.mutations() == {}
    assert world.running_image(web) == f"{REGISTRY}/{REPO}@{digest}"
    assert world.ledger.state.load(web).vulnerable[0].digest == digest


def test_status_shows_the_vulnerable_digests_per_service(
    world: Estate, capsys: pytest.CaptureFixture[str]
) -> None:
    digest = clean_image(world, "v1.2.0")
    running_on(world, "web", digest)
    world.hold_scan(REPO, digest, {"CRITICAL": 1, "HIGH": 2}, inspector=True)
    run(world, finding_event(world, REPO, digest))
    target = operator.Target(table=TABLE, cluster_arn=CLUSTER_ARN, topic_arn=world.topic_arn)

    (doc,) = operator.status(world.clients, target)

    (vulnerable,) = doc["vulnerable"]
    assert (vulnerable["digest"], vulnerable["verdict"]) == (digest, "CRITICAL")
    assert vulnerable["counts"] == {"CRITICAL": 1, "HIGH": 2}
    json.dumps(doc)
    cli_main._print_status(doc)
    assert f"  vulnerable   {digest}  CRITICAL=1, HIGH=2" in capsys.readouterr().out


def test_the_reconciler_passes_over_a_blocked_newest_for_a_newer_clean_one(world: Estate) -> None:
    # Given web on v1.2.0, turned CRITICAL; v1.3.0 clean and v1.4.0 blocked, events lost
    digest = clean_image(world, "v1.2.0")
    web = running_on(world, "web", digest)
    world.hold_scan(REPO, digest, {"CRITICAL": 1}, inspector=True)
    run(world, finding_event(world, REPO, digest))
    clean = clean_image(world, "v1.3.0")
    newest = world.push(REPO, "v1.4.0")
    world.hold_scan(REPO, newest, {"CRITICAL": 2}, inspector=True)
    world.notices()

    # When the schedule ticks: v1.4.0 is refused by the gate, v1.3.0 is the next pick
    report = sweep(world)

    assert [(d["digest"], d["outcome"]) for d in report["decisions"]] == [
        (newest, "blocked"),
        (clean, "deployed"),
    ]
    assert world.running_image(web) == f"{REGISTRY}/{REPO}@{clean}"
    # and the next sweep finds v1.3.0 running once v1.4.0 is refused again: no deploy
    world.reset_counts()
    again = sweep(world)
    assert [d["outcome"] for d in again["decisions"]] == ["blocked"]
    assert "ecs:UpdateService" not in world.mutations()
