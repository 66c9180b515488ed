"""The templates deployed into the sandbox equal what `cdk synth` wrote, except the
adjustments listed in sandbox/moto_adjustments.py (and sandbox/README.md)."""

# ruff: noqa: PLC0415 - imports are deferred: moto, boto3 and the handlers load only where used

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from sandbox import moto_adjustments as adj
from sandbox.core import Sandbox

TEMPLATE_ADJUSTMENTS = {a.key for a in adj.ADJUSTMENTS if a.kind == "template"}


def diff(a: Any, b: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], Any, Any]]:
    """Paths where two JSON documents differ, as (path, left, right); deepest first."""
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            if k not in a or k not in b:
                yield (*path, k), a.get(k), b.get(k)
            else:
                yield from diff(a[k], b[k], (*path, k))
    elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            yield from diff(x, y, (*path, i))
    elif a != b:
        yield path, a, b


def explained(path: tuple[Any, ...], node: Any, removed: list[str], alarms: set[str]) -> str | None:
    """Which listed adjustment explains a difference under ``node`` at ``path`` (None: none)."""
    if len(path) == 3 and path[0] == "Parameters" and path[2] == "Default":
        return "public-ssm-parameter-defaults"
    if len(path) >= 2 and path[0] == "Resources" and path[1] in removed:
        return "strip-custom-resources"
    if path and path[-1] == "DependsOn" and any(d in json.dumps(node) for d in removed):
        return "strip-custom-resources"
    if isinstance(node, dict) and len(node) == 1:
        ((key, arg),) = node.items()
        if key == "Fn::GetAZs":
            return "getazs-region"
        target = (
            arg[0]
            if key == "Fn::GetAtt" and isinstance(arg, list)
            else arg
            if key == "Ref"
            else None
        )
        if target in alarms:
            return "skipped-resource-references"
    return None


def _walk_up(doc: Any, path: tuple[Any, ...]) -> Iterator[Any]:
    node = doc
    yield node
    for p in path:
        try:
            node = node[p]
        except (KeyError, IndexError, TypeError):
            return
        yield node


def test_deployed_templates_equal_synthesized_except_listed_adjustments(sandbox: Sandbox) -> None:
    assert sandbox.clients is not None
    cfn = sandbox.clients("cloudformation")
    for stack in sandbox.stacks:
        synthesized = stack.template
        body = cfn.get_template(StackName=stack.name)["TemplateBody"]
        deployed = json.loads(body) if isinstance(body, str) else json.loads(json.dumps(body))
        alarms = {
            lid
            for lid, r in synthesized["Resources"].items()
            if r["Type"] == "AWS::CloudWatch::Alarm"
        }
        # The deployed body is exactly the adjusted template...
        assert deployed == adj.adjust_template(synthesized, stack.name)[0]
        # ...and every difference from the synthesized one is a listed adjustment
        used: set[str] = set()
        for path, left, right in diff(synthesized, deployed):
            reasons = [
                explained(path[:i], node, stack.removed, alarms)
                for i, node in enumerate(_walk_up(synthesized, path))
            ]
            reason = next((r for r in reasons if r), None)
            assert reason, (
                f"{stack.name}: unexplained difference at {'/'.join(map(str, path))}: {left!r} -> {right!r}"  # noqa: E501
            )
            used.add(reason)
        assert used <= TEMPLATE_ADJUSTMENTS
        # Nothing else was dropped: every synthesized resource is deployed, bar the removed ones
        assert set(synthesized["Resources"]) - set(deployed["Resources"]) == set(stack.removed)


def test_every_adjustment_is_in_the_readme() -> None:
    from sandbox.synth import REPO_ROOT

    readme = (REPO_ROOT / "sandbox" / "README.md").read_text()
    missing = [a.key for a in adj.ADJUSTMENTS if f"`{a.key}`" not in readme]
    assert not missing, f"sandbox/README.md does not list: {missing}"


def test_reconciled_state_is_what_the_template_says(sandbox: Sandbox) -> None:
    # Tags (the opt-in contract) are back on every service, as the template writes them
    assert sandbox.clients is not None
    ecs = sandbox.clients("ecs")
    for stack in sandbox.stacks:
        for lid, arn in stack.resources_of("AWS::ECS::Service").items():
            want = {
                t["Key"] for t in stack.template["Resources"][lid]["Properties"].get("Tags", [])
            }
            cluster = arn.split("/")[-2]
            got = {
                t["key"]
                for t in ecs.describe_services(cluster=cluster, services=[arn], include=["TAGS"])[
                    "services"
                ][0].get("tags", [])
            }
            assert want <= got
        alarms = [
            r["Properties"].get("AlarmName")
            for r in stack.template["Resources"].values()
            if r["Type"] == "AWS::CloudWatch::Alarm"
        ]
        if alarms:
            names = {
                a["AlarmName"]
                for a in sandbox.clients("cloudwatch").describe_alarms(MaxRecords=100)[
                    "MetricAlarms"
                ]
            }
            assert {a for a in alarms if isinstance(a, str)} <= names
