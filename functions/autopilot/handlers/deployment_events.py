"""deployment-events: ECS deployment outcomes -> last known good, quarantine, rollback.

parse -> load state (the service, its deployment's revision and digest, the ledger) ->
decide (``logic.deployment_plan``) -> act (lease, UpdateService back to last known good) ->
record (ledger, notices). ``run`` is the whole of it; ``handler`` is the Lambda entry.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from aws_lambda_powertools.logging import correlation_paths

from autopilot import contract
from autopilot.adapters import ecs as ecs_adapter
from autopilot.adapters.clients import AwsClients, get_clients
from autopilot.adapters.ledger import Ledger
from autopilot.contract import DEPLOYMENT_EVENTS
from autopilot.errors import AwsCallFailed, LeaseBusy
from autopilot.handlers.common import finish, lambda_entry, open_report
from autopilot.logic.deployment_plan import DeploymentFacts, DeploymentPlan, plan_deployment
from autopilot.models.events import EcsDeploymentEvent, parse_deployment_event
from autopilot.models.report import Action, Decision, Outcome, Report
from autopilot.models.state import (
    DeployRecord,
    ServiceLedgerState,
    ServiceView,
    tracked_container,
)
from autopilot.observability import logger, metrics, tracer
from autopilot.settings import DeploymentEventsSettings, get_settings


def _cluster_of(service_arn: str) -> str:
    """``arn:...:service/<cluster>/<name>`` -> the cluster's ARN."""
    prefix, _, path = service_arn.partition(":service/")
    return f"{prefix}:cluster/{path.split('/')[0]}"


def run(event: dict[str, Any], *, dry_run: bool = False, aws: AwsClients | None = None) -> Report:
    """Handle one deployment event. With ``dry_run`` the plan is returned and nothing changes."""
    parsed = parse_deployment_event(event)
    settings = get_settings(DeploymentEventsSettings)
    aws = aws or get_clients()
    ledger = Ledger(aws.dynamodb, settings.ledger_table)
    report, seen = open_report(
        DEPLOYMENT_EVENTS.name, parsed.id, parsed.detail_type, ledger, dry_run=dry_run
    )
    if seen is not None:
        return seen

    service_arn = parsed.service_arn
    detail = parsed.detail
    if detail.event_name == "SERVICE_DEPLOYMENT_IN_PROGRESS":
        # Nothing to look up: recorded (a rollback by ECS is noted), never acted on.
        svc = ServiceView(service_arn, service_arn.rsplit("/", 1)[-1], "", "")
        facts = _facts(parsed, None, None, None, None)
        report.decisions.append(plan_deployment(facts, svc, ServiceLedgerState(), None).decision)
        return _finish(report, ledger, aws, settings, parsed)

    observed_at = time.time()
    services = ecs_adapter.describe_services(aws.ecs, _cluster_of(service_arn), [service_arn])
    if not services:
        report.decisions.append(
            Decision(service=service_arn, outcome=Outcome.IGNORED, reason="service not found")
        )
        return _finish(report, ledger, aws, settings, parsed)
    svc = services[0]
    repository = svc.tags.get(contract.TAG_REPOSITORY)
    if repository is None:
        report.decisions.append(
            Decision(
                service=svc.arn,
                outcome=Outcome.IGNORED,
                reason="the service tracks no repository (no autopilot:repository tag)",
            )
        )
        return _finish(report, ledger, aws, settings, parsed)

    # Which revision did this deployment roll out, and which digest does it carry?
    # (ECS lists the deployment while it matters; else our deploy record names it.)
    deployment = svc.deployment(detail.deployment_id)
    record: DeployRecord | None
    if deployment is not None:
        task_definition: str | None = deployment.task_definition
        record = ledger.get_deploy(svc.arn, deployment.task_definition)
    else:
        record = ledger.find_deploy(svc.arn, detail.deployment_id)
        task_definition = record.task_definition if record else None
    digest = record.digest if record else None
    image: str | None = None
    if task_definition is not None:
        td, _tags = ecs_adapter.describe_task_definition(aws.ecs, task_definition)
        container = tracked_container(td, repository, svc.tags.get(contract.TAG_CONTAINER))
        if container is not None:
            image = container.image
            digest = digest or container.digest
    facts = _facts(parsed, task_definition, digest, image, repository)
    state = ledger.load_state(svc.arn)
    plan = plan_deployment(facts, svc, state, record)
    report.decisions.append(plan.decision)
    if plan.decision.outcome is Outcome.LAST_KNOWN_GOOD and record is not None:
        plan.decision.lead_time_seconds = lead_time_seconds(record, parsed.time)
    carry_out(
        report,
        plan,
        svc,
        facts,
        ledger,
        aws,
        settings,
        observed_at=observed_at,
        paused=state.paused,
    )
    return _finish(report, ledger, aws, settings, parsed)


