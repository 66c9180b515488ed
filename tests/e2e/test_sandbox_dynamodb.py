"""The sandbox's DynamoDB keeps DynamoDB's promise that a conditional write is atomic:
of concurrent writers racing one condition, exactly one wins (the leases rest on it)."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator

import boto3
import pytest
from moto.dynamodb.responses import DynamoHandler

from sandbox import moto_adjustments as adj
from sandbox.server import MotoServer, client_kwargs

WRITERS = 6
ROUNDS = 40


@pytest.fixture
def server() -> Iterator[MotoServer]:
    key = (DynamoHandler, "call_action")
    already = key in adj._ORIGINALS  # a sandbox of this process patched it: leave it so
    adj._serialize_dynamodb()
    srv = MotoServer().start()
    try:
        yield srv
    finally:
        srv.stop()
        if not already:
            setattr(DynamoHandler, key[1], adj._ORIGINALS.pop(key))


def test_of_concurrent_conditional_writes_exactly_one_wins(server: MotoServer) -> None:
    ddb = boto3.client("dynamodb", **client_kwargs(server.endpoint))
    ddb.create_table(
        TableName="leases",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    clients = [boto3.client("dynamodb", **client_kwargs(server.endpoint)) for _ in range(WRITERS)]
    winners: list[list[int]] = []
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible: the race shows
    try:
        for rnd in range(ROUNDS):
            won: list[int] = []
            barrier = threading.Barrier(WRITERS)

            def write(i: int) -> None:
                client = clients[i]
                barrier.wait()  # noqa: B023 - each round's threads use its barrier
                try:
                    client.update_item(
                        TableName="leases",
                        Key={"pk": {"S": f"svc-{rnd}"}},  # noqa: B023
                        UpdateExpression="SET holder = :h",
                        ConditionExpression="attribute_not_exists(holder)",
                        ExpressionAttributeValues={":h": {"S": str(i)}},
                    )
                    won.append(i)  # noqa: B023
                except client.exceptions.ConditionalCheckFailedException:
                    pass

            threads = [threading.Thread(target=write, args=(i,)) for i in range(WRITERS)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            winners.append(won)
    finally:
        sys.setswitchinterval(interval)
    assert [len(w) for w in winners] == [1] * ROUNDS
    for rnd, won in enumerate(winners):
        item = ddb.get_item(TableName="leases", Key={"pk": {"S": f"svc-{rnd}"}})["Item"]
        assert item["holder"]["S"] == str(won[0]), "the winner's write is the one kept"
