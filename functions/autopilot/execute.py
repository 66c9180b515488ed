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
a call refused with a code of     the step's ``fallback`` made instead; its    -
the step's ``fallback``           reason, "(<api> refused: <code>)"
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
and never used is reused (the flow found it); an intent is recorded before
RegisterTaskDefinition and the revision tagged with it (``autopilot:intent``, beside
``autopilot:registered-by``), so that a revision registered by an invocation killed before
its record is found by the next deploy of the service (or the reconciler's sweep,
``reap_left``, once the intent is older than a lease) and deregistered, as is the extra
revision of a RegisterTaskDefinition botocore sent twice (an answer lost); a registration
is recorded ("registered") before UpdateService so a retry finds it; a revision no retry
would use is deregistered at once; after the deploy, the revisions earlier attempts left
for the service are deregistered (best effort, their records forgotten only once they are
gone; the flow leaves out any revision a service runs, deploys or has as last known good).
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from typing import Any

from autopilot import contract
from autopilot.aws import ecs
from autopilot.aws.clients import ATTEMPT_SECONDS
from autopilot.aws.perform import perform
from autopilot.domain.plan import PinnedDeploy, Plan, Step
from autopilot.domain.report import Action, Decision, Outcome
from autopilot.errors import AwsCallFailed, LeaseBusy, OutOfTime
from autopilot.observability import logger
from autopilot.record import Run
from autopilot.store.deploys import Intent


def carry_out(run: Run, plan: Plan) -> Decision:
    """Carry out ``plan``; its final decision goes on the report and is returned."""
    report = run.report
    if run.dry_run:
        for step in plan.steps:
            if isinstance(step, PinnedDeploy) and step.reuse is None:
                _intent(run, step)  # the tags it would register with
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
            changed = any(a.done and a.api in _CHANGE_SERVICE for a in done)
            run.ledger.leases.release(plan.lease, run.holder, changed=changed)


#: the calls that change a service (its lease records the change: ``store.leases``)
_CHANGE_SERVICE = frozenset({"ecs:UpdateService", "ecs:StopServiceDeployment"})


