"""Retention against lifecycle expiry: many images pushed, some deployed, the reconciler's
sweeps keeping the protective tags, then an aggressive lifecycle expiry run in the sandbox
(keep 1 image of any kind, below the protective rule); no protected digest may go, and a
service must still roll back to its last known good.

For each repository of ``repositories`` (two services each, ``estate.yaml``):

1. ``rounds`` times: a clean image pushed (image-events deploys it to both services, the
   simulator completes the deployments, deployment-events records the last known good), a
   blocked one (CRITICAL findings: never deployed), then one sweep
   (``Simulator.tick("reconcile")``), which moves the protective tags;
2. the model of what must survive, read apart from the tags: for each service the digest
   its task definition runs (ECS), and the last ``keep`` distinct digests it ran once its
   deployment completed (observed after each round);
3. the repository's lifecycle policy replaced by the estate's protective rule first, then
   "keep 1 image, any" (``retention.lifecycle_rule``), and the sandbox's expiry run
   (``Simulator.expire``, ``sandbox/simulator/lifecycle.py``); what the same policy without
   the protective rule would have expired is counted too (it must include protected
   digests, or the phase proves nothing);
4. a crashing image pushed to one service's repository: its deployment fails and
   deployment-events rolls the service back to its last known good, which ECR must still
   hold.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from autopilot.logic import retention

from reliability import estate, replay
from sandbox.simulator.lifecycle import Image, evaluate

#: the estate's own setting (``retention.keep_known_good``, default)
KEEP = retention.DEFAULT_KEEP


@dataclass
class RetentionResult:
    repositories: int = 0
    services: int = 0
    pushed: int = 0
    deployed: int = 0
    sweeps: int = 0
    protected: int = 0
    expired: int = 0
    #: protected digests (running or last known good) the expiry run removed: must be none
    protected_removed: list[str] = field(default_factory=list)
    #: what the same policy without the protective rule would have removed of them
    unprotected_would_remove: int = 0
    rolled_back: bool = False
    rollback_target_held: bool = False
    failed_routes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return (
            not self.protected_removed
            and self.expired > 0
            and self.unprotected_would_remove > 0
            and self.rolled_back
            and self.rollback_target_held
            and not self.failed_routes
        )

    def summary(self) -> dict[str, Any]:
        return {
            "repositories": self.repositories,
            "services": self.services,
            "pushed": self.pushed,
            "deployed": self.deployed,
            "sweeps": self.sweeps,
            "protected": self.protected,
            "expired": self.expired,
            "protected_removed": len(self.protected_removed),
            "unprotected_would_remove": self.unprotected_would_remove,
            "rolled_back": self.rolled_back,
            "rollback_target_held": self.rollback_target_held,
            "failed_routes": len(self.failed_routes),
            "seconds": round(self.seconds, 1),
            "ok": self.ok,
        }


def _running(sb: Any, observer: replay.DeployObserver, svc: str) -> str | None:
    sim = sb.simulator.service(svc)
    (described,) = sb.clients("ecs").describe_services(cluster=sim.cluster_arn, services=[svc])[
        "services"
    ]
    return observer.image_of(described["taskDefinition"])[0]


def _push(sb: Any, res: RetentionResult, repo: str, tag: str, **kw: Any) -> Any:
    pushed = sb.simulator.push(repo, tag, **kw)
    res.pushed += 1
    replay.KNOWN[pushed.digest] = replay.Image(
        repo,
        tuple(int(x) for x in tag.split(".")),  # type: ignore[arg-type]
        dict(kw.get("findings") or {}),
        bool(kw.get("crashing")),
        pushed.digest,
    )
    _routes_ok(res, pushed.routes)
    return pushed


def _held(sb: Any, repo: str) -> dict[str, set[str]]:
    ecr = sb.clients("ecr")
    return {
        d["imageDigest"]: set(d.get("imageTags", []))
        for page in ecr.get_paginator("describe_images").paginate(repositoryName=repo)
        for d in page["imageDetails"]
    }


def run_retention(
    sb: Any,
    *,
    rounds: int = 5,
    repositories: tuple[str, ...] = estate.REPOSITORIES[3:],
) -> RetentionResult:
    """The phase over ``repositories`` (default the last two: the other phases' models
    keep the first ones); the crash and rollback go to the first service of the first."""
    started = time.perf_counter()
    observer = replay.DeployObserver(sb)
    res = RetentionResult(repositories=len(repositories))
    services = [s for s in estate.SERVICES if estate.service_repository(s) in repositories]
    res.services = len(services)
    history = _deploy_rounds(sb, res, observer, services, repositories=repositories, rounds=rounds)
    protected: dict[str, set[str]] = {}
    for svc in services:
        must = set(history[svc][-KEEP:])
        running = _running(sb, observer, svc)
        if running:
            must.add(running)
        protected.setdefault(estate.service_repository(svc), set()).update(must)
    res.protected = sum(len(d) for d in protected.values())
    for repo in repositories:
        _expire(sb, res, repo, protected.get(repo, set()))
    _roll_back(sb, res, observer, services[0])
    res.seconds = time.perf_counter() - started
    return res


def _routes_ok(res: RetentionResult, routes: list[Any]) -> None:
    for r in routes:
        if r.matched and not r.ok:
            res.failed_routes.append(f"{r.function} {r.detail_type}: {r.error}")


def _deploy_rounds(
    sb: Any,
    res: RetentionResult,
    observer: replay.DeployObserver,
    services: list[str],
    *,
    repositories: tuple[str, ...],
    rounds: int,
) -> dict[str, list[str]]:
    """Each round a clean and a blocked push per repository, then a sweep; each service's
    digests in the order it ran them (each deployment completed)."""
    sim = sb.simulator
    history: dict[str, list[str]] = {s: [] for s in services}
    for repo in repositories:
        versions = replay.allocate(repo, 2 * rounds)
        for n in range(rounds):
            clean, blocked = (".".join(map(str, v)) for v in versions[2 * n : 2 * n + 2])
            _push(sb, res, repo, clean)
            _push(sb, res, repo, blocked, findings={"CRITICAL": 1})
            _routes_ok(res, sim.tick("reconcile"))
            res.sweeps += 1
            for svc in services:
                if estate.service_repository(svc) != repo:
                    continue
                digest = _running(sb, observer, svc)
                if digest and (not history[svc] or history[svc][-1] != digest):
                    history[svc].append(digest)
                    res.deployed += 1
    # one more sweep sees every deployment completed: the tags hold the last KEEP known good
    _routes_ok(res, sim.tick("reconcile"))
    res.sweeps += 1
    return history


#: the aggressive rule under the protective one: keep 1 image of any kind
AGGRESSIVE = {
    "rulePriority": 2,
    "description": "keep 1 image, any",
    "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 1},
    "action": {"type": "expire"},
}


def _expire(sb: Any, res: RetentionResult, repo: str, protected: set[str]) -> None:
    """The protective rule, then keep 1 of any; one expiry run; what of ``protected`` went.
    First, what the aggressive rule alone would have expired of ``protected``."""
    before = _held(sb, repo)
    ecr = sb.clients("ecr")
    pushed = {
        d["imageDigest"]: d["imagePushedAt"]
        for page in ecr.get_paginator("describe_images").paginate(repositoryName=repo)
        for d in page["imageDetails"]
    }
    images = [Image(d, tuple(t), pushed[d]) for d, t in before.items()]
    bare = json.dumps({"rules": [{**AGGRESSIVE, "rulePriority": 1}]})
    would = {e.digest for e in evaluate(bare, images, datetime.now(UTC))}
    res.unprotected_would_remove += len(would & protected)
    policy = {"rules": [retention.lifecycle_rule(retention.DEFAULT_PREFIX), AGGRESSIVE]}
    ecr.put_lifecycle_policy(repositoryName=repo, lifecyclePolicyText=json.dumps(policy))
    res.expired += len(sb.simulator.expire(repo)[repo])
    after = _held(sb, repo)
    res.protected_removed += [f"{repo}@{d}" for d in sorted(protected) if d not in after]


def _roll_back(sb: Any, res: RetentionResult, observer: replay.DeployObserver, svc: str) -> None:
    """A crashing image: its deployment fails, the service goes back to its last known good
    (which ECR must still hold)."""
    repo = estate.service_repository(svc)
    good = _running(sb, observer, svc)
    (crash_version,) = replay.allocate(repo, 1)
    _push(sb, res, repo, ".".join(map(str, crash_version)), crashing=True)
    _routes_ok(res, sb.simulator.settle())
    res.rolled_back = good is not None and _running(sb, observer, svc) == good
    res.rollback_target_held = good is not None and good in _held(sb, repo)
