"""image-events: an ECR push or a scan result -> scan-gated redeploys pinned by digest; a
finding or a rescan of a running digest -> its re-gate.

1. gather: the candidate image (only its repository and digest come from the event: an
   event's tags and scan counts are claims anyone allowed to invoke the function can
   forge), the services tagged with its repository, each one's tags and ledger state; for
   the services the ledger does not settle, their running task definitions (one read per
   revision), what ECR knows of the candidate and of the running images (one
   DescribeImages: the tags that drive "newer", the manifest media type), for an image
   index its manifest (one BatchGetImage), and ECR's scan of each digest a gate is on (one
   DescribeImageScanFindings per digest, none when every gate is off), remembered in the
   ledger as read
2. plan: ``logic.image_plan`` for each service (``ledger_check`` on the ledger alone,
   ``scan_check`` on ECR's scan, then ``decide``)
3. carry out: ``execute.carry_out`` for each plan (lease, RegisterTaskDefinition pinned to
   the digest, UpdateService)
4. record: ``record.finish`` (ledger, notices)

The re-gate (``logic.regate``): a service that runs the candidate digest and whose gate
blocks it now (a rescan, or an ``Inspector2 Finding``: trigger ``finding``) is not stopped:
it is recorded ``vulnerable`` and the digest marked for it (``store.vulnerable``), and ONE
notice names all such services and the findings, unless each was announced already for
the same verdict. A finding deploys nothing: a service that does not run its digest is
left alone (recorded ``ignored`` for the image when no service runs it). Each service's
marks of a digest it no longer runs, or whose gate now passes, are cleared with its plan.
A finding costs the reads of a push (GetResources, DescribeServices,
DescribeTaskDefinition per revision, DescribeImages, and DescribeImageScanFindings only
when some service runs its digest) and at most one Publish.

``deploy`` is steps 1-3 for one candidate and given services: ``autopilot approve`` deploys
an approved digest through it.

Image indexes (multi-architecture images, and buildx's default push with a provenance
attestation): ECR cannot scan an index, so the gate is on the index's manifest for the
platform of the service's task definition (``runtimePlatform``; linux/amd64 when none is
declared), attestation manifests skipped; an index with no manifest for that platform is
rejected with the platforms it has. The revision pins the index digest, not the child's:
an index digest is content-addressed like any manifest, so it fixes its children and ECS,
resolving the task's platform itself, pulls exactly the child that was scanned; and the
service keeps running the digest the push named, which carries the tags (ECR tags the
index, not its children), so "already running", SemVer "newer", quarantine, rollback and
lifecycle protection all key on one digest. Not covered: a task definition that
declares no ``runtimePlatform`` is gated on linux/amd64; if ECS places it on an ARM
instance, the arm64 child runs, which the gate did not check.

AWS calls for a push that deploys one service (besides the ledger and the notice), 7:
GetResources, DescribeServices, DescribeTaskDefinition, DescribeImages,
DescribeImageScanFindings, RegisterTaskDefinition, UpdateService (6 with the scan gate off,
no scan read); a push of an image index adds BatchGetImage (8).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from functools import partial
from typing import Any, Literal

from autopilot import contract
from autopilot.aws import cloudwatch, ecr, ecs
from autopilot.aws.clients import AwsClients
from autopilot.contract import IMAGE_EVENTS
from autopilot.domain.images import (
    Candidate,
    ContainerImage,
    ImageInfo,
    ecr_registry,
    task_platform,
    tracked_container,
)
from autopilot.domain.plan import PinnedDeploy, Plan, Write
from autopilot.domain.records import DeployRecord, ScanRecord, ServiceLedgerState, iso
from autopilot.domain.report import Action, Decision, Outcome, Report
from autopilot.domain.service import Service
from autopilot.errors import MalformedTag, NotFound
from autopilot.events.image import EcrImageActionEvent, ImageEvent, Inspector2FindingEvent
from autopilot.execute import carry_out
from autopilot.flows.guards import guarded
from autopilot.logic import image_plan, regate
from autopilot.logic.policy import Floors, ServiceConfig, service_config
from autopilot.logic.rollout import AdmissionHook
from autopilot.logic.scan import from_ecr, scan_record
from autopilot.record import Run, finish, open_run
from autopilot.settings import ImageEventsSettings
from autopilot.store.ledger import Ledger


def run(
    event: ImageEvent,
    settings: ImageEventsSettings,
    aws: AwsClients,
    *,
    dry_run: bool = False,
    invocation: str | None = None,
) -> Report:
    """Handle one image event. With ``dry_run`` the plan is returned and nothing is changed."""
    ledger = Ledger(aws.dynamodb, settings.ledger_table)
    r = open_run(IMAGE_EVENTS.name, event, settings, aws, dry_run=dry_run, invocation=invocation)
    if r.report.duplicate:
        return r.report
    repository = event.detail.repository_name
    if r.foreign or not settings.repository_filter.covers(repository):
        reason = r.foreign or (
            f"the control plane does not manage {repository} ({settings.repositories})"
        )
        carry_out(r, Plan(_repo_decision(event, Outcome.IGNORED, reason)))
        return finish(r, event.time)
    candidate, ignored = _candidate(r, event, settings.retention_prefix)
    if candidate is None:
        carry_out(r, Plan(_repo_decision(event, Outcome.IGNORED, ignored)))
        return finish(r, event.time)
    observed_at = ledger.leases.now()  # the lease refuses if the services change after this
    services = _tracking_services(aws, repository, settings.clusters)
    if not services:
        reason = "no service in the managed clusters tracks this repository"
        carry_out(r, Plan(_repo_decision(event, Outcome.IGNORED, reason)))
        return finish(r, event.time)
    deploy(
        r,
        candidate,
        services,
        None,
        observed_at=observed_at,
        approval_ttl_hours=settings.approval_ttl_hours,
        floors=floors_of(settings),
    )
    return finish(r, event.time)


def floors_of(settings: ImageEventsSettings) -> Floors:
    """The config's floors under the scan and approval tags, as the CDK app set them."""
    hook = (
        AdmissionHook(settings.admission_function_arn, settings.admission_role_arn)
        if settings.admission_function_arn
        else None
    )
    return Floors(
        settings.min_scan_gate,
        frozenset(settings.manual_approval_clusters),
        pause_timeout_minutes=settings.pause_timeout_minutes,
        admission_hook=hook,
    )