def _step(run: Run, plan: Plan, step: Step, done: list[Action]) -> Decision:
    if step.guard is not None and step.guard.apply() is False:
        return replace(
            plan.decision, outcome=Outcome.DEFERRED, reason=step.guard_lost, notify=False
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
        fallback = step.fallback
        if (
            fallback is not None
            and not exc.transient
            and not isinstance(exc, OutOfTime)
            and exc.code in fallback.codes
        ):
            # AWS refused the call (nothing changed): the planned alternative instead
            logger.info("refused: fallback", service=action.service, api=action.api, code=exc.code)
            reason = f"{fallback.reason} ({action.api} refused: {exc.code})"
            instead = plan._replace(decision=replace(plan.decision, reason=reason))
            return _step(run, instead, fallback.step, done)
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
    return replace(decision, outcome=Outcome.FAILED, reason=reason, notify=True)


def _retry(run: Run, plan: Plan, decision: Decision, outcome: Outcome, reason: str) -> Decision:
    """Left for later, as ``plan.on_retry`` says: not announced."""
    retry = plan.on_retry
    for write in retry.writes:
        write.apply()
    if retry.lambda_retry:
        run.report.retry_services.append(plan.lease or decision.service)
    return replace(decision, outcome=outcome, reason=f"{reason}; {retry.then}", notify=False)


# -- the pinned deploy ----------------------------------------------------------------------
#: the tags every revision the actor registers carries: which function registered it, and
#: the intent it was registered under (``store.deploys``)
REGISTERED_BY_TAG = contract.TAG_PREFIX + "registered-by"
INTENT_TAG = contract.TAG_PREFIX + "intent"
#: how many revisions of a family, newest first, a left intent's search looks at
INTENT_PROBES = 5


def _deploy(run: Run, plan: Plan, step: PinnedDeploy, done: list[Action]) -> Decision:
    service = str(step.update.params["service"])
    deploys = run.ledger.deploys
    register, update = step.register, step.update
    _reap_intents(run, service, done)
    done += [register, update]
    new_arn: str | None = step.reuse
    recorded = step.reuse is not None  # a retry finds a recorded revision and reuses it
    try:
        if step.reuse is not None:
            register.result = {"taskDefinitionArn": step.reuse, "reused": True}
        else:
            intent = _intent(run, step)
            deploys.intend(service, intent, step.record)
            _call(run, register)
            new_arn = str((register.result or {})["taskDefinitionArn"])
            deploys.record(
                service, step.record._replace(task_definition=new_arn, state="registered")
            )
            recorded = True
            _settle_intent(run, service, intent, new_arn, retried=_retried(register), done=done)
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
    decision = replace(plan.decision, task_definition=new_arn)
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
        return replace(decision, reason=reason)
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


def _intent(run: Run, step: PinnedDeploy) -> Intent:
    """The intent of ``step``'s registration, whose revision is tagged with it (and with
    who registers it), in place of any such tags the copied revision carried. One per
    event and service: the retries of an event register under the same intent."""
    service = str(step.update.params["service"])
    name = f"{run.function}/{run.report.event_id}/{service}"
    intent = Intent(
        id=uuid.uuid5(uuid.NAMESPACE_URL, name).hex,
        family=str(step.register.params["family"]),
        base=step.record.previous_task_definition,
        at=None,
    )
    ours = {REGISTERED_BY_TAG, INTENT_TAG}
    params = step.register.params
    tags = [t for t in params.get("tags") or [] if t.get("key") not in ours]
    params["tags"] = [
        *tags,
        {"key": REGISTERED_BY_TAG, "value": run.function},
        {"key": INTENT_TAG, "value": intent.id},
    ]
    return intent


def _retried(register: Action) -> bool:
    """Whether botocore sent RegisterTaskDefinition more than once (an attempt whose answer
    was lost may have registered a revision of its own)."""
    return bool((register.result or {}).get("attempts"))


def _settle_intent(
    run: Run, service: str, intent: Intent, new_arn: str, *, retried: bool, done: list[Action]
) -> None:
    """The registration is recorded: forget its intent (best effort: a later deploy
    settles it). If botocore retried the call, the revisions an earlier attempt of it
    registered are deregistered first."""
    if retried:
        _reap(run, service, intent, keep=new_arn, done=done)
        return
    try:
        run.ledger.deploys.forget_intent(service, intent)
    except AwsCallFailed as exc:
        logger.warning("intent kept", service=service, code=exc.code)


def _reap_intents(run: Run, service: str, done: list[Action]) -> None:
    """Intents an earlier invocation left (killed after or during its registration, before
    recording it): the revisions registered under them that no record names are
    deregistered, then the intents forgotten. Best effort: any failure leaves the intent
    for the next deploy."""
    try:
        intents = run.ledger.deploys.list_intents(service)
    except AwsCallFailed as exc:
        logger.warning("intents not read", service=service, code=exc.code)
        return
    for intent in intents:
        _reap(run, service, intent, keep=None, done=done)


def reap_left(run: Run, service: str, intents: list[Intent]) -> None:
    """The reconciler's clean-up of intents a killed invocation left for ``service``
    (``store.deploys.left_intents``), for a service that may never deploy again: under the
    service's lease (a deploy in flight keeps its own), each intent's unrecorded revisions
    deregistered and the intent forgotten. Best effort, like ``_reap_intents``: a busy
    lease or a failure leaves them for the next sweep. Nothing in a dry run."""
    if run.dry_run:
        return
    try:
        run.ledger.leases.acquire(service, run.holder, run.lease_seconds)
    except (LeaseBusy, AwsCallFailed) as exc:
        logger.info("left intents wait: lease not taken", service=service, error=str(exc))
        return
    done: list[Action] = []
    try:
        for intent in intents:
            _reap(run, service, intent, keep=None, done=done)
    finally:
        run.report.actions.extend(done)
        run.ledger.leases.release(service, run.holder)


def _reap(run: Run, service: str, intent: Intent, *, keep: str | None, done: list[Action]) -> None:
    """Deregister every revision of ``intent.family`` tagged with ``intent`` that is not
    ``keep`` and no deploy record names (the newest ``INTENT_PROBES`` revisions, down to
    the intent's base), then forget the intent."""
    try:
        for arn in _registered_under(run, intent):
            if arn in (keep, intent.base) or run.ledger.deploys.get(service, arn) is not None:
                continue
            drop = Action(
                api="ecs:DeregisterTaskDefinition",
                params=ecs.task_definition_params(arn),
                service=service,
            )
            done.append(drop)
            _call(run, drop)
            logger.info("deregistered a revision left unrecorded", task_definition=arn)
        run.ledger.deploys.forget_intent(service, intent)
    except AwsCallFailed as exc:
        logger.warning("intent kept for a later deploy", service=service, code=exc.code)


def _registered_under(run: Run, intent: Intent) -> list[str]:
    """The ACTIVE revisions of the intent's family tagged with it, newest first."""
    base = intent.base or ""
    floor = _revision(base) if _family(base) == intent.family else 0
    latest, _ = ecs.describe_task_definition(run.aws.ecs, intent.family)
    found: list[str] = []
    revision = int(latest.get("revision", 0))
    for _probe in range(INTENT_PROBES):
        if revision <= floor:
            break
        name = f"{intent.family}:{revision}"
        try:
            td, tags = ecs.describe_task_definition(run.aws.ecs, name)
        except AwsCallFailed as exc:
            if exc.transient:
                raise
            revision -= 1
            continue
        if td.get("status") == "ACTIVE" and {"key": INTENT_TAG, "value": intent.id} in tags:
            found.append(str(td["taskDefinitionArn"]))
        revision -= 1
    return found


def _family(arn: str) -> str:
    """The family of a task definition ARN (``...:task-definition/<family>:<n>``)."""
    return arn.rsplit("/", 1)[-1].rsplit(":", 1)[0]


def _revision(arn: str) -> int:
    """The revision number of a task definition ARN (``...:task-definition/<family>:<n>``)."""
    tail = arn.rsplit(":", 1)[-1]
    return int(tail) if tail.isdigit() else 0


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
