"""The reconciler's retention step against moto: the protective tags follow what runs and the
last known good (PutImage of the target's manifest moves a tag), cost nothing once right,
change nothing in a dry run, and stay off a repository whose tags cannot move."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from autopilot.handlers import deployment_events, image_events, reconciler
from autopilot.logic.retention import good_tag, run_tag, service_key
from autopilot.settings import get_settings
from moto.ecr.responses import ECRResponse

from tests.estate import ACCOUNT, REGION, Estate

REPO = "demo/web"
PREFIX = "autopilot-keep-"
RULE_ARN = f"arn:aws:events:{REGION}:{ACCOUNT}:rule/autopilot-reconcile"


@pytest.fixture
def kept(world: Estate) -> Iterator[Estate]:
    """The world with the reconciler's retention on (as the CDK app sets it)."""
    os.environ.update({"RETENTION_PREFIX": PREFIX, "RETENTION_KEEP": "2"})
    get_settings.cache_clear()
    yield world
    for name in ("RETENTION_PREFIX", "RETENTION_KEEP"):
        os.environ.pop(name, None)
    get_settings.cache_clear()


def sweep(world: Estate, **kw: Any) -> dict[str, Any]:
    tick = world.envelope("Scheduled Event", "aws.events", {}, resources=[RULE_ARN])
    return reconciler.run(tick, aws=world.clients, **kw).to_json()


def tags(world: Estate) -> dict[str, set[str]]:
    """digest -> its tags, as ECR holds them."""
    out: dict[str, set[str]] = {}
    for page in world.ecr.get_paginator("describe_images").paginate(repositoryName=REPO):
        for d in page["imageDetails"]:
            out[d["imageDigest"]] = set(d.get("imageTags", []))
    return out


def completed(world: Estate, svc: str) -> None:
    """ECS completes the service's deployment; deployment-events records the last known good."""
    deployment = world.start_deployment(svc)
    world.finish_deployment(svc)
    event = world.deployment_event(svc, "COMPLETED", deployment)
    report = deployment_events.run(event, aws=world.clients)
    assert report.outcomes() == {svc: "last-known-good"}


def on(world: Estate, tag: str) -> tuple[str, str]:
    digest = world.push(REPO, tag)
    world.hold_scan(REPO, digest, {})
    return world.service("web", REPO, digest=digest), digest


def test_the_tags_follow_what_runs_and_the_last_known_good(kept: Estate) -> None:
    world = kept
    # Given a service on v1.2.0 (digest a)
    svc, a = on(world, "v1.2.0")
    key = service_key(svc)

    # When the sweep runs: the run slot goes on a (no last known good yet)
    report = sweep(world)
    assert [d["outcome"] for d in report["decisions"]] == ["protected"]
    assert world.calls["ecr:PutImage"] == 1
    assert tags(world)[a] == {"v1.2.0", run_tag(PREFIX, key)}

    # And v1.3.0 (b) deploys by its event and ECS completes it
    b = world.push(REPO, "v1.3.0")
    world.hold_scan(REPO, b, {})
    pushed = image_events.run(world.push_event(REPO, b, "v1.3.0"), aws=world.clients)
    assert pushed.outcomes() == {svc: "deployed"}
    completed(world, svc)

    # Then the next sweep moves the run slot to b and puts good-1 on it
    world.reset_counts()
    report = sweep(world)
    assert {d["tag"] for d in report["decisions"]} == {
        run_tag(PREFIX, key),
        good_tag(PREFIX, key, 1),
    }
    held = tags(world)
    assert held[b] == {"v1.3.0", run_tag(PREFIX, key), good_tag(PREFIX, key, 1)}
    assert held[a] == {"v1.2.0"}  # the tag moved off it; it kept its own
    assert world.calls["ecr:PutImage"] == 2
    assert world.calls["ecr:BatchGetImage"] == 1

    # And v1.4.0 (c) completes: good-1 -> c, good-2 -> b (the history shifts down)
    c = world.push(REPO, "v1.4.0")
    world.hold_scan(REPO, c, {})
    assert image_events.run(world.push_event(REPO, c, "v1.4.0"), aws=world.clients).outcomes() == {
        svc: "deployed"
    }
    completed(world, svc)
    sweep(world)
    held = tags(world)
    assert held[c] == {"v1.4.0", run_tag(PREFIX, key), good_tag(PREFIX, key, 1)}
    assert held[b] == {"v1.3.0", good_tag(PREFIX, key, 2)}

    # And once the tags are right a sweep moves nothing and records nothing
    world.reset_counts()
    report = sweep(world)
    assert report["decisions"] == []
    assert "ecr:PutImage" not in world.calls
    assert "ecr:BatchGetImage" not in world.calls


def test_a_dry_run_lists_the_moves_and_changes_no_tag(kept: Estate) -> None:
    world = kept
    svc, a = on(world, "v1.2.0")

    report = sweep(world, dry_run=True)

    assert [a["api"] for a in report["actions"]] == ["ecr:PutImage"]
    assert report["actions"][0]["params"]["imageTag"] == run_tag(PREFIX, service_key(svc))
    assert tags(world)[a] == {"v1.2.0"}
    assert "ecr:PutImage" not in world.calls


