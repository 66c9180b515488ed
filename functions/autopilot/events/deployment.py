"""Models of the events deployment-events handles (``ECS Deployment State
Change``), its model map, and its parser.

``resources`` names the service (``service/<cluster>/<name>``); ``reason`` is free text
(ECS's documented reasons say "rolling back to deploymentId ..." on a rollback).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Literal

from autopilot import contract
from autopilot.events.envelope import Event, Model
from autopilot.events.parse import validate_event
from autopilot.schema import Field, check

_SERVICE_ARN = re.compile(  # fullmatch: Python's `$` takes a trailing newline
    r"arn:aws[a-z-]*:ecs:[a-z0-9-]+:[0-9]{12}:service/[A-Za-z0-9_-]{1,255}/[A-Za-z0-9_-]{1,255}"
)


class EcsDeploymentDetail(Model):
    """``ECS Deployment State Change``."""

    event_type: Literal["INFO", "WARN", "ERROR"] = Field(alias="eventType")
    event_name: Literal[
        "SERVICE_DEPLOYMENT_IN_PROGRESS",
        "SERVICE_DEPLOYMENT_COMPLETED",
        "SERVICE_DEPLOYMENT_FAILED",
    ] = Field(alias="eventName")
    deployment_id: str = Field(alias="deploymentId", min_length=1, max_length=255)
    updated_at: datetime = Field(alias="updatedAt")
    reason: str = Field(default="", max_length=4096)


class EcsDeploymentEvent(Event):
    detail: EcsDeploymentDetail
    source: Literal["aws.ecs"]
    detail_type: Literal["ECS Deployment State Change"] = Field(alias="detail-type")

    @check
    def _names_a_service(self) -> None:
        if not any(_SERVICE_ARN.fullmatch(r) for r in self.resources):
            raise ValueError("resources names no ECS service ARN (service/<cluster>/<name>)")

    @property
    def service_arn(self) -> str:
        return next(r for r in self.resources if _SERVICE_ARN.fullmatch(r))


#: What deployment-events parses.
DEPLOYMENT_EVENT_MODELS: dict[str, type[EcsDeploymentEvent]] = {
    contract.DT_ECS_DEPLOYMENT: EcsDeploymentEvent,
}


def parse_deployment_event(event: Any) -> EcsDeploymentEvent:
    """Parse a deployment-events event, or raise ``InvalidEvent`` / ``UnsupportedEvent``."""
    return validate_event(DEPLOYMENT_EVENT_MODELS, event)
