"""Handler tier: the real handlers against moto's ``mock_aws``.

``world`` builds an account with the ledger table, the notices topic (with an SQS queue
subscribed, to read notices back), a cluster, ECR repositories, images and tagged
services, and makes events of the real shapes. moto's gaps are filled here, in the open:
deployments never progress, so ``world.start_deployment`` writes the service's
deployment list the way ECS would after an UpdateService.
"""

from __future__ import annotations

import json
import os
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from autopilot.aws.clients import AwsClients
from autopilot.store.ledger import Ledger
from moto import mock_aws
from moto.ecr.models import ecr_backends
from moto.ecs.models import ecs_backends

# Powertools reads these when the handler modules are imported (as Lambda sets them
# before the import): set them before the test modules import the handlers.
os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "autopilot")
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "EcsAutopilot")
os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")

ACCOUNT = "123456789012"
REGION = "us-east-1"
CLUSTER = "demo-cluster"
CLUSTER_ARN = f"arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/{CLUSTER}"
TABLE = "autopilot-ledger"
REGISTRY = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com"
READ_ONLY = {
    "taskDefinitionArn",
    "revision",
    "status",
    "requiresAttributes",
    "compatibilities",
    "registeredAt",
    "registeredBy",
    "deregisteredAt",
}


class LambdaContext:
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


