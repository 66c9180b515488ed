"""Deploy records: what a deploy or a rollback put on a service, the revisions
registered for a deploy that no UpdateService has used yet, and the intents to register one.

=============  ================================================================  ========
pk             sk                                                                expires
=============  ================================================================  ========
``SVC#<arn>``  ``DEPLOY#<task definition arn>``: digest, tag,                    180 days
               previous_task_definition, deployment_id, state registered |
               deployed, event_id, pushed_at, at
``INTENT``     ``<service arn>|<id>``: service, family, digest,                  180 days
               previous_task_definition, event_id, at: written before a
               RegisterTaskDefinition whose revision carries the tag
               ``autopilot:intent=<id>``, forgotten once the revision is recorded
               (or, left by a killed invocation, once a later deploy of the
               service, or the reconciler's sweep, has found and deregistered what
               it registered: ``execute``). One partition for every service, so
               that a sweep finds them all with one Query.
=============  ================================================================  ========
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, NamedTuple

from autopilot.domain.records import DeployRecord, iso
from autopilot.store.decisions import DECISION_TTL
from autopilot.store.table import Table, parse_iso, svc_pk

PREFIX = "DEPLOY#"
#: the partition of every service's intents
INTENT_PK = "INTENT"


class Intent(NamedTuple):
    """A RegisterTaskDefinition about to be made (or made, and its record lost)."""

    id: str
    family: str
    #: the revision the deploy copies (the service's current one)
    base: str | None
    at: datetime | None


def _record(item: dict[str, Any]) -> DeployRecord:
    return DeployRecord(
        task_definition=str(item["task_definition"]),
        digest=item.get("digest"),
        tag=item.get("tag"),
        previous_task_definition=item.get("previous_task_definition"),
        event_id=str(item.get("event_id", "")),
        deployment_id=item.get("deployment_id"),
        at=parse_iso(item.get("at")),
        state=str(item.get("state", "deployed")),
        pushed_at=parse_iso(item.get("pushed_at")),
    )


class Deploys:
    def __init__(self, table: Table) -> None:
        self._t = table

    def record(self, service_arn: str, record: DeployRecord) -> None:
        self._t.put(
            {
                "pk": svc_pk(service_arn),
                "sk": PREFIX + record.task_definition,
                "kind": "deploy",
                "task_definition": record.task_definition,
                "digest": record.digest,
                "tag": record.tag,
                "previous_task_definition": record.previous_task_definition,
                "deployment_id": record.deployment_id,
                "state": record.state,
                "event_id": record.event_id,
                "pushed_at": iso(record.pushed_at) if record.pushed_at else None,
                "at": self._t.now_iso(),
                "expires_at": self._t.epoch() + DECISION_TTL,
            }
        )

    def intend(self, service_arn: str, intent: Intent, record: DeployRecord) -> None:
        """Record the intent to register a revision of ``intent.family`` for ``record``."""
        self._t.put(
            {
                "pk": INTENT_PK,
                "sk": f"{service_arn}|{intent.id}",
                "kind": "intent",
                "service": service_arn,
                "family": intent.family,
                "digest": record.digest,
                "previous_task_definition": intent.base,
                "event_id": record.event_id,
                "at": self._t.now_iso(),
                "expires_at": self._t.epoch() + DECISION_TTL,
            }
        )

    def list_intents(self, service_arn: str) -> list[Intent]:
        """The service's intents left: each one's revision may exist with no record naming
        it."""
        return [intent for _, intent in self._intents(f"{service_arn}|")]

    def left_intents(self, before: datetime) -> list[tuple[str, Intent]]:
        """Every service's intents written before ``before`` (service arn, intent): older
        than any invocation still running, so left by one that was killed."""
        return [
            (service, intent)
            for service, intent in self._intents("")
            if intent.at is not None and intent.at < before
        ]

    def _intents(self, prefix: str) -> list[tuple[str, Intent]]:
        return [
            (
                str(i.get("service", "")),
                Intent(
                    id=str(i["sk"]).rpartition("|")[2],
                    family=str(i.get("family", "")),
                    base=i.get("previous_task_definition"),
                    at=parse_iso(i.get("at")),
                ),
            )
            for i in self._t.query_prefix(INTENT_PK, prefix)
        ]

    def forget_intent(self, service_arn: str, intent: Intent) -> None:
        self._t.delete(INTENT_PK, f"{service_arn}|{intent.id}")

    def get(self, service_arn: str, task_definition: str) -> DeployRecord | None:
        item = self._t.get(svc_pk(service_arn), PREFIX + task_definition)
        return _record(item) if item else None

    def _all(self, service_arn: str) -> list[DeployRecord]:
        return [_record(i) for i in self._t.query_prefix(svc_pk(service_arn), PREFIX)]

    def list_registered(self, service_arn: str) -> list[DeployRecord]:
        """Every revision registered for the service that no UpdateService has used yet."""
        return [r for r in self._all(service_arn) if r.state == "registered"]

    def find_by_deployment(self, service_arn: str, deployment_id: str) -> DeployRecord | None:
        """The deploy record that started ECS deployment ``deployment_id``, if one did."""
        return next((r for r in self._all(service_arn) if r.deployment_id == deployment_id), None)

    def last_deployed(self, service_arn: str) -> DeployRecord | None:
        """What autopilot last put on the service (a deploy or a rollback), if anything."""
        deployed = [r for r in self._all(service_arn) if r.state == "deployed"]
        return max(deployed, key=lambda r: r.at or datetime.min.replace(tzinfo=UTC), default=None)

    def forget(self, service_arn: str, task_definition: str) -> None:
        self._t.delete(svc_pk(service_arn), PREFIX + task_definition)