def _candidate(r: Run, event: ImageEvent, reserved: str) -> tuple[Candidate | None, str]:
    """The image the event offers, or None and why it offers none. Only the repository and
    the digest are taken from the event: its tags and its scan counts are claims, and the
    decisions read both from ECR (``deploy``). A scan event is only a cue to look again;
    one whose status carries no verdict is ignored, and so is the push of a tag under the
    ``reserved`` prefix (the reconciler moving a protective tag). The ledger's scan record
    is returned as it stands (a record of earlier reads, not a verdict)."""
    repository = event.detail.repository_name
    registry = ecr_registry(event.account, event.region)
    trigger: Literal["push", "scan", "finding"]
    if isinstance(event, EcrImageActionEvent):
        d = event.detail
        if d.action_type != "PUSH" or d.result != "SUCCESS" or not d.image_digest:
            return None, f"{d.action_type} {d.result}: only successful pushes deploy"
        if reserved and d.image_tag and d.image_tag.startswith(reserved):
            # the reconciler moved a protective tag (PutImage of the image's own manifest)
            return None, f"tag {d.image_tag} is a protective tag (prefix {reserved}), not a release"
        digest, trigger = d.image_digest, "push"
    elif isinstance(event, Inspector2FindingEvent):
        # a finding created, updated or closed: a cue to re-gate the services running the
        # digest (its severity and status are claims: the gate reads ECR's scan)
        digest, trigger = event.detail.image_digest, "finding"
        digest = r.ledger.scans.index_of(repository, digest) or digest
    else:
        s = event.detail
        claimed = scan_record(
            repository=repository,
            digest=s.image_digest,
            status=s.scan_status,
            counts={},
            at=event.time,
            event_id=event.id,
        )
        if claimed is None:
            return None, f"scan status {s.scan_status} carries no verdict"
        digest, trigger = s.image_digest, "scan"
        digest = r.ledger.scans.index_of(repository, digest) or digest
    candidate = Candidate(
        repository=repository,
        digest=digest,
        tags=(),  # ECR's, once DescribeImages has been read
        event_id=event.id,
        event_time=event.time,
        trigger=trigger,
        registry=registry,
    )
    return candidate, ""


