"""Services another deployment controller deploys (CodeDeploy, an external one): autopilot
never changes them, by any path. The one place that says so.

Every reaction planned for such a service is refused: recorded as ``rejected`` with the
reason, its steps dropped, announced the first time only (``reported``).
"""

from __future__ import annotations

from dataclasses import replace

from autopilot.domain.plan import Plan, Retry
from autopilot.domain.report import Outcome

#: what ``store.reports`` remembers as announced
REPORTED = "controller"


def reason(controller: str) -> str:
    return (
        f"deployment controller {controller}: autopilot changes only services ECS's own "
        "controller deploys"
    )


def refuse(plan: Plan, controller: str, *, reported: bool) -> Plan:
    """``plan`` for a service whose deployment controller is ``controller`` (unchanged for
    ECS's own)."""
    if controller == "ECS":
        return plan
    decision = replace(
        plan.decision,
        outcome=Outcome.REJECTED,
        reason=f"{reason(controller)}; not done: {plan.decision.reason}",
        notify=not reported,
    )
    return plan._replace(decision=decision, steps=(), on_retry=Retry())
