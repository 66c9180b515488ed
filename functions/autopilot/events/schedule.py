"""The reconciler's event: the ``Scheduled Event`` its schedule rule delivers, and its parser.

Real shape (EventBridge's schedule rules): ``source`` ``aws.events``, ``detail-type``
``Scheduled Event``, ``detail`` ``{}``, ``resources`` the rule's ARN
(``arn:<partition>:events:<region>:<account>:rule/<name>``); ``events/`` holds a sample.
Nothing in it is a claim the sweep acts on: it is only the tick (its id names the sweep,
its time starts it). Junk raises ``InvalidEvent``; another detail-type ``UnsupportedEvent``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints

from autopilot import contract
from autopilot.events.envelope import Event, Model
from autopilot.events.parse import validate_event

RuleArn = Annotated[
    str,
    StringConstraints(
        pattern=r"^arn:aws[a-z-]*:events:[a-z0-9-]+:[0-9]{12}:rule/[A-Za-z0-9._/-]{1,256}$",
        max_length=2048,
    ),
]


class SweepDetail(Model):
    """A ``Scheduled Event``'s ``detail``: always ``{}``."""


class SweepEvent(Event):
    """The tick of the reconciler's schedule rule (``resources``: that rule, one ARN)."""

    source: Literal["aws.events"]
    detail_type: Literal["Scheduled Event"] = Field(alias="detail-type")
    detail: SweepDetail = SweepDetail()
    resources: tuple[RuleArn, ...] = Field(min_length=1, max_length=1)


SWEEP_EVENT_MODELS: dict[str, type[SweepEvent]] = {contract.DT_SCHEDULED: SweepEvent}


def parse_sweep_event(event: Any) -> SweepEvent:
    """The schedule's tick; else ``InvalidEvent`` / ``UnsupportedEvent``."""
    return validate_event(SWEEP_EVENT_MODELS, event)
