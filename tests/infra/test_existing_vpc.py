"""The other network shape: an existing VPC, described in full (no look-up, no credentials)."""

from __future__ import annotations

from pathlib import Path

import yaml
from aws_cdk import App

from infra.app_builder import build
from infra.config import AutopilotConfig
from tests.infra.conftest import REPO, cdk_context

EXISTING = {
    "vpc_id": "vpc-0123456789abcdef0",
    "availability_zones": ["eu-west-1a", "eu-west-1b", "eu-west-1c"],
    "public_subnet_ids": [
        "subnet-0aaaaaaaaaaaaaaa1",
        "subnet-0aaaaaaaaaaaaaaa2",
        "subnet-0aaaaaaaaaaaaaaa3",
    ],
    "private_subnet_ids": [
        "subnet-0bbbbbbbbbbbbbbb1",
        "subnet-0bbbbbbbbbbbbbbb2",
        "subnet-0bbbbbbbbbbbbbbb3",
    ],
}


def test_existing_vpc_synthesizes_through_the_gate(tmp_path: Path) -> None:
    # Given the demo config on an existing VPC
    data = yaml.safe_load((REPO / "config" / "demo.yaml").read_text())
    data["environment"] = "brownfield"
    data["network"] = {"existing_vpc": EXISTING}
    config = AutopilotConfig.model_validate(data)
    # When it is synthesized with cdk-nag on
    app = App(outdir=str(tmp_path), context=cdk_context())
    stacks = build(app, config)
    assembly = app.synth()
    assert stacks.estate is not None
    stack = stacks.estate
    template = assembly.get_stack_by_name(stack.stack_name).template
    # Then no network is created, and tasks, instances and the load balancer use its subnets
    types = {r["Type"] for r in template["Resources"].values()}
    assert not types & {"AWS::EC2::VPC", "AWS::EC2::Subnet", "AWS::EC2::NatGateway"}
    assert "Custom::VpcRestrictDefaultSG" not in types
    (asg,) = [
        r
        for r in template["Resources"].values()
        if r["Type"] == "AWS::AutoScaling::AutoScalingGroup"
    ]
    assert asg["Properties"]["VPCZoneIdentifier"] == EXISTING["private_subnet_ids"]
    (alb,) = [
        r
        for r in template["Resources"].values()
        if r["Type"] == "AWS::ElasticLoadBalancingV2::LoadBalancer"
    ]
    assert alb["Properties"]["Subnets"] == EXISTING["public_subnet_ids"]
    services = [r for r in template["Resources"].values() if r["Type"] == "AWS::ECS::Service"]
    for svc in services:
        subnets = svc["Properties"]["NetworkConfiguration"]["AwsvpcConfiguration"]["Subnets"]
        assert subnets == EXISTING["private_subnet_ids"]
    assert stack.stack_name == "EcsAutopilot-brownfield-estate"
    assert stacks.control.stack_name == "EcsAutopilot-brownfield"
