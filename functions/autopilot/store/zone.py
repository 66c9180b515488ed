"""Zone balance: the evaluation window (debounce) and the last move of each service.

=============  ============================================================  =======
pk             sk                                                            expires
=============  ============================================================  =======
``SVC#<arn>``  ``ZONE#WINDOW``: ``window_until`` (N), claimed_at; claimed    1 day
               with a conditional write (one evaluation per window)
``SVC#<arn>``  ``ZONE#MOVE``: the last move (``at_epoch``, at, what): a      30 days
               task stop or a capacity raise
=============  ============================================================  =======
"""

from __future__ import annotations

from autopilot.domain.records import LastChange
from autopilot.store.table import DAY, Table, epoch_dt, iso_seconds, svc_pk

MOVE_TTL = 30 * DAY


class ZoneBalance:
    def __init__(self, table: Table) -> None:
        self._t = table

    def _window(self, service_arn: str, now: int, seconds: int) -> dict[str, object]:
        return {
            "pk": svc_pk(service_arn),
            "sk": "ZONE#WINDOW",
            "kind": "zone-window",
            "window_until": now + seconds,
            "claimed_at": iso_seconds(now),
            "expires_at": now + seconds + DAY,
        }

    def claim_evaluation(self, service_arn: str, window_seconds: int) -> bool:
        """Take the service's evaluation window; False when another evaluation holds it."""
        now = self._t.epoch()
        return self._t.put_if(
            self._window(service_arn, now, window_seconds),
            "attribute_not_exists(pk) OR window_until <= :now",
            {":now": now},
        )

    def reopen_evaluation(self, service_arn: str, after_seconds: int) -> None:
        """End the window early, in ``after_seconds`` (the evaluation could not act: its
        retry evaluates, while a storm meanwhile still makes at most one more evaluation)."""
        self._t.put(self._window(service_arn, self._t.epoch(), after_seconds))

    def last_move(self, service_arn: str) -> LastChange | None:
        item = self._t.get(svc_pk(service_arn), "ZONE#MOVE")
        if item is None or item.get("at_epoch") is None:
            return None
        epoch = int(item["at_epoch"])
        at = epoch_dt(epoch)
        assert at is not None
        return LastChange(at, epoch, str(item.get("what", "")))

    def record_move(self, service_arn: str, what: str) -> None:
        now = self._t.epoch()
        self._t.put(
            {
                "pk": svc_pk(service_arn),
                "sk": "ZONE#MOVE",
                "kind": "zone-move",
                "at_epoch": now,
                "at": iso_seconds(now),
                "what": what,
                "expires_at": now + MOVE_TTL,
            }
        )
