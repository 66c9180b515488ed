"""image-events: ECR pushes and scan results -> scan-gated redeploys pinned by digest.

parse -> load state (services by tag, ledger, running task definitions, images) ->
decide (``logic.image_plan``) -> act (lease, RegisterTaskDefinition, UpdateService) ->
record (ledger, notices). ``run`` is the whole of it; ``handler`` is the Lambda entry.
``decide_and_act`` is the one deploy path: ``autopilot approve`` (``autopilot.operator``)
deploys an approved digest through it too.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.logging import correlation_paths

from autopilot.adapters import ecr as ecr_adapter
from autopilot.adapters import ecs as ecs_adapter
from autopilot.adapters.clients import AwsClients, get_clients
from autopilot.adapters.ledger import Ledger
from autopilot.contract import IMAGE_EVENTS
from autopilot.errors import AwsCallFailed, LeaseBusy, MalformedTag
from autopilot.handlers.common import finish, lambda_entry, open_report
from autopilot.logic import image_plan
from autopilot.logic.images import ecr_registry
from autopilot.logic.scan import merge_scans, scan_record
from autopilot.models.events import (
    EcrImageActionEvent,
    ImageEvent,
    parse_image_event,
)
from autopilot.models.report import Action, Decision, Outcome, Report
from autopilot.models.state import (
    Candidate,
    ContainerImage,
    DeployRecord,
    ImageInfo,
    ScanRecord,
    ServiceConfig,
    ServiceLedgerState,
    ServiceView,
    parse_service_config,
    tracked_container,
)
from autopilot.observability import logger, metrics, tracer
from autopilot.settings import ImageEventsSettings, get_settings


def _repo_decision(event: ImageEvent, repository: str, outcome: Outcome, reason: str) -> Decision:
    digest = event.detail.image_digest
    tag = event.detail.image_tag if isinstance(event, EcrImageActionEvent) else None
    return Decision(
        service=f"repository/{repository}",
        outcome=outcome,
        reason=reason,
        repository=repository,
        tag=tag,
        digest=digest,
    )


def run(event: dict[str, Any], *, dry_run: bool = False, aws: AwsClients | None = None) -> Report:
    """Handle one image event. With ``dry_run`` the plan is returned and nothing is changed."""
    parsed = parse_image_event(event)
    settings = get_settings(ImageEventsSettings)
    aws = aws or get_clients()
    ledger = Ledger(aws.dynamodb, settings.ledger_table)
    report, seen = open_report(
        IMAGE_EVENTS.name, parsed.id, parsed.detail_type, ledger, dry_run=dry_run
    )
    if seen is not None:
        return seen

    repository = parsed.detail.repository_name
    scan: ScanRecord | None
    if isinstance(parsed, EcrImageActionEvent):
        detail = parsed.detail
        if detail.action_type != "PUSH" or detail.result != "SUCCESS" or not detail.image_digest:
            reason = f"{detail.action_type} {detail.result}: only successful pushes deploy"
            report.decisions.append(_repo_decision(parsed, repository, Outcome.IGNORED, reason))
            return _finish(report, ledger, aws, settings, parsed)
        candidate = Candidate(
            repository=repository,
            digest=detail.image_digest,
            tags=(detail.image_tag,) if detail.image_tag else (),
            event_id=parsed.id,
            event_time=parsed.time,
            trigger="push",
            registry=ecr_registry(parsed.account, parsed.region),
        )
        scan = ledger.get_scan(repository, candidate.digest)
    else:
        sd = parsed.detail
        new = scan_record(
            repository=repository,
            digest=sd.image_digest,
            status=sd.scan_status,
            counts=dict(sd.finding_severity_counts),
            at=parsed.time,
            event_id=parsed.id,
        )
        if new is None:
            reason = f"scan status {sd.scan_status} carries no verdict"
            report.decisions.append(_repo_decision(parsed, repository, Outcome.IGNORED, reason))
            return _finish(report, ledger, aws, settings, parsed)
        if dry_run:  # what remembering it would give, without writing
            scan = merge_scans(ledger.get_scan(repository, sd.image_digest), new)
        else:
            scan = ledger.remember_scan(new)
        candidate = Candidate(
            repository=repository,
            digest=sd.image_digest,
            tags=tuple(sd.image_tags),
            event_id=parsed.id,
            event_time=parsed.time,
            trigger="scan",
            registry=ecr_registry(parsed.account, parsed.region),
        )

    observed_at = time.time()  # the lease refuses if the services change after this read
    services = _tracking_services(aws, repository, settings.cluster_arn)
    if not services:
        reason = "no service in the cluster tracks this repository"
        report.decisions.append(_repo_decision(parsed, repository, Outcome.IGNORED, reason))
        return _finish(report, ledger, aws, settings, parsed)

    decide_and_act(report, candidate, services, scan, ledger, aws, settings, observed_at)
    return _finish(report, ledger, aws, settings, parsed)


def _tracking_services(aws: AwsClients, repository: str, cluster_arn: str) -> list[ServiceView]:
    arns = ecs_adapter.tagged_service_arns(aws.tagging, repository, cluster_arn)
    if not arns:
        return []
    return ecs_adapter.describe_services(aws.ecs, cluster_arn, arns)


def decide_and_act(  # noqa: PLR0917 - the one deploy path
    report: Report,
    cand: Candidate,
    services: list[ServiceView],
    scan: ScanRecord | None,
    ledger: Ledger,
    aws: AwsClients,
    settings: ImageEventsSettings,
    observed_at: float,
    *,
    approved: bool = False,
) -> None:
    """Decide for each service and act (unless ``report.dry_run``): the deploy path of
    pushes, scan results and approvals. ``approved``: an operator approved ``cand``
    for these services (``autopilot approve``), whatever the ledger says so far.
    ``observed_at`` (epoch seconds) was taken before ``services`` were read."""
    # 1. the ledger alone (no AWS reads)
    pending: list[tuple[ServiceView, ServiceConfig]] = []
    states: dict[str, ServiceLedgerState] = {}
    for svc in services:
        try:
            cfg = parse_service_config(svc.tags)
        except MalformedTag as exc:
            report.decisions.append(
                Decision(
                    service=svc.arn,
                    outcome=Outcome.REJECTED,
                    reason=f"tag {exc.key}={exc.value!r}: {exc.problem}",
                    repository=cand.repository,
                    digest=cand.digest,
                    notify=True,
                )
            )
            continue
        if cfg is None or cfg.repository != cand.repository:
            continue  # the tag moved since the tag index saw it
        state = states[svc.arn] = ledger.load_state(svc.arn)
        if approved:
            state = states[svc.arn] = state._replace(approved=state.approved | {cand.digest})
        early = image_plan.precheck(cand, svc, cfg, state, scan)
        if early is not None:
            report.decisions.append(early)
        else:
            pending.append((svc, cfg))
    if not pending:
        return

    # 2. running task definitions (one read per distinct revision) and images (one read)
    task_definitions: dict[str, tuple[dict[str, Any], list[dict[str, str]]]] = {}
    running: dict[str, ContainerImage] = {}
    ready: list[tuple[ServiceView, ServiceConfig]] = []
    for svc, cfg in pending:
        if svc.task_definition not in task_definitions:
            task_definitions[svc.task_definition] = ecs_adapter.describe_task_definition(
                aws.ecs, svc.task_definition
            )
        td, _tags = task_definitions[svc.task_definition]
        container = tracked_container(td, cfg.repository, cfg.container)
        if container is None:
            which = f"container {cfg.container!r}" if cfg.container else "no container"
            report.decisions.append(
                Decision(
                    service=svc.arn,
                    outcome=Outcome.REJECTED,
                    reason=f"{which} in {svc.task_definition} uses {cfg.repository}",
                    repository=cand.repository,
                    digest=cand.digest,
                    notify=True,
                )
            )
            continue
        running[svc.arn] = container
        ready.append((svc, cfg))
    if not ready:
        return

    same_repo = [c for c in running.values() if c.ref and c.ref.repository == cand.repository]
    by_digest, by_tag = ecr_adapter.describe_images(
        aws.ecr,
        cand.repository,
        [cand.digest, *(c.digest for c in same_repo if c.digest)],
        [c.tag for c in same_repo if c.tag and not c.digest],
    )
    cand_info = by_digest.get(cand.digest)
    if cand_info is None:
        for svc, _cfg in ready:
            report.decisions.append(
                image_plan.make_decision(
                    svc, cand, Outcome.IGNORED, "the image is no longer in the repository"
                )
            )
        return

    # 3. decide, then act
    for svc, cfg in ready:
        container = running[svc.arn]
        running_info = _running_info(container, cand, by_digest, by_tag)
        running_digest = container.digest or (running_info.digest if running_info else None)
        td, td_tags = task_definitions[svc.task_definition]
        plan = image_plan.decide(
            cand,
            svc,
            cfg,
            states[svc.arn],
            running=container,
            running_digest=running_digest,
            cand_info=cand_info,
            running_info=running_info,
            task_definition=td,
            task_definition_tags=td_tags,
        )
        report.decisions.append(plan.decision)
        _record_side(report, plan.decision, svc, ledger, settings, states[svc.arn])
        if plan.register is not None and plan.update is not None:
            pushed_at = cand_info.pushed_at
            _deploy(report, plan, svc, cand, ledger, aws, settings, observed_at, pushed_at)


def _record_side(  # noqa: PLR0917 - internal step of decide_and_act()
    report: Report,
    decision: Decision,
    svc: ServiceView,
    ledger: Ledger,
    settings: ImageEventsSettings,
    state: ServiceLedgerState,
) -> None:
    """What a decision writes to the ledger besides itself: a new pending approval, or the
    completed record of a deploy an earlier attempt made."""
    if decision.outcome == Outcome.ALREADY_RUNNING:
        _complete_earlier_deploy(report, decision, svc, ledger)
    elif decision.outcome == Outcome.PENDING_APPROVAL and decision.digest not in (
        state.pending_approval
    ):
        _request_approval(report, decision, ledger, settings)


def _request_approval(
    report: Report, decision: Decision, ledger: Ledger, settings: ImageEventsSettings
) -> None:
    """Record a pending approval that expires after ``approval_ttl_hours`` (an expired one
    is no longer pending: the next event for the digest asks again)."""
    ttl = settings.approval_ttl_hours * 3600
    if report.dry_run:
        expires = datetime.fromtimestamp(time.time() + ttl, UTC)
        decision.approval_expires = expires.strftime("%Y-%m-%dT%H:%M:%SZ")
        return
    assert decision.digest is not None
    approval = ledger.set_approval(
        decision.service,
        decision.digest,
        "pending",
        event_id=report.event_id,
        repository=decision.repository,
        tag=decision.tag,
        image=decision.image,
        ttl_seconds=ttl,
    )
    decision.approval_expires = approval.expires_iso


def _running_info(
    container: ContainerImage,
    cand: Candidate,
    by_digest: dict[str, ImageInfo],
    by_tag: dict[str, ImageInfo],
) -> ImageInfo | None:
    """What ECR knows of the image the service runs (None if not from this repository)."""
    if container.ref is None or container.ref.repository != cand.repository:
        return None
    if container.digest:
        return by_digest.get(container.digest)
    info = by_tag.get(container.tag) if container.tag else None
    if info is not None and info.digest == cand.digest:
        return None  # a moving tag now names the candidate: what the tasks run is unknown
    return info


def _deploy(  # noqa: PLR0917 - internal step of decide_and_act()
    report: Report,
    plan: image_plan.Plan,
    svc: ServiceView,
    cand: Candidate,
    ledger: Ledger,
    aws: AwsClients,
    settings: ImageEventsSettings,
    observed_at: float,
    pushed_at: datetime | None,
) -> None:
    assert plan.register is not None
    assert plan.update is not None
    decision = plan.decision
    register = Action(api="ecs:RegisterTaskDefinition", params=plan.register, service=svc.arn)
    update = Action(api="ecs:UpdateService", params=dict(plan.update), service=svc.arn)
    report.actions += [register, update]
    if report.dry_run:
        update.params["taskDefinition"] = f"<new revision of {plan.register['family']}>"
        return
    holder = f"{report.function}:{report.event_id}"
    try:
        ledger.acquire_lease(svc.arn, holder, settings.lease_seconds, unchanged_since=observed_at)
    except LeaseBusy as exc:
        _busy(report, decision, svc, exc)
        return

    def record(arn: str, state: str, deployment_id: str | None = None) -> DeployRecord:
        return DeployRecord(
            task_definition=arn,
            digest=cand.digest,
            tag=decision.tag,
            previous_task_definition=svc.task_definition,
            event_id=report.event_id,
            deployment_id=deployment_id,
            state=state,
            pushed_at=pushed_at,
        )

    new_arn: str | None = None
    recorded = False  # the revision has its "registered" record (a retry can reuse it)
    try:
        try:
            reusable = ledger.find_registered(svc.arn, cand.digest, svc.task_definition)
            if reusable is not None:  # registered by an attempt that never used it
                new_arn = reusable.task_definition
                register.result = {"taskDefinitionArn": new_arn, "reused": True}
            else:
                new_arn = ecs_adapter.register_task_definition(aws.ecs, plan.register)
                register.done, register.result = True, {"taskDefinitionArn": new_arn}
                ledger.record_deploy(svc.arn, record(new_arn, "registered"))
            recorded = True
            update.params["taskDefinition"] = new_arn
            update.result = ecs_adapter.update_service(aws.ecs, update.params)
            update.done = True
        except AwsCallFailed as exc:
            _deploy_failed(report, decision, register, update, svc, exc, new_arn)
            if new_arn is not None and not (recorded and exc.transient):
                # No retry would find it (no record), or none comes: never leave a
                # revision that no service uses. Its record goes only once it is gone.
                _drop_unused(report, ledger, aws, svc, new_arn, recorded=recorded)
            return
        # The service is moved: from here on a failure is bookkeeping, never a failed deploy.
        decision.task_definition = new_arn
        deployment_id = _our_deployment(update.result, new_arn)
        try:
            ledger.record_deploy(svc.arn, record(new_arn, "deployed", deployment_id))
        except AwsCallFailed as exc:
            # Retried: the retry finds the service on this revision, still recorded as
            # "registered", and completes the record (_complete_earlier_deploy).
            decision.reason += f"; its deploy record failed ({exc.code}): retried"
            report.retry_services.append(svc.arn)
            return
        _deregister_stale(report, ledger, aws, svc, keep=new_arn)
    finally:
        ledger.release_lease(svc.arn, holder, changed=update.done)
    logger.info(
        "deployed",
        service=svc.arn,
        digest=cand.digest,
        tag=decision.tag,
        task_definition=new_arn,
    )


def _deregister_stale(
    report: Report, ledger: Ledger, aws: AwsClients, svc: ServiceView, *, keep: str
) -> None:
    """Under the lease, after a deploy: revisions earlier attempts registered for the
    service and never used (built on a task definition it no longer runs) are deregistered.
    Best effort: a record is forgotten only once its revision is gone, so a failure here
    leaves it for the next deploy's clean-up instead of losing track of it."""
    try:
        stale = [r for r in ledger.list_registered(svc.arn) if r.task_definition != keep]
    except AwsCallFailed as exc:
        logger.warning("stale revisions not listed", service=svc.arn, code=exc.code)
        return
    for record in stale:
        _drop_unused(report, ledger, aws, svc, record.task_definition, recorded=True)


