"""task-events: ECS task state changes -> zone balance and crash loops.

parse -> (duplicate on task ARN + ``detail.version``) -> event-only ignores
(``logic.zone_balance.classify``) -> crash loops (``logic.crash_loop``; a loop whose digest
is newer than last known good is rolled back and quarantined through deployment-events'
own planner and actor) -> debounce (one evaluation per service per window, a conditional
write) -> load (DescribeServices, ListTasks + DescribeTasks, DescribeSubnets; on EC2 the
capacity providers, their ASGs and the container instances) -> ignores that need the
service -> ``plan_zone_balance`` -> act (lease; UpdateService availabilityZoneRebalancing,
SetDesiredCapacity / UpdateAutoScalingGroup MinSize, StopTask) -> record (ledger, notices).

Native behaviours relied on: ECS's own AZ rebalancing for eligible services (turned on
with ``availabilityZoneRebalancing=ENABLED``, which starts no deployment) and its stop
reason "Availability-zone rebalancing initiated by ..." (ignored); ECS replacing a stopped
service task (placement spreads it into the emptier zone); EC2 Auto Scaling launching the
next instance in its least populated zone, and raising the desired capacity to a raised
``MinSize``; ECS managed scaling owning the desired capacity of a managed ASG (hence the
floor, released once balanced).

AWS calls per evaluation (DynamoDB and SNS aside), measured against moto: Fargate 4 reads
(DescribeServices, ListTasks, DescribeTasks, DescribeSubnets) + the action; EC2 up to 10
reads (+ DescribeClusters, DescribeCapacityProviders, DescribeAutoScalingGroups,
DescribeTaskDefinition, ListContainerInstances, DescribeContainerInstances) + the action.
A debounced or ignored event makes none.

Trailing edge (the re-check): an event debounced inside a service's window marks a
re-check of that service due when the window ends (one conditional write in the ``RECHECK``
partition; a storm makes one write), and an evaluation deferred by the move cooldown (or
holding a raised ASG floor) marks one due at its ``retry_at`` (the floor's max age). A
schedule rule (``rate(N minutes)``) sends task-events a ``Scheduled Event``: it loads the
due re-checks with one Query of that partition (no Scan) and evaluates each under the same
rules (the window claim first, so a storm still gets one evaluation per window; the mark
is then deleted conditionally). A re-check whose window is still held keeps its mark for
the next tick. Dry-run evaluates the due re-checks and changes nothing, marks included.

``run`` is the whole of it; ``handler`` is the Lambda entry.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from aws_lambda_powertools.logging import correlation_paths

from autopilot import contract
from autopilot.adapters import ecs as ecs_adapter
from autopilot.adapters import ecs_tasks, scaling
from autopilot.adapters.clients import AwsClients, get_clients
from autopilot.adapters.ledger import Ledger
from autopilot.adapters.reaction_state import ReactionState, Recheck, asg_target
from autopilot.contract import TASK_EVENTS
from autopilot.errors import AwsCallFailed, LeaseBusy
from autopilot.handlers.common import finish, lambda_entry, open_report
from autopilot.logic.crash_loop import CrashLoop, CrashLoopPolicy, StopRecord, detect_crash_loop
from autopilot.logic.zone_balance import (
    AsgCapacity,
    Ec2Capacity,
    EnableNativeRebalancing,
    Evaluate,
    Ignore,
    Plan,
    RaiseCapacity,
    ReleaseCapacityFloor,
    RunningTask,
    ServiceFacts,
    StopTask,
    ZoneBalanceSnapshot,
    ZoneCapacity,
    classify,
    is_imbalanced,
    native_rebalancing_eligible,
    plan_zone_balance,
    service_ignore,
)
from autopilot.models.parse import validate_event
from autopilot.models.report import Action, Decision, Outcome, Report
from autopilot.models.state import LastKnownGood, ServiceView, tracked_container
from autopilot.models.task_events import ScheduledEvent, TaskStateChangeEvent
from autopilot.observability import logger, metrics, tracer
from autopilot.settings import TaskEventsSettings, get_settings

#: A floor (ASG minimum) raised by a zone-balance evaluation is released by any evaluation
#: once held this long, even if the service that raised it never reports balanced.
FLOOR_MAX_AGE_SECONDS = 1800
#: At most this many due re-checks per scheduled run (the rest wait for the next tick).
MAX_RECHECKS_PER_RUN = 50


#: What task-events parses: task state changes, and the re-check schedule's tick.
MODELS: dict[str, type[TaskStateChangeEvent | ScheduledEvent]] = {
    contract.DT_ECS_TASK: TaskStateChangeEvent,
    contract.DT_SCHEDULED: ScheduledEvent,
}


def parse_event(event: Any) -> TaskStateChangeEvent | ScheduledEvent:
    """A task state change, or the re-check schedule's tick."""
    return validate_event(MODELS, event)


