"""botocore errors -> the package's typed errors (so nothing outside ``aws/`` imports botocore).

A ``ClientError`` (AWS answered with an error) keeps AWS's code. A ``BotoCoreError`` (no
answer: a connection refused or reset, a connect or read timeout, after botocore's
retries; or a request botocore would not send) becomes the same ``AwsCallFailed``, its
code the botocore error's name, transient when it is a connection or timeout failure, so
the actor's clean-up and retry paths treat it like a throttle. ``OutOfTime`` (the time
budget's check, ``aws.clients``) is re-raised under this call's name.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from autopilot.errors import AwsCallFailed, NotFound, OutOfTime

_NOT_FOUND = frozenset(
    {
        "ImageNotFoundException",
        "RepositoryNotFoundException",
        "ServiceNotFoundException",
        "ResourceNotFoundException",
    }
)


@contextmanager
def translate(api: str) -> Iterator[None]:
    """Re-raise a botocore error from ``api`` as ``AwsCallFailed`` / ``NotFound``."""
    from botocore.exceptions import (  # noqa: PLC0415 - already loaded by then
        BotoCoreError,
        ClientError,
        HTTPClientError,
    )
    from botocore.exceptions import ConnectionError as BotoConnectionError  # noqa: PLC0415

    try:
        yield
    except ClientError as exc:
        error = exc.response.get("Error", {})
        code = str(error.get("Code", "Unknown"))
        message = str(error.get("Message", ""))
        cls = NotFound if code in _NOT_FOUND else AwsCallFailed
        raise cls(api, code, message) from exc
    except BotoCoreError as exc:
        transient = isinstance(exc, (HTTPClientError, BotoConnectionError))
        raise AwsCallFailed(api, type(exc).__name__, str(exc), transient=transient) from exc
    except OutOfTime as exc:
        if exc.api == api:
            raise
        raise OutOfTime(api, exc.remaining_ms, exc.margin_ms) from exc
