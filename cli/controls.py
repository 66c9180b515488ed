"""Operator controls: approve, reject, rollback, pause, resume, status and history, as plain
functions over ``AwsClients`` and the ledger. The CLI (``cli.main``) calls them against a real
account or the sandbox; tests call them against moto. They are not part of the Lambda
asset: no function calls them.

Every control is recorded in the ledger as a decision of function ``operator`` (with its
reason and who gave it) and real changes are announced on the notices topic, exactly as
the functions' own decisions are (``autopilot.record.finish``).

- ``approve``: a pending (or approved, not yet running) digest deploys through image-events'
  own deploy path (``autopilot.flows.image.deploy``), re-checked at that moment:
  newest the policy takes (no newer image that may deploy), scan passed, not quarantined,
  not paused, not rejected. The pending -> approved move is a conditional write, and the
  deploy takes the service's lease refusing a service changed since it was read: approving
  twice (even at once) deploys once. A digest no longer eligible is recorded as such and
  its approval closed ("ineligible"); paused or awaiting a scan leaves it pending.
- ``reject``: pending -> rejected; the digest never deploys to the service by approval.
- An approval past its expiry is recorded as "expired" when approve, reject or status
  meets it (image-events treats it as not pending: the next event asks again).
- ``rollback``: the service back to its last known good (or a digest the ledger records it
  ran) through the rollback deployment-events and crash loops make
  (``autopilot.flows.rollback.rollback_plan``: under the service's lease,
  StopServiceDeployment ROLLBACK while ECS still rolls the revision out, else UpdateService;
  the deploy record); the digest rolled back from is quarantined only when asked.
- ``pause`` / ``resume``: ``STATE#PAUSED``; every reaction (image, zone, capacity, rollback)
  is recorded as ``paused`` and not acted on. The ECS service itself is not touched.
"""

from __future__ import annotations

import re
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from autopilot import contract
from autopilot.aws import ecr, ecs
from autopilot.aws.clients import AwsClients
from autopilot.domain.images import Candidate, ecr_registry, parse_image, tracked_container
from autopilot.domain.plan import Plan, Retry, Step
from autopilot.domain.records import ApprovalRecord, iso
from autopilot.domain.report import Action, Decision, Outcome, Report
from autopilot.domain.service import (
    DeploymentDetail,
    LifecycleHook,
    Service,
    ServiceRevision,
    cluster_name,
    service_arn_of,
)
from autopilot.errors import AutopilotError, AwsCallFailed, MalformedTag
from autopilot.execute import carry_out
from autopilot.flows import image
from autopilot.flows.guards import guarded
from autopilot.flows.rollback import rollback_plan
from autopilot.logic import image_plan, traffic_approval
from autopilot.logic.deployment_plan import DeploymentFacts, DeploymentPlan
from autopilot.logic.policy import NO_FLOORS, Floors, ServiceConfig, service_config
from autopilot.record import Run, finish, invocation_id
from autopilot.settings import ImageEventsSettings
from autopilot.store.ledger import Ledger

from cli.output import warning_line

FUNCTION = "operator"
#: how long an approval an approve asks for would stay pending (it asks for none)
_APPROVAL_TTL_HOURS: int = ImageEventsSettings.model_fields["approval_ttl_hours"].default
#: outcomes that leave an approval pending (they pass): anything else closes it
_PASSING = frozenset({Outcome.PAUSED, Outcome.AWAITING_SCAN, Outcome.BUSY})


class OperatorError(AutopilotError):
    """The request names nothing that can be acted on (unknown service, no such approval)."""


@dataclass(frozen=True)
class Target:
    """Where the controls act: the ledger table, the managed clusters and the notices topic.

    ``cluster_arns`` are the managed clusters; ``cluster_arn`` (one cluster, as callers
    that know only one name it) is the first of them. ``floors``: the config's floors under
    the scan and approval tags, which image-events applies too (default: none)."""

    table: str
    cluster_arn: str = ""
    topic_arn: str | None = None
    lease_seconds: int = 300
    cluster_arns: tuple[str, ...] = ()
    floors: Floors = NO_FLOORS

    def __post_init__(self) -> None:
        clusters = tuple(
            dict.fromkeys(self.cluster_arns or ((self.cluster_arn,) if self.cluster_arn else ()))
        )
        if not clusters:
            raise ValueError("a Target needs at least one cluster")
        object.__setattr__(self, "cluster_arns", clusters)
        object.__setattr__(self, "cluster_arn", self.cluster_arn or clusters[0])

    def cluster(self, name_or_arn: str) -> str | None:
        """The managed cluster with this name or ARN (None: not managed)."""
        return next((c for c in self.cluster_arns if name_or_arn in (c, cluster_name(c))), None)


@dataclass
class Result:
    """What a control did: ``ok`` (done, or nothing needed doing), ``changed``, one line."""

    action: str
    service: str
    ok: bool
    changed: bool
    message: str
    report: Report | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "service": self.service,
            "ok": self.ok,
            "changed": self.changed,
            "message": self.message,
            **self.details,
            "report": self.report.to_json() if self.report else None,
        }


# --------------------------------------------------------------------------- helpers
class _Ctx:
    def __init__(self, aws: AwsClients, target: Target, clock: Any) -> None:
        self.aws, self.target, self.clock = aws, target, clock
        self.ledger = Ledger(aws.dynamodb, target.table, clock=clock)

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), UTC)

    def run(self, command: str, *, dry_run: bool = False) -> Run:
        """A run of one control (announced on the topic, if one is known)."""
        report = Report(
            function=FUNCTION,
            event_id=f"{command}-{uuid.uuid4()}",
            detail_type=f"autopilot {command}",
            dry_run=dry_run,
        )
        topic = self.target.topic_arn or ""
        return Run(report, self.ledger, self.aws, topic, self.target.lease_seconds, invocation_id())

    def record(self, run: Run, *decisions: Decision) -> Report:
        """Record ``decisions`` (and what the run decided already), announce what says
        ``notify``."""
        for decision in decisions:
            carry_out(run, Plan(decision))
        return finish(run, self.now())


def cluster_of(service_arn: str) -> str:
    """``arn:...:service/<cluster>/<name>`` -> the cluster's ARN."""
    prefix, _, path = service_arn.partition(":service/")
    return f"{prefix}:cluster/{path.split('/')[0]}"


def _named(target: Target, service: str) -> tuple[str | None, str]:
    """``ARN`` | ``CLUSTER/NAME`` | ``NAME`` -> (the managed cluster, or None for any of
    them, and the name or ARN); raises ``OperatorError`` for a cluster not managed."""
    if service.startswith("arn:"):
        if ":service/" not in service:
            raise OperatorError(f"{service} is not a service ARN")
        cluster = target.cluster(cluster_of(service))
        if cluster is None and service.split(":", 5)[-1].count("/") >= 2:
            raise OperatorError(
                f"{service} is not in a managed cluster ({', '.join(target.cluster_arns)})"
            )
        return cluster or target.cluster_arn, service
    head, sep, name = service.rpartition("/")
    if sep:
        cluster = target.cluster(head)
        if cluster is None or not name:
            managed = ", ".join(cluster_name(c) for c in target.cluster_arns)
            raise OperatorError(f"{service}: {head} is not a managed cluster ({managed})")
        return cluster, service_arn_of(cluster, name)
    if len(target.cluster_arns) == 1:
        return target.cluster_arn, service_arn_of(target.cluster_arn, service)
    return None, service


