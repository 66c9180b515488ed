"""Crash loops: detection, and what to do about one. Pure: no AWS, no clock.

A crash is a stopped task one of whose *essential* containers exited with a code other
than 0 (a container that never started has no exit code and is not a crash: that is a
failure to start, which the deployment circuit breaker handles). A crash loop is at
least ``threshold`` (N) crashes of one task definition within the last ``window_minutes`` (M),
while no deployment is in progress. Stops are counted once per task ARN, since
EventBridge may deliver a stop more than once.

A loop is rolled back (through the rollback planner, ``logic.deployment_plan``) only when
the crashing digest is known, the service still runs the crashing revision, and the digest
is known to be newer than the service's last known good; otherwise it is announced
(``verdict`` says why).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from autopilot.domain.records import LastKnownGood, StopRecord
from autopilot.logic.taskdef import revision


class InvalidCrashLoopPolicy(ValueError):
    """The crash-loop configuration is out of range."""


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


def newer_than_last_known_good(
    lkg: LastKnownGood | None, task_definition: str, digest: str, deployed_at: datetime | None
) -> str | None:
    """None if the crashing digest is known to be newer than last known good (roll it back),
    else why it is not."""
    if lkg is None:
        return "no last known good to roll back to"
    if digest == lkg.digest or task_definition == lkg.task_definition:
        return "the last known good itself is crashing: not an image to roll back"
    if deployed_at is not None and lkg.at is not None:
        return None if deployed_at > lkg.at else "deployed before the last known good"
    family, number = revision(task_definition)
    lkg_family, lkg_number = revision(lkg.task_definition)
    if family == lkg_family and number > lkg_number:
        return None
    return "cannot tell it is newer than the last known good"


def verdict(
    loop: CrashLoop,
    *,
    service_task_definition: str,
    digest: str | None,
    last_known_good: LastKnownGood | None,
    deployed_at: datetime | None,
) -> str | None:
    """None: roll the loop back; else why it is only announced."""
    if digest is None:
        return "the image's digest is unknown (no tracked repository): nothing to roll back"
    if loop.task_definition_arn != service_task_definition:
        return f"the service has moved on to {service_task_definition}"
    return newer_than_last_known_good(
        last_known_good, loop.task_definition_arn, digest, deployed_at
    )
