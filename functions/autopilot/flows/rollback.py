"""deployment-events: an ECS deployment's outcome -> last known good, quarantine, rollback.

1. gather: the service (DescribeServices with tags), the revision the deployment rolled out
   (from ECS's deployment list while it matters, else from the deploy record), its digest
   (the deploy record, else the task definition's pinned image), the ledger state; for a
   deployment autopilot did not make, what autopilot last deployed (drift)
2. plan: ``logic.deployment_plan`` (held if the service is paused, refused if ECS does not
   deploy it: ``flows.guards``)
3. carry out: ``execute.carry_out`` (last known good and quarantine written; the rollback,
   under the service's lease, is ECS's own while it still rolls the revision out
   (StopServiceDeployment ROLLBACK, ``logic.deployment_plan.rollback_route``), else, or if
   ECS refuses it, an UpdateService back to the last known good)
4. record: ``record.finish``

``rollback_plan`` is how any rollback is carried out: task-events' crash loops and the
operator's ``autopilot rollback`` use it too. Its one read: ListServiceDeployments, only
when DescribeServices shows the service's previous revision still ACTIVE beside a PRIMARY
deployment of the revision rolled back from (ECS could roll back to the target itself).
"""

from __future__ import annotations

from dataclasses import replace
from functools import partial
from typing import TYPE_CHECKING

from autopilot import contract
from autopilot.aws import ecs
from autopilot.aws.clients import AwsClients
from autopilot.domain.images import tracked_container
from autopilot.domain.plan import Fallback, Plan, Retry, Step, Write
from autopilot.domain.records import DeployRecord, ServiceLedgerState
from autopilot.domain.report import Action, Decision, Outcome, Report
from autopilot.domain.service import Service, short_name
from autopilot.errors import AwsCallFailed
from autopilot.execute import carry_out
from autopilot.flows.guards import guarded
from autopilot.logic.deployment_plan import (
    DeploymentFacts,
    DeploymentPlan,
    RollbackRoute,
    ecs_rollback_blocked,
    plan_deployment,
    rollback_route,
)
from autopilot.record import Run, finish, open_run
from autopilot.settings import DeploymentEventsSettings
from autopilot.store.ledger import Ledger

if TYPE_CHECKING:
    from autopilot.events.deployment import EcsDeploymentEvent


def run(
    event: EcsDeploymentEvent,
    settings: DeploymentEventsSettings,
    aws: AwsClients,
    *,
    dry_run: bool = False,
    invocation: str | None = None,
) -> Report:
    """Handle one deployment event. With ``dry_run`` the plan is returned and nothing changes."""
    ledger = Ledger(aws.dynamodb, settings.ledger_table)
    r = open_run(
        contract.DEPLOYMENT_EVENTS.name,
        event,
        settings,
        aws,
        dry_run=dry_run,
        invocation=invocation,
    )
    if r.report.duplicate:
        return r.report
    service_arn, detail = event.service_arn, event.detail
    cluster = ecs.managed_cluster_of(service_arn, settings.clusters)
    if r.foreign or cluster is None:
        reason = r.foreign or "a service of a cluster the control plane does not manage"
        carry_out(r, Plan(Decision(service=service_arn, outcome=Outcome.IGNORED, reason=reason)))
        return finish(r, event.time)
    if detail.event_name == "SERVICE_DEPLOYMENT_IN_PROGRESS":
        # Nothing to look up: recorded (a rollback by ECS is noted), never acted on.
        svc = Service(service_arn, short_name(service_arn), "", "")
        facts = _facts(event, None, None, None, None)
        carry_out(r, Plan(plan_deployment(facts, svc, ServiceLedgerState(), None).decision))
        return finish(r, event.time)

    # 1. gather
    observed_at = ledger.leases.now()
    found = ecs.describe_service(aws.ecs, cluster, service_arn)
    if found is None:
        ignored = Decision(service=service_arn, outcome=Outcome.IGNORED, reason="service not found")
        carry_out(r, Plan(ignored))
        return finish(r, event.time)
    svc = found
    repository = svc.tags.get(contract.TAG_REPOSITORY)
    if repository is None:
        reason = "the service tracks no repository (no autopilot:repository tag)"
        carry_out(r, Plan(Decision(service=svc.arn, outcome=Outcome.IGNORED, reason=reason)))
        return finish(r, event.time)
    # Which revision did this deployment roll out, and which digest does it carry?
    # (ECS lists the deployment while it matters; else our deploy record names it.)
    deployment = svc.deployment(detail.deployment_id)
    record: DeployRecord | None
    if deployment is not None:
        task_definition: str | None = deployment.task_definition
        record = ledger.deploys.get(svc.arn, deployment.task_definition)
    else:
        record = ledger.deploys.find_by_deployment(svc.arn, detail.deployment_id)
        task_definition = record.task_definition if record else None
    digest = record.digest if record else None
    image: str | None = None
    if task_definition is not None:
        td, _tags = ecs.describe_task_definition(aws.ecs, task_definition)
        container = tracked_container(td, repository, svc.tags.get(contract.TAG_CONTAINER))
        if container is not None:
            image = container.image
            digest = digest or container.digest
    facts = _facts(event, task_definition, digest, image, repository)
    state = ledger.state.load(svc.arn)
    # ... and, for a deployment autopilot did not make, what autopilot last deployed
    ours = None if record is not None else ledger.deploys.last_deployed(svc.arn)

    # 2. plan, 3. carry out, 4. record
    planned = plan_deployment(facts, svc, state, record, last_ours=ours)
    plan = rollback_plan(r, planned, svc, facts, state, observed_at=observed_at)
    carry_out(r, guarded(r, svc, plan, paused=state.paused))
    return finish(r, event.time)


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
        at=event.time,
    )


