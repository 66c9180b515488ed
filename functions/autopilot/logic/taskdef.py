"""Task definitions: the RegisterTaskDefinition input for a new revision pinned to one digest,
the size of one task, and revision numbers."""

from __future__ import annotations

import copy
from typing import Any

from autopilot.errors import UnknownTaskDefinitionField

# The TaskDefinition that DescribeTaskDefinition returns, field by field, in two kinds; a
# unit test holds both to botocore's ECS model (tests/unit/test_taskdef_copy.py), so the
# Lambda never loads that model. Nested shapes (containerDefinitions, volumes, ...) are
# copied whole. A field of neither kind is refused (``UnknownTaskDefinitionField``): a
# newer botocore than this list knows returns it, and a copy without it would drop it.
# (An older botocore than the API drops new fields itself, before they reach this code.)

#: what RegisterTaskDefinition accepts of what DescribeTaskDefinition returns: copied.
#: ``tags`` are registered too, but come back beside the task definition, not in it.
COPIED = (
    "family",
    "taskRoleArn",
    "executionRoleArn",
    "networkMode",
    "containerDefinitions",
    "volumes",
    "placementConstraints",
    "requiresCompatibilities",
    "cpu",
    "memory",
    "pidMode",
    "ipcMode",
    "proxyConfiguration",
    "inferenceAccelerators",
    "ephemeralStorage",
    "runtimePlatform",
    "enableFaultInjection",
    "trustedExecutionConfiguration",
)

#: what DescribeTaskDefinition returns that is not a registration input: left out.
READ_ONLY = (
    "taskDefinitionArn",
    "revision",
    "status",
    "requiresAttributes",
    "compatibilities",
    "registeredAt",
    "registeredBy",
    "deregisteredAt",
    "deleteRequestedAt",
)

_KNOWN = frozenset(COPIED) | frozenset(READ_ONLY)


def pinned_registration(
    task_definition: dict[str, Any],
    tags: list[dict[str, str]],
    container: str,
    image: str,
) -> dict[str, Any]:
    """RegisterTaskDefinition kwargs: ``task_definition`` with ``container``'s image replaced.

    Raises ``UnknownTaskDefinitionField`` if it holds a field neither copied nor read-only,
    and ``KeyError`` if it has no container ``container``."""
    unknown = tuple(sorted(k for k in task_definition if k not in _KNOWN))
    if unknown:
        raise UnknownTaskDefinitionField(unknown)
    params = {k: copy.deepcopy(task_definition[k]) for k in COPIED if k in task_definition}
    found = False
    for c in params.get("containerDefinitions", []):
        if c.get("name") == container:
            c["image"] = image
            found = True
    if not found:
        raise KeyError(container)
    if tags:
        params["tags"] = [{"key": t["key"], "value": t["value"]} for t in tags]
    return params


def image_of(task_definition: dict[str, Any], container: str) -> str | None:
    for c in task_definition.get("containerDefinitions", []):
        if c.get("name") == container:
            return str(c.get("image"))
    return None


def task_size(task_definition: dict[str, Any]) -> tuple[int, int]:
    """(CPU units, MiB) one task needs: the task-level values, else the containers' sum."""
    containers = task_definition.get("containerDefinitions", [])

    def number(value: Any) -> int:
        try:
            return int(str(value))
        except ValueError:
            return 0

    cpu = number(task_definition.get("cpu") or 0) or sum(
        number(c.get("cpu", 0)) for c in containers
    )
    memory = number(task_definition.get("memory") or 0) or sum(
        number(c.get("memory") or c.get("memoryReservation") or 0) for c in containers
    )
    return cpu, memory


def revision(task_definition_arn: str) -> tuple[str, int]:
    """``...:task-definition/<family>:<n>`` -> (family, n); n is -1 when there is none."""
    family, _, number = task_definition_arn.rsplit("/", 1)[-1].rpartition(":")
    return family, int(number) if number.isdigit() else -1


def essential_containers(task_definition: dict[str, Any]) -> frozenset[str]:
    """The names of the containers whose exit stops the task."""
    return frozenset(
        str(c.get("name"))
        for c in task_definition.get("containerDefinitions", [])
        if c.get("essential", True)
    )
