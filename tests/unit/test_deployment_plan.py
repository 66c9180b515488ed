"""deployment-events decision table, pure."""

from __future__ import annotations

import pytest
from autopilot.domain.records import DeployRecord, LastKnownGood, ServiceLedgerState
from autopilot.domain.report import Outcome
from autopilot.domain.service import Deployment, Service
from autopilot.logic.deployment_plan import DeploymentFacts, plan_deployment

ARN = "arn:aws:ecs:us-east-1:123456789012:service/c/web"
CLUSTER = "arn:aws:ecs:us-east-1:123456789012:cluster/c"
GOOD_TD, BAD_TD, ORIG_TD, NEWER_TD = (
    f"arn:aws:ecs:us-east-1:123456789012:task-definition/web:{n}" for n in (2, 3, 1, 4)
)
BAD = "sha256:" + "b" * 64
GOOD = "sha256:" + "a" * 64


def svc(*, on: str = BAD_TD, breaker: bool = False, primary: str = "d-bad") -> Service:
    return Service(
        ARN,
        "web",
        CLUSTER,
        on,
        {"autopilot:repository": "demo/web"},
        (
            Deployment(primary, "PRIMARY", BAD_TD if primary == "d-bad" else GOOD_TD),
            Deployment("d-good", "ACTIVE", GOOD_TD),
        ),
        breaker,
    )


def facts(
    name: str = "FAILED",
    reason: str = "circuit breaker: task failed to start",
    td: str | None = BAD_TD,
    digest: str | None = BAD,
) -> DeploymentFacts:
    return DeploymentFacts(
        "d-bad", f"SERVICE_DEPLOYMENT_{name}", reason, td, digest, None, "demo/web"
    )


LKG = ServiceLedgerState(last_known_good=LastKnownGood(GOOD_TD, GOOD, None))
RECORD = DeployRecord(BAD_TD, BAD, "v2", ORIG_TD, "e")


@pytest.mark.parametrize(
    ("f", "s", "state", "record", "outcome", "target"),
    [
        (facts("IN_PROGRESS"), svc(), LKG, None, Outcome.IGNORED, None),
        (
            facts("IN_PROGRESS", "rolling back to deploymentId d-good"),
            svc(),
            LKG,
            None,
            Outcome.IGNORED,
            None,
        ),
        (facts("COMPLETED"), svc(), LKG, None, Outcome.LAST_KNOWN_GOOD, None),
        (
            facts("COMPLETED"),
            svc(),
            ServiceLedgerState(quarantined=frozenset({BAD})),
            None,
            Outcome.IGNORED,
            None,
        ),
        (facts(), svc(), LKG, None, Outcome.ROLLED_BACK, GOOD_TD),
        (facts(), svc(), ServiceLedgerState(), RECORD, Outcome.ROLLED_BACK, ORIG_TD),
        (facts(), svc(), ServiceLedgerState(), None, Outcome.QUARANTINED, None),
        (facts(), svc(breaker=True), LKG, None, Outcome.QUARANTINED, None),
        (
            facts(reason="rolling back to deploymentId d-good"),
            svc(),
            LKG,
            None,
            Outcome.QUARANTINED,
            None,
        ),
        (facts(), svc(on=NEWER_TD, primary="d-newer"), LKG, None, Outcome.QUARANTINED, None),
        (facts(), svc(on=GOOD_TD), LKG, None, Outcome.QUARANTINED, None),
        (facts(td=None, digest=None), svc(), LKG, None, Outcome.FAILED, None),
        (facts(digest=None), svc(), LKG, None, Outcome.ROLLED_BACK, GOOD_TD),
    ],
    ids=[
        "in-progress",
        "ecs-rolling-back-noted",
        "completed-lkg",
        "completed-quarantined",
        "failed-rollback-lkg",
        "failed-rollback-replaced",
        "failed-nothing-known-good",
        "failed-breaker-rolls-back",
        "failed-reason-rolls-back",
        "failed-newer-primary",
        "failed-already-on-lkg",
        "failed-unknown-deployment",
        "failed-digest-unknown",
    ],
)
def test_decision_table(  # noqa: PLR0917 - one parameter per table column
    f: DeploymentFacts,
    s: Service,
    state: ServiceLedgerState,
    record: DeployRecord | None,
    outcome: Outcome,
    target: str | None,
) -> None:
    plan = plan_deployment(f, s, state, record)
    assert plan.decision.outcome == outcome
    assert (plan.update or {}).get("taskDefinition") == target
    if f.event_name.endswith("FAILED"):
        assert plan.decision.notify
    if outcome in {Outcome.QUARANTINED, Outcome.ROLLED_BACK}:
        assert plan.quarantine == f.digest


def test_a_quarantined_last_known_good_is_not_a_rollback_target() -> None:
    state = ServiceLedgerState(
        last_known_good=LastKnownGood(GOOD_TD, GOOD, None), quarantined=frozenset({GOOD})
    )
    plan = plan_deployment(facts(), svc(), state, RECORD)
    assert plan.update == {"cluster": CLUSTER, "service": ARN, "taskDefinition": ORIG_TD}


def test_a_lifecycle_hook_failure_is_ecss_rollback_named_as_such() -> None:
    # ECS rolls back a deployment a Lambda hook failed (admission's refusal), alarms or not
    alarmed = svc()._replace(deployment_alarms=frozenset({"web-5xx"}), alarm_rollback=True)
    why = "ECS deployment d-bad rolled back: lifecycle hook admission at PRE_SCALE_UP failed."
    plan = plan_deployment(facts(reason=why), alarmed, LKG, RECORD)
    assert plan.decision.outcome == Outcome.QUARANTINED
    assert "a lifecycle hook failed it and ECS rolls back" in plan.decision.reason
    assert "alarm" not in plan.decision.reason
    assert plan.update is None