@dataclass
class _Run:
    """What one run carries between its steps."""

    report: Report
    #: ``None`` in a scheduled re-check (no task event).
    event: TaskStateChangeEvent | None
    ledger: Ledger
    state: ReactionState
    aws: AwsClients
    settings: TaskEventsSettings
    subject: str
    #: When the service was read (epoch seconds): the lease refuses if it changed since.
    observed_at: float | None = None
    #: A scheduled re-check: a busy or failed evaluation is marked for the next tick
    #: instead of failing the invocation (which would retry every service of the run).
    scheduled: bool = False

    def decide(self, outcome: Outcome, reason: str, **extra: Any) -> Decision:
        decision = Decision(service=self.subject, outcome=outcome, reason=reason, **extra)
        self.report.decisions.append(decision)
        return decision


def run(event: dict[str, Any], *, dry_run: bool = False, aws: AwsClients | None = None) -> Report:
    """Handle one task event (or a re-check tick). With ``dry_run`` the plan is returned and
    nothing is changed."""
    parsed = parse_event(event)
    settings = get_settings(TaskEventsSettings)
    aws = aws or get_clients()
    ledger = Ledger(aws.dynamodb, settings.ledger_table)
    if isinstance(parsed, ScheduledEvent):
        return _run_scheduled(parsed, dry_run=dry_run, aws=aws, ledger=ledger, settings=settings)
    detail = parsed.detail
    # Idempotent on (task ARN, version): redeliveries and copies of one state change.
    report, seen = open_report(
        TASK_EVENTS.name, detail.dedup_key, parsed.detail_type, ledger, dry_run=dry_run
    )
    if seen is not None:
        return seen
    name = detail.service_name
    # Standalone tasks are recorded under their cluster (one subject, not one per task).
    subject = ecs_tasks.service_arn_of(detail.cluster_arn, name) if name else detail.cluster_arn
    ctx = _Run(
        report,
        parsed,
        ledger,
        ReactionState(aws.dynamodb, settings.ledger_table),
        aws,
        settings,
        subject,
    )
    if detail.cluster_arn != settings.cluster_arn:
        ctx.decide(Outcome.IGNORED, "task of another cluster")
    elif isinstance(first := classify(detail), Ignore):
        ctx.decide(Outcome.IGNORED, first.reason)
    elif not _crash_loop(ctx):
        assert isinstance(first, Evaluate)
        _zone_balance(ctx, first.service_name)
    return finish(
        report,
        ledger=ledger,
        aws=aws,
        topic_arn=settings.notices_topic_arn,
        event_time=parsed.time,
    )


