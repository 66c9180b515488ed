"""Leases: one mutating action per service at a time.

=============  ============================================================  ===============
pk             sk                                                            expires
=============  ============================================================  ===============
``SVC#<arn>``  ``LEASE``: holder, ``lease_until`` (N), ``changed_at`` (N,    a day after the
               the last change made under a lease); conditional writes only  lease
=============  ============================================================  ===============

A lease orders changes in real time ("changed after the caller read the service"), so its
times are always the wall clock's, never the table's clock (which tests move to make
windows and cooldowns pass): flows take ``observed_at`` from ``Leases.now``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from autopilot.errors import LeaseBusy
from autopilot.store.table import DAY, Table, svc_pk


class Leases:
    def __init__(self, table: Table) -> None:
        self._t = table

    @staticmethod
    def now() -> float:
        """The wall clock (epoch seconds) leases compare: take ``observed_at`` from it."""
        return time.time()

    def acquire(
        self, service_arn: str, holder: str, seconds: int, *, unchanged_since: float | None = None
    ) -> None:
        """Take the service's lease or raise ``LeaseBusy``; an expired lease is taken over.

        With ``unchanged_since`` (epoch seconds, taken before the caller read the service),
        the lease is also refused if another holder changed the service after that read:
        the caller decided on stale state and must decide again (its event is retried).
        """
        now = int(self.now())
        condition = "(attribute_not_exists(lease_until) OR lease_until < :now OR holder = :holder)"
        values: dict[str, Any] = {
            ":now": now,
            ":holder": holder,
            ":until": now + seconds,
            ":expires": now + seconds + DAY,
            ":kind": "lease",
        }
        if unchanged_since is not None:
            # Milliseconds, the read's time rounded down and the change's up (``release``), so
            # that changed_at <= since means the change came before the read. Rounded to
            # nearest, a change in the read's millisecond but after it compared equal and
            # passed: two deliveries deployed the same image from the same stale read.
            condition += " AND (attribute_not_exists(changed_at) OR changed_at <= :since)"
            values[":since"] = _millis(unchanged_since, math.floor)
        taken = self._t.update_if(
            svc_pk(service_arn),
            "LEASE",
            "SET holder = :holder, lease_until = :until, expires_at = :expires, kind = :kind",
            condition,
            values,
        )
        if not taken:
            current = self._t.get(svc_pk(service_arn), "LEASE") or {}
            raise LeaseBusy(service_arn, str(current.get("holder") or "a newer change"))

    def release(self, service_arn: str, holder: str, *, changed: bool = False) -> None:
        """Give the lease back; ``changed`` records that the service was changed under it."""
        update = "REMOVE holder, lease_until"
        values: dict[str, Any] = {":holder": holder}
        if changed:
            update = "SET changed_at = :at " + update
            values[":at"] = _millis(self.now(), math.ceil)
        self._t.update_if(svc_pk(service_arn), "LEASE", update, "holder = :holder", values)


def _millis(seconds: float, rounding: Callable[[float], int]) -> Decimal:
    """Epoch ``seconds`` as a DynamoDB number of whole milliseconds' precision."""
    return Decimal(rounding(seconds * 1000)) / 1000
