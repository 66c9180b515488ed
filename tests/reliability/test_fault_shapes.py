"""The injected faults are what AWS answers, in the protocol each client speaks.

A fault body in the wrong protocol would not be a throttle or a 500 to the client but a
parse error (the 20% run once failed on a CBOR body sent to the tagging client, which
speaks JSON): then the harness, not the functions, would be under test.
"""

# ruff: noqa: PLC0415 - imports are deferred: boto3 and the functions load only where used

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from reliability import hooks
from reliability.hooks import HOOKS

# one read call per service the functions use
CALLS: dict[str, Callable[[Any], Any]] = {
    "ecs": lambda c: c.list_clusters(),
    "ecr": lambda c: c.describe_repositories(),
    "resourcegroupstaggingapi": lambda c: c.get_resources(),
    "dynamodb": lambda c: c.list_tables(),
    "sns": lambda c: c.list_topics(),
    "ec2": lambda c: c.describe_subnets(),
    "autoscaling": lambda c: c.describe_auto_scaling_groups(),
    "application-autoscaling": lambda c: c.describe_scalable_targets(ServiceNamespace="ecs"),
    "cloudwatch": lambda c: c.list_metrics(),
}
THROTTLE_CODES = {"ThrottlingException", "Throttling", "RequestLimitExceeded"}
SERVER_CODES = {"InternalFailure", "InternalError"}


@pytest.fixture
def every_call_fails(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    was_installed = hooks._installed
    hooks.install()
    saved = (HOOKS.fault_rate, HOOKS.fault_kinds, HOOKS.fault_operations)
    HOOKS.fault_rate, HOOKS.fault_operations = 1.0, None
    try:
        yield
    finally:
        HOOKS.fault_rate, HOOKS.fault_kinds, HOOKS.fault_operations = saved
        if not was_installed:
            hooks.uninstall()


@pytest.mark.usefixtures("every_call_fails")
@pytest.mark.parametrize("service", sorted(CALLS))
@pytest.mark.parametrize(("kind", "codes"), [("throttle", THROTTLE_CODES), ("500", SERVER_CODES)])
def test_a_fault_reaches_the_client_as_the_aws_error_it_imitates(
    service: str, kind: str, codes: set[str]
) -> None:
    from autopilot.aws import clients
    from botocore.exceptions import ClientError

    HOOKS.fault_kinds = (kind,)
    client = clients._make(clients._session(), service)
    with pytest.raises(ClientError) as caught:
        CALLS[service](client)
    assert caught.value.response["Error"]["Code"] in codes
    # retried as AWS's SDKs retry these (standard mode), not given up on at once
    assert caught.value.response["ResponseMetadata"]["RetryAttempts"] > 0
