"""Vulnerable marks: a digest a service runs that failed the service's scan gate after it
was deployed (``flows.image``, the re-gate). The mark is what tells a redelivered or a
different finding event of the same verdict that it was announced already; ``autopilot
status`` shows it. It is cleared when the service runs another digest (a deploy that
completed, ``flows.rollback``; any image event that reads what the service runs) or a later
verdict passes.

=============  ==============================================================  =======
pk             sk                                                              expires
=============  ==============================================================  =======
``SVC#<arn>``  ``STATE#VULNERABLE#<digest>`` (repository, verdict, counts,      90 days
               reason, event_id, at)
=============  ==============================================================  =======

``store.state.load`` reads them with the service's state (one Query); a mark past its
expiry is not returned (DynamoDB removes it later).
"""

from __future__ import annotations

from typing import Any

from autopilot.domain.records import VulnerableMark
from autopilot.store.table import DAY, Table, parse_iso, svc_pk

PREFIX = "STATE#VULNERABLE#"
#: As long as the scan records the marks come from (``store.scans``)
VULNERABLE_TTL = 90 * DAY


def mark_from_item(item: dict[str, Any]) -> VulnerableMark:
    return VulnerableMark(
        digest=str(item["sk"]).removeprefix(PREFIX),
        repository=str(item.get("repository", "")),
        verdict=str(item.get("verdict", "")),
        counts={str(k): int(v) for k, v in (item.get("counts") or {}).items()},
        reason=str(item.get("reason", "")),
        event_id=str(item.get("event_id", "")),
        at=parse_iso(item.get("at")),
    )


def live(item: dict[str, Any], now: float) -> bool:
    """Not past its expiry (DynamoDB's TTL deletes late)."""
    expires = item.get("expires_at")
    return expires is None or float(expires) > now


class VulnerableMarks:
    def __init__(self, table: Table) -> None:
        self._t = table

    def mark(self, service_arn: str, mark: VulnerableMark) -> None:
        """Mark ``mark.digest`` vulnerable for the service (replacing an earlier mark)."""
        self._t.put(
            {
                "pk": svc_pk(service_arn),
                "sk": PREFIX + mark.digest,
                "kind": "vulnerable",
                "repository": mark.repository,
                "digest": mark.digest,
                "verdict": mark.verdict,
                "counts": mark.counts,
                "reason": mark.reason,
                "event_id": mark.event_id,
                "at": self._t.now_iso(),
                "expires_at": self._t.epoch() + VULNERABLE_TTL,
            }
        )

    def clear(self, service_arn: str, digest: str) -> None:
        self._t.delete(svc_pk(service_arn), PREFIX + digest)

    def list(self, service_arn: str) -> list[VulnerableMark]:
        """The service's unexpired marks, by digest."""
        now = self._t.clock()
        items = self._t.query_prefix(svc_pk(service_arn), PREFIX)
        return [mark_from_item(i) for i in items if live(i, now)]
