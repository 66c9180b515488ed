"""task-events, zone balance: a service whose tasks are lopsided across Availability Zones.

1. gather: the evaluation window claimed (one evaluation per service per window; an event
   inside it is debounced and a re-check is marked for when it ends); the service
   (DescribeServices), its running tasks and their zones (ListTasks, DescribeTasks), its
   subnets' zones (DescribeSubnets); on EC2 the capacity providers and their ASGs, the
   task's size and the container instances; the last move and raised floors (ledger)
2. plan: ``logic.zone_balance`` (held if the service is paused, refused if ECS does not
   deploy it: ``flows.guards``)
3. carry out: ``execute.carry_out`` (UpdateService availabilityZoneRebalancing,
   SetDesiredCapacity / UpdateAutoScalingGroup MinSize, StopTask, under the lease)
4. record: by the caller (``flows.task_state`` for an event, ``recheck`` for the tick)

Native behaviours relied on: ECS's own AZ rebalancing for eligible services (turned on
with ``availabilityZoneRebalancing=ENABLED``, which starts no deployment) and its stop
reason "Availability-zone rebalancing initiated by ..." (ignored); ECS replacing a stopped
service task (placement spreads it into the emptier zone); EC2 Auto Scaling launching the
next instance in its least populated zone, and raising the desired capacity to a raised
``MinSize``; ECS managed scaling owning the desired capacity of a managed ASG (hence the
floor, released once balanced).

AWS calls per evaluation (DynamoDB and SNS aside): Fargate 4 reads (DescribeServices,
ListTasks, DescribeTasks, DescribeSubnets) + the action; EC2 up to 10 reads
(+ DescribeClusters, DescribeCapacityProviders, DescribeAutoScalingGroups,
DescribeTaskDefinition, ListContainerInstances, DescribeContainerInstances) + the action.
A debounced or ignored event makes none.

The trailing edge (``recheck``): an event debounced inside a service's window marks a
re-check due when the window ends (one conditional write; a storm makes one), and a plan
deferred by the move cooldown (or holding a raised floor) marks one due at its
``recheck_at``. A schedule rule sends task-events a ``Scheduled Event``: it loads the due
re-checks with one Query and evaluates each under the same rules (the window claim first;
the mark is then deleted conditionally). A re-check whose window is still held keeps its
mark for the next tick. A dry run evaluates the due re-checks and changes nothing.
"""

from __future__ import annotations

import math
from functools import partial

from autopilot.aws import ec2, ecs, scaling
from autopilot.aws.clients import AwsClients
from autopilot.contract import TAG_REBALANCE, TASK_EVENTS
from autopilot.domain.plan import Plan, Retry, Step, Write
from autopilot.domain.records import Recheck
from autopilot.domain.report import Action, Decision, Outcome, Report
from autopilot.domain.service import ClusterCapacity, Service, short_name
from autopilot.errors import MalformedTag
from autopilot.events.task import ScheduledEvent, TaskStateChangeEvent
from autopilot.execute import carry_out
from autopilot.flows.guards import guarded
from autopilot.logic import zone_balance as zb
from autopilot.logic.policy import parse_rebalance
from autopilot.logic.taskdef import task_size
from autopilot.observability import logger
from autopilot.record import Run, finish, open_run
from autopilot.settings import TaskEventsSettings
from autopilot.store.capacity import asg_target
from autopilot.store.ledger import Ledger

#: A floor (ASG minimum) raised by a zone-balance evaluation is released by any evaluation
#: once held this long, even if the service that raised it never reports balanced.
FLOOR_MAX_AGE_SECONDS = 1800
#: At most this many due re-checks per scheduled run (the rest wait for the next tick).
MAX_RECHECKS_PER_RUN = 50


def evaluate_on_event(
    r: Run, event: TaskStateChangeEvent, settings: TaskEventsSettings, service: str
) -> None:
    """A task event of ``service`` (its ARN): evaluate it, unless its window is held (then
    debounced, and a re-check is marked for when the window ends)."""
    if not r.dry_run and not r.ledger.zone.claim_evaluation(
        service, settings.evaluation_window_seconds
    ):
        # The trailing edge: the window (claimed at most a window ago) is over by then,
        # and the scheduled re-check evaluates what this event would have.
        due = r.ledger.table.epoch() + settings.evaluation_window_seconds
        r.ledger.rechecks.mark(service, due, "debounced")
        reason = (
            f"evaluated less than {settings.evaluation_window_seconds} s ago; "
            "re-checked once the window ends"
        )
        carry_out(r, Plan(Decision(service=service, outcome=Outcome.DEBOUNCED, reason=reason)))
        return
    try:
        _evaluate(r, settings, service, event)
    except Exception:
        # Failed before acting (an AWS read, most likely): end the window early so that
        # Lambda's retry of this event evaluates instead of being debounced.
        if not r.dry_run and not any(a.done for a in r.report.actions):
            r.ledger.zone.reopen_evaluation(service, _reopen_after(settings))
        raise


