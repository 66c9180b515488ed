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

Past ``reconciler.shard_size`` services (default 200) a sweep is fanned out: the tick puts
one ``Reconcile Shard`` event per shard on the bus (caught here by an SQS target, as
EventBridge delivers it) and each shard is swept by its own invocation with its own budget.
Here the shards run one after the other in-process (on Lambda they run side by side): the
figures give each invocation's wall time (every one must fit the timeout) and their total.

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
#: the reconciler's default shard size (``Reconciler.shard_size`` in infra/config.py)
SHARD_SIZE = 200


class _PacedClock:
    """An invocation's clock: the wall clock plus the pacing waits, which are counted, not
    slept (moto has no rate limits; on Lambda the sweep sleeps them)."""

    def __init__(self) -> None:
        self.waited = 0.0

    def now(self) -> float:
        return time.perf_counter() + self.waited

    def sleep(self, seconds: float) -> None:
        self.waited += seconds


def _budget(clock: _PacedClock, seconds: float) -> Callable[[], int]:
    """``get_remaining_time_in_millis`` of an invocation that starts now, on ``clock``."""
    deadline = clock.now() + seconds

    def left() -> int:
        return int((deadline - clock.now()) * 1000)

    return left


def _invoke(event: dict[str, Any], w: Estate, seconds: float) -> tuple[Any, float, float]:
    """One invocation within ``seconds`` on its own paced clock: its report, its time
    (wall plus pacing waits) and its waits."""
    from autopilot.handlers import reconciler  # noqa: PLC0415

    clock = _PacedClock()
    t0 = clock.now()
    report = reconciler.run(event, aws=w.clients, remaining_ms=_budget(clock, seconds), clock=clock)
    return report, clock.now() - t0, clock.waited


