"""ECR lifecycle expiry, which moto never runs: an explicit expiry run over a repository's
lifecycle policy, deleting what ECR would expire (``autopilot local expire``).

How rules are read (ECR User Guide, "Lifecycle policies" and "Lifecycle policy
properties"):

* the rules are taken in ``rulePriority`` order, lowest first; each image is expired by at
  most one rule;
* a rule selects by ``tagStatus``: ``untagged`` (no tag), ``any`` (every image), or
  ``tagged`` with ``tagPrefixList`` (every prefix starts one of the image's tags) or
  ``tagPatternList`` (every pattern, ``*`` any run, matches one of its tags);
* "an image that matches the tagging requirements of a rule cannot be expired by a rule
  with a lower priority": an image a rule selects is taken out of every lower rule, kept
  or not (the guide's example A, where a lower rule skips the image a higher one kept);
* ``imageCountMoreThan``: of the images the rule selects, newest pushed first (pushes of
  one clock tick in the order ECR lists them), those past
  ``countNumber`` expire; ``sinceImagePushed`` (``countUnit`` days): those pushed more than
  ``countNumber`` days ago expire;
* only ``expire`` actions are run (``transition`` to archive storage is not simulated).

An image a manifest list references is not held back here (ECR waits for the list); the
sandbox's image indexes are pushed with their children untagged, which an untagged rule
would expire.
"""

from __future__ import annotations

import fnmatch
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sandbox.server import Clients


@dataclass(frozen=True)
class Image:
    digest: str
    tags: tuple[str, ...]
    pushed_at: datetime


@dataclass(frozen=True)
class Expired:
    digest: str
    tags: tuple[str, ...]
    #: the rule that expired it (its rulePriority)
    rule: int

    def to_json(self) -> dict[str, Any]:
        return {"digest": self.digest, "tags": list(self.tags), "rule": self.rule}


def _selects(selection: dict[str, Any], image: Image) -> bool:
    status = str(selection.get("tagStatus", "any")).lower()
    if status == "untagged":
        return not image.tags
    if status == "any":
        return True
    if not image.tags:
        return False
    prefixes = selection.get("tagPrefixList") or []
    patterns = selection.get("tagPatternList") or []
    if prefixes:
        return all(any(t.startswith(p) for t in image.tags) for p in prefixes)
    return all(any(fnmatch.fnmatchcase(t, p) for t in image.tags) for p in patterns)


def evaluate(policy_text: str, images: list[Image], now: datetime) -> list[Expired]:
    """What the policy expires among ``images``, rule by rule."""
    rules = sorted(json.loads(policy_text).get("rules", []), key=lambda r: int(r["rulePriority"]))
    seen: set[str] = set()
    out: list[Expired] = []
    for rule in rules:
        selection = rule.get("selection") or {}
        chosen = [i for i in images if i.digest not in seen and _selects(selection, i)]
        seen |= {i.digest for i in chosen}
        if (rule.get("action") or {}).get("type", "expire") != "expire":
            continue
        count = int(selection.get("countNumber", 0))
        if selection.get("countType") == "imageCountMoreThan":
            # newest first; a tie (pushes within one clock tick) goes by the order ECR
            # lists them in, which is the order they were pushed
            order = {i.digest: n for n, i in enumerate(images)}
            newest = sorted(chosen, key=lambda i: (i.pushed_at, order[i.digest]), reverse=True)
            doomed = newest[count:]
        elif selection.get("countType") == "sinceImagePushed":
            doomed = [i for i in chosen if now - i.pushed_at > timedelta(days=count)]
        else:
            doomed = []
        out += [Expired(i.digest, i.tags, int(rule["rulePriority"])) for i in doomed]
    return out


def expire(clients: Clients, repository: str, now: datetime | None = None) -> list[Expired]:
    """Run the repository's lifecycle policy once: delete (BatchDeleteImage by digest) what
    it expires; nothing without a policy."""
    ecr = clients("ecr")
    try:
        text = ecr.get_lifecycle_policy(repositoryName=repository)["lifecyclePolicyText"]
    except ecr.exceptions.LifecyclePolicyNotFoundException:
        return []
    images = [
        Image(d["imageDigest"], tuple(d.get("imageTags", [])), d["imagePushedAt"])
        for page in ecr.get_paginator("describe_images").paginate(repositoryName=repository)
        for d in page["imageDetails"]
    ]
    doomed = evaluate(text, images, now or datetime.now(UTC))
    for at in range(0, len(doomed), 100):
        ids = [{"imageDigest": e.digest} for e in doomed[at : at + 100]]
        ecr.batch_delete_image(repositoryName=repository, imageIds=ids)
    return doomed
