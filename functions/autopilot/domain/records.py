"""What the ledger remembers, as values: scan results, deploy records, last known good,
approvals, pauses, and the reaction items of zone balance, crash loops and capacity.

The stores (``store``) read and write these; the planners (``logic``) decide on them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal, NamedTuple

from autopilot.domain.service import Strategy

ScanState = Literal["complete", "failed"]


class ScanRecord(NamedTuple):
    """A remembered scan result for one digest (joined to pushes by digest)."""

    repository: str
    digest: str
    state: ScanState
    counts: dict[str, int]
    status: str
    at: datetime
    event_id: str
    reason: str = ""


def merge_scans(old: ScanRecord | None, new: ScanRecord | None) -> ScanRecord | None:
    """Commutative combination of two results for the same digest: findings only ratchet up
    (per severity maximum), and a completed scan outranks a failed one. So a digest once
    seen with a CRITICAL finding never deploys, whatever order the events come in."""
    if old is None or new is None:
        return old or new
    if old.state != new.state:
        return old if old.state == "complete" else new
    newest = old if (old.at, old.event_id) >= (new.at, new.event_id) else new
    if newest.state == "failed":
        return newest
    counts = {
        k: max(old.counts.get(k, 0), new.counts.get(k, 0)) for k in {*old.counts, *new.counts}
    }
    return newest._replace(counts={k: v for k, v in sorted(counts.items()) if v > 0})


class LastKnownGood(NamedTuple):
    task_definition: str
    digest: str | None
    image: str | None
    at: datetime | None = None


class DeployRecord(NamedTuple):
    """What a deploy (or a rollback) put on a service: task definition -> digest, and what
    it replaced."""

    task_definition: str
    digest: str | None
    tag: str | None
    previous_task_definition: str | None
    event_id: str
    deployment_id: str | None = None
    at: datetime | None = None
    # "registered": the revision exists but UpdateService has not (yet) used it, so a retry
    # reuses it instead of registering another; "deployed": the service was moved to it.
    state: str = "deployed"
    #: When ECR received the image (imagePushedAt): the start of the deploy's lead time.
    pushed_at: datetime | None = None


class VulnerableMark(NamedTuple):
    """A digest the service runs that failed its scan gate after it was deployed (the
    re-gate, ``logic.regate``): nothing running was stopped; the mark says it was announced
    for this ``verdict`` (the blocking severities, or why the scan cannot pass)."""

    digest: str
    repository: str
    verdict: str
    counts: dict[str, int]
    reason: str
    event_id: str
    at: datetime | None = None


class ServiceLedgerState(NamedTuple):
    """Everything the ledger holds about one service's present (not its history)."""

    last_known_good: LastKnownGood | None = None
    quarantined: frozenset[str] = frozenset()
    approved: frozenset[str] = frozenset()
    pending_approval: frozenset[str] = frozenset()  # unexpired pending approvals only
    paused: bool = False
    rejected: frozenset[str] = frozenset()  # digests an operator rejected for this service
    #: digests it runs (or ran) that turned vulnerable (``store.vulnerable``), unexpired
    vulnerable: tuple[VulnerableMark, ...] = ()


def iso(value: datetime) -> str:
    """UTC ISO-8601 with microseconds, as the ledger writes times."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class ApprovalRecord(NamedTuple):
    """One approval of a digest for a service (``status`` as stored; see ``expired``)."""

    digest: str
    status: str  # pending | approved | rejected | expired | ineligible
    repository: str | None = None
    tag: str | None = None
    image: str | None = None
    event_id: str = ""
    requested_at: datetime | None = None
    approval_expires: int | None = None  # epoch seconds
    by: str | None = None
    note: str | None = None
    decided_at: datetime | None = None

    def expired(self, now: float) -> bool:
        """A pending approval past its expiry (it is recorded as expired when next met)."""
        return (
            self.status == "pending"
            and self.approval_expires is not None
            and self.approval_expires <= now
        )

    @property
    def expires_iso(self) -> str | None:
        if self.approval_expires is None:
            return None
        return iso(datetime.fromtimestamp(self.approval_expires, UTC))


class Pause(NamedTuple):
    """An ``autopilot pause`` of one service: who, why, when (ISO-8601)."""

    by: str | None
    reason: str | None
    at: str | None

    def as_json(self) -> dict[str, Any]:
        return {"by": self.by, "reason": self.reason, "at": self.at}


class Recheck(NamedTuple):
    """A zone-balance re-check due at ``due_epoch`` for ``service_arn``."""

    service_arn: str
    due_epoch: int
    why: str


class Floor(NamedTuple):
    """An ASG floor (or scalable target minimum) autopilot raised, and who raised it."""

    original_min: int
    raised_by: str | None = None
    raised_at: datetime | None = None


class LastChange(NamedTuple):
    """The last change to a capacity target (cooldown), or the last zone-balance move."""

    at: datetime
    epoch: int
    what: str


class RecordedShift(NamedTuple):
    """A Fargate Spot fallback as recorded in the ledger."""

    original: Strategy
    shifted_to: Strategy
    shifted_at: datetime


class StopRecord(NamedTuple):
    """One stopped task, as the crash-loop detector counts it."""

    task_arn: str
    task_definition_arn: str
    #: Exit codes of the task's essential containers (``None``: never exited/started).
    essential_exit_codes: tuple[int | None, ...]
    stopped_at: datetime

    @property
    def crashed(self) -> bool:
        return any(code is not None and code != 0 for code in self.essential_exit_codes)
