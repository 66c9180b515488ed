"""The reconciler's fan-out in the sandbox: a tick that finds more tracked services than
``reconciler.shard_size`` puts one ``Reconcile Shard`` event per shard on the default bus
(PutEvents, from the function), the shard rule routes each back to the reconciler, and
every shard sweeps (and deploys) its own services."""

from __future__ import annotations

from sandbox.core import Sandbox
from sandbox.demo import DemoContext
from sandbox.demo.framework import next_version


def test_a_tick_at_scale_splits_and_every_shard_deploys(sandbox: Sandbox) -> None:
    sim, router = sandbox.simulator, sandbox.router
    assert sim is not None
    assert router is not None
    ctx = DemoContext(sandbox)
    tracked = ctx.tracked_services()
    assert len(tracked) >= 3
    # Given a push whose events were lost, to a service's repository
    svc = ctx.pick_service()
    repo = svc["tags"]["autopilot:repository"]
    pushed = sim.push(repo, next_version(ctx, repo), drop_event=True)
    assert not pushed.routes
    # When the schedule ticks with a shard size of one service
    with router.environment_override("reconciler", SHARD_SIZE="1"):
        routes = sim.tick("reconcile")
    # Then the tick deployed nothing itself and put one shard per tracked service
    (tick,) = [r for r in routes if r.detail_type == "Scheduled Event"]
    assert tick.ok, tick.error
    assert tick.report is not None
    put = [d for d in tick.report["decisions"] if d["service"].startswith("shard/")]
    assert len(put) == len(tick.report["decisions"]) == len(tracked)
    assert {d["outcome"] for d in put} == {"deferred"}
    assert [a["api"] for a in tick.report["actions"] if a["done"]] == ["events:PutEvents"] * len(
        tracked
    )
    # and the bus brought every shard back to the reconciler, each its own invocation
    shards = [r for r in routes if r.detail_type == "Reconcile Shard"]
    assert len(shards) == len(tracked)
    assert {r.rule for r in shards} == {
        r.name for r in router.rules if r.name.endswith("-reconcile-shard")
    }
    assert all(r.ok and r.function == "reconciler" for r in shards), [r.error for r in shards]
    swept = [d for r in shards if r.report for d in r.report["decisions"]]
    assert "failed" not in {d["outcome"] for d in swept}
    # and the shard holding the service deployed the lost push
    assert {d["outcome"] for d in swept if d["service"] == svc["arn"]} == {"deployed"}
    assert ctx.image(svc).endswith("@" + pushed.digest)
