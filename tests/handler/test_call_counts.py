"""AWS calls for push -> deploy of one service, counted with botocore's event hooks.

Besides the ledger (DynamoDB) and the notice (SNS): 7 with the scan gate on (its verdict
read from ECR at decision time: DescribeImageScanFindings), 6 with it off, and the same
number whether the cluster holds 1 or 50 services that do not track the repository; an
image index adds BatchGetImage (8). And alarm -> scale of one service: the alarm's state
and tags (CloudWatch), then the service and its scalable target, then the change: 5; an
alarm not in the state its event says: 1.

A failed deployment's rollback (deployment-events): the service, the failed revision, the
UpdateService: 3 (ECS has ended the deployment, so ListServiceDeployments is not read). A
rollback while ECS still rolls the revision out (``autopilot rollback``): the service, the
two revisions' digests, ListServiceDeployments, then StopServiceDeployment ROLLBACK in
place of the UpdateService: 5 (one more than an UpdateService rollback).

The reconciler's sweep, at 3 and 30 services: a fixed number of calls per service
(``flows/reconcile.py`` states the formula), plus the image flow's for what it deploys.
"""

from __future__ import annotations

import pytest
from autopilot.flows.reconcile import DEPLOY_CHUNK
from autopilot.handlers import capacity_events, deployment_events, image_events, reconciler

from cli import controls as operator
from tests.estate import CLUSTER_ARN, TABLE, Estate

REPO = "demo/web"
GATE_OFF = {
    "resource-groups-tagging-api:GetResources": 1,
    "ecs:DescribeServices": 1,
    "ecs:DescribeTaskDefinition": 1,
    "ecr:DescribeImages": 1,
    "ecs:RegisterTaskDefinition": 1,
    "ecs:UpdateService": 1,
}
EXPECTED = {**GATE_OFF, "ecr:DescribeImageScanFindings": 1}


@pytest.mark.parametrize("untracked", [1, 50])
def test_push_to_deploy_with_the_gate_off_costs_six_calls_whatever_the_untracked_services(
    world: Estate, untracked: int
) -> None:
    world.push("demo/other", "v1.0.0")
    for i in range(untracked):
        world.service(f"untracked-{i}", "demo/other", tag="v1.0.0", track=i % 2 == 0)
    world.push(REPO, "v1.2.0")
    svc = world.service("web", REPO, tag="v1.2.0", tags={"autopilot:scan": "off"})
    digest = world.push(REPO, "v1.3.0")
    world.calls.clear()

    report = image_events.run(world.push_event(REPO, digest, "v1.3.0"), aws=world.clients)

    assert report.outcomes() == {svc: "deployed"}
    calls = world.aws_calls()
    assert calls == GATE_OFF
    assert sum(calls.values()) <= 6


def test_push_to_deploy_through_the_scan_gate_costs_seven_calls(world: Estate) -> None:
    world.push(REPO, "v1.2.0")
    svc = world.service("web", REPO, tag="v1.2.0")
    digest = world.push(REPO, "v1.3.0")
    world.hold_scan(REPO, digest, {"LOW": 1})
    world.calls.clear()

    report = image_events.run(world.push_event(REPO, digest, "v1.3.0"), aws=world.clients)

    assert report.outcomes() == {svc: "deployed"}
    calls = world.aws_calls()
    assert calls == EXPECTED
    assert sum(calls.values()) <= 7


def _deployed(world: Estate, svc: str, tag: str) -> str:
    """Push ``tag`` and deploy it (image-events); the deployment's id, in progress."""
    digest = world.push(REPO, tag)
    report = image_events.run(world.push_event(REPO, digest, tag), aws=world.clients)
    assert report.outcomes() == {svc: "deployed"}
    return world.start_deployment(svc)


