"""reconciler: on its schedule, deploy what each service's policy would deploy now, if that
is not what runs (level-triggered: it catches pushes whose event was lost or sat in a DLQ,
pushes held by a pause that has ended, approvals that expired, which are asked for again);
past ``shard_size`` services, in shards fanned out over the bus (below).

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
   run and their last known good (``flows.retention``: no call when every tag is right; a
   shard, which may hold part of a repository's services, drops no other service's slot)
5. clean up, if time is left: the intents older than a lease, of any service (one ledger
   Query, ``store.deploys.left_intents``), which an invocation killed mid-deploy left and
   no later deploy of their service has settled: under that service's lease, the
   revisions registered under them that no record names are deregistered
   (``execute.reap_left``; a DescribeTaskDefinition per revision looked at, a
   DeregisterTaskDefinition per revision left)

Time budget (``Budget``): a step starts only if its worst case fits in the invocation's
remaining time before the wrap-up reserve ``RESERVE_MS``. The steps are measured as they
run, on the invocation's own clock: a repository's reads and plan (``STEP_REPOSITORY``,
per service of it), a chunk of up to ``DEPLOY_CHUNK`` deploys (``STEP_DEPLOY``, per
service), the protective tags (``STEP_RETENTION``, per service), the clean-up
(``STEP_REAP``); a step's worst case is the slowest of its kind so far in this
invocation, or the slowest per item times its items if that is more (a kind not measured
yet costs nothing, so every invocation makes progress). A repository starts only if its
reads and its first chunk fit. When a step does not fit, the sweep stops, records each
service and repository it did not reach as ``deferred``, and the ledger
(``store.sweeps``) makes the next sweep start at the first of them (the services it did
deploy there are then no-ops). A service whose lease is busy, or whose deploy failed, is
left to the next sweep too (no retry of the whole sweep).
A new step of the sweep: a kind of its own,
``if budget.fits((KIND, n)): with budget.step(KIND, n): ...``.

Pacing (``logic.pacing``): before each group of calls (a DescribeServices batch, a
repository's DescribeImages, each DescribeTaskDefinition, a chunk of deploys, retention's
BatchGetImage and each PutImage) the sweep takes their tokens from a bucket per action at
``reconciler.api_share`` of the default limits, divided by the number of shards of the
sweep (they run side by side), and sleeps the wait on its clock (``SystemClock``; tests
give one that does not sleep). A chunk holds at most what the deploy actions' buckets do,
and starts only if its wait and its worst case fit the budget (``Budget.fits(wait_ms=)``);
the reads' waits are measured in their step. A read AWS throttled anyway (``THROTTLED``)
empties its bucket and halves its rate for the rest of the invocation, is counted (metric
``throttled``) and the repository is read again after the others, once; throttled again,
it is recorded deferred for the next sweep.

Fan-out: a tick (the ``Scheduled Event``) that gathers more than ``shard_size`` tracked
services (``reconciler.shard_size`` in the config) deploys nothing itself: it cuts them
into shards (``logic.sweep.shards``: whole repositories where they fit, in name order) and
puts one ``Reconcile Shard`` event per shard on the default bus, through the actor (one
PutEvents each, source ``ecs-autopilot``; a shard whose event would pass PutEvents' 256 KB
is halved; a shard the bus refused is recorded failed and the next tick shards again).
The rule ``<env>-reconcile-shard`` brings each back to the reconciler: a ``ShardEvent``,
swept like a tick, but of the services it names only (read from ECS now: their tags
decide, not the event; a cluster the control plane does not manage is ignored), with its
own time budget and its own cursor (``store.sweeps`` under ``reconciler#shard-<n>``), and
without the clean-up (step 5 is the tick's). A shard that ran short of time, having
finished at least one repository, hands the repositories it did not reach on (``_hand_on``:
one ``Reconcile Shard`` event of the same sweep and number, ``hop`` one more, at most
``MAX_HOPS``), so they are swept now, not a tick later; a shard that made no progress
leaves them to the next tick, through its cursor.

AWS calls per sweep (besides the ledger and the notices), for S tracked services in the
managed clusters, n_c of them in cluster c, R repositories holding P_r pages of 1,000
tagged images each, and D distinct running revisions:

    ceil(S / 100) GetResources + sum_c ceil(n_c / 10) DescribeServices
    + sum_r P_r DescribeImages + D DescribeTaskDefinition

with nothing to deploy (D <= S: at most S + ceil(S/10) + ceil(S/100) + R calls; a last
page that is full may carry a token, so one GetResources more when S is a multiple of
100: measured 113 calls at S = 100, one repository, 100 revisions). Fanned out into K
shards, the tick makes the gather's GetResources and DescribeServices and K PutEvents, and
each shard its services' DescribeServices (ceil(n_c / 10) per cluster of it), its
repositories' DescribeImages and its revisions' DescribeTaskDefinition: at most
ceil(S / 10) + K DescribeServices and K PutEvents more than one sweep; H hand-ons (paced
shards that ran short of time) add H PutEvents and their services' DescribeServices (at
most ceil(S / 10) + H). Retention in a shard adds one GetResources per repository holding
slots of a service the shard does not hold (none when each repository's services are in
one shard and no slot is stale). Each chunk of up to
``DEPLOY_CHUNK`` services of one (repository, pick) that does act adds the image flow's
calls for it (``flows.image``: DescribeTaskDefinition per distinct revision, one
DescribeImages, one DescribeImageScanFindings per gated digest, RegisterTaskDefinition
and UpdateService per service deployed).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import timedelta
from typing import Any, NamedTuple

from aws_lambda_powertools.metrics import MetricUnit

from autopilot.aws import ecr, ecs, events
from autopilot.aws.clients import AwsClients
from autopilot.contract import DT_RECONCILE_SHARD, RECONCILER, SOURCE_AUTOPILOT
from autopilot.domain.images import Candidate, ImageInfo, ecr_registry, tracked_container
from autopilot.domain.plan import Plan, Step
from autopilot.domain.report import Action, Decision, Outcome, Report
from autopilot.domain.service import Service
from autopilot.errors import AwsCallFailed, MalformedTag, NotFound
from autopilot.events.schedule import MAX_HOPS, ShardEvent, SweepEvent
from autopilot.execute import carry_out, reap_left
from autopilot.flows import image, retention
from autopilot.logic import pacing, sweep
from autopilot.logic.policy import Floors, ServiceConfig, service_config
from autopilot.observability import logger, metrics
from autopilot.record import Run, finish, open_run
from autopilot.settings import ReconcilerSettings
from autopilot.store.deploys import Intent
from autopilot.store.sweeps import Sweeps

#: What a sweep keeps of the invocation for its wrap-up (the deferred services' decisions,
#: the records, the cursor) after its last step (ms).
RESERVE_MS = 15_000
#: Services deployed per call of the image flow; the time left is checked between chunks.
DEPLOY_CHUNK = 25

#: How many times a service whose pick the image flow refused is offered its next pick
FALLBACKS = 3
#: What the image flow refuses a pick for that a later pick may not have
REFUSED = frozenset({Outcome.BLOCKED, Outcome.QUARANTINED})

#: The kinds of step a sweep measures: the read and plan of one repository (per service of
#: it), one chunk of deploys (per service deployed), the clean-up of left intents
STEP_REPOSITORY = "repository"
STEP_DEPLOY = "deploy"
STEP_REAP = "reap"
STEP_RETENTION = "retention"

#: AWS's codes of a throttled call: the sweep backs off (``pacing.Pacer.throttled``) and
#: tries the repository again later in the sweep, once, else leaves it to the next sweep
THROTTLED = frozenset(
    {"ThrottlingException", "Throttling", "TooManyRequestsException", "RequestLimitExceeded"}
)
#: the calls of one deploy through the image flow, per service of a chunk (``flows.image``)
DEPLOY_CALLS_PER_SERVICE = (
    "ecs:DescribeTaskDefinition",
    "ecs:RegisterTaskDefinition",
    "ecs:UpdateService",
)
#: ... and per chunk
DEPLOY_CALLS_PER_CHUNK = ("ecr:DescribeImages", "ecr:DescribeImageScanFindings")

Tracked = dict[str, list[tuple[Service, ServiceConfig]]]


class Budget:
    """The invocation's time left, and what each kind of step has cost so far in it.

    A step of a kind may start only if its worst case fits: the time left must cover
    ``RESERVE_MS`` plus the most that kind has cost in this invocation (its slowest step,
    or its slowest per item times the items of this one, whichever is more); a kind not
    measured yet costs nothing, so every invocation makes progress. ``remaining_ms`` None:
    no limit. A new step: ``if budget.fits((KIND, n)): with budget.step(KIND, n): ...``."""

    def __init__(self, remaining_ms: Callable[[], int] | None) -> None:
        self._left = remaining_ms
        self._slowest: dict[str, int] = {}
        self._per_item: dict[str, float] = {}

    def worst_ms(self, kind: str, items: int = 1) -> int:
        """The most a step of ``kind`` over ``items`` may cost, from what was measured."""
        per_item = self._per_item.get(kind, 0.0) * max(1, items)
        return int(max(self._slowest.get(kind, 0), per_item))

    def fits(self, *steps: tuple[str, int], wait_ms: float = 0) -> bool:
        """Whether ``steps`` ((kind, items) each), one after the other, fit in the time left,
        after ``wait_ms`` of pacing (``pacing.Pacer.wait``) before them."""
        if self._left is None:
            return True
        need = RESERVE_MS + wait_ms + sum(self.worst_ms(kind, items) for kind, items in steps)
        return self._left() >= need

    @contextmanager
    def step(self, kind: str, items: int = 1) -> Iterator[None]:
        """Measure one step of ``kind`` over ``items`` (on the invocation's own clock)."""
        if self._left is None:
            yield
            return
        before = self._left()
        try:
            yield
        finally:
            spent = max(0, before - self._left())
            self._slowest[kind] = max(self._slowest.get(kind, 0), spent)
            rate = spent / max(1, items)
            self._per_item[kind] = max(self._per_item.get(kind, 0.0), rate)


class _Running(NamedTuple):
    """A tracked service and what it runs (its digest, None if unknown, and tags)."""

    service: Service
    config: ServiceConfig
    digest: str | None
    tags: list[str]


class _How(NamedTuple):
    """What every deploy of one sweep shares."""

    sweep_id: str
    event: SweepEvent | ShardEvent
    observed_at: float
    approval_ttl_hours: int
    floors: Floors
    settings: ReconcilerSettings
    pacer: pacing.Pacer
    clock: pacing.Clock

    def pace(self, calls: Mapping[str, int]) -> float:
        """Take ``calls`` (action -> count) from the pacer and sleep its wait on the clock."""
        delay = self.pacer.take(calls, self.clock.now())
        if delay > 0:
            logger.debug("sweep paced", wait_s=round(delay, 3), calls=dict(calls))
            self.clock.sleep(delay)
        return delay

    def wait_ms(self, calls: Mapping[str, int]) -> float:
        """What ``pace(calls)`` would wait now (ms), for the budget."""
        return self.pacer.wait(calls, self.clock.now()) * 1000

    def throttled(self, exc: AwsCallFailed) -> None:
        """Count a call AWS throttled anyway and back off its action."""
        self.pacer.throttled(exc.api, self.clock.now())
        metrics.add_metric(name="throttled", unit=MetricUnit.Count, value=1)
        logger.info("sweep throttled", api=exc.api, code=exc.code)


class SystemClock:
    """The invocation's clock: ``time.monotonic`` and ``time.sleep``."""

    def now(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


def run(
    event: SweepEvent | ShardEvent,
    settings: ReconcilerSettings,
    aws: AwsClients,
    *,
    dry_run: bool = False,
    invocation: str | None = None,
    remaining_ms: Callable[[], int] | None = None,
    clock: pacing.Clock | None = None,
) -> Report:
    """One sweep: of every tracked service (the schedule's tick), or of one shard's (a
    ``ShardEvent``); a tick that finds more than ``settings.shard_size`` services puts
    their shards on the bus instead. With ``dry_run`` the plans are returned and nothing
    is changed; ``remaining_ms``: the invocation's time left (None: no limit); ``clock``:
    what the pacing sleeps on (``SystemClock`` by default)."""
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
    budget = Budget(remaining_ms)
    # the shards of one sweep run side by side: each takes its part of the API share
    shards = event.detail.shards if isinstance(event, ShardEvent) else 1
    pacer = pacing.Pacer(pacing.share_of(settings.api_share, shards))
    how = _How(
        sweep_id,
        event,
        observed_at,
        settings.approval_ttl_hours,
        floors,
        settings,
        pacer,
        clock or SystemClock(),
    )
    # 1. gather: the tracked services, by repository (a shard: the services it names)
    if isinstance(event, ShardEvent):
        tracked = _gather_shard(r, event, settings, floors, how)
        cursor_name = f"{RECONCILER.name}#shard-{event.detail.shard}"
    else:
        tracked = _gather(r, settings, floors, how)
        if sum(len(v) for v in tracked.values()) > settings.shard_size:
            # too many for one invocation's budget: each shard is swept by its own
            _fan_out(r, event, tracked, settings.shard_size)
            _reap_if_time(r, budget)
            r.report.retry_services.clear()
            return finish(r, event.time)
        cursor_name = RECONCILER.name
    cursor = Sweeps(r.ledger.table)
    order = sweep.sweep_order(tracked, cursor.next_start(cursor_name))
    left, done = _sweep(r, order, tracked, budget, how)
    # a shard that ran short of time hands what it did not reach on to a shard of its own
    # (one hop more), when it got somewhere: the rest is swept now, not a tick later
    handed = (
        isinstance(event, ShardEvent)
        and bool(left)
        and done > 0
        and event.detail.hop < MAX_HOPS
        and _hand_on(r, event, {repo: tracked[repo] for repo in left})
    )
    for repository in left:
        reason = (
            "the shard ran short of time before this repository: handed on to a shard of its own"
            if handed
            else "the sweep ran short of time before this repository: the next sweep starts here"
        )
        carry_out(r, Plan(_repo_decision(repository, Outcome.DEFERRED, reason)))
    # 4. what killed invocations left (the tick's, not each shard's)
    if not isinstance(event, ShardEvent):
        _reap_if_time(r, budget)
    if not dry_run:
        start = left[0] if left and not handed else None
        cursor.set_next_start(cursor_name, start, event_id=sweep_id)
    # a busy lease or a failed deploy is the next sweep's, not a retry of this whole one
    r.report.retry_services.clear()
    return finish(r, event.time)


def _gather(r: Run, settings: ReconcilerSettings, floors: Floors, how: _How) -> Tracked:
    """Every managed service tagged with a repository the control plane manages."""
    tracked: Tracked = {}
    for cluster, arns in ecs.tagged_service_arns(r.aws.tagging, None, settings.clusters).items():
        _track(tracked, _describe(r, cluster, arns, how), settings, floors)
    return tracked


def _describe(r: Run, cluster: str, services: list[str], how: _How) -> list[Service]:
    """``ecs.describe_services``, paced: as many DescribeServices (10 services each) at a
    time as the pacer's bucket holds."""
    api = "ecs:DescribeServices"
    per_group = how.pacer.group(api, math.ceil(len(services) / ecs.DESCRIBE_BATCH))
    step = per_group * ecs.DESCRIBE_BATCH
    found: list[Service] = []
    for at in range(0, len(services), step):
        part = services[at : at + step]
        how.pace({api: math.ceil(len(part) / ecs.DESCRIBE_BATCH)})
        found += ecs.describe_services(r.aws.ecs, cluster, part)
    return found


def _gather_shard(
    r: Run, event: ShardEvent, settings: ReconcilerSettings, floors: Floors, how: _How
) -> Tracked:
    """The services a shard names, read from ECS now (their tags decide, not the event);
    a cluster the control plane does not manage is recorded ignored."""
    tracked: Tracked = {}
    for part in event.detail.clusters:
        if part.cluster not in settings.clusters:
            reason = f"shard {event.detail.shard}: a cluster the control plane does not manage"
            ignored = Decision(service=part.cluster, outcome=Outcome.IGNORED, reason=reason)
            carry_out(r, Plan(ignored))
            continue
        services = _describe(r, part.cluster, list(part.services), how)
        _track(tracked, services, settings, floors)
    return tracked


def _track(
    tracked: Tracked, services: list[Service], settings: ReconcilerSettings, floors: Floors
) -> None:
    for svc in services:
        try:
            cfg = service_config(svc.tags, svc.cluster_arn, floors)
        except MalformedTag:
            continue  # reported by the event path; the sweep would repeat it every tick
        if cfg is not None and settings.repository_filter.covers(cfg.repository):
            tracked.setdefault(cfg.repository, []).append((svc, cfg))


def _fan_out(r: Run, event: SweepEvent, tracked: Tracked, size: int) -> None:
    """One ``Reconcile Shard`` event per ``logic.sweep.shards`` of the tracked services
    (whole repositories together where they fit), each through the actor (one PutEvents
    each; a dry run lists them): a shard the bus refused is recorded failed, and the next
    tick shards again."""
    by_repository = {repo: [svc for svc, _ in pairs] for repo, pairs in tracked.items()}
    sweep_id = f"reconcile:{event.id}"
    parts = [p for shard in sweep.shards(by_repository, size) for p in _fitting(sweep_id, shard)]
    for n, services in enumerate(parts, start=1):
        params = {"Entries": [_shard_entry(sweep_id, services, n, len(parts))]}
        reason = (
            f"{sum(len(v) for v in tracked.values())} services to sweep, more than "
            f"reconciler.shard_size ({size}): shard {n} of {len(parts)} ({len(services)} "
            "services) is swept by its own invocation"
        )
        decision = Decision(service=f"shard/{n}", outcome=Outcome.DEFERRED, reason=reason)
        action = Action(api="events:PutEvents", params=params)
        carry_out(r, Plan(decision, steps=(Step(action),)))


def _hand_on(r: Run, event: ShardEvent, rest: Tracked) -> bool:
    """The services of ``rest`` (the repositories a shard ran short of time before) as one
    ``Reconcile Shard`` event of the same sweep, shard number and count (its cursor and API
    share stay the shard's), one hop more, through the actor (one PutEvents; halved, as
    the tick's, if it would pass PutEvents' size): swept by an invocation of its own now,
    not a tick later. True when the bus took every part (else the next sweep starts at
    the first of them, as without a hand-on)."""
    services = [svc for repo in sorted(rest) for svc, _ in rest[repo]]
    d = event.detail
    parts = _fitting(d.sweep, services, hop=d.hop + 1)
    ok = True
    for services_part in parts:
        entry = _shard_entry(d.sweep, services_part, d.shard, d.shards, hop=d.hop + 1)
        reason = (
            f"shard {d.shard} of {d.shards} ran short of time: {len(services_part)} services "
            f"it did not reach handed on (hop {d.hop + 1})"
        )
        decision = Decision(
            service=f"shard/{d.shard}/hop-{d.hop + 1}", outcome=Outcome.DEFERRED, reason=reason
        )
        action = Action(api="events:PutEvents", params={"Entries": [entry]})
        ok = carry_out(r, Plan(decision, steps=(Step(action),))).outcome is Outcome.DEFERRED and ok
    return ok


def _fitting(sweep_id: str, services: list[Service], hop: int = 0) -> list[list[Service]]:
    """``services`` as one shard, or halved until each half's event fits PutEvents' size."""
    entry = _shard_entry(sweep_id, services, 1, 1, hop=hop)
    if len(services) < 2 or events.entry_size(entry) < events.MAX_ENTRY_BYTES:
        return [services]
    half = len(services) // 2
    return _fitting(sweep_id, services[:half], hop) + _fitting(sweep_id, services[half:], hop)


def _shard_entry(
    sweep_id: str, services: list[Service], n: int, of: int, *, hop: int = 0
) -> dict[str, str]:
    by_cluster: dict[str, list[str]] = {}
    for svc in services:
        by_cluster.setdefault(svc.cluster_arn, []).append(svc.name)
    detail: dict[str, object] = {
        "sweep": sweep_id,
        "shard": n,
        "shards": of,
        "clusters": [{"cluster": c, "services": names} for c, names in by_cluster.items()],
    }
    if hop:
        detail["hop"] = hop
    return events.entry(SOURCE_AUTOPILOT, DT_RECONCILE_SHARD, detail)


def _sweep(
    r: Run, order: list[str], tracked: Tracked, budget: Budget, how: _How
) -> tuple[list[str], int]:
    """2. and 3. for each repository in ``order``, while its steps fit the budget; returns
    the repositories it did not reach or finish (deferred: the next sweep starts there)
    and how many it finished. A repository whose reads AWS throttled (despite the pacing)
    is tried again after the others, once; throttled again, it is the next sweep's."""
    task_definitions: dict[str, dict[str, Any]] = {}
    left: list[str] = []
    done = 0
    queue = list(order)
    retried: set[str] = set()
    while queue:
        repository = queue.pop(0)
        services = tracked[repository]
        first_chunk = min(len(services), _chunk_size(how))
        if left or not budget.fits((STEP_REPOSITORY, len(services)), (STEP_DEPLOY, first_chunk)):
            left.append(repository)
            continue
        # 2. plan: each service's pick against what it runs (reads paced)
        try:
            with budget.step(STEP_REPOSITORY, len(services)):
                read = _read(r, repository, services, task_definitions, how)
        except AwsCallFailed as exc:
            if exc.code not in THROTTLED:
                raise
            how.throttled(exc)
            if repository not in retried:
                retried.add(repository)
                queue.append(repository)  # again after the others, once the bucket refilled
                continue
            reason = (
                f"AWS throttled {exc.api} twice in this sweep (the pacing leaves "
                "reconciler.api_share of the limits; another caller took the rest): the next "
                "sweep takes it"
            )
            carry_out(r, Plan(_repo_decision(repository, Outcome.DEFERRED, reason)))
            continue
        if read is None:
            reason = "the repository is gone (services still track it)"
            carry_out(r, Plan(_repo_decision(repository, Outcome.IGNORED, reason)))
            continue
        images, groups, running = read
        # 3. carry out through the image flow, one candidate per pick, a chunk of services
        # at a time (each chunk only if it fits the time left, its pacing wait included); a
        # service whose pick the flow refused (blocked by its scan gate, quarantined) is
        # offered its next pick, up to FALLBACKS times: the newest image that may deploy, so
        # a running image that turned vulnerable is replaced by a newer clean one (never an
        # older one: the flow refuses it, and a pick that is what runs ends the search)
        refused: dict[str, set[str]] = {}
        cut = False
        for attempt in range(1 + FALLBACKS):
            if attempt:
                groups = _next_picks(images, running, refused)
                if not groups:
                    break
            denied, cut = _deploy_groups(r, repository, groups, budget, how)
            if cut:
                left.append(repository)
                break
            refused = {arn: refused.get(arn, set()) | {d} for arn, d in denied.items()}
            if not denied:
                break
        if not cut:
            done += 1
        # 4. the protective tags on what runs and the last known good, if time is left; a
        # shard may hold part of a repository's services only: the slots of a service it
        # does not hold are dropped only if no managed service has that key now
        # (``flows.retention``: one GetResources of the repository's services, then)
        if budget.fits((STEP_RETENTION, len(services))):
            with budget.step(STEP_RETENTION, len(services)):
                retention.keep(
                    r,
                    repository,
                    images,
                    {a: x.digest for a, x in running.items()},
                    how.settings,
                    whole=not isinstance(how.event, ShardEvent),
                    pace=how.pace,
                )
    return left, done


def _read(
    r: Run,
    repository: str,
    services: list[tuple[Service, ServiceConfig]],
    task_definitions: dict[str, dict[str, Any]],
    how: _How,
) -> tuple[list[ImageInfo], dict[str, list[Service]], dict[str, _Running]] | None:
    """The repository's images (paced), and ``_groups`` of its services; None when the
    repository is gone."""
    how.pace({"ecr:DescribeImages": 1})
    try:
        images = ecr.list_images(r.aws.ecr, repository)
    except NotFound:
        return None
    groups, running = _groups(r, repository, services, images, task_definitions, how=how)
    return images, groups, running


def _chunk_size(how: _How) -> int:
    """Services per chunk of deploys: ``DEPLOY_CHUNK``, or fewer if a deploy action's paced
    bucket holds fewer (a chunk's calls are taken from the buckets at once)."""
    return min(how.pacer.group(api, DEPLOY_CHUNK) for api in DEPLOY_CALLS_PER_SERVICE)


def _deploy_calls(n: int) -> dict[str, int]:
    """The paced calls of a chunk of ``n`` deploys."""
    return {
        **dict.fromkeys(DEPLOY_CALLS_PER_SERVICE, n),
        **dict.fromkeys(DEPLOY_CALLS_PER_CHUNK, 1),
    }


def _reap_if_time(r: Run, budget: Budget) -> None:
    if budget.fits((STEP_REAP, 1)):
        with budget.step(STEP_REAP):
            _reap_left_intents(r)


def _deploy_groups(
    r: Run,
    repository: str,
    groups: dict[str, list[Service]],
    budget: Budget,
    how: _How,
) -> tuple[dict[str, str], bool]:
    """Each group (a pick and its services) through the image flow, DEPLOY_CHUNK services
    at a time, each chunk only if its worst case fits the time left; returns the services
    whose pick it refused (``REFUSED``: service -> digest), and True when the time ran short
    (the services not reached recorded deferred)."""
    size = _chunk_size(how)
    chunks = [
        (digest, services[at : at + size])
        for digest, services in groups.items()
        for at in range(0, len(services), size)
    ]
    denied: dict[str, str] = {}
    for n, (digest, services) in enumerate(chunks):
        calls = _deploy_calls(len(services))
        if not budget.fits((STEP_DEPLOY, len(services)), wait_ms=how.wait_ms(calls)):
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
        how.pace(calls)  # outside the step: the budget counts the wait on its own (fits)
        with budget.step(STEP_DEPLOY, len(services)):
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
    *,
    how: _How,
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
            how.pace({"ecs:DescribeTaskDefinition": 1})
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