def _ambiguous(service: str, arns: list[str]) -> OperatorError:
    where = ", ".join(cluster_name(cluster_of(a)) for a in arns)
    return OperatorError(
        f"service {service} is in several managed clusters ({where}): "
        f"name it CLUSTER/{service} or by its ARN"
    )


def service_arn(target: Target, service: str, aws: AwsClients | None = None) -> str:
    """A service named by ARN, ``CLUSTER/NAME`` or a name (unique among the managed
    clusters) -> its ARN. A bare name with several managed clusters is looked up: the
    active services first (with ``aws``), else the services the ledger knows."""
    cluster, named = _named(target, service)
    if cluster is not None:
        return named
    if aws is not None:
        active = [s.arn for s in _find_active(aws, target, service)]
        if len(active) > 1:
            raise _ambiguous(service, active)
        if active:
            return active[0]
        ledger = Ledger(aws.dynamodb, target.table)
        known = sorted(
            {
                str(i["sk"])
                for i in ledger.decisions.list_services()
                if str(i["sk"]).endswith(f"/{service}")
                and target.cluster(cluster_of(str(i["sk"]))) is not None
            }
        )
        if len(known) > 1:
            raise _ambiguous(service, known)
        if known:
            return known[0]
    return service_arn_of(target.cluster_arn, service)


def _find_active(aws: AwsClients, target: Target, name: str) -> list[Service]:
    """The active services of that name, one DescribeServices per managed cluster."""
    found: list[Service] = []
    for cluster in target.cluster_arns:
        svc = ecs.describe_service(aws.ecs, cluster, service_arn_of(cluster, name))
        if svc is not None:
            found.append(svc)
    return found


def resolve_service(aws: AwsClients, target: Target, service: str) -> Service:
    """The active service named by ARN, ``CLUSTER/NAME`` or a name unique among the managed
    clusters; ``OperatorError`` when there is none, or a bare name is in several."""
    cluster, named = _named(target, service)
    if cluster is not None:
        found = ecs.describe_service(aws.ecs, cluster, named)
        if found is None:
            raise OperatorError(f"no active service {service} in {cluster}")
        return found
    matches = _find_active(aws, target, service)
    if len(matches) > 1:
        raise _ambiguous(service, [s.arn for s in matches])
    if not matches:
        raise OperatorError(
            f"no active service {service} in the managed clusters "
            f"({', '.join(target.cluster_arns)})"
        )
    return matches[0]


def _config(svc: Service, floors: Floors) -> ServiceConfig:
    """The service's effective config, as image-events sees it (its tags under the floors)."""
    try:
        cfg = service_config(svc.tags, svc.cluster_arn, floors)
    except MalformedTag as exc:
        raise OperatorError(f"{svc.name}: tag {exc.key}={exc.value!r}: {exc.problem}") from exc
    if cfg is None:
        raise OperatorError(f"{svc.name} tracks no repository ({contract.TAG_REPOSITORY})")
    return cfg


def _find_approval(ledger: Ledger, svc: Service, digest: str) -> ApprovalRecord:
    """The approval of ``digest`` (or of the one digest that starts with it)."""
    exact = ledger.approvals.get(svc.arn, digest)
    if exact is not None:
        return exact
    matches = [a for a in ledger.approvals.list(svc.arn) if a.digest.startswith(digest)]
    if len(matches) == 1 and len(digest) >= len("sha256:") + 6:
        return matches[0]
    if len(matches) > 1:
        raise OperatorError(f"{digest} names several digests of {svc.name}: give more of it")
    raise OperatorError(f"no approval was asked for {digest} on {svc.name}")


def _what(approval: ApprovalRecord) -> str:
    return f"{approval.tag} ({approval.digest[:19]})" if approval.tag else approval.digest[:19]


def _approval_decision(
    svc: Service, approval: ApprovalRecord, outcome: Outcome, reason: str, *, notify: bool
) -> Decision:
    return Decision(
        service=svc.arn,
        outcome=outcome,
        reason=reason,
        repository=approval.repository,
        tag=approval.tag,
        digest=approval.digest,
        image=approval.image,
        notify=notify,
    )


def _expire(ctx: _Ctx, svc: Service, approval: ApprovalRecord, command: str) -> Result:
    """Record an approval met past its expiry as expired (once: a conditional write)."""
    run = ctx.run(command)
    report = run.report
    if ctx.ledger.approvals.decide(svc.arn, approval.digest, "expired", by=None, expired=True):
        reason = (
            f"the approval of {_what(approval)} expired at {approval.expires_iso} "
            "without a decision: nothing deployed"
        )
        ctx.record(run, _approval_decision(svc, approval, Outcome.EXPIRED, reason, notify=True))
    message = f"the approval of {_what(approval)} on {svc.name} expired at {approval.expires_iso}"
    return Result(command, svc.arn, ok=False, changed=False, message=message, report=report)


# ------------------------------------------------------------- answering a PAUSE hook
def waiting_hook(aws: AwsClients, svc: Service) -> tuple[DeploymentDetail, LifecycleHook] | None:
    """The service's in-progress deployment and its pause hook AWAITING_ACTION, as ECS says
    now: ListServiceDeployments (in progress) then DescribeServiceDeployments, one call each."""
    listed = ecs.in_progress_deployments(aws.ecs, svc.cluster_arn, svc.arn)
    if not listed:
        return None
    return traffic_approval.waiting(
        ecs.describe_service_deployments(aws.ecs, [d.arn for d in listed])
    )


def _answer_hook(
    ctx: _Ctx,
    svc: Service,
    waiting: tuple[DeploymentDetail, LifecycleHook],
    command: str,
    *,
    actor: str,
    reason: str | None,
) -> Result:
    """ContinueServiceDeployment on the waiting hook: CONTINUE (approve) or ROLLBACK (reject),
    recorded and announced; a refusal (the hook no longer waits) is recorded as failed."""
    deployment, hook = waiting
    action = "CONTINUE" if command == "approve" else "ROLLBACK"
    run = ctx.run(command)
    report = run.report
    short = deployment.arn.rsplit("/", 1)[-1]
    why = f"{'approved' if command == 'approve' else 'rejected'} by {actor}" + (
        f": {reason}" if reason else ""
    )
    said = (
        f"{why} at the pause hook of deployment {short}: production traffic goes on"
        if command == "approve"
        else f"{why} at the pause hook of deployment {short}: ECS rolls it back"
    )
    decision = Decision(
        service=svc.arn,
        outcome=Outcome.APPROVED if command == "approve" else Outcome.REJECTED,
        reason=said,
        notify=True,
    )
    step = Step(
        Action(
            api="ecs:ContinueServiceDeployment",
            params=ecs.continue_params(deployment.arn, hook.hook_id, action),
            service=svc.arn,
        )
    )
    carry_out(run, Plan(decision, steps=(step,)))
    finish(run, ctx.now())
    done = report.decisions[-1].outcome is decision.outcome
    message = said if done else f"not {command}d: {report.decisions[-1].reason}"
    details = {"serviceDeploymentArn": deployment.arn, "hookId": hook.hook_id, "hookAction": action}
    return Result(
        command, svc.arn, ok=done, changed=done, message=message, report=report, details=details
    )