def _tracking_services(
    aws: AwsClients, repository: str, clusters: tuple[str, ...]
) -> list[Service]:
    """The managed clusters' services tagged with ``repository`` (one tag query; one
    DescribeServices per cluster that has some, 10 services a call)."""
    tagged = ecs.tagged_service_arns(aws.tagging, repository, clusters)
    return [
        s for cluster, arns in tagged.items() for s in ecs.describe_services(aws.ecs, cluster, arns)
    ]


def deploy(
    r: Run,
    candidate: Candidate,
    services: list[Service],
    scan: ScanRecord | None,
    *,
    observed_at: float,
    approval_ttl_hours: int,
    floors: Floors,
    approved: bool = False,
    said: str = "",
) -> None:
    """Plan and carry out ``candidate`` for each of ``services``, each under the config's
    ``floors`` (its effective scan gate and approval). ``approved``: an operator
    approved it for these services (``autopilot approve``), whatever the ledger says so far;
    ``said`` starts every decision's reason (who approved). ``observed_at`` (epoch seconds)
    was taken before ``services`` were read. ``scan`` is the ledger's record of an earlier
    read, if the caller has one: the gate never rests on it, but on what ECR says now."""
    del scan  # the gate reads ECR (``_scans``)
    # 1. the ledger alone settles some services, without an AWS read
    plans, pending, known_good = _by_the_ledger(
        r, candidate, services, floors=floors, approved=approved
    )
    in_use = _in_use(services, known_good)
    regated: list[regate.Regated] = []
    elsewhere: list[Service] = []  # a finding's: the services that do not run the digest
    clears: dict[str, tuple[Write, ...]] = {}
    # 2. AWS: the running containers (one read per distinct revision) and images (one read)
    more, ready, task_definitions = _running(r, candidate, pending)
    plans += more
    if ready:
        same_repo = [c for *_, c in ready if c.ref and c.ref.repository == candidate.repository]
        by_digest, by_tag = ecr.describe_images(
            r.aws.ecr,
            candidate.repository,
            [candidate.digest, *(c.digest for c in same_repo if c.digest)],
            [c.tag for c in same_repo if c.tag and not c.digest],
        )
        cand_info = by_digest.get(candidate.digest)
        if cand_info is not None:  # the image's tags are ECR's, never the event's
            candidate = candidate._replace(tags=cand_info.tags)
        if candidate.trigger == "finding":
            # a finding re-gates what runs the digest; it deploys nothing elsewhere (and
            # reads no scan when no service runs it)
            runs = [
                x for x in ready if _runs(x[3], candidate, by_digest, by_tag) == candidate.digest
            ]
            elsewhere = [svc for svc, *_ in ready if all(svc is not y[0] for y in runs)]
            ready = runs
        # 3. what the scan gate is on (an index: its manifest for each task's platform), and
        # what ECR says of that scan now (one read per digest, none for a gate that is off)
        gated = _gated_digests(r, candidate, cand_info, ready, task_definitions)
        scans = _scans(r, candidate, gated, ready)
        expires = r.ledger.table.epoch() + approval_ttl_hours * 3600
        alarms: dict[str, bool] = {}  # deployment alarm name -> it exists (read once)
        # 4. decide, service by service
        for svc, cfg, state, container in ready:
            if cand_info is None:
                reason = "the image is no longer in the repository"
                decision = image_plan.make_decision(svc, candidate, Outcome.IGNORED, reason)
                plans.append((svc, Plan(decision)))
                continue
            digest, why_not = gated[svc.arn]
            if digest is None:
                plans.append((svc, Plan(_rejected(svc, candidate, why_not))))
                continue
            scanned = "" if digest == candidate.digest else f"{why_not} manifest {digest}"
            early = image_plan.scan_check(candidate, svc, cfg, scans.get(digest), scanned=scanned)
            running_info = _running_info(container, candidate, by_digest, by_tag)
            running_digest = _runs(container, candidate, by_digest, by_tag)
            clears[svc.arn] = _cleared(
                r, svc, state, running_digest, candidate, passes=early is None
            )
            if running_digest == candidate.digest and early and early.outcome is Outcome.BLOCKED:
                # the digest it runs now fails its gate: re-gated, nothing stopped
                regated.append(
                    regate.Regated(svc, cfg.scan, state, scans.get(digest), early.reason)
                )
                continue
            if early is not None:
                plans.append((svc, Plan(early)))
                continue
            td, td_tags = task_definitions[svc.task_definition]
            planned = image_plan.decide(
                candidate,
                svc,
                cfg,
                state,
                running=container,
                running_digest=running_digest,
                cand_info=cand_info,
                running_info=running_info,
                task_definition=td,
                task_definition_tags=td_tags,
                running_record=(
                    r.ledger.deploys.get(svc.arn, svc.task_definition)
                    if running_digest == candidate.digest
                    else None
                ),
                approval_expires=iso(datetime.fromtimestamp(expires, UTC)),
                scanned=scanned,
                pause_minutes=floors.pause_timeout_minutes,
            )
            refused = _unknown_alarms(r, svc, cfg, candidate, alarms) if planned.update else None
            plans.append(
                (
                    svc,
                    refused
                    or _plan(r, planned, svc, candidate, cand_info, in_use, observed_at, expires),
                )
            )
    # 5. the re-gate, 6. carry out
    _carry_out(r, candidate, plans, regated, elsewhere=elsewhere, clears=clears, said=said)