def recheck(
    event: ScheduledEvent,
    settings: TaskEventsSettings,
    aws: AwsClients,
    *,
    dry_run: bool = False,
    invocation: str | None = None,
) -> Report:
    """The re-check tick: evaluate every service whose re-check is due (one Query)."""
    r = open_run(TASK_EVENTS.name, event, settings, aws, dry_run=dry_run, invocation=invocation)
    if r.report.duplicate:
        return r.report
    for due in r.ledger.rechecks.due(limit=MAX_RECHECKS_PER_RUN):
        if ecs.managed_cluster_of(due.service_arn, settings.clusters) is None:
            continue  # another cluster's (a table shared by two stacks): not ours to judge
        _recheck_one(r, settings, due)
    return finish(r, event.time)


def _recheck_one(r: Run, settings: TaskEventsSettings, due: Recheck) -> None:
    """One due re-check: the window claim (kept for the next tick if it is held), the
    conditional delete of the mark, then the evaluation a task event would have made."""
    service = due.service_arn
    if not r.dry_run:
        if not r.ledger.zone.claim_evaluation(service, settings.evaluation_window_seconds):
            logger.info("re-check waits: evaluation window held", service=service)
            return
        r.ledger.rechecks.clear(due)
    try:
        _evaluate(r, settings, service, None, recheck=due)
    except Exception as exc:
        logger.exception("re-check failed", service=service)
        if not r.dry_run:
            if not any(a.done for a in r.report.actions):
                r.ledger.zone.reopen_evaluation(service, _reopen_after(settings))
            again = r.ledger.table.epoch() + _reopen_after(settings)
            r.ledger.rechecks.mark(service, again, "re-check failed")
        reason = f"re-check ({due.why}): {type(exc).__name__}: {str(exc)[:300]}; re-checked later"
        carry_out(r, Plan(Decision(service=service, outcome=Outcome.FAILED, reason=reason)))


def _reopen_after(settings: TaskEventsSettings) -> int:
    """How soon an evaluation that could not act lets the next one in (Lambda's first retry
    comes about a minute later)."""
    return min(10, settings.evaluation_window_seconds)


def _evaluate(
    r: Run,
    settings: TaskEventsSettings,
    service: str,
    event: TaskStateChangeEvent | None,
    *,
    recheck: Recheck | None = None,
) -> None:
    """Evaluate one service, on a task event or on a due ``recheck`` (whose reasons say so)."""
    said = f"re-check ({recheck.why}): " if recheck else ""

    def decided(subject: str, outcome: Outcome, reason: str, *, notify: bool = False) -> Plan:
        return Plan(Decision(service=subject, outcome=outcome, reason=said + reason, notify=notify))

    # 1. gather: the service
    observed_at = r.ledger.leases.now()
    cluster = ecs.managed_cluster_of(service, settings.clusters)
    svc = ecs.describe_service(r.aws.ecs, cluster, service) if cluster else None
    if svc is None:
        reason = f"service {short_name(service)} is not active"
        carry_out(r, decided(service, Outcome.IGNORED, reason))
        return
    try:
        rebalance_on = parse_rebalance(svc.tags.get(TAG_REBALANCE))
    except MalformedTag as exc:
        reason = f"tag {exc.key}={exc.value!r}: {exc.problem}"
        carry_out(r, decided(svc.arn, Outcome.REJECTED, reason, notify=True))
        return
    paused = r.ledger.pauses.get(svc.arn) is not None
    facts = zb.ServiceFacts(rebalance_on, svc.deployment_in_progress)
    ignore = zb.service_ignore(facts) if event is None else zb.classify(event.detail, facts)
    if isinstance(ignore, zb.Ignore):
        carry_out(
            r, guarded(r, svc, decided(svc.arn, Outcome.IGNORED, ignore.reason), paused=paused)
        )
        return
    # ... its tasks, zones and capacity
    snapshot, asgs = _snapshot(r, settings, svc)
    # 2. plan, 3. carry out
    planned = zb.plan_zone_balance(snapshot)
    plan = _plan(r, settings, svc, planned, asgs, observed_at, said=said, scheduled=bool(recheck))
    carry_out(r, guarded(r, svc, plan, paused=paused))


