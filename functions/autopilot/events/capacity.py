"""Models of the events capacity-events handles, its model map, and its parser.

- ``CloudWatch Alarm State Change``: metric alarms carry ``configuration.metrics``,
  composite alarms ``configuration.alarmRule``; both are accepted, one of the two is
  required. ``alarmTags`` (with ``alarmTagsStatus``) is present only when the alarm has
  tag propagation on (``ActionConfiguration.AlarmTagsPropagation``); it is parsed so real
  events validate, and never decided on: the handler reads the alarm's tags from
  CloudWatch. ``previousState`` is optional here.
- ``ECS Service Action``: ``reason``, ``capacityProviderArns`` and
  ``containerInstanceArns`` are optional; the service is ``resources[0]`` (its ARN, long
  ``service/CLUSTER/NAME`` or old short ``service/NAME`` format).
- ``EC2 Spot Instance Interruption Warning``: ``instance-id`` and ``instance-action``.

Junk raises ``InvalidEvent`` (``events.parse``).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal

from autopilot import contract
from autopilot.events.envelope import ClusterArn, Event, Model
from autopilot.events.parse import validate_event
from autopilot.schema import Constraints, Field, check

AlarmStateValue = Literal["ALARM", "OK", "INSUFFICIENT_DATA"]
Text = Annotated[str, Constraints(max_length=10240)]
Name = Annotated[str, Constraints(min_length=1, max_length=255)]
Word = Annotated[str, Constraints(pattern=r"^[A-Z][A-Z0-9_]{0,127}$")]

_SERVICE_ARN = re.compile(  # fullmatch: Python's `$` takes a trailing newline
    r"arn:aws[a-z-]*:ecs:[a-z0-9-]+:[0-9]{12}:service/(?:(?P<cluster>[A-Za-z0-9_-]{1,255})/)?"
    r"(?P<name>[A-Za-z0-9_-]{1,255})"
)

EVENT_PLACEMENT_FAILURE = "SERVICE_TASK_PLACEMENT_FAILURE"
EVENT_STEADY_STATE = "SERVICE_STEADY_STATE"


# ---------------------------------------------------------------------------
# CloudWatch Alarm State Change
# ---------------------------------------------------------------------------
class AlarmState(Model):
    value: AlarmStateValue
    reason: Text | None = None
    reason_data: Text | None = Field(default=None, alias="reasonData")
    #: CloudWatch writes ``2019-10-01T13:56:40.987+0000`` (no colon): kept as text.
    timestamp: Annotated[str, Constraints(max_length=64)] | None = None


class MetricSpec(Model):
    namespace: Name | None = None
    name: Name | None = None
    dimensions: dict[Name, Annotated[str, Constraints(max_length=1024)]] = Field(
        default_factory=dict, max_length=30
    )


class MetricStat(Model):
    metric: MetricSpec
    period: int | None = Field(default=None, ge=1)
    stat: Name | None = None


class MetricQuery(Model):
    id: Name
    metric_stat: MetricStat | None = Field(default=None, alias="metricStat")
    expression: Text | None = None
    return_data: bool | None = Field(default=None, alias="returnData")


class AlarmConfiguration(Model):
    """Metric alarm (``metrics``) or composite alarm (``alarmRule``)."""

    description: Text | None = None
    metrics: tuple[MetricQuery, ...] | None = Field(default=None, max_length=100)
    alarm_rule: Text | None = Field(default=None, alias="alarmRule")

    @check
    def _metric_or_composite(self) -> None:
        if self.metrics is None and self.alarm_rule is None:
            raise ValueError("an alarm configuration has metrics or an alarmRule")

    @property
    def is_composite(self) -> bool:
        return self.alarm_rule is not None


class AlarmStateChangeDetail(Model):
    """The ``detail`` of a ``CloudWatch Alarm State Change`` event."""

    alarm_name: Name = Field(alias="alarmName")
    state: AlarmState
    previous_state: AlarmState | None = Field(default=None, alias="previousState")
    configuration: AlarmConfiguration
    #: Present only with tag propagation on; accepted as sent and never decided on (the
    #: flow reads the alarm's tags from CloudWatch: ``flows.capacity``).
    alarm_tags: dict[Annotated[str, Constraints(max_length=128)], Any] | None = Field(
        default=None, alias="alarmTags", max_length=50
    )
    alarm_tags_status: Word | None = Field(default=None, alias="alarmTagsStatus")


class AlarmStateChangeEvent(Event):
    detail: AlarmStateChangeDetail
    source: Literal["aws.cloudwatch"]
    detail_type: Literal["CloudWatch Alarm State Change"] = Field(alias="detail-type")


# ---------------------------------------------------------------------------
# ECS Service Action
# ---------------------------------------------------------------------------
class ServiceActionDetail(Model):
    """The ``detail`` of an ``ECS Service Action`` event."""

    event_type: Literal["INFO", "WARN", "ERROR"] = Field(alias="eventType")
    event_name: Word = Field(alias="eventName")
    cluster_arn: ClusterArn = Field(alias="clusterArn")
    created_at: datetime = Field(alias="createdAt")
    reason: Annotated[str, Constraints(min_length=1, max_length=256)] | None = None
    capacity_provider_arns: tuple[Annotated[str, Constraints(max_length=2048)], ...] | None = Field(
        default=None, alias="capacityProviderArns", max_length=100
    )
    container_instance_arns: tuple[Annotated[str, Constraints(max_length=2048)], ...] | None = (
        Field(default=None, alias="containerInstanceArns", max_length=1000)
    )

    @property
    def is_placement_failure(self) -> bool:
        return self.event_name == EVENT_PLACEMENT_FAILURE

    @property
    def is_steady_state(self) -> bool:
        return self.event_name == EVENT_STEADY_STATE


class ServiceActionEvent(Event):
    """A whole ``ECS Service Action`` event; ``resources[0]`` is the service's ARN."""

    detail: ServiceActionDetail
    source: Literal["aws.ecs"]
    detail_type: Literal["ECS Service Action"] = Field(alias="detail-type")

    @check
    def _names_a_service(self) -> None:
        if not self.resources or not _SERVICE_ARN.fullmatch(self.resources[0]):
            raise ValueError("resources[0] is not an ECS service ARN")

    @property
    def service_arn(self) -> str:
        return self.resources[0]

    @property
    def service_name(self) -> str:
        match = _SERVICE_ARN.fullmatch(self.resources[0])
        assert match is not None  # checked by the validator
        return match.group("name")


