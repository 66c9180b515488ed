"""The sandbox pushes an image index (``autopilot local push --platforms``): each platform
manifest is scanned, and the services tracking the repository (linux/amd64) deploy the
index, gated on its amd64 manifest."""

from __future__ import annotations

from typing import Any

import pytest

from cli.invoke import approver
from sandbox.core import Sandbox
from sandbox.demo import DemoContext, outcomes
from sandbox.demo.framework import next_version

REPO = "demo/web"


@pytest.fixture(scope="module")
def ctx(sandbox: Sandbox, demo_results: Any) -> DemoContext:
    return DemoContext(sandbox, approve=approver(sandbox.endpoint))


def test_a_pushed_index_with_an_attestation_deploys_the_index_gated_on_amd64(
    ctx: DemoContext,
) -> None:
    pushed = ctx.sim.push(
        REPO,
        next_version(ctx, REPO),
        platforms=("linux/amd64", "linux/arm64"),
        attestation=True,
        scanner="basic",
    )

    assert set(pushed.children) == {"linux/amd64", "linux/arm64"}
    decided = outcomes(pushed.routes, "image-events")
    assert "deployed" in decided, decided
    deployed = [
        d
        for r in pushed.routes
        if r.ok and r.report and r.function == "image-events"
        for d in r.report.get("decisions") or []
        if d.get("outcome") == "deployed"
    ]
    assert all(d["digest"] == pushed.digest for d in deployed)
    assert all(pushed.children["linux/amd64"] in d["reason"] for d in deployed)
    web = [s for s in ctx.tracked_services() if s["tags"].get("autopilot:repository") == REPO]
    assert any(ctx.image(s).endswith("@" + pushed.digest) for s in web)
