"""logic.sweep: which image a policy would deploy now, and the order of a sweep (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from autopilot.domain.images import ImageInfo
from autopilot.logic.policy import parse_policy
from autopilot.logic.sweep import policy_pick, sweep_order

T0 = datetime(2026, 12, 1, tzinfo=UTC)


def img(digest: str, *tags: str, minute: int = 0) -> ImageInfo:
    return ImageInfo(digest=f"sha256:{digest}", tags=tags, pushed_at=T0 + timedelta(minutes=minute))


def test_semver_picks_the_highest_version_not_the_last_push() -> None:
    images = [img("a", "v1.3.0", minute=1), img("b", "v1.2.9", minute=2), img("c", "latest")]
    assert policy_pick(images, parse_policy("semver"), ["v1.2.0"]) == images[0]


def test_semver_skips_pre_releases_and_keeps_to_its_scope() -> None:
    images = [img("a", "v1.4.0-rc.1"), img("b", "v2.0.0"), img("c", "v1.3.1"), img("d", "v1.4.0")]
    assert policy_pick(images, parse_policy("semver"), ["v1.2.0"]) == images[1]
    assert policy_pick(images, parse_policy("semver:minor"), ["v1.2.0"]) == images[3]
    assert policy_pick(images, parse_policy("semver:patch"), ["v1.3.0"]) == images[2]
    # a scoped policy with no running version takes nothing
    assert policy_pick(images, parse_policy("semver:minor"), []) is None


def test_tag_and_glob_policies_pick_the_last_push_they_accept() -> None:
    images = [img("a", "main-1", minute=1), img("b", "main-2", minute=3), img("c", "dev", minute=5)]
    assert policy_pick(images, parse_policy("glob:main-*"), []) == images[1]
    assert policy_pick(images, parse_policy("tag:dev"), []) == images[2]
    assert policy_pick(images, parse_policy("tag:prod"), []) is None


def test_untagged_or_unparseable_images_are_never_picked() -> None:
    assert policy_pick([img("a"), img("b", "nightly")], parse_policy("semver"), []) is None


def test_a_sweep_starts_where_the_last_one_stopped_and_wraps() -> None:
    repos = ["demo/web", "demo/api", "demo/worker"]
    assert sweep_order(repos, None) == ["demo/api", "demo/web", "demo/worker"]
    assert sweep_order(repos, "demo/web") == ["demo/web", "demo/worker", "demo/api"]
    # the repository it stopped at is gone: from the next one in name order
    assert sweep_order(repos, "demo/v") == ["demo/web", "demo/worker", "demo/api"]
    assert sweep_order(repos, "zzz") == ["demo/api", "demo/web", "demo/worker"]
