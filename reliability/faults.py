"""Faults at the botocore level: a rate that retries absorb, a stretch that fills the DLQs.

1. ``rate_run``: a replay stream (``replay.run_replay``) with every HTTP attempt of the
   functions' clients failing at ``rate`` (throttling, 500, read timeouts, seeded).
   Expected: every reaction completes (botocore's standard retries, then Lambda's retries
   as the router emulates them), nothing is dead-lettered, and the model's checks hold.
2. ``outage_run``: faults at 100% for a stretch of image events (``scope="all"``: every
   call fails; ``scope="UpdateService"``: only ``UpdateService``, so revisions are
   registered and then not used). Expected: each event ends, intact, in image-events'
   DLQ. Then the faults stop, ``cli.redrive.redrive_sandbox`` replays the DLQ and the
   reactions complete: each service on the model's newest eligible image.
3. ``leftovers``: every revision the functions registered is in use by a service, was
   used by an ``UpdateService`` at some point, or was deregistered; no lease is still held.
4. ``kill_run``: image-events killed mid-flight after each call of a deploy in turn (no
   clean-up runs), then the event redelivered as Lambda would: nothing lost, no revision
   left unused, no double deploy, no lease held.
"""

# ruff: noqa: PLC0415 - imports are deferred

from __future__ import annotations

import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from reliability import estate, replay
from reliability.hooks import HOOKS, Call, Killed
from reliability.results import Summarized


@dataclass
class OutageResult(Summarized):
    scope: str
    events: int = 0
    dead_lettered: int = 0
    intact: int = 0
    redriven: int = 0
    redrive_failed: int = 0
    wrong_final: list[str] = field(default_factory=list)
    dry_run_listed: int = 0
    left_in_dlq: int = 0
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return (
            self.dead_lettered == self.events == self.intact == self.redriven
            and self.dry_run_listed == self.events
            and not self.redrive_failed
            and not self.wrong_final
            and self.left_in_dlq == 0
        )


def _dlq_bodies(sb: Any, function: str) -> list[dict[str, Any]]:
    fn = estate.function(sb, function)
    sqs = sb.clients("sqs")
    url = sqs.get_queue_url(QueueName=fn.dead_letter_arn.rsplit(":", 1)[-1])["QueueUrl"]
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    _ = attrs
    out: list[dict[str, Any]] = []
    msgs = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0)
    while msgs.get("Messages"):
        batch = msgs["Messages"]
        out += [json.loads(m["Body"]) for m in batch]
        if len(batch) < 10 or len(out) > 1000:
            break
        msgs = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0)
    return out


def dlq_count(sb: Any, function: str) -> int:
    fn = estate.function(sb, function)
    sqs = sb.clients("sqs")
    url = sqs.get_queue_url(QueueName=fn.dead_letter_arn.rsplit(":", 1)[-1])["QueueUrl"]
    attrs = sqs.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attrs["ApproximateNumberOfMessages"]) + int(
        attrs["ApproximateNumberOfMessagesNotVisible"]
    )


def outage_run(  # noqa: PLR0915 - one outage is one story
    sb: Any,
    *,
    seed: int,
    n_images: int,
    scope: str = "all",
    repositories: tuple[str, ...] = estate.REPOSITORIES,
) -> OutageResult:
    """New clean images for ``repositories``; their scan events meet a 100% outage."""
    from cli.redrive import redrive_sandbox

    res = OutageResult(scope=scope)
    stream = replay.generate(
        seed, n_images * 2, dup_rate=0.0, reorder_rate=0.0, repositories=repositories
    )
    # the outage hits the scan results (the events that deploy): pushes go through first
    fresh = {r: replay.allocate(r, n_images) for r in repositories}
    for img in stream.images:
        img.findings, img.crashing = {}, False
        img.version = fresh[img.repository].pop(0)
    replay.put_images(sb, stream.images)
    repos = {
        r["repositoryName"]: r
        for r in sb.clients("ecr").describe_repositories(repositoryNames=list(repositories))[
            "repositories"
        ]
    }
    by_digest = {i.digest: i for i in stream.images}
    pushes = [e for e in stream.events if e["kind"] == "push"]
    scans = [e for e in stream.events if e["kind"] == "scan"]
    for ev in pushes:
        sb.simulator.emit(replay.to_event(sb, ev, repos))
    before = dlq_count(sb, "image-events")
    started = time.perf_counter()
    sent: dict[str, dict[str, Any]] = {}
    HOOKS.fault_rate = 1.0
    HOOKS.fault_operations = None if scope == "all" else frozenset({scope})
    HOOKS.seed(seed)
    try:
        for ev in scans:
            event = replay.to_event(sb, ev, repos)
            sent[event["id"]] = event
            routes = sb.simulator.emit(event)
            res.events += 1
            res.dead_lettered += sum(
                r.dead_lettered for r in routes if r.function == "image-events"
            )
    finally:
        HOOKS.fault_rate = 0.0
        HOOKS.fault_operations = None
    bodies = [b for b in _dlq_bodies(sb, "image-events") if b.get("id") in sent]
    res.intact = sum(b == json.loads(json.dumps(sent[b["id"]])) for b in bodies)
    _ = before
    listed = redrive_sandbox(sb, functions=[f"{estate.ENVIRONMENT}-image-events"], dry_run=True)
    res.dry_run_listed = sum(m.event_id in sent for m in listed.messages)
    report = redrive_sandbox(sb, functions=[f"{estate.ENVIRONMENT}-image-events"])
    res.redriven = sum(m.ok and m.event_id in sent for m in report.messages)
    res.redrive_failed = len(report.failed)
    res.left_in_dlq = dlq_count(sb, "image-events")
    res.seconds = time.perf_counter() - started
    # each service of those repositories now runs the newest of these images (all clean)
    ecs = sb.clients("ecs")
    observer = replay.DeployObserver(sb)
    for svc in estate.SERVICES:
        repo = estate.service_repository(svc)
        if repo not in repositories:
            continue
        want = max((i.version for i in stream.images if i.repository == repo), default=None)
        sim = sb.simulator.service(svc)
        td = ecs.describe_services(cluster=sim.cluster_arn, services=[svc])["services"][0]
        digest, _tag = observer.image_of(td["taskDefinition"])
        got = by_digest[digest].version if digest in by_digest else None
        if want is not None and got != want:
            res.wrong_final.append(f"{svc}: runs {got}, model says {want}")
    return res


