"""A service's present state: last known good and quarantined digests; ``load`` reads them
with its approvals and its pause in one Query (``pk = SVC#<arn> AND begins_with(sk,
"STATE#")``). The decisions are its history (``store.decisions``).

=============  =========================================================  =======
pk             sk                                                         expires
=============  =========================================================  =======
``SVC#<arn>``  ``STATE#LKG``: last known good (task_definition, digest,   never
               image, event_id, at)
``SVC#<arn>``  ``STATE#QUARANTINE#<digest>`` (reason, event_id, at)      never
``SVC#<arn>``  ``STATE#APPROVAL#<digest>``: see ``store.approvals``
``SVC#<arn>``  ``STATE#PAUSED``: see ``store.pauses``
``SVC#<arn>``  ``STATE#VULNERABLE#<digest>``: see ``store.vulnerable``
=============  =========================================================  =======
"""

from __future__ import annotations

from autopilot.domain.records import LastKnownGood, ServiceLedgerState, VulnerableMark
from autopilot.store import approvals, vulnerable
from autopilot.store.table import Table, parse_iso, svc_pk

QUARANTINE = "STATE#QUARANTINE#"


class ServiceStates:
    def __init__(self, table: Table) -> None:
        self._t = table

    def load(self, service_arn: str) -> ServiceLedgerState:
        lkg: LastKnownGood | None = None
        quarantined: set[str] = set()
        approved: set[str] = set()
        pending: set[str] = set()
        rejected: set[str] = set()
        paused = False
        marks: list[VulnerableMark] = []
        now = self._t.clock()
        for item in self._t.query_prefix(svc_pk(service_arn), "STATE#"):
            sk = str(item["sk"])
            if sk == "STATE#LKG":
                lkg = LastKnownGood(
                    task_definition=str(item["task_definition"]),
                    digest=item.get("digest"),
                    image=item.get("image"),
                    at=parse_iso(item.get("at")),
                )
            elif sk.startswith(QUARANTINE):
                quarantined.add(sk.removeprefix(QUARANTINE))
            elif sk.startswith(approvals.PREFIX):
                approval = approvals.approval_from_item(item)
                if approval.status == "approved":
                    approved.add(approval.digest)
                elif approval.status == "rejected":
                    rejected.add(approval.digest)
                elif approval.status == "pending" and not approval.expired(now):
                    pending.add(approval.digest)  # an expired one is no longer pending
            elif sk == "STATE#PAUSED":
                paused = True
            elif sk.startswith(vulnerable.PREFIX) and vulnerable.live(item, now):
                marks.append(vulnerable.mark_from_item(item))
        return ServiceLedgerState(
            last_known_good=lkg,
            quarantined=frozenset(quarantined),
            approved=frozenset(approved),
            pending_approval=frozenset(pending),
            paused=paused,
            rejected=frozenset(rejected),
            vulnerable=tuple(marks),
        )

    def last_known_good(self, service_arn: str) -> LastKnownGood | None:
        item = self._t.get(svc_pk(service_arn), "STATE#LKG")
        if item is None:
            return None
        return LastKnownGood(
            task_definition=str(item["task_definition"]),
            digest=item.get("digest"),
            image=item.get("image"),
            at=parse_iso(item.get("at")),
        )

    def set_last_known_good(
        self,
        service_arn: str,
        *,
        task_definition: str,
        digest: str | None,
        image: str | None,
        event_id: str,
    ) -> None:
        self._t.put(
            {
                "pk": svc_pk(service_arn),
                "sk": "STATE#LKG",
                "kind": "last-known-good",
                "task_definition": task_definition,
                "digest": digest,
                "image": image,
                "event_id": event_id,
                "at": self._t.now_iso(),
            }
        )

    def quarantine(self, service_arn: str, digest: str, *, reason: str, event_id: str) -> None:
        self._t.put(
            {
                "pk": svc_pk(service_arn),
                "sk": QUARANTINE + digest,
                "kind": "quarantine",
                "digest": digest,
                "reason": reason,
                "event_id": event_id,
                "at": self._t.now_iso(),
            }
        )

    def is_quarantined(self, service_arn: str, digest: str) -> bool:
        return self._t.get(svc_pk(service_arn), QUARANTINE + digest) is not None