def _only_pending(ctx: _Ctx, svc: Service, command: str) -> str:
    """The one pending pre-deploy approval's digest, when no digest was given and no hook
    waits; else a clear ``OperatorError``."""
    now = ctx.clock()
    pending = [
        a
        for a in ctx.ledger.approvals.list(svc.arn)
        if a.status == "pending" and not a.expired(now)
    ]
    if len(pending) == 1:
        return pending[0].digest
    if pending:
        digests = ", ".join(a.digest[:19] for a in pending)
        raise OperatorError(
            f"{svc.name} has several pending approvals ({digests}): give the digest"
        )
    raise OperatorError(
        f"nothing to {command} on {svc.name}: no deployment waits at a pause hook and no "
        "approval is pending"
    )


# --------------------------------------------------------------------------- approve / reject
def approve(
    aws: AwsClients,
    target: Target,
    service: str,
    digest: str | None,
    *,
    actor: str,
    clock: Any = time.time,
) -> Result:
    """Deploy a pending (or approved, not yet running) digest, if it is still eligible.
    Without ``digest``: continue the deployment waiting at a pause hook (manual-traffic),
    else the one pending approval."""
    ctx = _Ctx(aws, target, clock)
    svc = resolve_service(aws, target, service)
    if digest is None:
        if (waiting := waiting_hook(aws, svc)) is not None:
            return _answer_hook(ctx, svc, waiting, "approve", actor=actor, reason=None)
        digest = _only_pending(ctx, svc, "approve")
    cfg = _config(svc, target.floors)
    approval = _find_approval(ctx.ledger, svc, digest)
    if approval.expired(clock()):
        return _expire(ctx, svc, approval, "approve")
    if approval.status not in ("pending", "approved"):
        note = f" ({approval.note})" if approval.note else ""
        return Result(
            "approve",
            svc.arn,
            ok=False,
            changed=False,
            message=f"{_what(approval)} on {svc.name} is {approval.status}{note}: not deployed",
        )

    # 1. the decision image-events would make now, approved (reads only)
    cand = _candidate(svc, cfg, approval, ctx)
    scan = ctx.ledger.scans.get(cfg.repository, approval.digest)
    probe = ctx.run("approve", dry_run=True)
    image.deploy(
        probe,
        cand,
        [svc],
        scan,
        observed_at=clock(),
        approval_ttl_hours=_APPROVAL_TTL_HOURS,
        floors=target.floors,
        approved=True,
    )
    decision = probe.report.decisions[0] if probe.report.decisions else None
    if decision is not None and decision.outcome is Outcome.DEPLOYED:
        newer = _superseded(ctx, svc, cfg, approval)
        if newer is not None:
            decision = image_plan.make_decision(svc, cand, Outcome.OLDER, newer)
    if decision is None or decision.outcome is not Outcome.DEPLOYED:
        return _not_eligible(ctx, svc, approval, decision, actor)

    # 2. claim the approval (once), then 3. deploy through the same path, on a fresh read
    claimed = approval.status == "pending" and ctx.ledger.approvals.decide(
        svc.arn, approval.digest, "approved", by=actor
    )
    run = ctx.run("approve")
    report = run.report
    observed_at = clock()
    services = ecs.describe_services(aws.ecs, svc.cluster_arn or target.cluster_arn, [svc.arn])
    image.deploy(
        run,
        cand,
        services,
        scan,
        observed_at=observed_at,
        approval_ttl_hours=_APPROVAL_TTL_HOURS,
        floors=target.floors,
        approved=True,
        said=f"approved by {actor}: ",
    )
    ctx.record(run)
    outcome = report.decisions[0].outcome if report.decisions else Outcome.IGNORED
    deployed = outcome is Outcome.DEPLOYED
    if deployed:
        message = f"approved by {actor}: {_what(approval)} deploys to {svc.name}"
    elif outcome is Outcome.ALREADY_RUNNING:
        message = f"{_what(approval)} already runs on {svc.name}: nothing to do"
    else:
        message = f"approved, not deployed now ({outcome.value}): {report.decisions[0].reason}"
    return Result(
        "approve",
        svc.arn,
        ok=deployed or outcome is Outcome.ALREADY_RUNNING,
        changed=deployed or claimed,
        message=message,
        report=report,
        details={"outcome": outcome.value, "digest": approval.digest},
    )


def _candidate(svc: Service, cfg: ServiceConfig, approval: ApprovalRecord, ctx: _Ctx) -> Candidate:
    ref = parse_image(approval.image) if approval.image else None
    parts = svc.arn.split(":")
    registry = (ref.registry if ref else None) or ecr_registry(parts[4], parts[3])
    return Candidate(
        repository=cfg.repository,
        digest=approval.digest,
        tags=(approval.tag,) if approval.tag else (),
        event_id=approval.event_id,
        event_time=ctx.now(),
        trigger="scan",  # a blocked verdict is not announced again
        registry=registry,
    )


def _superseded(
    ctx: _Ctx, svc: Service, cfg: ServiceConfig, approval: ApprovalRecord
) -> str | None:
    """Why a newer image the policy takes makes this approval stale, or None."""
    images = ecr.list_images(ctx.aws.ecr, cfg.repository)
    mine = next((i for i in images if i.digest == approval.digest), None)
    if mine is None:
        return None  # decide() found it; untagged since: nothing to compare by
    state = ctx.ledger.state.load(svc.arn)
    newer_candidates = [i for i in images if i.digest != approval.digest]
    scans = {i.digest: ctx.ledger.scans.get(cfg.repository, i.digest) for i in newer_candidates}
    newer = image_plan.superseded_by(
        mine,
        newer_candidates,
        cfg.policy,
        gate=cfg.scan,
        scans=scans,
        quarantined=state.quarantined,
    )
    if newer is None:
        return None
    shown = ", ".join(newer.tags) or newer.digest[:19]
    return f"superseded: {shown} ({newer.digest[:19]}) is newer and may deploy instead"