def _snapshot(
    r: Run, settings: TaskEventsSettings, svc: Service
) -> tuple[zb.ZoneBalanceSnapshot, dict[str, zb.AsgCapacity]]:
    aws, cluster = r.aws, svc.cluster_arn
    tasks = ecs.running_tasks(aws.ecs, cluster, svc.name)
    zones = ec2.subnet_zones(aws.ec2, svc.subnets) if svc.subnets else ()
    ec2_capacity: zb.Ec2Capacity | None = None
    asgs: dict[str, zb.AsgCapacity] = {}
    capacity: ClusterCapacity | None = None
    fargate = svc.fargate
    if not svc.strategy and svc.launch_type is None:
        # The cluster's default capacity provider strategy places this service's tasks.
        capacity = ecs.cluster_capacity(aws.ecs, cluster)
        fargate = bool(capacity.default_strategy) and not capacity.ec2_default_providers()
    if not fargate:
        ec2_capacity, asgs, asg_zones = _ec2_capacity(r, settings, svc, capacity)
        if asg_zones:
            zones = tuple(z for z in zones if z in asg_zones) or asg_zones
    last = r.ledger.zone.last_move(svc.arn)
    snapshot = zb.ZoneBalanceSnapshot(
        service=svc.arn,
        desired_count=svc.desired_count,
        min_healthy_percent=svc.min_healthy_percent,
        tasks=tuple(zb.RunningTask(t.arn, t.zone) for t in tasks if t.zone),
        zones=zones,
        now=r.ledger.table.now(),
        deployment_in_progress=svc.deployment_in_progress,
        rebalance_on=True,
        native_eligible=zb.native_rebalancing_eligible(
            scheduling_strategy=svc.scheduling_strategy,
            placement_strategy_types=svc.placement_strategy,
            fargate=fargate,
            has_az_placement_constraint=svc.az_placement_constraint,
        ),
        native_enabled=svc.az_rebalancing == "ENABLED",
        ec2=ec2_capacity,
        last_move_at=last.at if last else None,
        cooldown_seconds=settings.move_cooldown_seconds,
        floor_max_age_seconds=FLOOR_MAX_AGE_SECONDS,
    )
    return snapshot, asgs


