"""task-events, crash loops: a service's tasks crashing again and again on one revision.

1. gather: the stopped task's essential containers (DescribeTaskDefinition) and their exit
   codes; the crash is recorded and the window's crashes read back (ledger); on a loop,
   the service (DescribeServices), the crashing digest, the ledger state and deploy record
2. plan: ``logic.crash_loop`` (loop or not; roll back or only announce); a rollback is
   planned by the rollback planner (``logic.deployment_plan``) and carried out as any
   rollback is (``flows.rollback.rollback_plan``); held if the service is paused, refused
   if ECS does not deploy it (``flows.guards``)
3. carry out: ``execute.carry_out``
4. record: by the caller (``flows.task_state``)

A loop is reported once per window (a conditional claim); a rollback left for a retry
gives the claim back, so the retry reports and rolls back. No deployment is in progress
while a loop is judged (a deployment's own checks judge its tasks), so ECS's circuit
breaker will not roll it back itself.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from autopilot import contract
from autopilot.aws import ecs
from autopilot.domain.images import tracked_container
from autopilot.domain.plan import Plan, Retry, Write
from autopilot.domain.records import StopRecord
from autopilot.domain.report import Decision, Outcome
from autopilot.events.task import TaskStateChangeEvent
from autopilot.execute import carry_out
from autopilot.flows import rollback
from autopilot.flows.guards import guarded
from autopilot.logic.crash_loop import CrashLoopPolicy, detect_crash_loop, verdict
from autopilot.logic.deployment_plan import DeploymentFacts, plan_deployment
from autopilot.logic.taskdef import essential_containers
from autopilot.record import Run
from autopilot.settings import TaskEventsSettings


def react(r: Run, event: TaskStateChangeEvent, settings: TaskEventsSettings, service: str) -> bool:
    """A stopped task of ``service`` (its ARN): a crash is recorded; a crash loop is decided
    (rolled back, or announced). False when there is no loop to decide on."""
    # 1. gather: the crash, the crashes of the window, and the loop they make
    crash = _crash(r, event)
    if crash is None:
        return False
    stop, task_definition = crash
    policy = CrashLoopPolicy(settings.crash_loop_threshold, settings.crash_loop_window_minutes)
    window = policy.window_minutes * 60
    crashes = r.ledger.crashes
    if r.dry_run:
        records = [c for c in crashes.list(service) if c.task_arn != stop.task_arn] + [stop]
    else:
        crashes.record(service, stop, keep_seconds=window)
        records = crashes.list(service)
    loop = detect_crash_loop(records, policy, now=stop.stopped_at, deployment_in_progress=False)
    if loop is None:
        return False
    what = (
        f"crash loop: {loop.count} crashes of {loop.task_definition_arn} "
        f"in {policy.window_minutes} min"
    )

    def ignored(why: str) -> bool:
        reason = f"{what}; {why}"
        carry_out(r, Plan(Decision(service=service, outcome=Outcome.IGNORED, reason=reason)))
        return True

    # ... the service (once per loop and window), the crashing image, the ledger state
    if crashes.loop_reported(service, loop.task_definition_arn):
        return ignored("already reported in this window")
    observed_at = r.ledger.leases.now()
    svc = ecs.describe_service(r.aws.ecs, event.detail.cluster_arn, service)
    if svc is None:
        return ignored("the service is not active")
    if svc.deployment_in_progress:
        return ignored("a deployment is in progress (its own checks judge)")
    if not r.dry_run and not crashes.claim_loop(service, loop.task_definition_arn, window):
        return ignored("already reported in this window")
    repository = svc.tags.get(contract.TAG_REPOSITORY)
    container = (
        tracked_container(task_definition, repository, svc.tags.get(contract.TAG_CONTAINER))
        if repository
        else None
    )
    digest = container.digest if container else None
    if container is not None and digest is None:
        reported = (c.image_digest for c in event.detail.containers if c.name == container.name)
        digest = next((x for x in reported if x), None)
    state = r.ledger.state.load(svc.arn)
    deploy = r.ledger.deploys.get(svc.arn, loop.task_definition_arn)

    # 2. plan
    why_not = verdict(
        loop,
        service_task_definition=svc.task_definition,
        digest=digest,
        last_known_good=state.last_known_good,
        deployed_at=deploy.at if deploy else None,
    )
    if why_not is not None or container is None or digest is None:
        plan = Plan(
            Decision(
                service=svc.arn,
                outcome=Outcome.CRASH_LOOP,
                reason=f"{what}; {why_not or 'not rolled back'}",
                repository=repository,
                digest=digest,
                task_definition=loop.task_definition_arn,
                notify=True,
            )
        )
    else:
        facts = DeploymentFacts(
            deployment_id=f"crash-loop:{loop.task_definition_arn}",
            event_name="SERVICE_DEPLOYMENT_FAILED",
            reason=what,
            task_definition=loop.task_definition_arn,
            digest=digest,
            image=container.image,
            repository=repository,
        )
        give_back = partial(crashes.release_loop, svc.arn, loop.task_definition_arn)
        plan = rollback.rollback_plan(
            r,
            plan_deployment(facts, svc, state, deploy),
            svc,
            facts,
            state,
            observed_at=observed_at,
            on_retry=Retry(writes=(Write("give the crash-loop report back", give_back),)),
        )

    # 3. carry out
    carry_out(r, guarded(r, svc, plan, paused=state.paused))
    return True


def _crash(r: Run, event: TaskStateChangeEvent) -> tuple[StopRecord, dict[str, Any]] | None:
    """The stop as a crash (an essential container exited non-zero) and its task definition,
    or None."""
    d = event.detail
    if d.last_status != "STOPPED" or not any(c.exit_code not in (None, 0) for c in d.containers):
        return None
    task_definition, _tags = ecs.describe_task_definition(r.aws.ecs, d.task_definition_arn)
    essential = essential_containers(task_definition)
    stop = StopRecord(
        task_arn=d.task_arn,
        task_definition_arn=d.task_definition_arn,
        essential_exit_codes=tuple(c.exit_code for c in d.containers if c.name in essential),
        stopped_at=d.stopped_at or event.time,
    )
    return (stop, task_definition) if stop.crashed else None