def _carry_out(
    r: Run,
    candidate: Candidate,
    plans: list[Planned],
    regated: list[regate.Regated],
    *,
    elsewhere: list[Service],
    clears: dict[str, tuple[Write, ...]],
    said: str,
) -> None:
    """``deploy``'s last steps: the re-gate of the services that run the digest (each
    marked vulnerable, one notice for them all: ``logic.regate``; nothing running is
    stopped), then every plan carried out, each with the vulnerable marks it clears."""
    nothing_decided = not plans and not regated
    regated_plan = regate.plan(candidate, regated)
    for g in regated_plan.services:
        mark = Write("mark the digest vulnerable", partial(r.ledger.vulnerable.mark, *g.mark_for))
        plans.append((g.service, Plan(g.decision, writes=(mark,))))
    # 6. carry out (a service ECS does not deploy is never changed: guards.guarded)
    for svc, plan in plans:
        reason = said + plan.decision.reason
        said_plan = plan._replace(
            decision=replace(plan.decision, reason=reason),
            writes=(*plan.writes, *clears.get(svc.arn, ())),
        )
        carry_out(r, guarded(r, svc, said_plan, paused=False))
    if regated_plan.notice is not None:
        carry_out(r, Plan(regated_plan.notice))
    elif candidate.trigger == "finding" and nothing_decided:
        reason = f"no managed service runs this digest ({len(elsewhere)} track the repository)"
        carry_out(r, Plan(_image_decision(candidate, Outcome.IGNORED, reason)))


def _cleared(
    r: Run,
    svc: Service,
    state: ServiceLedgerState,
    running_digest: str | None,
    candidate: Candidate,
    *,
    passes: bool,
) -> tuple[Write, ...]:
    """The service's vulnerable marks to clear (``store.vulnerable``): of a digest it no
    longer runs, and of the candidate when it runs it and its gate passes now."""
    if running_digest is None:
        return ()  # what it runs is unknown: keep them
    return tuple(
        Write("clear the vulnerable mark", partial(r.ledger.vulnerable.clear, svc.arn, m.digest))
        for m in state.vulnerable
        if m.digest != running_digest or (m.digest == candidate.digest and passes)
    )


