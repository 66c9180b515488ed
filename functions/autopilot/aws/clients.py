"""The AWS clients, built lazily in one place, and the time budget every call fits in.

Every client gets botocore's standard retry mode, bounded so that one call cannot outlive
a function's time budget: ``MAX_ATTEMPTS`` attempts, each connecting within
``CONNECT_TIMEOUT`` s and answered within ``READ_TIMEOUT`` s, so one attempt takes at most
``ATTEMPT_SECONDS`` (10 s) and one call, with standard mode's backoff between attempts (at
most 1 s, 2 s, then 4 s when throttled), at most 47 s, within the 60 s function timeout
(and the budget's check below stops it sooner when less is left). Four attempts, not
fewer: with the reliability harness's 20% of attempts failing, three would fail a call
0.8% of the time, and (an estimate, at some 40 calls an invocation) about 2% of events all
three of Lambda's attempts. Clients honour ``AWS_ENDPOINT_URL`` /
``AWS_ENDPOINT_URL_<SERVICE>`` (boto3 reads them natively), so the sandbox and the tests
point the functions at moto by setting the environment and calling ``reset_clients()``.
boto3 itself is imported on first use, not at import time.

The time budget: ``time_budget(remaining_ms)`` (``record.lambda_entry`` opens one per
invocation from ``context.get_remaining_time_in_millis()``) sets a deadline; before every
HTTP attempt of every client held here (a ``before-send`` hook, so retries are checked
too), an attempt that could end after the deadline (less than ``ATTEMPT_SECONDS`` left) is
not sent: the call raises ``errors.OutOfTime`` (transient), which the actor records as a
retried outcome. Outside a budget (the CLI, the tests' direct runs) nothing is checked.

Under Lambda SnapStart (``functions.snapstart``) one snapshot of the initialized process
starts many execution environments. No client is built at init, and a restore hook
(``snapshot_restore_py``, part of Lambda's Python runtimes) forgets any that were, so each
environment builds its own from its own credentials, and reseeds ``random`` (botocore's
retry jitter) so restored environments do not back off in step.
"""

from __future__ import annotations

import importlib
import random
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from autopilot.errors import OutOfTime

if TYPE_CHECKING:
    from mypy_boto3_application_autoscaling import ApplicationAutoScalingClient
    from mypy_boto3_autoscaling import AutoScalingClient
    from mypy_boto3_cloudwatch import CloudWatchClient
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_ec2 import EC2Client
    from mypy_boto3_ecr import ECRClient
    from mypy_boto3_ecs import ECSClient
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_resourcegroupstaggingapi import ResourceGroupsTaggingAPIClient
    from mypy_boto3_sns import SNSClient

_lock = threading.Lock()

#: botocore's standard retry mode: attempts per call (the first and three retries)
MAX_ATTEMPTS = 4
#: seconds to connect, and to wait for an answer, per attempt
CONNECT_TIMEOUT = 2
READ_TIMEOUT = 8
#: the longest one attempt can take: the margin an attempt needs before the deadline
ATTEMPT_SECONDS = CONNECT_TIMEOUT + READ_TIMEOUT
#: the hook's name on each client's event system (registered once per client)
_BUDGET_HOOK = "autopilot-time-budget"

#: the monotonic-clock deadline of the invocation in progress (None: no budget)
_deadline: ContextVar[float | None] = ContextVar("autopilot_deadline", default=None)


@contextmanager
def time_budget(remaining_ms: int | None) -> Iterator[float | None]:
    """Every AWS call within must end before ``remaining_ms`` from now (None: no budget);
    yields the deadline (``time.monotonic()`` seconds)."""
    until = None if remaining_ms is None else time.monotonic() + remaining_ms / 1000
    token = _deadline.set(until)
    try:
        yield until
    finally:
        _deadline.reset(token)


def deadline() -> float | None:
    """The current budget's deadline (``time.monotonic()`` seconds; None: no budget)."""
    return _deadline.get()


def remaining_seconds() -> float | None:
    """Seconds left of the current budget (None: no budget)."""
    until = _deadline.get()
    return None if until is None else until - time.monotonic()


def _check_budget(event_name: str = "", **_kw: Any) -> None:
    """``before-send.<service>.<Operation>``: refuse an attempt that could outlive the budget."""
    left = remaining_seconds()
    if left is not None and left < ATTEMPT_SECONDS:
        _, service, operation = [*event_name.split(".", 2), "aws", "call"][:3]
        raise OutOfTime(f"{service}:{operation}", max(0, int(left * 1000)), ATTEMPT_SECONDS * 1000)


