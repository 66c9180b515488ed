"""reconciler: the schedule's tick -> one sweep of the managed services, or, past
``shard_size`` services, one ``Reconcile Shard`` event per shard; a shard event -> the sweep
of its services (``flows.reconcile``).

Wiring only: parse the event (typed errors for junk), call the flow with the invocation's
remaining time, and, as the Lambda entry, check the settings and count the outcomes
(``record.lambda_entry``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.logging import correlation_paths

from autopilot.aws.clients import AwsClients, get_clients
from autopilot.domain.report import Report
from autopilot.events.schedule import parse_sweep_event
from autopilot.flows import reconcile
from autopilot.logic.pacing import Clock
from autopilot.observability import logger, metrics, tracer
from autopilot.record import lambda_entry
from autopilot.settings import ReconcilerSettings, get_settings


def run(
    event: dict[str, Any],
    *,
    dry_run: bool = False,
    aws: AwsClients | None = None,
    invocation: str | None = None,
    remaining_ms: Callable[[], int] | None = None,
    clock: Clock | None = None,
) -> Report:
    """Sweep once. With ``dry_run`` the plans are returned and nothing is changed;
    ``remaining_ms``: the invocation's time left (None: no limit); ``clock``: what the
    pacing sleeps on (tests give one that does not sleep)."""
    parsed = parse_sweep_event(event)
    settings = get_settings(ReconcilerSettings)
    return reconcile.run(
        parsed,
        settings,
        aws or get_clients(),
        dry_run=dry_run,
        invocation=invocation,
        remaining_ms=remaining_ms,
        clock=clock,
    )


@logger.inject_lambda_context(correlation_id_path=correlation_paths.EVENT_BRIDGE)
@metrics.log_metrics(capture_cold_start_metric=True)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Lambda entry. Invalid input raises ``InvalidEvent`` (retries, then the DLQ, keep it)."""
    left: Callable[[], int] | None = getattr(context, "get_remaining_time_in_millis", None)

    def sweep(event: dict[str, Any], *, invocation: str | None = None) -> Report:
        return run(event, invocation=invocation, remaining_ms=left)

    return lambda_entry(event, context, sweep, ReconcilerSettings)
