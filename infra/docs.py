"""The config file's reference, generated from its model (``infra/config.py``), so that the
docs cannot drift from what the app accepts.

Two outputs: the table of every field (path, type and limits, default, description)
between the markers in README.md's "The config file" section, and ``config/schema.json``,
the JSON Schema of the file for editors. ``python -m infra.docs`` (``make docs``) rewrites
both; ``python -m infra.docs --check`` changes nothing and exits 1 naming what is stale.

A field's description is, first found: its ``Field(description=...)``, an entry of
``DESCRIPTIONS`` below (for fields the model leaves undescribed), the ``#`` comment lines
right above it in infra/config.py, the docstring of the model it holds.
"""

from __future__ import annotations

import argparse
import inspect
import json
import re
import sys
import types
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import annotated_types
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from infra.config import AutopilotConfig

REPO_ROOT = Path(__file__).resolve().parent.parent
README = REPO_ROOT / "README.md"
SCHEMA = REPO_ROOT / "config" / "schema.json"
BEGIN = "<!-- config-table: generated from infra/config.py by `make docs`; do not edit -->"
END = "<!-- /config-table -->"

# "Model.field" -> description, for the fields infra/config.py gives none (no Field
# description, no comment above it). tests/unit/test_docs.py checks each names a field.
DESCRIPTIONS: dict[str, str] = {
    "AutopilotConfig.environment": "short name; names the stacks (`EcsAutopilot-<env>`, ...) "
    "and prefixes every physical name (`<env>-ledger`, `<env>-cluster`, ...)",
    "AutopilotConfig.observability": "the functions' logs and metrics",
    "NewVpc.cidr": "the VPC's IPv4 CIDR block",
    "NewVpc.max_azs": "how many Availability Zones the subnets span",
    "NewVpc.nat_gateways": "NAT gateways for the private subnets' egress",
    "ExistingVpc.vpc_id": "the VPC's id",
    "ExistingVpc.availability_zones": "its zones, in the order of the subnet lists",
    "ExistingVpc.public_subnet_ids": "one public subnet per zone",
    "ExistingVpc.private_subnet_ids": "one private subnet per zone (the tasks run there)",
    "Ec2Capacity.instance_types": "the Auto Scaling group's instance types (several allowed)",
    "Ec2Capacity.min_capacity": "the group's minimum size",
    "Ec2Capacity.max_capacity": "the group's maximum size",
    "Ec2Capacity.spot": "Spot instances instead of on-demand",
    "Ec2Capacity.root_volume_gib": "each instance's root volume",
    "Ec2Capacity.target_capacity_percent": "the capacity provider's managed scaling target",
    "FargateCapacity.fargate_base": "tasks that always run on FARGATE",
    "FargateCapacity.fargate_weight": "FARGATE's share beyond the base",
    "FargateCapacity.spot_weight": "FARGATE_SPOT's share beyond the base",
    "Repository.name": "the ECR repository's name",
    "Repository.untagged_expire_days": "untagged images expire after this many days",
    "Repository.keep_tagged": "how many tagged images the lifecycle policy keeps",
    "Scaling.min": "Service Auto Scaling's minimum task count",
    "Scaling.max": "Service Auto Scaling's maximum task count",
    "Scaling.cpu_target": "the target-tracking policy's CPU utilization target (percent)",
    "Automation.policy": "`autopilot:policy`: which tags to follow (`semver`, "
    "`semver:minor`, `semver:patch`, `glob:<p>`, `regex:<p>`, `tag:<name>`)",
    "Automation.scan": "`autopilot:scan`: the findings that block a deploy",
    "Automation.approval": "`autopilot:approval`: `manual` waits for `autopilot approve`",
    "Automation.rebalance": "`autopilot:rebalance`: keep the tasks balanced over zones",
    "Automation.admission": "`autopilot:admission`: `off` opts the service out of the "
    "admission hook (canary, linear and blue/green deployments)",
    "Thresholds.high": "ALARM at or above this percent scales out",
    "Thresholds.low": "the low alarm, at or below this percent, scales in (none: no low alarm)",
    "_AlarmSteps.step_out": "the step on ALARM: `+N` tasks or `+N%`",
    "_AlarmSteps.step_in": "the step on the low alarm: `-N` tasks or `-N%`",
    "_AlarmSteps.cooldown_seconds": "no new step for the same target within this time",
    "ServiceAlarms.cpu": "CPUUtilization thresholds (none: no CPU alarms)",
    "ServiceAlarms.memory": "MemoryUtilization thresholds (none: no memory alarms)",
    "ClusterAlarms.cpu_reservation": "CPUReservation thresholds (none: no such alarms)",
    "ClusterAlarms.memory_reservation": "MemoryReservation thresholds (none: no such alarms)",
    "CapacityAlarms.name_prefix": "the prefix of the alarm names capacity-events reacts to "
    "(default `autopilot-<environment>-`)",
    "CapacityAlarms.period_seconds": "the alarms' period",
    "CapacityAlarms.evaluation_periods": "periods over the threshold before ALARM",
    "LoadBalancer.port": "the listener's port",
    "LoadBalancer.health_check_path": "the target group's health check path",
    "Service.name": "the ECS service's name",
    "Service.repository": "the ECR repository (declared under `repositories`) image "
    "automation tracks",
    "Service.image": "a full image reference instead of `repository` and `image_tag` "
    "(not tracked by image automation unless `repository` is given too)",
    "Service.container_name": "the container's name (default: the service's)",
    "Service.container_port": "the port the container listens on",
    "Service.cpu": "task CPU units (Fargate: a valid CPU and memory pair)",
    "Service.memory_mib": "task memory",
    "Service.desired_count": "tasks to run (within `scaling`'s bounds when given)",
    "Service.capacity": "where the tasks run",
    "Observability.log_retention_days": "how long the log groups keep events (CloudWatch's "
    "allowed values)",
    "Observability.metrics_namespace": "the CloudWatch namespace of the functions' metrics",
    "AutomationFunctions.lease_seconds": "how long a service's lease holds before another "
    "reaction may take it over; default `timeout_seconds` + 30 (set, it must exceed the "
    "timeout): a killed invocation's lease has expired before Lambda's second retry",
    "AutomationFunctions.memory_mib": "each function's memory",
    "AutomationFunctions.timeout_seconds": "each function's timeout; every AWS call fits in "
    "the time left (4 attempts, 2 s to connect, 8 s to read: at most 47 s a call; no "
    'attempt with under 10 s left, no change with under 15 s: recorded "out of time", '
    "retried)",
    "AutomationFunctions.max_event_age_minutes": "the rules' targets drop events older than this",
    "AutomationFunctions.rule_retry_attempts": "the rules' target retries before the "
    "dead-letter queue",
    "AutomationFunctions.move_cooldown_seconds": "task-events: at most one task move per "
    "service within this time",
    "AutomationFunctions.crash_loop_window_minutes": "task-events: the window of "
    "`crash_loop_threshold`",
    "AutomationFunctions.spot_calm_seconds": "capacity-events: how long a Fargate Spot "
    "fallback waits without a placement failure before it is undone",
    "ManagedRepositories.all": "every repository of the account (`repositories: all`)",
    "ManagedRepositories.names": "repository names (`repositories: [name, ...]`)",
    "ManagedRepositories.prefixes": "repository name prefixes",
    "RoleTag.key": "the tag's key",
    "RoleTag.value": "the tag's value",
    "PassRoles.arns": "role ARNs, a trailing `*` for a name prefix",
    "PassRoles.paths": "IAM path prefixes like `/team-a/`",
    "Operators.role_arns": "IAM role ARNs (with their path, a trailing `*` for a name "
    "prefix) that may write the ledger (approve, reject, pause, resume); none: only the "
    "functions",
    "Manage.clusters": "managed clusters: names (this account and region) or ARNs; the "
    "estate's own is added",
    "Manage.repositories": "`all`, a list of names, or `{names, prefixes}` (default: the "
    "estate's repositories if it declares any, else all)",
    "Manage.pass_roles": "the roles image-events may pass to ECS tasks (the estate's own "
    "are always included)",
    "Guardrails.min_scan": "the loosest scan gate a tag may choose (`off`: no floor)",
    "Guardrails.manual_approval_clusters": "managed clusters whose services always need "
    "`autopilot approve`",
}