def _ec2_capacity(
    r: Run, settings: TaskEventsSettings, svc: Service, capacity: ClusterCapacity | None
) -> tuple[zb.Ec2Capacity, dict[str, zb.AsgCapacity], tuple[str, ...]]:
    """Room per zone (container instances vs the task's size) and the ASGs behind the service."""
    aws, cluster = r.aws, svc.cluster_arn
    if capacity is None:
        capacity = ecs.cluster_capacity(aws.ecs, cluster)
    names = svc.ec2_providers or capacity.ec2_default_providers()
    providers = [p for p in capacity.providers if not names or p.name in names]
    managed = {p.asg_name: p.managed_scaling for p in providers if p.asg_name}
    described = scaling.describe_asgs(aws.autoscaling, list(managed)) if managed else []
    task_definition, _tags = ecs.describe_task_definition(aws.ecs, svc.task_definition)
    cpu, memory = task_size(task_definition)
    instances = ecs.container_instances(aws.ecs, cluster)
    instance_zones = {i.zone for i in instances if i.zone}
    # The zones the capacity spans: its ASGs', else (no ASG known) its instances'.
    asg_zones = tuple(sorted({z for g in described for z in g.zones} or instance_zones))
    zones = tuple(
        zb.ZoneCapacity(
            zone=z,
            has_room=any(
                i.zone == z and i.remaining_cpu >= cpu and i.remaining_memory >= memory
                for i in instances
            ),
            instances=sum(1 for i in instances if i.zone == z),
        )
        for z in sorted(set(asg_zones) | instance_zones)
    )
    asgs: dict[str, zb.AsgCapacity] = {}
    for g in described:
        floor = r.ledger.capacity.floor(asg_target(g.name))
        asgs[g.name] = zb.AsgCapacity(
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
    return zb.Ec2Capacity(zones, tuple(asgs.values())), asgs, asg_zones


def _plan(  # noqa: PLR0917 - the parts of one service's plan
    r: Run,
    settings: TaskEventsSettings,
    svc: Service,
    planned: zb.Plan,
    asgs: dict[str, zb.AsgCapacity],
    observed_at: float,
    *,
    said: str,
    scheduled: bool,
) -> Plan:
    """The zone-balance plan as the actor carries it out: one step per change, each with
    what the ledger remembers (the move, a raised floor and who raised it)."""
    outcome, reason = zb.outcome(planned)
    decision = Decision(
        service=svc.arn,
        outcome=outcome,
        reason=said + reason,
        counts=dict(planned.spread),
        task_definition=svc.task_definition,
        notify=outcome is Outcome.REBALANCED,
    )
    ledger, cluster = r.ledger, svc.cluster_arn
    steps = tuple(_step(ledger, cluster, svc.arn, s, asgs) for s in planned.actions)
    writes: tuple[Write, ...] = ()
    if planned.recheck_at is not None:
        # Deferred (cooldown) or holding a floor: come back then even if no event does.
        due = math.ceil(planned.recheck_at.timestamp())
        writes = (
            Write("mark a re-check", partial(ledger.rechecks.mark, svc.arn, due, "deferred")),
        )
    # A plan left for later: the window is given back so that the retry evaluates; a
    # scheduled re-check is marked for the next tick instead of failing the whole tick.
    reopen = Write(
        "reopen the window",
        partial(ledger.zone.reopen_evaluation, svc.arn, _reopen_after(settings)),
    )
    if scheduled:
        again = partial(_mark_later, ledger, svc.arn, _reopen_after(settings), "busy or failed")
        on_retry = Retry(
            lambda_retry=False,
            writes=(reopen, Write("mark a re-check", again)),
            then="re-checked later",
        )
    else:
        on_retry = Retry(writes=(reopen,))
    return Plan(
        decision,
        steps=steps,
        writes=writes,
        lease=svc.arn,
        observed_at=observed_at,
        on_retry=on_retry,
    )


def _mark_later(ledger: Ledger, service: str, seconds: int, why: str) -> bool:
    return ledger.rechecks.mark(service, ledger.table.epoch() + seconds, why)


def _step(
    ledger: Ledger, cluster: str, service: str, step: zb.Step, asgs: dict[str, zb.AsgCapacity]
) -> Step:
    """One planned change: its call and what the ledger remembers once it is made."""
    if isinstance(step, zb.EnableNativeRebalancing):
        params = ecs.rebalancing_params(cluster, service)
        return Step(Action(api="ecs:UpdateService", params=params, service=service))
    if isinstance(step, zb.StopTask):
        params = ecs.stop_task_params(cluster, step.task_arn, step.reason)
        move = partial(ledger.zone.record_move, service, f"stopped {step.task_arn} in {step.zone}")
        return Step(
            Action(api="ecs:StopTask", params=params, service=service),
            then=(Write("record the move", move),),
        )
    if isinstance(step, zb.ReleaseCapacityFloor):
        params = scaling.min_size_params(step.asg, step.min_size)
        release = partial(ledger.capacity.clear_original_min, asg_target(step.asg))
        return Step(
            Action(api="autoscaling:UpdateAutoScalingGroup", params=params, service=service),
            then=(Write("forget the raised floor", release),),
        )
    assert isinstance(step, zb.RaiseCapacity)
    move = partial(ledger.zone.record_move, service, f"raised {step.asg} for {step.zone}")
    if step.new_min is None:
        params = scaling.desired_capacity_params(step.asg, step.new_desired)
        return Step(
            Action(api="autoscaling:SetDesiredCapacity", params=params, service=service),
            then=(Write("record the move", move),),
        )
    # Managed scaling owns the desired capacity: raise the floor, keep the old one.
    params = scaling.min_size_params(step.asg, step.new_min)
    known = asgs.get(step.asg)
    floor = partial(
        _record_floor,
        ledger,
        asg_target(step.asg),
        known.min_size if known else step.new_min,
        service,
    )
    return Step(
        Action(api="autoscaling:UpdateAutoScalingGroup", params=params, service=service),
        then=(Write("record the raised floor", floor), Write("record the move", move)),
    )


def _record_floor(ledger: Ledger, target: str, original: int, service: str) -> bool:
    """Record who raised the floor (only that service's balanced evaluation releases it)."""
    if not ledger.capacity.record_floor_raise(target, original, service):
        logger.info("floor held by capacity-events: left to it", target=target)
        return False
    return True
