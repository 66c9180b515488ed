"""Rollback through ECS in the sandbox: a bad deploy whose deployment is still in progress
(its image pushed as stalling: the tasks never turn healthy) is rolled back by the operator
with `autopilot rollback`, which stops the deployment with StopServiceDeployment ROLLBACK
(ListServiceDeployments read first) instead of an UpdateService; the simulator carries
ECS's rollback and its events, and the service ends on the previous revision, known good
again, the bad digest quarantined."""

# ruff: noqa: PLC0415 - imports are deferred: moto and the functions load only where used

from __future__ import annotations

import json
from typing import Any

import pytest

from cli.main import main
from sandbox.core import Sandbox
from sandbox.demo import DemoContext, outcomes
from sandbox.demo.framework import next_version

REPO = "demo/web"


def test_a_deploy_in_progress_is_rolled_back_by_ecs_onto_the_previous_revision(
    sandbox: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    from autopilot.store.ledger import Ledger

    ctx = DemoContext(sandbox)
    ecs = ctx.ecs()
    assert sandbox.clients is not None
    ledger = Ledger(sandbox.clients("dynamodb"), sandbox.outputs["LedgerTableName"])

    def web() -> dict[str, Any]:
        return next(s for s in ctx.tracked_services() if s["name"] == "web")

    arn = web()["arn"]
    cluster = ctx.sim.service(arn).cluster_arn

    # Given a good image deployed and completed (the last known good) ...
    good = ctx.sim.push(REPO, next_version(ctx, REPO))
    assert ctx.image(web()).endswith("@" + good.digest)
    good_td = ctx.task_definition(web())
    # ... then a bad one whose deployment stays in progress
    bad = ctx.sim.push(REPO, next_version(ctx, REPO), stalling=True)
    assert "deployed" in outcomes(bad.routes, "image-events")
    bad_td = ctx.task_definition(web())
    assert bad_td != good_td
    (running,) = ecs.list_service_deployments(cluster=cluster, service=arn, status=["IN_PROGRESS"])[
        "serviceDeployments"
    ]
    emitted = len(ctx.sim.emitted)

    # When the operator rolls it back
    code = main(
        [
            *("rollback", "web", "--quarantine", "--reason", "stalled", "--json"),
            *("--endpoint", sandbox.endpoint),
        ]
    )
    out, err = capsys.readouterr()
    routes = ctx.sim.settle()

    # Then ECS rolled the deployment back (no UpdateService) onto the previous revision
    assert code == 0, err
    doc = json.loads(out[out.index("{\n") :])  # after the log lines of the in-process calls
    assert (doc["ok"], doc["changed"], doc["outcome"]) == (True, True, "rolled-back")
    assert doc["quarantined"] == bad.digest
    assert ctx.task_definition(web()) == good_td
    assert ctx.image(web()).endswith("@" + good.digest)
    assert ctx.running_digest_everywhere(web(), good.digest)
    (decision,) = ledger.decisions.list(arn, limit=None, outcomes=frozenset({"rolled-back"}))[:1]
    assert decision["function"] == "operator"
    assert "through ECS: StopServiceDeployment ROLLBACK of " in decision["reason"]
    # ECS's record: the stopped deployment rolled back
    listed = ecs.list_service_deployments(cluster=cluster, service=arn)["serviceDeployments"]
    stopped = next(
        d for d in listed if d["serviceDeploymentArn"] == running["serviceDeploymentArn"]
    )
    assert stopped["status"] == "ROLLBACK_SUCCESSFUL"
    assert not [d for d in listed if d["status"] in ("PENDING", "IN_PROGRESS")]
    # the events ECS sends for it: the rollback in progress, then completed
    events = [
        e["detail"]
        for e in ctx.sim.emitted[emitted:]
        if e["detail-type"] == "ECS Deployment State Change" and e["resources"] == [arn]
    ]
    names = [e["eventName"] for e in events]
    assert names == ["SERVICE_DEPLOYMENT_IN_PROGRESS", "SERVICE_DEPLOYMENT_COMPLETED"]
    assert "rolling back to deploymentId" in events[0]["reason"]
    # deployment-events noted ECS's rollback and took the revision as known good again
    assert outcomes(routes, "deployment-events") == ["ignored", "last-known-good"]
    lkg = ledger.state.last_known_good(arn)
    assert lkg is not None
    assert lkg.task_definition == good_td
    assert ledger.state.is_quarantined(arn, bad.digest)
