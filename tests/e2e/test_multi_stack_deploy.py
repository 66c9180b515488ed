"""The sandbox deploys every stack of a cloud assembly, each after those it depends on, and
a stack's references to another's exports resolve (moto's ``Fn::ImportValue`` at create,
the resolver's at reconcile). The assembly here is written by hand: an estate stack (a
cluster, exported) listed after the stack that imports from it, under stack names that
differ from the artifact ids, as the CDK writes them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from autopilot import contract

from sandbox.deploy import deploy
from sandbox.intrinsics import Resolver, Unresolvable
from sandbox.server import Clients, MotoServer
from sandbox.synth import read_assembly

CLUSTER = "multi-stack-cluster"
ESTATE = {
    "Resources": {
        "Cluster": {"Type": "AWS::ECS::Cluster", "Properties": {"ClusterName": CLUSTER}},
    },
    "Outputs": {
        "ClusterArn": {
            "Value": {"Fn::GetAtt": ["Cluster", "Arn"]},
            "Export": {"Name": "Multi-estate:ClusterArn"},
        }
    },
}
SERVICES = {
    "Resources": {
        "Task": {
            "Type": "AWS::ECS::TaskDefinition",
            "Properties": {
                "Family": "multi-app",
                "ContainerDefinitions": [
                    {"Name": "app", "Image": "public.ecr.aws/nginx/nginx:1", "Memory": 128}
                ],
            },
        },
        "App": {
            "Type": "AWS::ECS::Service",
            "Properties": {
                "ServiceName": "multi-app",
                "Cluster": {"Fn::ImportValue": "Multi-estate:ClusterArn"},
                "TaskDefinition": {"Ref": "Task"},
                "DesiredCount": 0,
                "Tags": [{"Key": contract.TAG_REBALANCE, "Value": "on"}],
            },
        },
    },
    "Outputs": {"ServiceCluster": {"Value": {"Fn::ImportValue": "Multi-estate:ClusterArn"}}},
}


def _assembly(directory: Path) -> Path:
    (directory / "Services.template.json").write_text(json.dumps(SERVICES))
    (directory / "Estate.template.json").write_text(json.dumps(ESTATE))
    manifest: dict[str, Any] = {
        "version": "48.0.0",
        "artifacts": {
            # listed first, but it depends on the estate
            "MultiServices": {
                "type": "aws:cloudformation:stack",
                "properties": {
                    "templateFile": "Services.template.json",
                    "stackName": "Multi-services-2",
                },
                "dependencies": ["MultiEstate"],
            },
            "MultiEstate": {
                "type": "aws:cloudformation:stack",
                "properties": {"templateFile": "Estate.template.json", "stackName": "Multi-estate"},
            },
            "Tree": {"type": "cdk:tree", "properties": {"file": "tree.json"}},
        },
    }
    (directory / "manifest.json").write_text(json.dumps(manifest))
    return directory


@pytest.fixture(scope="module")
def server() -> Iterator[MotoServer]:
    srv = MotoServer().start()
    try:
        yield srv
    finally:
        srv.stop()


def test_the_stacks_are_read_in_dependency_order(tmp_path: Path) -> None:
    assembly = read_assembly(_assembly(tmp_path))

    assert [s.name for s in assembly.stacks] == ["Multi-estate", "Multi-services-2"]
    assert assembly.stack("Multi-services-2").dependencies == ["Multi-estate"]
    assert assembly.stack("Multi-estate").artifact_id == "MultiEstate"


def test_every_stack_is_deployed_and_imports_resolve(tmp_path: Path, server: MotoServer) -> None:
    clients = Clients(server.endpoint)

    stacks = deploy(clients, read_assembly(_assembly(tmp_path)))

    assert [s.name for s in stacks] == ["Multi-estate", "Multi-services-2"]
    cluster_arn = stacks[0].outputs["ClusterArn"]
    assert cluster_arn.endswith(f":cluster/{CLUSTER}")
    assert stacks[1].outputs["ServiceCluster"] == cluster_arn
    assert stacks[1].exports["Multi-estate:ClusterArn"] == cluster_arn
    # the reconcile step resolved the imported cluster: the service's tags are on it
    service = stacks[1].physical_ids["App"]
    ecs = clients("ecs")
    (described,) = ecs.describe_services(cluster=CLUSTER, services=[service], include=["TAGS"])[
        "services"
    ]
    assert {t["key"]: t["value"] for t in described["tags"]} == {contract.TAG_REBALANCE: "on"}


def test_the_resolver_answers_imports_and_says_which_is_missing() -> None:
    resolver = Resolver({}, {}, exports={"A:B": "value"})
    assert resolver.resolve({"Fn::ImportValue": "A:B"}) == "value"
    assert resolver.resolve({"Fn::ImportValue": {"Fn::Join": [":", ["A", "B"]]}}) == "value"
    with pytest.raises(Unresolvable, match="no stack exports it"):
        resolver.resolve({"Fn::ImportValue": "C"})
