"""Typed errors. Callers match on the class (and its fields), never on message text."""

from __future__ import annotations

from typing import Any


class AutopilotError(Exception):
    """Base of every error this package raises on purpose."""


class InvalidEvent(AutopilotError):
    """The event does not have the shape of any event this function handles.

    Raised before any AWS change. ``errors`` holds the model's structured errors (if any)
    so a caller can inspect them without parsing the message.
    """

    def __init__(self, message: str, *, errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.errors: list[dict[str, Any]] = errors or []


class UnsupportedEvent(InvalidEvent):
    """A well-formed EventBridge event of a detail-type this function does not handle."""

    def __init__(self, detail_type: str, *, expected: tuple[str, ...]) -> None:
        super().__init__(f"unsupported detail-type {detail_type!r}; expected one of {expected}")
        self.detail_type = detail_type
        self.expected = expected


class MalformedTag(AutopilotError):
    """A service's ``autopilot:*`` tag cannot be understood; the service is skipped."""

    def __init__(self, key: str, value: str, problem: str) -> None:
        super().__init__(f"tag {key}={value!r}: {problem}")
        self.key = key
        self.value = value
        self.problem = problem


class UnsafePattern(MalformedTag):
    """A ``regex:``/``glob:`` policy pattern that could run too long (or is too long)."""


class UnknownTaskDefinitionField(AutopilotError):
    """A task definition holds fields this version of autopilot does not know, so a copy of
    it (the new revision a deploy registers) would silently drop them: the deploy is refused.
    ``fields`` are their names, sorted."""

    def __init__(self, fields: tuple[str, ...]) -> None:
        names = ", ".join(repr(f) for f in fields)
        what = f"field {names} is" if len(fields) == 1 else f"fields {names} are"
        super().__init__(
            f"task definition {what} unknown to this version of autopilot: "
            "not copied, so not deployed"
        )
        self.fields = fields


TRANSIENT_CODES = frozenset(
    {
        "ThrottlingException",
        "Throttling",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "ProvisionedThroughputExceededException",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "ServerException",
        "InternalFailure",
        "InternalServerError",
    }
)


class AwsCallFailed(AutopilotError):
    """An AWS call failed after botocore's retries. ``code`` is AWS's error code, or for a
    failure with no answer from AWS (a connection refused, a timeout: botocore's
    ``BotoCoreError``) the name of botocore's error, with ``transient`` given."""

    def __init__(self, api: str, code: str, message: str, *, transient: bool | None = None) -> None:
        super().__init__(f"{api} failed: {code}: {message}")
        self.api = api
        self.code = code
        self.aws_message = message
        self._transient = transient

    @property
    def transient(self) -> bool:
        """Worth retrying the whole event later (throttling, service errors, no answer)."""
        if self._transient is not None:
            return self._transient
        return self.code in TRANSIENT_CODES


class OutOfTime(AwsCallFailed):
    """The invocation's time left is below the safety margin, so ``api`` was not called:
    the call (with its retries) could outlive the function's timeout. Transient: the event
    is retried, by an invocation with a whole budget."""

    CODE = "OutOfTime"

    def __init__(self, api: str, remaining_ms: int, margin_ms: int) -> None:
        super().__init__(
            api,
            self.CODE,
            f"{remaining_ms} ms left, below the {margin_ms} ms a call may take",
            transient=True,
        )
        self.remaining_ms = remaining_ms
        self.margin_ms = margin_ms


class NotFound(AwsCallFailed):
    """The AWS resource asked for does not exist (image, task definition, service)."""


class LeaseBusy(AutopilotError):
    """Another invocation holds the service's lease. Retryable: Lambda redelivers the event."""

    def __init__(self, service: str, holder: str) -> None:
        super().__init__(f"lease on {service} held by {holder}")
        self.service = service
        self.holder = holder


class Incomplete(AutopilotError):
    """Some services could not be handled now (e.g. a lease was busy); the event must be retried.

    Raised by the Lambda entry point after the services that could be handled were handled,
    so Lambda's asynchronous retries (and finally the dead-letter queue) keep the event.
    """

    def __init__(self, services: list[str]) -> None:
        super().__init__(f"retry needed for {len(services)} service(s)")
        self.services = services
