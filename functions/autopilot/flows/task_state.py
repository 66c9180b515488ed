"""task-events, one task state change: a crash loop first, else zone balance.

Idempotent on (task ARN, ``detail.version``): redeliveries and copies of one state change
are duplicates. Event-only ignores come first (another cluster's task, a standalone task,
a state that is neither RUNNING nor STOPPED, a stop by ECS's own rebalancing or a Spot
interruption: ``logic.zone_balance.classify``), then ``flows.crash_loop``, then
``flows.zone_balance``; the run is recorded once (``record.finish``).

The event is a cue, not evidence: a stop it claims is a crash counts only once ECS confirms
it (``flows.crash_loop`` reads the task: one DescribeTasks per event claiming a crash, none
for any other event); a stop ECS does not confirm is ignored with its reason, and zone
balance reads the service's tasks from ECS itself.
"""

from __future__ import annotations

from autopilot.aws.clients import AwsClients
from autopilot.contract import TASK_EVENTS
from autopilot.domain.plan import Plan
from autopilot.domain.report import Decision, Outcome, Report
from autopilot.domain.service import service_arn_of
from autopilot.events.task import TaskStateChangeEvent
from autopilot.execute import carry_out
from autopilot.flows import crash_loop, zone_balance
from autopilot.logic import zone_balance as zb
from autopilot.record import finish, open_run
from autopilot.settings import TaskEventsSettings


def run(
    event: TaskStateChangeEvent,
    settings: TaskEventsSettings,
    aws: AwsClients,
    *,
    dry_run: bool = False,
    invocation: str | None = None,
) -> Report:
    """Handle one task state change. With ``dry_run`` the plan is returned, nothing changed."""
    detail = event.detail
    r = open_run(
        TASK_EVENTS.name,
        event,
        settings,
        aws,
        dry_run=dry_run,
        invocation=invocation,
        key=detail.dedup_key,
    )
    if r.report.duplicate:
        return r.report
    name = detail.service_name
    # Standalone tasks are recorded under their cluster (one subject, not one per task).
    subject = service_arn_of(detail.cluster_arn, name) if name else detail.cluster_arn
    first = zb.classify(detail)
    if r.foreign or detail.cluster_arn not in settings.clusters:
        reason = r.foreign or "a task of a cluster the control plane does not manage"
        carry_out(r, Plan(Decision(service=subject, outcome=Outcome.IGNORED, reason=reason)))
    elif isinstance(first, zb.Ignore):
        carry_out(r, Plan(Decision(service=subject, outcome=Outcome.IGNORED, reason=first.reason)))
    elif not crash_loop.react(r, event, settings, subject):
        zone_balance.evaluate_on_event(r, event, settings, subject)
    return finish(r, event.time)
