"""reconciler against moto: the sweep paces its calls under the API rate limits (a share of
``logic.pacing.LIMITS``, on an injectable clock), backs off a throttled read and tries it
again later in the sweep, hands what a shard did not reach on to a shard of its own, and
drops the stale protective slots of a fanned-out sweep, never a live service's."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from autopilot.handlers import reconciler
from autopilot.logic import pacing
from autopilot.logic.retention import run_tag, service_key
from autopilot.settings import get_settings
from botocore.exceptions import ClientError

from tests.estate import ACCOUNT, REGION, REGISTRY, Estate

RULE_ARN = f"arn:aws:events:{REGION}:{ACCOUNT}:rule/autopilot-reconcile"
PREFIX = "autopilot-keep-"


class SleeplessClock:
    """The sweep's clock in a test: it moves only when the pacer sleeps (or when told)."""

    def __init__(self) -> None:
        self.t = 0.0
        self.slept = 0.0

    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.t += seconds
        self.slept += seconds


def tick(world: Estate) -> dict[str, Any]:
    return world.envelope("Scheduled Event", "aws.events", {}, resources=[RULE_ARN])


def outcomes(report: Any) -> dict[str, str]:
    return {d.service: d.outcome.value for d in report.decisions}


def lost_pushes(world: Estate, repos: int, per_repo: int) -> tuple[dict[str, list[str]], dict]:
    """``repos`` repositories of ``per_repo`` services on v1.2.0, each service on its own
    revision, and a push of v1.3.0 to each whose event was lost."""
    arns: dict[str, list[str]] = {}
    new: dict[str, str] = {}
    for r in range(repos):
        repo = f"demo/app-{r}"
        digest = world.push(repo, "v1.2.0")
        world.hold_scan(repo, digest, {})
        arns[repo] = [world.service(f"app-{r}-{i}", repo, digest=digest) for i in range(per_repo)]
        new[repo] = world.push(repo, "v1.3.0")
        world.hold_scan(repo, new[repo], {})
    return arns, new


@pytest.fixture
def env() -> Iterator[dict[str, str]]:
    """The reconciler's environment, changed for one test (settings re-read)."""
    changed: dict[str, str] = {}
    yield changed
    for name in changed:
        os.environ.pop(name, None)
    get_settings.cache_clear()


def setenv(env: dict[str, str], **values: str) -> None:
    env.update(values)
    os.environ.update(values)
    get_settings.cache_clear()


# -- pacing ---------------------------------------------------------------------------------
def test_a_sweep_never_passes_the_paced_rate_of_any_action(
    world: Estate, env: dict[str, str]
) -> None:
    # Given twelve services on their own revisions, with a lost push in each of two
    # repositories, and a share of 5 % of the limits: DescribeTaskDefinition and the deploy
    # actions may burst 5 and then go at 1 a second
    setenv(env, API_SHARE="0.05")
    arns, new = lost_pushes(world, repos=2, per_repo=6)
    clock = SleeplessClock()
    seen: dict[str, list[float]] = {}
    sweeping = [True]
    for client, prefix in ((world.ecs, "ecs"), (world.ecr, "ecr")):

        def record(model: Any, prefix: str = prefix, **_: Any) -> None:
            if sweeping[0]:
                seen.setdefault(f"{prefix}:{model.name}", []).append(clock.now())

        client.meta.events.register("before-call.*.*", record)

    # When the schedule ticks
    report = reconciler.run(tick(world), aws=world.clients, clock=clock)
    sweeping[0] = False

    # Then every service is deployed, and for each paced action no interval of T seconds on
    # the sweep's clock holds more than burst + rate * T of its calls
    assert set(outcomes(report).values()) == {"deployed"}
    for repo, services in arns.items():
        for arn in services:
            assert world.running_image(arn) == f"{REGISTRY}/{repo}@{new[repo]}"
    pacer = pacing.Pacer(0.05)
    checked = 0
    for api, times in seen.items():
        limit = pacer.limit(api)
        if limit is None:
            continue
        for i, start in enumerate(times):
            for j in range(i, len(times)):
                assert j - i + 1 <= limit.burst + limit.rate * (times[j] - start) + 1e-6, api
        checked += len(times)
    # 24 DescribeTaskDefinition (the sweep's and the image flow's), 12 of each deploy action
    assert len(seen["ecs:DescribeTaskDefinition"]) == 24
    assert len(seen["ecs:UpdateService"]) == 12
    assert checked > 50
    assert clock.slept > 10  # the pacing waited: 12 UpdateService at 1 a second past 5


