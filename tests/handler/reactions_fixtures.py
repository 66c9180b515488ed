"""Fixtures for task-events and capacity-events against moto (on top of ``conftest.World``).

moto's gaps are filled here, in the open, on moto's backend objects (test-only):
- services never start tasks, and ``run_task`` tasks carry no ``availabilityZone``:
  ``Reactions.add_task`` creates the task in moto's ECS backend with its zone and
  ``lastStatus`` RUNNING (moto's task state machine is set to manual so it stays so);
- ``create_service`` drops placement strategy, deployment configuration, capacity
  provider strategy and AZ rebalancing, and deployments never finish: ``service()``
  writes those attributes on moto's service and marks its deployment COMPLETED.
The wall clock of the reaction state (debounce windows, cooldowns) is a ``FakeClock``.
"""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from autopilot.aws.clients import AwsClients
from autopilot.store import table as ledger_table
from moto.ecs.models import Task, ecs_backends
from moto.moto_api import state_manager

from tests.handler.conftest import ACCOUNT, CLUSTER, CLUSTER_ARN, REGION, World

ZONES = ("us-east-1a", "us-east-1b", "us-east-1c")
MUTATING = frozenset(
    {
        "ecs:UpdateService",
        "ecs:StopTask",
        "ecs:RegisterTaskDefinition",
        "auto-scaling:SetDesiredCapacity",
        "auto-scaling:UpdateAutoScalingGroup",
        "application-auto-scaling:RegisterScalableTarget",
        "sns:Publish",
    }
)


