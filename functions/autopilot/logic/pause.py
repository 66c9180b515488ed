"""What ``autopilot pause`` means for a plan: the one place that judges it.

A paused service's every reaction is recorded as ``paused`` and none is carried out: the
plan's steps are held (its AWS calls are not made), its bookkeeping is kept (quarantine,
last known good, re-check marks), and the reason says what was held. A problem (a
decision of severity ``error``, e.g. a rollback left undone) is still announced; a routine
change held is not (the pause itself was announced).
"""

from __future__ import annotations

from dataclasses import replace

from autopilot.domain.plan import Plan, Retry
from autopilot.domain.report import Outcome

REASON = "service is paused"


def hold(plan: Plan, paused: bool) -> Plan:
    """``plan`` as it stands for a service that is ``paused`` (unchanged if it is not)."""
    decision = plan.decision
    if not paused or decision.outcome is Outcome.PAUSED:
        return plan
    if plan.steps:
        done = decision.outcome.value.replace("-", " ")
        reason = f"{REASON}, held: {decision.reason}; NOT {done}"
    else:
        reason = f"{REASON}: {decision.reason}"
    held = replace(
        decision,
        outcome=Outcome.PAUSED,
        reason=reason,
        notify=decision.notify and decision.severity == "error",
    )
    return plan._replace(decision=held, steps=(), on_retry=Retry())
