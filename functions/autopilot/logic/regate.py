"""The re-gate of running images: pure decisions for the services that run a digest which
now fails their scan gate (a finding that changed after the deploy, a rescan).

``flows.image.deploy`` finds them (the service runs the candidate digest and
``image_plan.scan_check`` blocks it, on what ECR says of the scan at decision time) and
hands them here. For each: a ``vulnerable`` decision (recorded, never announced on its
own) and the ledger's mark (``store.vulnerable``); for them all, ONE notice naming the
services and the findings by severity, saying that nothing running was stopped. Nothing
is stopped or rolled back: the reconciler deploys a newer eligible image if one exists
(``flows.reconcile``), and never an older one.

Idempotent: a service whose mark already holds the same verdict (the blocking severities,
or why the scan cannot pass) was announced for it; only a service newly marked, or whose
verdict changed, makes the notice go out (a redelivered event is a duplicate before this:
``record.open_run``). The marks are written before ``record.finish`` publishes, so a mark
of the event being handled is an earlier attempt's: its notice may not have gone out, and
it is announced again.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from autopilot.domain.images import Candidate
from autopilot.domain.records import ScanRecord, ServiceLedgerState, VulnerableMark
from autopilot.domain.report import Decision, Outcome
from autopilot.domain.service import Service, short_name
from autopilot.logic.policy import ScanGate
from autopilot.logic.scan import BLOCKING

NOTHING_STOPPED = "nothing running was stopped"
NEXT = "the reconciler deploys a newer eligible image if one exists, never an older one"


class Regated(NamedTuple):
    """A service that runs the candidate digest, and the gate's block of it."""

    service: Service
    gate: ScanGate
    state: ServiceLedgerState
    scan: ScanRecord | None
    #: the gate's reason (``image_plan.scan_check``'s)
    reason: str


class ServiceRegate(NamedTuple):
    service: Service
    decision: Decision
    #: the mark to write (always: its counts and reason are the latest read)
    mark: VulnerableMark
    #: True when this verdict was not announced for the service before
    new: bool

    @property
    def mark_for(self) -> tuple[str, VulnerableMark]:
        """``store.vulnerable.VulnerableMarks.mark``'s arguments."""
        return self.service.arn, self.mark


class RegatePlan(NamedTuple):
    services: tuple[ServiceRegate, ...]
    #: the one notice for them all, or None when every one was announced already
    notice: Decision | None


def verdict_of(gate: ScanGate, scan: ScanRecord | None) -> str:
    """What a mark remembers the block by: the severities that block at ``gate``
    (``CRITICAL``, ``CRITICAL,HIGH``), or ``failed <status>`` when the scan cannot pass."""
    if scan is None:
        return "no scan"
    if scan.state == "failed":
        return f"failed {scan.status}".strip()
    found = [s for s in BLOCKING[gate] if scan.counts.get(s, 0) > 0]
    return ",".join(found) or "blocked"


def plan(cand: Candidate, regated: Sequence[Regated]) -> RegatePlan:
    """The decisions, marks and notice for the services in ``regated`` (all of which run
    ``cand.digest`` and whose gate blocks it now)."""
    tag = cand.tags[0] if cand.tags else None
    out: list[ServiceRegate] = []
    counts: dict[str, int] = {}
    for g in regated:
        verdict = verdict_of(g.gate, g.scan)
        seen = next((m for m in g.state.vulnerable if m.digest == cand.digest), None)
        # a mark this same event wrote is an earlier attempt's, which may have died before
        # its notice went out: announced again (at least once, never lost)
        new = seen is None or seen.verdict != verdict or seen.event_id == cand.event_id
        found = dict(g.scan.counts) if g.scan is not None else {}
        for k, v in found.items():
            counts[k] = max(counts.get(k, 0), v)
        said = "" if new else " (announced already for this verdict)"
        decision = Decision(
            service=g.service.arn,
            outcome=Outcome.VULNERABLE,
            reason=f"the running digest now fails the scan gate: {g.reason}; "
            f"{NOTHING_STOPPED}{said}",
            repository=cand.repository,
            tag=tag,
            digest=cand.digest,
            task_definition=g.service.task_definition,
            counts=found or None,
        )
        mark = VulnerableMark(
            digest=cand.digest,
            repository=cand.repository,
            verdict=verdict,
            counts=found,
            reason=g.reason,
            event_id=cand.event_id,
        )
        out.append(ServiceRegate(g.service, decision, mark, new))
    if not any(s.new for s in out):
        return RegatePlan(tuple(out), None)
    names = ", ".join(f"{short_name(s.service.arn)} ({s.mark.reason})" for s in out)
    notice = Decision(
        service=f"repository/{cand.repository}",
        outcome=Outcome.VULNERABLE,
        reason=(
            f"{len(out)} service(s) run this digest and it now fails their scan gate: {names}. "
            f"{NOTHING_STOPPED.capitalize()}; {NEXT}."
        ),
        repository=cand.repository,
        tag=tag,
        digest=cand.digest,
        counts=dict(sorted(counts.items())) or None,
        notify=True,
    )
    return RegatePlan(tuple(out), notice)
