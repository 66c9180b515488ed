"""admission: an ECS Lambda lifecycle hook (PRE_SCALE_UP) -> SUCCEEDED, or FAILED for a
deployment of a quarantined or gate-failing digest, whoever started it.

1. gather, from AWS at hook time (the payload only names the service and the revision):
   the service with its tags (DescribeServices), the revision the deployment rolls out
   (DescribeServiceRevisions: each container's resolved digest), the ledger's quarantine
   of the service; with the gate on, what ECR knows of the tracked container's digest (one
   DescribeImages: an image index?; for an index its manifest, one BatchGetImage, and the
   revision's task definition for its platform) and its scan (DescribeImageScanFindings)
2. plan: ``logic.admission`` (the gate is image-events': ``logic.image_plan.scan_check``;
   a digest not scanned yet is answered IN_PROGRESS, and ECS asks again: the wait's start
   travels in the ``hookDetails`` ECS passes back)
3. record: the answer as a decision (``record.finish``: ledger, and a notice for FAILED)

Fail-closed: any failure to read that state answers FAILED with the reason. Every
invocation is decided anew (ECS may call again); its decision is recorded under
``<executionId>/<invocation>``.

AWS calls for a clean deployment with the gate on (besides the ledger): DescribeServices,
DescribeServiceRevisions, DescribeImages, DescribeImageScanFindings (4); an image index
adds BatchGetImage and DescribeTaskDefinition.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from autopilot import contract
from autopilot.aws import ecr, ecs
from autopilot.aws.clients import AwsClients
from autopilot.domain.images import Candidate, ecr_registry, task_platform
from autopilot.domain.plan import Plan
from autopilot.domain.report import Outcome
from autopilot.errors import AutopilotError, AwsCallFailed, InvalidEvent
from autopilot.events.admission import HOOK_DETAIL_TYPE, LifecycleHookPayload
from autopilot.events.envelope import Event
from autopilot.execute import carry_out
from autopilot.logic import admission, image_plan
from autopilot.logic.admission import Answer
from autopilot.logic.policy import Floors
from autopilot.logic.scan import from_ecr
from autopilot.record import Run, finish, invocation_id, open_run
from autopilot.settings import AdmissionSettings

#: what a malformed payload's decision is recorded under when it names no service
UNKNOWN_SERVICE = "lifecycle-hook/unknown"


def run(
    hook: LifecycleHookPayload,
    settings: AdmissionSettings,
    aws: AwsClients,
    *,
    dry_run: bool = False,
    invocation: str | None = None,
) -> Answer:
    """Answer one hook invocation. With ``dry_run`` nothing is recorded or announced."""
    now = datetime.now(UTC)
    try:
        r = _open(
            hook.execution_id, hook.account, hook.region, now, settings, aws, dry_run, invocation
        )
    except AwsCallFailed as exc:  # the ledger: nothing can be recorded either
        _not_recorded(exc)
        return admission.unreadable(hook.service_arn, f"{exc.api} failed: {exc.code}")
    try:
        answer = _decide(r, hook, settings, now)
    except AwsCallFailed as exc:
        answer = admission.unreadable(hook.service_arn, f"{exc.api} failed: {exc.code}")
    except AutopilotError as exc:
        answer = admission.unreadable(hook.service_arn, str(exc))
    return _finish(r, answer, now)


def malformed(
    payload: Any,
    error: InvalidEvent,
    settings: AdmissionSettings,
    aws: AwsClients,
    *,
    dry_run: bool = False,
    invocation: str | None = None,
) -> Answer:
    """FAILED for a payload that is not a lifecycle hook's, recorded and announced."""
    now = datetime.now(UTC)
    raw = payload if isinstance(payload, dict) else {}
    details = raw.get("executionDetails")
    service = details.get("serviceArn") if isinstance(details, dict) else None
    service = service if isinstance(service, str) and len(service) <= 600 else UNKNOWN_SERVICE
    execution = raw.get("executionId")
    execution = execution if isinstance(execution, str) and 0 < len(execution) <= 256 else "-"
    answer = admission.unreadable(service, str(error))
    try:
        r = _open(execution, settings.account, "-", now, settings, aws, dry_run, invocation)
    except AwsCallFailed as exc:
        _not_recorded(exc)
        return answer
    return _finish(r, answer, now)


