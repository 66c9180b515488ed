"""capacity-events: alarms, placement failures and Spot warnings -> bounded scaling.

1. gather: whether the alarm is in the state its event says (one DescribeAlarms per ALARM
   or OK event: an alarm CloudWatch holds in another state now, or no longer holds, is
   ignored with that reason and nothing more is read), what the alarm drives (its tags,
   read from CloudWatch: one ListTagsForResource more); none of either for
   INSUFFICIENT_DATA. The event's ``state`` is only the cue and its ``alarmTags`` are never
   read, since anyone who may invoke the function can write both. Then the target service
   (DescribeServices) with its scalable target, or the ASG behind a capacity provider
   (DescribeClusters, DescribeCapacityProviders, DescribeAutoScalingGroups); the last
   change (cooldown), recorded floors and Fargate Spot fallback (ledger)
2. plan: ``logic.capacity`` (held if the target service is paused, ``logic.pause``)
3. carry out: ``execute.carry_out`` through the owner of the number, one change per target
   per cooldown (a conditional claim, given back if the call fails)
4. record: ``record.finish``

Every change goes through the owner of the number it moves (never fight the mechanism that
owns it): ``logic.capacity`` says which, signal by signal.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Any, NamedTuple

from autopilot import contract
from autopilot.aws import cloudwatch, ecs, scaling
from autopilot.aws.clients import AwsClients
from autopilot.domain.plan import Plan, Step, Write
from autopilot.domain.records import LastChange
from autopilot.domain.report import Action, Decision, Outcome, Report
from autopilot.domain.service import FARGATE_PROVIDERS, Service, cluster_name
from autopilot.errors import NotFound
from autopilot.events.capacity import (
    AlarmStateChangeEvent,
    CapacityEvent,
    ServiceActionEvent,
    SpotInterruptionEvent,
)
from autopilot.execute import carry_out
from autopilot.flows.guards import guarded
from autopilot.logic import capacity as cap
from autopilot.logic import pause
from autopilot.record import Run, finish, open_run
from autopilot.settings import CapacityEventsSettings
from autopilot.store.capacity import asg_target, service_target
from autopilot.store.ledger import Ledger


class _Target(NamedTuple):
    """Where a change lands: the decision's subject, the cooldown key, and how to reach it."""

    subject: str
    key: str
    service_arn: str | None = None
    #: the service's cluster (its UpdateService names it)
    cluster_arn: str | None = None
    resource_id: str | None = None
    #: When the service was read (epoch seconds): the lease refuses if it changed since.
    observed_at: float | None = None


def run(
    event: CapacityEvent,
    settings: CapacityEventsSettings,
    aws: AwsClients,
    *,
    dry_run: bool = False,
    invocation: str | None = None,
) -> Report:
    """Handle one capacity event. With ``dry_run`` the plan is returned and nothing changes."""
    r = open_run(
        contract.CAPACITY_EVENTS.name, event, settings, aws, dry_run=dry_run, invocation=invocation
    )
    if r.report.duplicate:
        return r.report
    if r.foreign:
        _decide(
            r,
            event.resources[0] if event.resources else event.detail_type,
            Outcome.IGNORED,
            r.foreign,
        )
    elif isinstance(event, AlarmStateChangeEvent):
        _alarm(r, settings, event)
    elif isinstance(event, ServiceActionEvent):
        detail = event.detail
        if detail.cluster_arn not in settings.clusters:
            reason = "a service of a cluster the control plane does not manage"
            _decide(r, event.service_arn, Outcome.IGNORED, reason)
        elif detail.is_placement_failure:
            _placement_failure(r, settings, event)
        elif detail.is_steady_state:
            _steady_state(r, settings, event)
        else:
            reason = f"service action {detail.event_name[:64]} is not handled"
            _decide(r, event.service_arn, Outcome.IGNORED, reason)
    else:
        _spot_warning(r, settings, event)
    return finish(r, event.time)


def _decide(r: Run, subject: str, outcome: Outcome, reason: str, *, notify: bool = False) -> None:
    """A decision that changes nothing, made before any target is known."""
    carry_out(r, Plan(Decision(service=subject, outcome=outcome, reason=reason, notify=notify)))


