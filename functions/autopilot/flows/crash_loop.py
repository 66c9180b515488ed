"""task-events, crash loops: a service's tasks crashing again and again on one revision.

1. gather: an event that claims a crash (STOPPED, a container exited non-zero) is only a
   cue: the task is read from ECS (DescribeTasks on the event's cluster and task ARN) and
   ECS's answer is judged, never the event's claims: its last status, stop code and
   reason, group, task definition and the containers' exit codes (and image digests). A
   task ECS does not know (a forged or expired event), one it does not say is stopped, or
   one of another group is not counted, and the reason is recorded. Then the task
   definition's essential containers (DescribeTaskDefinition); the crash is recorded and
   the window's crashes read back (ledger); on a loop, the service (DescribeServices), the
   crashing digest, the ledger state and deploy record
2. plan: ``logic.crash_loop`` (loop or not; roll back or only announce); a rollback is
   planned by the rollback planner (``logic.deployment_plan``) and carried out as any
   rollback is (``flows.rollback.rollback_plan``); held if the service is paused, refused
   if ECS does not deploy it (``flows.guards``)
3. carry out: ``execute.carry_out``
4. record: by the caller (``flows.task_state``)

Calls: an event that claims no crash costs none here; one that does costs one
DescribeTasks, plus one DescribeTaskDefinition if ECS confirms a crash, plus one
DescribeServices on a loop (then the rollback's own calls).

A loop is reported once per window (a conditional claim); a rollback left for a retry
gives the claim back, so the retry reports and rolls back. No deployment is in progress
while a loop is judged (a deployment's own checks judge its tasks), so ECS's circuit
breaker will not roll it back itself.
"""

from __future__ import annotations

from functools import partial
from typing import Any, NamedTuple

from autopilot import contract
from autopilot.aws import ecs
from autopilot.domain.images import tracked_container
from autopilot.domain.plan import Plan, Retry, Write
from autopilot.domain.records import StopRecord
from autopilot.domain.report import Decision, Outcome
from autopilot.domain.service import DescribedTask
from autopilot.events.task import TaskStateChangeEvent
from autopilot.execute import carry_out
from autopilot.flows import rollback
from autopilot.flows.guards import guarded
from autopilot.logic import zone_balance as zb
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
    if isinstance(crash, str):
        carry_out(r, Plan(Decision(service=service, outcome=Outcome.IGNORED, reason=crash)))
        return True
    stop, task_definition, task = crash
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
        reported = (c.image_digest for c in task.containers if c.name == container.name)
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


class _Crash(NamedTuple):
    stop: StopRecord
    task_definition: dict[str, Any]
    task: DescribedTask


def _crash(r: Run, event: TaskStateChangeEvent) -> _Crash | str | None:
    """The stop as a crash (an essential container exited non-zero, as ECS says), its task
    definition and the task; a reason when the event's stop is not counted (ECS does not
    confirm it); or None (no crash: the caller goes on)."""
    d = event.detail
    if d.last_status != "STOPPED" or not any(c.exit_code not in (None, 0) for c in d.containers):
        return None
    task = ecs.describe_task(r.aws.ecs, d.cluster_arn, d.task_arn)
    claim = f"the event's stop of {d.task_arn.rsplit('/', 1)[-1]} is not counted"
    if task is None:
        return f"ECS does not know the task ({claim}: a forged or expired event)"
    if task.last_status != "STOPPED":
        return f"ECS says the task is {task.last_status[:32]}, not STOPPED ({claim})"
    if task.group != d.group:
        return f"ECS says the task is of {task.group[:300]!r}, not {d.group[:300]!r} ({claim})"
    if isinstance(ignore := zb.classify(task), zb.Ignore):
        return f"ECS says: {ignore.reason}"
    task_definition, _tags = ecs.describe_task_definition(r.aws.ecs, task.task_definition)
    essential = essential_containers(task_definition)
    stop = StopRecord(
        task_arn=task.arn,
        task_definition_arn=task.task_definition,
        essential_exit_codes=tuple(c.exit_code for c in task.containers if c.name in essential),
        stopped_at=task.stopped_at or d.stopped_at or event.time,
    )
    return _Crash(stop, task_definition, task) if stop.crashed else None
