"""image-events decisions: pure functions of (candidate image, service state, policy) -> plan.

Order of the checks for one service (the first that applies decides):

1. paused                         -> paused
2. digest quarantined for service -> quarantined
3. scan gate (by digest)          -> blocked | awaiting-scan
4. service already runs digest    -> already-running (deployed, when it is the revision an
                                     earlier attempt of the event moved it to, recorded or
                                     not: an unrecorded deploy is recorded now)
5. policy does not take any tag   -> policy-mismatch
6. not newer than what runs       -> older    (SemVer precedence; else ECR push time)
7. task definition field unknown  -> rejected (announced: a copy would drop the field, so
                                     nothing is registered and no approval is asked for)
8. approval manual, rejected      -> rejected (an operator said no: never by approval)
   approval manual, not approved  -> pending-approval (announced once; it expires at
                                     ``approval_expires``, recorded with it)
   approval manual-traffic, the   -> rejected (announced: only canary, linear and
   deploy would run rolling          blue/green run autopilot's PAUSE hook)
9. otherwise                      -> deployed (RegisterTaskDefinition + UpdateService; under
                                     manual-traffic with autopilot's PAUSE hook, which waits
                                     for ``autopilot approve`` before production traffic)

``cfg`` is the effective config (``policy.service_config``: the tags under the config's
floors); a reason says when a floor overrode a tag. ``precheck`` covers 1-3, which need no
AWS call; ``decide`` covers 4-9 once the running
task definition and the images are known. A deploy's plan carries the RegisterTaskDefinition
input (the running revision with the container pinned to ``repo@digest``) and the
UpdateService input, whose ``taskDefinition`` is the revision the registration makes.
``superseded_by`` is the extra check of an operator's approval: a newer image the policy
takes, not blocked, supersedes it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, NamedTuple

from autopilot import contract
from autopilot.domain.images import (
    INDEX_MEDIA_TYPES,
    Candidate,
    ContainerImage,
    ImageInfo,
    Platform,
)
from autopilot.domain.records import DeployRecord, ScanRecord, ServiceLedgerState
from autopilot.domain.report import Decision, Outcome
from autopilot.domain.service import Service
from autopilot.errors import UnknownTaskDefinitionField
from autopilot.logic import pause, rollout
from autopilot.logic.policy import Policy, ScanGate, ServiceConfig
from autopilot.logic.scan import gate_verdict
from autopilot.logic.taskdef import pinned_registration


class Plan(NamedTuple):
    decision: Decision
    register: dict[str, Any] | None = None
    update: dict[str, Any] | None = None
    #: the ledger's deploy record to write (the earlier attempt's, completed)
    completes: DeployRecord | None = None
    #: a pending approval to record (expiring at ``decision.approval_expires``)
    asks_approval: bool = False


def make_decision(
    svc: Service, cand: Candidate, outcome: Outcome, reason: str, **extra: Any
) -> Decision:
    return Decision(
        service=svc.arn,
        outcome=outcome,
        reason=reason,
        repository=cand.repository,
        tag=extra.pop("tag", cand.tags[0] if cand.tags else None),
        digest=cand.digest,
        **extra,
    )


def precheck(
    cand: Candidate,
    svc: Service,
    cfg: ServiceConfig,
    state: ServiceLedgerState,
    scan: ScanRecord | None,
) -> Decision | None:
    """Checks 1-3 (``ledger_check`` then ``scan_check`` on ``scan``); None means: look
    further."""
    return ledger_check(cand, svc, state) or scan_check(cand, svc, cfg, scan)


def ledger_check(cand: Candidate, svc: Service, state: ServiceLedgerState) -> Decision | None:
    """Checks 1-2, on the ledger alone (no AWS read); None means: look further."""
    if state.paused:
        return make_decision(svc, cand, Outcome.PAUSED, pause.REASON)
    if cand.digest in state.quarantined:
        return make_decision(
            svc, cand, Outcome.QUARANTINED, "digest is quarantined after a failed deployment"
        )
    return None


def scan_check(
    cand: Candidate,
    svc: Service,
    cfg: ServiceConfig,
    scan: ScanRecord | None,
    *,
    scanned: str = "",
) -> Decision | None:
    """Check 3, the scan gate on ``scan`` (what ECR says of the digest the gate is on, read
    at decision time; ``scanned`` names it when it is not the candidate itself, e.g. an
    index's manifest for the task's platform); None means: look further."""
    verdict, reason = gate_verdict(cfg.scan, scan)
    if scanned:
        reason = f"{reason} ({scanned})"
    if cfg.scan_note:
        reason = f"{reason}: {cfg.scan_note}"
    if verdict == "block":
        counts = dict(scan.counts) if scan is not None else None
        # Announce a block once: when the scan result arrives, not on every re-push.
        return make_decision(
            svc, cand, Outcome.BLOCKED, reason, counts=counts, notify=cand.trigger == "scan"
        )
    if verdict == "await":
        return make_decision(svc, cand, Outcome.AWAITING_SCAN, reason)
    return None


#: An index entry that is an attestation (buildx's provenance/SBOM), not a runnable image
_ATTESTATION = ("vnd.docker.reference.type", "attestation-manifest")


def index_manifest_for(index: dict[str, Any], platform: Platform) -> tuple[str | None, str]:
    """The digest of the image manifest an image index (or manifest list) holds for
    ``platform``, or None and why there is none. Attestation manifests (platform
    unknown/unknown, or annotated ``vnd.docker.reference.type: attestation-manifest``) are
    skipped; the first entry for the platform wins (any CPU variant)."""
    offered: list[str] = []
    for entry in index.get("manifests") or []:
        if not isinstance(entry, dict):
            continue
        annotations = entry.get("annotations") or {}
        p = entry.get("platform") or {}
        os_name, arch = str(p.get("os", "unknown")), str(p.get("architecture", "unknown"))
        if (os_name, arch) == ("unknown", "unknown") or (
            annotations.get(_ATTESTATION[0]) == _ATTESTATION[1]
        ):
            continue
        if entry.get("mediaType") in INDEX_MEDIA_TYPES:
            continue  # a nested index: not a runnable image
        offered.append(f"{os_name}/{arch}")
        digest = entry.get("digest")
        if (os_name, arch) == tuple(platform) and isinstance(digest, str) and digest:
            return digest, ""
    has = ", ".join(dict.fromkeys(offered)) or "no runnable image"
    return None, f"the image index has no {platform} manifest (it has {has})"


def decide(
    cand: Candidate,
    svc: Service,
    cfg: ServiceConfig,
    state: ServiceLedgerState,
    *,
    running: ContainerImage,
    running_digest: str | None,
    cand_info: ImageInfo | None,
    running_info: ImageInfo | None,
    task_definition: dict[str, Any],
    task_definition_tags: list[dict[str, str]],
    running_record: DeployRecord | None = None,
    approval_expires: str | None = None,
    scanned: str = "",
    pause_minutes: int = contract.DEFAULT_PAUSE_TIMEOUT_MINUTES,
) -> Plan:
    """Steps 4-9 for one service that passed ``precheck``. ``running_record`` is the deploy
    record of the revision the service runs (if any); ``approval_expires`` is when an
    approval asked for now would expire (UTC ISO-8601); ``scanned`` names the manifest the
    scan gate was on when it is not the candidate (an index's, for the task's platform);
    ``pause_minutes``: the timeout of autopilot's PAUSE hook under manual-traffic.

    The candidate's tags are ECR's (``cand_info``, DescribeImages), never an event's."""
    if running_digest == cand.digest:
        return _already_running(svc, cand, running_record)

    tags = tuple(cand_info.tags) if cand_info else ()
    running_tags = tuple(
        dict.fromkeys(
            (*((running.tag,) if running.tag else ()), *(running_info.tags if running_info else ()))
        )
    )
    policy = cfg.policy
    chosen_tag: str | None
    if policy.by_version:
        best = policy.best_version(tags)
        if best is None:
            return Plan(
                make_decision(svc, cand, Outcome.POLICY_MISMATCH, f"no SemVer tag ({policy.raw})")
            )
        chosen_tag, version = best
        current = policy.best_version(running_tags)
        current_version = current[1] if current else None
        refused = policy.version_allowed(version, current_version)
        if refused:
            return Plan(make_decision(svc, cand, Outcome.POLICY_MISMATCH, refused, tag=chosen_tag))
        if current_version is not None:
            if not version > current_version:
                return Plan(
                    make_decision(
                        svc,
                        cand,
                        Outcome.OLDER,
                        f"{version} is not newer than running {current_version}",
                        tag=chosen_tag,
                    )
                )
        elif (older := _older_by_time(cand_info, running_info)) is not None:
            return Plan(make_decision(svc, cand, Outcome.OLDER, older, tag=chosen_tag))
    else:
        matching = [t for t in tags if policy.accepts_tag(t)]
        if not matching:
            return Plan(
                make_decision(svc, cand, Outcome.POLICY_MISMATCH, f"no tag matches {policy.raw}")
            )
        chosen_tag = matching[0]
        if (older := _older_by_time(cand_info, running_info)) is not None:
            return Plan(make_decision(svc, cand, Outcome.OLDER, older, tag=chosen_tag))

    registry = running.ref.registry if running.ref and running.ref.registry else cand.registry
    image = f"{registry}/{cand.repository}@{cand.digest}"
    try:
        register = pinned_registration(task_definition, task_definition_tags, running.name, image)
    except UnknownTaskDefinitionField as exc:
        reason = f"{svc.task_definition}: {exc}"
        return Plan(
            make_decision(
                svc, cand, Outcome.REJECTED, reason, tag=chosen_tag, image=image, notify=True
            )
        )
    if cfg.approval == "manual" and cand.digest not in state.approved:
        if cand.digest in state.rejected:
            return Plan(
                make_decision(
                    svc,
                    cand,
                    Outcome.REJECTED,
                    "an operator rejected this digest for the service",
                    tag=chosen_tag,
                    image=image,
                )
            )
        asks = cand.digest not in state.pending_approval
        return Plan(
            make_decision(
                svc,
                cand,
                Outcome.PENDING_APPROVAL,
                f"{cfg.approval_note or 'approval is manual'}: waiting for `autopilot approve`",
                tag=chosen_tag,
                image=image,
                approval_expires=approval_expires if asks else None,
                notify=asks,
            ),
            asks_approval=asks,
        )

    traffic_approval = cfg.approval == "manual-traffic"
    if traffic_approval and (
        refusal := rollout.hook_refusal(
            svc.deployment_configuration, cfg.rollout, traffic_ready=svc.traffic_ready
        )
    ):
        return Plan(
            make_decision(
                svc, cand, Outcome.REJECTED, refusal, tag=chosen_tag, image=image, notify=True
            )
        )
    update: dict[str, Any] = {
        "cluster": svc.cluster_arn,
        "service": svc.arn,
        "taskDefinition": None,
    }
    reason = f"{chosen_tag or cand.digest} replaces {running.image} in container {running.name}"
    if scanned:
        reason = f"{reason} (scan gate on {scanned})"
    config, rollout_note = rollout.deployment_configuration(
        svc.deployment_configuration,
        cfg.rollout,
        cfg.alarms,
        traffic_ready=svc.traffic_ready,
        pause_minutes=pause_minutes if traffic_approval else None,
        admission=cfg.admission_hook,
    )
    if config is not None:
        update["deploymentConfiguration"] = config
        reason = f"{reason}; {rollout_note}"
    return Plan(
        make_decision(
            svc,
            cand,
            Outcome.DEPLOYED,
            reason,
            tag=chosen_tag,
            image=image,
            previous_task_definition=svc.task_definition,
            notify=True,
        ),
        register=register,
        update=update,
    )