def _not_eligible(
    ctx: _Ctx,
    svc: Service,
    approval: ApprovalRecord,
    decision: Decision | None,
    actor: str,
) -> Result:
    run = ctx.run("approve")
    report = run.report
    reason = decision.reason if decision else "the service no longer runs this repository"
    outcome = decision.outcome if decision else Outcome.IGNORED
    closes = outcome not in _PASSING
    if closes and approval.status == "pending":
        ctx.ledger.approvals.decide(svc.arn, approval.digest, "ineligible", by=actor, note=reason)
    recorded = _approval_decision(
        svc,
        approval,
        outcome,
        f"approval by {actor} not carried out: {reason}",
        notify=False,
    )
    ctx.record(run, recorded)
    still = "; it stays pending" if not closes else ""
    running = outcome is Outcome.ALREADY_RUNNING
    message = (
        f"{_what(approval)} already runs on {svc.name}: nothing to do"
        if running
        else f"{_what(approval)} is not deployed to {svc.name}: {reason}{still}"
    )
    return Result(
        "approve",
        svc.arn,
        ok=running,
        changed=False,
        message=message,
        report=report,
        details={"outcome": outcome.value, "digest": approval.digest},
    )


def reject(
    aws: AwsClients,
    target: Target,
    service: str,
    digest: str | None,
    *,
    actor: str,
    reason: str | None = None,
    clock: Any = time.time,
) -> Result:
    """Close a pending approval as rejected: the digest never deploys to the service by approval.
    Without ``digest``: roll back the deployment waiting at a pause hook (manual-traffic),
    else reject the one pending approval."""
    ctx = _Ctx(aws, target, clock)
    svc = resolve_service(aws, target, service)
    if digest is None:
        if (waiting := waiting_hook(aws, svc)) is not None:
            return _answer_hook(ctx, svc, waiting, "reject", actor=actor, reason=reason)
        digest = _only_pending(ctx, svc, "reject")
    approval = _find_approval(ctx.ledger, svc, digest)
    if approval.expired(clock()):
        return _expire(ctx, svc, approval, "reject")
    if approval.status == "rejected":
        return Result(
            "reject",
            svc.arn,
            ok=True,
            changed=False,
            message=f"{_what(approval)} on {svc.name} was already rejected by {approval.by}",
        )
    if approval.status != "pending" or not ctx.ledger.approvals.decide(
        svc.arn, approval.digest, "rejected", by=actor, note=reason
    ):
        current = ctx.ledger.approvals.get(svc.arn, approval.digest) or approval
        return Result(
            "reject",
            svc.arn,
            ok=False,
            changed=False,
            message=f"{_what(approval)} on {svc.name} is {current.status}: not rejected",
        )
    run = ctx.run("reject")
    report = run.report
    why = f"rejected by {actor}" + (f": {reason}" if reason else "")
    ctx.record(run, _approval_decision(svc, approval, Outcome.REJECTED, why, notify=True))
    return Result(
        "reject",
        svc.arn,
        ok=True,
        changed=True,
        message=f"{why}: {_what(approval)} never deploys to {svc.name} by approval",
        report=report,
    )


# --------------------------------------------------------------------------- pause / resume
def pause(
    aws: AwsClients,
    target: Target,
    service: str,
    *,
    actor: str,
    reason: str | None = None,
    clock: Any = time.time,
) -> Result:
    """Hold every reaction for one service (recorded and announced); ECS is not touched."""
    return _set_paused(aws, target, service, paused=True, actor=actor, reason=reason, clock=clock)


def resume(
    aws: AwsClients,
    target: Target,
    service: str,
    *,
    actor: str,
    reason: str | None = None,
    clock: Any = time.time,
) -> Result:
    """Release a paused service: its events are reacted to again."""
    return _set_paused(aws, target, service, paused=False, actor=actor, reason=reason, clock=clock)


def _set_paused(
    aws: AwsClients,
    target: Target,
    service: str,
    *,
    paused: bool,
    actor: str,
    reason: str | None,
    clock: Any,
) -> Result:
    ctx = _Ctx(aws, target, clock)
    svc = resolve_service(aws, target, service)
    command = "pause" if paused else "resume"
    if not ctx.ledger.pauses.set(svc.arn, paused, by=actor, reason=reason):
        held = ctx.ledger.pauses.get(svc.arn) if paused else None
        since = f" (by {held.by} at {held.at})" if held else ""
        state = "already paused" if paused else "not paused"
        return Result(
            command, svc.arn, ok=True, changed=False, message=f"{svc.name} is {state}{since}"
        )
    run = ctx.run(command)
    report = run.report
    done = "paused" if paused else "resumed"
    why = f"{done} by {actor}" + (f": {reason}" if reason else "")
    decision = Decision(
        service=svc.arn,
        outcome=Outcome.PAUSED if paused else Outcome.RESUMED,
        reason=why,
        repository=svc.tags.get(contract.TAG_REPOSITORY),
        notify=True,
    )
    ctx.record(run, decision)
    effect = "every reaction (image, zone, capacity) is held" if paused else "reactions resume"
    return Result(
        command,
        svc.arn,
        ok=True,
        changed=True,
        message=f"{svc.name} {why}; {effect}",
        report=report,
    )


# --------------------------------------------------------------------------- rollback
#: the ledger's decisions that name a revision the service ran: completed (known good)
#: before deployed (made by autopilot, may have failed since)
_RAN = (Outcome.LAST_KNOWN_GOOD, Outcome.DRIFTED, Outcome.DEPLOYED)


@dataclass(frozen=True)
class _Revision:
    """A revision to roll back to: its task definition and digest, and where it was found."""

    task_definition: str
    digest: str | None
    source: str


