"""The EventBridge envelope shared by task-events' and capacity-events' models.

Its own module so that each function builds only its own event models at cold start
(pydantic builds a model's validator when its class is defined).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

ECS_ARN_PREFIX = r"^arn:aws[a-z-]*:ecs:[a-z0-9-]+:\d{12}:"

ClusterArn = Annotated[
    str,
    StringConstraints(pattern=ECS_ARN_PREFIX + r"cluster/[A-Za-z0-9_-]{1,255}$", max_length=600),
]

D = TypeVar("D", bound=BaseModel)


class EventEnvelope(BaseModel, Generic[D]):
    """An EventBridge event with a typed ``detail``."""

    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)

    version: str = "0"
    id: Annotated[str, StringConstraints(min_length=1, max_length=256)]
    detail_type: str = Field(alias="detail-type", min_length=1, max_length=256)
    source: str = Field(min_length=1, max_length=256)
    account: Annotated[str, StringConstraints(pattern=r"^\d{12}$")]
    time: datetime
    region: Annotated[str, StringConstraints(pattern=r"^[a-z]{2}(-[a-z]+)+-\d+$")]
    resources: tuple[Annotated[str, StringConstraints(max_length=2048)], ...] = Field(
        default=(), max_length=100
    )
    detail: D
