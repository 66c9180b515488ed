"""Approval at autopilot's PAUSE hook (``autopilot:approval=manual-traffic``): what a hook
state change means, decided on the deployment as DescribeServiceDeployments describes it at
decision time, never on the event's claims.

===========================  ==================================  ===========================
ECS says of the hook now     decision                            announced
===========================  ==================================  ===========================
AWAITING_ACTION              awaiting-approval                   yes: approve or reject
SUCCEEDED                    approved (continued)                no (``autopilot approve``
                                                                 announced who did it)
FAILED                       rejected (rolled back)              no (``autopilot reject``
                                                                 did)
TIMED_OUT                    expired (rolled back by ECS: the    yes
                             timeout counts as a reject)
IN_PROGRESS, or the hook     ignored                             no
or deployment not there
===========================  ==================================  ===========================

A redelivered event (or ECS sending the same change twice) is handled once: the run's key is
the hook id and the state it moved to (``flows.traffic_approval``).
"""

from __future__ import annotations

from autopilot.domain.report import Decision, Outcome
from autopilot.domain.service import DeploymentDetail, LifecycleHook, short_name


def _when(hook: LifecycleHook) -> str:
    return f" (rolled back by ECS at {hook.expires_at.isoformat()})" if hook.expires_at else ""


def hook_decision(
    service_arn: str, hook_id: str, stage: str, deployment: DeploymentDetail | None
) -> Decision:
    """The decision recorded for a state change of pause hook ``hook_id`` at ``stage`` (the
    event's, for the reason only), on ``deployment`` as ECS describes it now (None: ECS
    does not know it)."""
    name = short_name(service_arn)

    def decided(outcome: Outcome, reason: str, *, notify: bool = False) -> Decision:
        return Decision(service=service_arn, outcome=outcome, reason=reason, notify=notify)

    if deployment is None:
        return decided(Outcome.IGNORED, "ECS does not describe the service deployment")
    hook = next((h for h in deployment.hooks if h.hook_id == hook_id), None)
    if hook is None:
        return decided(Outcome.IGNORED, f"the deployment has no lifecycle hook {hook_id} now")
    at = f" at {stage}" if stage else ""
    where = f"deployment {deployment.arn.rsplit('/', 1)[-1]}{at}"
    if hook.status == "AWAITING_ACTION":
        if deployment.status != "IN_PROGRESS":
            reason = f"{where} is {deployment.status}: nothing to approve"
            return decided(Outcome.IGNORED, reason)
        expires = f"; ECS rolls it back at {hook.expires_at.isoformat()}" if hook.expires_at else ""
        reason = (
            f"{where} waits for approval before production traffic: "
            f"`autopilot approve {name}` or `autopilot reject {name}`{expires}"
        )
        return decided(Outcome.AWAITING_APPROVAL, reason, notify=True)
    if hook.status == "SUCCEEDED":
        return decided(Outcome.APPROVED, f"{where} was continued: production traffic goes on")
    if hook.status == "FAILED":
        return decided(Outcome.REJECTED, f"{where} was rejected at the pause hook: rolled back")
    if hook.status == "TIMED_OUT":
        reason = (
            f"{where} had no approval before the pause hook timed out: "
            f"rolled back{_when(hook)}, counted as a reject"
        )
        return decided(Outcome.EXPIRED, reason, notify=True)
    return decided(Outcome.IGNORED, f"the pause hook is {hook.status or 'in an unknown state'}")


def waiting(deployments: list[DeploymentDetail]) -> tuple[DeploymentDetail, LifecycleHook] | None:
    """The in-progress deployment and its pause hook AWAITING_ACTION, if any (the first)."""
    for deployment in deployments:
        if deployment.status == "IN_PROGRESS" and deployment.awaiting:
            return deployment, deployment.awaiting[0]
    return None
