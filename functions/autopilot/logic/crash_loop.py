"""Crash-loop detection (issue 5, item 5). Pure: no AWS, no clock.

A crash is a stopped task one of whose *essential* containers exited with a code other
than 0 (a container that never started has no exit code and is not a crash: that is a
failure to start, which the deployment circuit breaker handles). A crash loop is at
least ``threshold`` (N) crashes of one task definition within the last ``window_minutes`` (M),
while no deployment is in progress. Stops are counted once per task ARN, since
EventBridge may deliver a stop more than once.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta


class InvalidCrashLoopPolicy(ValueError):
    """The crash-loop configuration is out of range."""


@dataclass(frozen=True)
class StopRecord:
    task_arn: str
    task_definition_arn: str
    #: Exit codes of the task's essential containers (``None``: never exited/started).
    essential_exit_codes: tuple[int | None, ...]
    stopped_at: datetime

    @property
    def crashed(self) -> bool:
        return any(code is not None and code != 0 for code in self.essential_exit_codes)


@dataclass(frozen=True)
class CrashLoopPolicy:
    threshold: int = 3
    window_minutes: int = 10

    def __post_init__(self) -> None:
        if not 1 <= self.threshold <= 1000:
            raise InvalidCrashLoopPolicy("threshold must be between 1 and 1000")
        if not 1 <= self.window_minutes <= 1440:
            raise InvalidCrashLoopPolicy("window_minutes must be between 1 and 1440")


@dataclass(frozen=True)
class CrashLoop:
    task_definition_arn: str
    count: int
    first_at: datetime
    last_at: datetime


def detect_crash_loop(
    records: Iterable[StopRecord],
    policy: CrashLoopPolicy,
    *,
    now: datetime,
    deployment_in_progress: bool,
) -> CrashLoop | None:
    """The task definition crash-looping the most (ties: the latest crash), or ``None``."""
    if deployment_in_progress:
        return None
    since = now - timedelta(minutes=policy.window_minutes)
    seen: set[str] = set()
    crashes: dict[str, list[datetime]] = {}
    for record in records:
        if record.task_arn in seen or not (since <= record.stopped_at <= now):
            continue
        seen.add(record.task_arn)
        if record.crashed:
            crashes.setdefault(record.task_definition_arn, []).append(record.stopped_at)
    loops = [
        CrashLoop(arn, len(times), min(times), max(times))
        for arn, times in crashes.items()
        if len(times) >= policy.threshold
    ]
    if not loops:
        return None
    return max(loops, key=lambda c: (c.count, c.last_at, c.task_definition_arn))