def superseded_by(
    cand: ImageInfo,
    images: Iterable[ImageInfo],
    policy: Policy,
    *,
    gate: ScanGate,
    scans: dict[str, ScanRecord | None],
    quarantined: frozenset[str],
) -> ImageInfo | None:
    """A newer image of the repository that the policy takes and that may deploy (scan not
    blocking, not quarantined), which makes ``cand`` no longer the one to deploy; else None.

    Newer is SemVer precedence for version policies, else a later push. An image awaiting
    its scan counts (it will be asked for in turn); a blocked or quarantined one does not.
    """
    mine = policy.best_version(cand.tags) if policy.by_version else None
    for other in images:
        if other.digest == cand.digest or other.digest in quarantined:
            continue
        if policy.by_version:
            best = policy.best_version(other.tags)
            if mine is None or best is None or not best[1] > mine[1]:
                continue
            if policy.version_allowed(best[1], mine[1]) is not None:
                continue
        else:
            if not any(policy.accepts_tag(t) for t in other.tags):
                continue
            if cand.pushed_at is None or other.pushed_at is None:
                continue
            if other.pushed_at <= cand.pushed_at:
                continue
        verdict, _ = gate_verdict(gate, scans.get(other.digest))
        if verdict != "block":
            return other
    return None


def _already_running(svc: Service, cand: Candidate, record: DeployRecord | None) -> Plan:
    """The service runs the digest. If it runs the revision an earlier attempt registered and
    moved it to, but whose "deployed" record that attempt could not write, this is that
    deploy, completed now. If an earlier attempt of this same event deployed and recorded it
    (and then failed on another service or a later step), the event's report says deployed
    again, with nothing left to write."""
    if record is None or record.digest != cand.digest:
        return Plan(
            make_decision(svc, cand, Outcome.ALREADY_RUNNING, "service already runs this digest")
        )
    if record.state == "deployed" and record.event_id == cand.event_id:
        reason = "deployed and recorded by an earlier attempt of this event"
        return Plan(
            make_decision(svc, cand, Outcome.DEPLOYED, reason, task_definition=svc.task_definition)
        )
    if record.state != "registered":
        return Plan(
            make_decision(svc, cand, Outcome.ALREADY_RUNNING, "service already runs this digest")
        )
    reason = (
        f"deployed by an earlier attempt (event {record.event_id}), which moved the service "
        "to the revision but could not record it; recorded now"
    )
    decision = make_decision(
        svc, cand, Outcome.DEPLOYED, reason, task_definition=svc.task_definition
    )
    return Plan(decision, completes=record._replace(state="deployed"))


def _older_by_time(cand: ImageInfo | None, running: ImageInfo | None) -> str | None:
    if cand is None or running is None or cand.pushed_at is None or running.pushed_at is None:
        return None
    if cand.pushed_at <= running.pushed_at:
        return (
            f"pushed {cand.pushed_at.isoformat()}, not after the running image "
            f"({running.pushed_at.isoformat()})"
        )
    return None
