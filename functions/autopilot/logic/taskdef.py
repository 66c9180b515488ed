"""Building the RegisterTaskDefinition input for a new revision pinned to one digest."""

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