# ---------------------------------------------------------------------------
# EC2 Spot Instance Interruption Warning
# ---------------------------------------------------------------------------
class SpotInterruptionDetail(Model):
    instance_id: Annotated[str, Constraints(pattern=r"^i-[0-9a-f]{8,17}$")] = Field(
        alias="instance-id"
    )
    instance_action: Literal["terminate", "stop", "hibernate"] = Field(alias="instance-action")


class SpotInterruptionEvent(Event):
    detail: SpotInterruptionDetail
    source: Literal["aws.ec2"]
    detail_type: Literal["EC2 Spot Instance Interruption Warning"] = Field(alias="detail-type")


CapacityEvent = AlarmStateChangeEvent | ServiceActionEvent | SpotInterruptionEvent
#: What capacity-events parses.
CAPACITY_EVENT_MODELS: dict[
    str, type[AlarmStateChangeEvent | ServiceActionEvent | SpotInterruptionEvent]
] = {
    contract.DT_ALARM: AlarmStateChangeEvent,
    contract.DT_ECS_SERVICE_ACTION: ServiceActionEvent,
    contract.DT_SPOT_WARNING: SpotInterruptionEvent,
}


def parse_capacity_event(event: Any) -> CapacityEvent:
    """An alarm state change, a service action or a Spot warning; else ``InvalidEvent``."""
    return validate_event(CAPACITY_EVENT_MODELS, event)
