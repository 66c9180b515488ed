"""The reconciler's retention step, per repository: keep the protective tags on what its
services run and on their last known good digests (``logic.retention``).

1. gather: the repository's images (the sweep's own ``ecr.list_images``, no new call;
   a digest to protect that the listing of tagged images lacks, untagged, asked for by
   digest: one DescribeImages), what each tracked service runs (the sweep's), its last
   known good (one ledger GetItem per service)
2. plan: ``logic.retention.plan``; every slot right: done, no AWS call
3. carry out (``execute.carry_out``, so a dry run only lists them): one BatchGetImage for
   the manifests of the digests that gain a tag, then a PutImage per tag moved (each its
   own decision, ``protected``, of the repository, naming the service), and one
   BatchDeleteImage for the tags no longer needed (a decision of the repository); a
   digest gone between the list and the BatchGetImage is left to the next sweep
4. record: the sweep's ``record.finish``

AWS calls: none when every slot is right (but for the DescribeImages of a digest to
protect that is untagged, or gone, while it is); else, when a tag moves, 1 DescribeRepositories
(the tags must be mutable under the prefix: IMMUTABLE_WITH_EXCLUSION with the prefix's
filter, else the moves are recorded ignored) and 1 BatchGetImage per 100 digests gaining a
tag, then 1 PutImage per tag moved (at most ``MOVES_PER_SWEEP``); 1 BatchDeleteImage per
100 tags no longer needed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace

from autopilot.aws import ecr, ecs
from autopilot.domain.images import ImageInfo
from autopilot.domain.plan import Plan, Step
from autopilot.domain.report import Action, Decision, Outcome
from autopilot.domain.service import short_name
from autopilot.execute import carry_out
from autopilot.logic import retention
from autopilot.observability import logger
from autopilot.record import Run
from autopilot.settings import ReconcilerSettings

#: tags one BatchDeleteImage takes
DELETE_BATCH = 100
#: tag moves (PutImage) per repository per sweep, under ECR's PutImage rate; the rest
#: are the next sweep's (what runs and the rollback targets first)
MOVES_PER_SWEEP = 50


def keep(
    r: Run,
    repository: str,
    images: list[ImageInfo],
    running: Mapping[str, str | None],
    settings: ReconcilerSettings,
    *,
    short: Callable[[], bool] | None = None,
    whole: bool = True,
    pace: Callable[[Mapping[str, int]], object] | None = None,
) -> retention.RetentionPlan | None:
    """Make the repository's protective tags right. ``running``: each tracked service of
    the repository (ARN) and the digest it runs (None: unknown). ``short``: True when the
    sweep's time runs short. ``whole``: those are all the services that track it (the
    slots of any other service are dropped); else (a shard's part of them), when the
    repository has slots of a service not in ``running``, which services track it now is
    read from AWS (one GetResources of the repository's tag, the managed clusters) and the
    slots of a key none of them has are dropped. ``pace``: called with the ECR calls
    about to be made (action -> count; ``logic.pacing``). Without a ``retention_prefix``,
    or with the time short, nothing is done (the next sweep does it) and None is returned."""
    if not settings.retention_prefix or (short is not None and short()):
        return None
    states = r.ledger.state
    holders = []
    for service, digest in sorted(running.items()):
        lkg = states.last_known_good(service)
        holders.append(retention.Holder(service, digest, lkg.digest if lkg else None))
    # a digest to protect that is untagged (a tag moved on, a push by digest, an image
    # index's manifest) is not in the sweep's listing of tagged images: asked for by digest
    listed = {i.digest for i in images}
    needed = {d for h in holders for d in (h.running, h.last_known_good) if d} - listed
    if needed:
        if pace is not None:
            pace({"ecr:DescribeImages": 1})
        found_untagged, _ = ecr.describe_images(r.aws.ecr, repository, sorted(needed))
        images = [*images, *found_untagged.values()]
    prefix = settings.retention_prefix
    live = None if whole else _live(r, repository, images, holders, settings)
    plan = retention.plan(
        prefix,
        settings.retention_keep,
        images,
        holders,
        whole=whole,
        live=live,
        max_moves=MOVES_PER_SWEEP,
    )
    for kept in plan.kept:
        logger.info("protective tag left", repository=repository, tag=kept.tag, why="last tag")
    if plan.empty:
        return plan
    moves = plan.moves
    if moves:  # the drops are planned against these moves: none is made without them
        mutability, filters = ecr.tag_mutability(r.aws.ecr, repository)
        if not retention.slots_mutable(prefix, mutability, filters):
            reason = (
                f"the protective tags cannot move: the repository's tags are {mutability} "
                f"and no exclusion filter leaves {retention.exclusion_filter(prefix)} mutable "
                "(autopilot adopt says what to add)"
            )
            carry_out(r, Plan(_repo(repository, Outcome.IGNORED, reason)))
            return plan  # the drops were planned against the moves: none without them
    if moves and pace is not None:
        pace({"ecr:BatchGetImage": -(-len(moves) // 100)})
    found = ecr.manifests(r.aws.ecr, repository, [m.digest for m in moves]) if moves else {}
    for n, move in enumerate(moves):
        if n and short is not None and short():
            # the drops were planned against every move: none of them without the rest
            logger.info("retention cut short", repository=repository, left=len(moves) - n)
            return plan
        decision = Decision(
            # the repository's decision, not the service's: a service's last decision
            # stays what was deployed to it (``autopilot status``)
            service=f"repository/{repository}",
            outcome=Outcome.PROTECTED,
            reason=f"protective tag {move.tag} put on {move.why}"
            + (f" ({short_name(move.service)})" if move.service else ""),
            repository=repository,
            tag=move.tag,
            digest=move.digest,
        )
        if move.digest not in found:
            gone = "ECR no longer holds the digest (the next sweep looks again)"
            ignored = replace(
                decision, outcome=Outcome.IGNORED, reason=f"{decision.reason}: {gone}"
            )
            carry_out(r, Plan(ignored))
            continue
        manifest, media_type = found[move.digest]
        params: dict[str, object] = {
            "repositoryName": repository,
            "imageManifest": manifest,
            "imageTag": move.tag,
            "imageDigest": move.digest,
        }
        if media_type:
            params["imageManifestMediaType"] = media_type
        action = Action(api="ecr:PutImage", params=params, service=move.service)
        if pace is not None:
            pace({"ecr:PutImage": 1})
        if carry_out(r, Plan(decision, steps=(Step(action),))).outcome is not Outcome.PROTECTED:
            return plan  # a move failed: no drop planned against it (the next sweep's)
    for at in range(0, len(plan.drops), DELETE_BATCH):
        drops = plan.drops[at : at + DELETE_BATCH]
        tags = [d.tag for d in drops]
        reason = (
            "protective tags no longer needed taken off (each image keeps another tag): "
            + ", ".join(tags)
        )
        decision = _repo(repository, Outcome.PROTECTED, reason)
        action = Action(
            api="ecr:BatchDeleteImage",
            params={"repositoryName": repository, "imageIds": [{"imageTag": t} for t in tags]},
        )
        carry_out(r, Plan(decision, steps=(Step(action),)))
    return plan


def _live(
    r: Run,
    repository: str,
    images: list[ImageInfo],
    holders: list[retention.Holder],
    settings: ReconcilerSettings,
) -> list[str] | None:
    """A shard's: when the repository has slots of a service it does not hold, the ARNs of
    every managed service that tracks the repository now (AWS's tags, read now: one
    GetResources per 100), so that only the slots of a key none of them has are dropped;
    None (drop nothing of others) when there is no such slot."""
    if not retention.foreign_slots(settings.retention_prefix, images, holders):
        return None
    tagged = ecs.tagged_service_arns(r.aws.tagging, repository, settings.clusters)
    return [arn for arns in tagged.values() for arn in arns]


def _repo(repository: str, outcome: Outcome, reason: str) -> Decision:
    return Decision(
        service=f"repository/{repository}", outcome=outcome, reason=reason, repository=repository
    )
