"""Pacing under the ECS and ECR API rate limits (pure: the sweep, ``flows.reconcile``, asks
before each group of calls and sleeps the wait on its clock).

ECS throttles each account and Region per action with token buckets (its request
throttling page: a bucket's maximum capacity is the burst, its refill rate the sustained
rate per second); ECR's service quotas give a rate per second per API (a bucket one second
deep here). ``LIMITS`` holds the default figures of the actions a sweep makes. Those
buckets are the account's, shared with every other tool in it: a ``Pacer`` keeps to
``share`` of each (``reconciler.api_share``, default 0.5), and the shards of a fanned-out
sweep, which run side by side, divide it (``share_of``: each shard takes share / number of
shards).

A ``Pacer`` is a token bucket per action, scaled by its share: ``take(api, n, now)`` takes
``n`` tokens and returns how long to wait before the calls (0 when the bucket holds
them), so that on any interval of T seconds at most ``burst + rate * T`` calls of that
action are made (``burst`` and ``rate`` scaled). A group never takes more than its bucket
holds: ``group(api, n)`` is the most one group may have (a chunk of deploys is cut to it).
A throttling error that still happens (another tool took the tokens, or the account's
real limit is lower than ``LIMITS`` says) empties the bucket and halves its burst and
refill rate for the rest of the invocation (``throttled``; at most ``SLOWEST`` times
slower): the calls after it wait for the slower refill, as botocore's adaptive retry mode
slows its client down. ``LIMITS`` is a starting point, not a promise: the pacer learns
the limit that holds from AWS's answers.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import NamedTuple, Protocol


class Limit(NamedTuple):
    """A token bucket: ``burst`` tokens at most, refilled at ``rate`` per second."""

    burst: float
    rate: float


#: The default limits (per account and Region) of the calls a sweep makes: ECS's request
#: throttling figures (bucket capacity, refill per second); ECR's service quotas (a rate per
#: second, so a bucket one second deep). An action not here is not paced.
LIMITS: Mapping[str, Limit] = {
    "ecs:DescribeServices": Limit(100, 20),
    "ecs:DescribeTaskDefinition": Limit(100, 20),
    "ecs:RegisterTaskDefinition": Limit(100, 20),
    "ecs:UpdateService": Limit(100, 20),
    "ecr:DescribeImages": Limit(100, 100),
    "ecr:DescribeImageScanFindings": Limit(100, 100),
    "ecr:BatchGetImage": Limit(2000, 2000),
    "ecr:PutImage": Limit(10, 10),
}

#: The share of each limit the control plane takes by default (``reconciler.api_share``)
DEFAULT_SHARE = 0.5

#: How much slower than its starting rate throttling errors can make a bucket (each one
#: halves it)
SLOWEST = 16


class Clock(Protocol):
    """What the sweep paces on: a monotonic clock (seconds) and a sleep on it."""

    def now(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


def share_of(api_share: float, shards: int) -> float:
    """The share of each limit one invocation takes: ``api_share`` divided among the
    ``shards`` that run side by side (a tick, or a sweep not fanned out: 1)."""
    if not 0 < api_share <= 1:
        raise ValueError(f"the API share is a fraction in (0, 1], not {api_share}")
    return api_share / max(1, shards)


class _Bucket:
    def __init__(self, limit: Limit, share: float, now: float) -> None:
        self.burst = max(1.0, limit.burst * share)
        self.rate = limit.rate * share
        self.slowest = self.rate / SLOWEST
        self.tokens = self.burst
        self.at = now
        self.slowed_at: float | None = None

    def slow_down(self, now: float) -> None:
        """Nothing left in the bucket; and halve its burst (at least one token) and its
        refill rate (at most ``SLOWEST`` times slower than at the start), once a second at
        most: the calls of one group that fail together count as one throttle."""
        self.tokens = min(self.tokens, 0.0)
        if self.slowed_at is not None and now - self.slowed_at < 1.0:
            return
        self.slowed_at = now
        self.burst = max(1.0, self.burst / 2)
        self.rate = max(self.slowest, self.rate / 2)

    def refill(self, now: float) -> None:
        if now > self.at:
            self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
            self.at = now


class Pacer:
    """Token buckets per action at ``share`` of ``limits``, on the caller's clock."""

    def __init__(self, share: float, limits: Mapping[str, Limit] = LIMITS) -> None:
        if not 0 < share <= 1:
            raise ValueError(f"the share is a fraction in (0, 1], not {share}")
        self.share = share
        self._limits = limits
        self._buckets: dict[str, _Bucket] = {}
        #: seconds waited (asked to wait) so far, and throttling errors met, per action
        self.waited: dict[str, float] = {}
        self.throttles: dict[str, int] = {}

    def limit(self, api: str) -> Limit | None:
        """The scaled limit of ``api`` as it holds now, throttles counted (None: not paced)."""
        bucket = self._buckets.get(api)
        if bucket is not None:
            return Limit(bucket.burst, bucket.rate)
        base = self._limits.get(api)
        if base is None:
            return None
        return Limit(max(1.0, base.burst * self.share), base.rate * self.share)

    def group(self, api: str, n: int) -> int:
        """The most calls of ``api`` one group of ``n`` may hold: its scaled burst."""
        limit = self.limit(api)
        if limit is None:
            return n
        return max(1, min(n, math.floor(limit.burst)))

    def _bucket(self, api: str, now: float) -> _Bucket | None:
        if api not in self._buckets:
            base = self._limits.get(api)
            if base is None:
                return None
            self._buckets[api] = _Bucket(base, self.share, now)
        bucket = self._buckets[api]
        bucket.refill(now)
        return bucket

    def wait(self, calls: Mapping[str, int], now: float) -> float:
        """How long, from ``now``, before the ``calls`` (action -> count) may all be made;
        nothing is taken."""
        longest = 0.0
        for api, n in calls.items():
            bucket = self._bucket(api, now)
            if bucket is None or n <= 0:
                continue
            short = min(n, bucket.burst) - bucket.tokens
            if short > 0:
                longest = max(longest, short / bucket.rate if bucket.rate > 0 else math.inf)
        return longest

    def take(self, calls: Mapping[str, int], now: float) -> float:
        """Take the tokens of ``calls`` (action -> count, each at most ``group`` of it) and
        return how long to wait from ``now`` before making them."""
        delay = self.wait(calls, now)
        at = now + delay
        for api, n in calls.items():
            bucket = self._bucket(api, at)
            if bucket is None or n <= 0:
                continue
            bucket.tokens -= min(n, bucket.burst)
            self.waited[api] = self.waited.get(api, 0.0) + delay
        return delay

    def throttled(self, api: str, now: float) -> None:
        """AWS throttled ``api`` anyway (another caller took the tokens, or the limit is
        lower than assumed): empty its bucket and slow it down (``_Bucket.slow_down``), so
        the next calls of it wait a longer refill, and count it."""
        self.throttles[api] = self.throttles.get(api, 0) + 1
        bucket = self._bucket(api, now)
        if bucket is not None:
            bucket.slow_down(now)