# ---------------------------------------------------------------------------
# The facts
# ---------------------------------------------------------------------------
def _service(
    r: Run, cluster: str, service: str, *, scalable_target: bool = True
) -> tuple[Service, cap.ServiceState, _Target] | None:
    """The service (its ARN, or its name in ``cluster``) as the capacity logic sees it
    (with its scalable target, if asked)."""
    observed_at = r.ledger.leases.now()
    svc = ecs.describe_service(r.aws.ecs, cluster, service)
    if svc is None:
        return None
    resource_id = scaling.service_resource_id(cluster_name(cluster), svc.name)
    key = service_target(svc.arn)
    found = (
        scaling.scalable_target(r.aws.application_autoscaling, resource_id)
        if scalable_target
        else None
    )
    scalable = None
    if found is not None:
        scalable = cap.ScalableTargetState(
            min_capacity=found.min_capacity,
            max_capacity=found.max_capacity,
            recorded_original_min=r.ledger.capacity.original_min(key),
        )
    state = cap.ServiceState(
        name=svc.name,
        desired_count=svc.desired_count,
        scaling_tag=svc.tags.get(contract.TAG_SCALING),
        scalable_target=scalable,
        deployment_in_progress=svc.deployment_in_progress,
        deployment_alarms=svc.deployment_alarms,
        strategy=svc.strategy,
    )
    target = _Target(
        subject=svc.arn,
        key=key,
        service_arn=svc.arn,
        cluster_arn=cluster,
        resource_id=resource_id if found is not None else None,
        observed_at=observed_at,
    )
    return svc, state, target


def _asg(r: Run, name: str, managed: bool) -> cap.AsgState | None:
    found = scaling.describe_asgs(r.aws.autoscaling, [name])
    if not found:
        return None
    g = found[0]
    return cap.AsgState(
        name=g.name,
        min_size=g.min_size,
        max_size=g.max_size,
        desired=g.desired,
        managed_scaling=managed,
        recorded_original_min=r.ledger.capacity.original_min(asg_target(g.name)),
    )


def _asg_target(name: str) -> _Target:
    return _Target(subject=asg_target(name), key=asg_target(name))


# ---------------------------------------------------------------------------
# CloudWatch alarms
# ---------------------------------------------------------------------------
def _alarm(r: Run, settings: CapacityEventsSettings, event: AlarmStateChangeEvent) -> None:
    d = event.detail
    arn = next(
        (x for x in event.resources if ":alarm:" in x),
        cloudwatch.alarm_arn(event.region, event.account, d.alarm_name),
    )
    value = d.state.value
    if value not in ("ALARM", "OK"):
        _decide(r, arn, Outcome.UNCHANGED, f"alarm state {value} changes nothing")
        return
    read = _alarm_now(r, arn, d.alarm_name, value)
    if read is None:
        return
    arn, tags = read
    binding = cap.parse_alarm_tags(tags)
    if isinstance(binding, cap.TagError):
        if any(str(k).startswith(contract.TAG_PREFIX) for k in tags):
            reason = f"malformed alarm tag {binding.key}: {binding.reason}"
            _decide(r, arn, Outcome.REJECTED, reason, notify=True)
        else:
            _decide(r, arn, Outcome.IGNORED, f"{binding.reason}: it drives nothing")
        return
    loaded: cap.ServiceState | cap.AsgState | None = None
    loaded_svc: Service | None = None
    target: _Target | None = None
    bound = binding.target
    if isinstance(bound, cap.ServiceTarget):
        cluster, why_not = _target_cluster(bound, settings.clusters)
        if cluster is None:
            ambiguous = why_not.startswith("give")
            outcome = Outcome.REJECTED if ambiguous else Outcome.IGNORED
            _decide(r, arn, outcome, why_not, notify=ambiguous)
            return
        found = _service(r, cluster, bound.arn or bound.name)
        if found is not None:
            loaded_svc, loaded, target = found
    else:
        providers = [
            p
            for c in ecs.clusters_capacity(r.aws.ecs, settings.clusters).values()
            for p in c.providers
        ]
        if isinstance(bound, cap.CapacityProviderTarget):
            provider = next((p for p in providers if p.name == bound.name), None)
            name = provider.asg_name if provider else None
            managed = bool(provider and provider.managed_scaling)
        else:
            name = bound.name
            managed = any(p.asg_name == name and p.managed_scaling for p in providers)
        if name is not None:
            loaded = _asg(r, name, managed)
            target = _asg_target(name)
    if loaded is None or target is None:
        _decide(r, arn, Outcome.UNCHANGED, f"alarm target {_describe(bound)} not found")
        return
    last = r.ledger.capacity.last_change(target.key)
    decision = cap.decide_alarm(
        alarm_name=d.alarm_name,
        state=value,
        binding=binding,
        target=loaded,
        last_change_at=last.at if last else None,
        now=r.ledger.table.now(),
    )
    _carry_out(r, target, decision, last, binding.cooldown_seconds, svc=loaded_svc)


