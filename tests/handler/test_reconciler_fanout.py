"""reconciler against moto: a sweep's steps fit its invocation's time budget (each step only
if its worst case, measured so far in the invocation, fits before the wrap-up reserve), and
a tick that finds more services than ``shard_size`` fans out: one ``Reconcile Shard`` event
per shard on the default bus, each swept by its own invocation."""

from __future__ import annotations

import time
from typing import Any

import pytest
from autopilot.errors import InvalidEvent
from autopilot.flows import reconcile
from autopilot.handlers import reconciler

from tests.estate import ACCOUNT, CLUSTER, REGION, REGISTRY, Estate, LambdaContext

RULE_ARN = f"arn:aws:events:{REGION}:{ACCOUNT}:rule/autopilot-reconcile"
CLUSTER_ARN = f"arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/{CLUSTER}"


def tick(world: Estate) -> dict[str, Any]:
    return world.envelope("Scheduled Event", "aws.events", {}, resources=[RULE_ARN])


def outcomes(report: dict[str, Any]) -> dict[str, str]:
    return {d["service"]: d["outcome"] for d in report["decisions"]}


#: the digest of each repository's lost push (``estate_with_lost_pushes``)
NEW: dict[str, str] = {}


def estate_with_lost_pushes(world: Estate, repos: int, per_repo: int) -> dict[str, list[str]]:
    """``repos`` repositories of ``per_repo`` services on v1.2.0 each, and a push of v1.3.0
    to each whose event was lost (its digest in ``NEW``); the services' ARNs by repository."""
    out: dict[str, list[str]] = {}
    for r in range(repos):
        repo = f"demo/app-{r}"
        digest = world.push(repo, "v1.2.0")
        world.hold_scan(repo, digest, {})
        out[repo] = [world.service(f"app-{r}-{i}", repo, digest=digest) for i in range(per_repo)]
        NEW[repo] = world.push(repo, "v1.3.0")
        world.hold_scan(repo, NEW[repo], {})
    return out


# -- the time budget ------------------------------------------------------------------------
class Clock:
    """``time.monotonic`` moved forward by ``skip`` seconds (the invocation's clock)."""

    def __init__(self) -> None:
        self.skip = 0.0
        self._real = time.monotonic

    def __call__(self) -> float:
        return self._real() + self.skip


def _context(clock: Clock, budget_ms: int) -> LambdaContext:
    """A Lambda context whose remaining time counts down on ``clock`` from ``budget_ms``."""
    context = LambdaContext()
    deadline = clock() + budget_ms / 1000
    context.get_remaining_time_in_millis = (  # type: ignore[method-assign]
        lambda: max(0, int((deadline - clock()) * 1000))
    )
    return context