def _image_decision(candidate: Candidate, outcome: Outcome, reason: str) -> Decision:
    """A decision about the candidate image as a whole (no service runs it)."""
    return Decision(
        service=f"repository/{candidate.repository}",
        outcome=outcome,
        reason=reason,
        repository=candidate.repository,
        digest=candidate.digest,
    )


def _unknown_alarms(
    r: Run, svc: Service, cfg: ServiceConfig, candidate: Candidate, known: dict[str, bool]
) -> Plan | None:
    """The deploy refused when a deployment alarm the service names (``autopilot:alarms``)
    is not one CloudWatch holds, else None: one DescribeAlarms for the names not yet read
    in this run (``known``: name -> it exists)."""
    unread = [n for n in cfg.alarms if n not in known]
    if unread:
        found = cloudwatch.existing_alarms(r.aws.cloudwatch, unread)
        known.update({n: n in found for n in unread})
    missing = [n for n in cfg.alarms if not known[n]]
    if not missing:
        return None
    reason = f"{contract.TAG_ALARMS} names no such alarm: {' '.join(missing)}"
    return Plan(_rejected(svc, candidate, reason))


def _gated_digests(
    r: Run,
    candidate: Candidate,
    cand_info: ImageInfo | None,
    ready: list[Ready],
    task_definitions: TaskDefinitions,
) -> dict[str, tuple[str | None, str]]:
    """For each service, the digest its scan gate is on: the candidate's, or for an image
    index (which ECR cannot scan) the index's manifest for the platform of the service's
    task definition (one BatchGetImage for all). Each is (digest, its platform) or, when
    the index has no manifest for that platform, (None, why)."""
    if cand_info is None:
        return {}  # no longer in the repository: nothing to gate
    if not cand_info.is_index:
        return {svc.arn: (candidate.digest, "") for svc, *_ in ready}
    try:
        index = ecr.image_manifest(r.aws.ecr, candidate.repository, candidate.digest)
    except NotFound:
        index = {}
    out: dict[str, tuple[str | None, str]] = {}
    for svc, *_ in ready:
        platform = task_platform(task_definitions[svc.task_definition][0])
        digest, why_not = image_plan.index_manifest_for(index, platform)
        out[svc.arn] = (digest, str(platform)) if digest else (None, why_not)
    return out


def _scans(
    r: Run,
    candidate: Candidate,
    gated: dict[str, tuple[str | None, str]],
    ready: list[Ready],
) -> dict[str, ScanRecord | None]:
    """What ECR says now of the scan of each digest a gate that is on needs (one
    DescribeImageScanFindings per digest), remembered in the ledger as read (a record, not
    the verdict: the gate uses this value). An index's manifest is noted as the index's,
    so that its scan event finds the index."""
    out: dict[str, ScanRecord | None] = {}
    for svc, cfg, *_ in ready:
        digest = gated[svc.arn][0] if svc.arn in gated else None
        if digest is None or digest in out or cfg.scan == "off":
            continue
        if digest != candidate.digest and not r.dry_run:
            r.ledger.scans.note_index(candidate.repository, digest, candidate.digest)
        findings = ecr.scan_findings(r.aws.ecr, candidate.repository, digest)
        read = from_ecr(
            repository=candidate.repository,
            digest=digest,
            findings=findings,
            at=candidate.event_time,
            event_id=candidate.event_id,
        )
        out[digest] = read
        if read is not None and not r.dry_run:
            r.ledger.scans.remember(read)
    return out


Planned = tuple[Service, Plan]
Pending = tuple[Service, ServiceConfig, ServiceLedgerState]
Ready = tuple[Service, ServiceConfig, ServiceLedgerState, ContainerImage]
TaskDefinitions = dict[str, tuple[dict[str, Any], list[dict[str, str]]]]


