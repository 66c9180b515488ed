"""The reconciler's events: the ``Scheduled Event`` its schedule rule delivers, the
``Reconcile Shard`` events its tick puts on the bus when a sweep is too large for one
invocation, and their parser.

Real shape (EventBridge's schedule rules): ``source`` ``aws.events``, ``detail-type``
``Scheduled Event``, ``detail`` ``{}``, ``resources`` the rule's ARN
(``arn:<partition>:events:<region>:<account>:rule/<name>``); ``events/`` holds a sample.
Nothing in it is a claim the sweep acts on: it is only the tick (its id names the sweep,
its time starts it). Junk raises ``InvalidEvent``; another detail-type ``UnsupportedEvent``.

A shard (``ShardEvent``): source ``ecs-autopilot``, detail-type ``Reconcile Shard``,
``detail`` the sweep it is part of, its number and the number of shards, and the services
it sweeps by cluster (names, at most ``MAX_SHARD_SERVICES``: an entry stays well under
PutEvents' 256 KB). It only names the services: the shard sweep reads their tags, task
definitions and images from AWS itself, and skips a cluster the control plane does not
manage. ``hop``: 0 for a shard the tick put; a shard that runs short of time puts the
services it did not reach as a shard of their own, one hop more, at most ``MAX_HOPS``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from autopilot import contract
from autopilot.events.envelope import ClusterArn, Event, Model
from autopilot.events.parse import validate_event
from autopilot.schema import Constraints, Field, check

RuleArn = Annotated[
    str,
    Constraints(
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


#: The most services one shard may name (``reconciler.shard_size`` is held under it).
MAX_SHARD_SERVICES = contract.MAX_SHARD_SIZE

ServiceName = Annotated[str, Constraints(pattern=r"^[A-Za-z0-9_-]{1,255}$")]
SweepId = Annotated[str, Constraints(pattern=r"^reconcile:[A-Za-z0-9._:/-]{1,256}$")]
#: How many times a shard that ran short of time hands the rest on (``hop``)
MAX_HOPS = 10


class ShardCluster(Model):
    """The services of one cluster a shard sweeps (names)."""

    cluster: ClusterArn
    services: tuple[ServiceName, ...] = Field(min_length=1, max_length=MAX_SHARD_SERVICES)


class ShardDetail(Model):
    """A shard's ``detail``: the sweep it is part of, which shard of how many, its services."""

    sweep: SweepId
    shard: int = Field(ge=1, le=10_000)
    shards: int = Field(ge=1, le=10_000)
    clusters: tuple[ShardCluster, ...] = Field(min_length=1, max_length=MAX_SHARD_SERVICES)
    #: 0 for the tick's shard; n for the rest a shard handed on n times (out of time)
    hop: int = Field(default=0, ge=0, le=MAX_HOPS)

    @check
    def _bounded(self) -> None:
        if self.shard > self.shards:
            raise ValueError(f"shard {self.shard} of {self.shards}")
        if sum(len(c.services) for c in self.clusters) > MAX_SHARD_SERVICES:
            raise ValueError(f"a shard names at most {MAX_SHARD_SERVICES} services")


class ShardEvent(Event):
    """One shard of a sweep, put on the default bus by the reconciler's tick."""

    source: Literal["ecs-autopilot"]
    detail_type: Literal["Reconcile Shard"] = Field(alias="detail-type")
    detail: ShardDetail


SWEEP_EVENT_MODELS: dict[str, type[SweepEvent | ShardEvent]] = {
    contract.DT_SCHEDULED: SweepEvent,
    contract.DT_RECONCILE_SHARD: ShardEvent,
}


def parse_sweep_event(event: Any) -> SweepEvent | ShardEvent:
    """The schedule's tick or a shard; else ``InvalidEvent`` / ``UnsupportedEvent``."""
    return validate_event(SWEEP_EVENT_MODELS, event)
