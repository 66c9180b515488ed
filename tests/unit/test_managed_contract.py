"""What the control plane manages, as the contract writes it: the repository filter, the
account- and region-pinned patterns over several clusters, the controller guard, drift."""

from __future__ import annotations

import json

import pytest
from autopilot import contract
from autopilot.contract import RepositoryFilter
from autopilot.domain.plan import Plan, Step
from autopilot.domain.records import DeployRecord
from autopilot.domain.report import Action, Decision, Outcome
from autopilot.logic import controller
from autopilot.logic.deployment_plan import DeploymentFacts, drifted
from moto.events.models import EventPattern

ACCOUNT, REGION = "123456789012", "eu-west-1"
A = f"arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/a"
B = f"arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/b"


@pytest.mark.parametrize(
    ("text", "covered", "not_covered"),
    [
        ("*", ["x", "team-a/web"], []),
        ("prefix:team-a/", ["team-a/web", "team-a/x/y"], ["team-b/web", "team-a"]),
        ("name:demo/web,prefix:shared/", ["demo/web", "shared/base"], ["demo/web2", "demo"]),
    ],
)
def test_a_repository_filter_covers_what_it_names(
    text: str, covered: list[str], not_covered: list[str]
) -> None:
    f = RepositoryFilter.parse(text)
    assert all(f.covers(r) for r in covered)
    assert not any(f.covers(r) for r in not_covered)
    assert RepositoryFilter.parse(str(f)) == f


@pytest.mark.parametrize("junk", ["", " , ", "team-a/", "prefix:", "name:", "glob:x", "*,name:a"])
def test_a_repository_filter_refuses_junk(junk: str) -> None:
    with pytest.raises(ValueError, match=r"expected|no repositories"):
        RepositoryFilter.parse(junk)


def _event(source: str, detail_type: str, detail: dict[str, object], **kw: object) -> dict:
    return {
        "version": "0",
        "id": "1",
        "source": source,
        "detail-type": detail_type,
        "account": kw.get("account", ACCOUNT),
        "region": kw.get("region", REGION),
        "time": "2026-01-01T00:00:00Z",
        "resources": kw.get("resources", []),
        "detail": detail,
    }


def _matches(pattern: dict, event: dict) -> bool:
    return bool(EventPattern.load(json.dumps(pattern)).matches_event(event))


def test_the_push_pattern_pins_account_region_and_the_repositories() -> None:
    pattern = contract.ecr_image_action_pattern(
        ACCOUNT, REGION, RepositoryFilter.parse("prefix:team-a/,name:demo/web")
    )
    push = _event("aws.ecr", "ECR Image Action", {"repository-name": "team-a/web"})
    assert _matches(pattern, push)
    assert _matches(pattern, {**push, "detail": {"repository-name": "demo/web"}})
    assert not _matches(pattern, {**push, "detail": {"repository-name": "team-b/web"}})
    assert not _matches(pattern, {**push, "account": "210987654321"})
    assert not _matches(pattern, {**push, "region": "us-east-1"})
    everything = contract.ecr_image_action_pattern(ACCOUNT, REGION, RepositoryFilter())
    assert "detail" not in everything
    assert _matches(everything, {**push, "detail": {"repository-name": "any/thing"}})


def test_the_inspector_pattern_matches_repository_arns_by_prefix() -> None:
    prefix = f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/"
    pattern = contract.inspector2_scan_pattern(
        ACCOUNT, REGION, RepositoryFilter.parse("prefix:team-a/"), prefix
    )
    scan = _event("aws.inspector2", "Inspector2 Scan", {"repository-name": prefix + "team-a/w"})
    assert _matches(pattern, scan)
    assert not _matches(pattern, {**scan, "detail": {"repository-name": prefix + "team-b/w"}})


def test_the_ecs_patterns_match_every_managed_cluster_and_no_other() -> None:
    deployment = contract.ecs_deployment_pattern(ACCOUNT, REGION, [A, B])
    ev = _event(
        "aws.ecs",
        "ECS Deployment State Change",
        {},
        resources=[f"arn:aws:ecs:{REGION}:{ACCOUNT}:service/b/web"],
    )
    assert _matches(deployment, ev)
    assert not _matches(
        deployment, {**ev, "resources": [f"arn:aws:ecs:{REGION}:{ACCOUNT}:service/c/web"]}
    )
    task = contract.ecs_task_pattern(ACCOUNT, REGION, [A, B])
    running = _event("aws.ecs", "ECS Task State Change", {"clusterArn": A, "lastStatus": "RUNNING"})
    assert _matches(task, running)
    assert not _matches(
        task, {**running, "detail": {"clusterArn": A + "x", "lastStatus": "RUNNING"}}
    )


def _plan() -> Plan:
    decision = Decision(service="arn:s", outcome=Outcome.DEPLOYED, reason="v2 replaces v1")
    step = Step(Action(api="ecs:UpdateService", params={}, service="arn:s"))
    return Plan(decision, steps=(step,), lease="arn:s")


@pytest.mark.parametrize("kind", ["CODE_DEPLOY", "EXTERNAL"])
def test_a_service_another_controller_deploys_gets_no_step(kind: str) -> None:
    first = controller.refuse(_plan(), kind, reported=False)
    again = controller.refuse(_plan(), kind, reported=True)
    for refused in (first, again):
        assert refused.steps == ()
        assert refused.decision.outcome is Outcome.REJECTED
        assert kind in refused.decision.reason
        assert "v2 replaces v1" in refused.decision.reason
    assert first.decision.notify
    assert not again.decision.notify
    assert controller.refuse(_plan(), "ECS", reported=False) == _plan()


def _facts(td: str) -> DeploymentFacts:
    return DeploymentFacts("d", "SERVICE_DEPLOYMENT_COMPLETED", "", td, None, "img:v1", "r")


OURS = DeployRecord("td:3", "sha256:" + "a" * 64, "v2", "td:2", "e")


@pytest.mark.parametrize(
    ("td", "deploy", "last_ours", "expected"),
    [
        ("td:4", None, OURS, True),  # the owner's new revision over ours
        ("td:2", None, OURS, False),  # back to the revision our deploy replaced: a rollback
        ("td:3", None, OURS, False),  # ours
        ("td:4", OURS._replace(task_definition="td:4"), OURS, False),  # ours, recorded
        ("td:4", None, None, False),  # autopilot never deployed it: nothing to drift from
    ],
)
def test_drift_is_an_owner_revision_over_autopilots(
    td: str, deploy: DeployRecord | None, last_ours: DeployRecord | None, expected: bool
) -> None:
    assert drifted(_facts(td), deploy, last_ours) is expected
