"""The scan gate: what a scan event means, how results for one digest combine, what blocks.

Statuses with a result (COMPLETE, INITIAL_SCAN_COMPLETE, ACTIVE) give ``complete`` with
counts; FAILED and UNSUPPORTED_IMAGE give ``failed`` (the gate cannot pass); anything
else (SCAN_ELIGIBILITY_EXPIRED, PENDING, IN_PROGRESS, ...) carries no verdict.

Results for one digest combine order-independently (``domain.records.merge_scans``).
"""

from __future__ import annotations

from datetime import datetime

from autopilot.domain.records import ScanRecord
from autopilot.logic.policy import ScanGate

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