def test_a_sweep_starts_no_step_whose_worst_case_would_not_fit_and_the_next_picks_up(
    world: Estate, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given two repositories of five services each, with a lost push each, and an ECS whose
    # UpdateService takes 4 s: one repository's deploys (one chunk) take 20 s
    clock = Clock()
    monkeypatch.setattr(time, "monotonic", clock)
    monkeypatch.setattr(reconciler, "get_clients", lambda: world.clients)
    arns = estate_with_lost_pushes(world, repos=2, per_repo=5)

    def slow(**_: Any) -> None:
        clock.skip += 4

    world.ecs.meta.events.register("after-call.ecs.UpdateService", slow)
    # When the tick is handled with 40 s left: enough for one repository (20 s) and the
    # wrap-up reserve (15 s), not for two
    context = _context(clock, 40_000)
    first = reconciler.handler(tick(world), context)
    left_at_end = context.get_remaining_time_in_millis()

    # Then the first repository is deployed, the second is deferred before any step of it
    # (its deploys' worst case, 20 s as measured, does not fit the 20 s left less the
    # reserve), nothing failed, and the sweep ended with its wrap-up reserve intact
    assert outcomes(first) == {
        **dict.fromkeys(arns["demo/app-0"], "deployed"),
        "repository/demo/app-1": "deferred",
    }
    assert left_at_end >= reconcile.RESERVE_MS
    # When the next tick comes, with a whole budget
    world.ecs.meta.events.unregister("after-call.ecs.UpdateService", slow)
    second = reconciler.handler(tick(world), _context(clock, 60_000))
    # Then it starts at the deferred repository and deploys it
    assert outcomes(second) == dict.fromkeys(arns["demo/app-1"], "deployed")
    for repo, services in arns.items():
        for arn in services:
            assert world.running_image(arn) == f"{REGISTRY}/{repo}@{NEW[repo]}"


def test_the_budget_scales_a_steps_worst_case_by_its_items() -> None:
    left = [100_000]
    budget = reconcile.Budget(lambda: left[0])
    assert budget.fits((reconcile.STEP_DEPLOY, 25))  # nothing measured: only the reserve
    with budget.step(reconcile.STEP_DEPLOY, 2):
        left[0] -= 4_000  # 2 s a service
    assert budget.worst_ms(reconcile.STEP_DEPLOY, 1) == 4_000  # the slowest step
    assert budget.worst_ms(reconcile.STEP_DEPLOY, 25) == 50_000  # the slowest per item
    assert budget.fits((reconcile.STEP_DEPLOY, 25))  # 96 s left >= 15 + 50
    assert not budget.fits((reconcile.STEP_DEPLOY, 25), (reconcile.STEP_DEPLOY, 25))
    assert reconcile.Budget(None).fits((reconcile.STEP_DEPLOY, 10**6))


# -- fan-out --------------------------------------------------------------------------------
def test_a_tick_over_the_shard_size_puts_one_event_per_shard_and_deploys_nothing(
    world: Estate, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given nine tracked services over three repositories and a shard size of four
    monkeypatch.setenv("SHARD_SIZE", "4")
    arns = estate_with_lost_pushes(world, repos=3, per_repo=3)
    world.tap_bus()
    world.reset_counts()

    # When the schedule ticks
    report = reconciler.run(tick(world), aws=world.clients).to_json()

    # Then it deploys nothing itself and puts three shards on the bus, one repository each
    # (three services of a repository do not fit in what is left of a shard of four)
    assert world.mutations() == {}
    assert world.calls["eventbridge:PutEvents"] == 3
    assert outcomes(report) == {f"shard/{n}": "deferred" for n in (1, 2, 3)}
    put = world.bus_events()
    assert {(e["source"], e["detail-type"]) for e in put} == {("ecs-autopilot", "Reconcile Shard")}
    details = sorted((e["detail"] for e in put), key=lambda d: d["shard"])
    assert [(d["shard"], d["shards"]) for d in details] == [(1, 3), (2, 3), (3, 3)]
    assert {d["sweep"] for d in details} == {report["event_id"]}
    for d, repo in zip(details, sorted(arns), strict=True):
        (part,) = d["clusters"]
        assert part["cluster"] == CLUSTER_ARN
        assert sorted(part["services"]) == sorted(a.rsplit("/", 1)[-1] for a in arns[repo])


def test_a_shard_event_sweeps_exactly_its_shard(
    world: Estate, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a tick's three shards
    monkeypatch.setenv("SHARD_SIZE", "4")
    arns = estate_with_lost_pushes(world, repos=3, per_repo=3)
    world.tap_bus()
    reconciler.run(tick(world), aws=world.clients)
    shards = sorted(world.bus_events(), key=lambda e: e["detail"]["shard"])

    # When the second shard's event comes back from the bus
    second = reconciler.run(shards[1], aws=world.clients).to_json()

    # Then it deploys that shard's services, and only them
    assert outcomes(second) == dict.fromkeys(arns["demo/app-1"], "deployed")
    for repo in ("demo/app-0", "demo/app-2"):
        for arn in arns[repo]:
            assert world.running_image(arn) != f"{REGISTRY}/{repo}@{NEW[repo]}"
    assert world.bus_events() == []  # a shard never shards again
    # and the other shards deploy the rest
    for shard in (shards[0], shards[2]):
        reconciler.run(shard, aws=world.clients)
    for repo, services in arns.items():
        for arn in services:
            assert world.running_image(arn) == f"{REGISTRY}/{repo}@{NEW[repo]}"


def test_a_shard_reads_its_services_from_ecs_not_from_the_event(
    world: Estate, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a shard that names a service, a service that does not exist, and an unmanaged
    # cluster
    arns = estate_with_lost_pushes(world, repos=1, per_repo=1)
    (arn,) = arns["demo/app-0"]
    other = f"arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/not-managed"
    event = world.envelope(
        "Reconcile Shard",
        "ecs-autopilot",
        {
            "sweep": "reconcile:some-tick",
            "shard": 1,
            "shards": 1,
            "clusters": [
                {"cluster": CLUSTER_ARN, "services": [arn.rsplit("/", 1)[-1], "no-such-service"]},
                {"cluster": other, "services": ["web"]},
            ],
        },
    )
    report = reconciler.run(event, aws=world.clients).to_json()
    assert outcomes(report) == {arn: "deployed", other: "ignored"}


@pytest.mark.parametrize(
    "detail",
    [
        {},
        {
            "sweep": "reconcile:t",
            "shard": 2,
            "shards": 1,
            "clusters": [{"cluster": CLUSTER_ARN, "services": ["a"]}],
        },
        {"sweep": "reconcile:t", "shard": 1, "shards": 1, "clusters": []},
        {
            "sweep": "reconcile:t",
            "shard": 1,
            "shards": 1,
            "clusters": [{"cluster": CLUSTER_ARN, "services": []}],
        },
        {
            "sweep": "reconcile:t",
            "shard": 1,
            "shards": 1,
            "clusters": [{"cluster": "arn:aws:ecs:x", "services": ["a"]}],
        },
        {
            "sweep": "reconcile:t",
            "shard": 1,
            "shards": 1,
            "clusters": [{"cluster": CLUSTER_ARN, "services": ["a b"]}],
        },
        {
            "sweep": "nope",
            "shard": 1,
            "shards": 1,
            "clusters": [{"cluster": CLUSTER_ARN, "services": ["a"]}],
        },
        {
            "sweep": "reconcile:t",
            "shard": 1,
            "shards": 1,
            "clusters": [{"cluster": CLUSTER_ARN, "services": ["a"] * 501}],
        },
    ],
    ids=[
        "empty",
        "shard-past-shards",
        "no-clusters",
        "no-services",
        "bad-cluster-arn",
        "bad-service-name",
        "bad-sweep-id",
        "too-many-services",
    ],
)
def test_a_malformed_shard_event_is_invalid_and_changes_nothing(
    world: Estate, monkeypatch: pytest.MonkeyPatch, detail: dict[str, Any]
) -> None:
    estate_with_lost_pushes(world, repos=1, per_repo=1)
    monkeypatch.setattr(reconciler, "get_clients", lambda: world.clients)
    world.reset_counts()
    event = world.envelope("Reconcile Shard", "ecs-autopilot", detail)
    with pytest.raises(InvalidEvent):
        reconciler.handler(event, LambdaContext())
    assert world.mutations() == {}
    assert world.aws_calls() == {}


def test_a_dry_run_tick_lists_the_shards_and_puts_nothing(
    world: Estate, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHARD_SIZE", "2")
    estate_with_lost_pushes(world, repos=1, per_repo=3)
    world.tap_bus()
    world.reset_counts()
    report = reconciler.run(tick(world), aws=world.clients, dry_run=True)
    assert [a.api for a in report.actions] == ["events:PutEvents", "events:PutEvents"]
    assert world.calls["eventbridge:PutEvents"] == 0
    assert world.bus_events() == []