def _run_scheduled(
    parsed: ScheduledEvent,
    *,
    dry_run: bool,
    aws: AwsClients,
    ledger: Ledger,
    settings: TaskEventsSettings,
) -> Report:
    """The re-check tick: evaluate every service whose re-check is due (one Query)."""
    report, seen = open_report(
        TASK_EVENTS.name, parsed.id, parsed.detail_type, ledger, dry_run=dry_run
    )
    if seen is not None:
        return seen
    state = ReactionState(aws.dynamodb, settings.ledger_table)
    for recheck in state.due_rechecks(limit=MAX_RECHECKS_PER_RUN):
        name = recheck.service_arn.rsplit("/", 1)[-1]
        if ecs_tasks.service_arn_of(settings.cluster_arn, name) != recheck.service_arn:
            continue  # another cluster's (a table shared by two stacks): not ours to judge
        ctx = _Run(report, None, ledger, state, aws, settings, recheck.service_arn, scheduled=True)
        _recheck(ctx, recheck, name)
    return finish(
        report,
        ledger=ledger,
        aws=aws,
        topic_arn=settings.notices_topic_arn,
        event_time=parsed.time,
    )


def _recheck(ctx: _Run, recheck: Recheck, service_name: str) -> None:
    """One due re-check: the window claim (kept for the next tick if it is held), the
    conditional delete of the mark, then the evaluation a task event would have made."""
    state, settings = ctx.state, ctx.settings
    if not ctx.report.dry_run:
        if not state.claim_evaluation(ctx.subject, settings.evaluation_window_seconds):
            logger.info("re-check waits: evaluation window held", service=ctx.subject)
            return
        state.clear_recheck(recheck)
    first = len(ctx.report.decisions)
    try:
        _evaluate(ctx, service_name)
    except Exception as exc:
        logger.exception("re-check failed", service=ctx.subject)
        if not ctx.report.dry_run:
            if not any(a.done for a in ctx.report.actions):
                state.reopen_evaluation(ctx.subject, _reopen_after(settings))
            state.mark_recheck(
                ctx.subject, state.epoch() + _reopen_after(settings), "re-check failed"
            )
        ctx.decide(Outcome.FAILED, f"{type(exc).__name__}: {str(exc)[:300]}; re-checked later")
    for decision in ctx.report.decisions[first:]:
        decision.reason = f"re-check ({recheck.why}): {decision.reason}"


# ---------------------------------------------------------------------------
# Crash loops (issue 5, item 5)
# ---------------------------------------------------------------------------
def _crash_loop(ctx: _Run) -> bool:
    """Record a crashed stop; on a loop, decide (and roll back). True if it decided."""
    assert ctx.event is not None
    d = ctx.event.detail
    if d.last_status != "STOPPED" or not any(c.exit_code not in (None, 0) for c in d.containers):
        return False
    task_definition, _tags = ecs_adapter.describe_task_definition(
        ctx.aws.ecs, d.task_definition_arn
    )
    essential = {
        str(c.get("name"))
        for c in task_definition.get("containerDefinitions", [])
        if c.get("essential", True)
    }
    record = StopRecord(
        task_arn=d.task_arn,
        task_definition_arn=d.task_definition_arn,
        essential_exit_codes=tuple(c.exit_code for c in d.containers if c.name in essential),
        stopped_at=d.stopped_at or ctx.event.time,
    )
    if not record.crashed:
        return False
    policy = CrashLoopPolicy(
        ctx.settings.crash_loop_threshold, ctx.settings.crash_loop_window_minutes
    )
    window = policy.window_minutes * 60
    if ctx.report.dry_run:
        records = [r for r in ctx.state.crashes(ctx.subject) if r.task_arn != record.task_arn]
        records.append(record)
    else:
        ctx.state.record_crash(ctx.subject, record, keep_seconds=window)
        records = ctx.state.crashes(ctx.subject)
    loop = detect_crash_loop(records, policy, now=record.stopped_at, deployment_in_progress=False)
    if loop is None:
        return False
    what = (
        f"crash loop: {loop.count} crashes of {loop.task_definition_arn} "
        f"in {policy.window_minutes} min"
    )
    if ctx.state.crash_loop_reported(ctx.subject, loop.task_definition_arn):
        ctx.decide(Outcome.IGNORED, f"{what}; already reported in this window")
        return True
    ctx.observed_at = time.time()
    svc = ecs_tasks.describe_service(ctx.aws.ecs, ctx.settings.cluster_arn, ctx.subject)
    if svc is None:
        ctx.decide(Outcome.IGNORED, f"{what}; the service is not active")
        return True
    if svc.deployment_in_progress:
        ctx.decide(Outcome.IGNORED, f"{what}; a deployment is in progress (its own checks judge)")
        return True
    if not ctx.report.dry_run and not ctx.state.claim_crash_loop(
        ctx.subject, loop.task_definition_arn, window
    ):
        ctx.decide(Outcome.IGNORED, f"{what}; already reported in this window")
        return True
    _crash_decision(ctx, svc, loop, task_definition, what)
    return True


