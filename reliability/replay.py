"""Replay generated image-event streams through the sandbox's router; check them against a model.

A stream: images pushed to the five repositories of the estate (SemVer tags, ascending
with gaps, a few of major 2), each with findings (clean, HIGH, CRITICAL) and some
crashing; each image gives two events (``ECR Image Action`` PUSH, then its scan result).
Then ``reorder`` of the events are moved to a random later position and ``duplicates``
of the final count are redeliveries (same id) of an earlier event inserted later.

The model (oracle): a service ends on the newest image that passes its scan gate, whose
scan result was delivered, that is not crashing, and that its policy takes (``semver``:
any; ``semver:minor``: major 1 only); else on 1.0.0. Observed through the hooks on the
functions' clients, every ``UpdateService`` by image-events must go forward (newer than
what the service runs at that moment), never to a blocked or quarantined digest, and at
most once per (service, digest); the count of successful ``UpdateService`` calls by
image-events must equal the count of ``deployed`` decisions.
"""

# ruff: noqa: PLC0415 - imports are deferred

from __future__ import annotations

import random
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from reliability import estate
from reliability.hooks import HOOKS, Call
from reliability.results import DeployChecks

Version = tuple[int, int, int]


@dataclass
class Image:
    repository: str
    version: Version
    findings: dict[str, int]
    crashing: bool
    digest: str = ""

    @property
    def tag(self) -> str:
        return ".".join(str(n) for n in self.version)

    def passes(self, gate: str) -> bool:
        if self.findings.get("CRITICAL", 0):
            return False
        return not (gate == "high" and self.findings.get("HIGH", 0))


@dataclass
class Stream:
    images: list[Image]
    events: list[dict[str, Any]]
    duplicates: int
    reordered: int


#: per repository, the highest minor version handed out so far (streams and phases share it,
#: so every new image is newer than anything the sandbox already ran)
_MINOR: dict[str, int] = {}
#: every image put into the sandbox's ECR by the harness, by digest
KNOWN: dict[str, Image] = {}


def allocate(repository: str, n: int) -> list[Version]:
    """``n`` fresh versions for ``repository``, ascending, above every earlier one."""
    start = _MINOR.get(repository, 0) + 1
    _MINOR[repository] = start + n
    return [(1, start + k, 0) for k in range(n)]


