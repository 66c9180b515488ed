"""capacity-events: alarms, placement failures and Spot warnings -> bounded scaling.

parse -> (duplicate on event id) -> load (the alarm's tags from the event or CloudWatch;
the target service, its scalable target, or the ASG behind a capacity provider; the
cooldown, recorded floors and Fargate Spot fallback from the ledger) -> decide
(``logic.capacity``) -> act through the owner of the number -> record (ledger, notices).

Who each change goes through (never fight the mechanism that owns a number):

================================  ==================================  =========================
signal                            action                              owner (API)
================================  ==================================  =========================
alarm ALARM, service target with  MinCapacity to desired + step       application-autoscaling:
a scalable target                 (original recorded)                 RegisterScalableTarget
alarm OK, same                    MinCapacity back to the original    same
alarm ALARM, service target       desiredCount + step (within         ecs:UpdateService
without a scalable target         autopilot:scaling)                  desiredCount
alarm ALARM, ASG / capacity       MinSize raised (original            autoscaling:UpdateAuto-
provider under managed scaling    recorded); OK: MinSize back         ScalingGroup MinSize
alarm ALARM, plain ASG /          DesiredCapacity + step              autoscaling:
capacity provider                                                     SetDesiredCapacity
placement failure RESOURCE:CPU /  the provider's ASG + 1 (managed     SetDesiredCapacity /
MEMORY on EC2 capacity            scaling: its MinSize)               UpdateAutoScalingGroup
placement failure                 FARGATE_SPOT -> FARGATE             ecs:UpdateService
RESOURCE:FARGATE, Fargate Spot    (original recorded)                 capacityProviderStrategy,
                                                                      forceNewDeployment (ECS
                                                                      requires it)
SERVICE_STEADY_STATE after the    back to the recorded strategy       same
calm period
Spot interruption warning (the    the instance's ASG + 1 (managed     SetDesiredCapacity /
cluster's ASGs only)              scaling: its MinSize)               UpdateAutoScalingGroup
================================  ==================================  =========================

``run`` is the whole of it; ``handler`` is the Lambda entry.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aws_lambda_powertools.logging import correlation_paths

from autopilot import contract
from autopilot.adapters import ecs_tasks, scaling
from autopilot.adapters.clients import AwsClients, get_clients
from autopilot.adapters.ledger import Ledger
from autopilot.adapters.reaction_state import (
    LastChange,
    ReactionState,
    asg_target,
    service_target,
)
from autopilot.contract import CAPACITY_EVENTS
from autopilot.errors import AwsCallFailed, LeaseBusy, NotFound
from autopilot.handlers.common import finish, lambda_entry, open_report
from autopilot.logic import capacity as cap
from autopilot.models.capacity_events import (
    AlarmStateChangeEvent,
    ServiceActionEvent,
    SpotInterruptionEvent,
)
from autopilot.models.parse import validate_event
from autopilot.models.report import Action, Decision, Outcome, Report
from autopilot.observability import logger, metrics, tracer
from autopilot.settings import CapacityEventsSettings, get_settings

CapacityEvent = AlarmStateChangeEvent | ServiceActionEvent | SpotInterruptionEvent
MODELS: dict[str, type[AlarmStateChangeEvent | ServiceActionEvent | SpotInterruptionEvent]] = {
    contract.DT_ALARM: AlarmStateChangeEvent,
    contract.DT_ECS_SERVICE_ACTION: ServiceActionEvent,
    contract.DT_SPOT_WARNING: SpotInterruptionEvent,
}


def parse_capacity_event(event: Any) -> CapacityEvent:
    return validate_event(MODELS, event)


@dataclass
class _Run:
    report: Report
    ledger: Ledger
    state: ReactionState
    aws: AwsClients
    settings: CapacityEventsSettings
    now: datetime

    def decide(
        self, subject: str, outcome: Outcome, reason: str, *, notify: bool = False
    ) -> Decision:
        decision = Decision(service=subject, outcome=outcome, reason=reason, notify=notify)
        self.report.decisions.append(decision)
        return decision

    @property
    def cluster(self) -> str:
        return self.settings.cluster_arn


@dataclass(frozen=True)
class _Target:
    """Where a change lands: the decision's subject, the cooldown key, and how to reach it."""

    subject: str
    key: str
    service_arn: str | None = None
    resource_id: str | None = None
    asg: str | None = None
    #: When the service was read (epoch seconds): the lease refuses if it changed since.
    observed_at: float | None = None


