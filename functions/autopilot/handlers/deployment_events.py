"""deployment-events: ECS deployment outcomes -> last known good, quarantine, rollback
(``flows.rollback``); PAUSE hook state changes -> approval at the hook recorded
(``flows.traffic_approval``).

Wiring only: parse the event (typed errors for junk), call the flow, and, as the Lambda
entry, check the settings, count the outcomes and ask for a retry when one is needed
(``record.lambda_entry``).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.logging import correlation_paths

from autopilot.aws.clients import AwsClients, get_clients
from autopilot.domain.report import Report
from autopilot.events.hook import EcsHookEvent, parse_reaction_event
from autopilot.flows import rollback, traffic_approval
from autopilot.observability import logger, metrics, tracer
from autopilot.record import lambda_entry
from autopilot.settings import DeploymentEventsSettings, get_settings


def run(
    event: dict[str, Any],
    *,
    dry_run: bool = False,
    aws: AwsClients | None = None,
    invocation: str | None = None,
) -> Report:
    """Handle one event. With ``dry_run`` the plan is returned and nothing is changed;
    ``invocation``: the Lambda request id handling it (None: a fresh one)."""
    parsed = parse_reaction_event(event)
    settings = get_settings(DeploymentEventsSettings)
    if isinstance(parsed, EcsHookEvent):
        return traffic_approval.run(
            parsed, settings, aws or get_clients(), dry_run=dry_run, invocation=invocation
        )
    return rollback.run(
        parsed, settings, aws or get_clients(), dry_run=dry_run, invocation=invocation
    )


@logger.inject_lambda_context(correlation_id_path=correlation_paths.EVENT_BRIDGE)
@metrics.log_metrics(capture_cold_start_metric=True)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Lambda entry. Invalid input raises ``InvalidEvent`` (retries, then the DLQ, keep it)."""
    return lambda_entry(event, context, run, DeploymentEventsSettings)
