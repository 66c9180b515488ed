"""capacity-events against moto: alarm steps, placement failures, Spot warnings and the Fargate
Spot fallback through the handler, and the edges."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from autopilot.errors import Incomplete, InvalidEvent, UnsupportedEvent
from autopilot.handlers import capacity_events
from moto.cloudwatch.models import cloudwatch_backends

from tests.estate import ACCOUNT, REGION, Estate, LambdaContext

EVENTS = Path(__file__).parents[2] / "events"
STEP_UP = {"autopilot:target": "service:web", "autopilot:step": "+2", "autopilot:cooldown": "300"}


def run(rx: Estate, event: dict[str, Any], **kw: Any) -> dict[str, Any]:
    return capacity_events.run(event, aws=rx.clients, **kw).to_json()


def decision(report: dict[str, Any]) -> dict[str, Any]:
    (only,) = report["decisions"]
    return dict(only)


# ---------------------------------------------------------------------------
# Owners: Application Auto Scaling owns a scalable target's desired count
# ---------------------------------------------------------------------------
def test_a_service_with_a_scalable_target_is_scaled_through_its_minimum_never_desired_count(
    rx: Estate, world: Estate, clock: Any
) -> None:
    # Given a service (desired 3) whose desired count Application Auto Scaling owns (2-10)
    svc = rx.service("web", desired=3)
    rx.scalable_target("web", 2, 10)

    # When its CPU alarm goes to ALARM (step +2)
    report = run(rx, rx.alarm_event("web-cpu-high", tags=STEP_UP))

    # Then the target's floor moves to 3 + 2 and the service's desiredCount is not touched
    d = decision(report)
    assert d["outcome"] == "scaled"
    assert d["service"] == svc
    assert "RegisterScalableTarget MinCapacity 2 -> 5" in d["reason"]
    (action, _notice) = report["actions"]
    assert action["api"] == "application-autoscaling:RegisterScalableTarget"
    assert action["params"]["MinCapacity"] == 5
    assert "MaxCapacity" not in action["params"]
    assert rx.target_bounds("web") == (5, 10)
    assert "ecs:UpdateService" not in world.calls
    assert rx.describe("web")["desiredCount"] == 3
    assert world.ledger.table.get(f"TGT#service:{svc}", "CAP#ORIGINAL_MIN")["value"] == 2

    # When it clears after the cooldown: the recorded floor comes back, still not desiredCount
    clock.advance(301)
    restored = decision(run(rx, rx.alarm_event("web-cpu-high", "OK", tags=STEP_UP)))
    assert restored["outcome"] == "restored"
    assert rx.target_bounds("web") == (2, 10)
    assert world.calls["application-auto-scaling:RegisterScalableTarget"] == 2
    assert "ecs:UpdateService" not in world.calls
    assert world.ledger.table.get(f"TGT#service:{svc}", "CAP#ORIGINAL_MIN") is None


def test_alarm_ok_alarm_inside_the_cooldown_makes_one_change(
    rx: Estate, world: Estate, clock: Any
) -> None:
    rx.service("web", desired=3)
    rx.scalable_target("web", 2, 10)

    outcomes = []
    for state in ("ALARM", "OK", "ALARM"):
        outcomes.append(decision(run(rx, rx.alarm_event("web-cpu-high", state, tags=STEP_UP))))
        clock.advance(60)

    assert [d["outcome"] for d in outcomes] == ["scaled", "deferred", "deferred"]
    assert "cooldown" in outcomes[1]["reason"]
    assert world.calls["application-auto-scaling:RegisterScalableTarget"] == 1
    assert rx.target_bounds("web") == (5, 10)
    # the deferred restore happens on the next OK after the cooldown
    clock.advance(300)
    assert decision(run(rx, rx.alarm_event("web-cpu-high", "OK", tags=STEP_UP)))["outcome"] == (
        "restored"
    )
    assert rx.target_bounds("web") == (2, 10)


def test_a_service_without_a_scalable_target_moves_desired_count_within_its_scaling_tag(
    rx: Estate, world: Estate
) -> None:
    svc = rx.service("web", desired=3, tags={"autopilot:scaling": "1-4"})
    d = decision(run(rx, rx.alarm_event("web-cpu-high", tags=STEP_UP)))
    assert d["outcome"] == "scaled"
    assert "desiredCount 3 -> 4" in d["reason"]  # clamped to the tag's max
    assert rx.describe(svc)["desiredCount"] == 4
    # OK changes nothing on a desired count it does not own a floor of
    ok = decision(run(rx, rx.alarm_event("web-cpu-high", "OK", tags=STEP_UP)))
    assert ok["outcome"] in {"unchanged", "deferred"}
    assert world.calls["ecs:UpdateService"] == 1


def test_a_service_with_no_bounds_is_not_scaled(rx: Estate, world: Estate) -> None:
    rx.service("web", desired=3)
    d = decision(run(rx, rx.alarm_event("web-cpu-high", tags=STEP_UP)))
    assert d["outcome"] == "unchanged"
    assert "no bounds" in d["reason"]
    assert rx.mutations() == {}


def test_an_alarm_watched_by_the_deployment_in_progress_is_left_alone(rx: Estate) -> None:
    rx.service("web", desired=3, alarms=["web-cpu-high"], tags={"autopilot:scaling": "1-9"})
    rx.start_deployment("web")
    d = decision(run(rx, rx.alarm_event("web-cpu-high", tags=STEP_UP)))
    assert d["outcome"] == "unchanged"
    assert "deployment in progress watches this alarm" in d["reason"]
    assert rx.mutations() == {}


# ---------------------------------------------------------------------------
# Alarms with no or malformed tags change nothing, and say why
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("where", ["event", "alarm"])
@pytest.mark.parametrize(
    ("tags", "outcome", "reason"),
    [
        ({}, "ignored", "no autopilot:target tag"),
        ({"team": "platform"}, "ignored", "no autopilot:target tag"),
        ({"autopilot:target": "service:web"}, "rejected", "no autopilot:step tag"),
        ({"autopilot:target": "service:web", "autopilot:step": "+x"}, "rejected", "+N, -N"),
        ({"autopilot:target": "lambda:fn", "autopilot:step": "+1"}, "rejected", "expected"),
        (
            {"autopilot:target": "web", "autopilot:step": "+1", "autopilot:cooldown": "soon"},
            "rejected",
            "whole seconds",
        ),
    ],
    ids=["none", "foreign", "no-step", "bad-step", "bad-target", "bad-cooldown"],
)
def test_no_or_malformed_tags_change_nothing_and_are_recorded(  # noqa: PLR0917 - parametrized
    rx: Estate,
    world: Estate,
    where: str,
    tags: dict[str, str],
    outcome: str,
    reason: str,
) -> None:
    rx.service("web", desired=3, tags={"autopilot:scaling": "1-9"})
    arn = rx.alarm("web-cpu-high", tags if where == "alarm" else {})
    event = rx.alarm_event("web-cpu-high", tags=tags if where == "event" else None)

    report = run(rx, event)

    d = decision(report)
    assert d["outcome"] == outcome
    assert reason in d["reason"]
    assert d["service"] == arn
    assert {k: v for k, v in rx.mutations().items() if k != "sns:Publish"} == {}
    assert rx.describe("web")["desiredCount"] == 3
    # the alarm's tags are read from CloudWatch whether or not the event carries them
    assert world.calls["cloudwatch:ListTagsForResource"] == 1
    (recorded,) = world.ledger.decisions.list(arn)
    assert recorded["reason"] == d["reason"]
    notices = [n["attributes"]["outcome"] for n in world.notices()]
    assert notices == (["rejected"] if outcome == "rejected" else [])


# ---------------------------------------------------------------------------
# The alarm's tags are CloudWatch's, never the event's (anyone who may invoke can send any)
# ---------------------------------------------------------------------------
def test_forged_tags_on_an_alarm_that_drives_nothing_scale_nothing(
    rx: Estate, world: Estate
) -> None:
    # Given an alarm with no autopilot tags and a service that could be scaled
    rx.service("web", desired=3, tags={"autopilot:scaling": "1-9"})
    arn = rx.alarm("web-cpu-high", {"team": "platform"})

    # When an event of that alarm carries tags asking to scale the service up by 2
    report = run(rx, rx.alarm_event("web-cpu-high", tags=STEP_UP, real=False))

    # Then the alarm's real tags are read: it drives nothing, and nothing changes
    d = decision(report)
    assert d["outcome"] == "ignored"
    assert "no autopilot:target tag" in d["reason"]
    assert d["service"] == arn
    assert rx.mutations() == {}
    assert rx.describe("web")["desiredCount"] == 3
    assert world.calls["cloudwatch:ListTagsForResource"] == 1


def test_forged_tags_steer_neither_the_target_nor_the_step(rx: Estate, world: Estate) -> None:
    # Given an alarm that drives web by +1, and a second service it does not drive
    web = rx.service("web", desired=3, tags={"autopilot:scaling": "1-9"})
    rx.service("api", desired=3, tags={"autopilot:scaling": "1-9"})
    rx.alarm("web-cpu-high", {"autopilot:target": "service:web", "autopilot:step": "+1"})

    # When its event says it drives api by +5
    forged = {"autopilot:target": "service:api", "autopilot:step": "+5"}
    d = decision(run(rx, rx.alarm_event("web-cpu-high", tags=forged, real=False)))

    # Then web is scaled by its alarm's own +1, and api is untouched
    assert d["outcome"] == "scaled"
    assert d["service"] == web
    assert "desiredCount 3 -> 4" in d["reason"]

    # and a next event saying web by +5 is inside the real tags' cooldown: no +5 either
    forged = {"autopilot:target": "service:web", "autopilot:step": "+5", "autopilot:cooldown": "0"}
    again = decision(run(rx, rx.alarm_event("web-cpu-high", tags=forged, real=False)))
    assert again["outcome"] != "scaled"
    assert rx.describe("web")["desiredCount"] == 4
    assert rx.describe("api")["desiredCount"] == 3
    assert world.calls["ecs:UpdateService"] == 1


def test_an_alarm_carrying_its_tags_costs_a_state_and_a_tag_read_and_the_scaling_calls(
    rx: Estate,
) -> None:
    # Given an alarm whose event carries its tags (propagation on)
    rx.service("web", desired=3)
    rx.scalable_target("web", 2, 10)
    event = rx.alarm_event("web-cpu-high", tags=STEP_UP)
    rx.reset_counts()

    assert decision(run(rx, event))["outcome"] == "scaled"

    # Then the state and the tags are read all the same: one DescribeAlarms and one
    # ListTagsForResource more than trusting the event
    assert rx.aws_calls() == {
        "cloudwatch:DescribeAlarms": 1,
        "cloudwatch:ListTagsForResource": 1,
        "ecs:DescribeServices": 1,
        "application-auto-scaling:DescribeScalableTargets": 1,
        "application-auto-scaling:RegisterScalableTarget": 1,
    }


# ---------------------------------------------------------------------------
# The alarm's state is CloudWatch's now, never the event's (the event is only the cue)
# ---------------------------------------------------------------------------
def test_a_forged_alarm_for_an_alarm_that_is_ok_scales_nothing(
    rx: Estate, world: Estate, clock: Any
) -> None:
    # Given a service and its real scaling alarm (+2), which CloudWatch holds OK
    svc = rx.service("web", desired=3, tags={"autopilot:scaling": "1-9"})
    arn = rx.alarm("web-cpu-high", STEP_UP)

    # When an event says the alarm went to ALARM
    report = run(rx, rx.alarm_event("web-cpu-high", "ALARM", now="OK"))

    # Then CloudWatch's state is read and decides: nothing is scaled, nothing more is read
    d = decision(report)
    assert d["outcome"] == "ignored"
    assert d["reason"] == "the alarm is OK now; the event said ALARM"
    assert d["service"] == arn
    assert rx.aws_calls() == {"cloudwatch:DescribeAlarms": 1}
    assert rx.describe(svc)["desiredCount"] == 3
    (recorded,) = world.ledger.decisions.list(arn)
    assert recorded["reason"] == d["reason"]

    # and when the alarm really goes to ALARM, its event scales the service by its +2
    clock.advance(1)
    real = decision(run(rx, rx.alarm_event("web-cpu-high", "ALARM")))
    assert real["outcome"] == "scaled"
    assert rx.describe(svc)["desiredCount"] == 5
    assert world.calls["ecs:UpdateService"] == 1


def test_a_forged_ok_for_an_alarm_still_in_alarm_restores_nothing(rx: Estate, clock: Any) -> None:
    # Given a service scaled up by its alarm (floor 2 -> 5), which is still in ALARM
    rx.service("web", desired=3)
    rx.scalable_target("web", 2, 10)
    assert decision(run(rx, rx.alarm_event("web-cpu-high", tags=STEP_UP)))["outcome"] == "scaled"
    clock.advance(301)

    # When an event says it is OK again
    d = decision(run(rx, rx.alarm_event("web-cpu-high", "OK", now="ALARM")))

    # Then the floor stays up
    assert d["outcome"] == "ignored"
    assert d["reason"] == "the alarm is ALARM now; the event said OK"
    assert rx.target_bounds("web") == (5, 10)


def test_an_alarm_event_whose_alarm_has_no_data_now_scales_nothing(rx: Estate) -> None:
    rx.service("web", desired=3, tags={"autopilot:scaling": "1-9"})
    rx.alarm("web-cpu-high", STEP_UP)
    d = decision(run(rx, rx.alarm_event("web-cpu-high", now="INSUFFICIENT_DATA")))
    assert d["outcome"] == "ignored"
    assert d["reason"] == "the alarm is INSUFFICIENT_DATA now; the event said ALARM"
    assert rx.mutations() == {}


def test_an_event_of_an_alarm_that_no_longer_exists_is_ignored_after_one_read(
    rx: Estate, world: Estate
) -> None:
    rx.service("web", desired=3, tags={"autopilot:scaling": "1-9"})
    event = rx.alarm_event("gone-cpu-high", tags=STEP_UP, real=False)

    d = decision(run(rx, event))

    assert d["outcome"] == "ignored"
    assert d["reason"] == "the alarm no longer exists: it drives nothing"
    assert d["service"] == event["resources"][0]
    assert rx.aws_calls() == {"cloudwatch:DescribeAlarms": 1}
    assert rx.mutations() == {}
    assert world.ledger.decisions.list(d["service"])


def test_a_composite_alarm_in_the_state_its_event_says_scales(rx: Estate) -> None:
    # Given a composite scaling alarm (DescribeAlarms answers it only when asked for
    # composite alarms too) that CloudWatch holds in ALARM
    svc = rx.service("web", desired=3, tags={"autopilot:scaling": "1-9"})
    rx.alarm("web-cpu-high")
    # moto has no PutCompositeAlarm: its backend makes one (an alarm with a rule), which
    # its DescribeAlarms answers among the CompositeAlarms
    cloudwatch_backends[ACCOUNT][REGION].put_metric_alarm(
        "web-composite",
        *("", "", "", 0, 0, 0.0, "", "", [], []),
        rule='ALARM("web-cpu-high")',
        tags=[{"Key": k, "Value": v} for k, v in STEP_UP.items()],
    )
    rx.reset_counts()
    asked: list[dict[str, Any]] = []
    rx.cloudwatch.meta.events.register(
        "provide-client-params.cloudwatch.DescribeAlarms",
        lambda params, **_: asked.append(dict(params)),
    )

    d = decision(run(rx, rx.alarm_event("web-composite", "ALARM")))

    assert d["outcome"] == "scaled"
    # CloudWatch answers composite alarms only to a DescribeAlarms that asks for them
    (only,) = asked
    assert only == {
        "AlarmNames": ["web-composite"],
        "AlarmTypes": ["MetricAlarm", "CompositeAlarm"],
    }
    assert rx.describe(svc)["desiredCount"] == 5


def test_insufficient_data_changes_nothing_and_reads_nothing(rx: Estate) -> None:
    rx.service("web", desired=3, tags={"autopilot:scaling": "1-9"})
    d = decision(run(rx, rx.alarm_event("web-cpu-high", "INSUFFICIENT_DATA", tags=STEP_UP)))
    assert d["outcome"] == "unchanged"
    assert rx.reads() == {}
    assert rx.mutations() == {}


# ---------------------------------------------------------------------------
# ASGs and capacity providers
# ---------------------------------------------------------------------------
def test_plain_asg_alarm_sets_desired_capacity_within_max(rx: Estate) -> None:
    rx.asg("nodes", desired=2, max_size=3, provider="nodes-cp")
    tags = {"autopilot:target": "asg:nodes", "autopilot:step": "+5"}
    report = run(rx, rx.alarm_event("cluster-cpu-high", tags=tags))
    assert decision(report)["outcome"] == "scaled"
    assert report["actions"][0]["api"] == "autoscaling:SetDesiredCapacity"
    assert rx.describe_asg("nodes")["DesiredCapacity"] == 3  # clamped to max


def test_capacity_provider_under_managed_scaling_moves_the_asg_minimum(
    rx: Estate, world: Estate, clock: Any
) -> None:
    rx.asg("nodes", desired=2, min_size=1, max_size=6, provider="nodes-cp", managed=True)
    tags = {"autopilot:target": "capacity-provider:nodes-cp", "autopilot:step": "+1"}
    report = run(rx, rx.alarm_event("cluster-cpu-high", tags=tags))
    assert decision(report)["outcome"] == "scaled"
    assert report["actions"][0]["api"] == "autoscaling:UpdateAutoScalingGroup"
    assert rx.describe_asg("nodes")["MinSize"] == 3
    assert "auto-scaling:SetDesiredCapacity" not in world.calls
    clock.advance(301)
    ok = run(rx, rx.alarm_event("cluster-cpu-high", "OK", tags=tags))
    assert decision(ok)["outcome"] == "restored"
    assert rx.describe_asg("nodes")["MinSize"] == 1


def test_cpu_placement_failure_scales_the_providers_asg_out_by_one(rx: Estate) -> None:
    rx.asg("nodes", desired=2, max_size=4, provider="nodes-cp")
    rx.service(
        "api",
        launch_type="EC2",
        desired=4,
        strategy=[{"capacityProvider": "nodes-cp", "weight": 1, "base": 0}],
    )
    report = run(rx, rx.service_action("api", "SERVICE_TASK_PLACEMENT_FAILURE", "RESOURCE:CPU"))
    d = decision(report)
    assert d["outcome"] == "scaled"
    assert "autoscaling:SetDesiredCapacity 2 -> 3" in d["reason"]
    assert rx.describe_asg("nodes")["DesiredCapacity"] == 3
    # a second failure inside the cooldown waits
    again = run(rx, rx.service_action("api", "SERVICE_TASK_PLACEMENT_FAILURE", "RESOURCE:CPU"))
    assert decision(again)["outcome"] == "deferred"
    assert rx.describe_asg("nodes")["DesiredCapacity"] == 3


def test_an_unhandled_placement_failure_reason_reads_and_changes_nothing(rx: Estate) -> None:
    rx.service("api", desired=2)
    event = rx.service_action("api", "SERVICE_TASK_PLACEMENT_FAILURE", "ATTRIBUTE")
    d = decision(run(rx, event))
    assert d["outcome"] == "unchanged"
    assert "not handled" in d["reason"]
    assert rx.reads() == {}
    assert rx.mutations() == {}


def test_spot_interruption_warning_adds_one_instance(rx: Estate, world: Estate) -> None:
    rx.asg("spot-nodes", desired=2, max_size=4, provider="spot-cp")
    instance = rx.describe_asg("spot-nodes")["Instances"][0]["InstanceId"]
    world.calls.clear()

    report = run(rx, rx.spot_warning(instance))

    d = decision(report)
    assert d["outcome"] == "scaled"
    assert d["service"] == "asg:spot-nodes"
    assert rx.describe_asg("spot-nodes")["DesiredCapacity"] == 3
    assert rx.mutations() == {"auto-scaling:SetDesiredCapacity": 1, "sns:Publish": 1}


def test_spot_warning_for_an_instance_outside_the_cluster_changes_nothing(rx: Estate) -> None:
    rx.asg("elsewhere", desired=1)  # not behind a capacity provider of the cluster
    instance = rx.describe_asg("elsewhere")["Instances"][0]["InstanceId"]
    d = decision(run(rx, rx.spot_warning(instance)))
    assert d["outcome"] == "ignored"
    assert rx.mutations() == {}


@pytest.mark.parametrize("partition", ["aws", "aws-cn", "aws-us-gov"])
def test_a_spot_warnings_subject_is_in_the_events_partition(rx: Estate, partition: str) -> None:
    rx.asg("elsewhere", desired=1)
    instance = rx.describe_asg("elsewhere")["Instances"][0]["InstanceId"]
    event = rx.spot_warning(instance)
    # the real shape: arn:<partition>:ec2:<az>:instance/<id> (a zone, no account)
    event["resources"] = [f"arn:{partition}:ec2:{event['region']}b:instance/{instance}"]
    d = decision(run(rx, event))
    assert d["service"].startswith(f"arn:{partition}:ec2:{event['region']}:")
    assert d["service"].endswith(f":instance/{instance}")


# ---------------------------------------------------------------------------
# Fargate Spot: fall back to FARGATE, and back after the calm period
# ---------------------------------------------------------------------------
def test_fargate_spot_falls_back_to_fargate_and_returns_after_the_calm_period(
    rx: Estate, world: Estate, clock: Any
) -> None:
    spot = [
        {"capacityProvider": "FARGATE", "weight": 0, "base": 1},
        {"capacityProvider": "FARGATE_SPOT", "weight": 3, "base": 0},
    ]
    svc = rx.service("worker", desired=4, strategy=spot)

    # When Fargate Spot has no capacity
    failure = run(
        rx, rx.service_action("worker", "SERVICE_TASK_PLACEMENT_FAILURE", "RESOURCE:FARGATE")
    )

    # Then the service moves to on-demand FARGATE (ECS accepts a strategy change only with
    # a forced deployment of the same task definition)
    d = decision(failure)
    assert d["outcome"] == "fallback"
    (action, _notice) = failure["actions"]
    assert action["api"] == "ecs:UpdateService"
    assert action["params"]["forceNewDeployment"] is True
    assert rx.describe(svc)["taskDefinition"].endswith("worker:1")
    assert action["params"]["capacityProviderStrategy"] == [
        {"capacityProvider": "FARGATE", "weight": 3, "base": 1}
    ]
    assert rx.describe(svc)["capacityProviderStrategy"] == [
        {"capacityProvider": "FARGATE", "weight": 3, "base": 1}
    ]
    assert world.ledger.table.get(f"SVC#{svc}", "SPOT#SHIFT") is not None
    # a repeated failure changes nothing more
    repeated = run(
        rx, rx.service_action("worker", "SERVICE_TASK_PLACEMENT_FAILURE", "RESOURCE:FARGATE")
    )
    assert decision(repeated)["outcome"] == "unchanged"

    # A steady state inside the calm period keeps it on FARGATE
    clock.advance(600)
    calm = decision(run(rx, rx.service_action("worker", "SERVICE_STEADY_STATE")))
    assert calm["outcome"] == "deferred"
    assert "calm period" in calm["reason"]

    # After the calm period, the next steady state shifts it back
    clock.advance(1800)
    back = run(rx, rx.service_action("worker", "SERVICE_STEADY_STATE"))
    assert decision(back)["outcome"] == "restored"
    assert rx.describe(svc)["capacityProviderStrategy"] == spot
    assert world.ledger.table.get(f"SVC#{svc}", "SPOT#SHIFT") is None
    assert world.calls["ecs:UpdateService"] == 2
    outcomes = [n["attributes"]["outcome"] for n in world.notices()]
    assert outcomes == ["fallback", "restored"]


def test_a_strategy_shift_waits_for_the_services_lease(rx: Estate, world: Estate) -> None:
    spot = [{"capacityProvider": "FARGATE_SPOT", "weight": 1, "base": 0}]
    svc = rx.service("worker", desired=2, strategy=spot)
    world.ledger.leases.acquire(svc, "deployment-events:x", 300)
    event = rx.service_action("worker", "SERVICE_TASK_PLACEMENT_FAILURE", "RESOURCE:FARGATE")
    with pytest.raises(Incomplete):
        capacity_events.handler(event, LambdaContext())
    assert rx.describe(svc)["capacityProviderStrategy"] == spot
    world.ledger.leases.release(svc, "deployment-events:x")
    assert decision(run(rx, event))["outcome"] == "fallback"


def test_steady_state_without_a_fallback_reads_no_aws(rx: Estate) -> None:
    rx.service("worker", desired=2)
    d = decision(run(rx, rx.service_action("worker", "SERVICE_STEADY_STATE")))
    assert d["outcome"] == "unchanged"
    assert rx.reads() == {}


# ---------------------------------------------------------------------------
# Idempotency, dry-run, the Lambda entry
# ---------------------------------------------------------------------------
def test_a_duplicate_event_changes_nothing(rx: Estate, world: Estate) -> None:
    rx.service("web", desired=3)
    rx.scalable_target("web", 2, 10)
    event = rx.alarm_event("web-cpu-high", tags=STEP_UP)
    assert decision(run(rx, event))["outcome"] == "scaled"
    again = run(rx, event)
    assert decision(again)["outcome"] == "duplicate"
    assert world.calls["application-auto-scaling:RegisterScalableTarget"] == 1


def test_dry_run_plans_the_change_without_making_it(rx: Estate, world: Estate) -> None:
    rx.service("web", desired=3)
    rx.scalable_target("web", 2, 10)
    report = run(rx, rx.alarm_event("web-cpu-high", tags=STEP_UP), dry_run=True)
    assert decision(report)["outcome"] == "scaled"
    assert report["actions"][0]["params"]["MinCapacity"] == 5
    assert not any(a["done"] for a in report["actions"])
    assert rx.mutations() == {}
    assert not [k for k in world.calls if k in ("dynamodb:PutItem", "dynamodb:UpdateItem")]
    assert rx.target_bounds("web") == (2, 10)


def test_junk_raises_a_typed_error(rx: Estate) -> None:
    event = rx.alarm_event("web-cpu-high", tags=STEP_UP)
    event["detail"]["state"]["value"] = "MAYBE"
    with pytest.raises(InvalidEvent):
        capacity_events.handler(event, LambdaContext())
    with pytest.raises(UnsupportedEvent):
        capacity_events.handler(dict(event, **{"detail-type": "Something"}), LambdaContext())
    action = rx.service_action("web", "SERVICE_STEADY_STATE")
    action["resources"] = ["arn:aws:ecs:us-east-1:123456789012:cluster/demo-cluster"]
    with pytest.raises(InvalidEvent):
        capacity_events.handler(action, LambdaContext())


def test_handler_returns_the_report_as_json(rx: Estate) -> None:
    rx.service("worker", desired=2)
    result = capacity_events.handler(
        rx.service_action("worker", "SERVICE_STEADY_STATE"), LambdaContext()
    )
    assert result["function"] == "capacity-events"
    assert result["decisions"][0]["outcome"] == "unchanged"


SAMPLES = [
    p
    for pattern in ("cloudwatch-alarm-*.json", "ecs-service-action-*.json", "ec2-spot-*.json")
    for p in sorted(EVENTS.glob(pattern))
]


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: p.stem)
def test_every_sample_capacity_event_runs_through_the_handler_in_dry_run(
    rx: Estate, monkeypatch: pytest.MonkeyPatch, path: Path
) -> None:
    event = json.loads(path.read_text())
    cluster = event["detail"].get("clusterArn")
    if cluster:
        monkeypatch.setenv("CLUSTER_ARNS", cluster)
    report = run(rx, event, dry_run=True)
    assert report["dry_run"] is True
    assert len(report["decisions"]) == 1
    assert rx.mutations() == {}