def run(event: dict[str, Any], *, dry_run: bool = False, aws: AwsClients | None = None) -> Report:
    """Handle one capacity event. With ``dry_run`` the plan is returned and nothing changes."""
    parsed = parse_capacity_event(event)
    settings = get_settings(CapacityEventsSettings)
    aws = aws or get_clients()
    ledger = Ledger(aws.dynamodb, settings.ledger_table)
    report, seen = open_report(
        CAPACITY_EVENTS.name, parsed.id, parsed.detail_type, ledger, dry_run=dry_run
    )
    if seen is not None:
        return seen
    state = ReactionState(aws.dynamodb, settings.ledger_table)
    ctx = _Run(report, ledger, state, aws, settings, state.now())
    if isinstance(parsed, AlarmStateChangeEvent):
        _alarm(ctx, parsed)
    elif isinstance(parsed, ServiceActionEvent):
        detail = parsed.detail
        if detail.cluster_arn != settings.cluster_arn:
            ctx.decide(parsed.service_arn, Outcome.IGNORED, "service of another cluster")
        elif detail.is_placement_failure:
            _placement_failure(ctx, parsed)
        elif detail.is_steady_state:
            _steady_state(ctx, parsed)
        else:
            reason = f"service action {detail.event_name[:64]} is not handled"
            ctx.decide(parsed.service_arn, Outcome.IGNORED, reason)
    else:
        _spot_warning(ctx, parsed)
    return finish(
        report, ledger=ledger, aws=aws, topic_arn=settings.notices_topic_arn, event_time=parsed.time
    )


# ---------------------------------------------------------------------------
# Loading state
# ---------------------------------------------------------------------------
def _service_state(
    ctx: _Run, service: str, *, scalable_target: bool = True
) -> tuple[ecs_tasks.ServiceDetails, cap.ServiceState, _Target] | None:
    """The service as the capacity logic sees it (with its scalable target, if asked)."""
    observed_at = time.time()
    svc = ecs_tasks.describe_service(ctx.aws.ecs, ctx.cluster, service)
    if svc is None:
        return None
    resource_id = scaling.service_resource_id(ecs_tasks.cluster_name(ctx.cluster), svc.name)
    key = service_target(svc.arn)
    found = (
        scaling.scalable_target(ctx.aws.application_autoscaling, resource_id)
        if scalable_target
        else None
    )
    scalable = None
    if found is not None:
        scalable = cap.ScalableTargetState(
            min_capacity=found.min_capacity,
            max_capacity=found.max_capacity,
            recorded_original_min=ctx.state.original_min(key),
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
        resource_id=resource_id if found is not None else None,
        observed_at=observed_at,
    )
    return svc, state, target


def _asg_state(ctx: _Run, name: str, managed: bool) -> cap.AsgState | None:
    found = scaling.describe_asgs(ctx.aws.autoscaling, [name])
    if not found:
        return None
    g = found[0]
    return cap.AsgState(
        name=g.name,
        min_size=g.min_size,
        max_size=g.max_size,
        desired=g.desired,
        managed_scaling=managed,
        recorded_original_min=ctx.state.original_min(asg_target(g.name)),
    )


def _asg_target(name: str) -> _Target:
    return _Target(subject=asg_target(name), key=asg_target(name), asg=name)