def test_a_failed_deployment_rolls_back_in_three_calls(world: Estate) -> None:
    world.push(REPO, "v1.2.0")
    svc = world.service("web", REPO, tag="v1.2.0", tags={"autopilot:scan": "off"})
    good = _deployed(world, svc, "v1.3.0")
    world.finish_deployment(svc)
    deployment_events.run(world.deployment_event(svc, "COMPLETED", good), aws=world.clients)
    failing = _deployed(world, svc, "v1.4.0")
    world.calls.clear()

    event = world.deployment_event(svc, "FAILED", failing, "tasks failed to start")
    report = deployment_events.run(event, aws=world.clients)

    assert report.outcomes() == {svc: "rolled-back"}
    assert world.aws_calls() == {
        "ecs:DescribeServices": 1,
        "ecs:DescribeTaskDefinition": 1,
        "ecs:UpdateService": 1,
    }


def test_a_rollback_while_ecs_rolls_the_revision_out_stops_it_instead(world: Estate) -> None:
    world.push(REPO, "v1.2.0")
    svc = world.service("web", REPO, tag="v1.2.0", tags={"autopilot:scan": "off"})
    good = _deployed(world, svc, "v1.3.0")
    world.finish_deployment(svc)
    deployment_events.run(world.deployment_event(svc, "COMPLETED", good), aws=world.clients)
    _deployed(world, svc, "v1.4.0")
    world.calls.clear()

    target = operator.Target(table=TABLE, cluster_arn=CLUSTER_ARN, topic_arn=world.topic_arn)
    result = operator.rollback(world.clients, target, "web", actor="dana")

    assert result.ok, result.message
    # the service, the digests of the running and the target revision, then ECS's rollback
    assert world.aws_calls() == {
        "ecs:DescribeServices": 1,
        "ecs:DescribeTaskDefinition": 2,
        "ecs:ListServiceDeployments": 1,
        "ecs:StopServiceDeployment": 1,
    }


def test_push_of_an_image_index_to_deploy_adds_one_batch_get_image(world: Estate) -> None:
    world.push(REPO, "v1.2.0")
    svc = world.service("web", REPO, tag="v1.2.0")
    index, children = world.push_index(
        REPO, "v1.3.0", ("linux/amd64", "linux/arm64"), attestation=True
    )
    world.hold_scan(REPO, children["linux/arm64"], {"LOW": 1})  # the estate runs ARM64
    world.calls.clear()

    report = image_events.run(world.push_event(REPO, index, "v1.3.0"), aws=world.clients)

    assert report.outcomes() == {svc: "deployed"}
    assert world.aws_calls() == {**EXPECTED, "ecr:BatchGetImage": 1}


def test_scan_gated_push_then_scan_stays_within_budget(world: Estate) -> None:
    world.push(REPO, "v1.2.0")
    world.service("web", REPO, tag="v1.2.0")
    digest = world.push(REPO, "v1.3.0")

    image_events.run(world.push_event(REPO, digest, "v1.3.0"), aws=world.clients)
    awaiting = world.aws_calls()
    world.calls.clear()
    image_events.run(world.scan_event(REPO, digest, {}, tags=["v1.3.0"]), aws=world.clients)

    # the push reads up to the scan gate (ECR has no scan yet); the scan deploys in 7
    assert awaiting == {
        "resource-groups-tagging-api:GetResources": 1,
        "ecs:DescribeServices": 1,
        "ecs:DescribeTaskDefinition": 1,
        "ecr:DescribeImages": 1,
        "ecr:DescribeImageScanFindings": 1,
    }
    assert world.aws_calls() == EXPECTED


def test_many_tracking_services_share_the_describe_calls(world: Estate) -> None:
    world.push(REPO, "v1.2.0")
    services = [
        world.service(f"web-{i}", REPO, tag="v1.2.0", tags={"autopilot:scan": "off"})
        for i in range(12)
    ]
    digest = world.push(REPO, "v1.3.0")
    world.calls.clear()

    report = image_events.run(world.push_event(REPO, digest, "v1.3.0"), aws=world.clients)

    assert set(report.outcomes().values()) == {"deployed"}
    assert len(report.outcomes()) == len(services)
    calls = world.aws_calls()
    assert calls["ecs:DescribeServices"] == 2  # batches of 10
    assert calls["ecr:DescribeImages"] == 1
    assert calls["resource-groups-tagging-api:GetResources"] == 1


