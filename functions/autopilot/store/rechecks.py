"""Zone-balance re-checks: the trailing edge of the debounce, and deferrals.

===========  =============  ==============================================================  ========
pk           sk             what                                                            expires
===========  =============  ==============================================================  ========
``RECHECK``  ``SVC#<arn>``  a re-check due at ``due_at`` (N): a debounced event, or a        due
                            deferral (move cooldown, floor max age). Written only if none   + 7 days
                            is due earlier (conditional); read by the scheduled re-check
                            with one Query of this partition; cleared with a conditional
                            delete
===========  =============  ==============================================================  ========

Every mark shares the one ``RECHECK`` partition so that the scheduled run finds them with a
single Query (no Scan). There is at most one item per service, written only when a
service's evaluation is debounced or deferred; a storm of one service's events makes one
write (the rest fail the condition).
"""

from __future__ import annotations

from autopilot.domain.records import Recheck
from autopilot.store.table import DAY, Table, iso_seconds, svc_pk

PK = "RECHECK"
RECHECK_TTL = 7 * DAY


class Rechecks:
    def __init__(self, table: Table) -> None:
        self._t = table

    def mark(self, service_arn: str, due_epoch: int, why: str) -> bool:
        """Mark a re-check of the service due at ``due_epoch``: one conditional write, kept
        only if no re-check is due earlier (so repeating it changes nothing)."""
        due = int(due_epoch)
        return self._t.put_if(
            {
                "pk": PK,
                "sk": svc_pk(service_arn),
                "kind": "zone-recheck",
                "service_arn": service_arn,
                "due_at": due,
                "due": iso_seconds(due),
                "why": why[:200],
                "expires_at": due + RECHECK_TTL,
            },
            "attribute_not_exists(pk) OR due_at > :due",
            {":due": due},
        )

    def due(self, *, limit: int) -> list[Recheck]:
        """Re-checks due now, earliest first, at most ``limit`` (one Query of ``RECHECK``)."""
        now = self._t.epoch()
        due = [
            Recheck(str(i["service_arn"]), int(i["due_at"]), str(i.get("why", "")))
            for i in self._t.query_prefix(PK, "SVC#")
            if i.get("service_arn") and int(i.get("due_at", now + 1)) <= now
        ]
        return sorted(due, key=lambda r: (r.due_epoch, r.service_arn))[:limit]

    def clear(self, recheck: Recheck) -> bool:
        """Delete the mark if it is still the one read (a newer, earlier mark stays)."""
        return self._t.delete_if(
            PK, svc_pk(recheck.service_arn), "due_at = :due", {":due": recheck.due_epoch}
        )