def _by_the_ledger(
    r: Run,
    candidate: Candidate,
    services: list[Service],
    *,
    floors: Floors,
    approved: bool,
) -> tuple[list[Planned], list[Pending], list[str]]:
    """Each service's effective config (its tags under the floors) and ledger state: the
    plans they settle (a bad tag, a pause, a quarantine), the services left to look at
    further, and the last known good revisions of the services whose state was read."""
    plans: list[Planned] = []
    pending: list[Pending] = []
    known_good: list[str] = []
    for svc in services:
        try:
            cfg = service_config(svc.tags, svc.cluster_arn, floors)
        except MalformedTag as exc:
            reason = f"tag {exc.key}={exc.value!r}: {exc.problem}"
            plans.append((svc, Plan(_rejected(svc, candidate, reason))))
            continue
        if cfg is None or cfg.repository != candidate.repository:
            continue  # the tag moved since the tag index saw it
        state = r.ledger.state.load(svc.arn)
        if state.last_known_good is not None:
            known_good.append(state.last_known_good.task_definition)
        if approved:
            state = state._replace(approved=state.approved | {candidate.digest})
        early = image_plan.ledger_check(candidate, svc, state)
        if early is not None:
            plans.append((svc, Plan(early)))
        else:
            pending.append((svc, cfg, state))
    return plans, pending, known_good


def _in_use(services: list[Service], known_good: list[str]) -> frozenset[str]:
    """The revisions a deploy's clean-up never deregisters, whatever the ledger says of
    them: a revision recorded as registered may run after all (its deploy record failed
    after UpdateService and no retry completed it), and ECS refuses UpdateService to an
    INACTIVE revision, so a rollback to it would fail.

    Covered, from what the deploy read anyway (no extra call), for each service it was
    given (for a push: every service in the managed clusters tagged with the repository,
    so every such service sharing the family): its current task definition (for the
    service being deployed, the revision it replaces, the deploy's rollback target), that
    of each of its deployments (what an in-flight deployment replaces), and its last known
    good in the ledger (``known_good``). Not covered: the last known good of such a
    service skipped before its ledger state is read (a malformed tag, a tag that moved);
    services outside that set (untagged, another repository's, unmanaged clusters), whose
    use of a revision only a describe of every service would show.
    """
    current = {svc.task_definition for svc in services}
    deploying = {d.task_definition for svc in services for d in svc.deployments}
    return frozenset(current | deploying | set(known_good))


def _running(
    r: Run, candidate: Candidate, pending: list[Pending]
) -> tuple[list[Planned], list[Ready], TaskDefinitions]:
    """The container each service runs from the repository (its task definition read once
    per distinct revision); a service with none is rejected."""
    plans: list[Planned] = []
    ready: list[Ready] = []
    task_definitions: TaskDefinitions = {}
    for svc, cfg, state in pending:
        if svc.task_definition not in task_definitions:
            task_definitions[svc.task_definition] = ecs.describe_task_definition(
                r.aws.ecs, svc.task_definition
            )
        td = task_definitions[svc.task_definition][0]
        container = tracked_container(td, cfg.repository, cfg.container)
        if container is None:
            which = f"container {cfg.container!r}" if cfg.container else "no container"
            reason = f"{which} in {svc.task_definition} uses {cfg.repository}"
            plans.append((svc, Plan(_rejected(svc, candidate, reason))))
            continue
        ready.append((svc, cfg, state, container))
    return plans, ready, task_definitions


