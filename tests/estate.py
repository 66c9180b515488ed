"""The estate in moto's ``mock_aws`` that the handler tests and the benchmarks run against.

``with Estate() as estate:`` starts moto and builds one account: the ledger table, the
notices topic (with an SQS queue subscribed, to read notices back), the cluster, a VPC over
three zones with a security group, and a launch template for EC2 capacity. On it the
methods make ECR repositories and pushes (a minute apart), task definitions, tagged
services, tasks placed in zones, container instances, ASGs and capacity providers,
scalable targets and alarms, and events of the real shapes (those in ``events/``). Every
client counts its calls at the botocore level (``before-call``), per ``service:Operation``
and per ``subject`` (whatever the caller says it is working on). Each method that builds
something clears the counts when done, so they start at the last set-up step; the reads
(``describe`` and the like) are counted as any call. The reaction state's clock is a
``FakeClock`` (``estate.clock``) for as long as the estate is open.

moto's gaps are filled here, in the open, on moto's backend objects:
- services never start tasks, and ``run_task`` tasks carry no ``availabilityZone``:
  ``add_task`` puts a RUNNING task of the service, with its zone, into moto's ECS backend
  (moto's task state machine is set to manual so it stays RUNNING);
- a task's stop carries no stop code, time or exit codes (moto's task holds one container):
  ``stopped_task`` writes them as ``DescribeTasks`` answers for a stopped task, and a
  STOPPED ``task_event`` of a new task stops one so (its claims are ECS's);
- ``ListTasks`` ignores ``serviceName`` (moto 5.2.5 has a TODO there): while the estate is
  open it filters by ``group = service:<name>`` as ECS does;
- ``create_service`` drops the placement strategy, the deployment configuration, the
  capacity provider strategy and AZ rebalancing: ``service()`` writes them on moto's
  service as ECS keeps them;
- deployments never progress: ``service()`` completes the first one (as ECS does once the
  tasks run), ``start_deployment`` adds the PRIMARY deployment ECS starts after an
  UpdateService, ``finish_deployment`` completes it and a FAILED ``deployment_event``
  fails it;
- ``ListServiceDeployments`` and ``StopServiceDeployment`` are missing: the sandbox's
  answers to them (``ecs-service-deployments`` in sandbox/moto_adjustments.py, over those
  same ``deployments``) are added to moto's ECS response handler while the estate is open.

The functions' environment is ``ENV``: the handler tests set it with ``monkeypatch``, the
benchmarks with ``functions_environment()``.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime, timedelta
from functools import cache
from types import TracebackType
from typing import TYPE_CHECKING, Any
from unittest import mock

import boto3
from autopilot.aws.clients import AwsClients, reset_clients
from autopilot.settings import get_settings
from autopilot.store import table as ledger_table
from autopilot.store.ledger import Ledger
from moto import mock_aws
from moto.cloudwatch.models import cloudwatch_backends
from moto.ecr.models import ecr_backends
from moto.ecs.models import EC2ContainerServiceBackend, Service, Task, ecs_backends
from moto.ecs.responses import EC2ContainerServiceResponse
from moto.moto_api import state_manager

from sandbox.moto_adjustments import SERVICE_DEPLOYMENT_ACTIONS, service_deployment_originals
from sandbox.simulator.registry import hold_scan

if TYPE_CHECKING:
    from mypy_boto3_application_autoscaling import ApplicationAutoScalingClient
    from mypy_boto3_autoscaling import AutoScalingClient
    from mypy_boto3_autoscaling.type_defs import AutoScalingGroupTypeDef
    from mypy_boto3_cloudwatch import CloudWatchClient
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_ec2 import EC2Client
    from mypy_boto3_ecr import ECRClient
    from mypy_boto3_ecs import ECSClient
    from mypy_boto3_ecs.literals import LaunchTypeType
    from mypy_boto3_ecs.type_defs import ServiceTypeDef, TaskDefinitionTypeDef
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_resourcegroupstaggingapi import ResourceGroupsTaggingAPIClient
    from mypy_boto3_sns import SNSClient
    from mypy_boto3_sqs import SQSClient

ACCOUNT = "123456789012"
REGION = "us-east-1"
CLUSTER = "demo-cluster"
CLUSTER_ARN = f"arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/{CLUSTER}"
TABLE = "autopilot-ledger"
TOPIC = "autopilot-notices"
TOPIC_ARN = f"arn:aws:sns:{REGION}:{ACCOUNT}:{TOPIC}"
REGISTRY = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com"
ZONES = ("us-east-1a", "us-east-1b", "us-east-1c")
#: The image of a service's task definition when no repository is named.
DEFAULT_IMAGE = "public.ecr.aws/nginx/nginx:1"
SIDECAR_IMAGE = "public.ecr.aws/aws-observability/aws-for-fluent-bit:stable"
#: What DescribeTaskDefinition adds to what was registered.
READ_ONLY = frozenset(
    {
        "taskDefinitionArn",
        "revision",
        "status",
        "requiresAttributes",
        "compatibilities",
        "registeredAt",
        "registeredBy",
        "deregisteredAt",
    }
)
#: The calls that change something, as the call counts name them (botocore's service ids:
#: ``auto-scaling``, ``application-auto-scaling``); a notice counts as a change.
MUTATING = frozenset(
    {
        "ecs:UpdateService",
        "ecs:StopServiceDeployment",
        "ecs:ContinueServiceDeployment",
        "ecs:StopTask",
        "ecs:RegisterTaskDefinition",
        "ecs:DeregisterTaskDefinition",
        "auto-scaling:SetDesiredCapacity",
        "auto-scaling:UpdateAutoScalingGroup",
        "application-auto-scaling:RegisterScalableTarget",
        "sns:Publish",
    }
)
#: The functions' environment (what the CDK app sets), pointed at this account.
ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
    "POWERTOOLS_SERVICE_NAME": "autopilot",
    "POWERTOOLS_METRICS_NAMESPACE": "EcsAutopilot",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "LEDGER_TABLE": TABLE,
    "NOTICES_TOPIC_ARN": TOPIC_ARN,
    "CLUSTER_ARNS": CLUSTER_ARN,
    "LEASE_SECONDS": "60",
}
#: Variables that would point the functions somewhere else: never set in the estate.
UNSET = ("AWS_ENDPOINT_URL", "AWS_PROFILE", "LAMBDA_TASK_ROOT")


@contextmanager
def functions_environment(*, log_level: str | None = None) -> Iterator[None]:
    """``ENV`` in ``os.environ`` (and none of ``UNSET``), fresh settings and clients before
    and after; with ``log_level``, the handlers' logger at that level meanwhile."""
    saved = dict(os.environ)
    os.environ.update(ENV)
    for key in UNSET:
        os.environ.pop(key, None)
    get_settings.cache_clear()
    reset_clients()
    with ExitStack() as stack:
        if log_level:
            # Importing it builds Powertools' logger and metrics from the environment, so
            # only now that ENV is set.
            from autopilot.observability import logger  # noqa: PLC0415

            stack.callback(logger.setLevel, logger.log_level)
            logger.setLevel(log_level)
        try:
            yield
        finally:
            os.environ.clear()
            os.environ.update(saved)
            get_settings.cache_clear()
            reset_clients()