# ---------------------------------------------------------------------------
# CloudWatch alarms (issue 6, items 2-3)
# ---------------------------------------------------------------------------
def _alarm(ctx: _Run, event: AlarmStateChangeEvent) -> None:
    d = event.detail
    arn = next(
        (r for r in event.resources if ":alarm:" in r),
        scaling.alarm_arn(event.region, event.account, d.alarm_name),
    )
    if d.alarm_tags is not None:
        tags: dict[str, Any] = dict(d.alarm_tags)
    else:
        try:
            tags = scaling.alarm_tags(ctx.aws.cloudwatch, arn)
        except NotFound:
            ctx.decide(arn, Outcome.IGNORED, "the alarm no longer exists: it drives nothing")
            return
    binding = cap.parse_alarm_tags(tags)
    if isinstance(binding, cap.TagError):
        ours = any(str(k).startswith(contract.TAG_PREFIX) for k in tags)
        if ours:
            reason = f"malformed alarm tag {binding.key}: {binding.reason}"
            ctx.decide(arn, Outcome.REJECTED, reason, notify=True)
        else:
            ctx.decide(arn, Outcome.IGNORED, f"{binding.reason}: it drives nothing")
        return
    value = d.state.value
    if value not in ("ALARM", "OK"):
        ctx.decide(arn, Outcome.UNCHANGED, f"alarm state {value} changes nothing")
        return
    loaded: cap.ServiceState | cap.AsgState | None = None
    target: _Target | None = None
    bound = binding.target
    if isinstance(bound, cap.ServiceTarget):
        if bound.cluster and bound.cluster != ecs_tasks.cluster_name(ctx.cluster):
            ctx.decide(arn, Outcome.IGNORED, f"target service is in cluster {bound.cluster}")
            return
        found = _service_state(ctx, bound.arn or bound.name)
        if found is not None:
            _svc, loaded, target = found
    else:
        capacity = ecs_tasks.cluster_capacity(ctx.aws.ecs, ctx.cluster)
        if isinstance(bound, cap.CapacityProviderTarget):
            provider = capacity.provider(bound.name)
            name = provider.asg_name if provider else None
            managed = bool(provider and provider.managed_scaling)
        else:
            name = bound.name
            managed = any(p.asg_name == name and p.managed_scaling for p in capacity.providers)
        if name is not None:
            loaded = _asg_state(ctx, name, managed)
            target = _asg_target(name)
    if loaded is None or target is None:
        ctx.decide(arn, Outcome.UNCHANGED, f"alarm target {_describe_target(bound)} not found")
        return
    last = ctx.state.last_change(target.key)
    decision = cap.decide_alarm(
        alarm_name=d.alarm_name,
        state=value,
        binding=binding,
        target=loaded,
        last_change_at=last.at if last else None,
        now=ctx.now,
    )
    _apply(ctx, target, decision, last, binding.cooldown_seconds)


def _describe_target(target: cap.Target) -> str:
    if isinstance(target, cap.ServiceTarget):
        return f"service {target.name}"
    if isinstance(target, cap.AsgTarget):
        return f"Auto Scaling group {target.name}"
    return f"capacity provider {target.name}"


