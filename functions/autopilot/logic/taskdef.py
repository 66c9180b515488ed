"""Task definitions: the RegisterTaskDefinition input for a new revision pinned to one digest,
the size of one task, and revision numbers."""

from __future__ import annotations

import copy
from typing import Any

# Every field RegisterTaskDefinition accepts that DescribeTaskDefinition returns. What is
# not listed is read-only (taskDefinitionArn, revision, status, requiresAttributes,
# compatibilities, registeredAt, registeredBy, deregisteredAt) and is left out.
REGISTERABLE = (
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
)


def pinned_registration(
    task_definition: dict[str, Any],
    tags: list[dict[str, str]],
    container: str,
    image: str,
) -> dict[str, Any]:
    """RegisterTaskDefinition kwargs: ``task_definition`` with ``container``'s image replaced."""
    params = {k: copy.deepcopy(task_definition[k]) for k in REGISTERABLE if k in task_definition}
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
