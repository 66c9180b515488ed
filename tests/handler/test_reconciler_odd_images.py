"""The sweep over what ECR really holds: images without tags, an image with hundreds of
tags, an image deleted between the sweep's listing and the flow's look at it. Each is
handled and recorded; nothing crashes and nothing older is deployed."""

from __future__ import annotations

from typing import Any

import pytest
from autopilot.aws import ecr

from tests.estate import REGISTRY, Estate
from tests.handler.test_reconciler import REPO, lost_push, outcomes, running_on, sweep


def test_images_without_tags_are_passed_over(world: Estate) -> None:
    # Given a service on v1.2.0, untagged images (pushes by digest, a tag moved on) and a
    # lost push of v1.3.0
    svc = running_on(world)
    untagged = [world.push(REPO, None) for _ in range(3)]
    digest = lost_push(world, "v1.3.0")

    report = sweep(world)

    # Then the tagged release is deployed; no untagged image is a candidate
    assert outcomes(report) == {svc: "deployed"}
    assert world.running_image(svc) == f"{REGISTRY}/{REPO}@{digest}"
    assert not set(untagged) & {str(x.get("digest")) for x in report["decisions"]}


def test_an_image_with_hundreds_of_tags_is_judged_by_its_newest_release(world: Estate) -> None:
    # Given a service on v1.2.0 and one image carrying 300 tags: CI build ids and v1.4.0
    svc = running_on(world)
    layer = "ab" * 32
    for i in range(299):
        world.push(REPO, f"build-{i:04d}", layer=layer)
    digest = world.push(REPO, "v1.4.0", layer=layer)
    world.hold_scan(REPO, digest, {})

    report = sweep(world)

    assert outcomes(report) == {svc: "deployed"}
    assert world.running_image(svc) == f"{REGISTRY}/{REPO}@{digest}"
    # and a second sweep finds it running: nothing more
    assert sweep(world)["decisions"] == []


def test_an_image_deleted_between_the_listing_and_the_deploy_is_recorded_not_deployed(
    world: Estate, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a service on v1.2.0 and a lost push of v1.3.0 that is deleted right after the
    # sweep lists the repository (a lifecycle rule, a person)
    svc = running_on(world)
    digest = lost_push(world, "v1.3.0")
    listing = ecr.list_images

    def list_then_delete(client: Any, repository: str) -> Any:
        images = listing(client, repository)
        world.ecr.batch_delete_image(repositoryName=REPO, imageIds=[{"imageDigest": digest}])
        return images

    monkeypatch.setattr(ecr, "list_images", list_then_delete)
    before = world.running_image(svc)

    report = sweep(world)

    # Then nothing is deployed: the flow read ECR again and found no such image, and said so
    assert world.running_image(svc) == before
    (decision,) = [d for d in report["decisions"] if d["service"] == svc]
    assert decision["outcome"] in {"ignored", "deferred"}, decision
    assert "no longer in the repository" in decision["reason"], decision
    assert world.mutations().get("ecs:UpdateService", 0) == 0
