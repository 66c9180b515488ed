"""logic.retention: the protective tags follow what runs and the last known good, move only
when wrong, and never take an image's last tag."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from autopilot.domain.images import ImageInfo
from autopilot.logic import retention
from autopilot.logic.policy import parse_policy
from autopilot.logic.retention import Holder, good_tag, run_tag, service_key

P = "autopilot-keep-"
SVC = "arn:aws:ecs:eu-west-1:123456789012:service/demo/web"
KEY = service_key(SVC)


def image(digest: str, *tags: str) -> ImageInfo:
    return ImageInfo(digest=digest, tags=tags, pushed_at=datetime(2026, 1, 1, tzinfo=UTC))


def test_the_key_is_short_stable_and_differs_between_clusters() -> None:
    other = "arn:aws:ecs:eu-west-1:123456789012:service/other/web"
    assert service_key(SVC) == service_key(SVC)
    assert service_key(SVC) != service_key(other)
    assert service_key(SVC).startswith("web-")
    long = "arn:aws:ecs:eu-west-1:123456789012:service/c/" + "n" * 255
    tag = good_tag(P + "x" * (retention.MAX_PREFIX - len(P)), service_key(long), 20)
    assert len(tag) <= 128


def test_slot_tags_parse_back() -> None:
    assert retention.parse_slot(P, run_tag(P, KEY)) == (KEY, 0)
    assert retention.parse_slot(P, good_tag(P, KEY, 3)) == (KEY, 3)
    assert retention.parse_slot(P, "v1.2.0") is None
    assert retention.parse_slot(P, P + "whatever") is None


def test_a_first_sweep_tags_what_runs_and_the_last_known_good() -> None:
    images = [image("sha256:a", "v1"), image("sha256:b", "v2")]
    plan = retention.plan(P, 3, images, [Holder(SVC, "sha256:b", "sha256:a")])
    assert {(m.tag, m.digest) for m in plan.moves} == {
        (run_tag(P, KEY), "sha256:b"),
        (good_tag(P, KEY, 1), "sha256:a"),
    }
    assert plan.drops == ()
    assert plan.protected == {"sha256:a", "sha256:b"}


def test_slots_that_are_right_plan_nothing() -> None:
    images = [
        image("sha256:a", "v1", good_tag(P, KEY, 1)),
        image("sha256:b", "v2", run_tag(P, KEY)),
    ]
    plan = retention.plan(P, 3, images, [Holder(SVC, "sha256:b", "sha256:a")])
    assert plan.empty


def test_a_new_last_known_good_shifts_the_older_ones_down_and_drops_beyond_n() -> None:
    # Given good-1..2 on a and b (keep 2), and a new last known good c
    images = [
        image("sha256:a", "v1", good_tag(P, KEY, 1)),
        image("sha256:b", "v0", good_tag(P, KEY, 2)),
        image("sha256:c", "v2", run_tag(P, KEY)),
    ]
    plan = retention.plan(P, 2, images, [Holder(SVC, "sha256:c", "sha256:c")])
    # Then c is good-1, a moves to good-2, and b (beyond 2) loses its slot by the move
    assert {(m.tag, m.digest) for m in plan.moves} == {
        (good_tag(P, KEY, 1), "sha256:c"),
        (good_tag(P, KEY, 2), "sha256:a"),
    }
    assert plan.protected == {"sha256:a", "sha256:c"}


def test_a_digest_ecr_no_longer_holds_is_never_a_target() -> None:
    images = [image("sha256:a", "v1")]
    plan = retention.plan(P, 3, images, [Holder(SVC, "sha256:gone", "sha256:gone")])
    assert plan.empty


def test_a_slot_no_longer_needed_is_dropped_only_when_its_image_keeps_a_tag() -> None:
    # Given keep=1 and a good-2 on an image with a release tag, a good-3 on one without
    images = [
        image("sha256:a", "v1", good_tag(P, KEY, 1), run_tag(P, KEY)),
        image("sha256:b", "v0", good_tag(P, KEY, 2)),
        image("sha256:c", good_tag(P, KEY, 3)),
    ]
    plan = retention.plan(P, 1, images, [Holder(SVC, "sha256:a", "sha256:a")])
    assert plan.moves == ()
    assert [(d.tag, d.digest) for d in plan.drops] == [(good_tag(P, KEY, 2), "sha256:b")]
    # the last tag of c is left: BatchDeleteImage would delete the image
    assert [(d.tag, d.digest) for d in plan.kept] == [(good_tag(P, KEY, 3), "sha256:c")]


def test_slots_of_a_service_no_longer_tracked_are_dropped_only_for_a_whole_sweep() -> None:
    gone = service_key("arn:aws:ecs:eu-west-1:123456789012:service/demo/old")
    images = [image("sha256:a", "v1", run_tag(P, gone))]
    assert [d.tag for d in retention.plan(P, 3, images, []).drops] == [run_tag(P, gone)]
    assert retention.plan(P, 3, images, [], whole=False).empty


def test_a_running_digest_unknown_drops_the_run_slot() -> None:
    images = [image("sha256:a", "v1", run_tag(P, KEY))]
    plan = retention.plan(P, 3, images, [Holder(SVC, None, None)])
    assert [d.tag for d in plan.drops] == [run_tag(P, KEY)]


@pytest.mark.parametrize(
    ("policy", "collides"),
    [
        ("semver", False),
        ("glob:v*", False),
        ("glob:*", True),
        ("glob:autopilot-*", True),
        ("regex:^.*-run$", True),
        ("tag:latest", False),
    ],
)
def test_a_policy_that_would_take_a_protective_tag_collides(policy: str, collides: bool) -> None:
    found = retention.collision(P, parse_policy(policy))
    assert (found is not None) is collides


def test_a_semver_looking_prefix_collides_with_semver() -> None:
    assert retention.policy_collision("1.0.0-", "semver+pre") is not None


@pytest.mark.parametrize("bad", ["", "-keep", ".x", "a b", "k" * 65, "keep*"])
def test_bad_prefixes_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="not an image tag prefix"):
        retention.check_prefix(bad)


@pytest.mark.parametrize(
    ("mutability", "filters", "ok"),
    [
        ("MUTABLE", [], True),
        ("IMMUTABLE", [], False),
        ("IMMUTABLE_WITH_EXCLUSION", [P + "*"], True),
        ("IMMUTABLE_WITH_EXCLUSION", ["latest"], False),
        ("MUTABLE_WITH_EXCLUSION", [P + "*"], False),
        ("MUTABLE_WITH_EXCLUSION", ["v*"], True),
    ],
)
def test_slots_move_only_where_the_tags_are_mutable(
    mutability: str, filters: list[str], ok: bool
) -> None:
    assert retention.slots_mutable(P, mutability, filters) is ok


def test_the_lifecycle_rule_keeps_the_prefix() -> None:
    rule = retention.lifecycle_rule(P)
    assert rule["rulePriority"] == 1
    assert rule["selection"] == {
        "tagStatus": "tagged",
        "tagPrefixList": [P],
        "countType": "imageCountMoreThan",
        "countNumber": retention.PROTECT_COUNT,
    }


def test_at_most_max_moves_run_slots_first_and_drops_only_against_the_moves_kept() -> None:
    services = [f"arn:aws:ecs:eu-west-1:123456789012:service/demo/s{i}" for i in range(3)]
    images = [image("sha256:a", "v1"), image("sha256:b", "v2")]
    holders = [Holder(s, "sha256:b", "sha256:a") for s in services]
    plan = retention.plan(P, 3, images, holders, max_moves=4)
    # 6 moves wanted (run and good-1 of each): the 3 run slots go first
    assert plan.deferred == 2
    assert [m.tag for m in plan.moves[:3]] == sorted(run_tag(P, service_key(s)) for s in services)
    assert retention.parse_slot(P, plan.moves[3].tag) == (service_key(services[0]), 1)
    # a drop whose image would keep only tags the deferred moves put there waits
    key = service_key(services[2])
    images = [image("sha256:a", good_tag(P, key, 2))]
    holder = Holder(services[2], "sha256:a", None)
    every = retention.plan(P, 1, images, [holder])
    assert [d.tag for d in every.drops] == [good_tag(P, key, 2)]  # a gets the run slot
    none = retention.plan(P, 1, images, [holder], max_moves=0)
    assert none.moves == ()
    assert none.drops == ()
    assert [d.tag for d in none.kept] == [good_tag(P, key, 2)]


def test_a_shard_drops_the_slots_of_a_key_no_live_service_has_and_keeps_the_others() -> None:
    # Given slots of web (the shard's), api (live, in another shard) and gone (no longer
    # managed), each on an image that keeps another tag
    api = "arn:aws:ecs:eu-west-1:123456789012:service/demo/api"
    gone = "arn:aws:ecs:eu-west-1:123456789012:service/demo/gone"
    images = [
        image("sha256:a", "v1", run_tag(P, KEY), run_tag(P, service_key(api))),
        image("sha256:b", "v0", run_tag(P, service_key(gone))),
    ]
    holders = [Holder(SVC, "sha256:a", None)]
    assert retention.foreign_slots(P, images, holders)
    assert not retention.foreign_slots(P, images[:1], [*holders, Holder(api, None, None)])
    # When the shard plans with the live services read from AWS (web and api)
    plan = retention.plan(P, 1, images, holders, whole=False, live=[SVC, api])
    # Then only gone's slot is dropped
    assert [(d.tag, d.digest) for d in plan.drops] == [(run_tag(P, service_key(gone)), "sha256:b")]
    assert plan.moves == ()
