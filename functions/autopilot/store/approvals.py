"""Approvals: manual approval of a digest for a service.

=============  ===========================================================================  =======
pk             sk                                                                           expires
=============  ===========================================================================  =======
``SVC#<arn>``  ``STATE#APPROVAL#<digest>``: status pending | approved | rejected | expired   30 days
               | ineligible (conditional transitions from pending only), repository, tag,
               image, event_id, requested_at, ``approval_expires`` (N: a pending approval
               past it is expired), by, note, decided_at
=============  ===========================================================================  =======
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from autopilot.domain.records import ApprovalRecord, iso
from autopilot.store.table import DAY, Table, parse_iso, svc_pk

APPROVAL_TTL = 30 * DAY
PREFIX = "STATE#APPROVAL#"


def approval_from_item(item: dict[str, Any]) -> ApprovalRecord:
    expires = item.get("approval_expires")
    return ApprovalRecord(
        digest=str(item["digest"]),
        status=str(item.get("status", "pending")),
        repository=item.get("repository"),
        tag=item.get("tag"),
        image=item.get("image"),
        event_id=str(item.get("event_id", "")),
        requested_at=parse_iso(item.get("requested_at")),
        approval_expires=int(expires) if expires is not None else None,
        by=item.get("by"),
        note=item.get("note"),
        decided_at=parse_iso(item.get("decided_at")),
    )


class Approvals:
    def __init__(self, table: Table) -> None:
        self._t = table

    def set(
        self,
        service_arn: str,
        digest: str,
        status: str,
        *,
        event_id: str,
        repository: str | None = None,
        tag: str | None = None,
        image: str | None = None,
        expires_epoch: int | None = None,
        by: str | None = None,
    ) -> ApprovalRecord:
        """Write an approval (a pending one expires at ``expires_epoch``)."""
        now = self._t.epoch()
        values = {
            "pk": svc_pk(service_arn),
            "sk": PREFIX + digest,
            "kind": "approval",
            "digest": digest,
            "status": status,
            "event_id": event_id,
            "repository": repository,
            "tag": tag,
            "image": image,
            "requested_at": iso(datetime.fromtimestamp(now, UTC)),
            "approval_expires": expires_epoch,
            "by": by,
            "expires_at": now + APPROVAL_TTL,
        }
        self._t.put(values)
        return approval_from_item(values)

    def get(self, service_arn: str, digest: str) -> ApprovalRecord | None:
        item = self._t.get(svc_pk(service_arn), PREFIX + digest)
        return approval_from_item(item) if item else None

    def list(self, service_arn: str) -> list[ApprovalRecord]:
        """Every approval item of a service (any status), oldest request first."""
        found = [approval_from_item(i) for i in self._t.query_prefix(svc_pk(service_arn), PREFIX)]
        return sorted(found, key=lambda a: a.requested_at or datetime.min.replace(tzinfo=UTC))

    def decide(
        self,
        service_arn: str,
        digest: str,
        status: str,
        *,
        by: str | None,
        note: str | None = None,
        expired: bool = False,
    ) -> bool:
        """Move a pending approval to ``status``; False if it was not pending (or, unless
        ``expired``, if it has expired; with ``expired``, if it has not). Conditional: of
        two concurrent approvals of one digest, exactly one succeeds."""
        now = self._t.epoch()
        condition = "#s = :pending AND " + (
            "approval_expires <= :now"
            if expired
            else "(attribute_not_exists(approval_expires) OR approval_expires > :now)"
        )
        return self._t.update_if(
            svc_pk(service_arn),
            PREFIX + digest,
            "SET #s = :status, #by = :by, note = :note, decided_at = :at",
            condition,
            {
                ":pending": "pending",
                ":now": now,
                ":status": status,
                ":by": by,
                ":note": note,
                ":at": iso(datetime.fromtimestamp(now, UTC)),
            },
            names={"#s": "status", "#by": "by"},
        )