def rollback_plan(
    r: Run,
    planned: DeploymentPlan,
    svc: Service,
    facts: DeploymentFacts,
    state: ServiceLedgerState,
    *,
    observed_at: float | None,
    on_retry: Retry | None = None,
) -> Plan:
    """A deployment plan as the actor carries it out: last known good and quarantine are
    bookkeeping (written even for a paused service, whoever rolls back); the rollback,
    under the service's lease, is StopServiceDeployment ROLLBACK while ECS rolls the
    revision out and would go back to the target (falling back to the UpdateService if ECS
    refuses), else the UpdateService; then its deploy record."""
    writes: list[Write] = []
    if planned.last_known_good and facts.task_definition:
        lkg = partial(
            r.ledger.state.set_last_known_good,
            svc.arn,
            task_definition=facts.task_definition,
            digest=facts.digest,
            image=facts.image,
            event_id=r.report.event_id,
        )
        writes.append(Write("record the last known good", lkg))
        # the service runs this digest now: its marks of other digests no longer hold
        writes.extend(
            Write(
                "clear the vulnerable mark", partial(r.ledger.vulnerable.clear, svc.arn, m.digest)
            )
            for m in state.vulnerable
            if m.digest != facts.digest
        )
    if planned.quarantine:
        quarantine = partial(
            r.ledger.state.quarantine,
            svc.arn,
            planned.quarantine,
            reason=facts.reason,
            event_id=r.report.event_id,
        )
        writes.append(Write("quarantine the digest", quarantine))
    if planned.update is None:
        return Plan(planned.decision, writes=tuple(writes))
    target = str(planned.update["taskDefinition"])
    lkg_now = state.last_known_good
    record = DeployRecord(
        task_definition=target,
        digest=lkg_now.digest if lkg_now and lkg_now.task_definition == target else None,
        tag=None,
        previous_task_definition=facts.task_definition,
        event_id=r.report.event_id,
    )
    recorded = (Write("record the rollback", partial(r.ledger.deploys.record, svc.arn, record)),)
    update = Step(
        Action(api="ecs:UpdateService", params=planned.update, service=svc.arn), then=recorded
    )
    # ECS's own rollback while it still rolls the revision out (read now, from ECS)
    route = RollbackRoute(None, "")
    if ecs_rollback_blocked(svc, facts.task_definition, target) is None:
        cluster = str(planned.update.get("cluster") or svc.cluster_arn)
        try:
            in_progress = ecs.in_progress_deployments(r.aws.ecs, cluster, svc.arn)
            route = rollback_route(svc, facts.task_definition, target, in_progress)
        except AwsCallFailed as exc:
            # a rollback never waits on this read: the UpdateService goes back all the same
            route = RollbackRoute(None, f"UpdateService: {exc.api} failed ({exc.code})")
    decision, step = planned.decision, update
    if route.reason:
        decision = replace(decision, reason=f"{decision.reason}; {route.reason}")
    if route.stop is not None:
        stop = Action(
            api="ecs:StopServiceDeployment",
            params=ecs.stop_rollback_params(route.stop),
            service=svc.arn,
        )
        instead = f"{planned.decision.reason}; UpdateService"
        step = Step(stop, then=recorded, fallback=Fallback(ecs.STOP_REFUSED, update, instead))
    return Plan(
        decision,
        steps=(step,),
        writes=tuple(writes),
        lease=svc.arn,
        observed_at=observed_at,
        on_retry=on_retry or Retry(),
    )
