"""Admission that cannot be bypassed, end to end in the sandbox: a blue/green deployment of
a quarantined digest started outside autopilot (a plain boto3 UpdateService) reaches
PRE_SCALE_UP, ECS (the simulator) invokes the real admission handler as the Lambda hook
with ECS's payload, the hook answers FAILED and the deployment is rolled back; a clean
digest goes through. The ledger records both answers and the refusal is announced."""

from __future__ import annotations

import io
import json
import secrets
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from autopilot.store.ledger import Ledger

from sandbox.server import Clients
from sandbox.simulator import Simulator
from sandbox.simulator.registry import hold_scan
from tests.e2e.plain_sandbox import PlainSandbox, fargate_task_definition, plain_sandbox

ACCOUNT, REGION = "123456789012", "us-east-1"


def admission_answers(hooked: Hooked) -> list[str]:
    """The admission hook's answers so far, in order."""
    return [
        str((answer or {}).get("hookStatus"))
        for fn, _payload, answer in hooked.sim.delivery.invocations
        if "admission" in fn
    ]


@dataclass
class Hooked:
    clients: Clients
    sim: Simulator
    cluster: str
    service: str
    ledger: Ledger
    queue_url: str
    hook: dict[str, Any]
    repo: str

    def ecs(self) -> Any:
        return self.clients("ecs")

    def push(self, tag: str, findings: dict[str, int] | None) -> str:
        """An image in ECR, scanned with ``findings`` (None: its scan has not finished);
        its digest."""
        ecr = self.clients("ecr")
        layer = "sha256:" + secrets.token_hex(32)
        manifest = {
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {
                "mediaType": "application/vnd.docker.container.image.v1+json",
                "size": 1,
                "digest": layer,
            },
            "layers": [
                {
                    "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                    "size": 1,
                    "digest": layer,
                }
            ],
        }
        digest: str = ecr.put_image(
            repositoryName=self.repo, imageManifest=json.dumps(manifest), imageTag=tag
        )["image"]["imageId"]["imageDigest"]
        if findings is not None:
            self.scanned(digest, findings)
        return digest

    def scanned(self, digest: str, findings: dict[str, int]) -> None:
        """ECR's scan of ``digest`` finishes with ``findings``."""
        ecr = self.clients("ecr")
        (repo,) = ecr.describe_repositories(repositoryNames=[self.repo])["repositories"]
        hold_scan(dict(repo), digest, findings, "basic")

    def task_definition(self, digest: str) -> str:
        image = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/{self.repo}@{digest}"
        return fargate_task_definition(self.clients, "admitted", image)

    def deploy_outside(self, td: str) -> dict[str, Any]:
        """What a cdk deploy or the console does: UpdateService, nothing of autopilot's."""
        self.ecs().update_service(
            cluster=self.cluster,
            service=self.service,
            taskDefinition=td,
            deploymentConfiguration={
                "strategy": "BLUE_GREEN",
                "bakeTimeInMinutes": 0,
                "lifecycleHooks": [self.hook],
            },
        )
        self.sim.settle()
        listed: list[dict[str, Any]] = self.ecs().list_service_deployments(
            cluster=self.cluster, service=self.service
        )["serviceDeployments"]
        return listed[0]

    def running(self) -> set[str]:
        return {t.task_definition_arn for t in self.sim.service(self.service).running()}

    def notices(self) -> list[dict[str, Any]]:
        sqs = self.clients("sqs")
        got = sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10)
        return [json.loads(m["Body"]) for m in got.get("Messages", [])]


@pytest.fixture
def hooked() -> Iterator[Hooked]:
    """A cluster the admission function manages, its service tracking its repository, the ledger
    table and notices topic, and the admission handler deployed as a Lambda function."""
    with plain_sandbox("admission") as box:
        yield from _hooked(box)


