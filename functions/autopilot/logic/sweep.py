"""The reconciler's pure decisions: which image a service's policy would deploy now, among
the images its repository holds (``flows.reconcile`` reads them, one paged DescribeImages per
repository), the order a sweep takes the repositories in, and the shards of a sweep too
large for one invocation.

``policy_pick`` mirrors ``logic.image_plan.decide``'s reading of a policy, so the image it
picks is one ``decide`` would take: for a SemVer policy the image with the highest version
the policy allows against the running version (pre-releases and the ``:minor`` /
``:patch`` scopes as ``Policy.version_allowed`` says); for ``tag:`` / ``glob:`` / ``regex:``
the image pushed last among those with a tag the policy accepts. The scan gate, the
quarantine, the approval and "never older" stay the image flow's (``flows.image.deploy``):
the pick is only the candidate it is asked about.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import TypeVar

from autopilot.domain.images import ImageInfo
from autopilot.logic.policy import Policy
from autopilot.logic.semver import Version

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

T = TypeVar("T")


def policy_pick(
    images: Iterable[ImageInfo],
    policy: Policy,
    running_tags: Sequence[str],
    *,
    exclude: frozenset[str] = frozenset(),
) -> ImageInfo | None:
    """The image ``policy`` would deploy now among ``images`` (None: none it takes).
    ``running_tags``: the tags of what the service runs (its image reference's and ECR's),
    against which a scoped SemVer policy is read. ``exclude``: digests not to pick (those
    the image flow refused: the next pick is the newest of the others)."""
    images = [i for i in images if i.digest not in exclude]
    if policy.by_version:
        current = policy.best_version(tuple(running_tags))
        current_version = current[1] if current else None
        best: tuple[Version, datetime, ImageInfo] | None = None
        for image in images:
            found = policy.best_version(image.tags)
            if found is None or policy.version_allowed(found[1], current_version) is not None:
                continue
            pushed = image.pushed_at or _EPOCH
            if best is None or (found[1], pushed) > (best[0], best[1]):
                best = (found[1], pushed, image)
        return best[2] if best else None
    taken = [i for i in images if any(policy.accepts_tag(t) for t in i.tags)]
    if not taken:
        return None
    return max(taken, key=lambda i: i.pushed_at or _EPOCH)


def sweep_order(repositories: Iterable[str], start: str | None) -> list[str]:
    """The repositories in name order, from ``start`` (the first not reached by a sweep cut
    short; None or gone: from the first) round to the one before it."""
    names = sorted(set(repositories))
    if start is None:
        return names
    at = next((i for i, n in enumerate(names) if n >= start), 0)
    return names[at:] + names[:at]


def shards(by_repository: Mapping[str, Sequence[T]], size: int) -> list[list[T]]:
    """The services of ``by_repository`` in shards of at most ``size``, in repository name
    order; a repository's services stay in one shard when they fit in what is left of it
    (so its images are read by one shard), else they start the next; a repository with
    more than ``size`` is cut into shards of its own. The same estate, the same shards."""
    if size < 1:
        raise ValueError(f"a shard holds at least one service, not {size}")
    out: list[list[T]] = []
    current: list[T] = []
    for repository in sorted(by_repository):
        items = list(by_repository[repository])
        if current and len(current) + len(items) > size:
            out.append(current)
            current = []
        while len(items) > size:
            out.append(items[:size])
            items = items[size:]
        current += items
    if current:
        out.append(current)
    return out
