"""Recording: idempotency, the decisions in the ledger, the notices, the metrics.

A flow opens one ``Run`` per event (``open_run``: the event's report, or the report of its
earlier handling when it is a duplicate), hands each plan to the actor, and ends with
``finish``: every decision recorded, the notices of the announced ones published, the
event marked handled (unless some service is left for a retry). ``lambda_entry`` is the
Lambda side of it: the settings check, the run within the invocation's time budget
(``aws.clients.time_budget`` from ``context.get_remaining_time_in_millis()``), one metric
per outcome, the decision logs, and ``Incomplete`` when a retry is needed.
"""

from __future__ import annotations

import time
import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

from autopilot.aws import clients
from autopilot.aws.clients import AwsClients
from autopilot.aws.perform import perform
from autopilot.domain.report import ANNOUNCED, Action, Decision, Outcome, Report
from autopilot.logic import notices
from autopilot.settings import FunctionSettings
from autopilot.store.ledger import Ledger

if TYPE_CHECKING:
    from autopilot.events.envelope import Event

#: the metric of a deploy's lead time (push to deployment COMPLETED), in seconds
LEAD_TIME_METRIC = "deploy-lead-time"


class Run(NamedTuple):
    """One event being handled: what every step of a flow shares."""

    report: Report
    ledger: Ledger
    aws: AwsClients
    topic_arn: str
    lease_seconds: int
    #: this invocation of the function: Lambda's request id, or a fresh one (``invocation_id``)
    invocation: str
    #: when the invocation's time runs out (``time.monotonic()`` seconds; None: no budget),
    #: from the budget ``lambda_entry`` opened (``aws.clients.time_budget``)
    deadline: float | None = None
    #: why the event is not this control plane's to act on (``FunctionSettings.foreign``:
    #: another account's), or None; the flow records it as ignored
    foreign: str | None = None

    def remaining(self) -> float | None:
        """Seconds left before the deadline (None: no budget)."""
        return None if self.deadline is None else self.deadline - time.monotonic()

    @property
    def function(self) -> str:
        return self.report.function

    @property
    def dry_run(self) -> bool:
        return self.report.dry_run

    @property
    def holder(self) -> str:
        """Who holds a lease this run takes: ``<function>:<event id>:<invocation>``.

        The invocation is part of it because a lease accepts its own holder again: two
        deliveries of one event (EventBridge and Lambda's queue deliver at least once, each
        delivery its own invocation and request id) exclude each other like any two events,
        and the one refused is retried. Lambda's retries of an asynchronous invocation keep
        its request id, so a retry after a crash or a timeout takes back the lease its
        earlier attempt left instead of waiting for it to expire.
        """
        return f"{self.report.function}:{self.report.event_id}:{self.invocation}"


def invocation_id(context: Any = None) -> str:
    """The invocation a run belongs to: the Lambda context's ``aws_request_id``, else (the
    CLI, the tests, a direct ``run``) a fresh id, so that two such runs exclude each other
    too."""
    request_id = getattr(context, "aws_request_id", None)
    return str(request_id) if request_id else str(uuid.uuid4())


def remaining_ms(context: Any) -> int | None:
    """The invocation's time left (``context.get_remaining_time_in_millis()``), or None
    without a Lambda context (the CLI, a direct run)."""
    get = getattr(context, "get_remaining_time_in_millis", None)
    return int(get()) if callable(get) else None


