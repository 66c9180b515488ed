"""Admission decisions: pure functions of (the service, its policy, the revision a deployment
rolls out, the ledger's quarantine, ECR's scan) -> the hook's answer.

ECS calls the admission function as a Lambda lifecycle hook (PRE_SCALE_UP) of every
deployment of a service that carries the hook, whoever started it. The answer is ECS's
documented response: ``{"hookStatus": "SUCCEEDED"}`` lets the deployment go on,
``{"hookStatus": "FAILED"}`` rolls it back; ``hookDetails.reason`` says why.

Order of the checks (the first that applies decides):

=========================================  ==========  =====================================
the service                                hookStatus  recorded as
=========================================  ==========  =====================================
not in a managed cluster, or tracks no     SUCCEEDED   ignored (unmanaged)
repository (no ``autopilot:repository``)
``autopilot:admission=off``                SUCCEEDED   ignored (opted out)
a malformed ``autopilot:*`` tag            FAILED      rejected (announced)
a digest of the revision quarantined for   FAILED      quarantined (announced)
the service (any container)
its tracked container fails the scan gate  FAILED      blocked (announced)
(``logic.image_plan.scan_check``), or has
no scan verdict yet
otherwise                                  SUCCEEDED   admitted
=========================================  ==========  =====================================

Fail-closed: a payload that is not a hook's, or any state that cannot be read (the service,
the revision, the ledger, ECR), is FAILED (``refused``), announced, with the reason.
"""

from __future__ import annotations

from typing import Any, Literal, NamedTuple

from autopilot import contract
from autopilot.domain.images import Candidate, ContainerImage, tracked_container
from autopilot.domain.records import ScanRecord
from autopilot.domain.report import Decision, Outcome
from autopilot.domain.service import Service, ServiceRevision
from autopilot.errors import MalformedTag
from autopilot.logic import image_plan
from autopilot.logic.policy import Floors, ServiceConfig, service_config

HookStatus = Literal["SUCCEEDED", "FAILED"]


class Answer(NamedTuple):
    """The hook's status and the decision recorded for it."""

    status: HookStatus
    decision: Decision

    def response(self) -> dict[str, Any]:
        """ECS's hook response (``hookStatus``, and the reason in ``hookDetails``)."""
        return {"hookStatus": self.status, "hookDetails": {"reason": self.decision.reason}}

    def to_json(self) -> dict[str, Any]:
        """The response with the decision, as ``autopilot invoke admission --dry-run``
        prints a report (``decisions``)."""
        return {
            "function": contract.ADMISSION.name,
            **self.response(),
            "decisions": [self.decision.to_json()],
        }


def admitted(decision: Decision) -> Answer:
    return Answer("SUCCEEDED", decision)


def refused(
    service: str,
    outcome: Outcome,
    reason: str,
    *,
    repository: str | None = None,
    digest: str | None = None,
) -> Answer:
    """FAILED, announced: the reason starts ``admission refused:``."""
    return Answer(
        "FAILED",
        Decision(
            service=service,
            outcome=outcome,
            reason=f"admission refused: {reason}",
            repository=repository,
            digest=digest,
            notify=True,
        ),
    )


def unreadable(service: str, what: str, *, digest: str | None = None) -> Answer:
    """Fail-closed: ``what`` could not be read (or the payload could not be understood)."""
    return refused(service, Outcome.REJECTED, f"{what} (fail-closed)", digest=digest)


def ignored(service: str, reason: str) -> Answer:
    return admitted(Decision(service=service, outcome=Outcome.IGNORED, reason=reason))


def policy_check(svc: Service, floors: Floors) -> Answer | ServiceConfig:
    """The service's effective config, or the answer its tags settle (unmanaged, opted
    out, malformed)."""
    try:
        cfg = service_config(svc.tags, svc.cluster_arn, floors)
    except MalformedTag as exc:
        return refused(svc.arn, Outcome.REJECTED, f"tag {exc.key}={exc.value!r}: {exc.problem}")
    if cfg is None:
        return ignored(svc.arn, f"unmanaged: the service has no {contract.TAG_REPOSITORY} tag")
    if not cfg.admission:
        return ignored(svc.arn, f"opted out: {contract.TAG_ADMISSION}=off")
    return cfg


def revision_digests(revision: ServiceRevision) -> dict[str, str]:
    """Each container's digest in the revision: the one ECS resolved, else the one its
    image pins (``repo@sha256:...``)."""
    out: dict[str, str] = {}
    for c in revision.images:
        pinned = tracked_container(
            {"containerDefinitions": [{"name": c.container, "image": c.image}]}, "", c.container
        )
        digest = c.digest or (pinned.digest if pinned else None)
        if digest:
            out[c.container] = digest
    return out


def quarantine_check(
    svc: Service, cfg: ServiceConfig, revision: ServiceRevision, quarantined: frozenset[str]
) -> Answer | None:
    """FAILED when a digest of the revision is quarantined for the service, else None."""
    for container, digest in sorted(revision_digests(revision).items()):
        if digest in quarantined:
            return refused(
                svc.arn,
                Outcome.QUARANTINED,
                f"digest {digest} (container {container}) is quarantined after a failed deployment",
                repository=cfg.repository,
                digest=digest,
            )
    return None


def tracked(cfg: ServiceConfig, revision: ServiceRevision) -> ContainerImage | None:
    """The revision's container the service's gate is on (``autopilot:container``, else the
    one whose image comes from its repository)."""
    definitions = [{"name": c.container, "image": c.image} for c in revision.images]
    return tracked_container({"containerDefinitions": definitions}, cfg.repository, cfg.container)


def gate_check(
    svc: Service,
    cfg: ServiceConfig,
    candidate: Candidate,
    scan: ScanRecord | None,
    *,
    scanned: str = "",
) -> Answer:
    """The scan gate on ``scan`` (what ECR says now of the digest the gate is on: the
    candidate's, or ``scanned``, an index's manifest for the task's platform), as
    image-events applies it (``image_plan.scan_check``): blocked or no verdict yet is FAILED."""
    early = image_plan.scan_check(candidate, svc, cfg, scan, scanned=scanned)
    if early is None:
        reason = f"{candidate.digest} passes: " + (
            "scan gate off" if cfg.scan == "off" else f"scan clean at gate {cfg.scan}"
        )
        if scanned:
            reason = f"{reason} ({scanned})"
        return admitted(
            Decision(
                service=svc.arn,
                outcome=Outcome.ADMITTED,
                reason=reason,
                repository=cfg.repository,
                digest=candidate.digest,
            )
        )
    return refused(
        svc.arn,
        Outcome.BLOCKED,
        early.reason,
        repository=cfg.repository,
        digest=candidate.digest,
    )
