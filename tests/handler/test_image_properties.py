"""Property: for any sequence of pushes and scans, in any order, with duplicates, the
service ends on the newest eligible (scanned clean, not quarantined) digest and never
moves to an older one on the way."""

from __future__ import annotations

import random
from dataclasses import dataclass

import pytest
from autopilot.handlers import image_events
from autopilot.logic.semver import Version, parse_version
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.estate import Estate

REPO = "demo/web"
VERDICTS = ("clean", "critical", "unscanned", "quarantined")


@dataclass(frozen=True)
class Image:
    version: str
    verdict: str


images_strategy = st.lists(
    st.tuples(st.integers(min_value=1, max_value=9), st.sampled_from(VERDICTS)),
    min_size=1,
    max_size=5,
    unique_by=lambda t: t[0],
).map(lambda xs: [Image(f"v1.{minor}.0", verdict) for minor, verdict in xs])


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    images=images_strategy,
    picks=st.lists(
        st.tuples(st.integers(0, 99), st.booleans(), st.booleans()), min_size=1, max_size=14
    ),
    seed=st.integers(0, 2**16),
)
def test_any_order_of_pushes_and_scans_ends_on_the_newest_eligible_digest(
    aws_env: None, images: list[Image], picks: list[tuple[int, bool, bool]], seed: int
) -> None:
    with Estate() as world:
        world.push(REPO, "v1.0.0")
        svc = world.service("web", REPO, tag="v1.0.0")
        # pushed to ECR in a random order (push time says nothing about version)
        order = list(images)
        random.Random(seed).shuffle(order)
        digests = {img.version: world.push(REPO, img.version) for img in order}
        for img in images:
            if img.verdict == "quarantined":
                world.ledger.state.quarantine(
                    svc, digests[img.version], reason="test", event_id="t"
                )

        pool = []
        for img in images:
            digest = digests[img.version]
            pool.append((img, world.push_event(REPO, digest, img.version)))
            if img.verdict != "unscanned":
                counts = {"CRITICAL": 2} if img.verdict == "critical" else {"LOW": 1}
                tags = [img.version] if seed % 2 else []
                pool.append((img, world.scan_event(REPO, digest, counts, tags=tags)))

        running = parse_version("v1.0.0")
        assert running is not None
        eligible_seen: list[Version] = []
        for index, same_id, _ in picks:
            img, event = pool[index % len(pool)]
            delivered = event if same_id else dict(event, id=f"{event['id']}-again-{index}")
            image_events.run(delivered, aws=world.clients)
            # ECR holds a clean image's scan from the start (its event says so late or
            # never): any of its events makes it eligible
            if img.verdict == "clean":
                version = parse_version(img.version)
                assert version is not None
                eligible_seen.append(version)
            now = parse_version(_running_version(world, svc, digests))
            assert now is not None
            assert now >= running, "moved to an older image"
            running = now

        initial = parse_version("v1.0.0")
        assert initial is not None
        assert running == max([initial, *eligible_seen])


def _running_version(world: Estate, svc: str, digests: dict[str, str]) -> str:
    image = world.running_image(svc)
    if "@" not in image:
        return image.rsplit(":", 1)[-1]
    digest = image.rsplit("@", 1)[-1]
    return next(v for v, d in digests.items() if d == digest)


@pytest.mark.parametrize("reverse", [False, True])
def test_coalesces_to_the_newest_when_scans_arrive_in_either_order(
    world: Estate, reverse: bool
) -> None:
    world.push(REPO, "v1.0.0")
    svc = world.service("web", REPO, tag="v1.0.0")
    older, newer = world.push(REPO, "v1.1.0"), world.push(REPO, "v1.2.0")
    scans = [
        world.scan_event(REPO, older, {}, tags=["v1.1.0"]),
        world.scan_event(REPO, newer, {}, tags=["v1.2.0"]),
    ]
    for event in reversed(scans) if reverse else scans:
        image_events.run(event, aws=world.clients)
    assert world.running_image(svc).endswith(newer)