def generate(
    seed: int,
    n_events: int,
    *,
    dup_rate: float = 0.3,
    reorder_rate: float = 0.2,
    repositories: tuple[str, ...] = estate.REPOSITORIES,
) -> Stream:
    rng = random.Random(seed)
    n_dups = round(n_events * dup_rate)
    n_images = max(1, (n_events - n_dups) // 2)
    images: list[Image] = []
    per_repo: dict[str, Version] = {r: (1, _MINOR.get(r, 0) + 1, 0) for r in repositories}
    for i in range(n_images):
        repo = repositories[i % len(repositories)]
        major, minor, patch = per_repo[repo]
        if rng.random() < 0.5:
            minor, patch = minor + 1, 0
        else:
            patch += 1 + rng.randrange(2)
        per_repo[repo] = (major, minor, patch)
        _MINOR[repo] = max(_MINOR.get(repo, 0), minor)
        roll = rng.random()
        findings = (
            {}
            if roll < 0.55
            else (
                {"HIGH": 1 + rng.randrange(3)}
                if roll < 0.8
                else {"CRITICAL": 1, "HIGH": rng.randrange(3)}
            )
        )
        images.append(Image(repo, (major, minor, patch), findings, rng.random() < 0.1))
    events: list[dict[str, Any]] = []
    for img in images:
        events += [{"kind": "push", "image": img}, {"kind": "scan", "image": img}]
    # reordering: move a share of the events to a random later position
    n_reorder = round(len(events) * reorder_rate)
    moved = 0
    for _ in range(n_reorder):
        i = rng.randrange(len(events) - 1)
        j = rng.randrange(i + 1, len(events))
        events.insert(j, events.pop(i))
        moved += 1
    # duplicates: redeliver earlier events (same id) later on
    for ev in events:
        ev["id"] = str(uuid.UUID(int=rng.getrandbits(128)))
    for _ in range(n_dups):
        i = rng.randrange(len(events))
        j = rng.randrange(i, len(events)) + 1
        events.insert(j, dict(events[i], duplicate=True))
    return Stream(images, events, n_dups, moved)


def put_images(sb: Any, images: list[Image]) -> None:
    """Put every image into the sandbox's ECR (``PutImage``) before any event is routed."""
    from sandbox.simulator import image_manifest

    ecr = sb.clients("ecr")
    for img in images:
        out = ecr.put_image(
            repositoryName=img.repository,
            imageManifest=image_manifest(f"{img.repository}:{img.tag}:{uuid.uuid4().hex}"),
            imageManifestMediaType="application/vnd.docker.distribution.manifest.v2+json",
            imageTag=img.tag,
        )
        img.digest = out["image"]["imageId"]["imageDigest"]
        KNOWN[img.digest] = img
        if img.crashing:
            sb.simulator.crashing.add(img.digest)


def to_event(sb: Any, ev: dict[str, Any], repos: dict[str, dict[str, Any]]) -> dict[str, Any]:
    from sandbox.simulator import Simulator, make_event

    img: Image = ev["image"]
    if ev["kind"] == "push":
        detail = {
            "result": "SUCCESS",
            "repository-name": img.repository,
            "image-digest": img.digest,
            "action-type": "PUSH",
            "image-tag": img.tag,
        }
        out = make_event("aws.ecr", "ECR Image Action", detail, [])
    else:
        repo = repos[img.repository]
        kind = sb.simulator.scanner_for(repo)
        out = Simulator.scan_event(
            repo, img.digest, [img.tag], img.findings, "basic" if kind == "none" else kind
        )
    out["id"] = ev["id"]
    return out


# ---------------------------------------------------------------------------------------
# Observing deploys
# ---------------------------------------------------------------------------------------
@dataclass
class Deploy:
    service: str
    function: str
    from_digest: str | None
    from_tag: str | None
    to_digest: str | None
    call: Call


@dataclass
class DeployObserver:
    """On each functions' ``UpdateService``: what the service runs now, and what it gets."""

    sb: Any
    deploys: list[Deploy] = field(default_factory=list)
    _td_cache: dict[str, tuple[str | None, str | None]] = field(default_factory=dict)

    def image_of(self, task_definition: str) -> tuple[str | None, str | None]:
        """(digest, tag) of a task definition's first container image."""
        if task_definition not in self._td_cache:
            td = self.sb.clients("ecs").describe_task_definition(taskDefinition=task_definition)
            image = td["taskDefinition"]["containerDefinitions"][0]["image"]
            if "@" in image:
                self._td_cache[task_definition] = (image.split("@", 1)[1], None)
            else:
                self._td_cache[task_definition] = (None, image.rsplit(":", 1)[-1])
        return self._td_cache[task_definition]

    def __call__(self, call: Call) -> None:
        if call.service != "ecs" or call.operation != "UpdateService":
            return
        params = call.params
        if not params.get("taskDefinition"):
            return
        service = str(params["service"]).rsplit("/", 1)[-1]
        current = self.sb.clients("ecs").describe_services(
            cluster=params.get("cluster"), services=[params["service"]]
        )["services"][0]["taskDefinition"]
        from_digest, from_tag = self.image_of(current)
        to_digest, _ = self.image_of(params["taskDefinition"])
        self.deploys.append(Deploy(service, call.function, from_digest, from_tag, to_digest, call))

    def install(self) -> DeployObserver:
        HOOKS.observers.append(self)
        return self

    def remove(self) -> None:
        if self in HOOKS.observers:
            HOOKS.observers.remove(self)


# ---------------------------------------------------------------------------------------
# The model and the checks
# ---------------------------------------------------------------------------------------
def expected_versions(
    stream: Stream, delivered_scans: set[str], start: dict[str, Version]
) -> dict[str, Version]:
    out: dict[str, Version] = {}
    for svc in estate.SERVICES:
        repo, gate = estate.service_repository(svc), estate.service_gate(svc)
        best: Version = start.get(svc, (1, 0, 0))
        for img in stream.images:
            if img.repository != repo or img.digest not in delivered_scans:
                continue
            if not img.passes(gate) or img.crashing:
                continue
            best = max(best, img.version)
        out[svc] = best
    return out


@dataclass
class ReplayResult(DeployChecks):
    events: int = 0
    duplicates: int = 0
    reordered: int = 0
    images: int = 0
    crashing: int = 0
    vulnerable: int = 0
    deploy_decisions: int = 0
    update_service_ok: int = 0
    rollbacks: int = 0
    dead_lettered: int = 0
    seconds: float = 0.0
    max_event_seconds: float = 0.0
    faults: dict[str, int] = field(default_factory=dict)
    attempts: int = 0
    lambda_retries: int = 0

    @property
    def ok(self) -> bool:
        return super().ok and self.deploy_decisions == self.update_service_ok


def run_replay(
    sb: Any,
    *,
    seed: int,
    n_events: int,
    fault_rate: float = 0.0,
    repositories: tuple[str, ...] = estate.REPOSITORIES,
) -> ReplayResult:
    """Generate a stream, route it, and check it against the model."""
    stream = generate(seed, n_events, repositories=repositories)
    put_images(sb, stream.images)
    ecr = sb.clients("ecr")
    repos = {
        r["repositoryName"]: r
        for r in ecr.describe_repositories(repositoryNames=list(repositories))["repositories"]
    }
    by_digest = {img.digest: img for img in stream.images}
    observer = DeployObserver(sb).install()
    start = {
        svc: v for svc in estate.SERVICES if (v := running_version(sb, observer, svc)) is not None
    }
    res = ReplayResult(
        events=len(stream.events),
        duplicates=stream.duplicates,
        reordered=stream.reordered,
        images=len(stream.images),
        crashing=sum(i.crashing for i in stream.images),
        vulnerable=sum(bool(i.findings) for i in stream.images),
    )
    mark = HOOKS.mark()
    HOOKS.faults.clear()
    attempts0 = HOOKS.attempts
    HOOKS.fault_rate = fault_rate
    HOOKS.seed(seed)
    delivered_scans: set[str] = set()
    started = time.perf_counter()
    routes: list[Any] = []
    try:
        for ev in stream.events:
            t0 = time.perf_counter()
            routes += sb.simulator.emit(to_event(sb, ev, repos))
            res.max_event_seconds = max(res.max_event_seconds, time.perf_counter() - t0)
            if ev["kind"] == "scan":
                delivered_scans.add(ev["image"].digest)
    finally:
        HOOKS.fault_rate = 0.0
        observer.remove()
    res.seconds = time.perf_counter() - started
    res.faults = dict(HOOKS.faults)
    res.attempts = HOOKS.attempts - attempts0
    for r in routes:
        res.lambda_retries += max(0, r.attempts - 1)
        if r.matched and not r.ok:
            res.failed_routes.append(f"{r.function} {r.detail_type} {r.event_id}: {r.error}")
        res.dead_lettered += int(r.dead_lettered)
        if r.function == "image-events" and r.ok and r.report and not r.report.get("duplicate"):
            res.deploy_decisions += sum(
                d["outcome"] == "deployed" for d in r.report.get("decisions", [])
            )
    check_deploys(res, observer.deploys, by_digest, HOOKS.since(mark))
    # final state against the model
    expected = expected_versions(stream, delivered_scans, start)
    for svc in estate.SERVICES:
        if estate.service_repository(svc) not in repositories:
            continue
        got = running_version(sb, observer, svc)
        if got != expected[svc]:
            res.wrong_final.append(f"{svc}: runs {got}, model says {expected[svc]}")
    return res


def running_version(sb: Any, observer: DeployObserver, svc: str) -> Version | None:
    """The version a service runs now (by digest from ``KNOWN``, or by its tag)."""
    sim = sb.simulator.service(svc)
    td = sb.clients("ecs").describe_services(cluster=sim.cluster_arn, services=[svc])["services"][
        0
    ]["taskDefinition"]
    digest, tag = observer.image_of(td)
    if digest:
        return KNOWN[digest].version if digest in KNOWN else None
    try:
        return tuple(int(x) for x in (tag or "").split("."))  # type: ignore[return-value]
    except ValueError:
        return None


def check_deploys(
    res: ReplayResult, deploys: list[Deploy], by_digest: dict[str, Image], calls: list[Call]
) -> None:
    def version(digest: str | None, tag: str | None) -> Version | None:
        if digest and digest in KNOWN:
            return KNOWN[digest].version
        return tuple(int(x) for x in tag.split(".")) if tag else None  # type: ignore[return-value]

    seen: Counter[tuple[str, str | None]] = Counter()
    failed_before: dict[str, set[str]] = defaultdict(set)
    for d in deploys:
        if d.call.ok is not True:
            continue
        img = by_digest.get(d.to_digest or "")
        if not d.function.endswith("image-events"):
            res.rollbacks += 1
            src = by_digest.get(d.from_digest or "")
            if (src is None or not src.crashing) and d.from_digest != d.to_digest:
                res.backward.append(f"{d.service}: {d.function} moved it off a good image")
            continue
        res.update_service_ok += 1
        key = (d.service, d.to_digest)
        seen[key] += 1
        if seen[key] > 1:
            res.duplicate_deploys.append(f"{d.service} got {d.to_digest} {seen[key]} times")
        v_from, v_to = version(d.from_digest, d.from_tag), version(d.to_digest, None)
        if v_to is None or (v_from is not None and v_to <= v_from):
            res.backward.append(f"{d.service}: {v_from} -> {v_to}")
        if img is not None:
            if not img.passes(estate.service_gate(d.service)):
                res.blocked_deploys.append(f"{d.service}: {img.tag} {img.findings}")
            if img.digest in failed_before[d.service]:
                res.blocked_deploys.append(f"{d.service}: quarantined {img.tag}")
            if img.crashing:
                failed_before[d.service].add(img.digest)
    _ = calls