def _alarm_now(r: Run, arn: str, name: str, value: str) -> tuple[str, dict[str, Any]] | None:
    """The alarm's ARN and tags as CloudWatch holds them now, if it is in the state ``value``
    its event says; else None, decided (ignored, with the reason).

    Whether to act is the alarm's state in CloudWatch now, what it drives its tags there:
    never the event's ``state`` or ``alarmTags`` (whatever the sender wrote). An ALARM
    delivered after the alarm went back to OK is stale: its OK event follows or has come."""
    gone = "the alarm no longer exists: it drives nothing"
    now = cloudwatch.alarm_now(r.aws.cloudwatch, name)
    if now is None:
        _decide(r, arn, Outcome.IGNORED, gone)
        return None
    if now.state != value:
        _decide(
            r, now.arn, Outcome.IGNORED, f"the alarm is {now.state} now; the event said {value}"
        )
        return None
    try:
        return now.arn, dict(cloudwatch.alarm_tags(r.aws.cloudwatch, now.arn))
    except NotFound:
        _decide(r, now.arn, Outcome.IGNORED, gone)
        return None


def _target_cluster(target: cap.ServiceTarget, clusters: tuple[str, ...]) -> tuple[str | None, str]:
    """The managed cluster of an alarm's service target, or (None, why not)."""
    if target.arn is not None:
        cluster = ecs.managed_cluster_of(target.arn, clusters)
        return cluster, "" if cluster else f"{target.arn} is not in a managed cluster"
    if target.cluster is not None:
        cluster = next((c for c in clusters if cluster_name(c) == target.cluster), None)
        return cluster, "" if cluster else f"cluster {target.cluster} is not managed"
    if len(clusters) == 1:
        return clusters[0], ""
    return None, (
        f"give the service's ARN as autopilot:target, not its name {target.name}: "
        f"{len(clusters)} clusters are managed"
    )


def _describe(target: cap.Target) -> str:
    if isinstance(target, cap.ServiceTarget):
        return f"service {target.name}"
    if isinstance(target, cap.AsgTarget):
        return f"Auto Scaling group {target.name}"
    return f"capacity provider {target.name}"


# ---------------------------------------------------------------------------
# Placement failures and steady states
# ---------------------------------------------------------------------------
def _placement_failure(r: Run, settings: CapacityEventsSettings, event: ServiceActionEvent) -> None:
    reason = event.detail.reason
    if reason not in (cap.REASON_CPU, cap.REASON_MEMORY, cap.REASON_FARGATE):
        shown = (reason or "none")[:64]
        _decide(r, event.service_arn, Outcome.UNCHANGED, f"placement failure {shown} not handled")
        return
    # Placement failures never move the service's own count: no scalable target to read.
    found = _service(r, event.detail.cluster_arn, event.service_arn, scalable_target=False)
    if found is None:
        _decide(r, event.service_arn, Outcome.IGNORED, "service is not active")
        return
    svc, service, target = found
    cooldown = settings.capacity_cooldown_seconds
    now = r.ledger.table.now()
    if reason == cap.REASON_FARGATE:
        if not r.dry_run:
            r.ledger.spot.record_failure(svc.arn)
        decision = cap.decide_placement_failure(
            reason=reason,
            service=service,
            asg=None,
            last_change_at=None,
            cooldown_seconds=cooldown,
            now=now,
        )
        _carry_out(r, target, decision, None, cooldown, svc=svc)
        return
    asg: cap.AsgState | None = None
    last: LastChange | None = None
    asg_key = target
    name, managed = _service_asg(r, settings, svc, event)
    if name is not None:
        asg = _asg(r, name, managed)
        asg_key = _Target(subject=svc.arn, key=asg_target(name))
        last = r.ledger.capacity.last_change(asg_key.key)
    decision = cap.decide_placement_failure(
        reason=reason,
        service=service,
        asg=asg,
        last_change_at=last.at if last else None,
        cooldown_seconds=cooldown,
        now=now,
    )
    _carry_out(r, asg_key, decision, last, cooldown)


