"""Lost ECR events: a share of the push and scan events never reaches the rules, then one
reconciler sweep; every service must end on its newest eligible image.

A stream as ``replay.generate`` makes it (images pushed to the five repositories, SemVer
tags ascending, clean, HIGH or CRITICAL findings, some crashing; each image a push event
then its scan event), without duplicates or reordering. Every image and its scan result are
in ECR (``replay.put_images``; a scan event's result is held whether or not the event is
delivered, as ECR holds it), and the events go through the sandbox's bus with the
simulator's drop rate (``Simulator.drop_events``, seeded): ``drop_rate`` of them are lost.
Then the reconciler's schedule fires once (``Simulator.tick("reconcile")``) and the bus
settles (deployments, crashes and rollbacks run to their end).

The model: a service ends on the newest image of its repository that passes its scan
gate, is not crashing, and that its policy takes; else where it started (``replay``'s
model with every scan result known, since ECR holds them all). Observed through the hooks
on the functions' clients: every ``UpdateService`` by image-events or the reconciler goes
forward (newer than what the service runs at that moment), never to a blocked or
quarantined digest, and at most once per (service, digest).
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

from reliability import estate, replay
from reliability.results import DeployChecks

#: the functions whose ``UpdateService`` is a deploy (the others' are rollbacks)
DEPLOYERS = ("image-events", "reconciler")


@dataclass
class DroppedResult(DeployChecks):
    events: int = 0
    dropped: int = 0
    dropped_pushes: int = 0
    dropped_scans: int = 0
    images: int = 0
    vulnerable: int = 0
    crashing: int = 0
    services: int = 0
    #: services whose newest eligible image came only through a lost event (the sweep's)
    lost_eligible: int = 0
    deployed_by_event: int = 0
    deployed_by_sweep: int = 0
    rollbacks: int = 0
    seconds: float = 0.0
    sweep_seconds: float = 0.0

    @property
    def deployed_share(self) -> float:
        """The share of services on their newest eligible image after the sweep."""
        return 1.0 - len(self.wrong_final) / self.services if self.services else 1.0


def run_dropped(
    sb: Any,
    *,
    seed: int,
    n_events: int,
    drop_rate: float = 0.2,
    repositories: tuple[str, ...] = estate.REPOSITORIES,
) -> DroppedResult:
    """Route a stream with ``drop_rate`` of its events lost, sweep once, check the model."""
    stream = replay.generate(
        seed, n_events, dup_rate=0.0, reorder_rate=0.0, repositories=repositories
    )
    replay.put_images(sb, stream.images)
    ecr = sb.clients("ecr")
    repos = {
        r["repositoryName"]: r
        for r in ecr.describe_repositories(repositoryNames=list(repositories))["repositories"]
    }
    sim = sb.simulator
    observer = replay.DeployObserver(sb).install()
    services = [s for s in estate.SERVICES if estate.service_repository(s) in repositories]
    start = {
        svc: v for svc in services if (v := replay.running_version(sb, observer, svc)) is not None
    }
    res = DroppedResult(
        events=len(stream.events),
        images=len(stream.images),
        vulnerable=sum(bool(i.findings) for i in stream.images),
        crashing=sum(i.crashing for i in stream.images),
        services=len(services),
    )
    routes: list[Any] = []
    lost_before = len(sim.dropped)
    delivered: set[tuple[str, str]] = set()  # (kind, digest)
    started = time.perf_counter()
    sim.drop_events(drop_rate, seed=seed)
    try:
        for ev in stream.events:
            event = replay.to_event(sb, ev, repos)  # a scan's result is in ECR from now on
            got = sim.emit(event, droppable=True)
            if event in sim.dropped[lost_before:]:
                res.dropped += 1
                res.dropped_pushes += ev["kind"] == "push"
                res.dropped_scans += ev["kind"] == "scan"
            else:
                delivered.add((ev["kind"], ev["image"].digest))
            routes += got
        sim.drop_events(0.0)
        t0 = time.perf_counter()
        swept = sim.tick("reconcile")
        res.sweep_seconds = time.perf_counter() - t0
        routes += swept
    finally:
        sim.drop_events(0.0)
        observer.remove()
    res.seconds = time.perf_counter() - started
    for r in routes:
        if r.matched and not r.ok:
            res.failed_routes.append(f"{r.function} {r.detail_type} {r.event_id}: {r.error}")
    by_digest = {img.digest: img for img in stream.images}
    _check_deploys(res, observer.deploys, by_digest)
    every_scan = {img.digest for img in stream.images}
    expected = replay.expected_versions(stream, every_scan, start)
    by_event = replay.expected_versions(
        stream, {d for kind, d in delivered if kind == "scan"}, start
    )
    for svc in services:
        got = replay.running_version(sb, observer, svc)
        if expected[svc] != by_event[svc]:
            res.lost_eligible += 1
        if got != expected[svc]:
            res.wrong_final.append(f"{svc}: runs {got}, model says {expected[svc]}")
    return res


def _check_deploys(
    res: DroppedResult, deploys: list[replay.Deploy], by_digest: dict[str, replay.Image]
) -> None:
    """Forward only, never blocked or quarantined, once per (service, digest); a rollback
    (deployment-events) only off a crashing image."""
    seen: Counter[tuple[str, str | None]] = Counter()
    failed: dict[str, set[str]] = {}
    for d in deploys:  # in the order the calls were made
        if d.call.ok is not True:
            continue
        img = by_digest.get(d.to_digest or "")
        deployer = next((f for f in DEPLOYERS if d.function.endswith(f)), None)
        if deployer is None:
            res.rollbacks += 1
            src = by_digest.get(d.from_digest or "")
            if (src is None or not src.crashing) and d.from_digest != d.to_digest:
                res.backward.append(f"{d.service}: {d.function} moved it off a good image")
            continue
        if deployer == "reconciler":
            res.deployed_by_sweep += 1
        else:
            res.deployed_by_event += 1
        key = (d.service, d.to_digest)
        seen[key] += 1
        if seen[key] > 1:
            res.duplicate_deploys.append(f"{d.service} got {d.to_digest} {seen[key]} times")
        v_from = _version(d.from_digest, d.from_tag)
        v_to = _version(d.to_digest, None)
        if v_to is None or (v_from is not None and v_to <= v_from):
            res.backward.append(f"{d.service}: {deployer} {v_from} -> {v_to}")
        if img is not None:
            if not img.passes(estate.service_gate(d.service)):
                res.blocked_deploys.append(f"{d.service}: {img.tag} {img.findings}")
            if img.digest in failed.get(d.service, set()):
                res.blocked_deploys.append(f"{d.service}: quarantined {img.tag}")
            if img.crashing:
                failed.setdefault(d.service, set()).add(img.digest)


def _version(digest: str | None, tag: str | None) -> replay.Version | None:
    if digest and digest in replay.KNOWN:
        return replay.KNOWN[digest].version
    try:
        return tuple(int(x) for x in tag.split(".")) if tag else None  # type: ignore[return-value]
    except ValueError:
        return None
