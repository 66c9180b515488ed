"""The demo's scenes, as assertions: every reaction of the story happened."""

from __future__ import annotations

from typing import Any

import pytest

from sandbox.demo import SCENES
from sandbox.simulator import SimulatorError


@pytest.mark.parametrize("index", range(len(SCENES)), ids=[s.title for s in SCENES])
def test_scene(demo_results: list[Any], index: int) -> None:
    result = demo_results[index]
    if result.skipped:
        pytest.skip(result.skipped)
    assert result.error is None, result.error
    missed = [f"{c.what} ({c.detail})" for c in result.checks if not c.ok]
    assert result.checks, "the scene checked nothing"
    assert not missed, missed


def test_timeline_tells_the_story(demo_results: list[Any], sandbox: Any) -> None:
    kinds = [e.kind for e in sandbox.timeline.entries]
    assert kinds.count("scene") >= len(SCENES)
    # Every scene's reaction is on the timeline: a handler ran for each stimulus
    assert "route" in kinds
    assert "miss" not in kinds


def test_the_delivery_scenes_leave_no_service_behind(demo_results: list[Any], sandbox: Any) -> None:
    # Given the story told, whose delivery theme made a staged service of its own
    ecs = sandbox.clients("ecs")
    listed = {
        arn: cluster
        for cluster in sandbox.simulator.clusters
        for arn in ecs.list_services(cluster=cluster)["serviceArns"]
    }
    staged = [a for a in listed if "/delivery-" in a]
    # Then ECS keeps it only as deleted (moto lists INACTIVE services too) and the simulator
    # runs it no more; the simulator takes in only services that exist (a service it runs
    # already is returned as it is)
    assert staged
    for arn in staged:
        (svc,) = ecs.describe_services(cluster=listed[arn], services=[arn])["services"]
        assert svc["status"] == "INACTIVE"
    assert not [a for a in sandbox.simulator.services if "/delivery-" in a]
    web = next(a for a in listed if a.endswith("/web"))
    assert sandbox.simulator.add_service(web) is sandbox.simulator.service(web)
    with pytest.raises(SimulatorError):
        sandbox.simulator.add_service(web.rsplit("/", 1)[0] + "/no-such-service")
    with pytest.raises(SimulatorError):
        sandbox.simulator.add_service(staged[0])  # deleted: not taken in again