# ---------------------------------------------------------------------------
# Placement failures and steady states (issue 6, item 4)
# ---------------------------------------------------------------------------
def _placement_failure(ctx: _Run, event: ServiceActionEvent) -> None:
    reason = event.detail.reason
    if reason not in (cap.REASON_CPU, cap.REASON_MEMORY, cap.REASON_FARGATE):
        shown = (reason or "none")[:64]
        ctx.decide(event.service_arn, Outcome.UNCHANGED, f"placement failure {shown} not handled")
        return
    # Placement failures never move the service's own count: no scalable target to read.
    found = _service_state(ctx, event.service_arn, scalable_target=False)
    if found is None:
        ctx.decide(event.service_arn, Outcome.IGNORED, "service is not active")
        return
    svc, service, target = found
    if reason == cap.REASON_FARGATE:
        if not ctx.report.dry_run:
            ctx.state.record_spot_failure(svc.arn)
        decision = cap.decide_placement_failure(
            reason=reason,
            service=service,
            asg=None,
            last_change_at=None,
            cooldown_seconds=ctx.settings.capacity_cooldown_seconds,
            now=ctx.now,
        )
        _apply(ctx, target, decision, None, ctx.settings.capacity_cooldown_seconds)
        return
    asg: cap.AsgState | None = None
    last: LastChange | None = None
    asg_key = target
    if reason in (cap.REASON_CPU, cap.REASON_MEMORY):
        name, managed = _service_asg(ctx, svc, event)
        if name is not None:
            asg = _asg_state(ctx, name, managed)
            asg_key = _Target(subject=svc.arn, key=asg_target(name), asg=name)
            last = ctx.state.last_change(asg_key.key)
    decision = cap.decide_placement_failure(
        reason=reason,
        service=service,
        asg=asg,
        last_change_at=last.at if last else None,
        cooldown_seconds=ctx.settings.capacity_cooldown_seconds,
        now=ctx.now,
    )
    _apply(ctx, asg_key, decision, last, ctx.settings.capacity_cooldown_seconds)


def _service_asg(
    ctx: _Run, svc: ecs_tasks.ServiceDetails, event: ServiceActionEvent
) -> tuple[str | None, bool]:
    """The ASG behind the service's EC2 capacity: the event's providers, else the service's
    strategy, else the cluster's default strategy, else (launch type EC2) the cluster's."""
    capacity = ecs_tasks.cluster_capacity(ctx.aws.ecs, ctx.cluster)
    named = [a.rsplit("/", 1)[-1] for a in event.detail.capacity_provider_arns or ()]
    candidates = (
        [n for n in named if n not in ecs_tasks.FARGATE_PROVIDERS]
        or list(svc.ec2_providers)
        or [
            i.capacity_provider
            for i in capacity.default_strategy
            if i.capacity_provider not in ecs_tasks.FARGATE_PROVIDERS
        ]
        or [p.name for p in capacity.providers]
    )
    for name in candidates:
        provider = capacity.provider(name)
        if provider is not None and provider.asg_name:
            return provider.asg_name, provider.managed_scaling
    return None, False


def _steady_state(ctx: _Run, event: ServiceActionEvent) -> None:
    shift = ctx.state.spot_shift(event.service_arn)
    if shift is None:
        ctx.decide(event.service_arn, Outcome.UNCHANGED, "no Fargate Spot fallback to undo")
        return
    found = _service_state(ctx, event.service_arn, scalable_target=False)
    if found is None:
        ctx.decide(event.service_arn, Outcome.IGNORED, "service is not active")
        return
    _svc, service, target = found
    decision = cap.decide_steady_state(
        service=service,
        shift=shift,
        last_failure_at=ctx.state.last_spot_failure(event.service_arn),
        calm_seconds=ctx.settings.spot_calm_seconds,
        now=ctx.now,
    )
    _apply(ctx, target, decision, None, ctx.settings.capacity_cooldown_seconds)


# ---------------------------------------------------------------------------
# Spot interruption warnings (issue 6, item 5)
# ---------------------------------------------------------------------------
def _spot_warning(ctx: _Run, event: SpotInterruptionEvent) -> None:
    instance = event.detail.instance_id
    partition = _partition(event.resources, ctx.cluster)
    subject = f"arn:{partition}:ec2:{event.region}:{event.account}:instance/{instance}"
    name = scaling.asg_of_instance(ctx.aws.autoscaling, instance)
    if name is None:
        ctx.decide(subject, Outcome.IGNORED, "the instance is in no Auto Scaling group")
        return
    capacity = ecs_tasks.cluster_capacity(ctx.aws.ecs, ctx.cluster)
    provider = next((p for p in capacity.providers if p.asg_name == name), None)
    if provider is None:
        reason = f"Auto Scaling group {name} is not behind one of the cluster's capacity providers"
        ctx.decide(subject, Outcome.IGNORED, reason)
        return
    asg = _asg_state(ctx, name, provider.managed_scaling)
    target = _asg_target(name)
    last = ctx.state.last_change(target.key)
    decision = cap.decide_spot_interruption(
        asg=asg,
        last_change_at=last.at if last else None,
        cooldown_seconds=ctx.settings.capacity_cooldown_seconds,
        now=ctx.now,
    )
    _apply(ctx, target, decision, last, ctx.settings.capacity_cooldown_seconds)


