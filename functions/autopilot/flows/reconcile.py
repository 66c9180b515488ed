"""reconciler: on its schedule, deploy what each service's policy would deploy now, if that
is not what runs (level-triggered: it catches pushes whose event was lost or sat in a DLQ,
pushes held by a pause that has ended, approvals that expired, which are asked for again).

1. gather: every managed service tagged ``autopilot:repository`` (one GetResources for the
   tag key, any repository; one DescribeServices per 10 services of a cluster), its tags
   under the config's floors (a malformed tag, a repository the control plane does not
   manage: skipped, the event path reports them), per repository ECR's images once
   (``ecr.list_images``: paged DescribeImages, tags, push times, digests), per service its
   running task definition (one DescribeTaskDefinition per distinct revision)
2. plan: ``logic.sweep.policy_pick`` for each service; a service already running its pick
   is done (nothing recorded); the others are grouped by repository and pick
3. carry out and record: each group through the image flow, ``flows.image.deploy``, as one
   candidate with trigger ``reconcile`` and event id ``reconcile:<schedule event id>``:
   the same lease, ledger, scan gate read from ECR at decision time, approval, notices and
   dry run, and its refusals: an image older than what runs is never deployed, and a
   service the event path moved to the image meanwhile is "already running"
   (``record.finish`` records the decisions); a service whose pick the flow refuses
   (blocked by its scan gate, quarantined) is offered its next pick, up to ``FALLBACKS``
   times, while ECR holds what it runs: so a running image that turned vulnerable (the
   re-gate, ``logic.regate``) is replaced by the newest image that may deploy, never by an
   older one
4. retention, if time is left, per repository: the protective tags follow what its services
   run and their last known good (``flows.retention``: no call when every tag is right)
5. clean up, if time is left: the intents older than a lease, of any service (one ledger
   Query, ``store.deploys.left_intents``), which an invocation killed mid-deploy left and
   no later deploy of their service has settled: under that service's lease, the
   revisions registered under them that no record names are deregistered
   (``execute.reap_left``; a DescribeTaskDefinition per revision looked at, a
   DeregisterTaskDefinition per revision left)

Time budget: before each repository, and between chunks of ``DEPLOY_CHUNK`` deploys, the
sweep checks the invocation's remaining time; under ``RESERVE_MS`` it stops, records each
service and repository it did not reach as ``deferred``, and the ledger (``store.sweeps``)
makes the next sweep start at the first of them (the services it did deploy there are
then no-ops). A
service whose lease is busy, or whose deploy failed, is left to the next sweep too (no
retry of the whole sweep).

AWS calls per sweep (besides the ledger and the notices), for S tracked services in the
managed clusters, n_c of them in cluster c, R repositories holding P_r pages of 1,000
tagged images each, and D distinct running revisions:

    ceil(S / 100) GetResources + sum_c ceil(n_c / 10) DescribeServices
    + sum_r P_r DescribeImages + D DescribeTaskDefinition

with nothing to deploy (D <= S: at most S + ceil(S/10) + ceil(S/100) + R calls; a last
page that is full may carry a token, so one GetResources more when S is a multiple of
100: measured 113 calls at S = 100, one repository, 100 revisions); each chunk of up to
``DEPLOY_CHUNK`` services of one (repository, pick) that does act adds the image flow's
calls for it (``flows.image``: DescribeTaskDefinition per distinct revision, one
DescribeImages, one DescribeImageScanFindings per gated digest, RegisterTaskDefinition
and UpdateService per service deployed).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any, NamedTuple

from autopilot.aws import ecr, ecs
from autopilot.aws.clients import AwsClients
from autopilot.contract import RECONCILER
from autopilot.domain.images import Candidate, ImageInfo, ecr_registry, tracked_container
from autopilot.domain.plan import Plan
from autopilot.domain.report import Decision, Outcome, Report
from autopilot.domain.service import Service
from autopilot.errors import MalformedTag, NotFound
from autopilot.events.schedule import SweepEvent
from autopilot.execute import carry_out, reap_left
from autopilot.flows import image, retention
from autopilot.logic import sweep
from autopilot.logic.policy import Floors, ServiceConfig, service_config
from autopilot.record import Run, finish, open_run
from autopilot.settings import ReconcilerSettings
from autopilot.store.deploys import Intent
from autopilot.store.sweeps import Sweeps

#: A sweep stops before a repository, or a chunk of deploys, when less than this is left of
#: the invocation (ms).
RESERVE_MS = 15_000
#: Services deployed per call of the image flow; the time left is checked between chunks.
DEPLOY_CHUNK = 25

#: How many times a service whose pick the image flow refused is offered its next pick
FALLBACKS = 3
#: What the image flow refuses a pick for that a later pick may not have
REFUSED = frozenset({Outcome.BLOCKED, Outcome.QUARANTINED})

Tracked = dict[str, list[tuple[Service, ServiceConfig]]]


class _Running(NamedTuple):
    """A tracked service and what it runs (its digest, None if unknown, and tags)."""

    service: Service
    config: ServiceConfig
    digest: str | None
    tags: list[str]


class _How(NamedTuple):
    """What every deploy of one sweep shares."""

    sweep_id: str
    event: SweepEvent
    observed_at: float
    approval_ttl_hours: int
    floors: Floors


def run(  # noqa: PLR0915 - one linear sweep, top to bottom
    event: SweepEvent,
    settings: ReconcilerSettings,
    aws: AwsClients,
    *,
    dry_run: bool = False,
    invocation: str | None = None,
    remaining_ms: Callable[[], int] | None = None,
) -> Report:
    """One sweep. With ``dry_run`` the plans are returned and nothing is changed;
    ``remaining_ms``: the invocation's time left (None: no limit)."""
    sweep_id = f"reconcile:{event.id}"
    r = open_run(
        RECONCILER.name, event, settings, aws, dry_run=dry_run, invocation=invocation, key=sweep_id
    )
    if r.report.duplicate:
        return r.report
    if r.foreign:
        carry_out(r, Plan(Decision(service="sweep", outcome=Outcome.IGNORED, reason=r.foreign)))
        return finish(r, event.time)
    floors = image.floors_of(settings)
    observed_at = r.ledger.leases.now()  # the lease refuses if the services change after this
    # 1. gather: the tracked services, by repository
    tracked: Tracked = {}
    for cluster, arns in ecs.tagged_service_arns(aws.tagging, None, settings.clusters).items():
        for svc in ecs.describe_services(aws.ecs, cluster, arns):
            try:
                cfg = service_config(svc.tags, svc.cluster_arn, floors)
            except MalformedTag:
                continue  # reported by the event path; the sweep would repeat it every tick
            if cfg is not None and settings.repository_filter.covers(cfg.repository):
                tracked.setdefault(cfg.repository, []).append((svc, cfg))
    cursor = Sweeps(r.ledger.table)
    order = sweep.sweep_order(tracked, cursor.next_start(RECONCILER.name))
    task_definitions: dict[str, dict[str, Any]] = {}
    left: list[str] = []

    def short() -> bool:
        return remaining_ms is not None and remaining_ms() < RESERVE_MS

    how = _How(sweep_id, event, observed_at, settings.approval_ttl_hours, floors)

    for repository in order:
        if left or short():
            left.append(repository)
            continue
        # 2. plan: each service's pick against what it runs
        try:
            images = ecr.list_images(aws.ecr, repository)
        except NotFound:
            reason = "the repository is gone (services still track it)"
            carry_out(r, Plan(_repo_decision(repository, Outcome.IGNORED, reason)))
            continue
        groups, running = _groups(r, repository, tracked[repository], images, task_definitions)
        # 3. carry out through the image flow, one candidate per pick, DEPLOY_CHUNK services
        # at a time (the time left is checked between them); a service whose pick the
        # flow refused (blocked by its scan gate, quarantined) is offered its next pick, up
        # to FALLBACKS times: the newest image that may deploy, so a running image that
        # turned vulnerable is replaced by a newer clean one (never an older one: the flow
        # refuses it, and a pick that is what runs ends the search)
        refused: dict[str, set[str]] = {}
        for attempt in range(1 + FALLBACKS):
            if attempt:
                groups = _next_picks(images, running, refused)
                if not groups:
                    break
            denied, cut = _deploy_groups(r, repository, groups, short, how, first=not attempt)
            if cut:
                left.append(repository)
                break
            refused = {arn: refused.get(arn, set()) | {d} for arn, d in denied.items()}
            if not denied:
                break
        # the protective tags on what runs and the last known good, if time is left
        retention.keep(
            r, repository, images, {a: x.digest for a, x in running.items()}, settings, short=short
        )
    for repository in left:
        reason = "the sweep ran short of time before this repository: the next sweep starts here"
        carry_out(r, Plan(_repo_decision(repository, Outcome.DEFERRED, reason)))
    # 4. what killed invocations left: revisions registered under an intent no record names
    if not short():
        _reap_left_intents(r)
    if not dry_run:
        cursor.set_next_start(RECONCILER.name, left[0] if left else None, event_id=sweep_id)
    # a busy lease or a failed deploy is the next sweep's, not a retry of this whole one
    r.report.retry_services.clear()
    return finish(r, event.time)


