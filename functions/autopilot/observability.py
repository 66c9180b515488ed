"""The one place that holds the Powertools logger, tracer and metrics, and decides tracing.

Service name and metrics namespace come from POWERTOOLS_SERVICE_NAME and
POWERTOOLS_METRICS_NAMESPACE (set by the CDK app). Tracing comes from
``POWERTOOLS_TRACE_DISABLED`` (Powertools' own switch; the CDK app sets it from the config's
``observability.tracing``: ``true`` for ``off``, ``false`` for ``active``):

- on (unset or false): ``tracer`` is Powertools' Tracer with botocore patched, as before
  (it turns itself off outside Lambda);
- off (true, 1, yes, on): ``tracer`` is a stand-in with the same decorator that returns the
  handler unchanged. Neither Powertools' Tracer nor the X-Ray SDK is imported, then or on any
  invocation: Tracer() imports ``aws_xray_sdk`` even when it is disabled.

Handlers only use ``tracer.capture_lambda_handler``; they do not know which one they got.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, Protocol

from aws_lambda_powertools.logging import Logger
from aws_lambda_powertools.metrics import Metrics

#: Powertools' switch, read here only (``aws_lambda_powertools.shared.constants``)
TRACE_DISABLED_ENV = "POWERTOOLS_TRACE_DISABLED"
_TRUE = frozenset({"1", "true", "t", "yes", "y", "on"})


class HandlerTracer(Protocol):
    """What the handlers use of a tracer."""

    def capture_lambda_handler(self, lambda_handler: Callable[..., Any]) -> Callable[..., Any]: ...


class _NoTracer:
    """Tracing off: the handler as it is, nothing imported."""

    def capture_lambda_handler(self, lambda_handler: Callable[..., Any]) -> Callable[..., Any]:
        return lambda_handler


def tracing_enabled(environ: dict[str, str] | os._Environ[str] = os.environ) -> bool:
    """False when ``POWERTOOLS_TRACE_DISABLED`` says true (as Powertools reads it)."""
    return environ.get(TRACE_DISABLED_ENV, "").strip().lower() not in _TRUE


def _tracer() -> HandlerTracer:
    if not tracing_enabled():
        return _NoTracer()
    from aws_lambda_powertools.tracing import Tracer  # noqa: PLC0415 - only when tracing

    tracer: HandlerTracer = Tracer(patch_modules=("botocore",))
    return tracer


logger = Logger()
tracer = _tracer()
metrics = Metrics()

__all__ = ["TRACE_DISABLED_ENV", "logger", "metrics", "tracer", "tracing_enabled"]