class FakeClock:
    def __init__(self) -> None:
        self.now = datetime(2026, 6, 1, 12, 0, tzinfo=UTC).timestamp()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Reactions:
    """An account with a VPC over three zones, the cluster, and helpers for services,
    tasks, EC2 capacity, scalable targets and alarms."""

    def __init__(self, world: World, clock: FakeClock) -> None:
        self.world = world
        self.clock = clock
        self.ec2 = boto3.client("ec2", region_name=REGION)
        self.autoscaling = boto3.client("autoscaling", region_name=REGION)
        self.aas = boto3.client("application-autoscaling", region_name=REGION)
        self.cloudwatch = boto3.client("cloudwatch", region_name=REGION)
        for client in (self.ec2, self.autoscaling, self.aas, self.cloudwatch):
            client.meta.events.register("before-call", world._count)
        vpc = self.ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        self.subnets = {
            zone: self.ec2.create_subnet(
                VpcId=vpc, CidrBlock=f"10.0.{i}.0/24", AvailabilityZone=zone
            )["Subnet"]["SubnetId"]
            for i, zone in enumerate(ZONES)
        }
        self.security_group = self.ec2.create_security_group(
            GroupName="tasks", Description="tasks", VpcId=vpc
        )["GroupId"]
        self.ec2.create_launch_template(
            LaunchTemplateName="ecs-nodes",
            LaunchTemplateData={"ImageId": "ami-12c6146b", "InstanceType": "t3.large"},
        )
        self.versions: dict[str, int] = {}
        world.calls.clear()

    @property
    def backend(self) -> Any:
        return ecs_backends[ACCOUNT][REGION]

    @property
    def clients(self) -> AwsClients:
        w = self.world
        return AwsClients(
            ecs=w.ecs,
            ecr=w.ecr,
            tagging=w.tagging,
            dynamodb=w.dynamodb,
            sns=w.sns,
            ec2=self.ec2,
            autoscaling=self.autoscaling,
            application_autoscaling=self.aas,
            cloudwatch=self.cloudwatch,
        )

    def mutations(self) -> dict[str, int]:
        return {k: v for k, v in self.world.calls.items() if k in MUTATING}

    def reads(self) -> dict[str, int]:
        return {
            k: v
            for k, v in self.world.calls.items()
            if k not in MUTATING and not k.startswith(("dynamodb:", "sns:"))
        }

    # -- services --------------------------------------------------------------------------
    def task_definition(self, family: str, image: str = "public.ecr.aws/nginx/nginx:1") -> str:
        arn: str = self.world.ecs.register_task_definition(
            family=family,
            networkMode="awsvpc",
            requiresCompatibilities=["FARGATE", "EC2"],
            cpu="256",
            memory="512",
            containerDefinitions=[
                {"name": "app", "image": image, "essential": True, "memory": 512, "cpu": 256},
                {
                    "name": "log-router",
                    "image": "public.ecr.aws/aws-observability/aws-for-fluent-bit:stable",
                    "essential": False,
                    "memory": 64,
                },
            ],
        )["taskDefinition"]["taskDefinitionArn"]
        return arn

    def service(
        self,
        name: str,
        *,
        desired: int = 6,
        spread: dict[str, int] | None = None,
        tags: dict[str, str] | None = None,
        launch_type: str = "FARGATE",
        rebalancing: str | None = "DISABLED",
        placement: list[dict[str, str]] | None = None,
        min_healthy: int = 100,
        strategy: list[dict[str, Any]] | None = None,
        task_definition: str | None = None,
        alarms: list[str] | None = None,
    ) -> str:
        td = task_definition or self.task_definition(name)
        arn: str = self.world.ecs.create_service(
            cluster=CLUSTER,
            serviceName=name,
            taskDefinition=td,
            desiredCount=desired,
            launchType=launch_type,
            networkConfiguration={
                "awsvpcConfiguration": {
                    "subnets": list(self.subnets.values()),
                    "securityGroups": [self.security_group],
                }
            },
            tags=[{"key": k, "value": v} for k, v in (tags or {}).items()],
        )["service"]["serviceArn"]
        svc = self.moto_service(name)
        # What create_service drops in moto, written as ECS would keep it.
        svc.availability_zone_rebalancing = rebalancing
        svc.placement_strategy = placement or []
        svc.deployment_configuration = {
            "minimumHealthyPercent": min_healthy,
            "maximumPercent": 200,
            **(
                {"alarms": {"alarmNames": alarms, "enable": True, "rollback": True}}
                if alarms
                else {}
            ),
        }
        if strategy is not None:
            svc.capacity_provider_strategy = strategy
            svc.launch_type = None
        self.settle(name)
        for zone, count in (spread or {}).items():
            for _ in range(count):
                self.add_task(name, zone)
        self.world.calls.clear()
        return arn

    def moto_service(self, name: str) -> Any:
        return self.backend.services[f"{CLUSTER}:{name}"]

    def settle(self, name: str) -> None:
        """The deployment ECS would have finished (moto's stays IN_PROGRESS)."""
        svc = self.moto_service(name)
        svc.deployments = [d for d in svc.deployments if d["status"] == "PRIMARY"]
        for d in svc.deployments:
            d["rolloutState"] = "COMPLETED"

    def start_deployment(self, name: str) -> None:
        for d in self.moto_service(name).deployments:
            d["rolloutState"] = "IN_PROGRESS"

    def add_task(self, service: str, zone: str, task_definition: str | None = None) -> str:
        """A RUNNING task of ``service`` in ``zone``, in moto's backend (moto starts none)."""
        backend = self.backend
        svc = self.moto_service(service)
        td = backend.describe_task_definition(task_definition or svc.task_definition)
        shim = copy.copy(td)
        shim.network_mode = "bridge"  # moto's awsvpc task set-up needs a network it cannot fake
        task = Task(
            backend._get_cluster(CLUSTER),
            shim,
            None,
            None,
            backend,
            group=f"service:{service}",
            launch_type=svc.launch_type or "EC2",
            started_by=svc.deployments[0]["id"] if svc.deployments else "",
        )
        task.availability_zone = zone
        task.last_status = "RUNNING"
        backend.tasks.setdefault(CLUSTER, {})[task.task_arn] = task
        return str(task.task_arn)

    def tasks(self, service: str) -> dict[str, list[str]]:
        """Running task ARNs per zone, from moto's backend."""
        out: dict[str, list[str]] = {}
        for task in self.backend.tasks.get(CLUSTER, {}).values():
            if task.group == f"service:{service}" and task.desired_status == "RUNNING":
                out.setdefault(task.availability_zone, []).append(task.task_arn)
        return out

    def spread(self, service: str) -> dict[str, int]:
        tasks = self.tasks(service)
        return {z: len(tasks.get(z, [])) for z in ZONES}

    def describe(self, service: str) -> dict[str, Any]:
        svc: dict[str, Any] = self.world.ecs.describe_services(
            cluster=CLUSTER, services=[service], include=["TAGS"]
        )["services"][0]
        return svc

    # -- EC2 capacity ------------------------------------------------------------------------
    def container_instance(self, zone: str, *, cpu: int = 4096, memory: int = 7482) -> str:
        instance = self.ec2.run_instances(
            ImageId="ami-12c6146b", MinCount=1, MaxCount=1, Placement={"AvailabilityZone": zone}
        )["Instances"][0]
        doc = json.dumps(
            {"instanceId": instance["InstanceId"], "availabilityZone": zone, "region": REGION}
        )
        arn: str = self.world.ecs.register_container_instance(
            cluster=CLUSTER, instanceIdentityDocument=doc
        )["containerInstance"]["containerInstanceArn"]
        ci = self.backend.container_instances[CLUSTER][arn.rsplit("/", 1)[-1]]
        for resource in ci.remaining_resources:
            if resource["name"] == "CPU":
                resource["integerValue"] = cpu
            if resource["name"] == "MEMORY":
                resource["integerValue"] = memory
        self.world.calls.clear()
        return arn

    def asg(
        self,
        name: str,
        *,
        zones: tuple[str, ...] = ZONES,
        desired: int = 2,
        min_size: int = 1,
        max_size: int = 6,
        provider: str | None = None,
        managed: bool = False,
    ) -> str:
        self.autoscaling.create_auto_scaling_group(
            AutoScalingGroupName=name,
            LaunchTemplate={"LaunchTemplateName": "ecs-nodes"},
            MinSize=min_size,
            MaxSize=max_size,
            DesiredCapacity=desired,
            VPCZoneIdentifier=",".join(self.subnets[z] for z in zones),
        )
        group = self.autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[name])[
            "AutoScalingGroups"
        ][0]
        if provider:
            self.world.ecs.create_capacity_provider(
                name=provider,
                autoScalingGroupProvider={
                    "autoScalingGroupArn": group["AutoScalingGroupARN"],
                    "managedScaling": {"status": "ENABLED" if managed else "DISABLED"},
                },
            )
            current = self.world.ecs.describe_clusters(clusters=[CLUSTER])["clusters"][0]
            providers = [*current.get("capacityProviders", []), provider]
            self.world.ecs.put_cluster_capacity_providers(
                cluster=CLUSTER,
                capacityProviders=providers,
                defaultCapacityProviderStrategy=current.get("defaultCapacityProviderStrategy")
                or [],
            )
        self.world.calls.clear()
        return str(group["AutoScalingGroupARN"])

    def describe_asg(self, name: str) -> dict[str, Any]:
        group: dict[str, Any] = self.autoscaling.describe_auto_scaling_groups(
            AutoScalingGroupNames=[name]
        )["AutoScalingGroups"][0]
        return group

    # -- events --------------------------------------------------------------------------------
    def _envelope(self, detail_type: str, source: str, detail: dict[str, Any], **kw: Any) -> Any:
        return self.world._event(detail_type, source, detail, **kw)

    def task_event(
        self,
        service: str | None,
        *,
        task_arn: str | None = None,
        status: str = "RUNNING",
        zone: str | None = "us-east-1a",
        stop_code: str | None = None,
        reason: str | None = None,
        exit_code: int | None = None,
        task_definition: str | None = None,
        group: str | None = None,
        version: int | None = None,
        digest: str | None = None,
        stopped_at: datetime | None = None,
    ) -> dict[str, Any]:
        task_arn = task_arn or f"arn:aws:ecs:{REGION}:{ACCOUNT}:task/{CLUSTER}/{uuid.uuid4().hex}"
        if version is None:
            version = self.versions[task_arn] = self.versions.get(task_arn, 0) + 1
        if task_definition is None:
            task_definition = (
                self.moto_service(service).task_definition
                if service
                else f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/batch:1"
            )
        container: dict[str, Any] = {
            "name": "app",
            "lastStatus": status,
            "image": "public.ecr.aws/nginx/nginx:1",
        }
        if digest:
            container["imageDigest"] = digest
        sidecar: dict[str, Any] = {"name": "log-router", "lastStatus": status}
        if status == "STOPPED":
            sidecar["exitCode"] = 0
            if exit_code is not None:
                container["exitCode"] = exit_code
        detail: dict[str, Any] = {
            "clusterArn": CLUSTER_ARN,
            "taskArn": task_arn,
            "taskDefinitionArn": task_definition,
            "group": group or (f"service:{service}" if service else "family:batch"),
            "lastStatus": status,
            "desiredStatus": "STOPPED" if status == "STOPPED" else "RUNNING",
            "launchType": "FARGATE",
            "containers": [container, sidecar],
            "version": version,
            "createdAt": "2026-06-01T11:59:00.000Z",
        }
        if zone:
            detail["availabilityZone"] = zone
        if status == "STOPPED":
            at = stopped_at or datetime.fromtimestamp(self.clock.now, UTC)
            detail["stoppedAt"] = at.strftime("%Y-%m-%dT%H:%M:%S.000Z")
            detail["stopCode"] = stop_code or "EssentialContainerExited"
            detail["stoppedReason"] = reason or "Essential container in task exited"
        return self._envelope("ECS Task State Change", "aws.ecs", detail, resources=[task_arn])

    def alarm(self, name: str, tags: dict[str, str] | None = None) -> str:
        """A metric alarm (tags on the alarm itself, read when the event carries none)."""
        self.cloudwatch.put_metric_alarm(
            AlarmName=name,
            MetricName="CPUUtilization",
            Namespace="AWS/ECS",
            Statistic="Average",
            Period=60,
            EvaluationPeriods=3,
            Threshold=75.0,
            ComparisonOperator="GreaterThanThreshold",
            Tags=[{"Key": k, "Value": v} for k, v in (tags or {}).items()],
        )
        arn: str = self.cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]["AlarmArn"]
        self.world.calls.clear()
        return arn

    def alarm_event(
        self, name: str, state: str = "ALARM", *, tags: dict[str, str] | None = None
    ) -> dict[str, Any]:
        previous = "OK" if state == "ALARM" else "ALARM"
        detail: dict[str, Any] = {
            "alarmName": name,
            "state": {"value": state, "reason": "Threshold Crossed", "timestamp": "x"},
            "previousState": {"value": previous, "reason": "Threshold Crossed"},
            "configuration": {
                "metrics": [
                    {
                        "id": "m1",
                        "metricStat": {
                            "metric": {
                                "namespace": "AWS/ECS",
                                "name": "CPUUtilization",
                                "dimensions": {"ClusterName": CLUSTER},
                            },
                            "period": 60,
                            "stat": "Average",
                        },
                        "returnData": True,
                    }
                ]
            },
        }
        if tags is not None:
            detail["alarmTags"] = tags
            detail["alarmTagsStatus"] = "SUCCESS"
        arn = f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{name}"
        return self._envelope(
            "CloudWatch Alarm State Change", "aws.cloudwatch", detail, resources=[arn]
        )

    def service_action(
        self, service: str, name: str, reason: str | None = None, providers: tuple[str, ...] = ()
    ) -> dict[str, Any]:
        detail: dict[str, Any] = {
            "clusterArn": CLUSTER_ARN,
            "eventType": "ERROR" if "FAILURE" in name else "INFO",
            "eventName": name,
            "createdAt": "2026-06-01T12:00:00.000Z",
        }
        if reason:
            detail["reason"] = reason
        if providers:
            detail["capacityProviderArns"] = [
                f"arn:aws:ecs:{REGION}:{ACCOUNT}:capacity-provider/{p}" for p in providers
            ]
        arn = f"arn:aws:ecs:{REGION}:{ACCOUNT}:service/{CLUSTER}/{service}"
        return self._envelope("ECS Service Action", "aws.ecs", detail, resources=[arn])

    def spot_warning(self, instance_id: str) -> dict[str, Any]:
        detail = {"instance-id": instance_id, "instance-action": "terminate"}
        arn = f"arn:aws:ec2:{REGION}:{ACCOUNT}:instance/{instance_id}"
        return self._envelope(
            "EC2 Spot Instance Interruption Warning", "aws.ec2", detail, resources=[arn]
        )

    def scalable_target(self, service: str, low: int, high: int) -> str:
        resource = f"service/{CLUSTER}/{service}"
        self.aas.register_scalable_target(
            ServiceNamespace="ecs",
            ResourceId=resource,
            ScalableDimension="ecs:service:DesiredCount",
            MinCapacity=low,
            MaxCapacity=high,
        )
        self.world.calls.clear()
        return resource

    def target_bounds(self, service: str) -> tuple[int, int]:
        (target,) = self.aas.describe_scalable_targets(
            ServiceNamespace="ecs", ResourceIds=[f"service/{CLUSTER}/{service}"]
        )["ScalableTargets"]
        return int(target["MinCapacity"]), int(target["MaxCapacity"])


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(ledger_table, "CLOCK", fake)
    return fake


@pytest.fixture
def rx(world: World, clock: FakeClock) -> Iterator[Reactions]:
    state_manager.set_transition("ecs::task", {"progression": "manual", "times": 10**9})
    try:
        yield Reactions(world, clock)
    finally:
        state_manager.unset_transition("ecs::task")