def _open(  # noqa: PLR0917 - one run's parts
    execution_id: str,
    account: str,
    region: str,
    now: datetime,
    settings: AdmissionSettings,
    aws: AwsClients,
    dry_run: bool,
    invocation: str | None,
) -> Run:
    event = Event(
        id=execution_id,
        detail_type=HOOK_DETAIL_TYPE,
        source=contract.SOURCE_ECS,
        account=account if account.isdigit() and len(account) == 12 else settings.account,
        time=now,
        region=region if region != "-" else "us-east-1",
    )
    # every invocation is decided anew: its own key, never a duplicate of an earlier one
    invocation = invocation or invocation_id()
    return open_run(
        contract.ADMISSION.name,
        event,
        settings,
        aws,
        dry_run=dry_run,
        invocation=invocation,
        key=f"{execution_id}/{invocation}",
    )


def _finish(r: Run, answer: Answer, now: datetime) -> Answer:
    try:
        carry_out(r, Plan(answer.decision))
        finish(r, now)
    except AwsCallFailed as exc:
        _not_recorded(exc)
    return answer


def _not_recorded(exc: AwsCallFailed) -> None:
    """The answer stands (a refusal stays FAILED); only its record or notice is lost."""
    from autopilot.observability import logger  # noqa: PLC0415

    logger.warning("admission answer not recorded", api=exc.api, code=exc.code)


def _decide(
    r: Run, hook: LifecycleHookPayload, settings: AdmissionSettings, now: datetime
) -> Answer:
    service_arn = hook.service_arn
    cluster = ecs.managed_cluster_of(service_arn, settings.clusters)
    if cluster is None:
        return admission.ignored(
            service_arn, "unmanaged: a cluster the control plane does not manage"
        )
    # 1. gather: the service and its policy
    svc = ecs.describe_service(r.aws.ecs, cluster, service_arn)
    if svc is None:
        return admission.unreadable(service_arn, "the service is not active (DescribeServices)")
    checked = admission.policy_check(svc, Floors(settings.min_scan_gate))
    if isinstance(checked, Answer):
        return checked
    cfg = checked
    # ... the revision the deployment rolls out (ECS's record, not the payload's claim)
    revision = ecs.describe_service_revision(r.aws.ecs, hook.revision_arn)
    if revision.service_arn and revision.service_arn != svc.arn:
        return admission.unreadable(svc.arn, f"revision {revision.arn} is not this service's")
    # 2. quarantine, from the ledger
    quarantined = r.ledger.state.load(svc.arn).quarantined
    refused = admission.quarantine_check(svc, cfg, revision, quarantined)
    if refused is not None:
        return refused
    # 3. the scan gate on the tracked container's digest, from ECR now
    container = admission.tracked(cfg, revision)
    if container is None:
        which = f"container {cfg.container!r}" if cfg.container else "no container"
        return admission.refused(
            svc.arn,
            Outcome.REJECTED,
            f"{which} of revision {revision.arn} uses {cfg.repository}",
            repository=cfg.repository,
        )
    digest = admission.revision_digests(revision).get(container.name)
    if digest is None:
        return admission.unreadable(svc.arn, f"ECS resolved no digest for {container.image}")
    candidate = Candidate(
        repository=cfg.repository,
        digest=digest,
        tags=(),
        event_id=r.report.event_id,
        event_time=now,
        trigger="reconcile",
        registry=ecr_registry(hook.account, hook.region),
    )
    if cfg.scan == "off":
        return admission.gate_check(svc, cfg, candidate, None)
    by_digest, _ = ecr.describe_images(r.aws.ecr, cfg.repository, [digest], [])
    info = by_digest.get(digest)
    if info is None:
        return admission.unreadable(
            svc.arn, f"{cfg.repository}@{digest} is not in the repository", digest=digest
        )
    gated, scanned = digest, ""
    if info.is_index:
        index = ecr.image_manifest(r.aws.ecr, cfg.repository, digest)
        td, _tags = ecs.describe_task_definition(r.aws.ecs, revision.task_definition)
        platform = task_platform(td)
        child, why_not = image_plan.index_manifest_for(index, platform)
        if child is None:
            return admission.refused(
                svc.arn, Outcome.BLOCKED, why_not, repository=cfg.repository, digest=digest
            )
        gated, scanned = child, f"{platform} manifest {child}"
    findings = ecr.scan_findings(r.aws.ecr, cfg.repository, gated)
    scan = from_ecr(
        repository=cfg.repository,
        digest=gated,
        findings=findings,
        at=candidate.event_time,
        event_id=r.report.event_id,
    )
    since = admission.waiting_since(hook.hook_details, now)
    return admission.gate_check(svc, cfg, candidate, scan, scanned=scanned, now=now, since=since)