def _crash_decision(
    ctx: _Run,
    svc: ecs_tasks.ServiceDetails,
    loop: CrashLoop,
    task_definition: dict[str, Any],
    what: str,
) -> None:
    assert ctx.event is not None
    event = ctx.event
    repository = svc.tags.get(contract.TAG_REPOSITORY)
    container = (
        tracked_container(task_definition, repository, svc.tags.get(contract.TAG_CONTAINER))
        if repository
        else None
    )
    digest = container.digest if container else None
    if container is not None and digest is None:
        digest = next(
            (
                c.image_digest
                for c in event.detail.containers
                if c.name == container.name and c.image_digest
            ),
            None,
        )

    def notice(reason: str) -> None:
        ctx.decide(
            Outcome.CRASH_LOOP,
            f"{what}; {reason}",
            repository=repository,
            digest=digest,
            task_definition=loop.task_definition_arn,
            notify=True,
        )

    if repository is None or container is None or digest is None:
        notice("the image's digest is unknown (no tracked repository): nothing to roll back")
        return
    if loop.task_definition_arn != svc.task_definition:
        notice(f"the service has moved on to {svc.task_definition}")
        return
    state = ctx.ledger.load_state(svc.arn)
    deploy = ctx.ledger.get_deploy(svc.arn, loop.task_definition_arn)
    newer = _newer_than_last_known_good(
        state.last_known_good, loop.task_definition_arn, digest, deploy.at if deploy else None
    )
    if newer is not True:
        notice(newer or "not newer than the last known good: not rolled back")
        return
    # The same path as deployment-events: its planner and its actor (lease, UpdateService
    # back to last known good, quarantine, deploy record). No deployment is in progress,
    # so ECS's circuit breaker will not roll this back itself. Imported here: crash-loop
    # rollbacks are rare, and the rest of task-events' cold start need not build
    # deployment-events' modules and event models.
    from autopilot.handlers import deployment_events  # noqa: PLC0415
    from autopilot.logic.deployment_plan import DeploymentFacts, plan_deployment  # noqa: PLC0415
    from autopilot.settings import DeploymentEventsSettings  # noqa: PLC0415

    view = ServiceView(
        arn=svc.arn,
        name=svc.name,
        cluster_arn=svc.cluster_arn,
        task_definition=svc.task_definition,
        tags=svc.tags,
    )
    facts = DeploymentFacts(
        deployment_id=f"crash-loop:{loop.task_definition_arn}",
        event_name="SERVICE_DEPLOYMENT_FAILED",
        reason=what,
        task_definition=loop.task_definition_arn,
        digest=digest,
        image=container.image,
        repository=repository,
    )
    plan = plan_deployment(facts, view, state, deploy)
    ctx.report.decisions.append(plan.decision)
    deployment_events.carry_out(
        ctx.report,
        plan,
        view,
        facts,
        ctx.ledger,
        ctx.aws,
        get_settings(DeploymentEventsSettings),
        observed_at=ctx.observed_at,
        paused=state.paused,
    )
    if plan.decision.outcome is Outcome.BUSY and not ctx.report.dry_run:
        # Retried (Incomplete): let the retry report and roll back the loop.
        ctx.state.release_crash_loop(svc.arn, loop.task_definition_arn)


def _revision(task_definition: str) -> tuple[str, int]:
    family, _, revision = task_definition.rsplit("/", 1)[-1].rpartition(":")
    return family, int(revision) if revision.isdigit() else -1


