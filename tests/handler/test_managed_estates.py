"""The functions over estates they did not create: several managed clusters, a repository
filter, services another deployment controller deploys, and drift (an owner's deploy over
autopilot's)."""

from __future__ import annotations

from typing import Any

import pytest
from autopilot.handlers import capacity_events, deployment_events, image_events, task_events
from autopilot.settings import get_settings

from tests.estate import CLUSTER_ARN, REGISTRY, Estate

REPO = "team-a/web"


@pytest.fixture
def second(estate: Estate, monkeypatch: pytest.MonkeyPatch) -> str:
    """A second managed cluster (the estate's own is managed too)."""
    arn = estate.cluster("payments")
    monkeypatch.setenv("CLUSTER_ARNS", f"{CLUSTER_ARN},{arn}")
    get_settings.cache_clear()
    return arn


def outcomes(report: Any) -> dict[str, str]:
    """cluster/service -> outcome."""
    return {"/".join(d.service.rsplit("/", 2)[-2:]): d.outcome.value for d in report.decisions}


def test_a_push_deploys_the_tracking_services_of_every_managed_cluster(
    estate: Estate, second: str
) -> None:
    # Given services tracking one repository in both managed clusters, and in one that is not
    estate.push(REPO, "v1.0.0")
    here = estate.service("web", REPO, tag="v1.0.0", tags={"autopilot:scan": "off"})
    there = estate.service(
        "web", REPO, tag="v1.0.0", tags={"autopilot:scan": "off"}, cluster="payments"
    )
    estate.cluster("elsewhere")
    estate.service("web", REPO, tag="v1.0.0", tags={"autopilot:scan": "off"}, cluster="elsewhere")
    new = estate.push(REPO, "v1.1.0")

    # When the push arrives
    report = image_events.run(estate.push_event(REPO, new, "v1.1.0"), aws=estate.clients)

    # Then both managed services deploy it pinned by digest; the third is not looked at
    assert outcomes(report) == {"demo-cluster/web": "deployed", "payments/web": "deployed"}
    assert estate.aws_calls()["ecs:DescribeServices"] == 2  # one per cluster with services
    for svc in (here, there):
        assert estate.running_image(svc) == f"{REGISTRY}/{REPO}@{new}"


def test_push_to_deploy_stays_at_six_calls_with_two_managed_clusters(
    estate: Estate, second: str
) -> None:
    estate.push(REPO, "v1.0.0")
    estate.service("web", REPO, tag="v1.0.0", tags={"autopilot:scan": "off"}, cluster="payments")
    for i in range(30):  # services that track nothing, in both clusters
        estate.service(f"other-{i}", track=False, cluster="payments" if i % 2 else "demo-cluster")
    new = estate.push(REPO, "v1.1.0")
    estate.reset_counts()

    report = image_events.run(estate.push_event(REPO, new, "v1.1.0"), aws=estate.clients)

    assert [d.outcome.value for d in report.decisions] == ["deployed"]
    assert sum(estate.aws_calls().values()) == 6, estate.aws_calls()


