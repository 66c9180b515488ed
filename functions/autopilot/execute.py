"""The actor: the one place that carries out a plan.

For each plan (``domain.plan``): the planned actions go on the report; in a dry run that
is all. Otherwise the bookkeeping writes are made, the service's lease is taken (refusing a
service changed since the flow read it), each step's call is made through its adapter
(``aws.perform``) with its ledger writes around it, and the lease is given back. What
happens is the decision's final outcome:

================================  ===========================================  ==============
what happened                     recorded as                                  then
================================  ===========================================  ==============
every step done                   the plan's decision                          -
lease held by another change,     ``busy``: "another change to the service is  the plan's
or the service changed since      in flight (<holder>); retried", not          ``on_retry``
the read                          announced
a step's guard did not hold       ``deferred``: the step's ``guard_lost``      -
a call failed, transient          ``failed``: "<api> failed: <code>; <reason>   ``on_retry``
(throttling, service error)       (transient); retried", not announced
a call failed otherwise           ``failed``: "<api> failed: <code>; ...",     -
                                  announced
too little time left for a call   ``failed``: "out of time before <api> (<ms>  the plan's
(``errors.OutOfTime``)            ms left); <reason>; retried", not announced  ``on_retry``
================================  ===========================================  ==============

Time: a step's call is made only while ``WRAP_UP_SECONDS`` more than one call attempt
(``aws.clients.ATTEMPT_SECONDS``) is left of the invocation's budget (``Run.deadline``),
so that after the last call there is still time to give the lease back and record the
outcome; the clients themselves refuse any attempt that could outlive the budget. A
BotoCoreError (no answer: connection, timeout) is an ``AwsCallFailed`` like any other
(``aws.translate``), so the clean-up below runs for it too.

``on_retry`` says what a plan left for later leaves: by default Lambda retries the event
(the service goes on ``report.retry_services`` and the handler raises ``Incomplete``); a
flow may write a re-check mark instead, or give a claim back.

A ``PinnedDeploy`` (image-events) registers a revision pinned to a digest and moves the
service to it, so that nothing is left half-made: a revision an earlier attempt registered
and never used is reused (the flow found it); a registration is recorded ("registered")
before UpdateService so a retry finds it; a revision no retry would use is deregistered at
once; after the deploy, the revisions earlier attempts left for the service are
deregistered (best effort, their records forgotten only once they are gone; the flow
leaves out any revision a service runs, deploys or has as last known good).
"""

from __future__ import annotations

from typing import Any

from autopilot.aws.clients import ATTEMPT_SECONDS
from autopilot.aws.perform import perform
from autopilot.domain.plan import PinnedDeploy, Plan, Step
from autopilot.domain.report import Action, Decision, Outcome
from autopilot.errors import AwsCallFailed, LeaseBusy, OutOfTime
from autopilot.observability import logger
from autopilot.record import Run


def carry_out(run: Run, plan: Plan) -> Decision:
    """Carry out ``plan``; its final decision goes on the report and is returned."""
    report = run.report
    if run.dry_run:
        report.actions.extend(plan.actions)
        report.decisions.append(plan.decision)
        return plan.decision
    for write in plan.writes:
        write.apply()
    decision = plan.decision
    if plan.steps:
        decision = _perform(run, plan)
    report.decisions.append(decision)
    return decision


def _perform(run: Run, plan: Plan) -> Decision:
    try:
        _in_time(run, plan.actions[0].api)  # nothing taken or called yet
    except OutOfTime as exc:
        return _failed(run, plan, plan.decision, exc)
    if plan.lease is not None:
        try:
            run.ledger.leases.acquire(
                plan.lease, run.holder, run.lease_seconds, unchanged_since=plan.observed_at
            )
        except LeaseBusy as exc:
            reason = f"another change to the service is in flight ({exc.holder})"
            return _retry(run, plan, plan.decision, Outcome.BUSY, reason)
    done: list[Action] = []
    try:
        decision = plan.decision
        for step in plan.steps:
            if isinstance(step, PinnedDeploy):
                decision = _deploy(run, plan, step, done)
            else:
                decision = _step(run, plan, step, done)
            if decision.outcome is not plan.decision.outcome:
                break
        return decision
    finally:
        run.report.actions.extend(done)
        if plan.lease is not None:
            changed = any(a.done and a.api == "ecs:UpdateService" for a in done)
            run.ledger.leases.release(plan.lease, run.holder, changed=changed)


def _step(run: Run, plan: Plan, step: Step, done: list[Action]) -> Decision:
    if step.guard is not None and step.guard.apply() is False:
        return plan.decision.model_copy(
            update={"outcome": Outcome.DEFERRED, "reason": step.guard_lost, "notify": False}
        )
    for write in step.before:
        write.apply()
    action = step.action
    done.append(action)
    try:
        _call(run, action)
    except AwsCallFailed as exc:
        for write in step.undo:
            write.apply()
        return _failed(run, plan, plan.decision, exc)
    for write in step.then:
        write.apply()
    logger.info("changed", service=action.service, api=action.api, params=action.params)
    return plan.decision


#: what a run keeps, after its last step's call, to give the lease back and record it
WRAP_UP_SECONDS = 5