def _drop_unused(
    report: Report,
    ledger: Ledger,
    aws: AwsClients,
    svc: ServiceView,
    task_definition: str,
    *,
    recorded: bool,
) -> None:
    """Deregister a revision no service uses, then drop its record. If deregistering fails
    the record stays, so the next deploy's clean-up tries again; if dropping the record
    fails, the next clean-up's DeregisterTaskDefinition of it is a no-op and it goes then."""
    if not _deregister(report, aws, svc, task_definition) or not recorded:
        return
    try:
        ledger.forget_deploy(svc.arn, task_definition)
    except AwsCallFailed as exc:
        logger.warning("record of a deregistered revision kept", code=exc.code)


def _complete_earlier_deploy(
    report: Report, decision: Decision, svc: ServiceView, ledger: Ledger
) -> None:
    """The service runs a revision an earlier attempt registered and moved it to, but whose
    "deployed" record that attempt could not write: this is that deploy, completed."""
    if report.dry_run:
        return
    record = ledger.get_deploy(svc.arn, svc.task_definition)
    if record is None or record.state != "registered" or record.digest != decision.digest:
        return
    ledger.record_deploy(svc.arn, record._replace(state="deployed"))
    decision.outcome = Outcome.DEPLOYED
    decision.task_definition = svc.task_definition
    decision.reason = (
        f"deployed by an earlier attempt (event {record.event_id}), which moved the service "
        "to the revision but could not record it; recorded now"
    )