def _newer_than_last_known_good(
    lkg: LastKnownGood | None, task_definition: str, digest: str, deployed_at: Any
) -> bool | str:
    """True, or why the crashing digest is not known to be newer than last known good."""
    if lkg is None:
        return "no last known good to roll back to"
    if digest == lkg.digest or task_definition == lkg.task_definition:
        return "the last known good itself is crashing: not an image to roll back"
    if deployed_at is not None and lkg.at is not None:
        return True if deployed_at > lkg.at else "deployed before the last known good"
    family, revision = _revision(task_definition)
    lkg_family, lkg_revision = _revision(lkg.task_definition)
    if family == lkg_family and revision > lkg_revision:
        return True
    return "cannot tell it is newer than the last known good"


# ---------------------------------------------------------------------------
# Zone balance (issue 5, items 1-4)
# ---------------------------------------------------------------------------
def _zone_balance(ctx: _Run, service_name: str) -> None:
    settings = ctx.settings
    if not ctx.report.dry_run and not ctx.state.claim_evaluation(
        ctx.subject, settings.evaluation_window_seconds
    ):
        # The trailing edge: the window (claimed at most a window ago) is over by then,
        # and the scheduled re-check evaluates what this event would have.
        ctx.state.mark_recheck(
            ctx.subject, ctx.state.epoch() + settings.evaluation_window_seconds, "debounced"
        )
        ctx.decide(
            Outcome.DEBOUNCED,
            f"evaluated less than {settings.evaluation_window_seconds} s ago; "
            "re-checked once the window ends",
        )
        return
    try:
        _evaluate(ctx, service_name)
    except Exception:
        # Failed before acting (an AWS read, most likely): end the window early so that
        # Lambda's retry of this event evaluates instead of being debounced.
        if not ctx.report.dry_run and not any(a.done for a in ctx.report.actions):
            ctx.state.reopen_evaluation(ctx.subject, _reopen_after(ctx.settings))
        raise


def _reopen_after(settings: TaskEventsSettings) -> int:
    """How soon an evaluation that could not act lets the next one in (Lambda's first retry
    comes about a minute later)."""
    return min(10, settings.evaluation_window_seconds)


def _evaluate(ctx: _Run, service_name: str) -> None:
    ctx.observed_at = time.time()
    svc = ecs_tasks.describe_service(ctx.aws.ecs, ctx.settings.cluster_arn, ctx.subject)
    if svc is None:
        ctx.decide(Outcome.IGNORED, f"service {service_name} is not active")
        return
    tag = svc.tags.get(contract.TAG_REBALANCE, contract.DEFAULT_REBALANCE).strip().lower()
    if tag not in ("on", "off"):
        ctx.decide(
            Outcome.REJECTED,
            f"tag {contract.TAG_REBALANCE}={tag[:32]!r}: expected on or off",
            notify=True,
        )
        return
    facts = ServiceFacts(
        rebalance_on=tag == "on", deployment_in_progress=svc.deployment_in_progress
    )
    second = service_ignore(facts) if ctx.event is None else classify(ctx.event.detail, facts)
    if isinstance(second, Ignore):
        ctx.decide(Outcome.IGNORED, second.reason)
        return
    snapshot, asgs = _snapshot(ctx, svc)
    plan = plan_zone_balance(snapshot)
    _act(ctx, svc, plan, asgs)


