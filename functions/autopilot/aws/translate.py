"""botocore errors -> the package's typed errors (so nothing outside ``aws/`` imports botocore)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from autopilot.errors import AwsCallFailed, NotFound

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
    """Re-raise a botocore ``ClientError`` from ``api`` as ``AwsCallFailed`` / ``NotFound``."""
    from botocore.exceptions import ClientError  # noqa: PLC0415 - already loaded by then

    try:
        yield
    except ClientError as exc:
        error = exc.response.get("Error", {})
        code = str(error.get("Code", "Unknown"))
        message = str(error.get("Message", ""))
        cls = NotFound if code in _NOT_FOUND else AwsCallFailed
        raise cls(api, code, message) from exc