def open_run(
    function: str,
    event: Event,
    settings: FunctionSettings,
    aws: AwsClients,
    *,
    dry_run: bool,
    invocation: str | None = None,
    key: str | None = None,
) -> Run:
    """A run for one event on the function's ledger; ``key`` is what makes it one, for
    idempotency (default: the event's id). ``run.report.duplicate`` when this function
    handled it already (the report then holds one ``duplicate`` decision per service it
    decided on); ``run.foreign`` when the event is another account's. ``invocation``: the
    Lambda request id handling it (None: a fresh id, see ``invocation_id``)."""
    event_id = key or event.id
    report = Report(
        function=function, event_id=event_id, detail_type=event.detail_type, dry_run=dry_run
    )
    ledger = Ledger(aws.dynamodb, settings.ledger_table)
    run = Run(
        report,
        ledger,
        aws,
        settings.notices_topic_arn,
        settings.lease_seconds,
        invocation or invocation_id(),
        clients.deadline(),
        settings.foreign(event.account),
    )
    seen = ledger.events.get(event_id, function)
    if seen is None:
        return run
    from autopilot.observability import logger  # noqa: PLC0415

    logger.info("duplicate event", function=function, event_id=event_id)
    report.duplicate = True
    for service, outcome in sorted((seen.get("outcomes") or {}).items()):
        report.decisions.append(
            Decision(
                service=service,
                outcome=Outcome.DUPLICATE,
                reason=f"event already handled (it was: {outcome})",
            )
        )
    return run


def finish(run: Run, event_time: datetime) -> Report:
    """Record every decision, publish the notices, and mark the event handled (not in dry-run).

    A decision is announced when it says ``notify`` and its outcome is a real change or a
    real problem (``ANNOUNCED``); every decision is recorded.
    """
    report = run.report
    if report.duplicate:
        return report
    publish = [
        Action(
            api="sns:Publish",
            params=notices.notice_params(run.topic_arn, report.function, report.event_id, d),
            service=d.service,
        )
        for d in report.decisions
        if d.notify and d.outcome in ANNOUNCED and run.topic_arn
    ]
    report.actions.extend(publish)
    if report.dry_run:
        return report
    for decision in report.decisions:
        run.ledger.decisions.record(
            decision, function=report.function, event_id=report.event_id, event_time=event_time
        )
    for action in publish:
        action.result = perform(run.aws, action.api, action.params)
        action.done = True
    if not report.retry_services:
        run.ledger.events.mark(report.event_id, report.function, report.outcomes())
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


class EventRun(Protocol):
    """A handler module's ``run``: one event, handled by the invocation named."""

    def __call__(self, event: dict[str, Any], *, invocation: str | None = ...) -> Report: ...


def lambda_entry(
    event: dict[str, Any], context: Any, run: EventRun, settings_model: type
) -> dict[str, Any]:
    """The body every handler shares: settings, run, metrics, decision logs, retry or result.
    The run is this invocation's (``context.aws_request_id``: the lease holder's last part),
    and every AWS call in it fits in the time the context says is left (``remaining_ms``).

    Invalid input raises ``InvalidEvent`` (Lambda retries, then the DLQ keeps the event
    intact); a service left for later (lease busy, transient failure, out of time) raises
    ``Incomplete`` so Lambda retries the event; ``OutOfTime`` before anything was recorded
    goes out as it is (retried too).
    """
    from aws_lambda_powertools.metrics import MetricUnit  # noqa: PLC0415

    from autopilot.errors import Incomplete, InvalidEvent, OutOfTime  # noqa: PLC0415
    from autopilot.observability import logger, metrics  # noqa: PLC0415
    from autopilot.settings import get_settings  # noqa: PLC0415

    settings = get_settings(settings_model)
    # The settings name the function, not the environment at import: several functions run
    # in one process (the sandbox, the tests) share the one Metrics object.
    metrics.namespace = settings.powertools_metrics_namespace
    metrics.service = settings.powertools_service_name
    try:
        with clients.time_budget(remaining_ms(context)):
            report = run(event, invocation=invocation_id(context))
    except InvalidEvent as exc:
        count_invalid()
        logger.warning("invalid event", error=str(exc), errors=exc.errors)
        raise
    except OutOfTime as exc:
        # Out of time before the flow could record anything (a read, or the records
        # themselves): nothing is marked handled, so Lambda retries the event.
        metrics.add_metric(name="out-of-time", unit=MetricUnit.Count, value=1)
        logger.warning("out of time", api=exc.api, remaining_ms=exc.remaining_ms)
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
    result: dict[str, Any] = report.to_json()
    return result