def _deploy_groups(
    r: Run,
    repository: str,
    groups: dict[str, list[Service]],
    short: Callable[[], bool],
    how: _How,
    *,
    first: bool,
) -> tuple[dict[str, str], bool]:
    """Each group (a pick and its services) through the image flow, DEPLOY_CHUNK services
    at a time; returns the services whose pick it refused (``REFUSED``: service -> digest),
    and True when the time ran short (the services not reached recorded deferred)."""
    chunks = [
        (digest, services[at : at + DEPLOY_CHUNK])
        for digest, services in groups.items()
        for at in range(0, len(services), DEPLOY_CHUNK)
    ]
    denied: dict[str, str] = {}
    for n, (digest, services) in enumerate(chunks):
        if (n or not first) and short():
            reason = "the sweep ran short of time: the next sweep starts at this repository"
            for later_digest, rest in chunks[n:]:
                for svc in rest:
                    later = Decision(
                        service=svc.arn,
                        outcome=Outcome.DEFERRED,
                        reason=reason,
                        repository=repository,
                        digest=later_digest,
                    )
                    carry_out(r, Plan(later))
            return denied, True
        candidate = Candidate(
            repository=repository,
            digest=digest,
            tags=(),  # ECR's, read by the image flow
            event_id=how.sweep_id,
            event_time=how.event.time,
            trigger="reconcile",
            registry=ecr_registry(how.event.account, how.event.region),
        )
        before = len(r.report.decisions)
        image.deploy(
            r,
            candidate,
            services,
            None,
            observed_at=how.observed_at,
            approval_ttl_hours=how.approval_ttl_hours,
            floors=how.floors,
        )
        denied.update(
            (d.service, digest) for d in r.report.decisions[before:] if d.outcome in REFUSED
        )
    return denied, False


