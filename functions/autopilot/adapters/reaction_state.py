"""The reaction state of ``task-events`` and ``capacity-events``, in the ledger table.

Same table and key scheme as ``adapters.ledger`` (``pk``, ``sk``, TTL ``expires_at`` in
epoch seconds); these items use their own ``sk`` prefixes so the ledger's
``load_state`` (``STATE#``), history (``DEC#``), deploy records (``DEPLOY#``) and lease
(``LEASE``) never see them. ``<arn>`` is the full ECS service ARN; ``<target>`` is
``service:<arn>``, ``asg:<name>``. Times are epoch seconds (``N``) plus an ISO copy for
people reading the table.

=====================  ===================================  ===========================  ========
pk                     sk                                   what                          expires
=====================  ===================================  ===========================  ========
``SVC#<arn>``          ``ZONE#WINDOW``                      debounce: ``window_until``;   1 day
                                                            claimed with a conditional
                                                            write (one zone-balance
                                                            evaluation per window)
``SVC#<arn>``          ``ZONE#MOVE``                        the last zone-balance move    30 days
                                                            (``at``, ``what``): task
                                                            stop or capacity raise
``SVC#<arn>``          ``CRASH#<task arn>``                 one crashed stop: task        window
                                                            definition, essential exit    + 1 day
                                                            codes, ``stopped_at``
``SVC#<arn>``          ``CRASHLOOP#<task definition arn>``  a crash loop already          window
                                                            reported (conditional: once
                                                            per window)
``SVC#<arn>``          ``SPOT#SHIFT``                       Fargate Spot fallback:        never
                                                            original and shifted-to
                                                            strategies, ``shifted_at``
``SVC#<arn>``          ``SPOT#FAILURE``                     last RESOURCE:FARGATE         30 days
                                                            placement failure (calm
                                                            period)
``TGT#<target>``       ``CAP#LAST``                         last capacity change          cooldown
                                                            (``changed_at``, ``what``);   + 1 day
                                                            written conditionally on the
                                                            value read (one change per
                                                            cooldown, concurrent events
                                                            included)
``TGT#<target>``       ``CAP#ORIGINAL_MIN``                 the floor (scalable target    never
                                                            MinCapacity / ASG MinSize)
                                                            before autopilot raised it;
                                                            when task-events raised an
                                                            ASG's: ``raised_by`` (the
                                                            service) and
                                                            ``raised_at_epoch``
``RECHECK``            ``SVC#<arn>``                        a zone-balance re-check due   due
                                                            at ``due_at``: a debounced    + 7 days
                                                            event, or a deferral (move
                                                            cooldown, floor max age).
                                                            Written only if none is due
                                                            earlier (conditional); read
                                                            by the scheduled re-check
                                                            with one Query of this
                                                            partition; cleared with a
                                                            conditional delete
=====================  ===================================  ===========================  ========

Every re-check mark shares the one ``RECHECK`` partition so that the scheduled run finds
them with a single Query (no Scan). There is at most one item per service, written only
when a service's evaluation is debounced or deferred; a storm of one service's events
makes one write (the rest fail the condition).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from autopilot.adapters.aws_errors import translate
from autopilot.adapters.ledger import from_item, query_prefix, svc_pk, to_item
from autopilot.errors import AwsCallFailed
from autopilot.logic.capacity import RecordedShift, StrategyItem
from autopilot.logic.crash_loop import StopRecord

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

DAY = 86_400
MOVE_TTL = 30 * DAY

#: The wall clock (epoch seconds). Tests replace it to move time; nothing else should.
CLOCK: Callable[[], float] = time.time


def tgt_pk(target: str) -> str:
    return f"TGT#{target}"


def service_target(service_arn: str) -> str:
    return f"service:{service_arn}"


def asg_target(name: str) -> str:
    return f"asg:{name}"


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _dt(epoch: Any) -> datetime | None:
    if epoch is None:
        return None
    return datetime.fromtimestamp(float(epoch), UTC)


def _strategy_values(strategy: tuple[StrategyItem, ...]) -> list[dict[str, Any]]:
    return [
        {"capacity_provider": i.capacity_provider, "weight": i.weight, "base": i.base}
        for i in strategy
    ]


def _strategy(values: Any) -> tuple[StrategyItem, ...]:
    return tuple(
        StrategyItem(str(v["capacity_provider"]), int(v.get("weight", 0)), int(v.get("base", 0)))
        for v in values or []
    )


RECHECK_PK = "RECHECK"
RECHECK_TTL = 7 * DAY


@dataclass(frozen=True)
class Recheck:
    """A zone-balance re-check due at ``due_epoch`` for ``service_arn``."""

    service_arn: str
    due_epoch: int
    why: str


@dataclass(frozen=True)
class Floor:
    """An ASG floor (or scalable target minimum) autopilot raised, and who raised it."""

    original_min: int
    raised_by: str | None = None
    raised_at: datetime | None = None


@dataclass(frozen=True)
class LastChange:
    at: datetime
    epoch: int
    what: str


class ReactionState:
    """Typed reads and writes of the reaction items (see the module docstring)."""

    def __init__(
        self, client: DynamoDBClient, table: str, *, clock: Callable[[], float] | None = None
    ) -> None:
        self._db = client
        self._table = table
        self._clock = clock

    def epoch(self) -> int:
        return int((self._clock or CLOCK)())

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.epoch(), UTC)

    # -- low level -----------------------------------------------------------------
    def _put(self, values: dict[str, Any], **kwargs: Any) -> None:
        with translate("dynamodb:PutItem"):
            self._db.put_item(TableName=self._table, Item=to_item(values), **kwargs)

    def _put_if(self, values: dict[str, Any], condition: str, names: dict[str, Any]) -> bool:
        """A conditional put: False when the condition does not hold."""
        kwargs: dict[str, Any] = {"ConditionExpression": condition}
        if names:
            kwargs["ExpressionAttributeValues"] = to_item(names)
        try:
            self._put(values, **kwargs)
        except AwsCallFailed as exc:
            if exc.code != "ConditionalCheckFailedException":
                raise
            return False
        return True

    def _get(self, pk: str, sk: str) -> dict[str, Any] | None:
        with translate("dynamodb:GetItem"):
            response = self._db.get_item(
                TableName=self._table, Key=to_item({"pk": pk, "sk": sk}), ConsistentRead=True
            )
        item = response.get("Item")
        return from_item(item) if item else None

    def _delete(self, pk: str, sk: str) -> None:
        with translate("dynamodb:DeleteItem"):
            self._db.delete_item(TableName=self._table, Key=to_item({"pk": pk, "sk": sk}))

    def _query(self, pk: str, prefix: str) -> list[dict[str, Any]]:
        return query_prefix(self._db, self._table, pk, prefix)

    # -- zone balance: debounce and moves --------------------------------------------------
    def claim_evaluation(self, service_arn: str, window_seconds: int) -> bool:
        """Take the service's evaluation window; False when another evaluation holds it."""
        now = self.epoch()
        return self._put_if(
            {
                "pk": svc_pk(service_arn),
                "sk": "ZONE#WINDOW",
                "kind": "zone-window",
                "window_until": now + window_seconds,
                "claimed_at": _iso(now),
                "expires_at": now + window_seconds + DAY,
            },
            "attribute_not_exists(pk) OR window_until <= :now",
            {":now": now},
        )

    def reopen_evaluation(self, service_arn: str, after_seconds: int) -> None:
        """End the window early, in ``after_seconds`` (the evaluation could not act: its
        retry evaluates, while a storm meanwhile still makes at most one more evaluation)."""
        now = self.epoch()
        self._put(
            {
                "pk": svc_pk(service_arn),
                "sk": "ZONE#WINDOW",
                "kind": "zone-window",
                "window_until": now + after_seconds,
                "claimed_at": _iso(now),
                "expires_at": now + after_seconds + DAY,
            }
        )

    # -- zone balance: re-checks (the trailing edge of the debounce) ------------------------
    def mark_recheck(self, service_arn: str, due_epoch: int, why: str) -> bool:
        """Mark a re-check of the service due at ``due_epoch``: one conditional write, kept
        only if no re-check is due earlier (so repeating it changes nothing)."""
        due = int(due_epoch)
        return self._put_if(
            {
                "pk": RECHECK_PK,
                "sk": svc_pk(service_arn),
                "kind": "zone-recheck",
                "service_arn": service_arn,
                "due_at": due,
                "due": _iso(due),
                "why": why[:200],
                "expires_at": due + RECHECK_TTL,
            },
            "attribute_not_exists(pk) OR due_at > :due",
            {":due": due},
        )

    def due_rechecks(self, *, limit: int) -> list[Recheck]:
        """Re-checks due now, earliest first, at most ``limit`` (one Query of ``RECHECK``)."""
        now = self.epoch()
        due = [
            Recheck(str(i["service_arn"]), int(i["due_at"]), str(i.get("why", "")))
            for i in self._query(RECHECK_PK, "SVC#")
            if i.get("service_arn") and int(i.get("due_at", now + 1)) <= now
        ]
        return sorted(due, key=lambda r: (r.due_epoch, r.service_arn))[:limit]

    def clear_recheck(self, recheck: Recheck) -> bool:
        """Delete the mark if it is still the one read (a newer, earlier mark stays)."""
        try:
            with translate("dynamodb:DeleteItem"):
                self._db.delete_item(
                    TableName=self._table,
                    Key=to_item({"pk": RECHECK_PK, "sk": svc_pk(recheck.service_arn)}),
                    ConditionExpression="due_at = :due",
                    ExpressionAttributeValues=to_item({":due": recheck.due_epoch}),
                )
        except AwsCallFailed as exc:
            if exc.code != "ConditionalCheckFailedException":
                raise
            return False
        return True

    def last_move(self, service_arn: str) -> LastChange | None:
        item = self._get(svc_pk(service_arn), "ZONE#MOVE")
        if item is None or item.get("at_epoch") is None:
            return None
        epoch = int(item["at_epoch"])
        at = _dt(epoch)
        assert at is not None
        return LastChange(at, epoch, str(item.get("what", "")))

    def record_move(self, service_arn: str, what: str) -> None:
        now = self.epoch()
        self._put(
            {
                "pk": svc_pk(service_arn),
                "sk": "ZONE#MOVE",
                "kind": "zone-move",
                "at_epoch": now,
                "at": _iso(now),
                "what": what,
                "expires_at": now + MOVE_TTL,
            }
        )

    # -- crash loops ----------------------------------------------------------------------
    def record_crash(self, service_arn: str, record: StopRecord, *, keep_seconds: int) -> None:
        stopped = record.stopped_at.timestamp()
        self._put(
            {
                "pk": svc_pk(service_arn),
                "sk": f"CRASH#{record.task_arn}",
                "kind": "crash",
                "task_arn": record.task_arn,
                "task_definition": record.task_definition_arn,
                "exit_codes": list(record.essential_exit_codes),
                "stopped_at_epoch": stopped,
                "stopped_at": _iso(stopped),
                "expires_at": int(stopped) + keep_seconds + DAY,
            }
        )

    def crashes(self, service_arn: str) -> list[StopRecord]:
        records: list[StopRecord] = []
        for item in self._query(svc_pk(service_arn), "CRASH#"):
            stopped = _dt(item.get("stopped_at_epoch"))
            if stopped is None:
                continue
            records.append(
                StopRecord(
                    task_arn=str(item["task_arn"]),
                    task_definition_arn=str(item["task_definition"]),
                    essential_exit_codes=tuple(
                        None if c is None else int(c) for c in item.get("exit_codes") or []
                    ),
                    stopped_at=stopped,
                )
            )
        return records

    def crash_loop_reported(self, service_arn: str, task_definition: str) -> bool:
        item = self._get(svc_pk(service_arn), f"CRASHLOOP#{task_definition}")
        return item is not None and int(item.get("loop_until", 0)) > self.epoch()

    def claim_crash_loop(self, service_arn: str, task_definition: str, window_seconds: int) -> bool:
        """Report a crash loop of ``task_definition`` once per window: False if already done."""
        now = self.epoch()
        return self._put_if(
            {
                "pk": svc_pk(service_arn),
                "sk": f"CRASHLOOP#{task_definition}",
                "kind": "crash-loop",
                "loop_until": now + window_seconds,
                "at": _iso(now),
                "expires_at": now + window_seconds + DAY,
            },
            "attribute_not_exists(pk) OR loop_until <= :now",
            {":now": now},
        )

    def release_crash_loop(self, service_arn: str, task_definition: str) -> None:
        """Forget a report that could not be acted on (its event is retried)."""
        self._delete(svc_pk(service_arn), f"CRASHLOOP#{task_definition}")

    # -- capacity: cooldowns and floors ----------------------------------------------------
    def last_change(self, target: str) -> LastChange | None:
        item = self._get(tgt_pk(target), "CAP#LAST")
        if item is None or item.get("changed_at_epoch") is None:
            return None
        epoch = int(item["changed_at_epoch"])
        at = _dt(epoch)
        assert at is not None
        return LastChange(at, epoch, str(item.get("what", "")))

    def claim_change(
        self, target: str, previous: LastChange | None, what: str, *, keep_seconds: int
    ) -> bool:
        """Record a change to ``target``, only if nobody changed it since ``previous`` was read."""
        now = self.epoch()
        values = {
            "pk": tgt_pk(target),
            "sk": "CAP#LAST",
            "kind": "capacity-change",
            "changed_at_epoch": now,
            "changed_at": _iso(now),
            "what": what,
            "expires_at": now + keep_seconds + DAY,
        }
        if previous is None:
            return self._put_if(values, "attribute_not_exists(pk)", {})
        return self._put_if(values, "changed_at_epoch = :prev", {":prev": previous.epoch})

    def original_min(self, target: str) -> int | None:
        item = self._get(tgt_pk(target), "CAP#ORIGINAL_MIN")
        return None if item is None else int(item["value"])

    def record_original_min(self, target: str, value: int) -> None:
        """Keep the first recorded original (a second raise never overwrites it)."""
        self._put_if(
            {
                "pk": tgt_pk(target),
                "sk": "CAP#ORIGINAL_MIN",
                "kind": "original-min",
                "value": value,
                "at": _iso(self.epoch()),
            },
            "attribute_not_exists(pk)",
            {},
        )

    def floor(self, target: str) -> Floor | None:
        item = self._get(tgt_pk(target), "CAP#ORIGINAL_MIN")
        if item is None:
            return None
        by = item.get("raised_by")
        return Floor(
            original_min=int(item["value"]),
            raised_by=str(by) if by else None,
            raised_at=_dt(item.get("raised_at_epoch")),
        )

    def record_floor_raise(self, target: str, original: int, raised_by: str) -> bool:
        """Record a floor raised by ``raised_by``'s zone-balance evaluation: the first
        original is kept, the owner and time are the latest raise's. A floor capacity-events
        holds (no owner) is left to it: False, nothing written."""
        now = self.epoch()
        try:
            with translate("dynamodb:UpdateItem"):
                self._db.update_item(
                    TableName=self._table,
                    Key=to_item({"pk": tgt_pk(target), "sk": "CAP#ORIGINAL_MIN"}),
                    UpdateExpression=(
                        "SET #v = if_not_exists(#v, :v), kind = :kind, "
                        "#at = if_not_exists(#at, :iso), raised_by = :by, "
                        "raised_at_epoch = :now, raised_at = :iso"
                    ),
                    ConditionExpression="attribute_not_exists(pk) OR attribute_exists(raised_by)",
                    ExpressionAttributeNames={"#v": "value", "#at": "at"},
                    ExpressionAttributeValues=to_item(
                        {
                            ":v": original,
                            ":kind": "original-min",
                            ":iso": _iso(now),
                            ":by": raised_by,
                            ":now": now,
                        }
                    ),
                )
        except AwsCallFailed as exc:
            if exc.code != "ConditionalCheckFailedException":
                raise
            return False
        return True

    def clear_original_min(self, target: str) -> None:
        self._delete(tgt_pk(target), "CAP#ORIGINAL_MIN")

    # -- Fargate Spot fallback --------------------------------------------------------------
    def spot_shift(self, service_arn: str) -> RecordedShift | None:
        item = self._get(svc_pk(service_arn), "SPOT#SHIFT")
        if item is None:
            return None
        at = _dt(item.get("shifted_at_epoch"))
        assert at is not None
        return RecordedShift(
            original=_strategy(item.get("original")),
            shifted_to=_strategy(item.get("shifted_to")),
            shifted_at=at,
        )

    def record_spot_shift(
        self,
        service_arn: str,
        original: tuple[StrategyItem, ...],
        shifted_to: tuple[StrategyItem, ...],
    ) -> None:
        now = self.epoch()
        self._put(
            {
                "pk": svc_pk(service_arn),
                "sk": "SPOT#SHIFT",
                "kind": "spot-shift",
                "original": _strategy_values(original),
                "shifted_to": _strategy_values(shifted_to),
                "shifted_at_epoch": now,
                "shifted_at": _iso(now),
            }
        )

    def clear_spot_shift(self, service_arn: str) -> None:
        self._delete(svc_pk(service_arn), "SPOT#SHIFT")

    def last_spot_failure(self, service_arn: str) -> datetime | None:
        item = self._get(svc_pk(service_arn), "SPOT#FAILURE")
        return None if item is None else _dt(item.get("at_epoch"))

    def record_spot_failure(self, service_arn: str) -> None:
        now = self.epoch()
        self._put(
            {
                "pk": svc_pk(service_arn),
                "sk": "SPOT#FAILURE",
                "kind": "spot-failure",
                "at_epoch": now,
                "at": _iso(now),
                "expires_at": now + MOVE_TTL,
            }
        )