def _snapshot(
    ctx: _Run, svc: ecs_tasks.ServiceDetails
) -> tuple[ZoneBalanceSnapshot, dict[str, AsgCapacity]]:
    aws, cluster = ctx.aws, ctx.settings.cluster_arn
    tasks = ecs_tasks.running_tasks(aws.ecs, cluster, svc.name)
    zones = ecs_tasks.subnet_zones(aws.ec2, svc.subnets) if svc.subnets else ()
    ec2: Ec2Capacity | None = None
    asgs: dict[str, AsgCapacity] = {}
    capacity: ecs_tasks.ClusterCapacity | None = None
    fargate = svc.fargate
    if not svc.strategy and svc.launch_type is None:
        # The cluster's default capacity provider strategy places this service's tasks.
        capacity = ecs_tasks.cluster_capacity(aws.ecs, cluster)
        default = capacity.default_strategy
        fargate = bool(default) and all(
            i.capacity_provider in ecs_tasks.FARGATE_PROVIDERS for i in default
        )
    if not fargate:
        ec2, asgs, asg_zones = _ec2_capacity(ctx, svc, capacity)
        if asg_zones:
            zones = tuple(z for z in zones if z in asg_zones) or asg_zones
    last = ctx.state.last_move(svc.arn)
    snapshot = ZoneBalanceSnapshot(
        service=svc.arn,
        desired_count=svc.desired_count,
        min_healthy_percent=svc.min_healthy_percent,
        tasks=tuple(RunningTask(t.arn, t.zone) for t in tasks if t.zone),
        zones=zones,
        now=ctx.state.now(),
        deployment_in_progress=svc.deployment_in_progress,
        rebalance_on=True,
        native_eligible=native_rebalancing_eligible(
            scheduling_strategy=svc.scheduling_strategy,
            placement_strategy_types=svc.placement_strategy,
            fargate=fargate,
            has_az_placement_constraint=svc.az_placement_constraint,
        ),
        native_enabled=svc.az_rebalancing == "ENABLED",
        ec2=ec2,
        last_move_at=last.at if last else None,
        cooldown_seconds=ctx.settings.move_cooldown_seconds,
        floor_max_age_seconds=FLOOR_MAX_AGE_SECONDS,
    )
    return snapshot, asgs


def _ec2_capacity(
    ctx: _Run, svc: ecs_tasks.ServiceDetails, capacity: ecs_tasks.ClusterCapacity | None
) -> tuple[Ec2Capacity, dict[str, AsgCapacity], tuple[str, ...]]:
    """Room per zone (container instances vs the task's size) and the ASGs behind the service."""
    aws, cluster = ctx.aws, ctx.settings.cluster_arn
    if capacity is None:
        capacity = ecs_tasks.cluster_capacity(aws.ecs, cluster)
    names = svc.ec2_providers or tuple(
        i.capacity_provider
        for i in capacity.default_strategy
        if i.capacity_provider not in ecs_tasks.FARGATE_PROVIDERS
    )
    providers = [p for p in capacity.providers if not names or p.name in names]
    managed = {p.asg_name: p.managed_scaling for p in providers if p.asg_name}
    described = scaling.describe_asgs(aws.autoscaling, list(managed)) if managed else []
    task_definition, _tags = ecs_adapter.describe_task_definition(aws.ecs, svc.task_definition)
    cpu, memory = ecs_tasks.task_size(task_definition)
    instances = ecs_tasks.container_instances(aws.ecs, cluster)
    instance_zones = {i.zone for i in instances if i.zone}
    # The zones the capacity spans: its ASGs', else (no ASG known) its instances'.
    asg_zones = tuple(sorted({z for g in described for z in g.zones} or instance_zones))
    zone_names = sorted(set(asg_zones) | instance_zones)
    zones = tuple(
        ZoneCapacity(
            zone=z,
            has_room=any(
                i.zone == z and i.remaining_cpu >= cpu and i.remaining_memory >= memory
                for i in instances
            ),
            instances=sum(1 for i in instances if i.zone == z),
        )
        for z in zone_names
    )
    asgs: dict[str, AsgCapacity] = {}
    for g in described:
        floor = ctx.state.floor(asg_target(g.name))
        asgs[g.name] = AsgCapacity(
            name=g.name,
            desired=g.desired,
            min_size=g.min_size,
            max_size=g.max_size,
            zones=g.zones,
            managed_scaling=managed.get(g.name, False),
            recorded_original_min=floor.original_min if floor else None,
            floor_raised_by=floor.raised_by if floor else None,
            floor_raised_at=floor.raised_at if floor else None,
        )
    return Ec2Capacity(zones, tuple(asgs.values())), asgs, asg_zones


Planned = tuple[Action, Callable[[], Any], Callable[[], None]]


