"""The sandbox's lifecycle expiry run (moto runs none): rules by priority, each image expired
by at most one rule, and an image a higher rule selects out of reach of the lower ones."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from autopilot.logic import retention

from sandbox.simulator.lifecycle import Image, evaluate

NOW = datetime(2026, 12, 1, tzinfo=UTC)


def image(n: int, *tags: str, days: int = 0) -> Image:
    """Image ``n``, pushed ``n`` minutes after the others before it (and ``days`` ago)."""
    return Image(f"sha256:{n}", tags, NOW - timedelta(days=days) + timedelta(minutes=n))


def policy(*rules: dict[str, object]) -> str:
    return json.dumps({"rules": list(rules)})


def keep(priority: int, count: int, status: str = "any", **selection: object) -> dict[str, object]:
    return {
        "rulePriority": priority,
        "selection": {
            "tagStatus": status,
            "countType": "imageCountMoreThan",
            "countNumber": count,
            **selection,
        },
        "action": {"type": "expire"},
    }


def test_keep_one_expires_all_but_the_newest() -> None:
    images = [image(1, "v1"), image(2, "v2"), image(3, "v3")]
    gone = evaluate(policy(keep(1, 1)), images, NOW)
    assert {e.digest for e in gone} == {"sha256:1", "sha256:2"}


def test_the_protective_rule_first_keeps_the_prefix_from_every_lower_rule() -> None:
    prefix = retention.DEFAULT_PREFIX
    images = [
        image(1, "v1", prefix + "web-0a1b2c3d-good-2"),
        image(2, "v2"),
        image(3, "v3", prefix + "web-0a1b2c3d-good-1"),
        image(4, "v4"),
        image(5),  # untagged
    ]
    text = policy(
        retention.lifecycle_rule(prefix),
        {
            "rulePriority": 2,
            "selection": {
                "tagStatus": "untagged",
                "countType": "sinceImagePushed",
                "countUnit": "days",
                "countNumber": 1,
            },
            "action": {"type": "expire"},
        },
        keep(3, 1),
    )
    gone = evaluate(text, images, NOW + timedelta(days=2))
    # the protected images survive "keep 1 of any"; the newest other one is kept
    assert {e.digest for e in gone} == {"sha256:2", "sha256:5"}
    assert {e.digest: e.rule for e in gone} == {"sha256:2": 3, "sha256:5": 2}


def test_without_the_rule_the_same_policy_expires_the_protected_images() -> None:
    prefix = retention.DEFAULT_PREFIX
    images = [image(1, "v1", prefix + "web-0a1b2c3d-run"), image(2, "v2")]
    gone = evaluate(policy(keep(1, 1)), images, NOW)
    assert [e.digest for e in gone] == ["sha256:1"]


def test_tag_patterns_and_prefixes_select_as_ecr_says() -> None:
    images = [image(1, "prod-1"), image(2, "prod-2", "x"), image(3, "dev-1")]
    gone = evaluate(policy(keep(1, 0, "tagged", tagPatternList=["prod*"])), images, NOW)
    assert {e.digest for e in gone} == {"sha256:1", "sha256:2"}
    gone = evaluate(policy(keep(1, 0, "tagged", tagPrefixList=["prod", "x"])), images, NOW)
    assert {e.digest for e in gone} == {"sha256:2"}


def test_since_image_pushed_counts_days() -> None:
    images = [image(1, "old", days=10), image(2, "new", days=1)]
    rule = {
        "rulePriority": 1,
        "selection": {
            "tagStatus": "any",
            "countType": "sinceImagePushed",
            "countUnit": "days",
            "countNumber": 7,
        },
        "action": {"type": "expire"},
    }
    assert [e.digest for e in evaluate(policy(rule), images, NOW)] == ["sha256:1"]