def _deploy_failed(  # noqa: PLR0917 - internal step of _deploy()
    report: Report,
    decision: Decision,
    register: Action,
    update: Action,
    svc: ServiceView,
    exc: AwsCallFailed,
    new_arn: str | None,
) -> None:
    (update if new_arn else register).error = f"{exc.code}: {exc.aws_message}"
    decision.outcome = Outcome.FAILED
    decision.reason = f"{exc.api} failed: {exc.code}"
    logger.warning("deploy failed", service=svc.arn, api=exc.api, code=exc.code)
    if exc.transient:
        # Lambda retries the event; the retry decides again and reuses the revision.
        decision.reason += " (transient: retried)"
        decision.notify = False
        report.retry_services.append(svc.arn)


def _our_deployment(result: dict[str, Any] | None, task_definition: str) -> str | None:
    """The new primary deployment's id, if UpdateService's answer shows it is ours."""
    if result and result.get("primaryTaskDefinition") == task_definition:
        value = result.get("deploymentId")
        return str(value) if value else None
    return None


def _busy(report: Report, decision: Decision, svc: ServiceView, exc: LeaseBusy) -> None:
    decision.outcome = Outcome.BUSY
    decision.reason = f"another change to the service is in flight ({exc.holder}); retried later"
    decision.notify = False
    report.retry_services.append(svc.arn)
    report.actions = [a for a in report.actions if a.service != svc.arn]