def _planned_actions(
    ctx: _Run, svc: ecs_tasks.ServiceDetails, plan: Plan, asgs: dict[str, AsgCapacity]
) -> list[Planned]:
    """(action, perform, remember) for every step that changes something."""
    aws, cluster, state = ctx.aws, ctx.settings.cluster_arn, ctx.state
    out: list[Planned] = []
    perform: Callable[[], Any]
    for step in plan.actions:
        if isinstance(step, EnableNativeRebalancing):
            params = ecs_tasks.rebalancing_params(cluster, svc.arn)
            action = Action(api="ecs:UpdateService", params=params, service=svc.arn)
            out.append((action, partial(ecs_tasks.update_service, aws.ecs, params), _nothing))
        elif isinstance(step, RaiseCapacity):
            what = f"raised {step.asg} for {step.zone}"
            move = partial(state.record_move, svc.arn, what)
            if step.new_min is not None:
                # Managed scaling owns the desired capacity: raise the floor, keep the old one.
                params = scaling.min_size_params(step.asg, step.new_min)
                api = "autoscaling:UpdateAutoScalingGroup"
                perform = partial(scaling.update_min_size, aws.autoscaling, params)
                known = asgs.get(step.asg)
                old_min = known.min_size if known else step.new_min
                floor = partial(_record_floor, state, asg_target(step.asg), old_min, svc.arn)
                action = Action(api=api, params=params, service=svc.arn)
                out.append((action, perform, _both(floor, move)))
            else:
                params = scaling.desired_capacity_params(step.asg, step.new_desired)
                api = "autoscaling:SetDesiredCapacity"
                perform = partial(scaling.set_desired_capacity, aws.autoscaling, params)
                out.append((Action(api=api, params=params, service=svc.arn), perform, move))
        elif isinstance(step, ReleaseCapacityFloor):
            params = scaling.min_size_params(step.asg, step.min_size)
            action = Action(
                api="autoscaling:UpdateAutoScalingGroup", params=params, service=svc.arn
            )
            perform = partial(scaling.update_min_size, aws.autoscaling, params)
            out.append((action, perform, partial(state.clear_original_min, asg_target(step.asg))))
        elif isinstance(step, StopTask):
            params = {"cluster": cluster, "task": step.task_arn, "reason": step.reason}
            action = Action(api="ecs:StopTask", params=params, service=svc.arn)
            what = f"stopped {step.task_arn} in {step.zone}"
            perform = partial(ecs_tasks.stop_task, aws.ecs, params)
            out.append((action, perform, partial(state.record_move, svc.arn, what)))
    return out


def _nothing() -> None:
    return None


def _record_floor(state: ReactionState, target: str, original: int, service_arn: str) -> None:
    """Record who raised the floor (only that service's balanced evaluation releases it)."""
    if not state.record_floor_raise(target, original, service_arn):
        logger.info("floor held by capacity-events: left to it", target=target)


def _both(first: Callable[[], None], second: Callable[[], None]) -> Callable[[], None]:
    def both() -> None:
        first()
        second()

    return both