class FakeClock:
    """The ledger's clock (debounce windows, cooldowns, approval expiry): starts at the wall
    clock's second and then moves only when told."""

    def __init__(self) -> None:
        self.now = float(int(time.time()))

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class LambdaContext:
    """The Lambda context a handler is invoked with."""

    function_name = "image-events"
    function_version = "$LATEST"
    memory_limit_in_mb = 256
    invoked_function_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:image-events"
    aws_request_id = "00000000-0000-0000-0000-000000000000"
    log_group_name = "/aws/lambda/image-events"
    log_stream_name = "stream"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 30_000


_moto_list_tasks = EC2ContainerServiceBackend.list_tasks


def _list_tasks_of_the_service(  # noqa: PLR0917 - moto's signature
    self: EC2ContainerServiceBackend,
    cluster_str: str | None = None,
    container_instance: str | None = None,
    family: str | None = None,
    started_by: str | None = None,
    service_name: str | None = None,
    desiredStatus: str | None = None,
) -> list[Task]:
    """moto's ListTasks, filtered by ``serviceName`` as ECS does (moto ignores it)."""
    tasks = _moto_list_tasks(
        self, cluster_str, container_instance, family, started_by, service_name, desiredStatus
    )
    if service_name:
        group = f"service:{service_name.rsplit('/', 1)[-1]}"
        tasks = [t for t in tasks if t.group == group]
    return tasks


@contextmanager
def _environ(key: str, value: str) -> Iterator[None]:
    """``key`` is ``value`` meanwhile, then what it was."""
    previous = os.environ.get(key)
    os.environ[key] = value
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = previous


@cache
def _session() -> boto3.session.Session:
    """The one boto3 session of every estate in this process: a session reads botocore's
    endpoints and service models once, and a fresh one per estate (moto's ``mock_aws``
    gives the default session up) made most of an estate's set-up. moto intercepts the
    clients of any session made after moto is imported."""
    return boto3.session.Session()


def _keep(model: object, **attributes: Any) -> None:
    """Write attributes moto's create calls drop. moto answers its Describe calls from a
    model's attributes, and its update calls set them just so (``__setattr__``)."""
    vars(model).update(attributes)


