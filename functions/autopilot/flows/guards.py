"""What every flow applies to a service's plan before it is carried out: a service another
deployment controller deploys is never changed (``logic.controller``; announced once), and
a paused service's reactions are held (``logic.pause``)."""

from __future__ import annotations

from functools import partial

from autopilot.domain.plan import Plan, Write
from autopilot.domain.service import Service
from autopilot.logic import controller, pause
from autopilot.record import Run


def guarded(r: Run, svc: Service, plan: Plan, *, paused: bool) -> Plan:
    """``plan`` as it stands for ``svc``."""
    if svc.ecs_controlled:
        return pause.hold(plan, paused)
    what = f"{controller.REPORTED}:{svc.deployment_controller}"
    reported = r.ledger.reports.seen(svc.arn, what)
    refused = controller.refuse(plan, svc.deployment_controller, reported=reported)
    if reported:
        return refused
    mark = Write("remember the report", partial(r.ledger.reports.mark, svc.arn, what))
    return refused._replace(writes=(*refused.writes, mark))