def test_a_push_to_a_repository_the_control_plane_does_not_manage_changes_nothing(
    estate: Estate, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REPOSITORIES", "prefix:team-b/,name:shared/base")
    get_settings.cache_clear()
    estate.push(REPO, "v1.0.0")
    estate.service("web", REPO, tag="v1.0.0", tags={"autopilot:scan": "off"})
    new = estate.push(REPO, "v1.1.0")

    report = image_events.run(estate.push_event(REPO, new, "v1.1.0"), aws=estate.clients)

    (decision,) = report.decisions
    assert decision.outcome.value == "ignored"
    assert "does not manage team-a/web" in decision.reason
    assert estate.aws_calls() == {}  # not even the tag query


def test_a_service_another_controller_deploys_is_never_changed_and_reported_once(
    estate: Estate,
) -> None:
    # Given a tracking service that CodeDeploy deploys (blue/green through CodeDeploy)
    estate.push(REPO, "v1.0.0")
    svc = estate.service(
        "web", REPO, tag="v1.0.0", tags={"autopilot:scan": "off"}, controller="CODE_DEPLOY"
    )
    before = estate.describe(svc)["taskDefinition"]
    estate.notices()

    # When two pushes arrive
    first = image_events.run(
        estate.push_event(REPO, estate.push(REPO, "v1.1.0"), "v1.1.0"), aws=estate.clients
    )
    second = image_events.run(
        estate.push_event(REPO, estate.push(REPO, "v1.2.0"), "v1.2.0"), aws=estate.clients
    )

    # Then neither changes it; the first is announced, the second only recorded
    for report in (first, second):
        (decision,) = report.decisions
        assert decision.outcome.value == "rejected"
        assert "deployment controller CODE_DEPLOY" in decision.reason
    assert estate.describe(svc)["taskDefinition"] == before
    assert "ecs:RegisterTaskDefinition" not in estate.mutations()
    assert [n["attributes"]["outcome"] for n in estate.notices()] == ["rejected"]


def test_zone_balance_never_touches_a_service_another_controller_deploys(
    estate: Estate,
) -> None:
    svc = estate.service(
        "web", spread={"us-east-1a": 4, "us-east-1b": 1, "us-east-1c": 1}, controller="EXTERNAL"
    )
    report = task_events.run(estate.task_event("web"), aws=estate.clients)
    (decision,) = report.decisions
    assert decision.outcome.value == "rejected"
    assert "deployment controller EXTERNAL" in decision.reason
    assert estate.mutations() in ({}, {"sns:Publish": 1})
    assert estate.describe(svc).get("availabilityZoneRebalancing") == "DISABLED"


def _deployed(estate: Estate) -> tuple[str, str, str]:
    """web deployed by autopilot (v1.1.0 over the owner's v1.0.0), deployment completed."""
    estate.push(REPO, "v1.0.0")
    svc = estate.service("web", REPO, tag="v1.0.0", tags={"autopilot:scan": "off"})
    owners = estate.describe(svc)["taskDefinition"]
    new = estate.push(REPO, "v1.1.0")
    report = image_events.run(estate.push_event(REPO, new, "v1.1.0"), aws=estate.clients)
    assert [d.outcome.value for d in report.decisions] == ["deployed"]
    deployment = estate.start_deployment(svc)
    estate.finish_deployment(svc)
    completed = deployment_events.run(
        estate.deployment_event(svc, "COMPLETED", deployment), aws=estate.clients
    )
    assert [d.outcome.value for d in completed.decisions] == ["last-known-good"]
    return svc, owners, estate.describe(svc)["taskDefinition"]


def test_an_owner_deploy_over_autopilot_is_drift_announced_and_kept(estate: Estate) -> None:
    svc, _owners, ours = _deployed(estate)
    estate.notices()

    # When the owner's IaC registers a revision naming a tag again and deploys it
    theirs = estate.task_definition("web", f"{REGISTRY}/{REPO}:v1.0.0")
    estate.ecs.update_service(cluster="demo-cluster", service=svc, taskDefinition=theirs)
    deployment = estate.start_deployment(svc)
    estate.finish_deployment(svc)
    report = deployment_events.run(
        estate.deployment_event(svc, "COMPLETED", deployment), aws=estate.clients
    )

    # Then it is drift: recorded, announced, kept (not reverted), the new last known good
    (decision,) = report.decisions
    assert decision.outcome.value == "drifted"
    assert ours in decision.reason
    assert estate.describe(svc)["taskDefinition"] == theirs
    assert estate.ledger.state.last_known_good(svc).task_definition == theirs  # type: ignore[union-attr]
    assert [n["attributes"]["outcome"] for n in estate.notices()] == ["drifted"]

    # and the next push deploys on top of the owner's revision
    newer = estate.push(REPO, "v1.2.0")
    pushed = image_events.run(estate.push_event(REPO, newer, "v1.2.0"), aws=estate.clients)
    assert [d.outcome.value for d in pushed.decisions] == ["deployed"]
    assert pushed.decisions[0].previous_task_definition == theirs


def test_going_back_to_the_revision_autopilot_replaced_is_not_drift(estate: Estate) -> None:
    svc, owners, _ours = _deployed(estate)
    estate.ecs.update_service(cluster="demo-cluster", service=svc, taskDefinition=owners)
    deployment = estate.start_deployment(svc)
    estate.finish_deployment(svc)
    report = deployment_events.run(
        estate.deployment_event(svc, "COMPLETED", deployment), aws=estate.clients
    )
    assert [d.outcome.value for d in report.decisions] == ["last-known-good"]


def test_a_task_of_a_cluster_the_control_plane_does_not_manage_is_ignored(
    estate: Estate,
) -> None:
    estate.service("web")
    event = estate.task_event("web")
    estate.reset_counts()
    event["detail"]["clusterArn"] = CLUSTER_ARN.replace("demo-cluster", "elsewhere")
    report = task_events.run(event, aws=estate.clients)
    (decision,) = report.decisions
    assert decision.outcome.value == "ignored"
    assert "does not manage" in decision.reason
    assert estate.aws_calls() == {}


def test_an_alarm_naming_a_service_without_its_cluster_is_rejected_when_two_are_managed(
    estate: Estate, second: str
) -> None:
    estate.service("web")
    estate.alarm("web-cpu-high", {"autopilot:target": "web", "autopilot:step": "+1"})
    report = capacity_events.run(
        estate.alarm_event(
            "web-cpu-high", tags={"autopilot:target": "web", "autopilot:step": "+1"}
        ),
        aws=estate.clients,
    )
    (decision,) = report.decisions
    assert decision.outcome.value == "rejected"
    assert "give the service's ARN" in decision.reason
    assert estate.mutations() in ({}, {"sns:Publish": 1})


FOREIGN_ACCOUNT = "210987654321"


def _foreign_events(estate: Estate) -> dict[str, tuple[Any, dict[str, Any]]]:
    """One event per function, each naming a managed resource, as the managed account's."""
    estate.push(REPO, "v1.0.0")
    svc = estate.service("web", REPO, tag="v1.0.0", tags={"autopilot:scan": "off"})
    new = estate.push(REPO, "v1.1.0")
    deployment = estate.start_deployment(svc)
    estate.alarm("web-cpu-high", {"autopilot:target": svc, "autopilot:step": "+1"})
    return {
        "image-events": (image_events, estate.push_event(REPO, new, "v1.1.0")),
        "deployment-events": (
            deployment_events,
            estate.deployment_event(svc, "FAILED", deployment),
        ),
        "task-events": (task_events, estate.task_event("web")),
        "capacity-events": (
            capacity_events,
            estate.alarm_event(
                "web-cpu-high", tags={"autopilot:target": svc, "autopilot:step": "+1"}
            ),
        ),
    }


@pytest.mark.parametrize(
    "function", ["image-events", "deployment-events", "task-events", "capacity-events"]
)
def test_an_event_of_another_account_is_recorded_and_never_acted_on(
    estate: Estate, function: str
) -> None:
    # Given an event that names a managed resource but comes from another account (the
    # rules match the managed account only: it came by a direct invoke)
    handler, event = _foreign_events(estate)[function]
    event["account"] = FOREIGN_ACCOUNT
    estate.reset_counts()

    # When the function handles it
    report = handler.run(event, aws=estate.clients)

    # Then one ignored decision names both accounts, and no AWS call is made for it
    (decision,) = report.decisions
    assert decision.outcome.value == "ignored"
    assert decision.reason == (
        f"an event of account {FOREIGN_ACCOUNT}: the control plane manages account 123456789012"
    )
    assert estate.aws_calls() == {}