@dataclass
class Leftovers(Summarized):
    registered: int = 0
    unused: list[str] = field(default_factory=list)
    leases_held: list[str] = field(default_factory=list)
    leases_past_expiry: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.unused or self.leases_past_expiry or self.leases_held)


def leftovers(sb: Any, calls: list[Call]) -> Leftovers:
    """Registered-but-never-used revisions still ACTIVE, and leases still held."""
    out = Leftovers()
    ecs = sb.clients("ecs")
    registered = [
        c.note["arn"] for c in calls if c.operation == "RegisterTaskDefinition" and "arn" in c.note
    ]
    used = {
        c.params.get("taskDefinition") for c in calls if c.operation == "UpdateService" and c.ok
    }
    running = {
        ecs.describe_services(cluster=s.cluster_arn, services=[s.arn])["services"][0][
            "taskDefinition"
        ]
        for s in sb.simulator.services.values()
    }
    out.registered = len(registered)
    for arn in registered:
        if arn in used or arn in running:
            continue
        status = ecs.describe_task_definition(taskDefinition=arn)["taskDefinition"]["status"]
        if status == "ACTIVE":
            out.unused.append(arn)
    table = next(
        v for k, v in estate.function(sb, "image-events").environment.items() if "TABLE" in k
    )
    ddb = sb.clients("dynamodb")
    now = time.time()
    for page in ddb.get_paginator("scan").paginate(
        TableName=table,
        FilterExpression="sk = :l",
        ExpressionAttributeValues={":l": {"S": "LEASE"}},
    ):
        for item in page["Items"]:
            if "holder" not in item:
                continue
            until = float(item.get("lease_until", {}).get("N", "0"))
            label = f"{item['pk']['S']} held by {item['holder'].get('S')} until {until:.0f}"
            (out.leases_past_expiry if until < now else out.leases_held).append(label)
    return out


# -- kills mid-flight ------------------------------------------------------------------------
@dataclass
class KillResult(Summarized):
    """Kills of image-events mid-flight, one per call position of a scan result -> deploy."""

    repository: str = ""
    #: calls the deploying invocation makes (each one a position to kill it after)
    positions: int = 0
    #: killed after every ``stride``-th of them; how many positions were tried
    stride: int = 1
    tried: int = 0
    kills: int = 0
    redeliveries: int = 0
    busy: int = 0
    lost: list[str] = field(default_factory=list)
    orphans: list[str] = field(default_factory=list)
    double_deploys: list[str] = field(default_factory=list)
    leases_held: list[str] = field(default_factory=list)
    leases_expired: int = 0
    killed_after: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.kills == self.tried > 0 and not (
            self.lost or self.orphans or self.double_deploys or self.leases_held
        )


def _age_leases(sb: Any, seconds: int) -> None:
    """The harness's clock moves on by ``seconds`` for every lease held (what a dead
    invocation left expires as it would once that time has passed): ``lease_until`` only,
    so the leases' record of the last change (``changed_at``) stays true."""
    table = next(
        v for k, v in estate.function(sb, "image-events").environment.items() if "TABLE" in k
    )
    ddb = sb.clients("dynamodb")
    for page in ddb.get_paginator("scan").paginate(
        TableName=table,
        FilterExpression="sk = :l AND attribute_exists(holder)",
        ExpressionAttributeValues={":l": {"S": "LEASE"}},
    ):
        for item in page["Items"]:
            until = int(float(item["lease_until"]["N"]))
            ddb.update_item(
                TableName=table,
                Key={"pk": item["pk"], "sk": item["sk"]},
                UpdateExpression="SET lease_until = :u",
                ExpressionAttributeValues={":u": {"N": str(until - seconds)}},
            )


