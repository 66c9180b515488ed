"""Copying a task definition into a new revision: the fields copied and the fields left
out are botocore's ECS model, and a field of neither kind is refused, never dropped."""

from __future__ import annotations

from typing import Any

import botocore.session
import pytest
from autopilot.errors import UnknownTaskDefinitionField
from autopilot.logic import taskdef
from autopilot.logic.taskdef import pinned_registration


def _ecs_model() -> Any:
    return botocore.session.get_session().get_service_model("ecs")


def test_copied_fields_are_what_register_accepts_and_describe_returns() -> None:
    model = _ecs_model()
    register = set(model.operation_model("RegisterTaskDefinition").input_shape.members)
    described = model.operation_model("DescribeTaskDefinition").output_shape.members
    task_definition = set(described["taskDefinition"].members)
    # tags come back beside the task definition, not in it, and are copied from there
    assert "tags" in described
    assert "tags" not in task_definition
    assert "tags" in register
    assert set(taskdef.COPIED) == (register & task_definition)
    assert set(taskdef.COPIED) | set(taskdef.READ_ONLY) == task_definition
    assert not set(taskdef.COPIED) & set(taskdef.READ_ONLY)
    assert len(taskdef.COPIED) == len(set(taskdef.COPIED))
    assert len(taskdef.READ_ONLY) == len(set(taskdef.READ_ONLY))


TD: dict[str, Any] = {
    "taskDefinitionArn": "arn:aws:ecs:us-east-1:123456789012:task-definition/web:3",
    "family": "web",
    "revision": 3,
    "status": "ACTIVE",
    "containerDefinitions": [{"name": "app", "image": "demo/web:v1"}],
    "trustedExecutionConfiguration": {"enabled": True},
}


def test_trusted_execution_configuration_is_copied() -> None:
    params = pinned_registration(TD, [], "app", "demo/web@sha256:x")
    assert params["trustedExecutionConfiguration"] == {"enabled": True}
    assert "revision" not in params


def test_a_field_autopilot_does_not_know_is_refused_with_the_reason() -> None:
    td = {**TD, "fooBar": 1, "aNewThing": {"x": 1}}
    with pytest.raises(UnknownTaskDefinitionField) as raised:
        pinned_registration(td, [], "app", "demo/web@sha256:x")
    assert raised.value.fields == ("aNewThing", "fooBar")
    assert str(raised.value) == (
        "task definition fields 'aNewThing', 'fooBar' are unknown to this version of "
        "autopilot: not copied, so not deployed"
    )
    with pytest.raises(UnknownTaskDefinitionField, match="field 'fooBar' is unknown"):
        pinned_registration({**TD, "fooBar": 1}, [], "app", "demo/web@sha256:x")