def _plan(  # noqa: PLR0917 - the parts of one service's plan
    r: Run,
    planned: image_plan.Plan,
    svc: Service,
    candidate: Candidate,
    cand_info: ImageInfo,
    in_use: frozenset[str],
    observed_at: float,
    expires: int,
) -> Plan:
    """The decision with its ledger writes and its deploy, as the actor carries it out: a
    revision an earlier attempt registered for this digest on this base is reused, the
    other unused ones are deregistered once the service is moved, never one ``in_use``
    (``_in_use``: current, replaced, deploying or last known good)."""
    decision = planned.decision
    writes: list[Write] = []
    if planned.completes is not None:
        write = partial(r.ledger.deploys.record, svc.arn, planned.completes)
        writes.append(Write("complete the earlier attempt's deploy record", write))
    if planned.asks_approval:
        ask = partial(
            r.ledger.approvals.set,
            svc.arn,
            candidate.digest,
            "pending",
            event_id=r.report.event_id,
            repository=decision.repository,
            tag=decision.tag,
            image=decision.image,
            expires_epoch=expires,
        )
        writes.append(Write("record the pending approval", ask))
    if planned.register is None or planned.update is None:
        return Plan(decision, writes=tuple(writes))
    # a deploy's own facts: the revisions earlier attempts registered and never used
    registered = r.ledger.deploys.list_registered(svc.arn)
    reuse = next(
        (
            x.task_definition
            for x in registered
            if x.digest == candidate.digest and x.previous_task_definition == svc.task_definition
        ),
        None,
    )
    step = PinnedDeploy(
        register=Action(api="ecs:RegisterTaskDefinition", params=planned.register, service=svc.arn),
        update=Action(
            api="ecs:UpdateService",
            params={
                **planned.update,
                "taskDefinition": f"<new revision of {planned.register['family']}>",
            },
            service=svc.arn,
        ),
        record=DeployRecord(
            task_definition="",
            digest=candidate.digest,
            tag=decision.tag,
            previous_task_definition=svc.task_definition,
            event_id=r.report.event_id,
            pushed_at=cand_info.pushed_at,
        ),
        drop=_deregister(svc, None),
        reuse=reuse,
        stale=tuple(
            _deregister(svc, x.task_definition)
            for x in registered
            if x.task_definition != reuse and x.task_definition not in in_use
        ),
    )
    return Plan(
        decision, steps=(step,), writes=tuple(writes), lease=svc.arn, observed_at=observed_at
    )


def _deregister(svc: Service, task_definition: str | None) -> Action:
    """DeregisterTaskDefinition of a revision no service uses (``None``: the new one)."""
    return Action(
        api="ecs:DeregisterTaskDefinition",
        params=ecs.task_definition_params(task_definition or "<the new revision>"),
        service=svc.arn,
    )


def _runs(
    container: ContainerImage,
    candidate: Candidate,
    by_digest: dict[str, ImageInfo],
    by_tag: dict[str, ImageInfo],
) -> str | None:
    """The digest the service's container runs (None: unknown)."""
    info = _running_info(container, candidate, by_digest, by_tag)
    return container.digest or (info.digest if info else None)


def _running_info(
    container: ContainerImage,
    candidate: Candidate,
    by_digest: dict[str, ImageInfo],
    by_tag: dict[str, ImageInfo],
) -> ImageInfo | None:
    """What ECR knows of the image the service runs (None if not from this repository)."""
    if container.ref is None or container.ref.repository != candidate.repository:
        return None
    if container.digest:
        return by_digest.get(container.digest)
    info = by_tag.get(container.tag) if container.tag else None
    if info is not None and info.digest == candidate.digest:
        return None  # a moving tag now names the candidate: what the tasks run is unknown
    return info


def _rejected(svc: Service, candidate: Candidate, reason: str) -> Decision:
    return Decision(
        service=svc.arn,
        outcome=Outcome.REJECTED,
        reason=reason,
        repository=candidate.repository,
        digest=candidate.digest,
        notify=True,
    )


def _repo_decision(event: ImageEvent, outcome: Outcome, reason: str) -> Decision:
    """A decision about the repository as a whole (no service tracks the image)."""
    repository = event.detail.repository_name
    return Decision(
        service=f"repository/{repository}",
        outcome=outcome,
        reason=reason,
        repository=repository,
        tag=event.detail.image_tag if isinstance(event, EcrImageActionEvent) else None,
        digest=event.detail.image_digest,
    )
