"""logic.pacing: token buckets per action at a share of the documented limits."""

from __future__ import annotations

import pytest
from autopilot.logic import pacing
from autopilot.logic.pacing import Limit, Pacer

LIMITS = {"ecs:UpdateService": Limit(10, 2), "ecr:PutImage": Limit(4, 4)}


def test_a_full_bucket_lets_a_burst_through_then_the_refill_paces() -> None:
    pacer = Pacer(1.0, LIMITS)
    # the bucket starts full: 10 calls now, no wait
    assert pacer.take({"ecs:UpdateService": 10}, now=0.0) == 0.0
    # the 11th waits for one token at 2 a second
    assert pacer.take({"ecs:UpdateService": 1}, now=0.0) == pytest.approx(0.5)
    # 4 more after 1 s of refill (2 tokens, but the one before took its own): 1.5 s more
    assert pacer.take({"ecs:UpdateService": 4}, now=1.0) == pytest.approx(1.5)


def test_the_refill_stops_at_the_burst() -> None:
    pacer = Pacer(1.0, LIMITS)
    pacer.take({"ecs:UpdateService": 10}, now=0.0)
    # an hour idle refills to 10, not 7,200
    assert pacer.take({"ecs:UpdateService": 10}, now=3600.0) == 0.0
    assert pacer.take({"ecs:UpdateService": 1}, now=3600.0) == pytest.approx(0.5)


def test_the_share_scales_burst_and_rate_and_shards_divide_it() -> None:
    share = pacing.share_of(0.5, shards=5)  # each of five shards: a tenth
    assert share == pytest.approx(0.1)
    pacer = Pacer(share, LIMITS)
    assert pacer.limit("ecs:UpdateService") == (pytest.approx(1.0), pytest.approx(0.2))
    assert pacer.group("ecs:UpdateService", 25) == 1  # a group never exceeds the bucket
    assert pacer.take({"ecs:UpdateService": 1}, now=0.0) == 0.0
    assert pacer.take({"ecs:UpdateService": 1}, now=0.0) == pytest.approx(5.0)
    with pytest.raises(ValueError, match="fraction"):
        pacing.share_of(1.5, 1)
    with pytest.raises(ValueError, match="fraction"):
        Pacer(0.0)


def test_a_group_waits_for_its_slowest_action_and_an_unknown_action_is_not_paced() -> None:
    pacer = Pacer(1.0, LIMITS)
    pacer.take({"ecs:UpdateService": 10, "ecr:PutImage": 4}, now=0.0)
    wait = pacer.wait({"ecs:UpdateService": 2, "ecr:PutImage": 1, "sts:Whatever": 99}, now=0.0)
    assert wait == pytest.approx(1.0)  # UpdateService: 2 tokens at 2/s; PutImage 0.25 s
    assert pacer.take({"sts:Whatever": 10**6}, now=0.0) == 0.0


def test_a_throttle_empties_the_bucket_and_is_counted() -> None:
    pacer = Pacer(1.0, LIMITS)
    pacer.throttled("ecs:UpdateService", now=0.0)
    assert pacer.throttles == {"ecs:UpdateService": 1}
    # empty: one token at the rate the throttle halved (2 a second -> 1)
    assert pacer.take({"ecs:UpdateService": 1}, now=0.0) == pytest.approx(1.0)


def test_calls_taken_never_pass_burst_plus_rate_times_the_interval() -> None:
    # one call at a time as fast as allowed, for 30 s of the pacer's clock
    pacer = Pacer(0.5, LIMITS)  # UpdateService: burst 5, 1 a second
    now, times = 0.0, []
    while now < 30:
        now += pacer.take({"ecs:UpdateService": 1}, now)
        times.append(now)
    for i, start in enumerate(times):
        for j in range(i, len(times)):
            assert j - i + 1 <= 5 + 1.0 * (times[j] - start) + 1e-9


def test_the_default_limits_cover_the_sweeps_calls() -> None:
    for api in (
        "ecs:DescribeServices",
        "ecs:DescribeTaskDefinition",
        "ecs:RegisterTaskDefinition",
        "ecs:UpdateService",
        "ecr:DescribeImages",
        "ecr:BatchGetImage",
        "ecr:PutImage",
    ):
        assert api in pacing.LIMITS


def test_each_throttle_halves_the_bucket_once_a_second_down_to_the_slowest() -> None:
    pacer = Pacer(1.0, LIMITS)  # UpdateService: burst 10, 2 a second
    pacer.throttled("ecs:UpdateService", now=0.0)
    assert pacer.limit("ecs:UpdateService") == (5.0, 1.0)
    assert pacer.group("ecs:UpdateService", 25) == 5  # a chunk of deploys shrinks with it
    # the calls of one group throttled together count once
    pacer.throttled("ecs:UpdateService", now=0.5)
    assert pacer.limit("ecs:UpdateService") == (5.0, 1.0)
    assert pacer.throttles == {"ecs:UpdateService": 2}
    # the bucket is empty: one call waits a whole token at the halved rate
    assert pacer.take({"ecs:UpdateService": 1}, now=0.5) == pytest.approx(1.0)
    for second in range(1, 20):
        pacer.throttled("ecs:UpdateService", now=float(second))
    burst, rate = pacer.limit("ecs:UpdateService") or (0.0, 0.0)
    assert burst == 1.0
    assert rate == pytest.approx(2 / pacing.SLOWEST)
    # the other actions keep their pace
    assert pacer.limit("ecr:PutImage") == (4.0, 4.0)


def test_a_slowed_bucket_keeps_calls_under_its_new_rate() -> None:
    pacer = Pacer(1.0, LIMITS)
    pacer.throttled("ecs:UpdateService", now=0.0)  # burst 5, 1 a second
    now, times = 0.0, []
    while now < 30:
        now += pacer.take({"ecs:UpdateService": 1}, now)
        times.append(now)
    for i, start in enumerate(times):
        for j in range(i, len(times)):
            assert j - i + 1 <= 5 + 1.0 * (times[j] - start) + 1e-9