def rollback(
    aws: AwsClients,
    target: Target,
    service: str,
    *,
    actor: str,
    to: str | None = None,
    quarantine: bool = False,
    reason: str | None = None,
    dry_run: bool = False,
    clock: Any = time.time,
) -> Result:
    """Move ``service`` back to its last known good (or, with ``to``, a digest it ran before)
    as deployment-events' own rollbacks are carried out (``flows.rollback.rollback_plan``:
    under the service's lease, refusing a service changed since it was read, ECS's own
    rollback while the deployment is in progress, else UpdateService;
    the deploy record; the decision recorded and announced). With ``quarantine`` the digest
    rolled back from is quarantined, so no push or approval deploys it again.

    ``OperatorError`` (bad input, nothing changed): the service is not managed, ``to``
    names no digest the ledger says it ran, or one quarantined, or a revision gone. A
    ``Result`` not ok: nothing to roll back to, the service is paused, or its lease is
    busy."""
    ctx = _Ctx(aws, target, clock)
    observed_at = ctx.ledger.leases.now()  # before the read: the lease refuses later changes
    svc = resolve_service(aws, target, service)
    cfg = _config(svc, target.floors)
    if not svc.ecs_controlled:
        raise OperatorError(
            f"{svc.name} is deployed by {svc.deployment_controller}, not ECS: autopilot never "
            "updates it"
        )
    state = ctx.ledger.state.load(svc.arn)
    seen: dict[str, str] = {}
    current = _digest_of(aws, svc, svc.task_definition, seen) or None

    def refused(message: str) -> Result:
        return Result("rollback", svc.arn, ok=False, changed=False, message=message)

    if state.paused:
        held = ctx.ledger.pauses.get(svc.arn)
        by = f" by {held.by}" if held else ""
        return refused(f"{svc.name} is paused{by}: resume it first; nothing rolled back")
    if quarantine and current is None:
        raise OperatorError(
            f"{svc.name} runs {_short(svc.task_definition)}, whose image is not pinned to a "
            "digest: nothing to quarantine (leave out --quarantine)"
        )
    if to is None:
        lkg = state.last_known_good
        if lkg is None:
            return refused(
                f"{svc.name} has no last known good in the ledger: nothing to roll back to "
                "(pass --to DIGEST, a digest it ran before)"
            )
        if lkg.digest is not None and lkg.digest in state.quarantined:
            return refused(
                f"the last known good of {svc.name}, {lkg.digest[:19]}, is quarantined: not "
                "rolled back (pass --to DIGEST)"
            )
        revision = _Revision(lkg.task_definition, lkg.digest, "last known good")
    else:
        revision = _ran_before(ctx, svc, to, state.quarantined)
    if revision.task_definition == svc.task_definition or (
        revision.digest is not None and revision.digest == current
    ):
        return Result(
            "rollback",
            svc.arn,
            ok=True,
            changed=False,
            message=f"{svc.name} already runs {_short(revision.task_definition)} "
            f"({(revision.digest or '')[:19]}): nothing to roll back",
        )
    _alive(aws, revision)

    # plan as every rollback is planned, and carry it out under the service's lease
    run = ctx.run("rollback", dry_run=dry_run)
    report = run.report
    why = f"rolled back by {actor}" + (f": {reason}" if reason else "")
    dropped = f"; {current[:19]} quarantined" if quarantine and current else ""
    decision = Decision(
        service=svc.arn,
        outcome=Outcome.ROLLED_BACK,
        reason=f"{why}; from {_short(svc.task_definition)} ({(current or '-')[:19]}) back to "
        f"{revision.source} {_short(revision.task_definition)} "
        f"({(revision.digest or '-')[:19]}){dropped}",
        repository=cfg.repository,
        digest=current,
        task_definition=revision.task_definition,
        previous_task_definition=svc.task_definition,
        notify=True,
    )
    facts = DeploymentFacts(
        deployment_id=f"operator:{report.event_id}",
        event_name="SERVICE_DEPLOYMENT_FAILED",
        reason=why,
        task_definition=svc.task_definition,
        digest=current,
        image=None,
        repository=cfg.repository,
    )
    planned = DeploymentPlan(
        decision,
        quarantine=current if quarantine else None,
        update={
            "cluster": svc.cluster_arn or target.cluster_arn,
            "service": svc.arn,
            "taskDefinition": revision.task_definition,
        },
    )
    again = Retry(lambda_retry=False, then="nothing changed: run the rollback again")
    plan = rollback_plan(run, planned, svc, facts, state, observed_at=observed_at, on_retry=again)
    carry_out(run, guarded(run, svc, plan, paused=state.paused))
    ctx.record(run)
    outcome = report.decisions[0].outcome
    done = outcome is Outcome.ROLLED_BACK
    said = report.decisions[0].reason
    if dry_run:
        message = f"{svc.name}, dry run (nothing changed): would be {said}"
    elif done:
        message = f"{svc.name} {said}"
    else:
        message = f"{svc.name} not rolled back ({outcome.value}): {said}"
    return Result(
        "rollback",
        svc.arn,
        ok=done,
        changed=done and not dry_run,
        message=message,
        report=report,
        details={
            "outcome": outcome.value,
            "dry_run": dry_run,
            "from": {"task_definition": svc.task_definition, "digest": current},
            "to": {
                "task_definition": revision.task_definition,
                "digest": revision.digest,
                "source": revision.source,
            },
            "quarantined": current if quarantine else None,
        },
    )


def _short(task_definition: str) -> str:
    """``arn:...:task-definition/web:7`` -> ``web:7``."""
    return task_definition.rsplit("/", 1)[-1]


def _ran_before(ctx: _Ctx, svc: Service, digest: str, quarantined: frozenset[str]) -> _Revision:
    """The newest revision with ``digest`` (or the one digest that starts with it) that the
    ledger says the service ran: the last known good, else a completed deployment, else a
    deploy autopilot made; ``OperatorError`` for none, several digests, or a quarantined
    one."""
    if not re.fullmatch(r"sha256:[0-9a-f]{6,64}", digest):
        raise OperatorError(f"--to {digest}: expected an image digest, sha256:<hex> (or its start)")
    revisions: list[_Revision] = []
    lkg = ctx.ledger.state.load(svc.arn).last_known_good
    if lkg is not None and lkg.digest:
        revisions.append(_Revision(lkg.task_definition, lkg.digest, "last known good"))
    rows = newest_decisions(
        ctx.ledger, svc.arn, limit=None, outcomes=frozenset(o.value for o in _RAN)
    )
    for outcome in _RAN:
        source = "a revision it deployed" if outcome is Outcome.DEPLOYED else "a revision it ran"
        revisions += [
            _Revision(str(r["task_definition"]), str(r["digest"]), source)
            for r in rows
            if r.get("outcome") == outcome.value and r.get("task_definition") and r.get("digest")
        ]
    matches = [r for r in revisions if r.digest and r.digest.startswith(digest)]
    found = {r.digest for r in matches}
    if not matches:
        raise OperatorError(
            f"--to {digest[:19]}: the ledger records no revision of {svc.name} with that digest "
            "(a digest it ran before: see autopilot history)"
        )
    if len(found) > 1:
        raise OperatorError(f"--to {digest}: names several digests of {svc.name}: give more of it")
    chosen = matches[0]
    if chosen.digest in quarantined:
        raise OperatorError(
            f"--to {digest[:19]}: quarantined on {svc.name} (a failed deployment or a rollback "
            "away from it): not rolled back to"
        )
    return chosen


def _alive(aws: AwsClients, revision: _Revision) -> None:
    """``OperatorError`` when the revision is deregistered (ECS refuses to deploy it)."""
    td, _tags = ecs.describe_task_definition(aws.ecs, revision.task_definition)
    if td.get("status") == "INACTIVE":
        raise OperatorError(
            f"{_short(revision.task_definition)} ({revision.source}) is deregistered: ECS "
            "cannot deploy it again"
        )


