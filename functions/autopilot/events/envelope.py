"""The EventBridge envelope every function's event models share.

Each event model subclasses ``Event`` and types its ``detail`` (and narrows ``source`` and
``detail-type``). Models are ``autopilot.schema``'s: a model's validator is built on its
first use, so a function pays only for the events it receives. Each function's models live
in their own module, so a function imports only its own.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from autopilot import schema
from autopilot.schema import Constraints, Field

ECS_ARN_PREFIX = r"^arn:aws[a-z-]*:ecs:[a-z0-9-]+:[0-9]{12}:"

ClusterArn = Annotated[
    str,
    Constraints(pattern=ECS_ARN_PREFIX + r"cluster/[A-Za-z0-9_-]{1,255}$", max_length=600),
]


class Model(schema.Model):
    """A frozen part of an event (its ``detail`` or something in it); unknown keys ignored."""


class Event(Model):
    """An EventBridge event; each subclass types its ``detail``."""

    version: str = "0"
    id: Annotated[str, Constraints(min_length=1, max_length=256)]
    detail_type: str = Field(alias="detail-type", min_length=1, max_length=256)
    source: str = Field(min_length=1, max_length=256)
    account: Annotated[str, Constraints(pattern=r"^[0-9]{12}$")]
    time: datetime
    region: Annotated[str, Constraints(pattern=r"^[a-z]{2}(-[a-z]+)+-[0-9]+$")]
    resources: tuple[Annotated[str, Constraints(max_length=2048)], ...] = Field(
        default=(), max_length=100
    )
