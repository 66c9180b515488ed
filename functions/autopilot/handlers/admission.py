"""admission: ECS's Lambda lifecycle hook (PRE_SCALE_UP) -> ``{"hookStatus": ...}``
(``flows.admission``).

Wiring only: parse the payload, call the flow, return ECS's hook response. ECS reads the
answer, so nothing is raised: a malformed payload, state that cannot be read, even a bug,
is answered FAILED with the reason (fail-closed), and the reason is logged, never a
traceback for bad input. One metric per outcome, as the other functions count them.
"""

from __future__ import annotations

from typing import Any

from autopilot.aws.clients import AwsClients, get_clients, time_budget
from autopilot.errors import InvalidEvent
from autopilot.events.admission import parse_hook_payload
from autopilot.flows import admission
from autopilot.logic.admission import Answer
from autopilot.observability import logger, metrics, tracer
from autopilot.record import count_invalid, invocation_id, remaining_ms
from autopilot.settings import AdmissionSettings, get_settings


def run(
    event: Any,
    *,
    dry_run: bool = False,
    aws: AwsClients | None = None,
    invocation: str | None = None,
) -> Answer:
    """Answer one hook invocation. With ``dry_run`` nothing is recorded or announced."""
    settings = get_settings(AdmissionSettings)
    clients = aws or get_clients()
    try:
        hook = parse_hook_payload(event)
    except InvalidEvent as exc:
        count_invalid()
        logger.warning("invalid hook payload", error=str(exc), errors=exc.errors)
        return admission.malformed(
            event, exc, settings, clients, dry_run=dry_run, invocation=invocation
        )
    return admission.run(hook, settings, clients, dry_run=dry_run, invocation=invocation)


@logger.inject_lambda_context(correlation_id_path="executionId")
@metrics.log_metrics(capture_cold_start_metric=True)
@tracer.capture_lambda_handler
def handler(event: Any, context: Any) -> dict[str, Any]:
    """Lambda entry: ECS's hook response, always (FAILED when anything goes wrong)."""
    try:
        settings = get_settings(AdmissionSettings)
        metrics.namespace = settings.powertools_metrics_namespace
        metrics.service = settings.powertools_service_name
        with time_budget(remaining_ms(context)):
            answer = run(event, invocation=invocation_id(context))
    except Exception as exc:
        logger.exception("admission failed closed", error=type(exc).__name__)
        return {
            "hookStatus": "FAILED",
            "hookDetails": {"reason": f"admission refused: internal error {type(exc).__name__}"},
        }
    from aws_lambda_powertools.metrics import MetricUnit  # noqa: PLC0415

    decision = answer.decision
    metrics.add_metric(name=decision.outcome.value, unit=MetricUnit.Count, value=1)
    logger.info(
        "decision",
        service=decision.service,
        outcome=decision.outcome.value,
        reason=decision.reason,
        hook_status=answer.status,
    )
    return answer.response()
