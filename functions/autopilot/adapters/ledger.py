"""The ledger: the audit trail and the shared state of the functions, in one DynamoDB table.

Table keys: ``pk`` (S), ``sk`` (S); TTL attribute ``expires_at`` (N, epoch seconds).
Item layout (``<arn>`` is the full ECS service ARN, times are UTC ISO-8601):

====================================  ==========================================  =========
pk                                    sk                                          expires
====================================  ==========================================  =========
``SVC#<arn>``                         ``DEC#<event time>#<event id>``: one         180 days
                                      decision (outcome, reason, repository, tag,
                                      digest, task_definition, function, ...);
                                      Query ScanIndexForward=False = newest first
``SVC#<arn>``                         ``DEPLOY#<task definition arn>``: what a     180 days
                                      deploy or rollback put on the service
                                      (digest, tag, previous_task_definition,
                                      deployment_id, state registered|deployed)
``SVC#<arn>``                         ``STATE#LKG``: last known good               never
                                      (task_definition, digest, image)
``SVC#<arn>``                         ``STATE#QUARANTINE#<digest>`` (reason)       never
``SVC#<arn>``                         ``STATE#APPROVAL#<digest>``: status          30 days
                                      pending | approved | rejected | expired |
                                      ineligible (conditional transitions from
                                      pending only), repository, tag, image,
                                      requested_at, ``approval_expires`` (N: a
                                      pending approval past it is expired), by,
                                      note, decided_at
``SVC#<arn>``                         ``STATE#PAUSED`` (by, reason, at)            never
``SVC#<arn>``                         ``LEASE``: holder, ``lease_until`` (N),      a day after
                                      ``changed_at`` (N, last change made under    the lease
                                      a lease); conditional writes only
``IMG#<repository>@<digest>``         ``SCAN``: state complete | failed, counts,   90 days
                                      status, at, event_id, ``rev`` (N)
``EVT#<event id>``                    ``FN#<function>``: the event was handled     7 days
                                      (outcomes per service), for idempotency
``REPO#<repository>``                 ``DEC#...``: decisions about no one service  180 days
                                      (deletes, failed pushes, untracked repos)
``SERVICES``                          ``<arn>``: every tracking service decided on  never
                                      (repository, last_outcome, last_at), and
                                      every service ever paused
====================================  ==========================================  =========

One Query (``pk = SVC#<arn> AND begins_with(sk, "STATE#")``) loads a service's present
state; the decisions are its history. The CLI's ``history`` and ``status`` read through
``list_decisions``, ``list_services``, ``load_state``, ``list_approvals`` and ``get_paused``.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, NamedTuple

from autopilot.adapters.aws_errors import translate
from autopilot.errors import AwsCallFailed, LeaseBusy
from autopilot.models.state import (
    DeployRecord,
    LastKnownGood,
    ScanRecord,
    ServiceLedgerState,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

    from autopilot.models.report import Decision

DAY = 86_400
DECISION_TTL = 180 * DAY
SCAN_TTL = 90 * DAY
EVENT_TTL = 7 * DAY
APPROVAL_TTL = 30 * DAY
#: outcomes that list a service in ``SERVICES`` even if it tracks no repository
_ALWAYS_LISTED = frozenset({"paused", "resumed"})


def svc_pk(service_arn: str) -> str:
    return f"SVC#{service_arn}"


def decision_pk(subject: str) -> str:
    """Decisions about a service live under its ``SVC#`` key; decisions about a repository
    as a whole (``repository/<name>``: ignored deletes, scans no service tracks) under ``REPO#``."""
    if subject.startswith("repository/"):
        return "REPO#" + subject.removeprefix("repository/")
    return svc_pk(subject)


def img_pk(repository: str, digest: str) -> str:
    return f"IMG#{repository}@{digest}"


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse_iso(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


class Approval(NamedTuple):
    """One ``STATE#APPROVAL#<digest>`` item (``status`` as stored; see ``expired``)."""

    digest: str
    status: str
    repository: str | None = None
    tag: str | None = None
    image: str | None = None
    event_id: str = ""
    requested_at: datetime | None = None
    approval_expires: int | None = None  # epoch seconds
    by: str | None = None
    note: str | None = None
    decided_at: datetime | None = None

    def expired(self, now: float) -> bool:
        """A pending approval past its expiry (it is recorded as expired when next met)."""
        return (
            self.status == "pending"
            and self.approval_expires is not None
            and self.approval_expires <= now
        )

    @property
    def expires_iso(self) -> str | None:
        if self.approval_expires is None:
            return None
        return _iso(datetime.fromtimestamp(self.approval_expires, UTC))


def to_av(value: Any) -> dict[str, Any]:
    """A Python value as a DynamoDB attribute value."""
    if value is None:
        return {"NULL": True}
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, int | float | Decimal):
        return {"N": str(value)}
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, dict):
        return {"M": {str(k): to_av(v) for k, v in value.items()}}
    if isinstance(value, list | tuple | set | frozenset):
        return {"L": [to_av(v) for v in value]}
    if isinstance(value, datetime):
        return {"S": _iso(value)}
    raise TypeError(type(value).__name__)