def _service_asg(
    r: Run, settings: CapacityEventsSettings, svc: Service, event: ServiceActionEvent
) -> tuple[str | None, bool]:
    """The ASG behind the service's EC2 capacity: the event's providers, else the service's
    strategy, else the cluster's default strategy, else (launch type EC2) the cluster's."""
    capacity = ecs.cluster_capacity(r.aws.ecs, svc.cluster_arn)
    named = [a.rsplit("/", 1)[-1] for a in event.detail.capacity_provider_arns or ()]
    candidates = (
        [n for n in named if n not in FARGATE_PROVIDERS]
        or list(svc.ec2_providers)
        or list(capacity.ec2_default_providers())
        or [p.name for p in capacity.providers]
    )
    for name in candidates:
        provider = capacity.provider(name)
        if provider is not None and provider.asg_name:
            return provider.asg_name, provider.managed_scaling
    return None, False


def _steady_state(r: Run, settings: CapacityEventsSettings, event: ServiceActionEvent) -> None:
    shift = r.ledger.spot.shift(event.service_arn)
    if shift is None:
        _decide(r, event.service_arn, Outcome.UNCHANGED, "no Fargate Spot fallback to undo")
        return
    found = _service(r, event.detail.cluster_arn, event.service_arn, scalable_target=False)
    if found is None:
        _decide(r, event.service_arn, Outcome.IGNORED, "service is not active")
        return
    svc, service, target = found
    decision = cap.decide_steady_state(
        service=service,
        shift=shift,
        last_failure_at=r.ledger.spot.last_failure(event.service_arn),
        calm_seconds=settings.spot_calm_seconds,
        now=r.ledger.table.now(),
    )
    _carry_out(r, target, decision, None, settings.capacity_cooldown_seconds, svc=svc)


# ---------------------------------------------------------------------------
# Spot interruption warnings
# ---------------------------------------------------------------------------
def _spot_warning(r: Run, settings: CapacityEventsSettings, event: SpotInterruptionEvent) -> None:
    instance = event.detail.instance_id
    partition = _partition(event.resources, settings.clusters[0])
    subject = f"arn:{partition}:ec2:{event.region}:{event.account}:instance/{instance}"
    name = scaling.asg_of_instance(r.aws.autoscaling, instance)
    if name is None:
        _decide(r, subject, Outcome.IGNORED, "the instance is in no Auto Scaling group")
        return
    capacities = ecs.clusters_capacity(r.aws.ecs, settings.clusters)
    providers = [p for c in capacities.values() for p in c.providers]
    provider = next((p for p in providers if p.asg_name == name), None)
    if provider is None:
        reason = f"Auto Scaling group {name} is not behind a capacity provider of a managed cluster"
        _decide(r, subject, Outcome.IGNORED, reason)
        return
    target = _asg_target(name)
    last = r.ledger.capacity.last_change(target.key)
    decision = cap.decide_spot_interruption(
        asg=_asg(r, name, provider.managed_scaling),
        last_change_at=last.at if last else None,
        cooldown_seconds=settings.capacity_cooldown_seconds,
        now=r.ledger.table.now(),
    )
    _carry_out(r, target, decision, last, settings.capacity_cooldown_seconds)


def _partition(resources: Sequence[str], fallback_arn: str) -> str:
    """The partition (aws, aws-cn, aws-us-gov...) of the event's own ARNs, else of
    ``fallback_arn`` (the cluster's); the Spot warning's ``resources`` is
    ``arn:<partition>:ec2:<az>:instance/<id>``."""
    for arn in (*resources, fallback_arn):
        parts = arn.split(":", 2)
        if len(parts) == 3 and parts[0] == "arn" and parts[1].startswith("aws"):
            return parts[1]
    return "aws"


