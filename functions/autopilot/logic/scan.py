"""The scan gate: what ECR's scan of a digest means, what a scan event's status means, how
results for one digest combine in the ledger, what blocks.

The gate rests on what ECR says at decision time (``aws.ecr.scan_findings``, read by
``flows.image``), never on a scan event's payload: an event only says "look again", and its
status only whether it is worth looking (``scan_record`` is None: ignored).

Statuses with a result (COMPLETE, INITIAL_SCAN_COMPLETE, ACTIVE) give ``complete`` with
counts; FAILED and UNSUPPORTED_IMAGE give ``failed`` (the gate cannot pass); anything
else (SCAN_ELIGIBILITY_EXPIRED, PENDING, IN_PROGRESS, ...) carries no verdict. Read from
ECR, SCAN_ELIGIBILITY_EXPIRED, FINDINGS_UNAVAILABLE and IMAGE_ARCHIVED are ``failed`` too:
Inspector no longer holds current findings for the digest, and none will come, so the gate
cannot pass (``from_ecr``).

Results for one digest combine order-independently in the ledger
(``domain.records.merge_scans``); the ledger's record is what was read, not the verdict.
"""

from __future__ import annotations

from datetime import datetime

from autopilot.domain.images import ScanFindings
from autopilot.domain.records import ScanRecord
from autopilot.logic.policy import ScanGate

RESULT_STATUSES = frozenset({"COMPLETE", "INITIAL_SCAN_COMPLETE", "ACTIVE"})
FAILED_STATUSES = frozenset({"FAILED", "UNSUPPORTED_IMAGE"})
#: What ECR's DescribeImageScanFindings can say of an enhanced scan that no longer has (or
#: never will have) current findings: the gate cannot pass on them.
STALE_STATUSES = frozenset({"SCAN_ELIGIBILITY_EXPIRED", "FINDINGS_UNAVAILABLE", "IMAGE_ARCHIVED"})


def scan_record(
    *,
    repository: str,
    digest: str,
    status: str,
    counts: dict[str, int],
    at: datetime,
    event_id: str,
) -> ScanRecord | None:
    """The record a scan event yields, or None if it carries no verdict."""
    if status in RESULT_STATUSES:
        kept = {k: v for k, v in counts.items() if k != "TOTAL" and v > 0}
        return ScanRecord(repository, digest, "complete", kept, status, at, event_id)
    if status in FAILED_STATUSES:
        return ScanRecord(
            repository, digest, "failed", {}, status, at, event_id, reason=f"scan {status}"
        )
    return None


def from_ecr(
    *,
    repository: str,
    digest: str,
    findings: ScanFindings | None,
    at: datetime,
    event_id: str,
) -> ScanRecord | None:
    """The record of what ECR says of ``digest``'s scan now, or None if it has no verdict
    yet (no scan, PENDING, IN_PROGRESS, ...: the gate waits)."""
    if findings is None:
        return None
    if findings.status in STALE_STATUSES:
        reason = f"ECR scan status {findings.status}: no current findings for this digest"
        return ScanRecord(
            repository, digest, "failed", {}, findings.status, at, event_id, reason=reason
        )
    return scan_record(
        repository=repository,
        digest=digest,
        status=findings.status,
        counts=findings.counts,
        at=at,
        event_id=event_id,
    )


BLOCKING: dict[ScanGate, tuple[str, ...]] = {
    "critical": ("CRITICAL",),
    "high": ("CRITICAL", "HIGH"),
    "off": (),
}


def gate_verdict(gate: ScanGate, scan: ScanRecord | None) -> tuple[str, str]:
    """("pass" | "await" | "block", reason) for one service's gate."""
    if gate == "off":
        return "pass", "scan gate off"
    if scan is None:
        return "await", "no scan result for this digest yet"
    if scan.state == "failed":
        return "block", scan.reason or "scan failed"
    found = {s: scan.counts.get(s, 0) for s in BLOCKING[gate] if scan.counts.get(s, 0) > 0}
    if found:
        listed = ", ".join(f"{k}={v}" for k, v in found.items())
        return "block", f"scan found {listed} (gate {gate})"
    return "pass", f"scan clean at gate {gate}"