# --------------------------------------------------------------------------- status / history
def status(aws: AwsClients, target: Target, *, clock: Any = time.time) -> list[dict[str, Any]]:
    """Every tracked service (an ``autopilot:`` tag, or decided on): what it runs, last known
    good, quarantined digests, pending approvals, paused or not, last decision and when.
    Pending approvals found past their expiry are recorded as expired. A managed cluster
    that does not exist is named in a warning on stderr, and the others are shown."""
    ctx = _Ctx(aws, target, clock)
    views: dict[str, Service] = {}
    rollouts: dict[str, dict[str, Any]] = {}
    for cluster in target.cluster_arns:
        try:
            arns = ecs.list_service_arns(aws.ecs, cluster)
        except AwsCallFailed as exc:
            if exc.code != "ClusterNotFoundException":
                raise
            # a managed cluster not made yet, or deleted: the others are still worth showing
            warning_line(f"managed cluster {cluster} does not exist: it has no services to show")
            continue
        for svc in ecs.describe_services(aws.ecs, cluster, arns):
            views[svc.arn] = svc
            rollouts[svc.arn] = _rollout(svc)
    tracked = {
        a for a, v in views.items() if any(k.startswith(contract.TAG_PREFIX) for k in v.tags)
    }
    indexed = {str(i["sk"]): i for i in ctx.ledger.decisions.list_services()}
    prefixes = tuple(contract.service_arn_prefix(c) for c in target.cluster_arns)
    tracked |= {a for a in indexed if a.startswith(prefixes)}
    records = _ecs_records(aws, [views[a] for a in sorted(tracked) if a in views])
    docs = []
    for arn in sorted(tracked):
        doc = _service_status(ctx, arn, views.get(arn), rollouts.get(arn))
        doc["service_deployment"] = records.get(arn)
        docs.append(doc)
    return docs


def _ecs_records(aws: AwsClients, services: list[Service]) -> dict[str, dict[str, Any]]:
    """Each service's newest service deployment as ECS records it: ListServiceDeployments
    (one call a service), then DescribeServiceDeployments (one call per 20 services):
    status, the strategy's current stage, the target revision's counts, and the pause hook
    waiting for ``autopilot approve``. A service whose records cannot be read has none
    (a warning on stderr)."""
    newest: dict[str, str] = {}
    for svc in services:
        try:
            found = ecs.recent_deployments(aws.ecs, svc.cluster_arn, svc.arn, limit=1)
        except AwsCallFailed as exc:
            warning_line(f"{svc.name}: ECS's deployment records unread ({exc.code})")
            continue
        if found:
            newest[found[0]] = svc.arn
    if not newest:
        return {}
    try:
        described = ecs.describe_service_deployments(aws.ecs, list(newest))
    except AwsCallFailed as exc:
        warning_line(f"ECS's deployment records unread ({exc.code})")
        return {}
    out: dict[str, dict[str, Any]] = {}
    for d in described:
        hook = d.awaiting[0] if d.awaiting and d.status == "IN_PROGRESS" else None
        out[newest.get(d.arn, d.service_arn)] = {
            "arn": d.arn,
            "status": d.status,
            "status_reason": d.status_reason,
            "strategy": d.strategy,
            "lifecycle_stage": d.lifecycle_stage or None,
            "target_counts": {"requested": d.requested, "running": d.running, "pending": d.pending},
            "started_at": _iso(d.started_at),
            "finished_at": _iso(d.finished_at),
            "waiting_for_approval": (
                {
                    "hook_id": hook.hook_id,
                    "stage": d.lifecycle_stage or None,
                    "expires_at": _iso(hook.expires_at),
                }
                if hook
                else None
            ),
        }
    return out


def _rollout(svc: Service) -> dict[str, Any]:
    """The service's counts and its PRIMARY deployment's rollout, as DescribeServices says."""
    primary = svc.primary
    return {
        "counts": {
            "desired": svc.desired_count,
            "running": svc.running_count,
            "pending": svc.pending_count,
        },
        "deployment": {
            "id": primary.id,
            "task_definition": primary.task_definition,
            "rollout_state": primary.rollout_state,
            "rollout_state_reason": primary.rollout_reason,
        }
        if primary
        else None,
        "deployments": len(svc.deployments),
    }


def _service_status(
    ctx: _Ctx, arn: str, svc: Service | None, rollout: dict[str, Any] | None
) -> dict[str, Any]:
    ledger, now = ctx.ledger, ctx.clock()
    state = ledger.state.load(arn)
    paused = ledger.pauses.get(arn)
    approvals = ledger.approvals.list(arn)
    pending: list[dict[str, Any]] = []
    for a in approvals:
        if a.expired(now) and svc is not None:
            _expire(ctx, svc, a, "status")
        elif a.status == "pending":
            pending.append(
                {
                    "digest": a.digest,
                    "tag": a.tag,
                    "image": a.image,
                    "requested_at": _iso(a.requested_at),
                    "expires": a.expires_iso,
                }
            )
    last = newest_decisions(ledger, arn, limit=1)
    lkg = state.last_known_good
    doc: dict[str, Any] = {
        "service": arn.rsplit("/", 1)[-1],
        "arn": arn,
        "active": svc is not None,
        "repository": svc.tags.get(contract.TAG_REPOSITORY) if svc else None,
        "approval": (svc.tags.get(contract.TAG_APPROVAL) or contract.DEFAULT_APPROVAL)
        if svc
        else None,
        "running": _running(ctx, svc) if svc else None,
        "counts": (rollout or {}).get("counts"),
        "deployment": (rollout or {}).get("deployment"),
        "deployments": (rollout or {}).get("deployments", 0),
        "last_known_good": {
            "digest": lkg.digest,
            "task_definition": lkg.task_definition,
            "at": _iso(lkg.at),
        }
        if lkg
        else None,
        "quarantined": sorted(state.quarantined),
        # running digests that failed the scan gate after their deploy (the re-gate)
        "vulnerable": [
            {"digest": m.digest, "verdict": m.verdict, "counts": m.counts, "at": _iso(m.at)}
            for m in sorted(state.vulnerable)
        ],
        "pending_approvals": pending,
        "paused": paused.as_json() if paused else None,
        "last_decision": {
            "outcome": last[0].get("outcome"),
            "reason": last[0].get("reason"),
            "at": last[0].get("decided_at") or last[0].get("event_time"),
            "function": last[0].get("function"),
            "event_id": last[0].get("event_id"),
        }
        if last
        else None,
    }
    return doc


def _running(ctx: _Ctx, svc: Service) -> dict[str, Any]:
    """The tracked container's image as the running task definition says, with its digest
    and tag (a digest-pinned image's tag from the deploy record, else from ECR)."""
    doc: dict[str, Any] = {"task_definition": svc.task_definition}
    repository = svc.tags.get(contract.TAG_REPOSITORY)
    if not repository or not svc.task_definition:
        return doc
    td, _tags = ecs.describe_task_definition(ctx.aws.ecs, svc.task_definition)
    container = tracked_container(td, repository, svc.tags.get(contract.TAG_CONTAINER))
    if container is None:
        return doc
    doc.update(image=container.image, digest=container.digest, tag=container.tag)
    if container.digest:
        record = ctx.ledger.deploys.get(svc.arn, svc.task_definition)
        if record is not None and record.tag:
            doc["tag"] = record.tag
            return doc
    if container.ref is not None and container.ref.repository == repository:
        digests = [container.digest] if container.digest else []
        tags = [container.tag] if container.tag and not container.digest else []
        by_digest, by_tag = ecr.describe_images(ctx.aws.ecr, repository, digests, tags)
        info = by_digest.get(container.digest or "") or by_tag.get(container.tag or "")
        if info is not None:
            doc["digest"] = info.digest
            doc["tag"] = doc.get("tag") or (", ".join(info.tags) or None)
    return doc


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if value else None


