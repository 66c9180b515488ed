"""The same services hit by concurrent events: threads calling image-events' ``run()`` at once.

The router delivers one event at a time (it holds a lock), so the threads drive the
handler's ``run()`` directly, each with its own clients (hooked like the router's), in
image-events' deployed environment, against the sandbox.

Round kinds:
- ``same``: ``threads`` deliveries of one clean image's scan result, each with its own
  event id (as if several sources reported it): exactly one ``UpdateService`` per
  service of the repository.
- ``race``: ``threads`` different newer clean images at once: every ``UpdateService``
  goes forward, the services refused while another holds the lease are retried (as
  Lambda would) until none is left, and each service ends on the newest image.
- ``copies``: ``threads`` concurrent copies of one event (the same event id, each its own
  invocation, as when EventBridge or Lambda's queue delivers one event twice): exactly
  one ``UpdateService`` per service.
Rounds go ``same``, ``race``, ``copies``, ``same``, ... After each round no lease is still
held. ``double_deploys``: the services of a ``same`` or ``copies`` round that got more than
one ``UpdateService``.
"""

# ruff: noqa: PLC0415 - imports are deferred

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

from reliability import estate, replay
from reliability.hooks import HOOKS
from reliability.results import Summarized


@dataclass
class ConcurrencyResult(Summarized):
    rounds: int = 0
    threads: int = 0
    deliveries: int = 0
    update_service: int = 0
    busy: int = 0
    retries: int = 0
    #: the rounds of one image (``same`` and ``copies``), their deliveries and UpdateService
    one_image_rounds: int = 0
    one_image_deliveries: int = 0
    one_image_update_service: int = 0
    double_deploys: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.failures or self.errors)


def _scan_event(sb: Any, img: replay.Image, event_id: str, repos: dict[str, Any]) -> dict[str, Any]:
    return replay.to_event(sb, {"kind": "scan", "image": img, "id": event_id}, repos)


def run_rounds(  # noqa: PLR0915 - one round is one story
    sb: Any,
    *,
    rounds: int,
    threads: int,
    seed: int = 0,
    repositories: tuple[str, ...] = ("rel/app2", "rel/app3"),
) -> ConcurrencyResult:
    from autopilot.aws.clients import AwsClients
    from autopilot.errors import LeaseBusy

    from reliability.faults import leftovers
    from sandbox.router import (
        _CapturedOutput,
        lambda_environment,
        load_handler,
        reset_function_caches,
    )
    from sandbox.server import patched_environ

    res = ConcurrencyResult(threads=threads)
    fn = estate.function(sb, "image-events")
    repos = {
        r["repositoryName"]: r
        for r in sb.clients("ecr").describe_repositories(repositoryNames=list(repositories))[
            "repositories"
        ]
    }
    ecs = sb.clients("ecs")
    observer = replay.DeployObserver(sb).install()
    with patched_environ(lambda_environment(fn, sb.endpoint)), _CapturedOutput():
        reset_function_caches()
        module = load_handler(fn.handler.rsplit(".", 1)[0] + ".run")
        for rnd in range(rounds):
            repo = repositories[rnd % len(repositories)]
            kind = ("same", "race", "copies")[rnd % 3]
            n_images = threads if kind == "race" else 1
            images = [replay.Image(repo, v, {}, False) for v in replay.allocate(repo, n_images)]
            replay.put_images(sb, images)
            events = [
                _scan_event(
                    sb,
                    images[i if kind == "race" else 0],
                    f"conc-{seed}-{rnd}-{0 if kind == 'copies' else i}",
                    repos,
                )
                for i in range(threads)
            ]
            mark = HOOKS.mark()
            barrier = threading.Barrier(threads)
            reports: list[Any] = [None] * threads
            raised = [False] * threads

            def work(i: int, ev: dict[str, Any]) -> None:
                barrier.wait()  # noqa: B023 - each thread of a round uses its barrier
                try:
                    reports[i] = module(ev, aws=AwsClients())  # noqa: B023
                except LeaseBusy:  # retryable by design: Lambda redelivers the event
                    raised[i] = True  # noqa: B023
                except Exception as exc:
                    res.errors.append(f"round {rnd}: {type(exc).__name__}: {exc}")  # noqa: B023

            pool = [threading.Thread(target=work, args=(i, ev)) for i, ev in enumerate(events)]
            for t in pool:
                t.start()
            for t in pool:
                t.join()
            res.rounds += 1
            res.deliveries += threads
            # Lambda's retries of what was refused while the lease was held
            pending = [
                ev
                for ev, rep, busy in zip(events, reports, raised, strict=True)
                if busy or (rep is not None and rep.retry_services)
            ]
            res.busy += sum(raised) + sum(
                len(rep.retry_services) for rep in reports if rep is not None
            )
            for _attempt in range(5):
                if not pending:
                    break
                again = []
                for ev in pending:
                    res.retries += 1
                    try:
                        rep = module(ev, aws=AwsClients())
                    except LeaseBusy:
                        again.append(ev)
                        continue
                    if rep.retry_services:
                        again.append(ev)
                pending = again
                time.sleep(0.05)
            if pending:
                res.failures.append(f"round {rnd}: {len(pending)} event(s) still refused")
            updates = [c for c in HOOKS.since(mark) if c.operation == "UpdateService" and c.ok]
            res.update_service += len(updates)
            if kind != "race":
                res.one_image_rounds += 1
                res.one_image_deliveries += threads
                res.one_image_update_service += len(updates)
            with sb.simulator._lock:
                sb.simulator.settle()
            newest = max(images, key=lambda i: i.version)
            for svc in estate.SERVICES:
                if estate.service_repository(svc) != repo:
                    continue
                mine = [c for c in updates if str(c.params["service"]).endswith(f"/{svc}")]
                if kind != "race" and len(mine) != 1:
                    outcomes = sorted(
                        {
                            f"{d.outcome.value}: {d.reason}"
                            for rep in reports
                            if rep is not None
                            for d in rep.decisions
                            if d.service.endswith(f"/{svc}")
                        }
                    )
                    res.failures.append(
                        f"round {rnd} ({kind}): {svc} got {len(mine)} UpdateService {outcomes}"
                    )
                    if len(mine) > 1:
                        res.double_deploys.append(f"round {rnd} ({kind}): {svc}")
                sim = sb.simulator.service(svc)
                td = ecs.describe_services(cluster=sim.cluster_arn, services=[svc])["services"][0][
                    "taskDefinition"
                ]
                digest, _ = observer.image_of(td)
                if digest != newest.digest:
                    res.failures.append(
                        f"round {rnd} ({kind}): {svc} runs {digest}, not the newest {newest.tag}"
                    )
            by_digest = {i.digest: i for i in images}
            for d in observer.deploys:
                if (
                    d.call.ok
                    and d.to_digest in by_digest
                    and d.from_digest in by_digest
                    and by_digest[d.to_digest].version <= by_digest[d.from_digest].version
                ):
                    res.failures.append(f"round {rnd}: {d.service} went backward")
            observer.deploys.clear()
            left = leftovers(sb, HOOKS.since(mark))
            res.failures += [
                f"round {rnd}: lease {x}" for x in left.leases_held + left.leases_past_expiry
            ]
        reset_function_caches()
    observer.remove()
    return res
