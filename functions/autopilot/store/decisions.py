"""Decisions: the audit trail, and the index of the services decided on.

=====================  =============================================================  ========
pk                     sk                                                             expires
=====================  =============================================================  ========
``SVC#<arn>``          ``DEC#<event time>#<event id>``: one decision (outcome,        180 days
                       reason, repository, tag, digest, task_definition, function,
                       event_id, event_time, decided_at, ...); Query
                       ScanIndexForward=False = newest first
``REPO#<repository>``  ``DEC#...``: decisions about no one service (deletes, failed    180 days
                       pushes, untracked repositories: subject ``repository/<name>``)
``SERVICES``           ``<arn>``: every tracking service decided on (repository,       never
                       last_outcome, last_at), and every service ever paused
=====================  =============================================================  ========
"""

from __future__ import annotations

import builtins
from datetime import UTC, datetime
from typing import Any

from autopilot.domain.records import iso
from autopilot.domain.report import Decision
from autopilot.store.table import DAY, Table, svc_pk

DECISION_TTL = 180 * DAY
#: outcomes that list a service in ``SERVICES`` even if it tracks no repository
_ALWAYS_LISTED = frozenset({"paused", "resumed"})


def decision_pk(subject: str) -> str:
    """Decisions about a service live under its ``SVC#`` key; decisions about a repository
    as a whole (``repository/<name>``) under ``REPO#``."""
    if subject.startswith("repository/"):
        return "REPO#" + subject.removeprefix("repository/")
    return svc_pk(subject)


class Decisions:
    def __init__(self, table: Table) -> None:
        self._t = table

    def record(
        self, decision: Decision, *, function: str, event_id: str, event_time: datetime
    ) -> None:
        """Write one decision; re-recording the same event's decision overwrites it."""
        now = self._t.epoch()
        values = decision.to_json()
        values.update(
            pk=decision_pk(decision.service),
            sk=f"DEC#{iso(event_time)}#{event_id}",
            kind="decision",
            function=function,
            event_id=event_id,
            event_time=iso(event_time),
            # microseconds: decisions on events of the same second keep their order
            decided_at=iso(datetime.fromtimestamp(self._t.clock(), UTC)),
            expires_at=now + DECISION_TTL,
        )
        self._t.put(values)
        listed = decision.repository is not None or decision.outcome.value in _ALWAYS_LISTED
        if decision.service.startswith("repository/") or not listed:
            return  # services that track a repository are listed, and paused ones
        self._t.put(
            {
                "pk": "SERVICES",
                "sk": decision.service,
                "kind": "service",
                "repository": decision.repository,
                "last_outcome": decision.outcome.value,
                "last_at": values["decided_at"],
            }
        )

    def list(
        self,
        subject: str,
        *,
        limit: int | None = 50,
        since: datetime | None = None,
        outcomes: frozenset[str] | None = None,
    ) -> list[dict[str, Any]]:
        """A service's decisions (or ``repository/<name>``'s), newest first: at most
        ``limit``, with event time at or after ``since``, outcome among ``outcomes``."""
        pk = decision_pk(subject)
        if since is None and outcomes is None:
            return self._t.query_prefix(pk, "DEC#", newest_first=True, limit=limit)
        values: dict[str, Any] = {
            ":pk": pk,
            ":low": f"DEC#{iso(since)}" if since else "DEC#",
            ":high": "DEC#\uffff",
        }
        condition = names = None
        if outcomes is not None:
            wanted = sorted(outcomes)
            condition = "#o IN (" + ", ".join(f":o{i}" for i in range(len(wanted))) + ")"
            names = {"#o": "outcome"}
            values.update({f":o{i}": name for i, name in enumerate(wanted)})
        return self._t.query(
            "pk = :pk AND sk BETWEEN :low AND :high",
            values,
            newest_first=True,
            limit=limit,
            filter_expression=condition,
            names=names,
        )

    def list_services(self) -> builtins.list[dict[str, Any]]:
        """Every service the functions have decided on (for ``autopilot status``)."""
        return self._t.query_prefix("SERVICES", "")