# Forms the model accepts before validation that its JSON Schema does not show
# ("Model.field" -> extra schemas; see the field validators in infra/config.py).
_EXTRA_FORMS: dict[str, list[dict[str, Any]]] = {
    "Manage.repositories": [
        {"const": "all"},
        {"type": "array", "items": {"type": "string"}},
    ],
    "Automation.rebalance": [{"type": "boolean"}],
    "Automation.admission": [{"type": "boolean"}],
    "Guardrails.min_scan": [{"const": False}],
}


@dataclass(frozen=True)
class Row:
    path: str
    type: str
    default: str
    description: str


def _models(model: type[BaseModel]) -> Iterator[type[BaseModel]]:
    """``model`` and every model its fields hold, each once, depth first."""
    seen: set[type[BaseModel]] = set()

    def walk(m: type[BaseModel]) -> Iterator[type[BaseModel]]:
        if m in seen:
            return
        seen.add(m)
        yield m
        for info in m.model_fields.values():
            nested, _ = _nested(info.annotation)
            if nested is not None:
                yield from walk(nested)

    yield from walk(model)


def _strip_optional(tp: Any) -> tuple[Any, bool]:
    if get_origin(tp) in (Union, types.UnionType):
        args = [a for a in get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return args[0], len(args) != len(get_args(tp))
    return tp, False


def _nested(tp: Any) -> tuple[type[BaseModel] | None, bool]:
    """The model a field holds (itself, optional, or in a list) and whether in a list."""
    tp, _ = _strip_optional(tp)
    if get_origin(tp) is list:
        (item,) = get_args(tp)
        inner, _ = _nested(item)
        return inner, True
    if inspect.isclass(tp) and issubclass(tp, BaseModel):
        return tp, False
    return None, False


def _type_name(tp: Any) -> str:
    tp, optional = _strip_optional(tp)
    origin = get_origin(tp)
    if origin is Annotated:
        name = _type_name(get_args(tp)[0])
    elif origin is Literal:
        name = "one of " + ", ".join(_literal(a) for a in get_args(tp))
    elif origin is list:
        (item,) = get_args(tp)
        name = f"list of {_type_name(item)}"
    elif inspect.isclass(tp) and issubclass(tp, BaseModel):
        name = "mapping"
    else:
        name = getattr(tp, "__name__", str(tp))
    return f"{name} or null" if optional else name


def _limits(info: FieldInfo) -> str:
    low = high = ""
    parts: list[str] = []
    tp, _ = _strip_optional(info.annotation)
    unit = "characters" if tp is str else "items"
    for m in info.metadata:
        if isinstance(m, annotated_types.Ge):
            low = f">= {m.ge}"
        elif isinstance(m, annotated_types.Gt):
            low = f"> {m.gt}"
        elif isinstance(m, annotated_types.Le):
            high = f"<= {m.le}"
        elif isinstance(m, annotated_types.Lt):
            high = f"< {m.lt}"
        elif isinstance(m, annotated_types.MinLen):
            parts.append(f"at least {m.min_length} {unit}")
        elif isinstance(m, annotated_types.MaxLen):
            parts.append(f"at most {m.max_length} {unit}")
    if low.startswith(">=") and high.startswith("<="):
        parts.insert(0, f"{low[3:]}..{high[3:]}")
    else:
        parts[:0] = [b for b in (low, high) if b]
    return ", ".join(parts)


def _literal(value: Any) -> str:
    return f"`{value}`" if isinstance(value, str) else f"`{json.dumps(value)}`"


def _yaml_value(value: Any) -> str:
    if isinstance(value, BaseModel):
        return "its fields' defaults"
    if value is None:
        return "none"
    if value == []:
        return "`[]`"
    return _literal(value)


def _default(info: FieldInfo) -> str:
    if info.default_factory is not None:
        return _yaml_value(info.default_factory())  # type: ignore[call-arg]
    if info.default is PydanticUndefined:
        return "required"
    return _yaml_value(info.default)


def _comments(model: type[BaseModel]) -> dict[str, str]:
    """Field name -> the ``#`` comment lines right above its declaration in ``model``."""
    try:
        lines = inspect.getsource(model).splitlines()
    except (OSError, TypeError):
        return {}
    found: dict[str, str] = {}
    for i, line in enumerate(lines):
        match = re.match(r"^    ([a-z_][a-z0-9_]*)\s*:", line)
        if not match:
            continue
        block: list[str] = []
        j = i - 1
        while j >= 0 and lines[j].strip().startswith("#"):
            block.insert(0, lines[j].strip().lstrip("#").strip())
            j -= 1
        if block:
            found[match[1]] = " ".join(block)
    return found


def _first_paragraph(doc: str | None) -> str:
    if not doc:
        return ""
    return " ".join(inspect.cleandoc(doc).split("\n\n")[0].split())


def _markdown(text: str) -> str:
    return text.replace("``", "`").replace("|", "\\|")


def description(model: type[BaseModel], name: str) -> str:
    """One field's description (the order of the module's docstring), or ``""``."""
    info = model.model_fields[name]
    if info.description:
        return info.description
    for owner in model.__mro__:
        if not (inspect.isclass(owner) and issubclass(owner, BaseModel)):
            continue
        if name not in getattr(owner, "__annotations__", {}):
            continue
        text = DESCRIPTIONS.get(f"{owner.__name__}.{name}") or _comments(owner).get(name)
        if text:
            return text
    nested, _ = _nested(info.annotation)
    return _first_paragraph(nested.__doc__) if nested is not None else ""


def rows(model: type[BaseModel] = AutopilotConfig, prefix: str = "") -> list[Row]:
    """Every field of ``model`` and of the models it holds, in declaration order."""
    out: list[Row] = []
    for name, info in model.model_fields.items():
        path = f"{prefix}{name}"
        nested, in_list = _nested(info.annotation)
        limits = _limits(info)
        kind = _type_name(info.annotation) + (f" ({limits})" if limits else "")
        out.append(Row(path, kind, _default(info), description(model, name)))
        if nested is not None:
            out.extend(rows(nested, f"{path}[]." if in_list else f"{path}."))
    return out


def config_table() -> str:
    """The README's generated block: the markers and the table between them."""
    lines = [BEGIN, "", "| field | type | default | what |", "|---|---|---|---|"]
    lines += [
        f"| `{r.path}` | {_markdown(r.type)} | {_markdown(r.default)} | "
        f"{_markdown(r.description) or '-'} |"
        for r in rows()
    ]
    return "\n".join([*lines, "", END])


def config_schema() -> dict[str, Any]:
    """The JSON Schema of the config file: the model's, with each field's description and
    the shorthand forms its validators accept."""
    schema = AutopilotConfig.model_json_schema(mode="validation")
    defs: dict[str, Any] = schema.get("$defs", {})
    for model in _models(AutopilotConfig):
        node = schema if model is AutopilotConfig else defs.get(model.__name__)
        if node is None:
            continue
        for name, prop in node.get("properties", {}).items():
            text = description(model, name)
            if text:
                prop["description"] = text.replace("``", "`")
            extra = _EXTRA_FORMS.get(f"{model.__name__}.{name}")
            if extra:
                node["properties"][name] = {
                    "anyOf": [*prop.pop("anyOf", [dict(prop)]), *extra],
                    **{k: v for k, v in prop.items() if k in ("description", "default")},
                }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$comment": "generated from infra/config.py by `make docs`; do not edit",
        **schema,
    }