def _deregister(report: Report, aws: AwsClients, svc: ServiceView, arn: str) -> bool:
    """A registered revision that no service uses is deregistered (never left half-changed).
    False if that failed (the caller keeps its record)."""
    action = Action(
        api="ecs:DeregisterTaskDefinition", params={"taskDefinition": arn}, service=svc.arn
    )
    report.actions.append(action)
    try:
        ecs_adapter.deregister_task_definition(aws.ecs, arn)
        action.done = True
    except AwsCallFailed as exc:
        action.error = f"{exc.code}: {exc.aws_message}"
        logger.error("could not deregister unused revision", task_definition=arn, code=exc.code)
        return False
    return True


def _finish(
    report: Report,
    ledger: Ledger,
    aws: AwsClients,
    settings: ImageEventsSettings,
    event: ImageEvent,
) -> Report:
    return finish(
        report, ledger=ledger, aws=aws, topic_arn=settings.notices_topic_arn, event_time=event.time
    )


@logger.inject_lambda_context(correlation_id_path=correlation_paths.EVENT_BRIDGE)
@metrics.log_metrics(capture_cold_start_metric=True)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Lambda entry. Invalid input raises ``InvalidEvent`` (retries, then the DLQ, keep it)."""
    return lambda_entry(event, run, ImageEventsSettings)
