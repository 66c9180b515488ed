"""DynamoDB item calls for the ledger table (``store.table`` builds on these).

Every call is strongly consistent where DynamoDB offers it; a failed condition raises
``AwsCallFailed`` with code ``ConditionalCheckFailedException`` (callers that expect it
use the ``*_if`` forms, which return False instead).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from autopilot.aws.translate import translate
from autopilot.errors import AwsCallFailed

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

CONDITION_FAILED = "ConditionalCheckFailedException"


def get_item(db: DynamoDBClient, table: str, key: dict[str, Any]) -> dict[str, Any] | None:
    with translate("dynamodb:GetItem"):
        response = db.get_item(TableName=table, Key=key, ConsistentRead=True)
    item = response.get("Item")
    return dict(item) if item else None


def put_item(db: DynamoDBClient, table: str, item: dict[str, Any], **kwargs: Any) -> None:
    with translate("dynamodb:PutItem"):
        db.put_item(TableName=table, Item=item, **kwargs)


def update_item(db: DynamoDBClient, table: str, key: dict[str, Any], **kwargs: Any) -> None:
    with translate("dynamodb:UpdateItem"):
        db.update_item(TableName=table, Key=key, **kwargs)


def delete_item(db: DynamoDBClient, table: str, key: dict[str, Any], **kwargs: Any) -> None:
    with translate("dynamodb:DeleteItem"):
        db.delete_item(TableName=table, Key=key, **kwargs)


def query_page(db: DynamoDBClient, kwargs: dict[str, Any]) -> tuple[list[Any], Any]:
    """One page of a Query: (items, LastEvaluatedKey or None)."""
    with translate("dynamodb:Query"):
        response = db.query(**kwargs)
    return list(response.get("Items", [])), response.get("LastEvaluatedKey")


def conditional(call: Any, *args: Any, **kwargs: Any) -> bool:
    """Run a conditional write: False when its condition does not hold."""
    try:
        call(*args, **kwargs)
    except AwsCallFailed as exc:
        if exc.code != CONDITION_FAILED:
            raise
        return False
    return True
