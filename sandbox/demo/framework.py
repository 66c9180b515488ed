"""The scene framework of `autopilot demo`: what a scene is, what it gets, what it returns.

A scene is a small class with a ``title`` and a ``run(ctx)`` that stimulates the sandbox
through ``ctx.sim`` (pushes, alarms, zone losses, raw events) and returns the
:class:`Check` of each reaction it expects; a scene whose setting the sandbox lacks raises
:class:`Skipped` with the reason. :class:`DemoContext` is what scenes share: the sandbox,
the operator's commands (given by the command line), the story so far, and questions about
the services (which opt in, what they run); the helpers below read the routes a stimulus
caused.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from autopilot import contract

from sandbox.core import Sandbox
from sandbox.router import RouteResult
from sandbox.simulator import Simulator


@dataclass
class Check:
    what: str
    ok: bool
    detail: str = ""


class Skipped(Exception):
    """The scene cannot be told in this sandbox (the reason says what it lacks)."""


@dataclass
class SceneResult:
    title: str
    checks: list[Check]
    seconds: float
    error: str | None = None
    #: why the scene was not told (None: it was)
    skipped: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and all(c.ok for c in self.checks)


class Approved(Protocol):
    """What an approval answers (``cli.controls.Result``)."""

    ok: bool
    changed: bool
    message: str


#: ``approve(service, digest)``: what `autopilot approve SERVICE DIGEST` does; with digest
#: None, what `autopilot approve SERVICE` does (the deployment waiting at a pause hook)
Approve = Callable[[str, str | None], Approved]


def _no_approve(service: str, digest: str | None) -> Approved:
    raise RuntimeError(
        "this demo was started without the operator controls (DemoContext.approve): "
        "run it with `autopilot demo`"
    )


class Adopt(Protocol):
    """What `autopilot adopt CLUSTER [--apply | --undo] --json` does: its JSON report."""

    def __call__(
        self, cluster: str, *, apply: bool = False, undo: bool = False
    ) -> dict[str, Any]: ...


def _no_adopt(cluster: str, *, apply: bool = False, undo: bool = False) -> dict[str, Any]:
    raise RuntimeError(
        "this demo was started without the operator commands (DemoContext.adopt): "
        "run it with `autopilot demo`"
    )


class Scene(Protocol):
    """A scene: its ``title`` (a class attribute), and ``run`` that returns its checks."""

    title: str

    def run(self, ctx: DemoContext) -> list[Check]: ...


@dataclass
class DemoContext:
    """What scenes share: the sandbox, the operator's commands given by the command line
    that runs the demo (``approve``: `autopilot approve`; ``adopt``: `autopilot adopt`),
    and the story so far."""

    sandbox: Sandbox
    approve: Approve = _no_approve
    adopt: Adopt = _no_adopt
    story: dict[str, Any] = field(default_factory=dict)

    @property
    def sim(self) -> Simulator:
        assert self.sandbox.simulator is not None
        return self.sandbox.simulator

    def ecs(self) -> Any:
        assert self.sandbox.clients is not None
        return self.sandbox.clients("ecs")

    # ---- services and what they run
    def tracked_services(self) -> list[dict[str, Any]]:
        """This sandbox's services that opt in to image automation, with their tags (moto's
        backends are process-wide: another sandbox's services may still be in them)."""
        assert self.sandbox.clients is not None
        tagging = self.sandbox.clients("resourcegroupstaggingapi")
        out = []
        for m in tagging.get_resources(
            TagFilters=[{"Key": contract.TAG_REPOSITORY}], ResourceTypeFilters=["ecs:service"]
        )["ResourceTagMappingList"]:
            if m["ResourceARN"] not in self.sim.services:
                continue
            tags = {t["Key"]: t["Value"] for t in m["Tags"]}
            out.append(
                {"arn": m["ResourceARN"], "name": m["ResourceARN"].rsplit("/", 1)[-1], "tags": tags}
            )
        return sorted(out, key=lambda s: s["name"])

    def pick_service(
        self, *, policy_prefix: str = "semver", scan: str = "critical"
    ) -> dict[str, Any]:
        """A service of the stacks (not of a brownfield cluster) with this policy and gate,
        rolling (not one the delivery scenes made: those carry a staged ``autopilot:strategy``)."""
        stacks = {
            c.rsplit("/", 1)[-1]  # a name or an ARN: the name
            for s in self.sandbox.stacks
            for c in s.resources_of("AWS::ECS::Cluster").values()
        }
        for s in self.tracked_services():
            if stacks and self.sim.service(s["arn"]).cluster_name not in stacks:
                continue
            tags = s["tags"]
            if tags.get(contract.TAG_STRATEGY, "rolling") != "rolling":
                continue
            if (
                tags.get(contract.TAG_POLICY, contract.DEFAULT_POLICY).startswith(policy_prefix)
                and tags.get(contract.TAG_SCAN, contract.DEFAULT_SCAN) == scan
            ):
                return s
        raise LookupError(
            f"no service with policy {policy_prefix}* and scan gate {scan} in the stacks"
        )

    def task_definition(self, service: dict[str, Any]) -> str:
        svc = self.ecs().describe_services(
            cluster=service["arn"].split("/")[-2], services=[service["arn"]]
        )["services"][0]
        return str(svc["taskDefinition"])

    def image(self, service: dict[str, Any]) -> str:
        td = self.ecs().describe_task_definition(taskDefinition=self.task_definition(service))[
            "taskDefinition"
        ]
        container = service["tags"].get(contract.TAG_CONTAINER)
        repo = service["tags"][contract.TAG_REPOSITORY]
        for c in td["containerDefinitions"]:
            if c["name"] == container or (container is None and f"/{repo}" in c["image"]):
                return str(c["image"])
        return str(td["containerDefinitions"][0]["image"])

    def revisions(self, service: dict[str, Any]) -> int:
        family = self.task_definition(service).rsplit("/", 1)[-1].rsplit(":", 1)[0]
        return len(self.ecs().list_task_definitions(familyPrefix=family)["taskDefinitionArns"])

    def running_digest_everywhere(self, service: dict[str, Any], digest: str) -> bool:
        sim_svc = self.sim.service(service["arn"])
        tds = {t.task_definition_arn for t in sim_svc.running()}
        return bool(tds) and all(self._td_has(td, digest) for td in tds)

    def _td_has(self, td_arn: str, digest: str) -> bool:
        td = self.ecs().describe_task_definition(taskDefinition=td_arn)["taskDefinition"]
        return any(c["image"].endswith("@" + digest) for c in td["containerDefinitions"])

    # ---- one service, by name
    def spread(self, service: str) -> dict[str, int]:
        """Running tasks per zone."""
        return dict(self.sim.service(service).spread())

    def describe_service(self, name: str) -> dict[str, Any]:
        """The service as ``DescribeServices`` answers."""
        cluster = self.sim.service(name).cluster_arn
        return dict(self.ecs().describe_services(cluster=cluster, services=[name])["services"][0])

    def tags(self, service: str) -> dict[str, str]:
        """The service's tags (name or ARN), as ``ListTagsForResource`` answers."""
        arn = self.sim.service(service).arn
        return {
            t["key"]: t["value"] for t in self.ecs().list_tags_for_resource(resourceArn=arn)["tags"]
        }