def lead_time_seconds(record: DeployRecord, completed_at: datetime) -> float | None:
    """Push (ECR imagePushedAt, kept on the deploy record) to deployment COMPLETED; None for
    deploys that carry no push time (rollbacks, deploys recorded before lead times were)."""
    if record.pushed_at is None:
        return None
    seconds = (completed_at - record.pushed_at).total_seconds()
    return round(seconds, 3) if seconds >= 0 else None


def _facts(
    event: EcsDeploymentEvent,
    task_definition: str | None,
    digest: str | None,
    image: str | None,
    repository: str | None,
) -> DeploymentFacts:
    return DeploymentFacts(
        deployment_id=event.detail.deployment_id,
        event_name=event.detail.event_name,
        reason=event.detail.reason,
        task_definition=task_definition,
        digest=digest,
        image=image,
        repository=repository,
    )


def carry_out(  # noqa: PLR0917 - the one path for rollback and quarantine
    report: Report,
    plan: DeploymentPlan,
    svc: ServiceView,
    facts: DeploymentFacts,
    ledger: Ledger,
    aws: AwsClients,
    settings: DeploymentEventsSettings,
    *,
    observed_at: float | None = None,
    paused: bool = False,
) -> None:
    """Carry out a deployment plan: the one rollback-and-quarantine path.

    deployment-events uses it for FAILED deployments and task-events for crash loops.
    A ``paused`` service (``autopilot pause``) keeps its bookkeeping (last known good,
    quarantine) but is not rolled back: the decision says so, and is announced.
    """
    decision = plan.decision
    update = None
    if plan.update is not None and paused:
        target = plan.update.get("taskDefinition")
        decision.outcome = Outcome.PAUSED
        decision.reason = f"{decision.reason}; NOT rolled back to {target}: the service is paused"
        decision.notify = True
        plan = plan._replace(update=None)
    if plan.update is not None:
        update = Action(api="ecs:UpdateService", params=plan.update, service=svc.arn)
        report.actions.append(update)
    if report.dry_run:
        return
    if plan.last_known_good and facts.task_definition:
        ledger.set_last_known_good(
            svc.arn,
            task_definition=facts.task_definition,
            digest=facts.digest,
            image=facts.image,
            event_id=report.event_id,
        )
    if plan.quarantine:
        ledger.quarantine(svc.arn, plan.quarantine, reason=facts.reason, event_id=report.event_id)
    if update is None:
        return
    holder = f"{report.function}:{report.event_id}"
    try:
        ledger.acquire_lease(svc.arn, holder, settings.lease_seconds, unchanged_since=observed_at)
    except LeaseBusy as exc:
        decision.outcome = Outcome.BUSY
        decision.reason = f"another change to the service is in flight ({exc.holder})"
        decision.notify = False
        report.retry_services.append(svc.arn)
        return
    try:
        update.result = ecs_adapter.update_service(aws.ecs, update.params)
        update.done = True
        target = str(update.params["taskDefinition"])
        lkg = ledger.get_last_known_good(svc.arn)
        ledger.record_deploy(
            svc.arn,
            DeployRecord(
                task_definition=target,
                digest=lkg.digest if lkg and lkg.task_definition == target else None,
                tag=None,
                previous_task_definition=facts.task_definition,
                event_id=report.event_id,
            ),
        )
        logger.info("rolled back", service=svc.arn, task_definition=target)
    except AwsCallFailed as exc:
        update.error = f"{exc.code}: {exc.aws_message}"
        decision.outcome = Outcome.FAILED
        decision.reason = f"rollback failed: {exc.api}: {exc.code}"
        decision.notify = True
        if exc.transient:  # Lambda retries the event; the retry decides again
            decision.reason += " (transient: retried)"
            decision.notify = False
            report.retry_services.append(svc.arn)
        logger.warning("rollback failed", service=svc.arn, api=exc.api, code=exc.code)
    finally:
        ledger.release_lease(svc.arn, holder, changed=update.done)


def _finish(
    report: Report,
    ledger: Ledger,
    aws: AwsClients,
    settings: DeploymentEventsSettings,
    event: EcsDeploymentEvent,
) -> Report:
    return finish(
        report, ledger=ledger, aws=aws, topic_arn=settings.notices_topic_arn, event_time=event.time
    )


@logger.inject_lambda_context(correlation_id_path=correlation_paths.EVENT_BRIDGE)
@metrics.log_metrics(capture_cold_start_metric=True)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Lambda entry. Invalid input raises ``InvalidEvent`` (retries, then the DLQ, keep it)."""
    return lambda_entry(event, run, DeploymentEventsSettings)