# ---------------------------------------------------------------------------
# Acting through the owner
# ---------------------------------------------------------------------------
def _partition(resources: Sequence[str], fallback_arn: str) -> str:
    """The partition (aws, aws-cn, aws-us-gov...) of the event's own ARNs, else of
    ``fallback_arn`` (the cluster's); the Spot warning's ``resources`` is
    ``arn:<partition>:ec2:<az>:instance/<id>``."""
    for arn in (*resources, fallback_arn):
        parts = arn.split(":", 2)
        if len(parts) == 3 and parts[0] == "arn" and parts[1].startswith("aws"):
            return parts[1]
    return "aws"


def _change_action(ctx: _Run, target: _Target, change: cap.Change) -> Action:
    owner = change.owner
    if owner is cap.Owner.SCALABLE_TARGET_MIN:
        assert target.resource_id is not None
        params = scaling.scalable_target_min_params(target.resource_id, change.new)
        api = "application-autoscaling:RegisterScalableTarget"
    elif owner is cap.Owner.SERVICE_DESIRED_COUNT:
        assert target.service_arn is not None
        params = ecs_tasks.desired_count_params(ctx.cluster, target.service_arn, change.new)
        api = "ecs:UpdateService"
    elif owner is cap.Owner.ASG_DESIRED:
        params = scaling.desired_capacity_params(change.target, change.new)
        api = "autoscaling:SetDesiredCapacity"
    else:
        params = scaling.min_size_params(change.target, change.new)
        api = "autoscaling:UpdateAutoScalingGroup"
    return Action(api=api, params=params, service=target.subject)


def _perform(ctx: _Run, action: Action) -> None:
    aws, p = ctx.aws, action.params
    if action.api == "application-autoscaling:RegisterScalableTarget":
        scaling.set_scalable_target_min(aws.application_autoscaling, p)
    elif action.api == "ecs:UpdateService":
        action.result = ecs_tasks.update_service(aws.ecs, p)
    elif action.api == "autoscaling:SetDesiredCapacity":
        scaling.set_desired_capacity(aws.autoscaling, p)
    else:
        scaling.update_min_size(aws.autoscaling, p)