ALARM_STEP_UP = {"autopilot:target": "service:web", "autopilot:step": "+2"}


def test_alarm_to_scale_costs_five_calls_and_a_forged_alarm_one(world: Estate) -> None:
    world.service("web", desired=3)
    world.scalable_target("web", 2, 10)
    world.alarm("autopilot-web-cpu-high", ALARM_STEP_UP)

    forged = world.alarm_event("autopilot-web-cpu-high", "ALARM", now="OK")
    assert set(capacity_events.run(forged, aws=world.clients).outcomes().values()) == {"ignored"}
    assert world.aws_calls() == {"cloudwatch:DescribeAlarms": 1}
    world.calls.clear()

    real = world.alarm_event("autopilot-web-cpu-high", "ALARM")
    report = capacity_events.run(real, aws=world.clients)

    assert set(report.outcomes().values()) == {"scaled"}
    assert world.aws_calls() == {
        "cloudwatch:DescribeAlarms": 1,
        "cloudwatch:ListTagsForResource": 1,
        "ecs:DescribeServices": 1,
        "application-auto-scaling:DescribeScalableTargets": 1,
        "application-auto-scaling:RegisterScalableTarget": 1,
    }


# -- the reconciler's sweep (flows/reconcile.py's docstring states the formula) ----------------
def _sweep_estate(world: Estate, services: int) -> list[str]:
    """``services`` services of REPO, each on its own revision of v1.2.0 (by digest)."""
    digest = world.push(REPO, "v1.2.0")
    world.hold_scan(REPO, digest, {})
    return [world.service(f"web-{i}", REPO, digest=digest) for i in range(services)]


def _tick(world: Estate) -> dict[str, object]:
    rule = "arn:aws:events:us-east-1:123456789012:rule/autopilot-reconcile"
    return world.envelope("Scheduled Event", "aws.events", {}, resources=[rule])


@pytest.mark.parametrize("services", [3, 30])
def test_a_sweep_with_nothing_to_do_costs_a_fixed_number_of_calls_per_service(
    world: Estate, services: int
) -> None:
    _sweep_estate(world, services)
    world.calls.clear()

    report = reconciler.run(_tick(world), aws=world.clients)

    assert report.decisions == []
    # ceil(S/100) GetResources + ceil(S/10) DescribeServices + 1 DescribeImages (one
    # repository, one page) + one DescribeTaskDefinition per distinct revision (S here)
    assert world.aws_calls() == {
        "resource-groups-tagging-api:GetResources": 1,
        "ecs:DescribeServices": -(-services // 10),
        "ecr:DescribeImages": 1,
        "ecs:DescribeTaskDefinition": services,
    }


@pytest.mark.parametrize("services", [3, 30])
def test_a_sweep_that_deploys_a_lost_push_adds_the_image_flows_calls(
    world: Estate, services: int
) -> None:
    arns = _sweep_estate(world, services)
    digest = world.push(REPO, "v1.3.0")
    world.hold_scan(REPO, digest, {})
    world.calls.clear()

    report = reconciler.run(_tick(world), aws=world.clients)

    assert report.outcomes() == dict.fromkeys(arns, "deployed")
    # the sweep's reads, then one image-flow deploy per chunk of DEPLOY_CHUNK services of
    # the one pick: its task definition reads, one DescribeImages, one scan read, and a
    # register and an update per service
    chunks = -(-services // DEPLOY_CHUNK)
    assert world.aws_calls() == {
        "resource-groups-tagging-api:GetResources": 1,
        "ecs:DescribeServices": -(-services // 10),
        "ecr:DescribeImages": 1 + chunks,
        "ecs:DescribeTaskDefinition": 2 * services,
        "ecr:DescribeImageScanFindings": chunks,
        "ecs:RegisterTaskDefinition": services,
        "ecs:UpdateService": services,
    }
