"""Capacity targets: the last change to each (cooldown) and the floors autopilot raised.

``<target>`` is ``service:<arn>`` or ``asg:<name>`` (``service_target``, ``asg_target``).

================  ====================  ================================================  ========
pk                sk                    what                                              expires
================  ====================  ================================================  ========
``TGT#<target>``  ``CAP#LAST``          last capacity change (``changed_at_epoch``,       cooldown
                                        what); written conditionally on the value read    + 1 day
                                        (one change per cooldown, concurrent events
                                        included)
``TGT#<target>``  ``CAP#ORIGINAL_MIN``  the floor (scalable target MinCapacity / ASG      never
                                        MinSize) before autopilot raised it; when
                                        task-events raised an ASG's: ``raised_by`` (the
                                        service) and ``raised_at_epoch``
================  ====================  ================================================  ========
"""

from __future__ import annotations

from autopilot.domain.records import Floor, LastChange
from autopilot.store.table import DAY, Table, epoch_dt, iso_seconds, tgt_pk


def service_target(service_arn: str) -> str:
    return f"service:{service_arn}"


def asg_target(name: str) -> str:
    return f"asg:{name}"


class CapacityTargets:
    def __init__(self, table: Table) -> None:
        self._t = table

    # -- cooldowns ------------------------------------------------------------------------
    def last_change(self, target: str) -> LastChange | None:
        item = self._t.get(tgt_pk(target), "CAP#LAST")
        if item is None or item.get("changed_at_epoch") is None:
            return None
        epoch = int(item["changed_at_epoch"])
        at = epoch_dt(epoch)
        assert at is not None
        return LastChange(at, epoch, str(item.get("what", "")))

    def claim_change(
        self, target: str, previous: LastChange | None, what: str, *, keep_seconds: int
    ) -> bool:
        """Record a change to ``target``, only if nobody changed it since ``previous`` was read."""
        now = self._t.epoch()
        values = {
            "pk": tgt_pk(target),
            "sk": "CAP#LAST",
            "kind": "capacity-change",
            "changed_at_epoch": now,
            "changed_at": iso_seconds(now),
            "what": what,
            "expires_at": now + keep_seconds + DAY,
        }
        if previous is None:
            return self._t.put_if(values, "attribute_not_exists(pk)")
        return self._t.put_if(values, "changed_at_epoch = :prev", {":prev": previous.epoch})

    def restore_change(self, target: str, previous: LastChange | None) -> None:
        """Give a claim back (its change was not made): the last change is ``previous`` again."""
        if previous is None:
            self._t.delete(tgt_pk(target), "CAP#LAST")
            return
        self._t.put(
            {
                "pk": tgt_pk(target),
                "sk": "CAP#LAST",
                "kind": "capacity-change",
                "changed_at_epoch": previous.epoch,
                "changed_at": iso_seconds(previous.epoch),
                "what": previous.what,
                "expires_at": previous.epoch + DAY,
            }
        )

    # -- floors ---------------------------------------------------------------------------
    def original_min(self, target: str) -> int | None:
        item = self._t.get(tgt_pk(target), "CAP#ORIGINAL_MIN")
        return None if item is None else int(item["value"])

    def record_original_min(self, target: str, value: int) -> None:
        """Keep the first recorded original (a second raise never overwrites it)."""
        self._t.put_if(
            {
                "pk": tgt_pk(target),
                "sk": "CAP#ORIGINAL_MIN",
                "kind": "original-min",
                "value": value,
                "at": iso_seconds(self._t.epoch()),
            },
            "attribute_not_exists(pk)",
        )

    def floor(self, target: str) -> Floor | None:
        item = self._t.get(tgt_pk(target), "CAP#ORIGINAL_MIN")
        if item is None:
            return None
        by = item.get("raised_by")
        return Floor(
            original_min=int(item["value"]),
            raised_by=str(by) if by else None,
            raised_at=epoch_dt(item.get("raised_at_epoch")),
        )

    def record_floor_raise(self, target: str, original: int, raised_by: str) -> bool:
        """Record a floor raised by ``raised_by``'s zone-balance evaluation: the first
        original is kept, the owner and time are the latest raise's. A floor capacity-events
        holds (no owner) is left to it: False, nothing written."""
        now = self._t.epoch()
        return self._t.update_if(
            tgt_pk(target),
            "CAP#ORIGINAL_MIN",
            "SET #v = if_not_exists(#v, :v), kind = :kind, #at = if_not_exists(#at, :iso), "
            "raised_by = :by, raised_at_epoch = :now, raised_at = :iso",
            "attribute_not_exists(pk) OR attribute_exists(raised_by)",
            {
                ":v": original,
                ":kind": "original-min",
                ":iso": iso_seconds(now),
                ":by": raised_by,
                ":now": now,
            },
            names={"#v": "value", "#at": "at"},
        )

    def clear_original_min(self, target: str) -> None:
        self._t.delete(tgt_pk(target), "CAP#ORIGINAL_MIN")
