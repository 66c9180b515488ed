"""Deploy the synthesized stacks into the sandbox through its CloudFormation API.

Every stack of the cloud assembly is deployed, each after the stacks it depends on (the
manifest's dependencies: an estate split over several stacks, a control plane beside
them). For each: prepare the account (bootstrap bucket, assets, SSM parameters),
``CreateStack`` with the adjusted template, wait for CREATE_COMPLETE, then reconcile what
moto's CloudFormation skipped or dropped (with the exports of the stacks before it, for
``Fn::ImportValue``). Every adjustment lives in :mod:`sandbox.moto_adjustments`.
"""

from __future__ import annotations

import json
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sandbox import moto_adjustments as adj
from sandbox.server import Clients
from sandbox.synth import CloudAssembly, StackArtifact


class DeployError(RuntimeError):
    """A stack did not reach CREATE_COMPLETE in the sandbox."""


@dataclass
class DeployedStack:
    name: str
    stack_id: str
    template: dict[str, Any]  # as synthesized
    parameters: dict[str, str]
    physical_ids: dict[str, str]
    resource_types: dict[str, str]
    outputs: dict[str, str]
    removed: list[str] = field(default_factory=list)
    reconciled: list[str] = field(default_factory=list)
    #: the exports of every stack deployed up to this one (export name -> value)
    exports: dict[str, str] = field(default_factory=dict)

    def resources_of(self, rtype: str) -> dict[str, str]:
        """Logical id -> physical id of the deployed resources of one type."""
        return {
            lid: self.physical_ids[lid]
            for lid, t in self.resource_types.items()
            if t == rtype and lid in self.physical_ids
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "stack_id": self.stack_id,
            "outputs": self.outputs,
            "physical_ids": self.physical_ids,
            "resource_types": self.resource_types,
            "parameters": self.parameters,
            "removed": self.removed,
        }


def deploy_stack(clients: Clients, stack: StackArtifact) -> DeployedStack:
    """Deploy one stack (the stacks it imports from are deployed already)."""
    cfn = clients("cloudformation")
    template = stack.template
    overrides = adj.prepare_account(clients, stack)
    body, removed = adj.adjust_template(template, stack.name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        resp = cfn.create_stack(
            StackName=stack.name,
            TemplateBody=json.dumps(body),
            Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in overrides.items()],
            Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"],
        )
    stack_id = resp["StackId"]
    status = _wait(cfn, stack_id)
    if status != "CREATE_COMPLETE":
        events = cfn.describe_stack_events(StackName=stack_id)["StackEvents"]
        reasons = [
            f"{e['LogicalResourceId']}: {e.get('ResourceStatusReason')}"
            for e in events
            if "FAILED" in e.get("ResourceStatus", "")
        ][:5]
        raise DeployError(
            f"stack {stack.name} ended {status}: {'; '.join(reasons) or 'no reason given'}"
        )

    physical_ids: dict[str, str] = {}
    types: dict[str, str] = {}
    paginator = cfn.get_paginator("list_stack_resources")
    for page in paginator.paginate(StackName=stack_id):
        for r in page["StackResourceSummaries"]:
            types[r["LogicalResourceId"]] = r["ResourceType"]
            if r.get("PhysicalResourceId"):
                physical_ids[r["LogicalResourceId"]] = r["PhysicalResourceId"]
    for lid, r in template.get("Resources", {}).items():
        types.setdefault(lid, r.get("Type", ""))
    described = cfn.describe_stacks(StackName=stack_id)["Stacks"][0]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}
    params = {
        p["ParameterKey"]: p.get("ResolvedValue", p["ParameterValue"])
        for p in described.get("Parameters", [])
    }

    exported = list_exports(cfn)
    reconciled = adj.reconcile(
        clients, stack.name, template, physical_ids, params, exports=exported
    )
    return DeployedStack(
        stack.name,
        stack_id,
        template,
        overrides,
        physical_ids,
        types,
        outputs,
        removed,
        reconciled,
        exported,
    )


def list_exports(cfn: Any) -> dict[str, str]:
    """Every export of the account's stacks (name -> value)."""
    out: dict[str, str] = {}
    for page in cfn.get_paginator("list_exports").paginate():
        out.update({e["Name"]: e["Value"] for e in page.get("Exports", [])})
    return out


def _wait(cfn: Any, stack_id: str, timeout: float = 60.0) -> str:
    deadline = time.monotonic() + timeout
    while True:
        status: str = cfn.describe_stacks(StackName=stack_id)["Stacks"][0]["StackStatus"]
        if not status.endswith("IN_PROGRESS") or time.monotonic() > deadline:
            return status
        time.sleep(0.2)


def deploy(
    clients: Clients, assembly: CloudAssembly, progress: Callable[[str], None] | None = None
) -> list[DeployedStack]:
    """Every stack of the assembly, each after those it depends on (``assembly.stacks`` is
    in that order: :func:`sandbox.synth.read_assembly`)."""
    say = progress or (lambda _m: None)
    deployed: list[DeployedStack] = []
    done: set[str] = set()
    for stack in assembly.stacks:
        missing = [d for d in stack.dependencies if d not in done]
        if missing:  # read_assembly orders them; an assembly built by hand may not be
            raise DeployError(f"stack {stack.name} depends on {', '.join(missing)}, not deployed")
        n = len(stack.template.get("Resources", {}))
        say(f"deploying {stack.name} ({n} resources) into the sandbox")
        deployed.append(deploy_stack(clients, stack))
        done.add(stack.name)
    return deployed
