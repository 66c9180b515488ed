"""Zone balance and capacity through the real rules, beyond the demo's scenes: the
simulator's EC2 capacity, placement failures on CPU, Spot warnings and alarm tags read
from moto. Runs after the scenes, on the state they left (one sandbox per session)."""

from __future__ import annotations

import time
from typing import Any

from sandbox.core import Sandbox
from sandbox.simulator import make_event


def _done(routes: list[Any], function: str) -> list[dict[str, Any]]:
    return [
        a
        for r in routes
        if r.report and r.function == function
        for a in r.report.get("actions") or []
        if a.get("done")
    ]


def _asg(sandbox: Sandbox) -> dict[str, Any]:
    assert sandbox.clients is not None
    assert sandbox.simulator is not None
    name = next(iter(sandbox.simulator.asg_clusters))
    groups = sandbox.clients("autoscaling").describe_auto_scaling_groups(
        AutoScalingGroupNames=[name]
    )["AutoScalingGroups"]
    return dict(groups[0])


def test_the_scaling_alarms_carry_their_tags_in_moto(sandbox: Sandbox, demo_results: Any) -> None:
    # Given the deployed scaling alarms (the events carry no alarmTags: the handler reads them)
    assert sandbox.clients is not None
    cw = sandbox.clients("cloudwatch")
    alarms = cw.describe_alarms(AlarmNamePrefix="autopilot-")["MetricAlarms"]
    assert len(alarms) == 4 + 3 * 4  # cluster reservation pairs + web, api, worker pairs
    for alarm in alarms:
        tags = {t["Key"] for t in cw.list_tags_for_resource(ResourceARN=alarm["AlarmArn"])["Tags"]}
        assert tags == {"autopilot:target", "autopilot:step", "autopilot:cooldown"}


def test_instances_follow_the_auto_scaling_group(sandbox: Sandbox, demo_results: Any) -> None:
    # Each in-service instance of the cluster's group is a container instance in its zone
    assert sandbox.simulator is not None
    assert sandbox.clients is not None
    group = _asg(sandbox)
    in_service = {i["InstanceId"]: i["AvailabilityZone"] for i in group["Instances"]}
    assert {i: s.az for i, s in sandbox.simulator.instances.items()} == in_service
    ecs = sandbox.clients("ecs")
    arns = ecs.list_container_instances(cluster="demo-cluster")["containerInstanceArns"]
    described = ecs.describe_container_instances(cluster="demo-cluster", containerInstances=arns)
    zones = {
        ci["ec2InstanceId"]: next(
            a["value"] for a in ci["attributes"] if a["name"] == "ecs.availability-zone"
        )
        for ci in described["containerInstances"]
    }
    assert zones == in_service
    # remaining resources are what the instance's tasks leave
    sim = sandbox.simulator
    for ci in described["containerInstances"]:
        remaining = {r["name"]: r["integerValue"] for r in ci["remainingResources"]}
        inst = sim.instances[ci["ec2InstanceId"]]
        used = sum(
            svc.cpu
            for svc in sim.services.values()
            for t in svc.running()
            if t.instance_id == inst.instance_id
        )
        assert remaining["CPU"] == inst.cpu - used


def _headroom(sandbox: Sandbox) -> None:
    """Given room to grow: the group below its max (earlier tests may have raised it)."""
    assert sandbox.clients is not None
    group = _asg(sandbox)
    if group["DesiredCapacity"] + 1 > group["MaxSize"]:
        sandbox.clients("autoscaling").update_auto_scaling_group(
            AutoScalingGroupName=group["AutoScalingGroupName"],
            MaxSize=group["DesiredCapacity"] + 2,
        )