def test_an_immutable_repository_keeps_its_tags_and_the_sweep_says_why(kept: Estate) -> None:
    world = kept
    world.ecr.create_repository(repositoryName=REPO, imageTagMutability="IMMUTABLE")
    world.repos.add(REPO)
    _, a = on(world, "v1.2.0")

    report = sweep(world)

    (decision,) = report["decisions"]
    assert decision["outcome"] == "ignored"
    assert "IMMUTABLE" in decision["reason"]
    assert "autopilot adopt" in decision["reason"]
    assert tags(world)[a] == {"v1.2.0"}
    assert "ecr:PutImage" not in world.calls


def test_immutable_with_the_prefix_excluded_lets_the_tags_move(kept: Estate) -> None:
    world = kept
    world.ecr.create_repository(
        repositoryName=REPO,
        imageTagMutability="IMMUTABLE_WITH_EXCLUSION",
        imageTagMutabilityExclusionFilters=[{"filterType": "WILDCARD", "filter": PREFIX + "*"}],
    )
    world.repos.add(REPO)
    svc, a = on(world, "v1.2.0")
    sweep(world)
    assert tags(world)[a] == {"v1.2.0", run_tag(PREFIX, service_key(svc))}

    # a move onto another digest (the tag is mutable under the exclusion)
    b = world.push(REPO, "v1.3.0")
    world.hold_scan(REPO, b, {})
    image_events.run(world.push_event(REPO, b, "v1.3.0"), aws=world.clients)
    sweep(world)
    assert run_tag(PREFIX, service_key(svc)) in tags(world)[b]


def test_without_a_prefix_the_sweep_keeps_no_tags(world: Estate) -> None:
    _, a = on(world, "v1.2.0")

    report = sweep(world)

    assert report["decisions"] == []
    assert tags(world)[a] == {"v1.2.0"}


@pytest.fixture
def tag_status_filter(monkeypatch: pytest.MonkeyPatch) -> None:
    """DescribeImages with ``filter.tagStatus`` TAGGED answers tagged images only, as ECR
    does (moto ignores the filter and lists untagged ones too)."""
    answer = ECRResponse.describe_images

    def filtered(self: ECRResponse) -> Any:
        result = answer(self)
        status = (self._get_param("filter") or {}).get("tagStatus")
        if status == "TAGGED":
            details = result.result["imageDetails"]  # type: ignore[attr-defined]
            details[:] = [d for d in details if getattr(d, "image_tags", None)]
        return result

    monkeypatch.setattr(ECRResponse, "describe_images", filtered)


def test_an_untagged_running_digest_is_found_and_protected(
    kept: Estate, tag_status_filter: None
) -> None:
    world = kept
    # Given a service on a digest pushed without a tag (so never in a listing of tagged images)
    world.repo(REPO)
    digest = world.push(REPO, None)
    world.hold_scan(REPO, digest, {})
    svc = world.service("web", REPO, digest=digest)

    sweep(world)

    # Then it is asked for by digest and gets its run slot: lifecycle rules keep it
    assert tags(world)[digest] == {run_tag(PREFIX, service_key(svc))}

    # And once tagged, it is in the listing: no more DescribeImages by digest
    world.reset_counts()
    report = sweep(world)
    assert report["decisions"] == []
    assert world.calls["ecr:DescribeImages"] == 1


def test_the_slots_of_a_service_no_longer_tracked_are_taken_off(kept: Estate) -> None:
    world = kept
    # Given two services of the repository, each with its run slot on a released image
    web, a = on(world, "v1.2.0")
    api = world.service("api", REPO, digest=a)
    sweep(world)
    assert tags(world)[a] == {
        "v1.2.0",
        run_tag(PREFIX, service_key(web)),
        run_tag(PREFIX, service_key(api)),
    }

    # When api stops tracking the repository
    world.ecs.untag_resource(resourceArn=api, tagKeys=["autopilot:repository"])
    world.reset_counts()
    report = sweep(world)

    # Then its slot is taken off by tag (BatchDeleteImage), the image kept with its others
    (decision,) = report["decisions"]
    assert decision["outcome"] == "protected"
    assert run_tag(PREFIX, service_key(api)) in decision["reason"]
    assert world.calls["ecr:BatchDeleteImage"] == 1
    assert tags(world)[a] == {"v1.2.0", run_tag(PREFIX, service_key(web))}


def test_the_push_of_a_protective_tag_is_no_release(kept: Estate) -> None:
    # Given a service on v1.2.0 and a newer image, v1.3.0, to which the reconciler put a
    # protective tag: ECR reports that PutImage as a PUSH of the tag
    kept.service("web", REPO, digest=kept.push(REPO, "v1.2.0"))
    digest = kept.push(REPO, "v1.3.0")
    kept.hold_scan(REPO, digest, {})
    slot = f"{PREFIX}web-0a1b2c3d-good-2"
    event = kept.push_event(REPO, digest, slot)

    report = image_events.run(event, aws=kept.clients).to_json()

    # Then image-events takes it for what it is: nothing deployed, and said why
    (decision,) = report["decisions"]
    assert decision["outcome"] == "ignored"
    assert f"tag {slot} is a protective tag (prefix {PREFIX}), not a release" in decision["reason"]
    assert kept.mutations().get("ecs:UpdateService", 0) == 0