def schema_text() -> str:
    return json.dumps(config_schema(), indent=2, sort_keys=False) + "\n"


def readme_with_table(readme: str) -> str:
    """``readme`` with its generated block replaced by the current one."""
    start, end = readme.find(BEGIN), readme.find(END)
    if start < 0 or end < start:
        raise ValueError(f"README.md has no generated block ({BEGIN} ... {END})")
    return readme[:start] + config_table() + readme[end + len(END) :]


def stale() -> list[str]:
    """The generated files that differ from what the model generates now."""
    out: list[str] = []
    readme = README.read_text(encoding="utf-8")
    if readme_with_table(readme) != readme:
        out.append("README.md")
    if not SCHEMA.exists() or SCHEMA.read_text(encoding="utf-8") != schema_text():
        out.append(str(SCHEMA.relative_to(REPO_ROOT)))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m infra.docs",
        description="regenerate README.md's config table and config/schema.json from "
        "infra/config.py",
    )
    parser.add_argument(
        "--check", action="store_true", help="change nothing; exit 1 if either is stale"
    )
    args = parser.parse_args(argv)
    if args.check:
        behind = stale()
        for name in behind:
            print(f"{name} is stale: run `make docs`", file=sys.stderr)
        return 1 if behind else 0
    README.write_text(readme_with_table(README.read_text(encoding="utf-8")), encoding="utf-8")
    SCHEMA.write_text(schema_text(), encoding="utf-8")
    print(f"wrote README.md's config table and {SCHEMA.relative_to(REPO_ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