def _hooked(box: PlainSandbox) -> Iterator[Hooked]:
    clients, cluster, suffix = box.clients, box.cluster, box.suffix
    table = box.ledger_table()
    db = clients("dynamodb")
    topic = clients("sns").create_topic(Name=f"notices-{suffix}")["TopicArn"]
    sqs = clients("sqs")
    queue_url = sqs.create_queue(QueueName=f"notices-{suffix}")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    clients("sns").subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    role = clients("iam").create_role(
        RoleName=f"admission-{suffix}", AssumeRolePolicyDocument="{}"
    )["Role"]["Arn"]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("index.py", "def handler(e, c):\n    return {}\n")
    function = clients("lambda").create_function(
        FunctionName=f"demo-admission-{suffix}",
        Runtime="python3.13",
        Role=role,
        Handler="autopilot.handlers.admission.handler",
        Timeout=60,
        Code={"ZipFile": buf.getvalue()},
        Environment={
            "Variables": {
                "POWERTOOLS_SERVICE_NAME": "admission",
                "POWERTOOLS_METRICS_NAMESPACE": "EcsAutopilot",
                "POWERTOOLS_TRACE_DISABLED": "true",
                "LEDGER_TABLE": table,
                "NOTICES_TOPIC_ARN": topic,
                "CLUSTER_ARNS": cluster,
            }
        },
    )["FunctionArn"]
    repo = f"demo/admitted-{suffix}"
    clients("ecr").create_repository(repositoryName=repo)
    hook = {
        "targetType": "AWS_LAMBDA",
        "hookTargetArn": function,
        "roleArn": f"arn:aws:iam::{ACCOUNT}:role/demo-admission-hook",
        "lifecycleStages": ["PRE_SCALE_UP"],
    }
    sim: Any = None  # started below, once the service exists
    est = Hooked(clients, sim, cluster, "web", Ledger(db, table), queue_url, hook, repo)
    first = est.push("v1.0.0", {"LOW": 1})
    box.fargate_service("web", est.task_definition(first), tags={"autopilot:repository": repo})
    est.sim = box.simulator()
    yield est


def test_a_quarantined_digest_deployed_outside_autopilot_is_refused_and_rolled_back(
    hooked: Hooked,
) -> None:
    before = hooked.running()
    service_arn = hooked.sim.service(hooked.service).arn
    bad = hooked.push("v1.1.0", {})
    hooked.ledger.state.quarantine(service_arn, bad, reason="circuit breaker", event_id="e-0")
    # When someone deploys the quarantined digest with a plain UpdateService
    brief = hooked.deploy_outside(hooked.task_definition(bad))
    # Then ECS's hook call is answered FAILED and ECS rolls the deployment back
    assert brief["status"] == "ROLLBACK_SUCCESSFUL"
    assert hooked.running() == before
    (call,) = [c for c in hooked.sim.delivery.invocations if "admission" in c[0]]
    _fn, payload, answer = call
    assert payload["lifecycleStage"] == "PRE_SCALE_UP"
    assert answer is not None
    assert answer["hookStatus"] == "FAILED"
    assert "quarantined" in answer["hookDetails"]["reason"]
    (recorded,) = hooked.ledger.decisions.list(service_arn)
    assert recorded["outcome"] == "quarantined"
    (notice,) = hooked.notices()
    assert bad in notice["Message"]


def test_a_clean_digest_deployed_outside_autopilot_goes_through(hooked: Hooked) -> None:
    clean = hooked.push("v1.2.0", {"LOW": 2})
    td = hooked.task_definition(clean)
    brief = hooked.deploy_outside(td)
    assert brief["status"] == "SUCCESSFUL"
    assert hooked.running() == {td}
    service_arn = hooked.sim.service(hooked.service).arn
    (recorded,) = hooked.ledger.decisions.list(service_arn)
    assert recorded["outcome"] == "admitted"


def test_a_digest_still_being_scanned_waits_at_the_hook_and_goes_through_once_clean(
    hooked: Hooked,
) -> None:
    unscanned = hooked.push("v1.3.0", None)
    td = hooked.task_definition(unscanned)
    # When it is deployed outside autopilot before ECR's scan has finished
    brief = hooked.deploy_outside(td)
    # Then the hook answers IN_PROGRESS: ECS holds the deployment at PRE_SCALE_UP
    assert brief["status"] == "IN_PROGRESS"
    assert admission_answers(hooked) == ["IN_PROGRESS"]
    # ... and asks again a minute later, passing back when the wait began
    hooked.sim.advance(1)
    assert admission_answers(hooked) == ["IN_PROGRESS", "IN_PROGRESS"]
    second = [p for fn, p, _a in hooked.sim.delivery.invocations if "admission" in fn][1]
    assert "autopilotAwaitingScanSince" in second["hookDetails"]
    # When the scan finishes clean, the next ask admits it and the deployment completes
    hooked.scanned(unscanned, {"LOW": 1})
    hooked.sim.advance(1)
    assert admission_answers(hooked) == ["IN_PROGRESS", "IN_PROGRESS", "SUCCEEDED"]
    hooked.sim.settle()
    assert hooked.running() == {td}
    service_arn = hooked.sim.service(hooked.service).arn
    outcomes = [d["outcome"] for d in hooked.ledger.decisions.list(service_arn)]
    assert sorted(outcomes) == ["admitted", "awaiting-scan", "awaiting-scan"]
    assert hooked.notices() == []
