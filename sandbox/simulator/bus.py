"""What the simulator puts on the bus: the event envelope, and the queue of events and the
state changes between them.

A concern never routes an event itself: it puts the event on the :class:`EventQueue`
(which writes it on the timeline at once) or a step to run once the events before it
have been delivered. The simulator's drain loop routes them in order.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeAlias

from sandbox.server import ACCOUNT_ID, REGION
from sandbox.simulator.presentation import describe_event
from sandbox.timeline import Timeline

Event: TypeAlias = dict[str, Any]
#: a state change that happens after the events queued before it are delivered
Step: TypeAlias = Callable[[], None]


def now() -> datetime:
    return datetime.now(UTC)


def iso(dt: datetime | None = None, *, millis: bool = False) -> str:
    """A timestamp as AWS writes it in events: seconds, or milliseconds (``...00.123Z``)."""
    dt = dt or now()
    if millis:
        return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def make_event(
    source: str, detail_type: str, detail: dict[str, Any], resources: list[str] | None = None
) -> Event:
    """An EventBridge event envelope as AWS services put them on the default bus."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": detail_type,
        "source": source,
        "account": ACCOUNT_ID,
        "time": iso(),
        "region": REGION,
        "resources": resources or [],
        "detail": detail,
    }


#: what a dropped event's line on the timeline ends with
DROPPED = " -- DROPPED: never reaches the rules"


class EventQueue:
    """Events waiting to be routed, in order, with steps between them; every event ever
    put on the bus (``emitted``); and the events the bus lost (``dropped``).

    EventBridge delivers AWS service events best effort: ``drop_rate`` is the share of the
    *droppable* events (the registry's ECR push and scan events) that never reach the
    rules, decided by a random generator seeded with ``drop_seed`` (the same seed, the
    same events lost, in the same order of puts)."""

    def __init__(self, timeline: Timeline) -> None:
        self.timeline = timeline
        self.emitted: list[Event] = []
        self.dropped: list[Event] = []
        self.drop_rate = 0.0
        self._rng = random.Random(0)
        self._pending: list[Event | Step] = []

    def set_drop_rate(self, rate: float, *, seed: int = 0) -> None:
        """Lose ``rate`` (0 to 1) of the droppable events from now on, seeded with ``seed``."""
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"a drop rate is between 0 and 1, not {rate}")
        self.drop_rate = rate
        self._rng = random.Random(seed)

    def put(
        self,
        event: Event,
        *,
        label: str | None = None,
        droppable: bool = False,
        drop: bool = False,
    ) -> bool:
        """Queue ``event`` for routing, or lose it: with ``drop``, or, if ``droppable``, at
        the drop rate. Either way the timeline tells it. True: it was queued."""
        lost = drop or (droppable and self.drop_rate > 0 and self._rng.random() < self.drop_rate)
        text = label or describe_event(event)
        if lost:
            self.dropped.append(event)
            self.timeline.add(
                "event",
                text + DROPPED,
                id=event.get("id"),
                detail_type=event.get("detail-type"),
                dropped=True,
            )
            return False
        self._pending.append(event)
        self.emitted.append(event)
        self.timeline.add(
            "event",
            text,
            id=event.get("id"),
            detail_type=event.get("detail-type"),
        )
        return True

    def later(self, step: Step) -> None:
        """Run ``step`` once the events queued before it have been delivered."""
        self._pending.append(step)

    def next(self) -> Event | Step | None:
        """The oldest event or step (None: the queue is empty)."""
        return self._pending.pop(0) if self._pending else None