def _apply(
    ctx: _Run,
    target: _Target,
    decision: cap.Decision,
    last: LastChange | None,
    cooldown_seconds: int,
) -> None:
    if isinstance(decision, cap.NoChange):
        if _paused(ctx, target):
            # `autopilot pause` holds every reaction for the service, even one that would
            # change nothing now: recorded as paused
            ctx.decide(target.subject, Outcome.PAUSED, f"service is paused: {decision.reason}")
            return
        outcome = Outcome.DEFERRED if decision.retry_at else Outcome.UNCHANGED
        reason = decision.reason
        if decision.retry_at:
            reason += f" (until {decision.retry_at.isoformat()})"
        ctx.decide(target.subject, outcome, reason)
        return
    if isinstance(decision, cap.StrategyShift):
        assert target.service_arn is not None
        params = ecs_tasks.strategy_update_params(ctx.cluster, target.service_arn, decision.new)
        action = Action(api="ecs:UpdateService", params=params, service=target.subject)
        outcome = Outcome.FALLBACK if decision.record_original else Outcome.RESTORED
        shown = ", ".join(f"{i.capacity_provider}:{i.weight}/{i.base}" for i in decision.new)
        reason = f"{decision.reason}: capacity provider strategy to {shown}"
    else:
        action = _change_action(ctx, target, decision)
        outcome = Outcome.RESTORED if decision.clear_original else Outcome.SCALED
        b = decision.bounds
        reason = (
            f"{decision.reason}: {decision.owner.value} {decision.old} -> {decision.new}"
            f" (bounds {b.low}-{b.high} from {b.source})"
        )
    if _paused(ctx, target):
        # `autopilot pause`: recorded, not acted on (the pause itself was announced)
        ctx.decide(target.subject, Outcome.PAUSED, f"service is paused, held: {reason}")
        return
    made = ctx.decide(target.subject, outcome, reason, notify=True)
    ctx.report.actions.append(action)
    if ctx.report.dry_run:
        return
    holder = f"{ctx.report.function}:{ctx.report.event_id}"
    leased = action.api == "ecs:UpdateService" and target.service_arn is not None
    if leased:
        assert target.service_arn is not None
        try:
            ctx.ledger.acquire_lease(
                target.service_arn,
                holder,
                ctx.settings.lease_seconds,
                unchanged_since=target.observed_at,
            )
        except LeaseBusy as exc:
            made.outcome, made.notify = Outcome.BUSY, False
            made.reason = f"another change to the service is in flight ({exc.holder}); retried"
            ctx.report.actions.remove(action)
            ctx.report.retry_services.append(target.service_arn)
            return
    try:
        _claim_and_perform(ctx, target, decision, last, cooldown_seconds, action, made)
    finally:
        if leased:
            assert target.service_arn is not None
            ctx.ledger.release_lease(target.service_arn, holder, changed=action.done)


def _paused(ctx: _Run, target: _Target) -> bool:
    """Whether the service this change is for is paused (ASG-wide changes are no one's)."""
    service = target.service_arn or (target.subject if ":service/" in target.subject else None)
    return service is not None and ctx.ledger.get_paused(service) is not None


def _claim_and_perform(  # noqa: PLR0917 - internal step of _apply()
    ctx: _Run,
    target: _Target,
    decision: cap.Change | cap.StrategyShift,
    last: LastChange | None,
    cooldown_seconds: int,
    action: Action,
    made: Decision,
) -> None:
    state = ctx.state
    if isinstance(decision, cap.Change) and not state.claim_change(
        target.key, last, made.reason[:200], keep_seconds=cooldown_seconds
    ):
        made.outcome, made.notify = Outcome.DEFERRED, False
        made.reason = "another change to the target was just made (cooldown)"
        ctx.report.actions.remove(action)
        return
    if isinstance(decision, cap.Change) and decision.record_original is not None:
        state.record_original_min(target.key, decision.record_original)
    try:
        _perform(ctx, action)
        action.done = True
    except AwsCallFailed as exc:
        action.error = f"{exc.code}: {exc.aws_message}"
        made.outcome = Outcome.FAILED
        made.reason = f"{exc.api} failed: {exc.code}; {made.reason}"
        logger.warning("capacity change failed", target=target.subject, api=exc.api, code=exc.code)
        return
    if isinstance(decision, cap.Change):
        if decision.clear_original:
            state.clear_original_min(target.key)
    elif target.service_arn is not None:
        if decision.record_original:
            state.record_spot_shift(target.service_arn, decision.old, decision.new)
        else:
            state.clear_spot_shift(target.service_arn)
    logger.info("capacity change", target=target.subject, api=action.api, params=action.params)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.EVENT_BRIDGE)
@metrics.log_metrics(capture_cold_start_metric=True)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Lambda entry. Invalid input raises ``InvalidEvent`` (retries, then the DLQ, keep it)."""
    return lambda_entry(event, run, CapacityEventsSettings)