def kill_run(  # noqa: PLR0915 - one kill is one story
    sb: Any,
    *,
    repository: str = "rel/app4",
    stride: int = 1,
    only: frozenset[str] | None = None,
) -> KillResult:
    """Kill image-events after each call of a deploying scan result, then redeliver.

    Each round: a new clean image of ``repository`` (tracked by two services), its scan
    result handled by image-events with the kill armed after call ``k`` (``hooks.Killed``
    from then on: no clean-up reaches AWS). Then Lambda's retry comes as it would after a
    crash or a timeout, in a new invocation (new request id: the worst case, as when the
    event comes again by another path), once the lease has expired on the harness's clock
    (``_age_leases`` by the lease's length), and again while it asks for a retry (at most
    Lambda's 2 retries and a redrive). Checked after each round: the event is not lost
    (both services run the new image), no revision registered in the round is unused,
    one UpdateService per service, no lease held.
    ``stride``: kill after every ``stride``-th call (1: after each one, as in ``--full``);
    ``only``: kill only after calls of these operations (e.g. ``RegisterTaskDefinition``).
    An expired lease a dead invocation left and no redelivery needed is not held (any
    holder takes it over): it is counted in ``leases_expired``, not ``leases_held``.
    """
    from sandbox.router import invoke_in_process

    res = KillResult(repository=repository, stride=stride)
    started = time.perf_counter()
    fn = estate.function(sb, "image-events")
    lease = int(fn.environment.get("LEASE_SECONDS", "90"))
    repos = {
        r["repositoryName"]: r
        for r in sb.clients("ecr").describe_repositories(repositoryNames=[repository])[
            "repositories"
        ]
    }
    services = [s for s in estate.SERVICES if estate.service_repository(s) == repository]
    ecs = sb.clients("ecs")
    observer = replay.DeployObserver(sb)

    def round_(kill_at: int | None) -> tuple[list[Call], list[Call], str]:
        """(the first invocation's calls, the round's calls, the new image's digest)"""
        (version,) = replay.allocate(repository, 1)
        img = replay.Image(repository, version, {}, False)
        replay.put_images(sb, [img])
        event = replay.to_event(sb, {"kind": "scan", "image": img, "id": str(uuid.uuid4())}, repos)
        mark = HOOKS.mark()
        if kill_at is not None:
            HOOKS.kill_after(kill_at)
        try:
            _, error, _ = invoke_in_process(fn, event, sb.endpoint)
        except Killed:
            error = None
            res.kills += 1
            res.killed_after[HOOKS.killed_after] = res.killed_after.get(HOOKS.killed_after, 0) + 1
        finally:
            HOOKS.revive()
        me = threading.get_ident()
        first = [c for c in HOOKS.since(mark) if c.thread == me]
        for _attempt in range(3 if kill_at is not None or error is not None else 0):
            _age_leases(sb, lease + 1)
            res.redeliveries += 1
            _, error, _ = invoke_in_process(fn, event, sb.endpoint)
            if error is None:
                break
            res.busy += 1
        with sb.simulator._lock:
            sb.simulator.settle()
        if error is not None:
            res.lost.append(f"kill after call {kill_at}: {type(error).__name__}: {error}")
        # this thread's calls: not those of the functions the simulator's reactions invoke
        # on the sandbox server's threads (settle's, on this one, come after the deploy)
        return first, [c for c in HOOKS.since(mark) if c.thread == me], img.digest

    # the positions: the calls one undisturbed deploy makes (the second: the first of a
    # repository may read more, e.g. what its services ran before by tag)
    round_(None)
    calls, _, _ = round_(None)
    res.positions = len(calls)
    chosen = [
        k
        for k in range(1, res.positions + 1, stride)
        if only is None or calls[k - 1].operation in only
    ]
    res.tried = len(chosen)
    for k in chosen:
        _, calls, digest = round_(k)
        where = f"kill after call {k}"
        for svc in services:
            updates = [
                c
                for c in calls
                if c.operation == "UpdateService"
                and c.ok
                and str(c.params.get("service", "")).endswith(f"/{svc}")
            ]
            if len(updates) != 1:
                res.double_deploys.append(f"{where}: {svc} got {len(updates)} UpdateService")
            sim = sb.simulator.service(svc)
            td = ecs.describe_services(cluster=sim.cluster_arn, services=[svc])["services"][0]
            running, _ = observer.image_of(td["taskDefinition"])
            if running != digest:
                res.lost.append(f"{where}: {svc} runs {running}, not the new image")
        left = leftovers(sb, calls)
        res.orphans += [f"{where}: {arn}" for arn in left.unused]
        res.leases_held += [f"{where}: {x}" for x in left.leases_held]
        res.leases_expired += len(left.leases_past_expiry)
    res.seconds = time.perf_counter() - started
    return res
