"""The AWS clients, built lazily in one place.

Every client gets botocore's standard retry mode (5 attempts, with backoff) and honours
``AWS_ENDPOINT_URL`` / ``AWS_ENDPOINT_URL_<SERVICE>`` (boto3 reads them natively), so the
sandbox and the tests point the functions at moto by setting the environment and
calling ``reset_clients()``. boto3 itself is imported on first use, not at import time.

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
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mypy_boto3_application_autoscaling import ApplicationAutoScalingClient
    from mypy_boto3_autoscaling import AutoScalingClient
    from mypy_boto3_cloudwatch import CloudWatchClient
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_ec2 import EC2Client
    from mypy_boto3_ecr import ECRClient
    from mypy_boto3_ecs import ECSClient
    from mypy_boto3_resourcegroupstaggingapi import ResourceGroupsTaggingAPIClient
    from mypy_boto3_sns import SNSClient

_lock = threading.Lock()


def _make(session: Any, service: str) -> Any:
    from botocore.config import Config  # noqa: PLC0415 - lazy: keeps module import cheap

    config = Config(
        retries={"mode": "standard", "max_attempts": 5},
        connect_timeout=5,
        read_timeout=20,
        user_agent_extra="ecs-autopilot",
    )
    return session.client(service, config=config)


def _session() -> Any:
    import boto3  # noqa: PLC0415 - lazy: keeps module import cheap

    return boto3.session.Session()


class AwsClients:
    """The clients one function uses; each is created on first access.

    Pass any client explicitly to override it (tests, the CLI); the rest are built lazily.
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
            }.items()
            if v is not None
        }
        self._session: Any = None

    def _get(self, service: str) -> Any:
        client = self._clients.get(service)
        if client is None:
            with _lock:
                client = self._clients.get(service)
                if client is None:
                    if self._session is None:
                        self._session = _session()
                    client = self._clients[service] = _make(self._session, service)
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
