"""deployment-events decisions: pure functions of (deployment event, service, ledger) -> plan.

==================================  =============================================  =============
event                               condition                                      outcome
==================================  =============================================  =============
IN_PROGRESS                         (any; "rolling back to" noted in the reason)   ignored
COMPLETED                           deployment's digest is quarantined             ignored
COMPLETED                           a revision autopilot did not deploy, over one   drifted (and
                                    it did (not the revision its last deploy        last known
                                    replaced: that is a rollback)                   good)
COMPLETED                           otherwise                                      last-known-good
FAILED                              ECS rolls back itself (circuit breaker with    quarantined
                                    rollback, deployment alarms with rollback, a
                                    rollback in the reason), or the service is
                                    already on another revision
FAILED                              a known good revision differs from the failed  rolled-back
                                    one and the service is not already on it      (+ quarantine)
FAILED                              nothing known good to go back to               quarantined
FAILED                              the failed digest is unknown, nothing to do    failed
==================================  =============================================  =============

Every FAILED outcome is announced. The rollback target is the last known good task
definition, else the revision the failed deploy replaced (from the deploy record). A
COMPLETED deploy that autopilot made carries its lead time (push to completed).

How a rollback is made (``rollback_route``, on ECS's state read when the rollback is
planned): while ECS is rolling out the revision rolled back from (one service deployment
PENDING or IN_PROGRESS, ListServiceDeployments) and the revision it replaces (the
service's ACTIVE deployment, DescribeServices) is the rollback target, ECS rolls it back
itself (StopServiceDeployment ROLLBACK); otherwise, and when ECS refuses that, an
UpdateService back to the target (the deployment completed or ended; or ECS's rollback
would land elsewhere).

Drift: the service's owner deployed over autopilot (e.g. ``terraform apply`` put back a
tag reference). The rule: autopilot never reverts the owner's deploy; it is announced once
(the deployment completes once), kept as last known good, and the next eligible push
deploys on top of it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple

from autopilot.domain.records import DeployRecord, ServiceLedgerState
from autopilot.domain.report import Decision, Outcome
from autopilot.domain.service import Service, ServiceDeployment

ROLLING_BACK = "rolling back to"
#: what ECS's reason names when a lifecycle hook failed the deployment
LIFECYCLE_HOOK = "lifecycle hook"


class DeploymentFacts(NamedTuple):
    """What the failed or completed deployment put on the service."""

    deployment_id: str
    event_name: str
    reason: str
    task_definition: str | None
    digest: str | None
    image: str | None
    repository: str | None
    #: when ECS reported it (the event's time)
    at: datetime | None = None


class DeploymentPlan(NamedTuple):
    decision: Decision
    last_known_good: bool = False
    quarantine: str | None = None
    update: dict[str, Any] | None = None


def _decision(facts: DeploymentFacts, svc: Service, outcome: Outcome, reason: str) -> Decision:
    return Decision(
        service=svc.arn,
        outcome=outcome,
        reason=reason,
        repository=facts.repository,
        digest=facts.digest,
        task_definition=facts.task_definition,
        notify=outcome in {Outcome.ROLLED_BACK, Outcome.QUARANTINED, Outcome.FAILED},
    )


def ecs_rolls_back(facts: DeploymentFacts, svc: Service) -> str | None:
    """Why ECS itself is (or will be) undoing the failed deployment, or None."""
    reason = facts.reason.lower()
    if ROLLING_BACK in reason:
        return "ECS is rolling back"
    if LIFECYCLE_HOOK in reason:
        # a hook's FAILED (admission's refusal, say) always rolls back, whatever else is set
        return "a lifecycle hook failed it and ECS rolls back"
    if svc.circuit_breaker_rollback:
        return "the circuit breaker rolls back"
    if svc.alarm_rollback:
        return "its deployment alarms roll back"
    if facts.task_definition and svc.task_definition != facts.task_definition:
        # ECS's rollback, or a newer deployment, already put another revision on the service
        return f"the service has already moved on to {svc.task_definition}"
    return None


def plan_deployment(
    facts: DeploymentFacts,
    svc: Service,
    state: ServiceLedgerState,
    deploy: DeployRecord | None,
    *,
    last_ours: DeployRecord | None = None,
) -> DeploymentPlan:
    """``deploy``: autopilot's record of the deployment's revision, if it deployed it;
    ``last_ours``: what autopilot last deployed to the service (for a revision it did not)."""
    if facts.event_name == "SERVICE_DEPLOYMENT_IN_PROGRESS":
        note = "ECS is rolling back" if ROLLING_BACK in facts.reason.lower() else "in progress"
        return DeploymentPlan(_decision(facts, svc, Outcome.IGNORED, f"deployment {note}"))

    if facts.task_definition is None:
        reason = f"deployment {facts.deployment_id} is unknown to the service and the ledger"
        outcome = Outcome.IGNORED
        if facts.event_name == "SERVICE_DEPLOYMENT_FAILED":
            outcome = Outcome.FAILED
        return DeploymentPlan(_decision(facts, svc, outcome, reason))

    if facts.event_name == "SERVICE_DEPLOYMENT_COMPLETED":
        if facts.digest is not None and facts.digest in state.quarantined:
            reason = "completed, but its digest is quarantined: not known good"
            return DeploymentPlan(_decision(facts, svc, Outcome.IGNORED, reason))
        if drifted(facts, deploy, last_ours):
            assert last_ours is not None
            reason = (
                f"{facts.task_definition} (image {facts.image or 'unknown'}) completed, "
                f"deployed outside autopilot over {last_ours.task_definition}: kept as last "
                "known good; it runs until the next eligible push, which deploys on top of it"
            )
            decision = _decision(facts, svc, Outcome.DRIFTED, reason)
            decision.notify = True
            return DeploymentPlan(decision, last_known_good=True)
        reason = f"{facts.task_definition} completed: last known good"
        decision = _decision(facts, svc, Outcome.LAST_KNOWN_GOOD, reason)
        decision.lead_time_seconds = lead_time_seconds(deploy, facts.at)
        return DeploymentPlan(decision, last_known_good=True)

    # FAILED
    quarantine = facts.digest
    itself = ecs_rolls_back(facts, svc)
    if itself is not None:
        if quarantine is None:
            return DeploymentPlan(
                _decision(facts, svc, Outcome.FAILED, f"failed; {itself}; digest unknown")
            )
        reason = f"failed ({facts.reason}); {itself}: digest quarantined"
        return DeploymentPlan(
            _decision(facts, svc, Outcome.QUARANTINED, reason), quarantine=quarantine
        )

    target: str | None = None
    lkg = state.last_known_good
    if (
        lkg is not None
        and lkg.task_definition != facts.task_definition
        and (lkg.digest is None or lkg.digest not in state.quarantined)
    ):
        target = lkg.task_definition
        source = "last known good"
    elif deploy is not None and deploy.previous_task_definition not in (
        None,
        facts.task_definition,
    ):
        target = deploy.previous_task_definition
        source = "the revision it replaced"

    if target is None:
        outcome = Outcome.QUARANTINED if quarantine else Outcome.FAILED
        reason = f"failed ({facts.reason}); no known good revision to roll back to"
        return DeploymentPlan(_decision(facts, svc, outcome, reason), quarantine=quarantine)
    if svc.task_definition == target:
        outcome = Outcome.QUARANTINED if quarantine else Outcome.IGNORED
        reason = f"failed; the service is already on {source} {target}"
        return DeploymentPlan(_decision(facts, svc, outcome, reason), quarantine=quarantine)

    decision = _decision(
        facts, svc, Outcome.ROLLED_BACK, f"failed ({facts.reason}); back to {source} {target}"
    )
    decision.previous_task_definition = facts.task_definition
    decision.task_definition = target
    return DeploymentPlan(
        decision,
        quarantine=quarantine,
        update={"cluster": svc.cluster_arn, "service": svc.arn, "taskDefinition": target},
    )


def lead_time_seconds(record: DeployRecord | None, completed_at: datetime | None) -> float | None:
    """Push (ECR imagePushedAt, kept on the deploy record) to deployment COMPLETED; None for
    deploys that carry no push time (rollbacks, deploys recorded before lead times were)."""
    if record is None or record.pushed_at is None or completed_at is None:
        return None
    seconds = (completed_at - record.pushed_at).total_seconds()
    return round(seconds, 3) if seconds >= 0 else None


def drifted(
    facts: DeploymentFacts, deploy: DeployRecord | None, last_ours: DeployRecord | None
) -> bool:
    """A revision autopilot did not deploy completed over one it did, and it is not the
    revision autopilot's last deploy replaced (going back to that is a rollback)."""
    return (
        deploy is None
        and last_ours is not None
        and facts.task_definition
        not in (last_ours.task_definition, last_ours.previous_task_definition)
    )


