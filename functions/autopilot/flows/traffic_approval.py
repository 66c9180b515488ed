"""deployment-events' hook flow: an ``ECS Hook State Change`` of a PAUSE hook -> one
recorded decision (``logic.traffic_approval``), announced when it asks for an answer or the
hook timed out.

Gather (DescribeServiceDeployments of the event's service deployment: one call) -> plan
(``hook_decision``) -> record. Nothing in AWS changes: ``autopilot approve`` / ``reject``
answer the hook (ContinueServiceDeployment, ``cli.controls``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from autopilot import contract
from autopilot.aws import ecs
from autopilot.aws.clients import AwsClients
from autopilot.domain.plan import Plan
from autopilot.domain.report import Decision, Outcome, Report
from autopilot.execute import carry_out
from autopilot.logic.traffic_approval import hook_decision
from autopilot.record import finish, open_run
from autopilot.settings import DeploymentEventsSettings

if TYPE_CHECKING:
    from autopilot.events.hook import EcsHookEvent


def run(
    event: EcsHookEvent,
    settings: DeploymentEventsSettings,
    aws: AwsClients,
    *,
    dry_run: bool = False,
    invocation: str | None = None,
) -> Report:
    """Handle one hook state change. With ``dry_run`` the decision is returned, unrecorded."""
    detail = event.detail
    r = open_run(
        contract.DEPLOYMENT_EVENTS.name,
        event,
        settings,
        aws,
        dry_run=dry_run,
        invocation=invocation,
        key=f"hook:{detail.hook_id}:{detail.event_name}",
    )
    if r.report.duplicate:
        return r.report
    service_arn = detail.service_arn
    cluster = ecs.managed_cluster_of(service_arn, settings.clusters)
    if r.foreign or cluster is None or detail.hook_type != "PAUSE":
        reason = r.foreign or (
            "a service of a cluster the control plane does not manage"
            if cluster is None
            else "a Lambda hook: not an approval"
        )
        carry_out(r, Plan(Decision(service=service_arn, outcome=Outcome.IGNORED, reason=reason)))
        return finish(r, event.time)
    # 1. gather: what ECS says of the deployment and its hooks now
    found = ecs.describe_service_deployments(aws.ecs, [detail.service_deployment_arn])
    deployment = found[0] if found else None
    if deployment is not None and deployment.service_arn not in ("", service_arn):
        deployment = None  # the event's service does not own that deployment
    # 2. plan, 3. record (and announce what asks for an answer)
    decision = hook_decision(service_arn, detail.hook_id, detail.lifecycle_stage, deployment)
    carry_out(r, Plan(decision))
    return finish(r, event.time)
