"""Models of the events task-events handles (``ECS Task State Change``, and the
re-check schedule's ``Scheduled Event``), its model map, and its parser.

Only the fields the zone-balance planner and the crash-loop detector read are modelled;
everything else in the event is ignored. The stop fields (``lastStatus``, ``stopCode``,
``stoppedReason``, the containers' ``exitCode``) are a cue: a crash is judged on the task
as ECS describes it (``flows.crash_loop``), never on what the event claims. Real shapes
accepted:

- EC2 and Fargate launch types; tasks placed by a capacity provider (``capacityProviderName``).
- ``availabilityZone`` absent (e.g. PROVISIONING, or a task that never got placed).
- ``stopCode``/``stoppedReason``/``stoppedAt`` only on stopping and stopped tasks;
  ``startedBy`` absent for tasks run by hand; ``exitCode``, ``image`` and ``imageDigest``
  absent on containers that never started.
- ``group`` is ``service:NAME`` for service tasks, ``family:NAME`` for standalone tasks
  (or any custom group given to RunTask).

Junk (wrong types, missing ARNs, a non-ECS ARN, a negative version) raises
``InvalidEvent`` (``events.parse``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from autopilot import contract
from autopilot.events.envelope import ECS_ARN_PREFIX, ClusterArn, Event, Model
from autopilot.events.parse import validate_event
from autopilot.schema import Constraints, Field

TaskArn = Annotated[
    str, Constraints(pattern=ECS_ARN_PREFIX + r"task/[A-Za-z0-9_/-]{1,400}$", max_length=600)
]
TaskDefinitionArn = Annotated[
    str,
    Constraints(
        pattern=ECS_ARN_PREFIX + r"task-definition/[A-Za-z0-9_-]{1,255}:[0-9]{1,10}$",
        max_length=600,
    ),
]
#: ECS lifecycle states (PROVISIONING, PENDING, ACTIVATING, RUNNING, DEACTIVATING, STOPPING,
#: DEPROVISIONING, STOPPED, DELETED); any upper-case word is accepted so a new state does
#: not break parsing, the logic decides what it means.
Status = Annotated[str, Constraints(pattern=r"^[A-Z][A-Z0-9_]{0,31}$")]
Text = Annotated[str, Constraints(max_length=4096)]
ShortText = Annotated[str, Constraints(min_length=1, max_length=1024)]

SERVICE_GROUP_PREFIX = "service:"
AZ_REBALANCING_REASON_PREFIX = "availability-zone rebalancing"
STOP_CODE_SPOT_INTERRUPTION = "SpotInterruption"


class TaskContainer(Model):
    """One container of the task, as the event reports it."""

    name: ShortText
    image: Text | None = None
    image_digest: Text | None = Field(default=None, alias="imageDigest")
    exit_code: int | None = Field(default=None, alias="exitCode")
    last_status: Status | None = Field(default=None, alias="lastStatus")
    reason: Text | None = None


class TaskStateChangeDetail(Model):
    """The ``detail`` of an ``ECS Task State Change`` event."""

    task_arn: TaskArn = Field(alias="taskArn")
    cluster_arn: ClusterArn = Field(alias="clusterArn")
    task_definition_arn: TaskDefinitionArn = Field(alias="taskDefinitionArn")
    group: ShortText
    last_status: Status = Field(alias="lastStatus")
    desired_status: Status = Field(alias="desiredStatus")
    version: int = Field(ge=0)
    availability_zone: (
        Annotated[str, Constraints(pattern=r"^[a-z]{2}-[a-z0-9-]{1,40}[a-z]$")] | None
    ) = Field(default=None, alias="availabilityZone")
    launch_type: Status | None = Field(default=None, alias="launchType")
    capacity_provider_name: ShortText | None = Field(default=None, alias="capacityProviderName")
    stop_code: Annotated[str, Constraints(pattern=r"^[A-Za-z]{1,64}$")] | None = Field(
        default=None, alias="stopCode"
    )
    stopped_reason: Text | None = Field(default=None, alias="stoppedReason")
    started_by: ShortText | None = Field(default=None, alias="startedBy")
    containers: tuple[TaskContainer, ...] = Field(default=(), max_length=100)
    created_at: datetime | None = Field(default=None, alias="createdAt")
    started_at: datetime | None = Field(default=None, alias="startedAt")
    stopped_at: datetime | None = Field(default=None, alias="stoppedAt")

    @property
    def dedup_key(self) -> str:
        """Deliveries of one state change share it (EventBridge delivers at least once)."""
        return self.task_arn + "#" + str(self.version)

    @property
    def service_name(self) -> str | None:
        """The service's name for a ``service:NAME`` group, else ``None`` (standalone task)."""
        if self.group.startswith(SERVICE_GROUP_PREFIX):
            return self.group[len(SERVICE_GROUP_PREFIX) :] or None
        return None

    @property
    def stopped_by_az_rebalancing(self) -> bool:
        """ECS stopped it while rebalancing ("Availability-zone rebalancing initiated by ...")."""
        reason = (
            (self.stopped_reason or "")
            .lstrip()
            .lower()
            .replace("availability zone", "availability-zone")
        )
        return reason.startswith(AZ_REBALANCING_REASON_PREFIX)

    @property
    def spot_interrupted(self) -> bool:
        return self.stop_code == STOP_CODE_SPOT_INTERRUPTION


class TaskStateChangeEvent(Event):
    """A whole ``ECS Task State Change`` event."""

    detail: TaskStateChangeDetail
    source: Literal["aws.ecs"]
    detail_type: Literal["ECS Task State Change"] = Field(alias="detail-type")


class ScheduledDetail(Model):
    """A ``Scheduled Event``'s ``detail``: always ``{}``."""


class ScheduledEvent(Event):
    """What a schedule rule delivers: task-events' zone-balance re-check tick.

    Real shape: ``source`` ``aws.events``, ``detail-type`` ``Scheduled Event``, ``detail``
    ``{}``, ``resources`` the rule's ARN (``arn:<partition>:events:<region>:<account>:rule/
    <name>``).
    """

    source: Literal["aws.events"]
    detail_type: Literal["Scheduled Event"] = Field(alias="detail-type")
    detail: ScheduledDetail = ScheduledDetail()


TaskEvent = TaskStateChangeEvent | ScheduledEvent
#: What task-events parses: task state changes, and the re-check schedule's tick.
TASK_EVENT_MODELS: dict[str, type[TaskStateChangeEvent | ScheduledEvent]] = {
    contract.DT_ECS_TASK: TaskStateChangeEvent,
    contract.DT_SCHEDULED: ScheduledEvent,
}


def parse_task_event(event: Any) -> TaskEvent:
    """A task state change, or the re-check schedule's tick; else ``InvalidEvent``."""
    return validate_event(TASK_EVENT_MODELS, event)