class RollbackRoute(NamedTuple):
    """How a planned rollback is made: ``stop`` is the service deployment ECS rolls back
    (StopServiceDeployment ROLLBACK), None for an UpdateService; ``reason`` says why."""

    stop: str | None
    reason: str


def ecs_rollback_blocked(svc: Service, rolled_from: str | None, target: str) -> str | None:
    """Why ECS's own rollback (StopServiceDeployment ROLLBACK, which goes back to the
    revision the deployment replaced) would not take the service from ``rolled_from`` to
    ``target``, as DescribeServices shows it; None if it would."""
    if not svc.ecs_controlled:
        return f"{svc.deployment_controller} deploys it"
    primary = next((d for d in svc.deployments if d.status == "PRIMARY"), None)
    if primary is None or rolled_from is None or primary.task_definition != rolled_from:
        return "no deployment of the revision rolled back is in progress"
    if primary.rollout_state not in (None, "IN_PROGRESS"):
        return f"its deployment is {primary.rollout_state}"
    sources = sorted({d.task_definition for d in svc.deployments if d.status == "ACTIVE"})
    if sources != [target]:
        was = ", ".join(s.rsplit("/", 1)[-1] for s in sources) or "no previous revision"
        return f"ECS's rollback would go back to {was}, not {target.rsplit('/', 1)[-1]}"
    return None


def rollback_route(
    svc: Service, rolled_from: str | None, target: str, in_progress: Sequence[ServiceDeployment]
) -> RollbackRoute:
    """ECS's own rollback while it rolls out ``rolled_from`` and would go back to
    ``target``; else UpdateService to ``target``. ``in_progress``: the service's PENDING
    and IN_PROGRESS service deployments, as ECS lists them now (none: the deployment
    completed or ended, or ECS was not asked because ``ecs_rollback_blocked``)."""
    if not in_progress:
        return RollbackRoute(None, "")
    blocked = ecs_rollback_blocked(svc, rolled_from, target)
    if blocked is not None:
        return RollbackRoute(None, f"UpdateService: {blocked}")
    if len(in_progress) > 1:
        return RollbackRoute(
            None, f"UpdateService: ECS lists {len(in_progress)} deployments in progress"
        )
    (deployment,) = in_progress
    return RollbackRoute(
        deployment.arn,
        f"through ECS: StopServiceDeployment ROLLBACK of {deployment.arn.rsplit('/', 1)[-1]}",
    )
