"""Every sample event in events/, routed through `autopilot local emit`'s code path.

The table says which function each event reaches: the contract's function for its
detail-type when that function is deployed, else nothing (reported as unmatched). All four
functions are deployed now: task events reach task-events (the rule takes the cluster's
RUNNING and STOPPED tasks), service actions, alarms and Spot warnings reach capacity-events.
The sample alarm events are named ``autopilot-...``: the demo config's alarm name prefix is
``autopilot-`` so that the capacity rule matches them (the default prefix,
``autopilot-<environment>-``, would not).

Schedule rules have no pattern: EventBridge sends their targets a ``Scheduled Event`` whose
``resources`` name the rule, and the router delivers such an event to the rule it names.
So the rule "is matched by a sample" when a sample ``Scheduled Event`` names it:
``events/scheduled-event-recheck.json`` names ``demo-task-recheck`` and
``events/scheduled-event-reconcile.json`` the reconciler's ``demo-reconcile`` (re-homed to
the sandbox's account and region like every sample). No pattern rule matches them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from autopilot import contract

from sandbox.control import BadRequest, handle
from sandbox.core import Sandbox
from sandbox.router import normalize_event, rehome_event
from tests.e2e.conftest import event_files, load

#: detail-type -> the function that handles it (README.md, and the rules in infra/)
BY_DETAIL_TYPE = {
    contract.DT_ECR_IMAGE_ACTION: "image-events",
    contract.DT_ECR_IMAGE_SCAN: "image-events",
    contract.DT_INSPECTOR2_SCAN: "image-events",
    contract.DT_INSPECTOR2_FINDING: "image-events",
    contract.DT_ECS_DEPLOYMENT: "deployment-events",
    contract.DT_ECS_HOOK: "deployment-events",
    contract.DT_ECS_TASK: "task-events",
    contract.DT_ECS_SERVICE_ACTION: "capacity-events",
    contract.DT_ALARM: "capacity-events",
    contract.DT_SPOT_WARNING: "capacity-events",
    # a schedule rule's tick: it reaches the rule its resources name (task-events' re-check)
    contract.DT_SCHEDULED: "task-events",
}

#: samples whose function is not their detail-type's: a tick reaches the rule it names
BY_SAMPLE = {"scheduled-event-reconcile.json": contract.RECONCILER.name}

#: rules of the control plane's own events (the reconciler's shards: no AWS sample), and
#: where their routing is tested
OWN_EVENTS = {"demo-reconcile-shard": "tests/e2e/test_reconciler_fanout.py"}

#: events the deployed rules deliberately do not deliver, even with their function wired
NOT_DELIVERED: dict[str, str] = {}

#: samples `local emit` refuses as incomplete envelopes: AWS's documentation prints this one
#: without ``resources``, which EventBridge always delivers (tests/test_events_contract.py
#: parses it: the model takes it)
INCOMPLETE = {"ecs-hook-pause-awaiting-action-no-resources.json": "resources"}


def expected_function(path: Path, sandbox: Sandbox) -> str | None:
    if path.name in NOT_DELIVERED:
        return None
    fn = BY_SAMPLE.get(path.name) or BY_DETAIL_TYPE[load(path)["detail-type"]]
    assert sandbox.router is not None
    wired = {f.short_name for f in sandbox.router.functions.values()}
    return fn if fn in wired else None


@pytest.mark.parametrize("path", event_files(), ids=lambda p: p.name)
def test_event_reaches_its_function(path: Path, sandbox: Sandbox, demo_results: Any) -> None:
    # Given a sample event, when it is emitted into the sandbox the way `local emit` does it
    event = load(path)
    if path.name in INCOMPLETE:
        with pytest.raises(BadRequest, match=f"it lacks {INCOMPLETE[path.name]}"):
            handle(sandbox, "/emit", {"event": event})
        return
    doc = handle(sandbox, "/emit", {"event": event})
    # (what the event's reactions cause in turn is routed too; only its own deliveries count)
    routes = [r for r in doc["routes"] if r["event_id"] == event["id"]]
    ran = sorted({r["function"] for r in routes if r["matched"]})
    # Then exactly the expected function ran (or, if none is wired, the event is unmatched)
    want = expected_function(path, sandbox)
    if want is None:
        assert ran == [], f"{path.name} reached {ran}, expected no rule to match"
        assert routes
        assert not routes[0]["matched"]
    else:
        assert ran == [want], f"{path.name} reached {ran}, expected {want}"
        first = next(r for r in routes if r["matched"] and r["function"] == want)
        assert first["attempts"] >= 1


def test_every_rule_is_matched_by_an_event(sandbox: Sandbox, assembly: Any) -> None:
    # Every rule of the synthesized templates, as deployed, matches at least one sample event
    assert sandbox.router is not None
    template_rules = {
        s.physical_ids[lid]
        for s in sandbox.stacks
        for lid, t in s.resource_types.items()
        if t == "AWS::Events::Rule" and lid in s.physical_ids
    }
    synthesized = sum(
        1
        for st in assembly.stacks
        for r in st.template["Resources"].values()
        if r["Type"] == "AWS::Events::Rule"
    )
    assert len(template_rules) == synthesized
    events = [normalize_event(rehome_event(load(p))) for p in event_files()]
    unmatched = [
        r.name
        for r in sandbox.router.rules
        if r.name in template_rules
        and r.name not in OWN_EVENTS
        and not any(r.matches(e) for e in events)
    ]
    assert not unmatched, f"rules no sample event matches: {unmatched}"
    assert {r.name for r in sandbox.router.rules} >= template_rules
    schedules = [r for r in sandbox.router.rules if r.name in template_rules and r.schedule]
    assert {r.name: r.schedule for r in schedules} == {
        "demo-task-recheck": "rate(1 minute)",
        "demo-reconcile": "rate(5 minutes)",
    }


def test_a_tick_fires_every_schedule_rule_and_only_those(sandbox: Sandbox) -> None:
    assert sandbox.router is not None
    ticked = sandbox.router.tick()
    assert sorted((r.rule, r.function, r.ok) for r in ticked) == [
        ("demo-reconcile", "reconciler", True),
        ("demo-task-recheck", "task-events", True),
    ]
    for result in ticked:
        assert result.report is not None
        assert result.report["detail_type"] == "Scheduled Event"
