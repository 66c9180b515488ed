"""Retention: the protective tags that keep what services run, and their last known good
digests, out of reach of ECR lifecycle expiry (pure: ``flows.retention`` gathers and acts).

Every tracked service has slots in its repository, tags under a reserved prefix (the
config's ``retention.prefix``, default ``autopilot-keep-``), named after the service
(``service_key``: its name, cut to 32 characters, and 8 hex of a SHA-256 of its ARN):

* ``<prefix><key>-run``: the digest the service's task definition runs;
* ``<prefix><key>-good-1`` .. ``-good-<N>``: its last N known good digests, newest first
  (``-good-1`` is the ledger's last known good, the rollback target; the older ones are
  what the slots held before, shifted down: the tags are their own history).

A repository's lifecycle policy keeps every image with a tag under the prefix (its rule
of priority 1, ``README.md``), so a tag on a digest protects it. The tags follow the
deploys: ``plan`` moves a slot whose digest is not the one it should hold (``Move``: ECR
``PutImage`` of the target's manifest with the tag, which takes the tag off the image that
had it), and drops a slot no longer needed (``Drop``: ``BatchDeleteImage`` by tag), but
never an image's last tag: ECR deletes an image whose last tag is removed, so such a
slot is left where it is (``RetentionPlan.kept``) and the image stays protected. A digest
ECR no longer holds is never a slot's target.

Nothing is planned when every slot is right: a sweep with no deploy since the last one
makes no call.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from typing import NamedTuple

from autopilot import contract
from autopilot.domain.images import ImageInfo
from autopilot.errors import MalformedTag
from autopilot.logic import patterns
from autopilot.logic.policy import Policy, parse_policy

DEFAULT_PREFIX = "autopilot-keep-"
DEFAULT_KEEP = 3
#: the longest prefix: the slot tags (prefix, a 41-character key, ``-good-NN``) stay
#: within ECR's 128 characters of a tag
MAX_PREFIX = 64
#: the most known good digests a service keeps
MAX_KEEP = 20
RUN = "run"
GOOD = "good-"

# an image tag's characters (the first not . or -); a mutability exclusion filter takes
# ``[0-9a-zA-Z._*-]``, so ``<prefix>*`` is one
_PREFIX_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}")
_GOOD_RE = re.compile(r"(?P<key>.+)-good-(?P<n>[1-9][0-9]?)")


def check_prefix(prefix: str) -> str:
    """The prefix, or ``ValueError`` saying why it cannot be a reserved tag prefix."""
    if not _PREFIX_RE.fullmatch(prefix):
        raise ValueError(
            f"{prefix!r} is not an image tag prefix: 1-{MAX_PREFIX} of A-Z a-z 0-9 _ . -, "
            "not starting with . or -"
        )
    return prefix


def service_key(service_arn: str) -> str:
    """A short key stable for the service: its name (cut to 32 characters) and 8 hex of a
    SHA-256 of its ARN (two clusters may hold services of one name)."""
    name = service_arn.rsplit("/", 1)[-1]
    clean = re.sub(r"[^A-Za-z0-9_.-]", "-", name)[:32].strip(".-") or "service"
    digest = hashlib.sha256(service_arn.encode()).hexdigest()[:8]
    return f"{clean}-{digest}"


def run_tag(prefix: str, key: str) -> str:
    return f"{prefix}{key}-{RUN}"


def good_tag(prefix: str, key: str, n: int) -> str:
    return f"{prefix}{key}-{GOOD}{n}"


def parse_slot(prefix: str, tag: str) -> tuple[str, int] | None:
    """(service key, 0 for the run slot or n for ``good-n``) of a slot tag; None for any
    other tag."""
    if not tag.startswith(prefix):
        return None
    rest = tag[len(prefix) :]
    if rest.endswith(f"-{RUN}") and len(rest) > len(RUN) + 1:
        return rest[: -len(RUN) - 1], 0
    match = _GOOD_RE.fullmatch(rest)
    if match:
        return match["key"], int(match["n"])
    return None


def collision(prefix: str, policy: Policy) -> str | None:
    """A slot tag ``policy`` would take for a release (None: none would): the prefix must
    never make a protective tag a candidate for a deploy."""
    keys = ("service-0a1b2c3d", "a-00000000", "x" * 32 + "-ffffffff")
    for key in keys:
        for tag in (run_tag(prefix, key), good_tag(prefix, key, 1), good_tag(prefix, key, 12)):
            if policy.accepts_tag(tag):
                return tag
    return None


def policy_collision(prefix: str, policy: str) -> str | None:
    """``collision`` for a policy string (``autopilot:policy``'s grammar); a policy that
    does not parse collides with nothing here (its own check reports it)."""
    try:
        parsed = parse_policy(policy)
    except MalformedTag:
        return None
    return collision(prefix, parsed)


#: the policy a service without ``autopilot:policy`` has
DEFAULT_POLICY = contract.DEFAULT_POLICY


class Holder(NamedTuple):
    """A tracked service of the repository: the digest it runs and its last known good
    (None: unknown)."""

    service: str
    running: str | None
    last_known_good: str | None


class Move(NamedTuple):
    """Put ``tag`` on ``digest`` (PutImage with the digest's manifest)."""

    tag: str
    digest: str
    service: str | None
    why: str


class Drop(NamedTuple):
    """Take ``tag`` off ``digest`` (BatchDeleteImage by tag: the image keeps another tag)."""

    tag: str
    digest: str
    service: str | None


class RetentionPlan(NamedTuple):
    moves: tuple[Move, ...] = ()
    drops: tuple[Drop, ...] = ()
    #: slots no longer needed left on their image: its last tag (removing it deletes it)
    kept: tuple[Drop, ...] = ()
    #: every digest a slot holds once the plan is carried out
    protected: frozenset[str] = frozenset()
    #: moves left to the next sweep (beyond ``max_moves``)
    deferred: int = 0

    @property
    def empty(self) -> bool:
        return not (self.moves or self.drops)


def plan(
    prefix: str,
    keep: int,
    images: Iterable[ImageInfo],
    holders: Iterable[Holder],
    *,
    whole: bool = True,
    live: Iterable[str] | None = None,
    max_moves: int | None = None,
) -> RetentionPlan:
    """The moves and drops that make the repository's slots right.

    ``images``: every tagged image ECR holds (``aws.ecr.list_images``). ``holders``: the
    tracked services of the repository. ``whole``: ``holders`` are all the services that
    track the repository, so the slots of any other key belong to a service that no longer
    does (or is gone) and are dropped; False leaves them alone, unless ``live`` is given:
    the ARNs of every service that tracks the repository now, whatever shard holds it
    (``holders`` may be part of them): the slots of a key none of them has are dropped,
    those of a live service never. ``max_moves``: at most
    that many moves, run slots first, then ``good-1``, ``good-2``, ... (the others are
    the next sweep's, counted in ``deferred``); the drops are planned against the moves
    kept.
    """
    images = list(images)
    held = {i.digest for i in images}
    tags_of = {i.digest: set(i.tags) for i in images}
    current: dict[str, str] = {}  # slot tag -> digest holding it
    slots_of: dict[str, set[str]] = {}  # service key -> its slot tags in the repository
    for image in images:
        for tag in image.tags:
            slot = parse_slot(prefix, tag)
            if slot is not None:
                current[tag] = image.digest
                slots_of.setdefault(slot[0], set()).add(tag)
    want: dict[str, tuple[str | None, str | None, str]] = {}  # tag -> (digest, service, why)
    keys: set[str] = set()
    for holder in holders:
        key = service_key(holder.service)
        keys.add(key)
        running = holder.running if holder.running in held else None
        want[run_tag(prefix, key)] = (running, holder.service, "what it runs")
        older = [
            current.get(good_tag(prefix, key, n))
            for n in range(1, MAX_KEEP + 1)
            if good_tag(prefix, key, n) in current
        ]
        history = [
            d
            for d in dict.fromkeys([holder.last_known_good, *older])
            if d is not None and d in held
        ][:keep]
        for n in range(1, keep + 1):
            digest = history[n - 1] if n <= len(history) else None
            why = "its last known good" if n == 1 else f"its known good before, {n - 1} back"
            want[good_tag(prefix, key, n)] = (digest, holder.service, why)
        for tag in slots_of.get(key, set()) - want.keys():
            want[tag] = (None, holder.service, "beyond the known good it keeps")
    if whole or live is not None:
        alive = keys | {service_key(arn) for arn in live or ()}
        for key, tags in slots_of.items():
            if key not in alive:
                for tag in tags:
                    want[tag] = (None, None, "no tracked service has this slot")
    moves: list[Move] = []
    dropping: list[Drop] = []
    for tag in sorted(want):
        digest, service, why = want[tag]
        now = current.get(tag)
        if digest is not None and now != digest:
            moves.append(Move(tag, digest, service, why))
        elif digest is None and now is not None:
            dropping.append(Drop(tag, now, service))
    # what runs and the rollback targets first, then the older known good; at most
    # ``max_moves`` (the rest is the next sweep's)
    moves.sort(key=lambda m: ((parse_slot(prefix, m.tag) or ("", 0))[1], m.tag))
    deferred = max(0, len(moves) - max_moves) if max_moves is not None else 0
    if deferred:
        moves = moves[:max_moves]
    # never an image's last tag: what it keeps once the moves and drops are made
    left = {d: set(t) for d, t in tags_of.items()}
    for move in moves:
        if move.tag in current:
            left[current[move.tag]].discard(move.tag)
        left.setdefault(move.digest, set()).add(move.tag)
    drops: list[Drop] = []
    kept: list[Drop] = []
    for drop in dropping:
        if left[drop.digest] - {drop.tag}:
            left[drop.digest].discard(drop.tag)
            drops.append(drop)
        else:
            kept.append(drop)
    protected = frozenset(
        d for d, t in left.items() if any(parse_slot(prefix, tag) is not None for tag in t)
    )
    return RetentionPlan(tuple(moves), tuple(drops), tuple(kept), protected, deferred)


def foreign_slots(prefix: str, images: Iterable[ImageInfo], holders: Iterable[Holder]) -> bool:
    """Whether the repository has slots of a service key none of ``holders`` has (of a
    service in another shard, or of one no longer managed)."""
    keys = {service_key(h.service) for h in holders}
    for image in images:
        for tag in image.tags:
            slot = parse_slot(prefix, tag)
            if slot is not None and slot[0] not in keys:
                return True
    return False


def lifecycle_rule(prefix: str, priority: int = 1) -> dict[str, object]:
    """The lifecycle rule that keeps every image with a tag under ``prefix`` (JSON, as ECR
    takes it): of the highest priority, it selects them and expires only beyond
    ``PROTECT_COUNT`` of them, so no rule of a lower priority may expire them."""
    return {
        "rulePriority": priority,
        "description": f"keep images tagged {prefix}* (ecs-autopilot's protective tags)",
        "selection": {
            "tagStatus": "tagged",
            "tagPrefixList": [prefix],
            "countType": "imageCountMoreThan",
            "countNumber": PROTECT_COUNT,
        },
        "action": {"type": "expire"},
    }


#: the rule's count: far more than the slots of the services of one repository
PROTECT_COUNT = 10_000


def exclusion_filter(prefix: str) -> str:
    """The tag mutability exclusion filter (WILDCARD) that leaves the slots mutable."""
    return f"{prefix}*"


def slots_mutable(prefix: str, mutability: str, filters: Iterable[str]) -> bool:
    """Whether a repository lets the slot tags move: MUTABLE; IMMUTABLE_WITH_EXCLUSION with
    a filter (a WILDCARD, ``*`` any run) that the slot tags match; MUTABLE_WITH_EXCLUSION
    with none that does (its filters name the tags that are immutable)."""
    sample = run_tag(prefix, service_key("arn:aws:ecs:eu-west-1:000000000000:service/c/s"))
    matched = any(patterns.glob_matches(f, sample) for f in filters)
    if mutability == "MUTABLE":
        return True
    if mutability == "IMMUTABLE_WITH_EXCLUSION":
        return matched
    if mutability == "MUTABLE_WITH_EXCLUSION":
        return not matched
    return False
