"""What the simulator puts on the bus: the event envelope, and the queue of events and the
state changes between them.

A concern never routes an event itself: it puts the event on the :class:`EventQueue`
(which writes it on the timeline at once) or a step to run once the events before it
have been delivered. The simulator's drain loop routes them in order.
"""

from __future__ import annotations

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


class EventQueue:
    """Events waiting to be routed, in order, with steps between them; and every event ever
    put on the bus (``emitted``)."""

    def __init__(self, timeline: Timeline) -> None:
        self.timeline = timeline
        self.emitted: list[Event] = []
        self._pending: list[Event | Step] = []

    def put(self, event: Event, *, label: str | None = None) -> None:
        self._pending.append(event)
        self.emitted.append(event)
        self.timeline.add(
            "event",
            label or describe_event(event),
            id=event.get("id"),
            detail_type=event.get("detail-type"),
        )

    def later(self, step: Step) -> None:
        """Run ``step`` once the events queued before it have been delivered."""
        self._pending.append(step)

    def next(self) -> Event | Step | None:
        """The oldest event or step (None: the queue is empty)."""
        return self._pending.pop(0) if self._pending else None
