"""Fargate Spot fallbacks: the strategy a service had before it fell back to on-demand, and
its last Spot placement failure (the calm period).

=============  ===============  =====================================================  =======
pk             sk               what                                                   expires
=============  ===============  =====================================================  =======
``SVC#<arn>``  ``SPOT#SHIFT``   original and shifted-to strategies, shifted_at_epoch   never
``SVC#<arn>``  ``SPOT#FAILURE`` the last RESOURCE:FARGATE placement failure            30 days
=============  ===============  =====================================================  =======
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from autopilot.domain.records import RecordedShift
from autopilot.domain.service import Strategy, StrategyItem
from autopilot.store.table import DAY, Table, epoch_dt, iso_seconds, svc_pk

FAILURE_TTL = 30 * DAY


def _values(strategy: Strategy) -> list[dict[str, Any]]:
    return [
        {"capacity_provider": i.capacity_provider, "weight": i.weight, "base": i.base}
        for i in strategy
    ]


def _strategy(values: Any) -> Strategy:
    return tuple(
        StrategyItem(str(v["capacity_provider"]), int(v.get("weight", 0)), int(v.get("base", 0)))
        for v in values or []
    )


class SpotFallbacks:
    def __init__(self, table: Table) -> None:
        self._t = table

    def shift(self, service_arn: str) -> RecordedShift | None:
        item = self._t.get(svc_pk(service_arn), "SPOT#SHIFT")
        if item is None:
            return None
        at = epoch_dt(item.get("shifted_at_epoch"))
        assert at is not None
        return RecordedShift(
            original=_strategy(item.get("original")),
            shifted_to=_strategy(item.get("shifted_to")),
            shifted_at=at,
        )

    def record_shift(self, service_arn: str, original: Strategy, shifted_to: Strategy) -> None:
        now = self._t.epoch()
        self._t.put(
            {
                "pk": svc_pk(service_arn),
                "sk": "SPOT#SHIFT",
                "kind": "spot-shift",
                "original": _values(original),
                "shifted_to": _values(shifted_to),
                "shifted_at_epoch": now,
                "shifted_at": iso_seconds(now),
            }
        )

    def clear_shift(self, service_arn: str) -> None:
        self._t.delete(svc_pk(service_arn), "SPOT#SHIFT")

    def last_failure(self, service_arn: str) -> datetime | None:
        item = self._t.get(svc_pk(service_arn), "SPOT#FAILURE")
        return None if item is None else epoch_dt(item.get("at_epoch"))

    def record_failure(self, service_arn: str) -> None:
        now = self._t.epoch()
        self._t.put(
            {
                "pk": svc_pk(service_arn),
                "sk": "SPOT#FAILURE",
                "kind": "spot-failure",
                "at_epoch": now,
                "at": iso_seconds(now),
                "expires_at": now + FAILURE_TTL,
            }
        )