_SEMVER = re.compile(r"^v?(\d+)\.(\d+)\.(\d+)$")


def next_version(ctx: DemoContext, repository: str) -> str:
    """A SemVer tag newer than every one in the repository (the scene can run again)."""
    assert ctx.sandbox.clients is not None
    ecr = ctx.sandbox.clients("ecr")
    found = [
        tuple(int(p) for p in m.groups())
        for page in ecr.get_paginator("describe_images").paginate(repositoryName=repository)
        for d in page["imageDetails"]
        for t in d.get("imageTags", [])
        if (m := _SEMVER.match(t))
    ]
    major, minor, _patch = max(found, default=(1, 0, 0))
    return f"{major}.{minor + 1}.0"


# --------------------------------------------------------------------------- routes
def outcomes(routes: list[RouteResult], function: str | None = None) -> list[str]:
    """The decisions' outcomes of the routes (of one function's, if given)."""
    out: list[str] = []
    for r in routes:
        if r.ok and r.report and (function is None or r.function == function):
            out.extend(str(d.get("outcome")) for d in r.report.get("decisions") or [])
    return out


def failures(routes: list[RouteResult]) -> list[str]:
    return [f"{r.function}: {r.error}" for r in routes if r.matched and not r.ok]


def done_actions(routes: list[RouteResult]) -> list[str]:
    """The AWS calls (``service:Operation``) the handlers made."""
    return [
        str(a.get("api"))
        for r in routes
        if r.report
        for a in r.report.get("actions") or []
        if a.get("done")
    ]


def actions_by(routes: list[RouteResult], function: str) -> list[dict[str, Any]]:
    """The actions one function made, with their parameters."""
    return [
        a
        for r in routes
        if r.report and r.function == function
        for a in r.report.get("actions") or []
        if a.get("done")
    ]


def balanced(spread: dict[str, int]) -> bool:
    """No two zones differ by more than one task."""
    return bool(spread) and max(spread.values()) - min(spread.values()) <= 1


def no_failure(routes: list[RouteResult]) -> Check:
    return Check("no invocation failed", not failures(routes), "; ".join(failures(routes)))