def create_ledger_table(dynamodb: Any, name: str) -> None:
    """The ledger's table, its keys as the control plane makes it (``pk``, ``sk``)."""
    dynamodb.create_table(
        TableName=name,
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


class Estate:
    """One account in moto. Use as a context manager."""

    def __init__(self) -> None:
        self.clock = FakeClock()
        self.calls: Counter[str] = Counter()
        self.by_subject: defaultdict[str, Counter[str]] = defaultdict(Counter)
        #: What the counts of the calls made now are filed under in ``by_subject``.
        self.subject = "-"
        #: The time of the next push or event (moto stamps pushes in whole seconds).
        self.event_time = datetime(2026, 1, 1, tzinfo=UTC)
        self.repos: set[str] = set()
        self.versions: dict[str, int] = {}
        self._stack = ExitStack()

    # -- set-up ---------------------------------------------------------------------------
    def __enter__(self) -> Estate:
        with ExitStack() as stack:
            # moto's EC2 loads some thousand public AMIs per backend by default (half a
            # second of every set-up); the estate launches instances of one made-up AMI
            stack.enter_context(_environ("MOTO_EC2_LOAD_DEFAULT_AMIS", "false"))
            stack.enter_context(mock_aws())
            stack.enter_context(
                mock.patch.object(
                    EC2ContainerServiceBackend, "list_tasks", _list_tasks_of_the_service
                )
            )
            stack.enter_context(service_deployment_originals())
            for name, action in SERVICE_DEPLOYMENT_ACTIONS.items():
                stack.enter_context(
                    mock.patch.object(EC2ContainerServiceResponse, name, action, create=True)
                )
            state_manager.set_transition("ecs::task", {"progression": "manual", "times": 10**9})
            stack.callback(state_manager.unset_transition, "ecs::task")
            stack.enter_context(mock.patch.object(ledger_table, "CLOCK", self.clock))
            self._build()
            self._stack = stack.pop_all()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stack.close()

    def _build(self) -> None:
        session = _session()
        self.ecs: ECSClient = session.client("ecs", region_name=REGION)
        self.ecr: ECRClient = session.client("ecr", region_name=REGION)
        self.tagging: ResourceGroupsTaggingAPIClient = session.client(
            "resourcegroupstaggingapi", region_name=REGION
        )
        self.dynamodb: DynamoDBClient = session.client("dynamodb", region_name=REGION)
        self.sns: SNSClient = session.client("sns", region_name=REGION)
        self.ec2: EC2Client = session.client("ec2", region_name=REGION)
        self.autoscaling: AutoScalingClient = session.client("autoscaling", region_name=REGION)
        self.aas: ApplicationAutoScalingClient = session.client(
            "application-autoscaling", region_name=REGION
        )
        self.cloudwatch: CloudWatchClient = session.client("cloudwatch", region_name=REGION)
        self.events: EventBridgeClient = session.client("events", region_name=REGION)
        self._bus_tap: str | None = None
        for client in (
            self.ecs,
            self.ecr,
            self.tagging,
            self.dynamodb,
            self.sns,
            self.ec2,
            self.autoscaling,
            self.aas,
            self.cloudwatch,
            self.events,
        ):
            client.meta.events.register("before-call", self._count)
        # the notice reader: not counted
        self.sqs: SQSClient = session.client("sqs", region_name=REGION)

        create_ledger_table(self.dynamodb, TABLE)
        self.ledger = Ledger(self.dynamodb, TABLE)
        self.topic_arn = self.sns.create_topic(Name=TOPIC)["TopicArn"]
        self.queue_url = self.sqs.create_queue(QueueName="notices")["QueueUrl"]
        queue_arn = self.sqs.get_queue_attributes(
            QueueUrl=self.queue_url, AttributeNames=["QueueArn"]
        )["Attributes"]["QueueArn"]
        self.sns.subscribe(
            TopicArn=self.topic_arn,
            Protocol="sqs",
            Endpoint=queue_arn,
            Attributes={"RawMessageDelivery": "false"},
        )
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
        self.ec2.create_launch_template(
            LaunchTemplateName="ecs-nodes",
            LaunchTemplateData={"ImageId": "ami-12c6146b", "InstanceType": "t3.large"},
        )
        self.reset_counts()

    @property
    def clients(self) -> AwsClients:
        """The clients to hand a handler (``aws=``): every call they make is counted."""
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
            events=self.events,
        )

    @property
    def backend(self) -> EC2ContainerServiceBackend:
        """moto's ECS backend of this account and region."""
        return ecs_backends[ACCOUNT][REGION]

    # -- call counting ----------------------------------------------------------------------
    def _count(self, event_name: str, **_: Any) -> None:
        # event_name: before-call.<service id>.<Operation>
        service, operation = event_name.split(".", 2)[1:]
        key = f"{service}:{operation}"
        self.calls[key] += 1
        self.by_subject[self.subject][key] += 1

    def reset_counts(self) -> None:
        self.calls.clear()
        self.by_subject.clear()

    def aws_calls(self, *, exclude: tuple[str, ...] = ("dynamodb", "sns")) -> dict[str, int]:
        """Calls per ``service:Operation``, by default without the ledger (DynamoDB) and the
        notices (SNS)."""
        return dict(sorted((k, v) for k, v in self.calls.items() if k.split(":")[0] not in exclude))

    def mutations(self) -> dict[str, int]:
        """The calls in ``MUTATING``."""
        return {k: v for k, v in self.calls.items() if k in MUTATING}

    def reads(self) -> dict[str, int]:
        """The other calls, without the ledger and the notices."""
        return {
            k: v
            for k, v in self.calls.items()
            if k not in MUTATING and not k.startswith(("dynamodb:", "sns:"))
        }

    # -- ECR --------------------------------------------------------------------------------
    def repo(self, name: str) -> str:
        if name not in self.repos:
            self.ecr.create_repository(repositoryName=name)
            self.repos.add(name)
            self.reset_counts()
        return name

    def push(self, repo: str, tag: str | None, *, layer: str | None = None) -> str:
        """Put an image (unique unless ``layer`` repeats) and return its digest.

        Each push is one minute after the previous one."""
        self.repo(repo)
        layer_digest = "sha256:" + (layer or uuid.uuid4().hex * 2)
        manifest = {
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {
                "mediaType": "application/vnd.docker.container.image.v1+json",
                "size": 7023,
                "digest": layer_digest,
            },
            "layers": [
                {
                    "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                    "size": 32654,
                    "digest": layer_digest,
                }
            ],
        }
        if tag:
            pushed = self.ecr.put_image(
                repositoryName=repo, imageManifest=json.dumps(manifest), imageTag=tag
            )
        else:
            pushed = self.ecr.put_image(repositoryName=repo, imageManifest=json.dumps(manifest))
        digest = pushed["image"]["imageId"]["imageDigest"]
        self.event_time += timedelta(minutes=1)
        # moto stamps a push with the wall clock: this one is a minute after the last
        for image in ecr_backends[ACCOUNT][REGION].repositories[repo].images:
            if image.get_image_digest() == digest:
                image.image_pushed_at = int(self.event_time.timestamp())
        self.reset_counts()
        return digest

    def push_index(
        self, repo: str, tag: str | None, platforms: tuple[str, ...], *, attestation: bool = False
    ) -> tuple[str, dict[str, str]]:
        """Put an image index (one manifest per platform, ``os/arch``, plus buildx's
        attestation manifest with ``attestation``); its digest and each platform's."""
        self.repo(repo)
        children = {p: self.push(repo, None) for p in platforms}
        entries: list[dict[str, Any]] = [
            {
                "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                "digest": digest,
                "size": 428,
                "platform": {"os": p.split("/")[0], "architecture": p.split("/")[1]},
            }
            for p, digest in children.items()
        ]
        if attestation:
            entries.append(
                {
                    "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                    "digest": self.push(repo, None),
                    "size": 566,
                    "platform": {"os": "unknown", "architecture": "unknown"},
                    "annotations": {
                        "vnd.docker.reference.digest": entries[0]["digest"],
                        "vnd.docker.reference.type": "attestation-manifest",
                    },
                }
            )
        media_type = "application/vnd.oci.image.index.v1+json"
        body = json.dumps({"schemaVersion": 2, "mediaType": media_type, "manifests": entries})
        params: dict[str, Any] = {
            "repositoryName": repo,
            "imageManifest": body,
            "imageManifestMediaType": media_type,
            # moto computes no digest for a manifest without layers: the real one
            "imageDigest": "sha256:" + hashlib.sha256(body.encode()).hexdigest(),
        }
        if tag:
            params["imageTag"] = tag
        digest = self.ecr.put_image(**params)["image"]["imageId"]["imageDigest"]
        self.event_time += timedelta(minutes=1)
        for image in ecr_backends[ACCOUNT][REGION].repositories[repo].images:
            if image.get_image_digest() == digest:
                image.image_pushed_at = int(self.event_time.timestamp())
        self.reset_counts()
        return digest, children

    def hold_scan(
        self,
        repo: str,
        digest: str,
        counts: dict[str, int] | None = None,
        *,
        inspector: bool = False,
        status: str | None = None,
    ) -> None:
        """Make ECR answer DescribeImageScanFindings for ``digest`` with ``counts`` (basic
        scanning, or with ``inspector`` enhanced findings), with ``status`` if given."""
        described = {
            "repositoryName": repo,
            "registryId": ACCOUNT,
            "repositoryArn": f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/{repo}",
        }
        kind = "inspector2" if inspector else "basic"
        hold_scan(described, digest, dict(counts or {}), kind, status=status)

    # -- ECS --------------------------------------------------------------------------------
    def task_definition(self, family: str, image: str = DEFAULT_IMAGE, **extra: Any) -> str:
        """Register a revision of ``family``: an essential ``app`` container running
        ``image`` and a non-essential ``log-router``; ``extra`` overrides any parameter."""
        params: dict[str, Any] = {
            "family": family,
            "taskRoleArn": f"arn:aws:iam::{ACCOUNT}:role/{family}-task",
            "executionRoleArn": f"arn:aws:iam::{ACCOUNT}:role/{family}-execution",
            "networkMode": "awsvpc",
            "requiresCompatibilities": ["FARGATE", "EC2"],
            "cpu": "256",
            "memory": "512",
            "runtimePlatform": {"cpuArchitecture": "ARM64", "operatingSystemFamily": "LINUX"},
            "volumes": [{"name": "scratch"}],
            "containerDefinitions": [
                {
                    "name": "app",
                    "image": image,
                    "essential": True,
                    "cpu": 256,
                    "memory": 512,
                    "portMappings": [{"containerPort": 8080, "protocol": "tcp"}],
                    "environment": [{"name": "MODE", "value": "prod"}],
                    "mountPoints": [{"sourceVolume": "scratch", "containerPath": "/tmp"}],
                },
                {
                    "name": "log-router",
                    "image": SIDECAR_IMAGE,
                    "essential": False,
                    "memory": 64,
                },
            ],
            "tags": [{"key": "team", "value": "payments"}],
        }
        params.update(extra)
        arn = self.ecs.register_task_definition(**params)["taskDefinition"]["taskDefinitionArn"]
        self.reset_counts()
        return arn

    def service(
        self,
        name: str,
        repo: str | None = None,
        *,
        tag: str | None = None,
        digest: str | None = None,
        task_definition: str | None = None,
        tags: dict[str, str] | None = None,
        track: bool = True,
        desired: int = 6,
        launch_type: LaunchTypeType = "FARGATE",
        rebalancing: str | None = "DISABLED",
        placement: list[dict[str, str]] | None = None,
        min_healthy: int = 100,
        strategy: list[dict[str, Any]] | None = None,
        alarms: list[str] | None = None,
        spread: dict[str, int] | None = None,
        cluster: str = CLUSTER,
        controller: str = "ECS",
    ) -> str:
        """A service in the VPC's three subnets, its first deployment completed; its ARN.
        ``cluster`` is where (made by ``cluster()``, or the estate's own); ``controller``
        its deployment controller type (ECS, CODE_DEPLOY, EXTERNAL).

        With ``repo`` it runs ``repo`` by ``tag`` (default ``latest``) or by ``digest`` and,
        with ``track``, carries the ``autopilot:repository`` tag; ``task_definition`` gives
        the revision outright. ``strategy`` puts it on a capacity provider strategy instead
        of ``launch_type``; ``alarms`` are its deployment alarms (with rollback);
        ``spread`` places that many RUNNING tasks in each zone."""
        if task_definition is None:
            image = DEFAULT_IMAGE
            if repo:
                self.repo(repo)
                image = f"{REGISTRY}/{repo}" + (f"@{digest}" if digest else f":{tag or 'latest'}")
            task_definition = self.task_definition(name, image)
        all_tags = dict(tags or {})
        if repo and track:
            all_tags.setdefault("autopilot:repository", repo)
        arn = self.ecs.create_service(
            cluster=cluster,
            serviceName=name,
            taskDefinition=task_definition,
            deploymentController={"type": controller},  # type: ignore[typeddict-item]
            desiredCount=desired,
            launchType=launch_type,
            networkConfiguration={
                "awsvpcConfiguration": {
                    "subnets": list(self.subnets.values()),
                    "securityGroups": [self.security_group],
                }
            },
            tags=[{"key": k, "value": v} for k, v in all_tags.items()],
        )["service"]["serviceArn"]
        svc = self.moto_service(arn)
        # what create_service drops in moto, written as ECS keeps it
        configuration: dict[str, Any] = {
            "minimumHealthyPercent": min_healthy,
            "maximumPercent": 200,
        }
        if alarms:
            configuration["alarms"] = {"alarmNames": alarms, "enable": True, "rollback": True}
        _keep(
            svc,
            availability_zone_rebalancing=rebalancing,
            placement_strategy=placement or [],
            deployment_configuration=configuration,
        )
        if strategy is not None:
            _keep(svc, capacity_provider_strategy=strategy, launch_type=None)
        self.finish_deployment(arn)
        for zone, count in (spread or {}).items():
            for _ in range(count):
                self.add_task(arn, zone)
        self.reset_counts()
        return arn

    def cluster(self, name: str) -> str:
        """Another cluster (the estate's own is ``CLUSTER``); its ARN."""
        arn: str = self.ecs.create_cluster(clusterName=name)["cluster"]["clusterArn"]
        self.reset_counts()
        return arn

    def moto_service(self, service: str) -> Service:
        """moto's model of the service (a name in the estate's cluster, or an ARN)."""
        path = service.rpartition(":service/")[2].split("/")
        cluster, name = (path[0], path[1]) if len(path) == 2 else (CLUSTER, path[-1])
        return self.backend.services[f"{cluster}:{name}"]

    def describe(self, service: str) -> ServiceTypeDef:
        """DescribeServices of one service (name or ARN), with its tags."""
        cluster = (
            service.rpartition(":service/")[2].split("/")[0] if ":service/" in service else CLUSTER
        )
        return self.ecs.describe_services(cluster=cluster, services=[service], include=["TAGS"])[
            "services"
        ][0]

    def running_td(self, service: str) -> TaskDefinitionTypeDef:
        arn = self.describe(service)["taskDefinition"]
        return self.ecs.describe_task_definition(taskDefinition=arn)["taskDefinition"]

    def running_image(self, service: str) -> str:
        return self.running_td(service)["containerDefinitions"][0]["image"]

    def revisions(self, family: str) -> list[str]:
        return list(self.ecs.list_task_definitions(familyPrefix=family)["taskDefinitionArns"])

    def start_deployment(self, service: str, *, rollback: bool = False) -> str:
        """What ECS does after an UpdateService (moto does not): a new PRIMARY deployment of
        the service's task definition, IN_PROGRESS, the others ACTIVE; its id. With
        ``rollback``, ECS's circuit breaker rolls the service back itself."""
        svc = self.moto_service(service)
        deployment_id = f"ecs-svc/{uuid.uuid4().int % 10**19}"
        for d in svc.deployments:
            d["status"] = "ACTIVE"
        svc.deployments.insert(
            0,
            {
                "id": deployment_id,
                "status": "PRIMARY",
                "taskDefinition": svc.task_definition,
                "rolloutState": "IN_PROGRESS",
            },
        )
        if rollback:
            configuration = dict(vars(svc).get("deployment_configuration") or {})
            configuration["deploymentCircuitBreaker"] = {"enable": True, "rollback": True}
            _keep(svc, deployment_configuration=configuration)
        return deployment_id

    def finish_deployment(self, service: str) -> None:
        """What ECS does once the PRIMARY deployment's tasks run (moto's stays IN_PROGRESS):
        the others are gone and its rollout is COMPLETED."""
        svc = self.moto_service(service)
        svc.deployments = [d for d in svc.deployments if d["status"] == "PRIMARY"]
        for d in svc.deployments:
            d["rolloutState"] = "COMPLETED"

    def add_task(self, service: str, zone: str, task_definition: str | None = None) -> str:
        """A RUNNING task of ``service`` in ``zone``, in moto's backend (moto starts none);
        its ARN."""
        backend = self.backend
        svc = self.moto_service(service)
        td = backend.describe_task_definition(task_definition or svc.task_definition or "")
        # moto's awsvpc task set-up fails on its own ENI (no private_dns_name): the task is
        # made from a bridge-mode copy (a task keeps only the revision's ARN)
        shim = copy.copy(td)
        shim.network_mode = "bridge"
        cluster = svc.cluster_arn.rsplit("/", 1)[-1]
        task = Task(
            backend.clusters[cluster],
            shim,
            None,
            None,
            backend,
            group=f"service:{svc.name}",
            launch_type=svc.launch_type or "EC2",
            started_by=str(svc.deployments[0]["id"]) if svc.deployments else "",
        )
        _keep(task, availability_zone=zone)
        task.last_status = "RUNNING"
        backend.tasks.setdefault(cluster, {})[task.task_arn] = task
        return task.task_arn

    def stopped_task(
        self,
        service: str,
        zone: str,
        *,
        task_definition: str | None = None,
        exit_code: int | None = None,
        sidecar_exit_code: int | None = 0,
        stop_code: str = "EssentialContainerExited",
        reason: str = "Essential container in task exited",
        stopped_at: datetime | None = None,
        digest: str | None = None,
    ) -> str:
        """A STOPPED task of ``service`` in moto's backend, as ``DescribeTasks`` answers for
        a stopped task (its stop code and reason, when, each container's exit code); its
        ARN. moto's task holds one container, exit code 0, and no stop code or time."""
        arn = self.add_task(service, zone, task_definition)
        task = self.backend.tasks[CLUSTER][arn]
        task.desired_status = "STOPPED"
        task.last_status = "STOPPED"
        app: dict[str, Any] = {"name": "app", "lastStatus": "STOPPED"}
        if exit_code is not None:
            app["exitCode"] = exit_code
        if digest:
            app["imageDigest"] = digest
        sidecar: dict[str, Any] = {"name": "log-router", "lastStatus": "STOPPED"}
        if sidecar_exit_code is not None:
            sidecar["exitCode"] = sidecar_exit_code
        _keep(
            task,
            stop_code=stop_code,
            stopped_reason=reason,
            stopped_at=stopped_at or datetime.fromtimestamp(self.clock.now, UTC),
            containers=[app, sidecar],
        )
        return arn

    def tasks(self, service: str) -> dict[str, list[str]]:
        """The service's running task ARNs per zone, from moto's backend."""
        out: dict[str, list[str]] = {}
        for task in self.backend.tasks.get(CLUSTER, {}).values():
            if task.group == f"service:{service}" and task.desired_status == "RUNNING":
                out.setdefault(vars(task).get("availability_zone", ""), []).append(task.task_arn)
        return out

    def spread(self, service: str) -> dict[str, int]:
        """How many of the service's tasks run in each zone."""
        tasks = self.tasks(service)
        return {z: len(tasks.get(z, [])) for z in ZONES}

    # -- EC2 capacity -----------------------------------------------------------------------
    def container_instance(self, zone: str, *, cpu: int = 4096, memory: int = 7482) -> str:
        """An EC2 instance in ``zone`` registered with the cluster, with ``cpu`` and
        ``memory`` remaining; its container instance ARN."""
        instance = self.ec2.run_instances(
            ImageId="ami-12c6146b", MinCount=1, MaxCount=1, Placement={"AvailabilityZone": zone}
        )["Instances"][0]
        doc = json.dumps(
            {"instanceId": instance["InstanceId"], "availabilityZone": zone, "region": REGION}
        )
        arn = self.ecs.register_container_instance(cluster=CLUSTER, instanceIdentityDocument=doc)[
            "containerInstance"
        ]["containerInstanceArn"]
        ci = self.backend.container_instances[CLUSTER][arn.rsplit("/", 1)[-1]]
        for resource in ci.remaining_resources:
            if resource["name"] == "CPU":
                resource["integerValue"] = cpu
            if resource["name"] == "MEMORY":
                resource["integerValue"] = memory
        self.reset_counts()
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
        """An ASG over ``zones`` (the launch template's instances); with ``provider``, a
        capacity provider of the cluster on it (``managed``: ECS's managed scaling)."""
        self.autoscaling.create_auto_scaling_group(
            AutoScalingGroupName=name,
            LaunchTemplate={"LaunchTemplateName": "ecs-nodes"},
            MinSize=min_size,
            MaxSize=max_size,
            DesiredCapacity=desired,
            VPCZoneIdentifier=",".join(self.subnets[z] for z in zones),
        )
        group_arn = self.describe_asg(name)["AutoScalingGroupARN"]
        if provider:
            self.ecs.create_capacity_provider(
                name=provider,
                autoScalingGroupProvider={
                    "autoScalingGroupArn": group_arn,
                    "managedScaling": {"status": "ENABLED" if managed else "DISABLED"},
                },
            )
            current = self.ecs.describe_clusters(clusters=[CLUSTER])["clusters"][0]
            self.ecs.put_cluster_capacity_providers(
                cluster=CLUSTER,
                capacityProviders=[*current.get("capacityProviders", []), provider],
                defaultCapacityProviderStrategy=current.get("defaultCapacityProviderStrategy")
                or [],
            )
        self.reset_counts()
        return group_arn

    def describe_asg(self, name: str) -> AutoScalingGroupTypeDef:
        return self.autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[name])[
            "AutoScalingGroups"
        ][0]

    def scalable_target(self, service: str, low: int, high: int) -> str:
        """Application Auto Scaling owns the service's desired count, ``low`` to ``high``."""
        resource = f"service/{CLUSTER}/{service}"
        self.aas.register_scalable_target(
            ServiceNamespace="ecs",
            ResourceId=resource,
            ScalableDimension="ecs:service:DesiredCount",
            MinCapacity=low,
            MaxCapacity=high,
        )
        self.reset_counts()
        return resource

    def target_bounds(self, service: str) -> tuple[int, int]:
        (target,) = self.aas.describe_scalable_targets(
            ServiceNamespace="ecs", ResourceIds=[f"service/{CLUSTER}/{service}"]
        )["ScalableTargets"]
        return int(target["MinCapacity"]), int(target["MaxCapacity"])

    def alarm(self, name: str, tags: dict[str, str] | None = None) -> str:
        """A metric alarm, tagged ``tags`` (what capacity-events reads to decide)."""
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
        arn = self.cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]["AlarmArn"]
        self.reset_counts()
        return arn

    def _alarm_tagged(self, name: str, tags: dict[str, str]) -> None:
        """The alarm ``name`` exists tagged exactly ``tags``; the call counts stay as they
        were (a test counts its own steps, not the events it builds)."""
        calls, by_subject = Counter(self.calls), copy.deepcopy(self.by_subject)
        backend = cloudwatch_backends[ACCOUNT][REGION]
        if name not in backend.alarms:
            self.alarm(name)
        arn = backend.alarms[name].alarm_arn
        backend.tagger.delete_all_tags_for_resource(arn)
        backend.tagger.tag_resource(arn, [{"Key": k, "Value": v} for k, v in tags.items()])
        self.reset_counts()
        self.calls.update(calls)
        self.by_subject.update(by_subject)

    # -- events -----------------------------------------------------------------------------
    def envelope(
        self,
        detail_type: str,
        source: str,
        detail: dict[str, Any],
        *,
        resources: list[str] | None = None,
        event_id: str | None = None,
    ) -> dict[str, Any]:
        """An EventBridge event, a second after the previous one."""
        self.event_time += timedelta(seconds=1)
        return {
            "version": "0",
            "id": event_id or str(uuid.uuid4()),
            "detail-type": detail_type,
            "source": source,
            "account": ACCOUNT,
            "time": self.event_time.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "region": REGION,
            "resources": resources or [],
            "detail": detail,
        }

    def push_event(
        self, repo: str, digest: str, tag: str | None, *, event_id: str | None = None
    ) -> dict[str, Any]:
        """``ECR Image Action``: a successful push (by digest when ``tag`` is None)."""
        detail: dict[str, Any] = {
            "result": "SUCCESS",
            "repository-name": repo,
            "image-digest": digest,
            "action-type": "PUSH",
        }
        if tag:
            detail["image-tag"] = tag
        return self.envelope("ECR Image Action", "aws.ecr", detail, event_id=event_id)

    def scan_event(
        self,
        repo: str,
        digest: str,
        counts: dict[str, int] | None = None,
        *,
        tags: list[str] | None = None,
        status: str = "COMPLETE",
        inspector: bool = False,
        event_id: str | None = None,
        forged: bool = False,
    ) -> dict[str, Any]:
        """``ECR Image Scan`` (basic scanning), or with ``inspector`` ``Inspector2 Scan``;
        ECR holds the same result for the digest (``hold_scan``, if ECR holds the image)
        unless the event is ``forged`` (ECR holds whatever it held)."""
        if not forged and status in {"COMPLETE", "FAILED", "INITIAL_SCAN_COMPLETE", "ACTIVE"}:
            self.hold_scan(
                repo,
                digest,
                counts,
                inspector=inspector,
                status=None if status == "INITIAL_SCAN_COMPLETE" else status,
            )
        repo_arn = f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/{repo}"
        severity = dict(counts or {})
        detail: dict[str, Any] = {
            "scan-status": status,
            "repository-name": repo_arn if inspector else repo,
            "finding-severity-counts": severity,
            "image-digest": digest,
            "image-tags": tags or [],
        }
        if inspector:
            severity.setdefault("TOTAL", sum((counts or {}).values()))
            detail["version"] = "1.0"
            return self.envelope(
                "Inspector2 Scan", "aws.inspector2", detail, resources=[repo_arn], event_id=event_id
            )
        return self.envelope(
            "ECR Image Scan", "aws.ecr", detail, resources=[repo_arn], event_id=event_id
        )

    def deployment_event(
        self, service_arn: str, name: str, deployment_id: str, reason: str = ""
    ) -> dict[str, Any]:
        """``ECS Deployment State Change``: ``name`` is IN_PROGRESS, COMPLETED or FAILED. A
        FAILED event of a deployment the service lists marks its rollout FAILED, as ECS has
        by the time it sends one (its claims are ECS's)."""
        if name == "FAILED":
            try:
                listed = self.moto_service(service_arn).deployments
            except KeyError:
                listed = []
            for d in listed:
                if d.get("id") == deployment_id:
                    d["rolloutState"], d["rolloutStateReason"] = "FAILED", reason
        detail = {
            "eventType": "ERROR" if name == "FAILED" else "INFO",
            "eventName": f"SERVICE_DEPLOYMENT_{name}",
            "deploymentId": deployment_id,
            "updatedAt": self.event_time.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "reason": reason or f"ECS deployment {deployment_id} {name.lower()}.",
        }
        return self.envelope(
            "ECS Deployment State Change", "aws.ecs", detail, resources=[service_arn]
        )

    def task_event(
        self,
        service: str | None,
        task_arn: str | None = None,
        *,
        status: str = "RUNNING",
        zone: str | None = ZONES[0],
        stop_code: str | None = None,
        reason: str | None = None,
        exit_code: int | None = None,
        task_definition: str | None = None,
        group: str | None = None,
        version: int | None = None,
        digest: str | None = None,
        stopped_at: datetime | None = None,
        real: bool = True,
    ) -> dict[str, Any]:
        """``ECS Task State Change`` of a task of ``service`` (None: a standalone task).

        Each event of a task ARN has the next ``version``. A STOPPED task stopped now (the
        fake clock), by default because its essential container exited; ``exit_code`` is
        the app container's (the log router exits 0). A STOPPED event of a service's new
        task (no ``task_arn``) tells of a task ECS knows stopped just so (``stopped_task``)
        unless ``real`` is False: a forged event, of a task ECS never ran."""
        if status == "STOPPED" and service and task_arn is None and group is None and real:
            task_arn = self.stopped_task(
                service,
                zone or ZONES[0],
                task_definition=task_definition,
                exit_code=exit_code,
                stop_code=stop_code or "EssentialContainerExited",
                reason=reason or "Essential container in task exited",
                stopped_at=stopped_at,
                digest=digest,
            )
        task_arn = task_arn or f"arn:aws:ecs:{REGION}:{ACCOUNT}:task/{CLUSTER}/{uuid.uuid4().hex}"
        if version is None:
            version = self.versions[task_arn] = self.versions.get(task_arn, 0) + 1
        launch_type = "FARGATE"
        if service:
            svc = self.moto_service(service)
            launch_type = svc.launch_type or launch_type
            task_definition = task_definition or svc.task_definition
        task_definition = (
            task_definition or f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/batch:1"
        )
        container: dict[str, Any] = {"name": "app", "lastStatus": status, "image": DEFAULT_IMAGE}
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
            "launchType": launch_type,
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
        return self.envelope("ECS Task State Change", "aws.ecs", detail, resources=[task_arn])

    def alarm_event(
        self,
        name: str,
        state: str = "ALARM",
        *,
        tags: dict[str, str] | None = None,
        real: bool = True,
        now: str | None = None,
    ) -> dict[str, Any]:
        """``CloudWatch Alarm State Change`` of a CPU alarm of the cluster; ``tags`` are the
        alarm's tags as the event carries them (None: the event carries none), and the
        alarm's own (made, or re-tagged, in moto: as with tag propagation on) unless
        ``real`` is False: a forged event, whose tags the alarm does not have.

        The alarm, if moto holds it, is put in the event's ``state`` (as CloudWatch is when
        it sends the event), or in ``now``: a forged or stale event, whose state the alarm
        is not in. The call counts stay as they were."""
        if tags is not None and real:
            self._alarm_tagged(name, tags)
        alarms = cloudwatch_backends[ACCOUNT][REGION].alarms
        if name in alarms:
            alarms[name].update_state("Threshold Crossed", "{}", now or state)
        previous = "OK" if state == "ALARM" else "ALARM"
        stamp = self.event_time.strftime("%Y-%m-%dT%H:%M:%S.000+0000")
        detail: dict[str, Any] = {
            "alarmName": name,
            "state": {"value": state, "reason": "Threshold Crossed", "timestamp": stamp},
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
        return self.envelope(
            "CloudWatch Alarm State Change", "aws.cloudwatch", detail, resources=[arn]
        )

    def service_action(
        self, service: str, name: str, reason: str | None = None, providers: tuple[str, ...] = ()
    ) -> dict[str, Any]:
        """``ECS Service Action`` ``name`` (e.g. SERVICE_STEADY_STATE) of ``service``."""
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
        return self.envelope("ECS Service Action", "aws.ecs", detail, resources=[arn])

    def spot_warning(self, instance_id: str) -> dict[str, Any]:
        """``EC2 Spot Instance Interruption Warning`` for ``instance_id``."""
        detail = {"instance-id": instance_id, "instance-action": "terminate"}
        arn = f"arn:aws:ec2:{REGION}:{ACCOUNT}:instance/{instance_id}"
        return self.envelope(
            "EC2 Spot Instance Interruption Warning", "aws.ec2", detail, resources=[arn]
        )

    # -- notices ----------------------------------------------------------------------------
    def tap_bus(self, source: str = "ecs-autopilot") -> None:
        """From now on, keep the events of ``source`` put on the default bus (a rule with an
        SQS target, as EventBridge delivers them): ``bus_events`` reads them."""
        queue = self.sqs.create_queue(QueueName="bus-tap")["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])
        self.events.put_rule(Name="bus-tap", EventPattern=json.dumps({"source": [source]}))
        self.events.put_targets(
            Rule="bus-tap", Targets=[{"Id": "tap", "Arn": arn["Attributes"]["QueueArn"]}]
        )
        self._bus_tap = queue

    def bus_events(self) -> list[dict[str, Any]]:
        """The events the tap (``tap_bus``) kept since the last read, as the bus delivered
        them (the envelope EventBridge builds: id, time, account, region, detail)."""
        assert self._bus_tap is not None, "tap_bus() first"
        out: list[dict[str, Any]] = []
        while True:
            messages = self.sqs.receive_message(QueueUrl=self._bus_tap, MaxNumberOfMessages=10).get(
                "Messages", []
            )
            if not messages:
                return out
            for m in messages:
                event = json.loads(m["Body"])
                # moto's SQS target leaves out the envelope's account, which EventBridge sets
                event.setdefault("account", ACCOUNT)
                out.append(event)
                self.sqs.delete_message(QueueUrl=self._bus_tap, ReceiptHandle=m["ReceiptHandle"])

    def notices(self) -> list[dict[str, Any]]:
        """The notices published since the last read: subject, attributes, message."""
        out: list[dict[str, Any]] = []
        while True:
            messages = self.sqs.receive_message(
                QueueUrl=self.queue_url, MaxNumberOfMessages=10
            ).get("Messages", [])
            if not messages:
                return out
            for m in messages:
                body = json.loads(m["Body"])
                out.append(
                    {
                        "subject": body.get("Subject"),
                        "attributes": {
                            k: v["Value"] for k, v in body.get("MessageAttributes", {}).items()
                        },
                        "message": json.loads(body["Message"]),
                    }
                )
                self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=m["ReceiptHandle"])
