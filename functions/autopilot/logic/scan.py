"""The scan gate: what a scan event means, how results for one digest combine, what blocks.

Statuses with a result (COMPLETE, INITIAL_SCAN_COMPLETE, ACTIVE) give ``complete`` with
counts; FAILED and UNSUPPORTED_IMAGE give ``failed`` (the gate cannot pass); anything
else (SCAN_ELIGIBILITY_EXPIRED, PENDING, IN_PROGRESS, ...) carries no verdict.

Combining results for one digest is order-independent: findings only ratchet up (per
severity maximum), and a completed scan outranks a failed one. So a digest once seen
with a CRITICAL finding never deploys, whatever order the events come in.
"""

from __future__ import annotations

from datetime import datetime

from autopilot.logic.policy import ScanGate
from autopilot.models.state import ScanRecord

RESULT_STATUSES = frozenset({"COMPLETE", "INITIAL_SCAN_COMPLETE", "ACTIVE"})
FAILED_STATUSES = frozenset({"FAILED", "UNSUPPORTED_IMAGE"})


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


def merge_scans(old: ScanRecord | None, new: ScanRecord | None) -> ScanRecord | None:
    """Commutative combination of two results for the same digest."""
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
