"""Pauses: ``autopilot pause`` holds every reaction for one service.

=============  ==================================  =======
pk             sk                                  expires
=============  ==================================  =======
``SVC#<arn>``  ``STATE#PAUSED`` (by, reason, at)   never
=============  ==================================  =======
"""

from __future__ import annotations

from autopilot.domain.records import Pause
from autopilot.store.table import Table, svc_pk

SK = "STATE#PAUSED"


class Pauses:
    def __init__(self, table: Table) -> None:
        self._t = table

    def get(self, service_arn: str) -> Pause | None:
        """The service's pause, or None when it is not paused."""
        item = self._t.get(svc_pk(service_arn), SK)
        if item is None:
            return None
        return Pause(by=item.get("by"), reason=item.get("reason"), at=item.get("at"))

    def set(
        self, service_arn: str, paused: bool, *, by: str | None = None, reason: str | None = None
    ) -> bool:
        """Pause or resume; False if the service already was in that state (conditional)."""
        pk = svc_pk(service_arn)
        if not paused:
            return self._t.delete_if(pk, SK, "attribute_exists(pk)")
        return self._t.put_if(
            {
                "pk": pk,
                "sk": SK,
                "kind": "paused",
                "by": by,
                "reason": reason,
                "at": self._t.now_iso(),
            },
            "attribute_not_exists(pk)",
        )