def _in_time(run: Run, api: str) -> None:
    """Raise ``OutOfTime`` unless a call and the wrap-up after it fit in the time left."""
    left = run.remaining()
    need = ATTEMPT_SECONDS + WRAP_UP_SECONDS
    if left is not None and left < need:
        raise OutOfTime(api, max(0, int(left * 1000)), need * 1000)


def _call(run: Run, action: Action) -> None:
    try:
        _in_time(run, action.api)
        action.result = perform(run.aws, action.api, action.params)
    except AwsCallFailed as exc:
        action.error = f"{exc.code}: {exc.aws_message}"
        raise
    action.done = True


def _failed(run: Run, plan: Plan, decision: Decision, exc: AwsCallFailed) -> Decision:
    logger.warning("change failed", service=decision.service, api=exc.api, code=exc.code)
    reason = f"{exc.api} failed: {exc.code}; {decision.reason}"
    if isinstance(exc, OutOfTime):
        reason = f"out of time before {exc.api} ({exc.remaining_ms} ms left); {decision.reason}"
        return _retry(run, plan, decision, Outcome.FAILED, reason)
    if exc.transient:
        return _retry(run, plan, decision, Outcome.FAILED, reason + " (transient)")
    return decision.model_copy(update={"outcome": Outcome.FAILED, "reason": reason, "notify": True})


def _retry(run: Run, plan: Plan, decision: Decision, outcome: Outcome, reason: str) -> Decision:
    """Left for later, as ``plan.on_retry`` says: not announced."""
    retry = plan.on_retry
    for write in retry.writes:
        write.apply()
    if retry.lambda_retry:
        run.report.retry_services.append(plan.lease or decision.service)
    return decision.model_copy(
        update={"outcome": outcome, "reason": f"{reason}; {retry.then}", "notify": False}
    )


# -- the pinned deploy ----------------------------------------------------------------------
def _deploy(run: Run, plan: Plan, step: PinnedDeploy, done: list[Action]) -> Decision:
    service = str(step.update.params["service"])
    deploys = run.ledger.deploys
    register, update = step.register, step.update
    done += [register, update]
    new_arn: str | None = step.reuse
    recorded = step.reuse is not None  # a retry finds a recorded revision and reuses it
    try:
        if step.reuse is not None:
            register.result = {"taskDefinitionArn": step.reuse, "reused": True}
        else:
            _call(run, register)
            new_arn = str((register.result or {})["taskDefinitionArn"])
            deploys.record(
                service, step.record._replace(task_definition=new_arn, state="registered")
            )
            recorded = True
        update.params["taskDefinition"] = new_arn
        _call(run, update)
    except AwsCallFailed as exc:
        if new_arn is not None and not (recorded and exc.transient):
            # No retry would find it (no record), or none comes: never leave a revision
            # that no service uses. Its record goes only once it is gone.
            step.drop.params["taskDefinition"] = new_arn
            _drop(run, service, step.drop, recorded=recorded, done=done)
        return _failed(run, plan, plan.decision, exc)
    assert new_arn is not None
    # The service is moved: from here on a failure is bookkeeping, never a failed deploy.
    decision = plan.decision.model_copy(update={"task_definition": new_arn})
    deployed = step.record._replace(
        task_definition=new_arn, deployment_id=_our_deployment(update.result, new_arn)
    )
    try:
        deploys.record(service, deployed)
    except AwsCallFailed as exc:
        # Retried: the retry finds the service on this revision, still recorded as
        # "registered", and completes the record (``logic.image_plan``).
        reason = f"{decision.reason}; its deploy record failed ({exc.code}): retried"
        run.report.retry_services.append(service)
        return decision.model_copy(update={"reason": reason})
    for stale in step.stale:
        if stale.params["taskDefinition"] != new_arn:
            _drop(run, service, stale, recorded=True, done=done)
    logger.info(
        "deployed",
        service=service,
        digest=deployed.digest,
        tag=deployed.tag,
        task_definition=new_arn,
    )
    return decision


def _our_deployment(result: dict[str, Any] | None, task_definition: str) -> str | None:
    """The new primary deployment's id, if UpdateService's answer shows it is ours."""
    if result and result.get("primaryTaskDefinition") == task_definition:
        value = result.get("deploymentId")
        return str(value) if value else None
    return None


def _drop(run: Run, service: str, action: Action, *, recorded: bool, done: list[Action]) -> None:
    """Deregister a revision no service uses, then forget its record. If deregistering
    fails the record stays, so the next deploy's clean-up tries again; if forgetting the
    record fails, the next clean-up's DeregisterTaskDefinition of it is a no-op and it goes
    then."""
    task_definition = str(action.params["taskDefinition"])
    if action not in done:
        done.append(action)
    try:
        _call(run, action)
    except AwsCallFailed as exc:
        logger.error(
            "could not deregister unused revision", task_definition=task_definition, code=exc.code
        )
        return
    if not recorded:
        return
    try:
        run.ledger.deploys.forget(service, task_definition)
    except AwsCallFailed as exc:
        logger.warning("record of a deregistered revision kept", code=exc.code)
