"""Pydantic model of ``ECS Hook State Change`` (a deployment lifecycle hook moved: ECS's
developer guide, "Amazon ECS hook state change events"), which deployment-events handles
beside ``ECS Deployment State Change``, and the parser of both.

The rule takes PAUSE hooks only (``contract.ecs_hook_pattern``). ``resources`` is optional:
one of ECS's samples has none, so the service and deployment come from ``detail``.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Literal

from pydantic import Field, field_validator

from autopilot import contract
from autopilot.events.deployment import DEPLOYMENT_EVENT_MODELS, EcsDeploymentEvent
from autopilot.events.envelope import Event, Model
from autopilot.events.parse import validate_event

_NAME = r"[A-Za-z0-9_-]{1,255}"
_ARN = r"arn:aws[a-z-]*:ecs:[a-z0-9-]+:[0-9]{12}:"
_SERVICE_ARN = re.compile(rf"{_ARN}service/{_NAME}/{_NAME}")
_CLUSTER_ARN = re.compile(rf"{_ARN}cluster/{_NAME}")
_DEPLOYMENT_ARN = re.compile(rf"{_ARN}service-deployment/{_NAME}/{_NAME}/{_NAME}")

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
    cluster_arn: str = Field(alias="clusterArn")
    service_arn: str = Field(alias="serviceArn")
    service_deployment_arn: str = Field(alias="serviceDeploymentArn")
    updated_at: datetime = Field(alias="updatedAt")

    @field_validator("cluster_arn", "service_arn", "service_deployment_arn")
    @classmethod
    def _arns(cls, value: str, info: Any) -> str:
        shape = {
            "cluster_arn": _CLUSTER_ARN,
            "service_arn": _SERVICE_ARN,
            "service_deployment_arn": _DEPLOYMENT_ARN,
        }[info.field_name]
        if not shape.fullmatch(value):
            raise ValueError(f"not an ECS {info.field_name.removesuffix('_arn')} ARN")
        return value


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
