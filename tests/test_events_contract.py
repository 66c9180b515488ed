"""Contract tests: every sample event in events/ parses with the model of the function
its detail-type is routed to (real AWS shapes, one file per case)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from autopilot import contract
from autopilot.events.capacity import (
    AlarmStateChangeEvent,
    ServiceActionEvent,
    SpotInterruptionEvent,
)
from autopilot.events.deployment import EcsDeploymentEvent, parse_deployment_event
from autopilot.events.hook import EcsHookEvent, parse_reaction_event
from autopilot.events.image import (
    EcrImageActionEvent,
    EcrImageScanEvent,
    Inspector2FindingEvent,
    Inspector2ScanEvent,
    parse_image_event,
)
from autopilot.events.task import ScheduledEvent, TaskStateChangeEvent
from autopilot.schema import Model

#: the digest of the Inspector finding samples (demo/web's v1.5.0)
DIGEST = "sha256:7f5b2640fe6fb4f46592dfd3410c4a79dac4f89e4782432e0378abcd12349e1c"
EVENTS = sorted((Path(__file__).parent.parent / "events").glob("*.json"))


def _model(cls: type[Model]) -> Any:
    return cls.model_validate


PARSERS: dict[str, tuple[str, Any]] = {
    contract.DT_ECR_IMAGE_ACTION: (contract.IMAGE_EVENTS.name, parse_image_event),
    contract.DT_ECR_IMAGE_SCAN: (contract.IMAGE_EVENTS.name, parse_image_event),
    contract.DT_INSPECTOR2_SCAN: (contract.IMAGE_EVENTS.name, parse_image_event),
    contract.DT_INSPECTOR2_FINDING: (contract.IMAGE_EVENTS.name, parse_image_event),
    contract.DT_ECS_DEPLOYMENT: (contract.DEPLOYMENT_EVENTS.name, parse_deployment_event),
    contract.DT_ECS_HOOK: (contract.DEPLOYMENT_EVENTS.name, parse_reaction_event),
    contract.DT_ECS_TASK: (contract.TASK_EVENTS.name, _model(TaskStateChangeEvent)),
    contract.DT_ALARM: (contract.CAPACITY_EVENTS.name, _model(AlarmStateChangeEvent)),
    contract.DT_ECS_SERVICE_ACTION: (contract.CAPACITY_EVENTS.name, _model(ServiceActionEvent)),
    contract.DT_SPOT_WARNING: (contract.CAPACITY_EVENTS.name, _model(SpotInterruptionEvent)),
    # what task-events' re-check schedule rule delivers
    contract.DT_SCHEDULED: (contract.TASK_EVENTS.name, _model(ScheduledEvent)),
}

# What the image and deployment samples must come out as (the traps in real shapes).
EXPECTED: dict[str, tuple[type[Model], dict[str, Any]]] = {
    "ecr-image-push.json": (EcrImageActionEvent, {"action_type": "PUSH", "image_tag": "v1.4.0"}),
    "ecr-image-push-by-digest.json": (EcrImageActionEvent, {"image_tag": None}),
    "ecr-image-delete.json": (EcrImageActionEvent, {"action_type": "DELETE"}),
    "ecr-image-push-failure.json": (
        EcrImageActionEvent,
        {"result": "FAILURE", "image_digest": None},
    ),
    "ecr-image-scan-clean.json": (EcrImageScanEvent, {"scan_status": "COMPLETE"}),
    "ecr-image-scan-critical.json": (EcrImageScanEvent, {"image_tags": []}),
    "ecr-image-scan-failed.json": (
        EcrImageScanEvent,
        {"scan_status": "FAILED", "finding_severity_counts": {}},
    ),
    "inspector2-scan.json": (Inspector2ScanEvent, {"repository_name": "demo/web"}),
    "inspector2-scan-critical.json": (Inspector2ScanEvent, {"repository_name": "demo/web"}),
    "inspector2-scan-eligibility-expired.json": (
        Inspector2ScanEvent,
        {"scan_status": "SCAN_ELIGIBILITY_EXPIRED"},
    ),
    # a finding names its image in its resource's details (no repository-name); the
    # 2021 shape (non-ISO timestamps, lastInUseAt, inUseCount, partition N/A) as well
    "inspector2-finding-critical.json": (
        Inspector2FindingEvent,
        {"repository_name": "demo/web", "image_digest": DIGEST, "status": "ACTIVE"},
    ),
    "inspector2-finding-2021-shape.json": (
        Inspector2FindingEvent,
        {"repository_name": "demo/web", "image_digest": DIGEST, "severity": "MEDIUM"},
    ),
    "ecs-deployment-in-progress.json": (
        EcsDeploymentEvent,
        {"event_name": "SERVICE_DEPLOYMENT_IN_PROGRESS"},
    ),
    "ecs-deployment-completed.json": (
        EcsDeploymentEvent,
        {"event_name": "SERVICE_DEPLOYMENT_COMPLETED"},
    ),
    "ecs-deployment-failed.json": (EcsDeploymentEvent, {"event_name": "SERVICE_DEPLOYMENT_FAILED"}),
    # ECS's two samples of a pause hook awaiting action: one has no resources
    "ecs-hook-pause-awaiting-action.json": (
        EcsHookEvent,
        {"event_name": "HOOK_AWAITING_ACTION", "hook_type": "PAUSE"},
    ),
    "ecs-hook-pause-awaiting-action-no-resources.json": (
        EcsHookEvent,
        {"event_name": "HOOK_AWAITING_ACTION", "lifecycle_stage": "POST_TEST_TRAFFIC_SHIFT"},
    ),
    "ecs-deployment-rolling-back.json": (
        EcsDeploymentEvent,
        {"event_name": "SERVICE_DEPLOYMENT_IN_PROGRESS"},
    ),
}


def test_there_are_samples_for_every_detail_type() -> None:
    seen = {json.loads(p.read_text())["detail-type"] for p in EVENTS}
    assert seen >= set(PARSERS)


@pytest.mark.parametrize("path", EVENTS, ids=[p.name for p in EVENTS])
def test_every_sample_event_parses_with_its_functions_model(path: Path) -> None:
    event = json.loads(path.read_text())
    function, parse = PARSERS[event["detail-type"]]
    parsed = parse(event)
    assert parsed.id == event["id"]
    assert function in contract.FUNCTIONS
    if path.name in EXPECTED:
        cls, fields = EXPECTED[path.name]
        assert type(parsed) is cls
        for name, value in fields.items():
            assert getattr(parsed.detail, name) == value, name


def test_every_image_and_deployment_case_has_a_sample() -> None:
    names = {p.name for p in EVENTS}
    assert set(EXPECTED) <= names
