"""Handled events: idempotency per (event, function).

=================  ==================================================================  ======
pk                 sk                                                                  expires
=================  ==================================================================  ======
``EVT#<event id>`` ``FN#<function>``: the event was handled (``outcomes`` per service)  7 days
=================  ==================================================================  ======

task-events keys a task state change by ``<task arn>#<version>`` instead of the event id:
redeliveries and copies of one state change share it.
"""

from __future__ import annotations

from typing import Any

from autopilot.store.table import DAY, Table

EVENT_TTL = 7 * DAY


class HandledEvents:
    def __init__(self, table: Table) -> None:
        self._t = table

    def get(self, event_id: str, function: str) -> dict[str, Any] | None:
        return self._t.get(f"EVT#{event_id}", f"FN#{function}")

    def mark(self, event_id: str, function: str, outcomes: dict[str, str]) -> None:
        self._t.put(
            {
                "pk": f"EVT#{event_id}",
                "sk": f"FN#{function}",
                "kind": "event",
                "outcomes": outcomes,
                "expires_at": self._t.epoch() + EVENT_TTL,
            }
        )
