"""The payload ECS sends a Lambda lifecycle hook (the admission function's input), and its
parser.

The shape (the ECS Developer Guide, "Lambda functions for Amazon ECS lifecycle hooks";
samples in ``events/admission/``): ``executionId``, ``lifecycleStage``, ``resourceArn`` (the
service deployment), ``hookDetails`` when the hook has some, and ``executionDetails``
{``serviceArn``, ``targetServiceRevisionArn``, ``testTrafficWeights``,
``productionTrafficWeights``} (the weights map a service revision ARN to a percent, ``{}``
outside a traffic shift). It is not an EventBridge event: no ``id``, ``detail-type`` or
``time``. Junk raises ``InvalidEvent`` (the model's error list, inputs left out); the flow
answers it FAILED, never with a traceback.
"""

from __future__ import annotations

from typing import Annotated, Any

from autopilot.errors import InvalidEvent
from autopilot.events.envelope import ECS_ARN_PREFIX, Model
from autopilot.events.parse import error_list
from autopilot.schema import Constraints, Field, ValidationError

#: What the ledger calls one hook invocation (the ``detail-type`` of its decisions).
HOOK_DETAIL_TYPE = "ECS Lifecycle Hook"
_NAME = r"[A-Za-z0-9_-]{1,255}"

ServiceArn = Annotated[
    str,
    Constraints(pattern=ECS_ARN_PREFIX + rf"service/{_NAME}/{_NAME}$", max_length=600),
]
ServiceRevisionArn = Annotated[
    str,
    Constraints(
        pattern=ECS_ARN_PREFIX + rf"service-revision/{_NAME}/{_NAME}/[0-9A-Za-z_-]{{1,64}}$",
        max_length=700,
    ),
]
ServiceDeploymentArn = Annotated[
    str,
    Constraints(
        pattern=ECS_ARN_PREFIX + rf"service-deployment/{_NAME}/{_NAME}/[0-9A-Za-z_-]{{1,64}}$",
        max_length=700,
    ),
]
Weights = dict[Annotated[str, Constraints(max_length=700)], float]

#: The stages ECS runs Lambda hooks at (``DeploymentLifecycleHook.lifecycleStages``).
STAGES = frozenset(
    {
        "RECONCILE_SERVICE",
        "PRE_SCALE_UP",
        "POST_SCALE_UP",
        "TEST_TRAFFIC_SHIFT",
        "POST_TEST_TRAFFIC_SHIFT",
        "PRE_PRODUCTION_TRAFFIC_SHIFT",
        "PRODUCTION_TRAFFIC_SHIFT",
        "POST_PRODUCTION_TRAFFIC_SHIFT",
    }
)


class ExecutionDetails(Model):
    service_arn: ServiceArn = Field(alias="serviceArn")
    target_service_revision_arn: ServiceRevisionArn = Field(alias="targetServiceRevisionArn")
    test_traffic_weights: Weights = Field(default_factory=dict, alias="testTrafficWeights")
    production_traffic_weights: Weights = Field(
        default_factory=dict, alias="productionTrafficWeights"
    )


class LifecycleHookPayload(Model):
    """One invocation of a Lambda lifecycle hook."""

    execution_id: Annotated[str, Constraints(min_length=1, max_length=256)] = Field(
        alias="executionId"
    )
    lifecycle_stage: Annotated[str, Constraints(max_length=64)] = Field(alias="lifecycleStage")
    resource_arn: ServiceDeploymentArn = Field(alias="resourceArn")
    execution_details: ExecutionDetails = Field(alias="executionDetails")
    hook_details: Any = Field(default=None, alias="hookDetails")

    @property
    def service_arn(self) -> str:
        return self.execution_details.service_arn

    @property
    def revision_arn(self) -> str:
        return self.execution_details.target_service_revision_arn

    @property
    def account(self) -> str:
        return self.service_arn.split(":")[4]

    @property
    def region(self) -> str:
        return self.service_arn.split(":")[3]


def parse_hook_payload(payload: Any) -> LifecycleHookPayload:
    """Parse a lifecycle hook's payload, or raise ``InvalidEvent``."""
    if not isinstance(payload, dict):
        raise InvalidEvent(
            f"invalid lifecycle hook payload: a JSON object, not {type(payload).__name__}"
        )
    try:
        parsed = LifecycleHookPayload.model_validate(payload)
    except ValidationError as exc:
        errors = error_list(exc)
        where = ", ".join(".".join(e["loc"]) or "payload" for e in errors[:3])
        raise InvalidEvent(
            f"invalid lifecycle hook payload: {exc.error_count()} error(s) ({where})",
            errors=errors,
        ) from None
    if parsed.lifecycle_stage not in STAGES:
        raise InvalidEvent(
            f"invalid lifecycle hook payload: unknown stage {parsed.lifecycle_stage!r}"
        )
    return parsed