def test_the_pacing_wait_counts_in_the_time_budget(world: Estate, env: dict[str, str]) -> None:
    # Given three services of one repository with a lost push, a share that lets one call
    # of each ECS action through every 5 s (after a burst of 1), and 33 s of invocation:
    # the reads take 10 s (three DescribeTaskDefinition), then each deploy waits 5 s
    setenv(env, API_SHARE="0.01")
    lost_pushes(world, repos=1, per_repo=3)
    clock = SleeplessClock()
    deadline = 33.0

    def left() -> int:
        return int((deadline - clock.now()) * 1000)

    # When the schedule ticks
    report = reconciler.run(tick(world), aws=world.clients, clock=clock, remaining_ms=left)

    # Then the sweep stops deploying where the next chunk's wait would eat the wrap-up
    # reserve: one service is deployed, the others deferred (none failed), and the
    # invocation ends with its reserve (counted without the wait, the second deploy would
    # fit and its wait leave 13 s)
    found = outcomes(report)
    assert found.pop("repository/demo/app-0") == "deferred"  # the next sweep starts there
    assert sorted(found.values()) == ["deferred", "deferred", "deployed"]
    assert left() >= 15_000


# -- throttling that still happens ----------------------------------------------------------
def _throttle(world: Estate, repository: str, times: int) -> dict[str, int]:
    """ECR throttles DescribeImages of ``repository`` ``times`` times (another caller took
    the tokens); returns the count of throttles so far."""
    done = {"n": 0}

    def throttle(params: dict[str, Any], **_: Any) -> None:
        if params.get("repositoryName") == repository and done["n"] < times:
            done["n"] += 1
            error = {"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}
            raise ClientError(error, "DescribeImages")  # type: ignore[arg-type]

    world.ecr.meta.events.register("provide-client-params.ecr.DescribeImages", throttle)
    return done


def test_a_throttled_read_is_tried_again_later_in_the_sweep(world: Estate) -> None:
    # Given two repositories with a lost push each, and ECR throttling the first read of the
    # first repository's images
    arns, _ = lost_pushes(world, repos=2, per_repo=2)
    done = _throttle(world, "demo/app-0", times=1)

    # When the schedule ticks
    report = reconciler.run(tick(world), aws=world.clients, clock=SleeplessClock())

    # Then it is no failure: the repository is read again after the other, and deployed
    assert done["n"] == 1
    assert outcomes(report) == dict.fromkeys([*arns["demo/app-0"], *arns["demo/app-1"]], "deployed")


def test_a_read_throttled_twice_is_left_to_the_next_sweep(world: Estate) -> None:
    # Given the same, but ECR throttles the first repository's reads twice
    arns, _ = lost_pushes(world, repos=2, per_repo=2)
    _throttle(world, "demo/app-0", times=2)

    # When the schedule ticks
    first = reconciler.run(tick(world), aws=world.clients, clock=SleeplessClock())

    # Then the other repository is deployed and the throttled one deferred, not failed
    assert outcomes(first) == {
        **dict.fromkeys(arns["demo/app-1"], "deployed"),
        "repository/demo/app-0": "deferred",
    }
    (deferred,) = [d for d in first.decisions if d.service == "repository/demo/app-0"]
    assert "throttled" in deferred.reason
    # and the next sweep deploys it
    second = reconciler.run(tick(world), aws=world.clients, clock=SleeplessClock())
    assert outcomes(second) == dict.fromkeys(arns["demo/app-0"], "deployed")


# -- a shard that runs short of time hands the rest on ---------------------------------------
def test_a_shard_out_of_time_hands_the_rest_on_to_a_shard_of_its_own(
    world: Estate, env: dict[str, str]
) -> None:
    # Given a tick that fans out two shards of two repositories of three services each, and
    # an ECS whose UpdateService takes 4 s on the shards' clock
    setenv(env, SHARD_SIZE="6")
    arns, new = lost_pushes(world, repos=4, per_repo=3)
    world.tap_bus()
    reconciler.run(tick(world), aws=world.clients)
    shards = sorted(world.bus_events(), key=lambda e: e["detail"]["shard"])
    assert len(shards) == 2
    clock = SleeplessClock()

    def slow(**_: Any) -> None:
        clock.t += 4

    world.ecs.meta.events.register("after-call.ecs.UpdateService", slow)

    # When the first shard runs with 38 s: one repository (12 s) and the reserve (15 s), not
    # two
    deadline = 38.0
    first = reconciler.run(
        shards[0],
        aws=world.clients,
        clock=clock,
        remaining_ms=lambda: int((deadline - clock.now()) * 1000),
    )

    # Then it deploys the first repository and hands the second on as a shard (hop 1) of
    # the same sweep and number, not a tick later
    assert outcomes(first) == {
        **dict.fromkeys(arns["demo/app-0"], "deployed"),
        "shard/1/hop-1": "deferred",
        "repository/demo/app-1": "deferred",
    }
    (handed,) = world.bus_events()
    assert handed["detail"]["hop"] == 1
    assert handed["detail"]["shard"] == 1
    assert handed["detail"]["sweep"] == shards[0]["detail"]["sweep"]
    (part,) = handed["detail"]["clusters"]
    assert sorted(part["services"]) == sorted(a.rsplit("/", 1)[-1] for a in arns["demo/app-1"])

    # And that shard, with a whole budget, deploys them
    deadline = clock.now() + 60
    rest = reconciler.run(
        handed,
        aws=world.clients,
        clock=clock,
        remaining_ms=lambda: int((deadline - clock.now()) * 1000),
    )
    assert outcomes(rest) == dict.fromkeys(arns["demo/app-1"], "deployed")
    for arn in arns["demo/app-1"]:
        assert world.running_image(arn) == f"{REGISTRY}/demo/app-1@{new['demo/app-1']}"


# -- stale protective slots in a fanned-out sweep -------------------------------------------
def _slots(world: Estate, repo: str) -> set[str]:
    out: set[str] = set()
    for page in world.ecr.get_paginator("describe_images").paginate(repositoryName=repo):
        for d in page["imageDetails"]:
            out |= {t for t in d.get("imageTags", []) if t.startswith(PREFIX)}
    return out


def _sweep_fanned_out(world: Estate) -> None:
    reconciler.run(tick(world), aws=world.clients)
    for shard in sorted(world.bus_events(), key=lambda e: e["detail"]["shard"]):
        reconciler.run(shard, aws=world.clients)


def test_a_fanned_out_sweep_drops_the_slots_of_a_service_no_longer_managed_only(
    world: Estate, env: dict[str, str]
) -> None:
    # Given a repository of four services, swept in shards of two (the repository cut over
    # two shards), each service with its run slot
    setenv(env, SHARD_SIZE="2", RETENTION_PREFIX=PREFIX, RETENTION_KEEP="2")
    repo = "demo/web"
    digest = world.push(repo, "v1.2.0")
    world.hold_scan(repo, digest, {})
    services = [world.service(f"web-{i}", repo, digest=digest) for i in range(4)]
    world.tap_bus()
    _sweep_fanned_out(world)
    assert _slots(world, repo) == {run_tag(PREFIX, service_key(a)) for a in services}

    # When the last service stops tracking the repository, and the next tick fans out
    # again (shards of web-0, web-1 and of web-2)
    world.ecs.untag_resource(resourceArn=services[3], tagKeys=["autopilot:repository"])
    _sweep_fanned_out(world)

    # Then its slot is dropped, and each live service keeps its own, whatever shard it is in
    assert _slots(world, repo) == {run_tag(PREFIX, service_key(a)) for a in services[:3]}
