"""The ledger table: its item codec, its keys, and the one paging Query every store uses.

Table keys: ``pk`` (S), ``sk`` (S); TTL attribute ``expires_at`` (N, epoch seconds). Each
kind of item has its own store module, which holds that item's key table as its docstring;
``store.ledger.Ledger`` opens them all on one table.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from autopilot.aws import dynamodb
from autopilot.domain.records import iso

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

DAY = 86_400

Clock = Callable[[], float]
#: The wall clock (epoch seconds) of every table opened without a clock of its own. Tests
#: replace it to move time; nothing else should.
CLOCK: Clock = time.time


def svc_pk(service_arn: str) -> str:
    return f"SVC#{service_arn}"


def tgt_pk(target: str) -> str:
    return f"TGT#{target}"


def img_pk(repository: str, digest: str) -> str:
    return f"IMG#{repository}@{digest}"


def parse_iso(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def iso_seconds(epoch: float) -> str:
    """Whole-second UTC ISO-8601 (the reaction items' copy for people reading the table)."""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def epoch_dt(epoch: Any) -> datetime | None:
    return None if epoch is None else datetime.fromtimestamp(float(epoch), UTC)


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
        return {"S": iso(value)}
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


class Table:
    """Typed item calls on the ledger table (values in, values out) and its clock."""

    def __init__(self, client: DynamoDBClient, name: str, *, clock: Clock | None = None) -> None:
        self.client = client
        self.name = name
        self._clock = clock

    # -- time ---------------------------------------------------------------------------
    def clock(self) -> float:
        """The wall clock (epoch seconds): the table's own, else ``CLOCK``."""
        return (self._clock or CLOCK)()

    def epoch(self) -> int:
        return int(self.clock())

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.epoch(), UTC)

    def now_iso(self) -> str:
        return iso(self.now())

    # -- items --------------------------------------------------------------------------
    def get(self, pk: str, sk: str) -> dict[str, Any] | None:
        item = dynamodb.get_item(self.client, self.name, to_item({"pk": pk, "sk": sk}))
        return from_item(item) if item else None

    def put(self, values: dict[str, Any]) -> None:
        dynamodb.put_item(self.client, self.name, to_item(values))

    def put_if(
        self, values: dict[str, Any], condition: str, names: dict[str, Any] | None = None
    ) -> bool:
        """A conditional put: False when ``condition`` does not hold."""
        kwargs: dict[str, Any] = {"ConditionExpression": condition}
        if names:
            kwargs["ExpressionAttributeValues"] = to_item(names)
        return dynamodb.conditional(
            dynamodb.put_item, self.client, self.name, to_item(values), **kwargs
        )

    def update_if(  # noqa: PLR0917 - the parts of one UpdateItem
        self,
        pk: str,
        sk: str,
        update: str,
        condition: str,
        values: dict[str, Any],
        names: dict[str, str] | None = None,
    ) -> bool:
        """A conditional UpdateItem: False when ``condition`` does not hold."""
        kwargs: dict[str, Any] = {
            "UpdateExpression": update,
            "ConditionExpression": condition,
            "ExpressionAttributeValues": {k: to_av(v) for k, v in values.items()},
        }
        if names:
            kwargs["ExpressionAttributeNames"] = names
        key = to_item({"pk": pk, "sk": sk})
        return dynamodb.conditional(dynamodb.update_item, self.client, self.name, key, **kwargs)

    def delete(self, pk: str, sk: str) -> None:
        dynamodb.delete_item(self.client, self.name, to_item({"pk": pk, "sk": sk}))

    def delete_if(
        self, pk: str, sk: str, condition: str, values: dict[str, Any] | None = None
    ) -> bool:
        """A conditional delete: False when ``condition`` does not hold."""
        kwargs: dict[str, Any] = {"ConditionExpression": condition}
        if values:
            kwargs["ExpressionAttributeValues"] = to_item(values)
        key = to_item({"pk": pk, "sk": sk})
        return dynamodb.conditional(dynamodb.delete_item, self.client, self.name, key, **kwargs)

    # -- the one paging Query -------------------------------------------------------------
    def query(
        self,
        key_condition: str,
        values: dict[str, Any],
        *,
        newest_first: bool = False,
        limit: int | None = None,
        filter_expression: str | None = None,
        names: dict[str, str] | None = None,
    ) -> list[dict[str, Any]]:
        """Every item the Query returns, page by page, at most ``limit``, strongly consistent.
        Each page asks for only what is still missing, unless a filter applies after it."""
        kwargs: dict[str, Any] = {
            "TableName": self.name,
            "KeyConditionExpression": key_condition,
            "ExpressionAttributeValues": to_item(values),
            "ScanIndexForward": not newest_first,
            "ConsistentRead": True,
        }
        if filter_expression:
            kwargs["FilterExpression"] = filter_expression
        if names:
            kwargs["ExpressionAttributeNames"] = names
        items: list[dict[str, Any]] = []
        while True:
            if limit is not None and not filter_expression:
                kwargs["Limit"] = limit - len(items)
            page, last = dynamodb.query_page(self.client, kwargs)
            items.extend(from_item(i) for i in page)
            if not last or (limit is not None and len(items) >= limit):
                return items[:limit] if limit is not None else items
            kwargs["ExclusiveStartKey"] = last

    def query_prefix(
        self, pk: str, prefix: str, *, newest_first: bool = False, limit: int | None = None
    ) -> list[dict[str, Any]]:
        """The items of partition ``pk`` whose sort key starts with ``prefix`` (all of them
        if it is empty)."""
        if not prefix:
            return self.query("pk = :pk", {":pk": pk}, newest_first=newest_first, limit=limit)
        return self.query(
            "pk = :pk AND begins_with(sk, :prefix)",
            {":pk": pk, ":prefix": prefix},
            newest_first=newest_first,
            limit=limit,
        )