# ---------------------------------------------------------------------------
# Plan -> the actor
# ---------------------------------------------------------------------------
def _carry_out(
    r: Run,
    target: _Target,
    decision: cap.Decision,
    last: LastChange | None,
    cooldown_seconds: int,
    *,
    svc: Service | None = None,
) -> None:
    """The capacity decision as the actor carries it out: held if its service is paused,
    refused if the change is to a service ECS does not deploy (``flows.guards``)."""
    outcome, reason = cap.outcome(decision)
    recorded = Decision(
        service=target.subject,
        outcome=outcome,
        reason=reason,
        notify=not isinstance(decision, cap.NoChange),
    )
    plan = Plan(recorded)
    if not isinstance(decision, cap.NoChange):
        step = _step(r.ledger, target, decision, last, cooldown_seconds)
        # Only a change to the service itself takes its lease (ASG-wide changes are no one's).
        leased = step.action.api == "ecs:UpdateService" and target.service_arn is not None
        plan = Plan(
            recorded,
            steps=(step,),
            lease=target.service_arn if leased else None,
            observed_at=target.observed_at,
        )
    service = target.service_arn or (target.subject if ":service/" in target.subject else None)
    paused = service is not None and r.ledger.pauses.get(service) is not None
    if svc is not None and target.service_arn is not None:
        carry_out(r, guarded(r, svc, plan, paused=paused))
    else:
        carry_out(r, pause.hold(plan, paused))


def _step(
    ledger: Ledger,
    target: _Target,
    decision: cap.Change | cap.StrategyShift,
    last: LastChange | None,
    cooldown_seconds: int,
) -> Step:
    """One change through the owner of its number, with its ledger writes: the cooldown
    claim (a change of a number; given back if the call fails), the original floor kept
    before a raise, and after the call the floor forgotten or the Spot fallback recorded."""
    if isinstance(decision, cap.StrategyShift):
        assert target.service_arn is not None
        assert target.cluster_arn is not None
        params = ecs.strategy_update_params(target.cluster_arn, target.service_arn, decision.new)
        action = Action(api="ecs:UpdateService", params=params, service=target.subject)
        spot = ledger.spot
        after = (
            Write(
                "record the Spot fallback",
                partial(spot.record_shift, target.service_arn, decision.old, decision.new),
            )
            if decision.record_original
            else Write("forget the Spot fallback", partial(spot.clear_shift, target.service_arn))
        )
        return Step(action, then=(after,))
    caps = ledger.capacity
    _, reason = cap.outcome(decision)
    claim = partial(
        caps.claim_change, target.key, last, reason[:200], keep_seconds=cooldown_seconds
    )
    before: tuple[Write, ...] = ()
    if decision.record_original is not None:
        keep = partial(caps.record_original_min, target.key, decision.record_original)
        before = (Write("keep the original floor", keep),)
    then: tuple[Write, ...] = ()
    if decision.clear_original:
        then = (Write("forget the original floor", partial(caps.clear_original_min, target.key)),)
    return Step(
        _change_action(target, decision),
        guard=Write("claim the cooldown", claim),
        guard_lost="another change to the target was just made (cooldown)",
        before=before,
        then=then,
        undo=(Write("give the cooldown back", partial(caps.restore_change, target.key, last)),),
    )


def _change_action(target: _Target, change: cap.Change) -> Action:
    """The call through the owner of the number ``change`` moves."""
    owner, subject = change.owner, target.subject
    if owner is cap.Owner.SCALABLE_TARGET_MIN:
        assert target.resource_id is not None
        params = scaling.scalable_target_min_params(target.resource_id, change.new)
        return Action(
            api="application-autoscaling:RegisterScalableTarget", params=params, service=subject
        )
    if owner is cap.Owner.SERVICE_DESIRED_COUNT:
        assert target.service_arn is not None
        assert target.cluster_arn is not None
        params = ecs.desired_count_params(target.cluster_arn, target.service_arn, change.new)
        return Action(api="ecs:UpdateService", params=params, service=subject)
    if owner is cap.Owner.ASG_DESIRED:
        params = scaling.desired_capacity_params(change.target, change.new)
        return Action(api="autoscaling:SetDesiredCapacity", params=params, service=subject)
    params = scaling.min_size_params(change.target, change.new)
    return Action(api="autoscaling:UpdateAutoScalingGroup", params=params, service=subject)
