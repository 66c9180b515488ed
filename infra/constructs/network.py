"""Network: a new VPC over three AZs (public + private subnets, flow logs) or an imported one."""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import RemovalPolicy
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.config import ExistingVpc, NewVpc


@dataclass(frozen=True)
class NetworkProps:
    """Exactly one of ``new_vpc`` / ``existing_vpc``.

    ``log_retention``: retention of the flow-log group (default one month).
    ``removal_policy``: of the flow-log group (default RETAIN).
    """

    new_vpc: NewVpc | None = None
    existing_vpc: ExistingVpc | None = None
    log_retention: logs.RetentionDays = logs.RetentionDays.ONE_MONTH
    removal_policy: RemovalPolicy = RemovalPolicy.RETAIN


class Network(Construct):
    """Exposes ``vpc``, ``private_subnets`` (tasks and instances), ``flow_log_group``."""

    def __init__(self, scope: Construct, construct_id: str, *, props: NetworkProps) -> None:
        super().__init__(scope, construct_id)
        self.flow_log_group: logs.ILogGroup | None = None
        if props.new_vpc is not None:
            cfg = props.new_vpc
            self.flow_log_group = logs.LogGroup(
                self,
                "FlowLogs",
                retention=props.log_retention,
                removal_policy=props.removal_policy,
            )
            self.vpc: ec2.IVpc = ec2.Vpc(
                self,
                "Vpc",
                ip_addresses=ec2.IpAddresses.cidr(cfg.cidr),
                max_azs=cfg.max_azs,
                nat_gateways=cfg.nat_gateways,
                subnet_configuration=[
                    ec2.SubnetConfiguration(
                        name="public", subnet_type=ec2.SubnetType.PUBLIC, cidr_mask=22
                    ),
                    ec2.SubnetConfiguration(
                        name="private",
                        subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS,
                        cidr_mask=20,
                    ),
                ],
                flow_logs={
                    "all": ec2.FlowLogOptions(
                        destination=ec2.FlowLogDestination.to_cloud_watch_logs(self.flow_log_group),
                        traffic_type=ec2.FlowLogTrafficType.ALL,
                    )
                },
            )
        elif props.existing_vpc is not None:
            cfg_x = props.existing_vpc
            # Described in full (no Vpc.from_lookup): synth needs no credentials.
            self.vpc = ec2.Vpc.from_vpc_attributes(
                self,
                "Vpc",
                vpc_id=cfg_x.vpc_id,
                availability_zones=list(cfg_x.availability_zones),
                public_subnet_ids=list(cfg_x.public_subnet_ids),
                private_subnet_ids=list(cfg_x.private_subnet_ids),
            )
        else:
            raise ValueError("NetworkProps needs new_vpc or existing_vpc")
        self.private_subnets = ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS)
        self.public_subnets = ec2.SubnetSelection(subnet_type=ec2.SubnetType.PUBLIC)
