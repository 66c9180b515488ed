"""An account in moto's ``mock_aws`` for the call-count and storm benchmarks.

Self-contained (the handler tests' fixtures are theirs to change): the ledger table, the
notices topic, a cluster with a VPC over three zones, ECR repositories and images, tagged
services and running tasks. Every client counts its calls at the botocore level with a
``before-call`` hook, per ``service:Operation`` and per *subject* (whatever the bench says
it is working on at the moment, e.g. the service whose event is being handled).

moto's gaps, filled here in the open (bench-only, on moto's backend objects):
- services never start tasks and ``run_task`` tasks carry no zone: ``add_task`` puts a
  RUNNING task with its ``availabilityZone`` into moto's ECS backend;
- ``ListTasks`` ignores ``serviceName`` (moto 5.2.5 has a TODO there): ``list_tasks_by_service``
  filters by ``group = service:<name>`` as ECS does, otherwise every evaluation in a
  100-service cluster would list and describe every task of the cluster;
- ``create_service`` drops placement strategy, deployment configuration and AZ
  rebalancing, and deployments never finish: ``service()`` writes them on moto's service.
"""

from __future__ import annotations

import copy
import json
import os
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any
from unittest import mock

ACCOUNT = "123456789012"
REGION = "us-east-1"
CLUSTER = "bench-cluster"
CLUSTER_ARN = f"arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/{CLUSTER}"
TABLE = "autopilot-ledger"
TOPIC = "autopilot-notices"
REGISTRY = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com"
ZONES = ("us-east-1a", "us-east-1b", "us-east-1c")
MUTATING = frozenset(
    {
        "ecs:UpdateService",
        "ecs:StopTask",
        "ecs:RegisterTaskDefinition",
        "ecs:DeregisterTaskDefinition",
        "autoscaling:SetDesiredCapacity",
        "autoscaling:UpdateAutoScalingGroup",
        "application-auto-scaling:RegisterScalableTarget",
    }
)
ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
    "POWERTOOLS_SERVICE_NAME": "autopilot",
    "POWERTOOLS_METRICS_NAMESPACE": "EcsAutopilot",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_LOG_LEVEL": "WARNING",
    "LEDGER_TABLE": TABLE,
    "NOTICES_TOPIC_ARN": f"arn:aws:sns:{REGION}:{ACCOUNT}:{TOPIC}",
    "CLUSTER_ARN": CLUSTER_ARN,
}


@contextmanager
def environment() -> Iterator[None]:
    """The functions' environment, and fresh settings and clients before and after."""
    from autopilot.aws.clients import reset_clients  # noqa: PLC0415
    from autopilot.settings import get_settings  # noqa: PLC0415

    saved = dict(os.environ)
    os.environ.update(ENV)
    for key in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "LAMBDA_TASK_ROOT"):
        os.environ.pop(key, None)
    get_settings.cache_clear()
    reset_clients()
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)
        get_settings.cache_clear()
        reset_clients()


def _list_tasks_by_service(original: Any) -> Any:
    def list_tasks(  # noqa: PLR0917 - moto's signature
        self: Any,
        cluster_str: Any = None,
        container_instance: Any = None,
        family: Any = None,
        started_by: Any = None,
        service_name: Any = None,
        desiredStatus: Any = None,
    ) -> Any:
        tasks = original(
            self, cluster_str, container_instance, family, started_by, service_name, desiredStatus
        )
        if service_name:
            group = f"service:{str(service_name).rsplit('/', 1)[-1]}"
            tasks = [t for t in tasks if t.group == group]
        return tasks

    return list_tasks