def budgeted(client: Any) -> Any:
    """``client`` with the time budget's check on every HTTP attempt (idempotent)."""
    client.meta.events.register("before-send", _check_budget, unique_id=_BUDGET_HOOK)
    return client


def _make(session: Any, service: str) -> Any:
    from botocore.config import Config  # noqa: PLC0415 - lazy: keeps module import cheap

    config = Config(
        retries={"mode": "standard", "total_max_attempts": MAX_ATTEMPTS},
        connect_timeout=CONNECT_TIMEOUT,
        read_timeout=READ_TIMEOUT,
        user_agent_extra="ecs-autopilot",
    )
    return session.client(service, config=config)


def _session() -> Any:
    import boto3  # noqa: PLC0415 - lazy: keeps module import cheap

    return boto3.session.Session()


class AwsClients:
    """The clients one function uses; each is created on first access.

    Pass any client explicitly to override it (tests, the CLI); the rest are built lazily.
    Each one, given or built, checks the time budget before every attempt (``budgeted``).
    """

    def __init__(
        self,
        *,
        ecs: ECSClient | None = None,
        ecr: ECRClient | None = None,
        tagging: ResourceGroupsTaggingAPIClient | None = None,
        dynamodb: DynamoDBClient | None = None,
        sns: SNSClient | None = None,
        ec2: EC2Client | None = None,
        autoscaling: AutoScalingClient | None = None,
        application_autoscaling: ApplicationAutoScalingClient | None = None,
        cloudwatch: CloudWatchClient | None = None,
        events: EventBridgeClient | None = None,
    ) -> None:
        self._clients: dict[str, Any] = {
            k: v
            for k, v in {
                "ecs": ecs,
                "ecr": ecr,
                "resourcegroupstaggingapi": tagging,
                "dynamodb": dynamodb,
                "sns": sns,
                "ec2": ec2,
                "autoscaling": autoscaling,
                "application-autoscaling": application_autoscaling,
                "cloudwatch": cloudwatch,
                "events": events,
            }.items()
            if v is not None
        }
        for client in self._clients.values():
            budgeted(client)
        self._session: Any = None

    def _get(self, service: str) -> Any:
        client = self._clients.get(service)
        if client is None:
            with _lock:
                client = self._clients.get(service)
                if client is None:
                    if self._session is None:
                        self._session = _session()
                    client = budgeted(_make(self._session, service))
                    self._clients[service] = client
        return client

    @property
    def ecs(self) -> ECSClient:
        client: ECSClient = self._get("ecs")
        return client

    @property
    def ecr(self) -> ECRClient:
        client: ECRClient = self._get("ecr")
        return client

    @property
    def tagging(self) -> ResourceGroupsTaggingAPIClient:
        client: ResourceGroupsTaggingAPIClient = self._get("resourcegroupstaggingapi")
        return client

    @property
    def dynamodb(self) -> DynamoDBClient:
        client: DynamoDBClient = self._get("dynamodb")
        return client

    @property
    def sns(self) -> SNSClient:
        client: SNSClient = self._get("sns")
        return client

    @property
    def ec2(self) -> EC2Client:
        client: EC2Client = self._get("ec2")
        return client

    @property
    def autoscaling(self) -> AutoScalingClient:
        client: AutoScalingClient = self._get("autoscaling")
        return client

    @property
    def application_autoscaling(self) -> ApplicationAutoScalingClient:
        client: ApplicationAutoScalingClient = self._get("application-autoscaling")
        return client

    @property
    def cloudwatch(self) -> CloudWatchClient:
        client: CloudWatchClient = self._get("cloudwatch")
        return client

    @property
    def events(self) -> EventBridgeClient:
        client: EventBridgeClient = self._get("events")
        return client

    def warm(self, *services: str) -> AwsClients:
        """Create the named clients now (e.g. at cold start, outside the first invocation)."""
        for service in services:
            self._get(service)
        return self


_default: AwsClients | None = None


def get_clients() -> AwsClients:
    """The process-wide clients (reused across warm invocations)."""
    global _default  # noqa: PLW0603
    if _default is None:
        with _lock:
            if _default is None:
                _default = AwsClients()
    return _default


def reset_clients() -> None:
    """Forget the process-wide clients: the next use rebuilds them from the environment."""
    global _default  # noqa: PLW0603
    with _lock:
        _default = None


def after_restore() -> None:
    """SnapStart's restore hook: no client, session or random state from the snapshot."""
    reset_clients()
    random.seed()


def _register_restore_hook() -> None:
    try:
        hooks = importlib.import_module("snapshot_restore_py")
    except ImportError:  # not in Lambda's runtime: nothing restores this process
        return
    hooks.register_after_restore(after_restore)


_register_restore_hook()
