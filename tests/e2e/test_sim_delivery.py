"""The sandbox's ECS delivery machinery that moto lacks, through real boto3 against a
sandbox server with the simulator running one plain service (no stacks): the service
deployments' and revisions' records (DescribeServiceDeployments, DescribeServiceRevisions)
and ContinueServiceDeployment's refusals."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from sandbox import moto_adjustments as adj
from sandbox.router import Router
from sandbox.server import Clients, MotoServer
from sandbox.simulator import Simulator
from sandbox.timeline import Timeline

IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/demo/app@sha256:"


@dataclass
class Estate:
    clients: Clients
    sim: Simulator
    cluster: str
    service: str

    def ecs(self) -> Any:
        return self.clients("ecs")

    def task_definition(self, digest_char: str) -> str:
        arn: str = self.ecs().register_task_definition(
            family="app",
            containerDefinitions=[
                {"name": "app", "image": IMAGE + digest_char * 64, "memory": 128}
            ],
        )["taskDefinition"]["taskDefinitionArn"]
        return arn

    def deploy(self, td: str, **config: Any) -> dict[str, Any]:
        """UpdateService to ``td`` (with ``deploymentConfiguration`` ``config``), settled;
        the newest service deployment, as ListServiceDeployments lists it."""
        kwargs: dict[str, Any] = {"deploymentConfiguration": config} if config else {}
        self.ecs().update_service(
            cluster=self.cluster, service=self.service, taskDefinition=td, **kwargs
        )
        self.sim.settle()
        return self.deployments()[0]

    def deployments(self) -> list[dict[str, Any]]:
        listed: list[dict[str, Any]] = self.ecs().list_service_deployments(
            cluster=self.cluster, service=self.service
        )["serviceDeployments"]
        return listed


@pytest.fixture
def estate() -> Iterator[Estate]:
    """A service of its own cluster (moto's backends are process-wide: the package's
    sandbox, if up, keeps its clusters and its backend patches)."""
    already = bool(adj._ORIGINALS)
    server = MotoServer().start()
    clients = Clients(server.endpoint)
    ecs = clients("ecs")
    cluster = ecs.create_cluster(clusterName=f"sim-delivery-{secrets.token_hex(3)}")["cluster"][
        "clusterArn"
    ]
    try:
        est = Estate(clients, None, cluster, "app")  # type: ignore[arg-type]
        td = est.task_definition("a")
        ecs.create_service(cluster=cluster, serviceName="app", taskDefinition=td, desiredCount=2)
        router = Router(clients).load()
        est.sim = Simulator(clients, router, [], Timeline(), clusters=[cluster]).start()
        yield est
    finally:
        ecs.delete_service(cluster=cluster, service="app", force=True)
        ecs.delete_cluster(cluster=cluster)
        if not already:
            adj.restore_backends()
        server.stop()


def test_describe_service_deployments_and_revisions_tell_one_revision_arn(
    estate: Estate,
) -> None:
    ecs = estate.ecs()
    old = estate.deployments()[0]
    new_td = estate.task_definition("b")
    brief = estate.deploy(
        new_td,
        deploymentCircuitBreaker={"enable": True, "rollback": True},
        bakeTimeInMinutes=0,
    )
    assert brief["status"] == "SUCCESSFUL"
    answer = ecs.describe_service_deployments(
        serviceDeploymentArns=[brief["serviceDeploymentArn"], brief["serviceDeploymentArn"] + "x"]
    )
    (sd,) = answer["serviceDeployments"]
    assert answer["failures"] == [{"arn": brief["serviceDeploymentArn"] + "x", "reason": "MISSING"}]
    assert sd["serviceArn"].endswith("/app")
    assert sd["clusterArn"] == estate.cluster
    assert sd["status"] == "SUCCESSFUL"
    assert sd["targetServiceRevision"]["arn"] == brief["targetServiceRevisionArn"]
    assert sd["targetServiceRevision"]["runningTaskCount"] == 2
    assert sd["deploymentConfiguration"]["deploymentCircuitBreaker"]["rollback"] is True
    assert sd["deploymentConfiguration"]["strategy"] == "ROLLING"
    assert sd["deploymentCircuitBreaker"]["status"] == "MONITORING_COMPLETE"
    assert sd["alarms"]["status"] == "DISABLED"
    assert "finishedAt" in sd

    revs = ecs.describe_service_revisions(
        serviceRevisionArns=[
            brief["targetServiceRevisionArn"],
            old["targetServiceRevisionArn"],
            brief["targetServiceRevisionArn"] + "9",
        ]
    )
    new_rev, old_rev = revs["serviceRevisions"]
    assert revs["failures"][0]["reason"] == "MISSING"
    assert new_rev["serviceRevisionArn"] == brief["targetServiceRevisionArn"]
    assert new_rev["taskDefinition"] == new_td
    assert new_rev["containerImages"] == [
        {"containerName": "app", "image": IMAGE + "b" * 64, "imageDigest": "sha256:" + "b" * 64}
    ]
    assert old_rev["containerImages"][0]["imageDigest"] == "sha256:" + "a" * 64
    assert new_rev["serviceArn"] == sd["serviceArn"]


def test_a_stopped_deployment_is_described_with_its_rollback(estate: Estate) -> None:
    ecs = estate.ecs()
    old = estate.deployments()[0]
    estate.sim.state.stalling.add("sha256:" + "c" * 64)
    brief = estate.deploy(estate.task_definition("c"))
    assert brief["status"] == "IN_PROGRESS"
    (sd,) = ecs.describe_service_deployments(serviceDeploymentArns=[brief["serviceDeploymentArn"]])[
        "serviceDeployments"
    ]
    assert sd["status"] == "IN_PROGRESS"
    assert [s["arn"] for s in sd["sourceServiceRevisions"]] == [old["targetServiceRevisionArn"]]
    assert "finishedAt" not in sd
    ecs.stop_service_deployment(serviceDeploymentArn=brief["serviceDeploymentArn"])
    estate.sim.settle()
    (sd,) = ecs.describe_service_deployments(serviceDeploymentArns=[brief["serviceDeploymentArn"]])[
        "serviceDeployments"
    ]
    assert sd["status"] == "ROLLBACK_SUCCESSFUL"
    assert sd["rollback"]["serviceRevisionArn"] == old["targetServiceRevisionArn"]
    assert "StopServiceDeployment ROLLBACK" in sd["rollback"]["reason"]


def test_continue_service_deployment_refuses_what_ecs_refuses(estate: Estate) -> None:
    ecs = estate.ecs()
    brief = estate.deploy(estate.task_definition("d"))
    arn = brief["serviceDeploymentArn"]
    with pytest.raises(ecs.exceptions.ServiceDeploymentNotFoundException):
        ecs.continue_service_deployment(serviceDeploymentArn=arn + "0", hookId="ecs-pause-x")
    with pytest.raises(ecs.exceptions.InvalidParameterException):
        ecs.continue_service_deployment(serviceDeploymentArn=arn, hookId="ecs-pause-x")
    with pytest.raises(ecs.exceptions.InvalidParameterException):
        ecs.continue_service_deployment(
            serviceDeploymentArn=arn, hookId="ecs-pause-x", action="SKIP"
        )
