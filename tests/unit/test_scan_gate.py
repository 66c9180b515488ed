"""The scan gate: classification of statuses, order-independent merging, gate verdicts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import reduce

from autopilot.domain.records import ScanRecord, merge_scans
from autopilot.logic.scan import gate_verdict, scan_record
from hypothesis import given
from hypothesis import strategies as st

T0 = datetime(2026, 1, 1, tzinfo=UTC)
DIGEST = "sha256:" + "a" * 64


def record(status: str, counts: dict[str, int] | None = None, minute: int = 0) -> ScanRecord | None:
    return scan_record(
        repository="demo/web",
        digest=DIGEST,
        status=status,
        counts=counts or {},
        at=T0 + timedelta(minutes=minute),
        event_id=f"e{minute}",
    )


def test_statuses() -> None:
    complete = record("COMPLETE", {"CRITICAL": 0, "HIGH": 2, "TOTAL": 2})
    assert complete is not None
    assert complete.state == "complete"
    assert complete.counts == {"HIGH": 2}  # zero keys and TOTAL dropped
    assert record("INITIAL_SCAN_COMPLETE") is not None
    assert record("ACTIVE") is not None
    failed = record("FAILED")
    assert failed is not None
    assert failed.state == "failed"
    assert record("UNSUPPORTED_IMAGE") is not None
    for status in ("SCAN_ELIGIBILITY_EXPIRED", "PENDING", "IN_PROGRESS", "SOMETHING_NEW"):
        assert record(status) is None


def test_gate_verdicts() -> None:
    high = record("COMPLETE", {"HIGH": 1})
    critical = record("COMPLETE", {"CRITICAL": 3})
    clean = record("COMPLETE", {"MEDIUM": 9, "LOW": 1})
    assert gate_verdict("critical", high)[0] == "pass"
    assert gate_verdict("high", high)[0] == "block"
    assert gate_verdict("critical", critical) == ("block", "scan found CRITICAL=3 (gate critical)")
    assert gate_verdict("high", clean)[0] == "pass"
    assert gate_verdict("critical", None)[0] == "await"
    assert gate_verdict("off", None)[0] == "pass"
    assert gate_verdict("off", critical)[0] == "pass"
    assert gate_verdict("critical", record("FAILED"))[0] == "block"


records = st.builds(
    lambda status, crit, high, minute: record(status, {"CRITICAL": crit, "HIGH": high}, minute),
    st.sampled_from(["COMPLETE", "INITIAL_SCAN_COMPLETE", "FAILED"]),
    st.integers(0, 2),
    st.integers(0, 2),
    st.integers(0, 30),
)


@given(st.lists(records, min_size=1, max_size=6), st.randoms())
def test_merging_is_order_independent_and_findings_only_ratchet_up(
    results: list[ScanRecord | None], rnd: object
) -> None:
    shuffled = list(results)
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    a = reduce(merge_scans, results, None)
    b = reduce(merge_scans, shuffled, None)
    assert a is not None
    assert b is not None
    assert (a.state, a.counts) == (b.state, b.counts)
    worst = max(
        (r.counts.get("CRITICAL", 0) for r in results if r and r.state == "complete"), default=0
    )
    if a.state == "complete":
        assert a.counts.get("CRITICAL", 0) == worst