_AGO = re.compile(r"^(\d+)\s*([smhdw])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}


def parse_since(text: str, now: datetime) -> datetime:
    """``2h``, ``30m``, ``7d``, ``90s``, ``1w`` ago, or an ISO-8601 time (UTC if no zone)."""
    match = _AGO.match(text.strip().lower())
    if match:
        return now - timedelta(seconds=int(match[1]) * _UNITS[match[2]])
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise OperatorError(
            f"--since {text!r}: expected a duration (30m, 2h, 7d) or an ISO-8601 time"
        ) from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


#: ECS's service-deployment states (ListServiceDeployments' ``status``), which ``history``
#: shows and ``--outcome`` names as ``ecs:<STATE>``
ECS_STATUSES = (
    "PENDING",
    "IN_PROGRESS",
    "STOP_REQUESTED",
    "ROLLBACK_REQUESTED",
    "ROLLBACK_IN_PROGRESS",
    "SUCCESSFUL",
    "STOPPED",
    "ROLLBACK_SUCCESSFUL",
    "ROLLBACK_FAILED",
)
#: ``history``'s ``source``: the ledger's decisions, ECS's service deployments, or both
HISTORY_SOURCES = ("all", "ledger", "ecs")
ECS_PREFIX = "ecs:"


def history(
    aws: AwsClients,
    target: Target,
    service: str,
    *,
    since: str | None = None,
    outcomes: list[str] | None = None,
    limit: int | None = 50,
    clock: Any = time.time,
    source: str = "ledger",
) -> list[dict[str, Any]]:
    """A service's decisions, newest first, each with its reason and event id. With
    ``source`` ``all`` (or ``ecs``), ECS's service deployments of the service in the same
    window (``ecs_history``) interleaved with them by time (``_order``), at most ``limit``
    rows in all. ``outcomes`` names the ledger's outcomes and ECS's states as
    ``ecs:<STATE>``: naming only ledger outcomes leaves ECS's rows out, and the other way
    round. ECS's records unread leave the ledger's rows shown, with a warning on stderr."""
    ctx = _Ctx(aws, target, clock)
    if source not in HISTORY_SOURCES:
        raise OperatorError(f"--source {source!r}: one of {', '.join(HISTORY_SOURCES)}")
    known = {o.value for o in Outcome}
    wanted: frozenset[str] | None = None
    states: frozenset[str] | None = None
    if outcomes:
        named = {o for o in outcomes if o.lower().startswith(ECS_PREFIX)}
        states = frozenset(o[len(ECS_PREFIX) :].upper() for o in named)
        unknown = sorted(set(outcomes) - named - known) + sorted(
            ECS_PREFIX + s for s in states - set(ECS_STATUSES)
        )
        if unknown:
            raise OperatorError(
                f"--outcome: unknown {', '.join(unknown)}; one of {', '.join(sorted(known))}"
                f", or ECS's {', '.join(ECS_PREFIX + s for s in ECS_STATUSES)}"
            )
        wanted = frozenset(set(outcomes) - named)
    after = parse_since(since, ctx.now()) if since else None
    arn = service_arn(target, service, aws)
    rows: list[dict[str, Any]] = []
    if source != "ecs" and (wanted is None or wanted):
        rows = newest_decisions(ctx.ledger, arn, limit=limit, since=after, outcomes=wanted)
    if source == "ledger":
        return rows
    rows = [{**r, "source": "ledger"} for r in rows]
    if states is None or states:
        rows += ecs_history(aws, arn, since=after, limit=limit, states=states or frozenset())
    rows.sort(key=_order, reverse=True)
    return rows[:limit] if limit is not None else rows


def ecs_history(
    aws: AwsClients,
    arn: str,
    *,
    since: datetime | None = None,
    limit: int | None = 50,
    states: frozenset[str] = frozenset(),
) -> list[dict[str, Any]]:
    """The service's service deployments as ECS records them, newest first, one history row
    each (``"source": "ecs"``, ``outcome`` ``ecs:<STATE>``, the record in
    ``ecs_deployment``): created since ``since``, in ``states`` (empty: any), at most
    ``limit``. Costs 1 ListServiceDeployments per 100 deployments listed, then
    ceil(n/20) DescribeServiceDeployments and ceil(r/20) DescribeServiceRevisions for the
    r revisions they name (their task definitions and digests). Records ECS will not give
    (AccessDenied, ServiceNotFoundException, throttling after botocore's retries): none,
    and one warning on stderr naming the call and the code."""
    try:
        listed = ecs.recent_deployments(
            aws.ecs, cluster_of(arn), arn, limit=limit, created_after=since, statuses=states
        )
        described = ecs.describe_service_deployments(aws.ecs, listed) if listed else []
    except AwsCallFailed as exc:
        warning_line(
            f"{arn.rsplit('/', 1)[-1]}: ECS's deployment records unread ({exc.api} {exc.code})"
        )
        return []
    wanted = [r for d in described for r in (d.target_revision, *d.source_revisions) if r]
    try:
        revisions = ecs.describe_service_revisions(aws.ecs, wanted) if wanted else {}
    except AwsCallFailed as exc:  # the deployments are still worth showing
        warning_line(
            f"{arn.rsplit('/', 1)[-1]}: ECS's service revisions unread ({exc.api} {exc.code})"
        )
        revisions = {}
    return [_ecs_row(arn, d, revisions) for d in described]


def _revision_doc(arn: str, revisions: dict[str, ServiceRevision]) -> dict[str, Any]:
    revision = revisions.get(arn)
    return {
        "arn": arn,
        "task_definition": revision.task_definition if revision else None,
        "digests": sorted({i.digest for i in revision.images if i.digest}) if revision else [],
    }


def _ecs_row(
    service: str, d: DeploymentDetail, revisions: dict[str, ServiceRevision]
) -> dict[str, Any]:
    """One history row of ECS's service deployment ``d``."""
    when = d.created_at or d.started_at
    at = iso(when) if when else ""
    target = _revision_doc(d.target_revision, revisions) if d.target_revision else None
    record = {
        "arn": d.arn,
        "status": d.status,
        "status_reason": d.status_reason,
        "strategy": d.strategy,
        "lifecycle_stage": d.lifecycle_stage or None,
        "created_at": _iso(d.created_at),
        "started_at": _iso(d.started_at),
        "finished_at": _iso(d.finished_at),
        "source_revisions": [_revision_doc(r, revisions) for r in d.source_revisions],
        "target_revision": target,
        "target_counts": {"requested": d.requested, "running": d.running, "pending": d.pending},
        "rollback": (
            {
                "reason": d.rollback.reason,
                "started_at": _iso(d.rollback.started_at),
                "service_revision_arn": d.rollback.revision or None,
            }
            if d.rollback
            else None
        ),
        "alarms": {"names": list(d.alarm_names), "triggered": list(d.triggered_alarms)},
    }
    return {
        "source": "ecs",
        "service": service,
        "outcome": ECS_PREFIX + d.status,
        "event_time": at,
        "decided_at": at,
        "event_id": d.arn,
        "reason": _ecs_reason(d),
        "ecs_deployment": record,
    }


def _ecs_reason(d: DeploymentDetail) -> str:
    """What a person reads of a service deployment: the strategy and its stage, the target
    revision's counts, ECS's reason, the rollback and the alarms that triggered it."""
    parts = [
        (d.strategy or "deployment") + (f" at {d.lifecycle_stage}" if d.lifecycle_stage else "")
    ]
    if d.triggered_alarms:
        parts.append(f"alarms triggered: {', '.join(d.triggered_alarms)}")
    if d.status_reason:
        parts.append(d.status_reason)
    if d.rollback is not None and d.rollback.reason and d.rollback.reason != d.status_reason:
        parts.append(f"rollback: {d.rollback.reason}")
    parts.append(f"target {d.running}/{d.requested} running, {d.pending} pending")
    if d.finished_at:
        parts.append(f"finished {_iso(d.finished_at)}")
    return "; ".join(parts)


def _order(item: dict[str, Any]) -> tuple[str, str]:
    """Newest first by the event's time, then by when it was decided (microseconds): the
    ledger's sort key holds the event's time, which AWS gives in whole seconds, and then a
    random event id, so decisions on events of one second would come in no set order."""
    return str(item.get("event_time") or ""), str(item.get("decided_at") or "")


def newest_decisions(
    ledger: Ledger,
    subject: str,
    *,
    limit: int | None = 50,
    since: datetime | None = None,
    outcomes: frozenset[str] | None = None,
) -> list[dict[str, Any]]:
    """``subject``'s decisions newest first (``_order``), at most ``limit``. When the limit
    cuts through one second, every decision of that second is read so the newest of them
    are the ones kept."""
    rows = ledger.decisions.list(subject, limit=limit, since=since, outcomes=outcomes)
    if limit is not None and len(rows) >= limit and rows:
        oldest = parse_since(str(rows[-1].get("event_time") or "")[:19], datetime.now(UTC))
        rows = ledger.decisions.list(
            subject, limit=None, since=max(oldest, since) if since else oldest, outcomes=outcomes
        )
    rows.sort(key=_order, reverse=True)
    return rows[:limit] if limit is not None else rows


# --------------------------------------------------------------------------- wait
def expected_digest(aws: AwsClients, target: Target, service: str) -> str:
    """The digest of the ledger's newest ``deployed`` decision on ``service``."""
    ledger = Ledger(aws.dynamodb, target.table)
    arn = service_arn(target, service, aws)
    rows = newest_decisions(ledger, arn, limit=1, outcomes=frozenset({Outcome.DEPLOYED.value}))
    digest = str(rows[0].get("digest") or "") if rows else ""
    if not digest:
        raise OperatorError(f"no deploy of {service} in the ledger: pass --digest")
    return digest


def _digest_of(aws: AwsClients, svc: Service, task_definition: str, seen: dict[str, str]) -> str:
    """The tracked container's digest in ``task_definition`` ("" when it has none)."""
    if task_definition not in seen:
        td, _tags = ecs.describe_task_definition(aws.ecs, task_definition)
        repository = svc.tags.get(contract.TAG_REPOSITORY) or ""
        container = tracked_container(td, repository, svc.tags.get(contract.TAG_CONTAINER))
        if container is None:  # no repository tag: the first container's image
            images = [str(c.get("image", "")) for c in td.get("containerDefinitions", [])]
            ref = parse_image(images[0]) if images else None
            seen[task_definition] = (ref.digest if ref else None) or ""
        else:
            seen[task_definition] = container.digest or ""
    return seen[task_definition]


def wait_once(
    aws: AwsClients, target: Target, service: str, digest: str, seen: dict[str, str]
) -> tuple[bool | None, str]:
    """One look (DescribeServices, the ledger): (True, why) steady on ``digest``; (False,
    why) its deployment failed or it was rolled back; (None, what it is doing) not yet."""
    svc = resolve_service(aws, target, service)
    on = [d for d in svc.deployments if _digest_of(aws, svc, d.task_definition, seen) == digest]
    failed = next((d for d in on if d.rollout_state == "FAILED"), None)
    if failed is not None:
        return False, f"deployment {failed.id} of {digest[:19]}... FAILED"
    state = Ledger(aws.dynamodb, target.table).state.load(svc.arn)
    if digest in state.quarantined:
        return False, f"{digest[:19]}... was rolled back and is quarantined"
    primary = svc.primary
    counts = f"running {svc.running_count}/{svc.desired_count}"
    if primary is None:
        return None, f"no primary deployment ({counts})"
    if primary not in on:
        return None, f"the primary deployment {primary.id} runs another image ({counts})"
    others = [d for d in svc.deployments if d is not primary]
    settled = primary.rollout_state in (None, "COMPLETED") and not others
    if settled and svc.running_count >= svc.desired_count:
        return True, f"steady on {digest[:19]}... ({counts})"
    return None, f"deployment {primary.id} {primary.rollout_state or 'in progress'} ({counts})"


def wait(
    aws: AwsClients,
    target: Target,
    service: str,
    *,
    digest: str | None = None,
    timeout: float = 600.0,
    interval: float = 5.0,
    clock: Any = time.monotonic,
    sleep: Any = time.sleep,
    say: Any = None,
) -> Result:
    """Poll until ``service`` is steady on ``digest`` (default: the ledger's newest deploy):
    ok; or its deployment failed, or the digest was rolled back (quarantined): not ok; or
    ``timeout`` seconds pass: not ok. ``say(line)`` hears each change of what it is doing."""
    expected = digest or expected_digest(aws, target, service)
    started, last = clock(), ""
    seen: dict[str, str] = {}
    while True:
        done, why = wait_once(aws, target, service, expected, seen)
        if say is not None and why != last:
            say(why)
        last = why
        elapsed = clock() - started
        details = {"digest": expected, "seconds": round(elapsed, 1)}
        if done is not None:
            return Result("wait", service, done, False, why, details=details)
        if elapsed >= timeout:
            message = f"timed out after {timeout:g} s: {why}"
            return Result("wait", service, False, False, message, details=details)
        sleep(min(interval, max(timeout - elapsed, 0.0)))
