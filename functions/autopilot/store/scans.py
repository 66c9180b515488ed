"""Scan results, joined to pushes by digest.

=============================  =========================================================  =======
pk                             sk                                                         expires
=============================  =========================================================  =======
``IMG#<repository>@<digest>``  ``SCAN``: state complete | failed, counts, status, at,     90 days
                               event_id, reason, ``rev`` (N, optimistic concurrency)
``IMG#<repository>@<digest>``  ``INDEX``: ``index``, the digest of an image index whose    90 days
                               scan gate is on this manifest (its scan event names only
                               this digest)
=============================  =========================================================  =======

A ``SCAN`` item records what image-events read from ECR (``DescribeImageScanFindings``):
the gate never rests on it, only on the read.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from autopilot.domain.records import ScanRecord, iso, merge_scans
from autopilot.errors import LeaseBusy
from autopilot.store.table import DAY, Table, img_pk, parse_iso

SCAN_TTL = 90 * DAY


def _record(item: dict[str, Any]) -> ScanRecord:
    return ScanRecord(
        repository=str(item["repository"]),
        digest=str(item["digest"]),
        state="failed" if item.get("state") == "failed" else "complete",
        counts={str(k): int(v) for k, v in (item.get("counts") or {}).items()},
        status=str(item.get("status", "")),
        at=parse_iso(item.get("at")) or datetime.fromtimestamp(0, UTC),
        event_id=str(item.get("event_id", "")),
        reason=str(item.get("reason", "")),
    )


class Scans:
    def __init__(self, table: Table) -> None:
        self._t = table

    def get(self, repository: str, digest: str) -> ScanRecord | None:
        item = self._t.get(img_pk(repository, digest), "SCAN")
        return _record(item) if item else None

    def remember(self, record: ScanRecord) -> ScanRecord:
        """Merge ``record`` into the stored result for its digest (optimistic, retried)."""
        pk = img_pk(record.repository, record.digest)
        for _ in range(5):
            item = self._t.get(pk, "SCAN")
            rev = int(item["rev"]) if item else 0
            merged = merge_scans(_record(item) if item else None, record)
            assert merged is not None
            written = self._t.put_if(
                {
                    "pk": pk,
                    "sk": "SCAN",
                    "kind": "scan",
                    "repository": merged.repository,
                    "digest": merged.digest,
                    "state": merged.state,
                    "counts": merged.counts,
                    "status": merged.status,
                    "at": iso(merged.at),
                    "event_id": merged.event_id,
                    "reason": merged.reason,
                    "rev": rev + 1,
                    "expires_at": self._t.epoch() + SCAN_TTL,
                },
                "attribute_not_exists(pk) OR rev = :rev",
                {":rev": rev},
            )
            if written:
                return merged
        raise LeaseBusy(pk, "concurrent scan writers")

    def note_index(self, repository: str, manifest: str, index: str) -> None:
        """Remember that the scan gate of image index ``index`` is on ``manifest``."""
        self._t.put(
            {
                "pk": img_pk(repository, manifest),
                "sk": "INDEX",
                "kind": "scan-index",
                "repository": repository,
                "digest": manifest,
                "index": index,
                "expires_at": self._t.epoch() + SCAN_TTL,
            }
        )

    def index_of(self, repository: str, manifest: str) -> str | None:
        """The image index whose scan gate is on ``manifest`` (``note_index``), if any."""
        item = self._t.get(img_pk(repository, manifest), "INDEX")
        return str(item["index"]) if item and item.get("index") else None
