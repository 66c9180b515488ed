"""Cluster: ECS with Container Insights, Fargate / Fargate Spot and EC2 capacity providers."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from aws_cdk import ArnFormat, Stack, Tags
from aws_cdk import aws_autoscaling as autoscaling
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sns as sns
from constructs import Construct

from infra.nag import acknowledge


@dataclass(frozen=True)
class ClusterProps:
    """The cluster and its EC2 capacity.

    ``instance_types``: allowed types, in order of preference (one launch template, an
    override per type). ``spot``: Spot instances above a base of 0 on-demand (default off).
    ``subnets``: where instances run (default: the VPC's private subnets, every AZ).
    ``notices_topic``: receives the Auto Scaling group's launch/terminate notifications.
    ``log_group_prefix``: the log groups the instances' agent may write to for a task that
    has no execution role (every task definition of this app has one); default: none.
    ``asg_tags``: tags on the Auto Scaling group only (not its instances), e.g. the
    ``autopilot:cluster`` tag that lets the control plane change its capacity.
    """

    vpc: ec2.IVpc
    cluster_name: str
    instance_types: tuple[str, ...]
    notices_topic: sns.ITopic
    min_capacity: int = 0
    max_capacity: int = 4
    spot: bool = False
    root_volume_gib: int = 30
    target_capacity_percent: int = 100
    subnets: ec2.SubnetSelection | None = None
    log_group_prefix: str | None = None
    asg_tags: Mapping[str, str] = field(default_factory=dict)


class Cluster(Construct):
    """Exposes ``cluster``, ``auto_scaling_group``, ``capacity_provider`` and ``instance_role``."""

    def __init__(self, scope: Construct, construct_id: str, *, props: ClusterProps) -> None:
        super().__init__(scope, construct_id)
        if not props.instance_types:
            raise ValueError("ClusterProps needs at least one instance type")
        self.name = props.cluster_name
        #: The EC2 capacity provider's physical name, as a plain string.
        self.capacity_provider_name = f"{props.cluster_name}-ec2"
        subnets = props.subnets or ec2.SubnetSelection(
            subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS
        )
        self.cluster = ecs.Cluster(
            self,
            "Cluster",
            vpc=props.vpc,
            cluster_name=props.cluster_name,
            container_insights_v2=ecs.ContainerInsights.ENABLED,
            enable_fargate_capacity_providers=True,
        )

        # Instances: no SSH key and no inbound rule; operators use SSM Session Manager.
        self.instance_security_group = ec2.SecurityGroup(
            self,
            "InstanceSecurityGroup",
            vpc=props.vpc,
            description=f"{props.cluster_name} container instances (no inbound)",
            allow_all_outbound=True,
        )
        self.instance_role = iam.Role(
            self,
            "InstanceRole",
            assumed_by=iam.ServicePrincipal("ec2.amazonaws.com"),
            description=f"{props.cluster_name} container instances",
            managed_policies=[
                iam.ManagedPolicy.from_aws_managed_policy_name("AmazonSSMManagedInstanceCore")
            ],
        )
        self.agent_policy = self._agent_policy(props)
        self.launch_template = ec2.LaunchTemplate(
            self,
            "LaunchTemplate",
            machine_image=ecs.EcsOptimizedImage.amazon_linux2023(ecs.AmiHardwareType.STANDARD),
            # CDK's cluster adds its ECS agent statements to the group's role, among them
            # logs:CreateLogStream/PutLogEvents on "*"; the group gets a view of the role that
            # takes no statements, and the agent's policy is written here, scoped.
            role=self.instance_role.without_policy_updates(),
            security_group=self.instance_security_group,
            user_data=ec2.UserData.for_linux(),
            require_imdsv2=True,
            http_put_response_hop_limit=1,
            block_devices=[
                ec2.BlockDevice(
                    device_name="/dev/xvda",
                    volume=ec2.BlockDeviceVolume.ebs(
                        props.root_volume_gib,
                        encrypted=True,
                        volume_type=ec2.EbsDeviceVolumeType.GP3,
                        delete_on_termination=True,
                    ),
                )
            ],
        )
        self.auto_scaling_group = autoscaling.AutoScalingGroup(
            self,
            "Instances",
            vpc=props.vpc,
            vpc_subnets=subnets,
            min_capacity=props.min_capacity,
            max_capacity=props.max_capacity,
            capacity_rebalance=props.spot,
            mixed_instances_policy=autoscaling.MixedInstancesPolicy(
                launch_template=self.launch_template,
                launch_template_overrides=[
                    autoscaling.LaunchTemplateOverrides(instance_type=ec2.InstanceType(t))
                    for t in props.instance_types
                ],
                instances_distribution=autoscaling.InstancesDistribution(
                    on_demand_base_capacity=0,
                    on_demand_percentage_above_base_capacity=0 if props.spot else 100,
                    on_demand_allocation_strategy=autoscaling.OnDemandAllocationStrategy.PRIORITIZED,
                    spot_allocation_strategy=(
                        autoscaling.SpotAllocationStrategy.PRICE_CAPACITY_OPTIMIZED
                        if props.spot
                        else None
                    ),
                ),
            ),
            notifications=[
                autoscaling.NotificationConfiguration(
                    topic=props.notices_topic,
                    scaling_events=autoscaling.ScalingEvents.ALL,
                )
            ],
        )
        for key, value in sorted(props.asg_tags.items()):
            Tags.of(self.auto_scaling_group).add(key, value, apply_to_launched_instances=False)
        self.capacity_provider = ecs.AsgCapacityProvider(
            self,
            "Ec2CapacityProvider",
            auto_scaling_group=self.auto_scaling_group,
            capacity_provider_name=self.capacity_provider_name,
            enable_managed_scaling=True,
            enable_managed_termination_protection=True,
            enable_managed_draining=True,
            target_capacity_percent=props.target_capacity_percent,
            spot_instance_draining=props.spot,
        )
        self.cluster.add_asg_capacity_provider(self.capacity_provider)

        acknowledge(
            self.instance_role.node.default_child or self.instance_role,
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/AmazonSSMManagedInstanceCore]",
            "SSM Session Manager access to the instances (instead of SSH): AWS maintains the "
            "exact set of ssm/ssmmessages/ec2messages actions the agent needs.",
        )
        agent_policy = self.agent_policy.node.default_child or self.agent_policy
        acknowledge(
            agent_policy,
            "AwsSolutions-IAM5[Resource::*]",
            "The ECS agent's policy: ecs:DiscoverPollEndpoint and ecr:GetAuthorizationToken "
            "have no resource-level scope; ecs:Poll and ecs:StartTelemetrySession are "
            "conditioned on the cluster (ecs:cluster).",
        )
        acknowledge(
            agent_policy,
            "AwsSolutions-IAM5[Action::ecs:Submit*]",
            "The ECS agent's policy: the agent reports task, container and attachment state "
            "changes through the ecs:Submit* family, on this cluster only.",
        )
        if props.log_group_prefix:
            acknowledge(
                agent_policy,
                "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:logs:<AWS::Region>:"
                f"<AWS::AccountId>:log-group:{props.log_group_prefix}/*:log-stream:*]",
                "The ECS agent writes container logs (awslogs) for a task without an execution "
                "role: the streams of this estate's log groups only, named when a task starts.",
            )
        asg = self.auto_scaling_group.node.default_child
        assert asg is not None
        acknowledge(
            asg,
            "AwsSolutions-EC26",
            "EBS encryption is set on the launch template's block device (encrypted gp3 root "
            "volume); the rule cannot follow the group's launch template reference "
            "(an infra test asserts Encrypted=true on the template).",
        )

    def _agent_policy(self, props: ClusterProps) -> iam.Policy:
        """What the ECS agent on the instances calls: CDK's statements, logs scoped."""
        statements = [
            iam.PolicyStatement(
                actions=[
                    "ecs:DeregisterContainerInstance",
                    "ecs:RegisterContainerInstance",
                    "ecs:Submit*",
                ],
                resources=[self.cluster.cluster_arn],
            ),
            iam.PolicyStatement(
                actions=["ecs:Poll", "ecs:StartTelemetrySession"],
                resources=["*"],
                conditions={"ArnEquals": {"ecs:cluster": self.cluster.cluster_arn}},
            ),
            iam.PolicyStatement(
                actions=["ecs:DiscoverPollEndpoint", "ecr:GetAuthorizationToken"],
                resources=["*"],
            ),
        ]
        if props.log_group_prefix:
            stack = Stack.of(self)
            statements.append(
                iam.PolicyStatement(
                    actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                    resources=[
                        stack.format_arn(
                            service="logs",
                            resource="log-group",
                            resource_name=f"{props.log_group_prefix}/*",
                            arn_format=ArnFormat.COLON_RESOURCE_NAME,
                        )
                        + ":log-stream:*"
                    ],
                )
            )
        return iam.Policy(self, "AgentPolicy", roles=[self.instance_role], statements=statements)

    @property
    def cluster_name(self) -> str:
        return self.cluster.cluster_name

    @property
    def cluster_arn(self) -> str:
        return self.cluster.cluster_arn