def from_av(av: Any) -> Any:
    (kind, value), *_ = av.items()
    if kind == "S":
        return value
    if kind == "N":
        number = Decimal(value)
        return int(number) if number == number.to_integral_value() else float(number)
    if kind == "BOOL":
        return bool(value)
    if kind == "NULL":
        return None
    if kind == "M":
        return {k: from_av(v) for k, v in value.items()}
    if kind == "L":
        return [from_av(v) for v in value]
    if kind == "SS":
        return set(value)
    raise TypeError(kind)


def to_item(values: dict[str, Any]) -> dict[str, Any]:
    return {k: to_av(v) for k, v in values.items() if v is not None}


def from_item(item: dict[str, Any]) -> dict[str, Any]:
    return {k: from_av(v) for k, v in item.items()}


def query_items(
    db: DynamoDBClient, kwargs: dict[str, Any], *, limit: int | None = None, page_limit: bool = True
) -> list[dict[str, Any]]:
    """Every item a Query returns, page by page, at most ``limit``. ``page_limit``: ask each
    page for only what is still missing (off when a FilterExpression applies after it)."""
    items: list[dict[str, Any]] = []
    while True:
        if limit is not None and page_limit:
            kwargs["Limit"] = limit - len(items)
        with translate("dynamodb:Query"):
            response = db.query(**kwargs)
        items.extend(from_item(i) for i in response.get("Items", []))
        last = response.get("LastEvaluatedKey")
        if not last or (limit is not None and len(items) >= limit):
            return items[:limit] if limit is not None else items
        kwargs["ExclusiveStartKey"] = last