def _act(
    ctx: _Run, svc: ecs_tasks.ServiceDetails, plan: Plan, asgs: dict[str, AsgCapacity]
) -> None:
    spread = dict(plan.spread)
    planned = _planned_actions(ctx, svc, plan, asgs)
    changes = [a for a, _, _ in planned]
    moving = [a for a in changes if not _is_release(a, plan)]
    if moving:
        outcome = Outcome.REBALANCED
    elif changes:
        outcome = Outcome.RESTORED
    elif not is_imbalanced(spread) or "native rebalancing is on" in plan.reason:
        outcome = Outcome.BALANCED
    else:
        outcome = Outcome.DEFERRED
    summary = "; ".join(_describe(a) for a in changes) or plan.reason
    shown = ", ".join(f"{z}={n}" for z, n in plan.spread) or "no zones"
    if changes and ctx.ledger.get_paused(svc.arn) is not None:
        # `autopilot pause`: recorded, not acted on (the pause itself was announced)
        ctx.decide(
            Outcome.PAUSED,
            f"spread {shown}: service is paused, held: {summary}",
            counts=spread,
            task_definition=svc.task_definition,
        )
        return
    decision = ctx.decide(
        outcome,
        f"spread {shown}: {summary}",
        counts=spread,
        task_definition=svc.task_definition,
        notify=outcome == Outcome.REBALANCED,
    )
    ctx.report.actions.extend(changes)
    if plan.recheck_at is not None and not ctx.report.dry_run:
        # Deferred (cooldown) or holding a floor: come back then even if no event does.
        ctx.state.mark_recheck(svc.arn, math.ceil(plan.recheck_at.timestamp()), "deferred")
    if ctx.report.dry_run or not planned:
        return
    holder = f"{ctx.report.function}:{ctx.report.event_id}"
    try:
        ctx.ledger.acquire_lease(
            svc.arn, holder, ctx.settings.lease_seconds, unchanged_since=ctx.observed_at
        )
    except LeaseBusy as exc:
        _busy(ctx, svc.arn, decision, changes, exc.holder)
        return
    try:
        for action, perform, remember in planned:
            try:
                result = perform()
                action.result = result if isinstance(result, dict) else None
                action.done = True
            except AwsCallFailed as exc:
                action.error = f"{exc.code}: {exc.aws_message}"
                decision.outcome = Outcome.FAILED
                decision.reason = f"{exc.api} failed: {exc.code}; {decision.reason}"
                decision.notify = True
                logger.warning("zone balance failed", service=svc.arn, api=exc.api, code=exc.code)
                return
            remember()
        logger.info("zone balance", service=svc.arn, outcome=decision.outcome.value, spread=spread)
    finally:
        changed = any(a.done and a.api == "ecs:UpdateService" for a in changes)
        ctx.ledger.release_lease(svc.arn, holder, changed=changed)


def _busy(
    ctx: _Run, service_arn: str, decision: Decision, changes: list[Action], holder: str
) -> None:
    """Another change is in flight, or was made since the read: decide again later (Lambda's
    retry of the event; for a scheduled re-check, the next tick: a retry would re-run every
    service of the tick)."""
    decision.outcome = Outcome.BUSY
    decision.notify = False
    ctx.report.actions = [a for a in ctx.report.actions if a not in changes]
    ctx.state.reopen_evaluation(service_arn, _reopen_after(ctx.settings))
    if ctx.scheduled:
        due = ctx.state.epoch() + _reopen_after(ctx.settings)
        ctx.state.mark_recheck(service_arn, due, "busy")
        decision.reason = f"another change to the service ({holder}); re-checked later"
    else:
        ctx.report.retry_services.append(service_arn)
        decision.reason = f"another change to the service ({holder}); retried"


def _is_release(action: Action, plan: Plan) -> bool:
    releases = {(s.asg, s.min_size) for s in plan.actions if isinstance(s, ReleaseCapacityFloor)}
    params = action.params
    return (
        action.api == "autoscaling:UpdateAutoScalingGroup"
        and (params.get("AutoScalingGroupName"), params.get("MinSize")) in releases
    )


def _describe(action: Action) -> str:
    p = action.params
    if action.api == "ecs:StopTask":
        return f"stop {str(p['task']).rsplit('/', 1)[-1]} ({p['reason']})"
    if action.api == "ecs:UpdateService":
        return "turn on ECS availability-zone rebalancing"
    if action.api == "autoscaling:SetDesiredCapacity":
        return f"{p['AutoScalingGroupName']} desired capacity to {p['DesiredCapacity']}"
    return f"{p['AutoScalingGroupName']} minimum to {p['MinSize']}"


@logger.inject_lambda_context(correlation_id_path=correlation_paths.EVENT_BRIDGE)
@metrics.log_metrics(capture_cold_start_metric=True)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Lambda entry. Invalid input raises ``InvalidEvent`` (retries, then the DLQ, keep it)."""
    return lambda_entry(event, run, TaskEventsSettings)
