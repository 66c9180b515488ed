"""What the handlers share: the idempotency check, recording, notices and metrics."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from autopilot.adapters import notices
from autopilot.models.report import ANNOUNCED, Action, Decision, Outcome, Report

#: the metric of a deploy's lead time (push to deployment COMPLETED), in seconds
LEAD_TIME_METRIC = "deploy-lead-time"

if TYPE_CHECKING:
    from autopilot.adapters.clients import AwsClients
    from autopilot.adapters.ledger import Ledger


def open_report(
    function: str, event_id: str, detail_type: str, ledger: Ledger, *, dry_run: bool
) -> tuple[Report, Report | None]:
    """A new report for one event, and the duplicate report if the event was handled."""
    report = Report(function=function, event_id=event_id, detail_type=detail_type, dry_run=dry_run)
    seen = duplicate_report(report, ledger)
    if seen is not None:
        from autopilot.observability import logger  # noqa: PLC0415

        logger.info("duplicate event", function=function, event_id=event_id)
    return report, seen


def duplicate_report(report: Report, ledger: Ledger) -> Report | None:
    """The report for an event already handled by this function, or None."""
    seen = ledger.get_event(report.event_id, report.function)
    if seen is None:
        return None
    report.duplicate = True
    for service, outcome in sorted((seen.get("outcomes") or {}).items()):
        report.decisions.append(
            Decision(
                service=service,
                outcome=Outcome.DUPLICATE,
                reason=f"event already handled (it was: {outcome})",
            )
        )
    return report


def finish(
    report: Report,
    *,
    ledger: Ledger,
    aws: AwsClients,
    topic_arn: str,
    event_time: datetime,
) -> Report:
    """Record every decision, publish the notices, and mark the event handled (not in dry-run).

    A decision is announced when it says ``notify`` and its outcome is a real change or a
    real problem (``ANNOUNCED``); every decision is recorded.
    """
    for decision in report.decisions:
        if decision.notify and decision.outcome in ANNOUNCED:
            params = notices.notice_params(topic_arn, report.function, report.event_id, decision)
            action = Action(api="sns:Publish", params=params, service=decision.service)
            report.actions.append(action)
    if report.dry_run:
        return report
    for decision in report.decisions:
        ledger.record_decision(
            decision, function=report.function, event_id=report.event_id, event_time=event_time
        )
    for action in report.actions:
        if action.api == "sns:Publish" and not action.done:
            message_id = notices.publish(aws.sns, action.params)
            action.done = True
            action.result = {"MessageId": message_id}
    if not report.retry_services:
        ledger.mark_event(report.event_id, report.function, report.outcomes())
    return report


def add_metrics(report: Report) -> None:
    """One metric per outcome (the metric name is the outcome), and ``deploy-lead-time``
    (Seconds) for each deploy that completed."""
    from aws_lambda_powertools.metrics import MetricUnit  # noqa: PLC0415

    from autopilot.observability import metrics  # noqa: PLC0415

    for decision in report.decisions:
        metrics.add_metric(name=decision.outcome.value, unit=MetricUnit.Count, value=1)
        if decision.lead_time_seconds is not None:
            metrics.add_metric(
                name=LEAD_TIME_METRIC, unit=MetricUnit.Seconds, value=decision.lead_time_seconds
            )


def count_invalid() -> None:
    """The metric for an event rejected at the edge (it goes to the DLQ after the retries)."""
    from aws_lambda_powertools.metrics import MetricUnit  # noqa: PLC0415

    from autopilot.observability import metrics  # noqa: PLC0415

    metrics.add_metric(name="invalid-event", unit=MetricUnit.Count, value=1)


def lambda_entry(
    event: dict[str, Any], run: Callable[[dict[str, Any]], Report], settings_model: type
) -> dict[str, Any]:
    """The body every handler shares: settings, run, metrics, decision logs, retry or result.

    Invalid input raises ``InvalidEvent`` (Lambda retries, then the DLQ keeps the event
    intact); a service left for later (lease busy, transient failure) raises ``Incomplete``
    so Lambda retries the event.
    """
    from autopilot.errors import Incomplete, InvalidEvent  # noqa: PLC0415
    from autopilot.observability import logger  # noqa: PLC0415
    from autopilot.settings import get_settings  # noqa: PLC0415

    get_settings(settings_model)
    try:
        report = run(event)
    except InvalidEvent as exc:
        count_invalid()
        logger.warning("invalid event", error=str(exc), errors=exc.errors)
        raise
    add_metrics(report)
    for decision in report.decisions:
        logger.info(
            "decision",
            service=decision.service,
            outcome=decision.outcome.value,
            reason=decision.reason,
        )
    if report.retry_services:
        raise Incomplete(report.retry_services)
    result: dict[str, Any] = report.model_dump(mode="json")
    return result
