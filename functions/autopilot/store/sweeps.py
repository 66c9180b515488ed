"""Sweeps: where the reconciler's next sweep starts (a sweep cut short by its time budget
leaves the repository it did not reach; the next one starts there). A shard of a fanned-out
sweep keeps its own, under ``<fn>#shard-<n>``.

==================  ==========  ======================================  =======
pk                  sk          values                                  expires
==================  ==========  ======================================  =======
``SWEEP#<fn>``      ``CURSOR``  ``next`` (a repository), ``event_id``   never
==================  ==========  ======================================  =======
"""

from __future__ import annotations

from autopilot.store.table import Table

SK = "CURSOR"


class Sweeps:
    def __init__(self, table: Table) -> None:
        self._t = table

    def next_start(self, function: str) -> str | None:
        """The repository the next sweep starts at (None: the first, in name order)."""
        item = self._t.get(f"SWEEP#{function}", SK)
        value = item.get("next") if item else None
        return str(value) if value else None

    def set_next_start(self, function: str, repository: str | None, *, event_id: str) -> None:
        """Where the next sweep starts: ``repository``, or (None) from the first again."""
        self._t.put(
            {
                "pk": f"SWEEP#{function}",
                "sk": SK,
                "kind": "sweep-cursor",
                "next": repository or "",
                "event_id": event_id,
                "at": self._t.now_iso(),
            }
        )
