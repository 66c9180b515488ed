"""Model of ``ECS Hook State Change`` (a deployment lifecycle hook moved: ECS's
developer guide, "Amazon ECS hook state change events"), which deployment-events handles
beside ``ECS Deployment State Change``, and the parser of both.

The rule takes PAUSE hooks only (``contract.ecs_hook_pattern``). ``resources`` is optional:
one of ECS's samples has none, so the service and deployment come from ``detail``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, Literal

from autopilot import contract
from autopilot.events.deployment import DEPLOYMENT_EVENT_MODELS, EcsDeploymentEvent
from autopilot.events.envelope import Event, Model
from autopilot.events.parse import validate_event
from autopilot.schema import After, Field

_NAME = r"[A-Za-z0-9_-]{1,255}"
_ARN = r"arn:aws[a-z-]*:ecs:[a-z0-9-]+:[0-9]{12}:"
_SERVICE_ARN = re.compile(rf"{_ARN}service/{_NAME}/{_NAME}")
_CLUSTER_ARN = re.compile(rf"{_ARN}cluster/{_NAME}")
_DEPLOYMENT_ARN = re.compile(rf"{_ARN}service-deployment/{_NAME}/{_NAME}/{_NAME}")


def _whole(shape: re.Pattern[str], kind: str) -> Callable[[str], str]:
    """A check that a value is an ECS ARN of ``kind`` (whole-string match)."""

    def valid(value: str) -> str:
        if not shape.fullmatch(value):
            raise ValueError(f"not an ECS {kind} ARN")
        return value

    return valid


ClusterArn = Annotated[str, After(_whole(_CLUSTER_ARN, "cluster"))]
ServiceArn = Annotated[str, After(_whole(_SERVICE_ARN, "service"))]
DeploymentArn = Annotated[str, After(_whole(_DEPLOYMENT_ARN, "service_deployment"))]

HookEventName = Literal[
    "HOOK_IN_PROGRESS", "HOOK_AWAITING_ACTION", "HOOK_SUCCEEDED", "HOOK_FAILED", "HOOK_TIMED_OUT"
]


class EcsHookDetail(Model):
    """``ECS Hook State Change`` ``detail`` (``hookType`` is the API's ``targetType``)."""

    event_type: Literal["INFO", "WARN", "ERROR"] = Field(alias="eventType")
    event_name: HookEventName = Field(alias="eventName")
    hook_id: str = Field(alias="hookId", min_length=1, max_length=255, pattern=r"^[A-Za-z0-9_-]+$")
    hook_type: Literal["PAUSE", "AWS_LAMBDA"] = Field(alias="hookType")
    lifecycle_stage: str = Field(
        default="", alias="lifecycleStage", max_length=64, pattern=r"^[A-Z_]*$"
    )
    expires_at: datetime | None = Field(default=None, alias="expiresAt")
    cluster_arn: ClusterArn = Field(alias="clusterArn")
    service_arn: ServiceArn = Field(alias="serviceArn")
    service_deployment_arn: DeploymentArn = Field(alias="serviceDeploymentArn")
    updated_at: datetime = Field(alias="updatedAt")


class EcsHookEvent(Event):
    detail: EcsHookDetail
    source: Literal["aws.ecs"]
    detail_type: Literal["ECS Hook State Change"] = Field(alias="detail-type")


#: What deployment-events parses: deployment state changes and hook state changes.
REACTION_MODELS: dict[str, type[EcsDeploymentEvent] | type[EcsHookEvent]] = {
    **DEPLOYMENT_EVENT_MODELS,
    contract.DT_ECS_HOOK: EcsHookEvent,
}


def parse_reaction_event(event: Any) -> EcsDeploymentEvent | EcsHookEvent:
    """Parse a deployment-events event, or raise ``InvalidEvent`` / ``UnsupportedEvent``."""
    return validate_event(REACTION_MODELS, event)
