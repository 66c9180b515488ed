"""A sandbox with no stacks, for the tests of ECS's delivery machinery: a moto server of its
own, one cluster, Fargate services made by hand, the ledger table if asked for, and the
simulator over that cluster.

moto's backends are process-wide: the package's sandbox, if up, keeps its clusters and its
backend patches, so the backend patches are undone at the end only if this sandbox put
them in place.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sandbox import moto_adjustments as adj
from sandbox.router import Router
from sandbox.server import Clients, MotoServer
from sandbox.simulator import Simulator
from sandbox.timeline import Timeline
from tests.estate import create_ledger_table

#: an image of the account's ``demo/app`` repository, by digest (add the 64 hex digits)
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/demo/app@sha256:"


@dataclass
class PlainSandbox:
    clients: Clients
    cluster: str
    #: a random suffix for the names of what the test makes
    suffix: str

    def fargate_service(
        self, name: str, task_definition: str, *, tags: dict[str, str] | None = None
    ) -> str:
        """A Fargate service of two tasks in the cluster, in two of the default subnets."""
        subnets = [sn["SubnetId"] for sn in self.clients("ec2").describe_subnets()["Subnets"][:2]]
        arn: str = self.clients("ecs").create_service(
            cluster=self.cluster,
            serviceName=name,
            taskDefinition=task_definition,
            desiredCount=2,
            launchType="FARGATE",
            networkConfiguration={
                "awsvpcConfiguration": {"subnets": subnets, "securityGroups": []}
            },
            tags=[{"key": k, "value": v} for k, v in (tags or {}).items()],
        )["service"]["serviceArn"]
        return arn

    def task_definition(self, family: str, image: str) -> str:
        """A Fargate task definition of one container ``app`` running ``image``."""
        return fargate_task_definition(self.clients, family, image)

    def alarm(self, name: str) -> dict[str, Any]:
        """A target 5xx alarm named ``name``: ``deployment_alarm``."""
        return deployment_alarm(self.clients, name)

    def function_environment(self, table: str, topic: str) -> dict[str, str]:
        """What the control plane's functions find in their environment, for this cluster,
        ``table`` and the notices ``topic`` (tracing off)."""
        return {
            "LEDGER_TABLE": table,
            "CLUSTER_ARNS": self.cluster,
            "NOTICES_TOPIC_ARN": topic,
            "POWERTOOLS_METRICS_NAMESPACE": "EcsAutopilot",
            "POWERTOOLS_SERVICE_NAME": "autopilot",
            "POWERTOOLS_TRACE_DISABLED": "true",
        }

    def ledger_table(self) -> str:
        """The ledger's table (its keys as the control plane makes it)."""
        table = f"ledger-{self.suffix}"
        create_ledger_table(self.clients("dynamodb"), table)
        return table

    def simulator(self) -> Simulator:
        """The simulator over the cluster, its services found and running."""
        router = Router(self.clients).load()
        return Simulator(self.clients, router, [], Timeline(), clusters=[self.cluster]).start()


def fargate_task_definition(clients: Clients, family: str, image: str) -> str:
    """A Fargate task definition of one container ``app`` running ``image``."""
    arn: str = clients("ecs").register_task_definition(
        family=family,
        containerDefinitions=[{"name": "app", "image": image, "memory": 512}],
        requiresCompatibilities=["FARGATE"],
        networkMode="awsvpc",
        cpu="256",
        memory="512",
    )["taskDefinition"]["taskDefinitionArn"]
    return arn


def deployment_alarm(clients: Clients, name: str) -> dict[str, Any]:
    """A target 5xx alarm named ``name`` (state OK); the ``deploymentConfiguration.alarms``
    that makes it roll a deployment back."""
    clients("cloudwatch").put_metric_alarm(
        AlarmName=name,
        MetricName="HTTPCode_Target_5XX_Count",
        Namespace="AWS/ApplicationELB",
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=5.0,
        ComparisonOperator="GreaterThanThreshold",
    )
    return {"alarmNames": [name], "enable": True, "rollback": True}


@contextlib.contextmanager
def plain_sandbox(prefix: str) -> Iterator[PlainSandbox]:
    """A moto server and a cluster ``<prefix>-<suffix>``; gone after, with their services."""
    already = bool(adj._ORIGINALS)
    server = MotoServer().start()
    clients = Clients(server.endpoint)
    ecs: Any = clients("ecs")
    suffix = secrets.token_hex(3)
    cluster = ecs.create_cluster(clusterName=f"{prefix}-{suffix}")["cluster"]["clusterArn"]
    try:
        yield PlainSandbox(clients, cluster, suffix)
    finally:
        with contextlib.suppress(Exception):
            for arn in ecs.list_services(cluster=cluster)["serviceArns"]:
                ecs.delete_service(cluster=cluster, service=arn, force=True)
            ecs.delete_cluster(cluster=cluster)
        if not already:
            adj.restore_backends()
        server.stop()