def _sweep(w: Estate, seconds: float) -> dict[str, Any]:
    """One tick within ``seconds`` and, if it fanned out, each of its shards within
    ``seconds`` of its own, and each shard a shard handed on (out of time) after it: the
    AWS calls of all (no ledger, no notices), each invocation's time (wall plus pacing
    waits), per shard of the tick the time of its chain of hand-ons, and the outcomes of
    the services counted (a shard put on the bus is counted under ``shards``)."""
    tick = w.envelope("Scheduled Event", "aws.events", {}, resources=[RULE])
    w.reset_counts()
    report, tick_time, tick_wait = _invoke(tick, w, seconds)
    reports = [report]
    times = [tick_time]
    waits = tick_wait
    chains: dict[int, float] = {}
    hand_ons = 0
    pending = sorted(w.bus_events(), key=lambda e: int(e["detail"]["shard"]))
    while pending:  # the tick's shards, then what each handed on (run one after another)
        shard = pending.pop(0)
        report, took, waited = _invoke(shard, w, seconds)
        reports.append(report)
        times.append(took)
        waits += waited
        n = int(shard["detail"]["shard"])
        chains[n] = chains.get(n, 0.0) + took
        hand_ons += 1 if int(shard["detail"].get("hop", 0)) else 0
        pending += w.bus_events()
    counted: dict[str, int] = {}
    for report in reports:
        for service, outcome in report.outcomes().items():
            key = "shards" if service.startswith("shard/") else outcome
            counted[key] = counted.get(key, 0) + 1
    return {
        "calls": w.aws_calls(),
        "tick_wall": times[0],
        "shard_walls": times[1:],
        "chains": [chains[n] for n in sorted(chains)],
        "hand_ons": hand_ons,
        "waits": waits,
        "wall": sum(times),
        "slowest": max(times),
        "outcomes": counted,
    }


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
        w.tap_bus()  # the shards the tick puts on the bus, as the shard rule gets them
        idle = _sweep(w, TIMEOUT_SECONDS)
        for repo in names:
            digest = w.push(repo, "v1.3.0")  # no event: it was dropped
            w.hold_scan(repo, digest, {})
        lost = _sweep(w, TIMEOUT_SECONDS)
    lost_outcomes = lost["outcomes"]
    return {
        "services": services,
        "repositories": repos,
        "setup_seconds": round(setup, 1),
        "idle_calls": idle["calls"],
        "idle_wall": idle["wall"],
        "idle_slowest": idle["slowest"],
        "idle_outcomes": idle["outcomes"],
        "lost_calls": lost["calls"],
        "lost_wall": lost["wall"],
        "lost_tick_wall": lost["tick_wall"],
        "lost_shard_walls": lost["shard_walls"],
        "lost_slowest": lost["slowest"],
        "lost_chains": lost["chains"],
        "lost_hand_ons": lost["hand_ons"],
        "lost_waits": lost["waits"],
        "idle_waits": idle["waits"],
        "idle_hand_ons": idle["hand_ons"],
        # on Lambda the shards run side by side (each hand-on after its shard): the tick,
        # then its slowest chain
        "lost_delay": lost["tick_wall"] + max(lost["chains"], default=0.0),
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
        repos = m["repositories"]
        idle_total = sum(m["idle_calls"].values())
        lost_total = sum(m["lost_calls"].values())
        deployed = m["lost_outcomes"].get("deployed", 0)
        shards = len(m["lost_chains"])
        fits = (
            m["sweeps_to_deploy_all"] == 1
            and deployed == services
            and m["lost_slowest"] < TIMEOUT_SECONDS
            and m["lost_delay"] < RATE_MINUTES * 60
        )
        how = (
            f"one tick and {shards} shards of <= {SHARD_SIZE} services, each its own "
            f"invocation, and {m['lost_hand_ons']} shards they handed on when short of time "
            "(run one after the other here)"
            if shards
            else "one sweep"
        )
        bound = _bound(services, repos, m["idle_hand_ons"])
        section.figures += [
            Figure(
                f"sweep, nothing to do, {services} services ({repos} repositories)",
                "calls",
                [idle_total],
                target=f"<= {_bound_text(services)} = {bound}",
                verdict=verdict(idle_total <= bound),
                why=_calls(m["idle_calls"])
                + f"; {m['idle_hand_ons']} hand-ons; pacing waits {m['idle_waits']:.1f} s",
            ),
            Figure(
                f"sweep, nothing to do, {services} services: time (in-process moto, and the "
                "pacing waits)",
                "s",
                [round(m["idle_wall"], 2)],
                target=f"every invocation < {TIMEOUT_SECONDS} s (the function timeout)",
                verdict=verdict(m["idle_slowest"] < TIMEOUT_SECONDS),
                why=f"slowest invocation {m['idle_slowest']:.1f} s",
            ),
            Figure(
                f"sweep, a dropped push in each of {repos} repositories, {services} services",
                "calls",
                [lost_total],
                why=_calls(m["lost_calls"]) + f"; outcomes {m['lost_outcomes']}",
            ),
            Figure(
                f"sweep deploying {services} services: time (in-process moto, and the pacing "
                "waits)",
                "s",
                [round(m["lost_wall"], 2)],
                target=f"every service deployed by one tick ({how}), every invocation "
                f"within the {TIMEOUT_SECONDS} s timeout",
                verdict=verdict(fits),
                why=f"{deployed} of {services} deployed by {how}; "
                + (
                    f"tick {m['lost_tick_wall']:.1f} s, invocations "
                    + ", ".join(f"{x:.1f}" for x in m["lost_shard_walls"])
                    + f" s (slowest {m['lost_slowest']:.1f} s); each shard and its hand-ons "
                    + ", ".join(f"{x:.1f}" for x in m["lost_chains"])
                    + " s"
                    if shards
                    else f"{m['lost_wall']:.1f} s"
                )
                + f"; pacing waits {m['lost_waits']:.1f} s in all"
                + (
                    ""
                    if fits
                    else f"; deferred {m['lost_outcomes'].get('deferred', 0)} (services and "
                    f"repositories) to the next sweeps: about {m['sweeps_to_deploy_all']} "
                    "sweeps in all (estimated from the first)"
                ),
            ),
            Figure(
                f"dropped push -> deploy, {services} services: bound",
                "s",
                [round(RATE_MINUTES * 60 * m["sweeps_to_deploy_all"] + m["lost_delay"], 1)],
                why=f"{m['sweeps_to_deploy_all']} x rate_minutes ({RATE_MINUTES} min) + the "
                f"sweep time ({m['lost_delay']:.1f} s"
                + (
                    ": the tick and its slowest shard with its hand-ons, as the shards run "
                    "side by side"
                    if shards
                    else ""
                )
                + f"); with rate_minutes = N: {m['sweeps_to_deploy_all']} x N min + "
                f"{m['lost_delay']:.1f} s"
                + ("" if fits else " (the sweeps after the first estimated, not measured)"),
            ),
        ]
    section.notes.append(
        "In-process against moto (tests/estate.py), not AWS: the times are the functions' "
        "work plus moto's, without network latency, plus the waits the pacing asks for "
        "(logic/pacing.py: reconciler.api_share 0.5 of the default limits, divided among the "
        "shards), counted on each invocation's clock and in its budget, not slept. Each "
        "service runs its own revision (one DescribeTaskDefinition each: the worst case); "
        "the ledger's DynamoDB calls and the notices are not counted. The delay bound is "
        "one reconciler interval (rate_minutes) per sweep needed plus the sweep's time. "
        f"Past reconciler.shard_size ({SHARD_SIZE}) services the tick fans out: its shards "
        "run one after the other here, each with a budget of its own (on Lambda they run "
        "side by side)."
    )
    return section


def _shards(services: int) -> int:
    return -(-services // SHARD_SIZE) if services > SHARD_SIZE else 0


def _bound(services: int, repos: int, hand_ons: int = 0) -> int:
    """``flows/reconcile.py``'s calls with nothing to do: S DescribeTaskDefinition,
    ceil(S/10) DescribeServices, ceil(S/100) + 1 GetResources, R DescribeImages; fanned out
    into K shards, K PutEvents more and each shard's own DescribeServices (at most
    ceil(S/10) + K in all); H shards handed on (out of time), H PutEvents more and their
    own DescribeServices (at most ceil(S/10) + H more)."""
    k = _shards(services)
    base = services + -(-services // 10) + -(-services // 100) + repos + 1
    fanned = k + -(-services // 10) + k if k else 0
    handed = 2 * hand_ons + -(-services // 10) if hand_ons else 0
    return base + fanned + handed


def _bound_text(services: int) -> str:
    if _shards(services):
        return (
            "S + 2 ceil(S/10) + ceil(S/100) + R + 1 + 2K (K shards) + ceil(S/10) + 2H "
            "(H hand-ons, if any)"
        )
    return "S + ceil(S/10) + ceil(S/100) + R + 1"


def _calls(calls: dict[str, int]) -> str:
    return ", ".join(f"{k.split(':', 1)[1]} {v}" for k, v in calls.items())