def query_prefix(
    db: DynamoDBClient,
    table: str,
    pk: str,
    prefix: str,
    *,
    newest_first: bool = False,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """The items of partition ``pk`` whose sort key starts with ``prefix`` (all of them if
    it is empty), strongly consistent."""
    kwargs: dict[str, Any] = {
        "TableName": table,
        "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
        "ExpressionAttributeValues": to_item({":pk": pk, ":prefix": prefix}),
        "ScanIndexForward": not newest_first,
        "ConsistentRead": True,
    }
    if not prefix:
        kwargs["KeyConditionExpression"] = "pk = :pk"
        kwargs["ExpressionAttributeValues"] = to_item({":pk": pk})
    return query_items(db, kwargs, limit=limit)


class Ledger:
    """Typed reads and writes of the ledger table."""

    def __init__(self, client: DynamoDBClient, table: str, *, clock: Any = time.time) -> None:
        self._db = client
        self._table = table
        self._clock = clock

    def _now(self) -> int:
        return int(self._clock())

    # -- low level -----------------------------------------------------------------
    def _put(self, values: dict[str, Any], **kwargs: Any) -> None:
        with translate("dynamodb:PutItem"):
            self._db.put_item(TableName=self._table, Item=to_item(values), **kwargs)

    def _get(self, pk: str, sk: str) -> dict[str, Any] | None:
        with translate("dynamodb:GetItem"):
            response = self._db.get_item(
                TableName=self._table, Key=to_item({"pk": pk, "sk": sk}), ConsistentRead=True
            )
        item = response.get("Item")
        return from_item(item) if item else None

    def _query(
        self, pk: str, prefix: str, *, newest_first: bool = False, limit: int | None = None
    ) -> list[dict[str, Any]]:
        return query_prefix(
            self._db, self._table, pk, prefix, newest_first=newest_first, limit=limit
        )

    # -- decisions (the audit trail) --------------------------------------------------
    def record_decision(
        self, decision: Decision, *, function: str, event_id: str, event_time: datetime
    ) -> None:
        """Write one decision; re-recording the same event's decision overwrites it."""
        now = self._now()
        values = decision.model_dump(mode="json", exclude={"notify"})
        values.update(
            pk=decision_pk(decision.service),
            sk=f"DEC#{_iso(event_time)}#{event_id}",
            kind="decision",
            function=function,
            event_id=event_id,
            event_time=_iso(event_time),
            decided_at=_iso(datetime.fromtimestamp(now, UTC)),
            expires_at=now + DECISION_TTL,
        )
        self._put(values)
        listed = decision.repository is not None or decision.outcome.value in _ALWAYS_LISTED
        if decision.service.startswith("repository/") or not listed:
            return  # services that track a repository are listed, and paused ones
        self._put(
            {
                "pk": "SERVICES",
                "sk": decision.service,
                "kind": "service",
                "repository": decision.repository,
                "last_outcome": decision.outcome.value,
                "last_at": values["decided_at"],
            }
        )

    def list_decisions(
        self,
        service_arn: str,
        *,
        limit: int | None = 50,
        since: datetime | None = None,
        outcomes: frozenset[str] | None = None,
    ) -> list[dict[str, Any]]:
        """A service's decisions (or ``repository/<name>``'s), newest first: at most
        ``limit``, with event time at or after ``since``, outcome among ``outcomes``."""
        if since is None and outcomes is None:
            return self._query(decision_pk(service_arn), "DEC#", newest_first=True, limit=limit)
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk AND sk BETWEEN :low AND :high",
            "ExpressionAttributeValues": to_item(
                {
                    ":pk": decision_pk(service_arn),
                    ":low": f"DEC#{_iso(since)}" if since else "DEC#",
                    ":high": "DEC#\uffff",
                }
            ),
            "ScanIndexForward": False,
            "ConsistentRead": True,
        }
        if outcomes is not None:
            names = sorted(outcomes)
            kwargs["FilterExpression"] = (
                "#o IN (" + ", ".join(f":o{i}" for i in range(len(names))) + ")"
            )
            kwargs["ExpressionAttributeNames"] = {"#o": "outcome"}
            kwargs["ExpressionAttributeValues"].update(
                to_item({f":o{i}": name for i, name in enumerate(names)})
            )
        # no per-page Limit: DynamoDB applies it before the filter
        return query_items(self._db, kwargs, limit=limit, page_limit=False)

    def list_services(self) -> list[dict[str, Any]]:
        """Every service the functions have decided on (for ``autopilot status``)."""
        return self._query("SERVICES", "")

    # -- events (idempotency) ------------------------------------------------------
    def get_event(self, event_id: str, function: str) -> dict[str, Any] | None:
        return self._get(f"EVT#{event_id}", f"FN#{function}")

    def mark_event(self, event_id: str, function: str, outcomes: dict[str, str]) -> None:
        self._put(
            {
                "pk": f"EVT#{event_id}",
                "sk": f"FN#{function}",
                "kind": "event",
                "outcomes": outcomes,
                "expires_at": self._now() + EVENT_TTL,
            }
        )

    # -- present state of a service -------------------------------------------------
    def load_state(self, service_arn: str) -> ServiceLedgerState:
        lkg: LastKnownGood | None = None
        quarantined: set[str] = set()
        approved: set[str] = set()
        pending: set[str] = set()
        rejected: set[str] = set()
        paused = False
        now = self._clock()
        for item in self._query(svc_pk(service_arn), "STATE#"):
            sk = str(item["sk"])
            if sk == "STATE#LKG":
                lkg = LastKnownGood(
                    task_definition=str(item["task_definition"]),
                    digest=item.get("digest"),
                    image=item.get("image"),
                    at=_parse_iso(item.get("at")),
                )
            elif sk.startswith("STATE#QUARANTINE#"):
                quarantined.add(sk.removeprefix("STATE#QUARANTINE#"))
            elif sk.startswith("STATE#APPROVAL#"):
                approval = _approval_from_item(item)
                if approval.status == "approved":
                    approved.add(approval.digest)
                elif approval.status == "rejected":
                    rejected.add(approval.digest)
                elif approval.status == "pending" and not approval.expired(now):
                    pending.add(approval.digest)  # an expired one is no longer pending
            elif sk == "STATE#PAUSED":
                paused = True
        return ServiceLedgerState(
            last_known_good=lkg,
            quarantined=frozenset(quarantined),
            approved=frozenset(approved),
            pending_approval=frozenset(pending),
            paused=paused,
            rejected=frozenset(rejected),
        )

    def get_last_known_good(self, service_arn: str) -> LastKnownGood | None:
        return self.load_state(service_arn).last_known_good

    def set_last_known_good(
        self,
        service_arn: str,
        *,
        task_definition: str,
        digest: str | None,
        image: str | None,
        event_id: str,
    ) -> None:
        self._put(
            {
                "pk": svc_pk(service_arn),
                "sk": "STATE#LKG",
                "kind": "last-known-good",
                "task_definition": task_definition,
                "digest": digest,
                "image": image,
                "event_id": event_id,
                "at": _iso(datetime.fromtimestamp(self._now(), UTC)),
            }
        )

    def quarantine(self, service_arn: str, digest: str, *, reason: str, event_id: str) -> None:
        self._put(
            {
                "pk": svc_pk(service_arn),
                "sk": f"STATE#QUARANTINE#{digest}",
                "kind": "quarantine",
                "digest": digest,
                "reason": reason,
                "event_id": event_id,
                "at": _iso(datetime.fromtimestamp(self._now(), UTC)),
            }
        )

    def is_quarantined(self, service_arn: str, digest: str) -> bool:
        return self._get(svc_pk(service_arn), f"STATE#QUARANTINE#{digest}") is not None

    def set_approval(
        self,
        service_arn: str,
        digest: str,
        status: str,
        *,
        event_id: str,
        repository: str | None = None,
        tag: str | None = None,
        image: str | None = None,
        ttl_seconds: int | None = None,
        by: str | None = None,
    ) -> Approval:
        """Write an approval (a new pending one expires ``ttl_seconds`` from now)."""
        now = self._now()
        values = {
            "pk": svc_pk(service_arn),
            "sk": f"STATE#APPROVAL#{digest}",
            "kind": "approval",
            "digest": digest,
            "status": status,
            "event_id": event_id,
            "repository": repository,
            "tag": tag,
            "image": image,
            "requested_at": _iso(datetime.fromtimestamp(now, UTC)),
            "approval_expires": now + ttl_seconds if ttl_seconds is not None else None,
            "by": by,
            "expires_at": now + APPROVAL_TTL,
        }
        self._put(values)
        return _approval_from_item(values)

    def get_approval(self, service_arn: str, digest: str) -> Approval | None:
        item = self._get(svc_pk(service_arn), f"STATE#APPROVAL#{digest}")
        return _approval_from_item(item) if item else None

    def list_approvals(self, service_arn: str) -> list[Approval]:
        """Every approval item of a service (any status), oldest request first."""
        found = [
            _approval_from_item(i) for i in self._query(svc_pk(service_arn), "STATE#APPROVAL#")
        ]
        return sorted(found, key=lambda a: a.requested_at or datetime.min.replace(tzinfo=UTC))

    def decide_approval(
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
        now = self._now()
        condition = "#s = :pending AND "
        condition += (
            "approval_expires <= :now"
            if expired
            else "(attribute_not_exists(approval_expires) OR approval_expires > :now)"
        )
        values = {
            ":pending": "pending",
            ":now": now,
            ":status": status,
            ":by": by,
            ":note": note,
            ":at": _iso(datetime.fromtimestamp(now, UTC)),
        }
        try:
            with translate("dynamodb:UpdateItem"):
                self._db.update_item(
                    TableName=self._table,
                    Key=to_item({"pk": svc_pk(service_arn), "sk": f"STATE#APPROVAL#{digest}"}),
                    UpdateExpression="SET #s = :status, #by = :by, note = :note, decided_at = :at",
                    ConditionExpression=condition,
                    ExpressionAttributeNames={"#s": "status", "#by": "by"},
                    ExpressionAttributeValues={k: to_av(v) for k, v in values.items()},
                )
        except AwsCallFailed as exc:
            if exc.code != "ConditionalCheckFailedException":
                raise
            return False
        return True

    def get_paused(self, service_arn: str) -> dict[str, Any] | None:
        """The ``STATE#PAUSED`` item (by, reason, at), or None when the service is not paused."""
        return self._get(svc_pk(service_arn), "STATE#PAUSED")

    def set_paused(
        self,
        service_arn: str,
        paused: bool,
        *,
        by: str | None = None,
        reason: str | None = None,
    ) -> bool:
        """Pause or resume; False if the service already was in that state (conditional)."""
        key = {"pk": svc_pk(service_arn), "sk": "STATE#PAUSED"}
        try:
            if paused:
                self._put(
                    {
                        **key,
                        "kind": "paused",
                        "by": by,
                        "reason": reason,
                        "at": _iso(datetime.fromtimestamp(self._now(), UTC)),
                    },
                    ConditionExpression="attribute_not_exists(pk)",
                )
            else:
                with translate("dynamodb:DeleteItem"):
                    self._db.delete_item(
                        TableName=self._table,
                        Key=to_item(key),
                        ConditionExpression="attribute_exists(pk)",
                    )
        except AwsCallFailed as exc:
            if exc.code != "ConditionalCheckFailedException":
                raise
            return False
        return True

    # -- deploy records ----------------------------------------------------------------
    def record_deploy(self, service_arn: str, record: DeployRecord) -> None:
        self._put(
            {
                "pk": svc_pk(service_arn),
                "sk": f"DEPLOY#{record.task_definition}",
                "kind": "deploy",
                "task_definition": record.task_definition,
                "digest": record.digest,
                "tag": record.tag,
                "previous_task_definition": record.previous_task_definition,
                "deployment_id": record.deployment_id,
                "state": record.state,
                "event_id": record.event_id,
                "pushed_at": _iso(record.pushed_at) if record.pushed_at else None,
                "at": _iso(datetime.fromtimestamp(self._now(), UTC)),
                "expires_at": self._now() + DECISION_TTL,
            }
        )

    def get_deploy(self, service_arn: str, task_definition: str) -> DeployRecord | None:
        item = self._get(svc_pk(service_arn), f"DEPLOY#{task_definition}")
        return _deploy_from_item(item) if item else None

    def find_registered(
        self, service_arn: str, digest: str, base_task_definition: str
    ) -> DeployRecord | None:
        """A revision registered for ``digest`` on top of ``base_task_definition`` that no
        UpdateService has used yet (a previous attempt failed transiently or timed out)."""
        for item in self._query(svc_pk(service_arn), "DEPLOY#"):
            if (
                item.get("state") == "registered"
                and item.get("digest") == digest
                and item.get("previous_task_definition") == base_task_definition
            ):
                return _deploy_from_item(item)
        return None

    def list_registered(self, service_arn: str) -> list[DeployRecord]:
        """Every revision registered for the service that no UpdateService has used yet."""
        return [
            _deploy_from_item(item)
            for item in self._query(svc_pk(service_arn), "DEPLOY#")
            if item.get("state") == "registered"
        ]

    def forget_deploy(self, service_arn: str, task_definition: str) -> None:
        with translate("dynamodb:DeleteItem"):
            self._db.delete_item(
                TableName=self._table,
                Key=to_item({"pk": svc_pk(service_arn), "sk": f"DEPLOY#{task_definition}"}),
            )

    def find_deploy(self, service_arn: str, deployment_id: str) -> DeployRecord | None:
        """The deploy record that started ECS deployment ``deployment_id``, if one did."""
        for item in self._query(svc_pk(service_arn), "DEPLOY#"):
            if item.get("deployment_id") == deployment_id:
                return _deploy_from_item(item)
        return None

    # -- lease ------------------------------------------------------------------------
    def acquire_lease(
        self,
        service_arn: str,
        holder: str,
        seconds: int,
        *,
        unchanged_since: float | None = None,
    ) -> None:
        """Take the service's lease or raise ``LeaseBusy``; an expired lease is taken over.

        With ``unchanged_since`` (epoch seconds, taken before the caller read the service),
        the lease is also refused if another holder changed the service after that read:
        the caller decided on stale state and must decide again (its event is retried).
        """
        now = self._now()
        condition = "(attribute_not_exists(lease_until) OR lease_until < :now OR holder = :holder)"
        values: dict[str, Any] = {
            ":now": now,
            ":holder": holder,
            ":until": now + seconds,
            ":expires": now + seconds + DAY,
            ":kind": "lease",
        }
        if unchanged_since is not None:
            condition += " AND (attribute_not_exists(changed_at) OR changed_at <= :since)"
            values[":since"] = Decimal(str(round(unchanged_since, 3)))
        try:
            with translate("dynamodb:UpdateItem"):
                self._db.update_item(
                    TableName=self._table,
                    Key=to_item({"pk": svc_pk(service_arn), "sk": "LEASE"}),
                    UpdateExpression=(
                        "SET holder = :holder, lease_until = :until, expires_at = :expires,"
                        " kind = :kind"
                    ),
                    ConditionExpression=condition,
                    ExpressionAttributeValues=to_item(values),
                )
        except AwsCallFailed as exc:
            if exc.code != "ConditionalCheckFailedException":
                raise
            current = self._get(svc_pk(service_arn), "LEASE") or {}
            raise LeaseBusy(service_arn, str(current.get("holder") or "a newer change")) from None

    def release_lease(self, service_arn: str, holder: str, *, changed: bool = False) -> None:
        """Give the lease back; ``changed`` records that the service was changed under it."""
        update = "REMOVE holder, lease_until"
        values: dict[str, Any] = {":holder": holder}
        if changed:
            update = "SET changed_at = :at " + update
            values[":at"] = Decimal(str(round(self._clock(), 3)))
        try:
            with translate("dynamodb:UpdateItem"):
                self._db.update_item(
                    TableName=self._table,
                    Key=to_item({"pk": svc_pk(service_arn), "sk": "LEASE"}),
                    UpdateExpression=update,
                    ConditionExpression="holder = :holder",
                    ExpressionAttributeValues=to_item(values),
                )
        except AwsCallFailed as exc:
            if exc.code != "ConditionalCheckFailedException":
                raise

    # -- scans ------------------------------------------------------------------------
    def get_scan(self, repository: str, digest: str) -> ScanRecord | None:
        item = self._get(img_pk(repository, digest), "SCAN")
        return _scan_from_item(item) if item else None

    def remember_scan(self, record: ScanRecord) -> ScanRecord:
        """Merge ``record`` into the stored result for its digest (optimistic, retried)."""
        from autopilot.logic.scan import merge_scans  # noqa: PLC0415 - logic is pure

        pk = img_pk(record.repository, record.digest)
        for _ in range(5):
            item = self._get(pk, "SCAN")
            old = _scan_from_item(item) if item else None
            rev = int(item["rev"]) if item else 0
            merged = merge_scans(old, record)
            assert merged is not None
            values = {
                "pk": pk,
                "sk": "SCAN",
                "kind": "scan",
                "repository": merged.repository,
                "digest": merged.digest,
                "state": merged.state,
                "counts": merged.counts,
                "status": merged.status,
                "at": _iso(merged.at),
                "event_id": merged.event_id,
                "reason": merged.reason,
                "rev": rev + 1,
                "expires_at": self._now() + SCAN_TTL,
            }
            try:
                self._put(
                    values,
                    ConditionExpression="attribute_not_exists(pk) OR rev = :rev",
                    ExpressionAttributeValues=to_item({":rev": rev}),
                )
                return merged
            except AwsCallFailed as exc:
                if exc.code != "ConditionalCheckFailedException":
                    raise
        raise LeaseBusy(pk, "concurrent scan writers")


def _deploy_from_item(item: dict[str, Any]) -> DeployRecord:
    return DeployRecord(
        task_definition=str(item["task_definition"]),
        digest=item.get("digest"),
        tag=item.get("tag"),
        previous_task_definition=item.get("previous_task_definition"),
        event_id=str(item.get("event_id", "")),
        deployment_id=item.get("deployment_id"),
        at=_parse_iso(item.get("at")),
        state=str(item.get("state", "deployed")),
        pushed_at=_parse_iso(item.get("pushed_at")),
    )


def _approval_from_item(item: dict[str, Any]) -> Approval:
    expires = item.get("approval_expires")
    return Approval(
        digest=str(item["digest"]),
        status=str(item.get("status", "pending")),
        repository=item.get("repository"),
        tag=item.get("tag"),
        image=item.get("image"),
        event_id=str(item.get("event_id", "")),
        requested_at=_parse_iso(item.get("requested_at")),
        approval_expires=int(expires) if expires is not None else None,
        by=item.get("by"),
        note=item.get("note"),
        decided_at=_parse_iso(item.get("decided_at")),
    )


def _scan_from_item(item: dict[str, Any]) -> ScanRecord:
    return ScanRecord(
        repository=str(item["repository"]),
        digest=str(item["digest"]),
        state="failed" if item.get("state") == "failed" else "complete",
        counts={str(k): int(v) for k, v in (item.get("counts") or {}).items()},
        status=str(item.get("status", "")),
        at=_parse_iso(item.get("at")) or datetime.fromtimestamp(0, UTC),
        event_id=str(item.get("event_id", "")),
        reason=str(item.get("reason", "")),
    )