def _next_picks(
    images: list[ImageInfo], running: dict[str, _Running], refused: dict[str, set[str]]
) -> dict[str, list[Service]]:
    """For each service whose picks the image flow refused, its next pick among the other
    images (``logic.sweep.policy_pick`` without them), unless that is what it runs. Only
    for a service whose running image ECR still holds: the image flow then refuses a pick
    older than it (SemVer, else push time), and the running image, a pick itself, ends
    the search; without it "older" could not be told."""
    held = {i.digest for i in images}
    out: dict[str, list[Service]] = {}
    for arn, digests in refused.items():
        now = running.get(arn)
        if now is None or now.digest not in held:
            continue
        pick = sweep.policy_pick(images, now.config.policy, now.tags, exclude=frozenset(digests))
        if pick is not None and pick.digest != now.digest:
            out.setdefault(pick.digest, []).append(now.service)
    return out


def _reap_left_intents(r: Run) -> None:
    """Every intent older than a lease (so no invocation still holds it), whatever service
    it is of: one ledger Query, then per service with any ``execute.reap_left``."""
    before = r.ledger.table.now() - timedelta(seconds=r.lease_seconds)
    by_service: dict[str, list[Intent]] = {}
    for service, intent in r.ledger.deploys.left_intents(before):
        by_service.setdefault(service, []).append(intent)
    for service, intents in sorted(by_service.items()):
        reap_left(r, service, intents)


def _groups(
    r: Run,
    repository: str,
    services: list[tuple[Service, ServiceConfig]],
    images: list[ImageInfo],
    task_definitions: dict[str, dict[str, Any]],
) -> tuple[dict[str, list[Service]], dict[str, _Running]]:
    """The services whose pick is not what they run, by the digest picked, and what each
    tracked service runs. A service whose task definition has no container from the
    repository is left to the event path (which reports it)."""
    by_digest = {i.digest: i for i in images}
    by_tag = {t: i for i in images for t in i.tags}
    out: dict[str, list[Service]] = {}
    runs: dict[str, _Running] = {}
    for svc, cfg in services:
        if svc.task_definition not in task_definitions:
            td, _ = ecs.describe_task_definition(r.aws.ecs, svc.task_definition)
            task_definitions[svc.task_definition] = td
        td = task_definitions[svc.task_definition]
        container = tracked_container(td, repository, cfg.container)
        if container is None:
            continue
        running = by_digest.get(container.digest or "") or (
            by_tag.get(container.tag) if container.tag else None
        )
        running_digest = container.digest or (running.digest if running else None)
        running_tags = [
            *([container.tag] if container.tag else []),
            *(running.tags if running else ()),
        ]
        runs[svc.arn] = _Running(svc, cfg, running_digest, running_tags)
        pick = sweep.policy_pick(images, cfg.policy, running_tags)
        if pick is None or pick.digest == running_digest:
            continue  # nothing the policy takes, or it runs already: nothing to do
        out.setdefault(pick.digest, []).append(svc)
    return out, runs


def _repo_decision(repository: str, outcome: Outcome, reason: str) -> Decision:
    return Decision(
        service=f"repository/{repository}", outcome=outcome, reason=reason, repository=repository
    )
