"""image-events and image indexes (multi-architecture images, buildx's default push with a
provenance attestation) against moto: the gate is on the index's manifest for the task's
platform, the revision pins the index."""

from __future__ import annotations

from typing import Any

from autopilot.handlers import image_events

from tests.estate import REGISTRY, Estate

REPO = "demo/web"
AMD64 = {"cpuArchitecture": "X86_64", "operatingSystemFamily": "LINUX"}
ARM64 = {"cpuArchitecture": "ARM64", "operatingSystemFamily": "LINUX"}


def _service(world: Estate, name: str, platform: dict[str, str], **tags: str) -> str:
    """A service on REPO:v1.2.0 whose task definition declares ``platform``."""
    td = world.task_definition(name, f"{REGISTRY}/{REPO}:v1.2.0", runtimePlatform=platform)
    return world.service(name, REPO, task_definition=td, tags=tags)


def _reasons(report: Any) -> dict[str, str]:
    return {d.service: d.reason for d in report.decisions}


def test_an_index_with_one_image_and_an_attestation_gates_on_the_image_and_pins_the_index(
    world: Estate,
) -> None:
    # Given a service on linux/amd64 and a buildx push: one image plus its attestation
    world.push(REPO, "v1.2.0")
    svc = _service(world, "web", AMD64)
    index, children = world.push_index(REPO, "v1.3.0", ("linux/amd64",), attestation=True)
    attestation = next(
        i["imageDigest"]
        for i in world.ecr.describe_images(repositoryName=REPO)["imageDetails"]
        if i["imageDigest"] not in {index, *children.values()} and not i.get("imageTags")
    )

    # When the push arrives (ECR has scanned nothing yet), then the image's scan
    pushed = image_events.run(world.push_event(REPO, index, "v1.3.0"), aws=world.clients)
    scanned = image_events.run(
        world.scan_event(REPO, children["linux/amd64"], {"LOW": 2}), aws=world.clients
    )

    # Then the push waited for the image's scan (never the attestation's, never the
    # index's), and the image's scan deployed the index digest
    assert pushed.outcomes() == {svc: "awaiting-scan"}
    assert children["linux/amd64"] in _reasons(pushed)[svc]
    assert attestation not in _reasons(pushed)[svc]
    assert scanned.outcomes() == {svc: "deployed"}
    (decision,) = scanned.decisions
    assert decision.digest == index
    assert decision.tag == "v1.3.0"
    assert f"scan gate on linux/amd64 manifest {children['linux/amd64']}" in decision.reason
    assert world.running_image(svc) == f"{REGISTRY}/{REPO}@{index}"
    assert "ecr:DescribeImageScanFindings" in world.calls
    # and a re-delivery of the push finds the index running
    again = image_events.run(world.push_event(REPO, index, "v1.3.0"), aws=world.clients)
    assert again.outcomes() == {svc: "already-running"}


def test_an_index_with_two_platforms_gates_each_task_definition_on_its_own_platform(
    world: Estate,
) -> None:
    # Given an amd64 and an arm64 service, and an index of both platforms whose arm64 image
    # has a CRITICAL finding and whose amd64 image is clean
    world.push(REPO, "v1.2.0")
    amd = _service(world, "web-amd64", AMD64)
    arm = _service(world, "web-arm64", ARM64)
    index, children = world.push_index(REPO, "v1.3.0", ("linux/amd64", "linux/arm64"))
    world.hold_scan(REPO, children["linux/amd64"], {"MEDIUM": 1})
    world.hold_scan(REPO, children["linux/arm64"], {"CRITICAL": 1}, inspector=True)

    # When the push arrives
    report = image_events.run(world.push_event(REPO, index, "v1.3.0"), aws=world.clients)

    # Then each service was gated on its own platform's image: amd64 deployed, arm64 blocked
    assert report.outcomes() == {amd: "deployed", arm: "blocked"}
    reasons = _reasons(report)
    assert children["linux/amd64"] in reasons[amd]
    assert children["linux/arm64"] in reasons[arm]
    assert "CRITICAL=1" in reasons[arm]
    assert world.running_image(amd) == f"{REGISTRY}/{REPO}@{index}"
    assert world.running_image(arm).endswith(":v1.2.0")
    assert world.calls["ecr:BatchGetImage"] == 1  # one read of the index for both
    assert world.calls["ecr:DescribeImageScanFindings"] == 2  # one per platform's image


def test_an_index_without_the_tasks_platform_is_rejected_with_the_platforms_it_has(
    world: Estate,
) -> None:
    world.push(REPO, "v1.2.0")
    svc = _service(world, "web", ARM64, **{"autopilot:scan": "off"})
    index, _ = world.push_index(REPO, "v1.3.0", ("linux/amd64",), attestation=True)

    report = image_events.run(world.push_event(REPO, index, "v1.3.0"), aws=world.clients)

    assert report.outcomes() == {svc: "rejected"}
    expected = "the image index has no linux/arm64 manifest (it has linux/amd64)"
    assert _reasons(report)[svc] == expected
    assert world.running_image(svc).endswith(":v1.2.0")
    assert "ecs:RegisterTaskDefinition" not in world.calls