def test_a_cpu_placement_failure_raises_the_auto_scaling_group(
    sandbox: Sandbox, demo_results: Any
) -> None:
    assert sandbox.simulator is not None
    assert sandbox.clients is not None
    sim, ecs = sandbox.simulator, sandbox.clients("ecs")
    _headroom(sandbox)
    before = _asg(sandbox)
    # worker: ECS's own AZ rebalancing spreads it (batch would be moved task by task)
    worker_svc = sim.service("worker")
    used = dict.fromkeys(sim.instances, 0)
    for svc in sim.services.values():
        for t in svc.running():
            if t.instance_id in used:
                used[t.instance_id] += svc.cpu
    room = sum((sim.instances[i].cpu - u) // worker_svc.cpu for i, u in used.items())
    running = len(worker_svc.running())
    time.sleep(1.1)  # the demo config's capacity cooldown
    # When worker asks for one task more than the instances can hold (within its scaling
    # bounds, 3-12, which the simulator's Application Auto Scaling keeps)
    assert running + room + 1 <= 12, f"{room} tasks of room: the test needs fewer instances"
    ecs.update_service(cluster="demo-cluster", service="worker", desiredCount=running + room + 1)
    routes = sim.settle()
    # Then ECS reports RESOURCE:CPU and capacity-events raises the group's floor (managed
    # scaling owns its desired capacity); the new instance takes the last task
    reports = [
        r.report
        for r in routes
        if r.function == "capacity-events" and r.detail_type == "ECS Service Action"
    ]
    assert reports, "no placement failure reached capacity-events"
    raised = [
        a
        for a in _done(routes, "capacity-events")
        if a["api"] == "autoscaling:UpdateAutoScalingGroup"
    ]
    assert raised, reports
    # capacity-events raises the group's floor above what it had, within its maximum (zone
    # balance may have raised it meanwhile for an emptied zone, so the step starts from there)
    after = _asg(sandbox)
    assert before["DesiredCapacity"] < raised[0]["params"]["MinSize"] <= after["MaxSize"], raised
    assert after["DesiredCapacity"] >= before["DesiredCapacity"] + 1
    assert len(worker_svc.running()) == running + room + 1
    # put worker back (the tasks above its count stop)
    ecs.update_service(cluster="demo-cluster", service="worker", desiredCount=running)
    sim.settle()
    assert len(worker_svc.running()) == running


def test_a_spot_warning_for_a_cluster_instance_raises_capacity(
    sandbox: Sandbox, demo_results: Any
) -> None:
    assert sandbox.simulator is not None
    sim = sandbox.simulator
    _headroom(sandbox)
    instance = sorted(sim.instances)[0]
    time.sleep(1.1)  # the demo config's capacity cooldown
    event = make_event(
        "aws.ec2",
        "EC2 Spot Instance Interruption Warning",
        {"instance-id": instance, "instance-action": "terminate"},
        [f"arn:aws:ec2:eu-west-1a:instance/{instance}"],
    )
    routes = sim.emit(event)
    acted = [a["api"] for a in _done(routes, "capacity-events")]
    assert any(a.startswith("autoscaling:") for a in acted), [r.report for r in routes]


def test_propagated_alarm_tags_ride_on_the_event(sandbox: Sandbox, demo_results: Any) -> None:
    # Given CloudWatch's alarm tag propagation on (off by default, as in AWS)
    assert sandbox.simulator is not None
    sim = sandbox.simulator
    name = "autopilot-cluster-memory-reservation-low"
    sim.propagate_alarm_tags = True
    try:
        routes = sim.alarm(name, "ALARM")
    finally:
        sim.propagate_alarm_tags = False
        sim.alarm(name, "OK")
    # Then the event carries the alarm's tags, and capacity-events decides on the alarm's own
    # (read from CloudWatch: the same tags)
    event = next(
        e
        for e in reversed(sim.emitted)
        if e["detail-type"] == "CloudWatch Alarm State Change"
        and e["detail"]["alarmName"] == name
        and e["detail"]["state"]["value"] == "ALARM"
    )
    assert event["detail"]["alarmTags"] == {
        "autopilot:target": "capacity-provider:demo-cluster-ec2",
        "autopilot:step": "-1",
        "autopilot:cooldown": "300",
    }
    ran = [r for r in routes if r.matched]
    assert [r.function for r in ran] == ["capacity-events"]
    assert all(r.ok for r in ran)
    assert ran[0].report["decisions"]