class World:
    def __init__(self) -> None:
        self.ecs = boto3.client("ecs", region_name=REGION)
        self.ecr = boto3.client("ecr", region_name=REGION)
        self.tagging = boto3.client("resourcegroupstaggingapi", region_name=REGION)
        self.dynamodb = boto3.client("dynamodb", region_name=REGION)
        self.sns = boto3.client("sns", region_name=REGION)
        self.sqs = boto3.client("sqs", region_name=REGION)
        self.calls: Counter[str] = Counter()
        for client in (self.ecs, self.ecr, self.tagging, self.dynamodb, self.sns):
            client.meta.events.register("before-call", self._count)
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
        self.topic_arn = self.sns.create_topic(Name="autopilot-notices")["TopicArn"]
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
        self.repos: set[str] = set()
        self._clock = datetime(2026, 1, 1, tzinfo=UTC)
        self.ledger = Ledger(self.dynamodb, TABLE)
        self.calls.clear()

    # -- call counting ------------------------------------------------------------
    def _count(self, event_name: str, **_: Any) -> None:
        # event_name: before-call.<service>.<Operation>
        _, service, operation = event_name.split(".", 2)
        self.calls[f"{service}:{operation}"] += 1

    def aws_calls(self, *, exclude: tuple[str, ...] = ("dynamodb", "sns")) -> dict[str, int]:
        return {k: v for k, v in self.calls.items() if k.split(":")[0] not in exclude}

    @property
    def clients(self) -> AwsClients:
        return AwsClients(
            ecs=self.ecs, ecr=self.ecr, tagging=self.tagging, dynamodb=self.dynamodb, sns=self.sns
        )

    # -- ECR --------------------------------------------------------------------------
    def repo(self, name: str) -> str:
        if name not in self.repos:
            self.ecr.create_repository(repositoryName=name)
            self.repos.add(name)
        return name

    def push(self, repo: str, tag: str | None, *, layer: str | None = None) -> str:
        """Put an image (unique unless ``layer`` repeats) and return its digest.

        Each push is one minute after the previous one (moto stamps whole seconds)."""
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
        kwargs: dict[str, Any] = {"repositoryName": repo, "imageManifest": json.dumps(manifest)}
        if tag:
            kwargs["imageTag"] = tag
        digest: str = self.ecr.put_image(**kwargs)["image"]["imageId"]["imageDigest"]
        self._clock += timedelta(minutes=1)
        for image in ecr_backends[ACCOUNT][REGION].repositories[repo].images:
            if image.get_image_digest() == digest:
                image.image_pushed_at = int(self._clock.timestamp())
        self.calls.clear()
        return digest

    # -- ECS --------------------------------------------------------------------------
    def task_definition(self, family: str, image: str, **extra: Any) -> str:
        params: dict[str, Any] = {
            "family": family,
            "taskRoleArn": f"arn:aws:iam::{ACCOUNT}:role/{family}-task",
            "executionRoleArn": f"arn:aws:iam::{ACCOUNT}:role/{family}-execution",
            "networkMode": "awsvpc",
            "requiresCompatibilities": ["FARGATE"],
            "cpu": "256",
            "memory": "512",
            "runtimePlatform": {"cpuArchitecture": "ARM64", "operatingSystemFamily": "LINUX"},
            "volumes": [{"name": "scratch"}],
            "containerDefinitions": [
                {
                    "name": "app",
                    "image": image,
                    "essential": True,
                    "portMappings": [{"containerPort": 8080, "protocol": "tcp"}],
                    "environment": [{"name": "MODE", "value": "prod"}],
                    "mountPoints": [{"sourceVolume": "scratch", "containerPath": "/tmp"}],
                },
                {
                    "name": "sidecar",
                    "image": "public.ecr.aws/aws-observability/aws-otel-collector:v0.40.0",
                    "essential": False,
                },
            ],
            "tags": [{"key": "team", "value": "payments"}],
        }
        params.update(extra)
        arn: str = self.ecs.register_task_definition(**params)["taskDefinition"][
            "taskDefinitionArn"
        ]
        self.calls.clear()
        return arn

    def service(
        self,
        name: str,
        repo: str,
        *,
        tag: str | None = None,
        digest: str | None = None,
        tags: dict[str, str] | None = None,
        track: bool = True,
    ) -> str:
        self.repo(repo)
        ref = f"{REGISTRY}/{repo}" + (f"@{digest}" if digest else f":{tag or 'latest'}")
        td = self.task_definition(name, ref)
        all_tags = dict(tags or {})
        if track:
            all_tags.setdefault("autopilot:repository", repo)
        arn: str = self.ecs.create_service(
            cluster=CLUSTER,
            serviceName=name,
            taskDefinition=td,
            desiredCount=2,
            tags=[{"key": k, "value": v} for k, v in all_tags.items()],
        )["service"]["serviceArn"]
        self.calls.clear()
        return arn

    def describe(self, service_arn: str) -> dict[str, Any]:
        svc: dict[str, Any] = self.ecs.describe_services(
            cluster=CLUSTER, services=[service_arn], include=["TAGS"]
        )["services"][0]
        return svc

    def running_td(self, service_arn: str) -> dict[str, Any]:
        arn = self.describe(service_arn)["taskDefinition"]
        td: dict[str, Any] = self.ecs.describe_task_definition(taskDefinition=arn)["taskDefinition"]
        return td

    def running_image(self, service_arn: str) -> str:
        return str(self.running_td(service_arn)["containerDefinitions"][0]["image"])

    def revisions(self, family: str) -> list[str]:
        return list(self.ecs.list_task_definitions(familyPrefix=family)["taskDefinitionArns"])

    def start_deployment(self, service_arn: str, *, rollback: bool = False) -> str:
        """What ECS does after UpdateService (moto does not): a new PRIMARY deployment."""
        name = service_arn.rsplit("/", 1)[-1]
        svc = ecs_backends[ACCOUNT][REGION].services[f"{CLUSTER}:{name}"]
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
            svc.deployment_configuration = {
                "deploymentCircuitBreaker": {"enable": True, "rollback": True}
            }
        return deployment_id

    def finish_deployment(self, service_arn: str) -> None:
        name = service_arn.rsplit("/", 1)[-1]
        svc = ecs_backends[ACCOUNT][REGION].services[f"{CLUSTER}:{name}"]
        svc.deployments = [d for d in svc.deployments if d["status"] == "PRIMARY"]

    # -- events -----------------------------------------------------------------------
    def _event(
        self, detail_type: str, source: str, detail: dict[str, Any], **kw: Any
    ) -> dict[str, Any]:
        self._clock += timedelta(seconds=1)
        return {
            "version": "0",
            "id": kw.get("event_id") or str(uuid.uuid4()),
            "detail-type": detail_type,
            "source": source,
            "account": ACCOUNT,
            "time": self._clock.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "region": REGION,
            "resources": kw.get("resources", []),
            "detail": detail,
        }

    def push_event(
        self, repo: str, digest: str, tag: str | None, *, event_id: str | None = None
    ) -> dict[str, Any]:
        detail: dict[str, Any] = {
            "result": "SUCCESS",
            "repository-name": repo,
            "image-digest": digest,
            "action-type": "PUSH",
        }
        if tag:
            detail["image-tag"] = tag
        return self._event("ECR Image Action", "aws.ecr", detail, event_id=event_id)

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
    ) -> dict[str, Any]:
        repo_arn = f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/{repo}"
        detail: dict[str, Any] = {
            "scan-status": status,
            "repository-name": repo_arn if inspector else repo,
            "finding-severity-counts": dict(counts or {}),
            "image-digest": digest,
            "image-tags": tags or [],
        }
        if inspector:
            detail["finding-severity-counts"].setdefault("TOTAL", sum((counts or {}).values()))
            detail["version"] = "1.0"
            return self._event(
                "Inspector2 Scan", "aws.inspector2", detail, resources=[repo_arn], event_id=event_id
            )
        return self._event(
            "ECR Image Scan", "aws.ecr", detail, resources=[repo_arn], event_id=event_id
        )

    def deployment_event(
        self, service_arn: str, name: str, deployment_id: str, reason: str = ""
    ) -> dict[str, Any]:
        event_type = "ERROR" if name == "FAILED" else "INFO"
        detail = {
            "eventType": event_type,
            "eventName": f"SERVICE_DEPLOYMENT_{name}",
            "deploymentId": deployment_id,
            "updatedAt": self._clock.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "reason": reason or f"ECS deployment {deployment_id} {name.lower()}.",
        }
        return self._event(
            "ECS Deployment State Change", "aws.ecs", detail, resources=[service_arn]
        )

    # -- notices ----------------------------------------------------------------------
    def notices(self) -> list[dict[str, Any]]:
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


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "POWERTOOLS_SERVICE_NAME": "autopilot",
        "POWERTOOLS_METRICS_NAMESPACE": "EcsAutopilot",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "LEDGER_TABLE": TABLE,
        "NOTICES_TOPIC_ARN": f"arn:aws:sns:{REGION}:{ACCOUNT}:autopilot-notices",
        "CLUSTER_ARN": CLUSTER_ARN,
        "LEASE_SECONDS": "60",
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)


@pytest.fixture
def world(aws_env: None) -> Iterator[World]:
    with mock_aws():
        yield World()


@pytest.fixture
def context() -> LambdaContext:
    return LambdaContext()
