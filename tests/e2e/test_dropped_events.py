"""Lost ECR events in the sandbox: ``local push --drop-event`` (through the control
endpoint's code path) delivers nothing, a seeded drop rate loses the same events each time,
and ``local tick reconcile`` fires the reconciler's schedule rule alone (the demo's scene
``LostPushDeployedBySweep`` shows the sweep deploying a lost push)."""

from __future__ import annotations

import contextlib

import pytest

from sandbox.control import handle
from sandbox.core import Sandbox
from sandbox.simulator import SimulatorError

PROBE = "dropped/probe"  # tracked by no service: a push costs one image-events run


@pytest.fixture
def probe(sandbox: Sandbox) -> str:
    assert sandbox.clients is not None
    ecr = sandbox.clients("ecr")
    with contextlib.suppress(ecr.exceptions.RepositoryAlreadyExistsException):
        ecr.create_repository(repositoryName=PROBE)
    return PROBE


def test_a_push_with_drop_event_reaches_no_rule(sandbox: Sandbox, probe: str) -> None:
    sim = sandbox.simulator
    assert sim is not None
    before = len(sim.dropped)
    doc = handle(sandbox, "/push", {"repository": probe, "tag": "1.0.0", "drop_event": True})
    assert doc["routes"] == []
    lost = sim.dropped[before:]
    assert [e["detail-type"] for e in lost][:1] == ["ECR Image Action"]
    assert any("DROPPED" in line["text"] for line in doc["timeline"])
    # the image is in ECR all the same, for the sweep to find
    assert sandbox.clients is not None
    ecr = sandbox.clients("ecr")
    images = ecr.describe_images(repositoryName=probe)["imageDetails"]
    assert doc["digest"] in {i["imageDigest"] for i in images}


def test_a_seeded_drop_rate_loses_the_same_events_again(sandbox: Sandbox, probe: str) -> None:
    sim = sandbox.simulator
    assert sim is not None

    def pattern(seed: int, base: int) -> list[bool]:
        sim.drop_events(0.5, seed=seed)
        out = []
        for i in range(4):
            res = sim.push(probe, f"2.{base}.{i}", scanner="none")
            out.append(res.events[0] in sim.dropped)
        return out

    try:
        first = pattern(11, 0)
        assert first == pattern(11, 1)
        assert sim.drop_rate == 0.5
    finally:
        sim.drop_events(0.0)
    assert sim.push(probe, "3.0.0", scanner="none").routes  # delivered again


def test_tick_fires_one_schedule_rule_by_name(sandbox: Sandbox) -> None:
    sim = sandbox.simulator
    assert sim is not None
    routes = handle(sandbox, "/tick", {"rule": "reconcile"})["routes"]
    fired = [r for r in routes if r["detail_type"] == "Scheduled Event"]
    assert fired
    assert {r["function"] for r in fired} == {"reconciler"}
    assert [r.name for r in sim.schedule_rules("reconcile")] == [
        r.name for r in sim.router.schedules if r.name.endswith("-reconcile")
    ]
    with pytest.raises(SimulatorError, match="no schedule rule 'nope'"):
        handle(sandbox, "/tick", {"rule": "nope"})