class World:
    """One mocked account. Use as a context manager."""

    def __init__(self) -> None:
        self._stack: list[Any] = []
        self.calls: Counter[str] = Counter()
        self.by_subject: defaultdict[str, Counter[str]] = defaultdict(Counter)
        self.subject = "-"
        self.clock = datetime(2026, 1, 1, tzinfo=UTC)
        self.versions: dict[str, int] = {}

    # -- set-up ----------------------------------------------------------------------
    def __enter__(self) -> World:
        import boto3  # noqa: PLC0415
        from moto import mock_aws  # noqa: PLC0415
        from moto.ecs.models import EC2ContainerServiceBackend  # noqa: PLC0415
        from moto.moto_api import state_manager  # noqa: PLC0415

        env = environment()
        env.__enter__()
        self._stack.append(env)
        from autopilot.observability import logger  # noqa: PLC0415

        self._log_level = logger.log_level
        logger.setLevel("WARNING")  # the handlers' INFO lines would drown the bench's output
        self._logger = logger
        m = mock_aws()
        m.start()
        self._stack.append(m)
        patch = mock.patch.object(
            EC2ContainerServiceBackend,
            "list_tasks",
            _list_tasks_by_service(EC2ContainerServiceBackend.list_tasks),
        )
        patch.start()
        self._stack.append(patch)
        state_manager.set_transition("ecs::task", {"progression": "manual", "times": 10**9})
        self._state_manager = state_manager

        def client(name: str) -> Any:
            c = boto3.client(name, region_name=REGION)
            c.meta.events.register("before-call", self._count)
            return c

        self.ecs = client("ecs")
        self.ecr = client("ecr")
        self.tagging = client("resourcegroupstaggingapi")
        self.dynamodb = client("dynamodb")
        self.sns = client("sns")
        self.ec2 = client("ec2")
        self.autoscaling = client("autoscaling")
        self.aas = client("application-autoscaling")
        self.cloudwatch = client("cloudwatch")
        self.dynamodb.create_table(
            TableName=TABLE,
            KeySchema=[
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        self.sns.create_topic(Name=TOPIC)
        self.ecs.create_cluster(clusterName=CLUSTER)
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
        self.repos: set[str] = set()
        self.reset_counts()
        return self

    def __exit__(self, *exc: object) -> None:
        self._logger.setLevel(self._log_level)
        self._state_manager.unset_transition("ecs::task")
        for item in reversed(self._stack):
            if hasattr(item, "stop"):
                item.stop()
            else:
                item.__exit__(None, None, None)
        self._stack.clear()

    @property
    def clients(self) -> Any:
        from autopilot.aws.clients import AwsClients  # noqa: PLC0415

        return AwsClients(
            ecs=self.ecs,
            ecr=self.ecr,
            tagging=self.tagging,
            dynamodb=self.dynamodb,
            sns=self.sns,
            ec2=self.ec2,
            autoscaling=self.autoscaling,
            application_autoscaling=self.aas,
            cloudwatch=self.cloudwatch,
        )

    @property
    def backend(self) -> Any:
        from moto.ecs.models import ecs_backends  # noqa: PLC0415

        return ecs_backends[ACCOUNT][REGION]

    # -- counting --------------------------------------------------------------------
    def _count(self, event_name: str, **_: Any) -> None:
        _, service, operation = event_name.split(".", 2)
        key = f"{service}:{operation}"
        self.calls[key] += 1
        self.by_subject[self.subject][key] += 1

    def reset_counts(self) -> None:
        self.calls.clear()
        self.by_subject.clear()

    def aws_calls(self, *, exclude: tuple[str, ...] = ("dynamodb", "sns")) -> dict[str, int]:
        """Calls per ``service:Operation``, without the ledger (DynamoDB) and notices (SNS)."""
        return dict(sorted((k, v) for k, v in self.calls.items() if k.split(":")[0] not in exclude))

    # -- ECR -------------------------------------------------------------------------
    def repo(self, name: str) -> str:
        if name not in self.repos:
            self.ecr.create_repository(repositoryName=name)
            self.repos.add(name)
        return name

    def push(self, repo: str, tag: str | None) -> str:
        """Put a new image; its digest. Each push is a minute after the previous one."""
        from moto.ecr.models import ecr_backends  # noqa: PLC0415

        self.repo(repo)
        layer = "sha256:" + uuid.uuid4().hex * 2
        manifest = {
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {
                "mediaType": "application/vnd.docker.container.image.v1+json",
                "size": 7023,
                "digest": layer,
            },
            "layers": [
                {
                    "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                    "size": 32654,
                    "digest": layer,
                }
            ],
        }
        kwargs: dict[str, Any] = {"repositoryName": repo, "imageManifest": json.dumps(manifest)}
        if tag:
            kwargs["imageTag"] = tag
        digest: str = self.ecr.put_image(**kwargs)["image"]["imageId"]["imageDigest"]
        self.clock += timedelta(minutes=1)
        for image in ecr_backends[ACCOUNT][REGION].repositories[repo].images:
            if image.get_image_digest() == digest:
                image.image_pushed_at = int(self.clock.timestamp())
        return digest

    # -- ECS -------------------------------------------------------------------------
    def task_definition(self, family: str, image: str, *, launch: str = "FARGATE") -> str:
        arn: str = self.ecs.register_task_definition(
            family=family,
            networkMode="awsvpc",
            requiresCompatibilities=[launch],
            cpu="256",
            memory="512",
            containerDefinitions=[
                {"name": "app", "image": image, "essential": True, "cpu": 256, "memory": 512},
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
        image: str | None = None,
        tags: dict[str, str] | None = None,
        desired: int = 2,
        launch_type: str = "FARGATE",
        rebalancing: str | None = "ENABLED",
        placement: list[dict[str, str]] | None = None,
        min_healthy: int = 100,
        task_definition: str | None = None,
    ) -> str:
        td = task_definition or self.task_definition(
            name, image or "public.ecr.aws/nginx/nginx:1", launch=launch_type
        )
        arn: str = self.ecs.create_service(
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
        svc = self.backend.services[f"{CLUSTER}:{name}"]
        svc.availability_zone_rebalancing = rebalancing
        svc.placement_strategy = placement or []
        svc.deployment_configuration = {"minimumHealthyPercent": min_healthy, "maximumPercent": 200}
        svc.deployments = [d for d in svc.deployments if d["status"] == "PRIMARY"]
        for d in svc.deployments:
            d["rolloutState"] = "COMPLETED"
        return arn

    def add_task(self, service: str, zone: str) -> str:
        from moto.ecs.models import Task  # noqa: PLC0415

        backend = self.backend
        svc = backend.services[f"{CLUSTER}:{service}"]
        shim = copy.copy(backend.describe_task_definition(svc.task_definition))
        shim.network_mode = "bridge"  # moto's awsvpc task set-up needs a real network
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

    def container_instance(self, zone: str, *, cpu: int = 65536, memory: int = 262144) -> str:
        instance = self.ec2.run_instances(
            ImageId="ami-12c6146b", MinCount=1, MaxCount=1, Placement={"AvailabilityZone": zone}
        )["Instances"][0]
        doc = json.dumps(
            {"instanceId": instance["InstanceId"], "availabilityZone": zone, "region": REGION}
        )
        arn: str = self.ecs.register_container_instance(
            cluster=CLUSTER, instanceIdentityDocument=doc
        )["containerInstance"]["containerInstanceArn"]
        ci = self.backend.container_instances[CLUSTER][arn.rsplit("/", 1)[-1]]
        for resource in ci.remaining_resources:
            if resource["name"] == "CPU":
                resource["integerValue"] = cpu
            if resource["name"] == "MEMORY":
                resource["integerValue"] = memory
        return arn

    def running_spread(self, service: str) -> dict[str, int]:
        out = dict.fromkeys(ZONES, 0)
        for task in self.backend.tasks.get(CLUSTER, {}).values():
            if task.group == f"service:{service}" and task.desired_status == "RUNNING":
                out[task.availability_zone] = out.get(task.availability_zone, 0) + 1
        return out

    # -- events ----------------------------------------------------------------------
    def _event(
        self,
        detail_type: str,
        source: str,
        detail: dict[str, Any],
        resources: list[str] | None = None,
    ) -> dict[str, Any]:
        self.clock += timedelta(seconds=1)
        return {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": detail_type,
            "source": source,
            "account": ACCOUNT,
            "time": self.clock.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "region": REGION,
            "resources": resources or [],
            "detail": detail,
        }

    def push_event(self, repo: str, digest: str, tag: str | None) -> dict[str, Any]:
        detail: dict[str, Any] = {
            "result": "SUCCESS",
            "repository-name": repo,
            "image-digest": digest,
            "action-type": "PUSH",
        }
        if tag:
            detail["image-tag"] = tag
        return self._event("ECR Image Action", "aws.ecr", detail)

    def scan_event(self, repo: str, digest: str, tags: list[str]) -> dict[str, Any]:
        """A basic ``ECR Image Scan`` result with no findings (zero counts are omitted)."""
        repo_arn = f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/{repo}"
        detail = {
            "scan-status": "COMPLETE",
            "repository-name": repo,
            "finding-severity-counts": {},
            "image-digest": digest,
            "image-tags": tags,
        }
        return self._event("ECR Image Scan", "aws.ecr", detail, [repo_arn])

    def task_event(
        self,
        service: str,
        task_arn: str,
        *,
        status: str = "RUNNING",
        zone: str = ZONES[0],
        stop_code: str | None = None,
        reason: str | None = None,
        stopped_at: datetime | None = None,
    ) -> dict[str, Any]:
        version = self.versions[task_arn] = self.versions.get(task_arn, 0) + 1
        svc = self.backend.services[f"{CLUSTER}:{service}"]
        container: dict[str, Any] = {
            "name": "app",
            "lastStatus": status,
            "image": "public.ecr.aws/nginx/nginx:1",
        }
        sidecar: dict[str, Any] = {"name": "log-router", "lastStatus": status}
        detail: dict[str, Any] = {
            "clusterArn": CLUSTER_ARN,
            "taskArn": task_arn,
            "taskDefinitionArn": svc.task_definition,
            "group": f"service:{service}",
            "lastStatus": status,
            "desiredStatus": "STOPPED" if status == "STOPPED" else "RUNNING",
            "launchType": svc.launch_type or "FARGATE",
            "containers": [container, sidecar],
            "version": version,
            "createdAt": "2026-01-01T00:00:00.000Z",
            "availabilityZone": zone,
        }
        if status == "STOPPED":
            container["exitCode"] = 0
            sidecar["exitCode"] = 0
            at = stopped_at or self.clock
            detail["stoppedAt"] = at.strftime("%Y-%m-%dT%H:%M:%S.000Z")
            detail["stopCode"] = stop_code or "ServiceSchedulerInitiated"
            detail["stoppedReason"] = (
                reason or "Scaling activity initiated by (deployment ecs-svc/1)"
            )
        return self._event("ECS Task State Change", "aws.ecs", detail, [task_arn])
