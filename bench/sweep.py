"""3b. The reconciler's sweep (``functions/autopilot/flows/reconcile.py``) at 100 and 1,000
managed services, in-process against moto (``tests.estate.Estate``): calls per sweep, wall
time per sweep, and the delay from a dropped push event to its deploy.

The estate: S Fargate services (desired count 1) over S / 10 ECR repositories, ten services
per repository, each service on its own task definition revision pinned by digest to the
repository's ``v1.2.0`` (so a sweep reads one DescribeTaskDefinition per service: the worst
case of ``flows/reconcile.py``'s formula), scan gate on, every image scanned clean.

- **nothing to do**: one sweep, every service already runs its pick;
- **a dropped push in every repository**: ``v1.3.0`` is pushed to each repository with no
  event (the push and scan events were dropped), then one sweep deploys it to the services,
  within the reconciler's time budget as Lambda gives it (the function timeout,
  ``functions.timeout_seconds`` in the config, default 60 s: ``remaining_ms`` counts down
  from it, and the sweep defers what it cannot reach under ``RESERVE_MS`` to the next
  sweep; how many sweeps all of them take is estimated from the first, not measured).

A dropped push waits for the next sweep: the delay to its deploy is at most one
``reconciler.rate_minutes`` interval (default 5 min) plus the sweep's time up to that
service (bounded by the sweep's wall time measured here); a sweep that defers adds one
interval per sweep it needs. Calls are deterministic (one run each); moto answers
in-process, so the wall times are the functions' own work plus moto's, not AWS latency.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from bench.common import Figure, Section, verdict
from tests.estate import Estate, functions_environment

SIZES = (100, 1000)
QUICK_SIZES = (20,)
PER_REPOSITORY = 10
#: the functions' default timeout (``AutomationFunctions.timeout_seconds`` in infra/config.py)
TIMEOUT_SECONDS = 60
#: the reconciler's default schedule (``Reconciler.rate_minutes`` in infra/config.py)
RATE_MINUTES = 5
RULE = "arn:aws:events:us-east-1:123456789012:rule/autopilot-reconcile"


def _budget(seconds: float) -> Callable[[], int]:
    """``get_remaining_time_in_millis`` of an invocation that starts now."""
    deadline = time.perf_counter() + seconds

    def left() -> int:
        return int((deadline - time.perf_counter()) * 1000)

    return left


def _sweep(w: Estate, seconds: float) -> tuple[dict[str, int], float, dict[str, int]]:
    """One sweep within ``seconds``: its AWS calls (no ledger, no notices), wall time and
    outcomes counted."""
    from autopilot.handlers import reconciler  # noqa: PLC0415

    tick = w.envelope("Scheduled Event", "aws.events", {}, resources=[RULE])
    w.reset_counts()
    t0 = time.perf_counter()
    report = reconciler.run(tick, aws=w.clients, remaining_ms=_budget(seconds))
    wall = time.perf_counter() - t0
    counted: dict[str, int] = {}
    for outcome in report.outcomes().values():
        counted[outcome] = counted.get(outcome, 0) + 1
    return w.aws_calls(), wall, counted


def measure(services: int) -> dict[str, Any]:
    """Both sweeps at ``services`` managed services."""
    repos = max(1, services // PER_REPOSITORY)
    with functions_environment(log_level="WARNING"), Estate() as w:
        t0 = time.perf_counter()
        names = [f"bench/app-{r:03d}" for r in range(repos)]
        for r, repo in enumerate(names):
            digest = w.push(repo, "v1.2.0")
            w.hold_scan(repo, digest, {})
            for i in range(PER_REPOSITORY if services >= PER_REPOSITORY else services):
                w.service(f"svc-{r:03d}-{i}", repo, digest=digest, desired=1)
        setup = time.perf_counter() - t0
        idle_calls, idle_wall, idle_outcomes = _sweep(w, TIMEOUT_SECONDS)
        for repo in names:
            digest = w.push(repo, "v1.3.0")  # no event: it was dropped
            w.hold_scan(repo, digest, {})
        lost_calls, lost_wall, lost_outcomes = _sweep(w, TIMEOUT_SECONDS)
    return {
        "services": services,
        "repositories": repos,
        "setup_seconds": round(setup, 1),
        "idle_calls": idle_calls,
        "idle_wall": idle_wall,
        "idle_outcomes": idle_outcomes,
        "lost_calls": lost_calls,
        "lost_wall": lost_wall,
        "lost_outcomes": lost_outcomes,
        # the sweep defers what it cannot reach in its budget to the next sweeps, which
        # deploy about as many each (estimated from the first: not measured, to keep the
        # bench short; moto slows as revisions accumulate, so it is a lower bound)
        "sweeps_to_deploy_all": _sweeps_needed(services, lost_outcomes.get("deployed", 0)),
    }


def _sweeps_needed(services: int, first: int) -> int:
    return -(-services // first) if first else 0


def run(*, quick: bool = False) -> Section:
    section = Section(
        key="sweep",
        title="Reconciler sweep: calls, time and the delay of a dropped push",
        command="python -m bench.run --only sweep",
    )
    for services in QUICK_SIZES if quick else SIZES:
        m = measure(services)
        section.details[str(services)] = m
        idle_total = sum(m["idle_calls"].values())
        lost_total = sum(m["lost_calls"].values())
        deployed = m["lost_outcomes"].get("deployed", 0)
        fits = m["sweeps_to_deploy_all"] == 1 and deployed == services
        section.figures += [
            Figure(
                f"sweep, nothing to do, {services} services ({m['repositories']} repositories)",
                "calls",
                [idle_total],
                target=f"<= S + ceil(S/10) + ceil(S/100) + R + 1 = "
                f"{_bound(services, m['repositories'])}",
                verdict=verdict(idle_total <= _bound(services, m["repositories"])),
                why=_calls(m["idle_calls"]),
            ),
            Figure(
                f"sweep, nothing to do, {services} services: wall time (in-process moto)",
                "s",
                [round(m["idle_wall"], 2)],
                target=f"< {TIMEOUT_SECONDS} s (the function timeout)",
                verdict=verdict(m["idle_wall"] < TIMEOUT_SECONDS),
            ),
            Figure(
                f"sweep, a dropped push in each of {m['repositories']} repositories, "
                f"{services} services",
                "calls",
                [lost_total],
                why=_calls(m["lost_calls"]) + f"; outcomes {m['lost_outcomes']}",
            ),
            Figure(
                f"sweep deploying {services} services: wall time (in-process moto)",
                "s",
                [round(m["lost_wall"], 2)],
                target=f"every service deployed by one sweep within the {TIMEOUT_SECONDS} s "
                "timeout",
                verdict=verdict(fits),
                why=f"{deployed} of {services} deployed by the first sweep"
                + (
                    ""
                    if fits
                    else f"; it ran short of its {TIMEOUT_SECONDS} s budget and deferred "
                    f"{m['lost_outcomes'].get('deferred', 0)} (services and repositories) to "
                    f"the next sweeps: about {m['sweeps_to_deploy_all']} sweeps in all "
                    "(estimated from the first)"
                )
                + (
                    f"; the sweep ran {m['lost_wall']:.0f} s, past the {TIMEOUT_SECONDS} s "
                    "timeout (what ran after the last time check was not profiled): Lambda would "
                    "cut it off"
                    if m["lost_wall"] > TIMEOUT_SECONDS
                    else ""
                ),
            ),
            Figure(
                f"dropped push -> deploy, {services} services: bound",
                "s",
                [round(RATE_MINUTES * 60 * m["sweeps_to_deploy_all"] + m["lost_wall"], 1)],
                why=f"{m['sweeps_to_deploy_all']} x rate_minutes ({RATE_MINUTES} min) + the "
                f"sweep time ({m['lost_wall']:.1f} s); with rate_minutes = N: "
                f"{m['sweeps_to_deploy_all']} x N min + {m['lost_wall']:.1f} s"
                + ("" if fits else " (the sweeps after the first estimated, not measured)"),
            ),
        ]
    section.notes.append(
        "In-process against moto (tests/estate.py), not AWS: the wall times are the "
        "functions' work plus moto's, without network latency or API rate limits. Each "
        "service runs its own revision (one DescribeTaskDefinition each: the worst case); "
        "the ledger's DynamoDB calls and the notices are not counted. The delay bound is "
        "one reconciler interval (rate_minutes) per sweep needed plus the sweep's time."
    )
    return section


def _bound(services: int, repos: int) -> int:
    return services + -(-services // 10) + -(-services // 100) + repos + 1


def _calls(calls: dict[str, int]) -> str:
    return ", ".join(f"{k.split(':', 1)[1]} {v}" for k, v in calls.items())
