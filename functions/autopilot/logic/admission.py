"""Admission decisions: pure functions of (the service, its policy, the revision a deployment
rolls out, the ledger's quarantine, ECR's scan) -> the hook's answer.

ECS calls the admission function as a Lambda lifecycle hook (PRE_SCALE_UP) of every
deployment of a service that carries the hook, whoever started it. The answer is ECS's
documented response: ``{"hookStatus": "SUCCEEDED"}`` lets the deployment go on,
``{"hookStatus": "FAILED"}`` rolls it back, ``{"hookStatus": "IN_PROGRESS",
"callBackDelay": N}`` makes ECS ask again N seconds later (passing back the
``hookDetails`` returned with it); ``hookDetails.reason`` says why.

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
(``logic.image_plan.scan_check``)
no scan verdict yet (the scan is running)  IN_PROGRESS awaiting-scan, asked again
                                                       every ``SCAN_CALLBACK_SECONDS``
... still none ``SCAN_WAIT_MINUTES`` after FAILED      blocked (announced)
the first ask
otherwise                                  SUCCEEDED   admitted
=========================================  ==========  =====================================

Fail-closed: a payload that is not a hook's, or any state that cannot be read (the service,
the revision, the ledger, ECR), is FAILED (``refused``), announced, with the reason.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal, NamedTuple

from autopilot import contract
from autopilot.domain.images import Candidate, ContainerImage, tracked_container
from autopilot.domain.records import ScanRecord
from autopilot.domain.report import Decision, Outcome
from autopilot.domain.service import Service, ServiceRevision
from autopilot.errors import MalformedTag
from autopilot.logic import image_plan
from autopilot.logic.policy import Floors, ServiceConfig, service_config

HookStatus = Literal["SUCCEEDED", "FAILED", "IN_PROGRESS"]

#: How long a deployment waits at the hook for its digest's first scan verdict (ECR's
#: basic scan takes seconds, enhanced scanning minutes); none by then is FAILED. ECS's own
#: limit on a Lambda hook is its ``timeoutInMinutes`` (at most 1,440).
SCAN_WAIT_MINUTES = 30
#: How soon ECS asks again while the scan runs (``callBackDelay``)
SCAN_CALLBACK_SECONDS = 60
#: The ``hookDetails`` key that carries, from one ask to the next, when the wait began
WAITING_SINCE = "autopilotAwaitingScanSince"


class Answer(NamedTuple):
    """The hook's status, the decision recorded for it, and for IN_PROGRESS when ECS asks
    again and what it passes back then (``hookDetails``)."""

    status: HookStatus
    decision: Decision
    callback_seconds: int | None = None
    details: dict[str, str] | None = None

    def response(self) -> dict[str, Any]:
        """ECS's hook response (``hookStatus``, the reason in ``hookDetails``, and for
        IN_PROGRESS ``callBackDelay``)."""
        out: dict[str, Any] = {
            "hookStatus": self.status,
            "hookDetails": {"reason": self.decision.reason, **(self.details or {})},
        }
        if self.status == "IN_PROGRESS":
            out["callBackDelay"] = self.callback_seconds or SCAN_CALLBACK_SECONDS
        return out

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


def waiting_since(hook_details: Any, now: datetime) -> datetime:
    """When this deployment began to wait for its scan: what the previous ask returned in
    ``hookDetails`` (ECS passes it back), else ``now`` (the first ask). A value that is not
    a time, or is later than ``now``, counts as ``now``."""
    raw = hook_details.get(WAITING_SINCE) if isinstance(hook_details, dict) else None
    if not isinstance(raw, str) or len(raw) > 40:
        return now
    try:
        since = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return now
    if since.tzinfo is None or since > now:
        return now
    return since


def gate_check(
    svc: Service,
    cfg: ServiceConfig,
    candidate: Candidate,
    scan: ScanRecord | None,
    *,
    scanned: str = "",
    now: datetime | None = None,
    since: datetime | None = None,
) -> Answer:
    """The scan gate on ``scan`` (what ECR says now of the digest the gate is on: the
    candidate's, or ``scanned``, an index's manifest for the task's platform), as
    image-events applies it (``image_plan.scan_check``): blocked is FAILED; no verdict yet
    is IN_PROGRESS (ECS asks again) until ``SCAN_WAIT_MINUTES`` after ``since`` (when the
    wait began: ``waiting_since``), then FAILED."""
    early = image_plan.scan_check(candidate, svc, cfg, scan, scanned=scanned)
    if early is not None and early.outcome == Outcome.AWAITING_SCAN:
        now = now or candidate.event_time
        since = since or now
        if now - since < timedelta(minutes=SCAN_WAIT_MINUTES):
            waited = int((now - since).total_seconds() // 60)
            return Answer(
                "IN_PROGRESS",
                Decision(
                    service=svc.arn,
                    outcome=Outcome.AWAITING_SCAN,
                    reason=(
                        f"{early.reason}: ECS asks again in {SCAN_CALLBACK_SECONDS} s "
                        f"(waited {waited} of {SCAN_WAIT_MINUTES} min)"
                    ),
                    repository=cfg.repository,
                    digest=candidate.digest,
                ),
                SCAN_CALLBACK_SECONDS,
                {WAITING_SINCE: since.isoformat()},
            )
        return refused(
            svc.arn,
            Outcome.BLOCKED,
            f"{early.reason} after {SCAN_WAIT_MINUTES} min",
            repository=cfg.repository,
            digest=candidate.digest,
        )
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
