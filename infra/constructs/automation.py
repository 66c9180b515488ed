"""Automation: the ledger, the functions, their EventBridge rules, dead-letter queues,
alarms and the dashboard.

The four functions of DESIGN section 2 are wired (image-events, deployment-events,
task-events, capacity-events); event patterns, names and handler paths come from
``autopilot.contract`` and the environment of each function is exactly its settings
model's fields. The alarms that drive capacity-events are built by
``infra.constructs.alarms.ScalingAlarms``; their names share the prefix the capacity rule
matches.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from autopilot import contract
from autopilot.settings import (
    CapacityEventsSettings,
    DeploymentEventsSettings,
    ImageEventsSettings,
    TaskEventsSettings,
    env_var_names,
)
from aws_cdk import ArnFormat, Duration, RemovalPolicy, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from infra.config import ClusterAlarms, ServiceAlarms
from infra.constructs.alarms import ScalingAlarms, ScalingAlarmsProps
from infra.constructs.cluster import Cluster
from infra.constructs.notices import Notices
from infra.constructs.registry import Registry
from infra.constructs.services import Services
from infra.nag import ARN_PREFIX, REGION_ACCOUNT, acknowledge, acknowledge_policy

# The official Powertools for AWS Lambda (Python) v3 layer, pinned to the exact library
# version the tests run with (the one in uv.lock), through the public SSM parameter AWS
# publishes per version: /aws/service/powertools/python/<arch>/<python>/<version> holds
# the ARN of AWSLambdaPowertoolsPythonV3-python313-arm64:<layer version> in each region.
# CloudFormation resolves it at deploy time, so synth stays offline. The layer is built
# with include_extras=True: it carries pydantic and aws-xray-sdk; boto3 comes with the
# runtime. Config: functions.powertools_version overrides the version.
POWERTOOLS_LAYER_ACCOUNT = "017000801446"
POWERTOOLS_LAYER_NAME = "AWSLambdaPowertoolsPythonV3-python313-arm64"
POWERTOOLS_SSM_PREFIX = "/aws/service/powertools/python/arm64/python3.13/"


def installed_powertools_version() -> str:
    """The aws-lambda-powertools version installed here (the one uv.lock pins)."""
    from importlib.metadata import version  # noqa: PLC0415

    return version("aws-lambda-powertools")


#: The DynamoDB calls of functions/autopilot/adapters (ledger, reaction_state); the
#: reliability suite checks this against the code.
LEDGER_ACTIONS = (
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:Query",
)
#: deployment-events' metric of push-to-COMPLETED time (seconds)
LEAD_TIME_METRIC = "deploy-lead-time"

# Settings model of each wired function.
SETTINGS_MODELS: Mapping[str, type] = {
    contract.IMAGE_EVENTS.name: ImageEventsSettings,
    contract.DEPLOYMENT_EVENTS.name: DeploymentEventsSettings,
    contract.TASK_EVENTS.name: TaskEventsSettings,
    contract.CAPACITY_EVENTS.name: CapacityEventsSettings,
}


@dataclass(frozen=True)
class AutomationProps:
    """What the functions act on and how they run.

    ``code_path``: the ``functions/`` folder, shipped whole as the code asset.
    ``name_prefix``: physical names are ``<prefix>-<function>``, ``<prefix>-ledger`` ...
    ``powertools_version``: Powertools version whose layer the functions use (default: the
    installed one, i.e. uv.lock's).
    ``max_event_age`` / ``rule_retry_attempts``: retry policy of each rule target.
    ``log_retention`` / ``removal_policy``: of log groups and the ledger (RETAIN).
    ``alarm_name_prefix``: names of the scaling alarms (the capacity rule matches it);
    ``cluster_alarms`` / ``service_alarms``: which scaling alarms to build.
    The rest are the task-events and capacity-events settings of the same names.
    """

    name_prefix: str
    code_path: Path
    cluster: Cluster
    services: Services
    registry: Registry
    notices: Notices
    metrics_namespace: str = "EcsAutopilot"
    powertools_version: str = field(default_factory=installed_powertools_version)
    lease_seconds: int = 300
    #: image-events: how long a pending manual approval stays valid
    approval_ttl_hours: int = 24
    memory_mib: int = 512
    timeout: Duration | None = None  # default 60 s
    max_event_age: Duration | None = None  # default 2 h
    rule_retry_attempts: int = 8
    log_retention: logs.RetentionDays = logs.RetentionDays.ONE_MONTH
    removal_policy: RemovalPolicy = RemovalPolicy.RETAIN
    alarm_name_prefix: str = "autopilot-"
    cluster_alarms: ClusterAlarms | None = None
    service_alarms: Mapping[str, ServiceAlarms] = field(default_factory=dict)
    alarm_period: Duration | None = None
    alarm_evaluation_periods: int = 3
    evaluation_window_seconds: int = 60
    move_cooldown_seconds: int = 300
    crash_loop_threshold: int = 3
    crash_loop_window_minutes: int = 10
    #: task-events' zone-balance re-check rule: ``rate(<this> minutes)``
    recheck_interval_minutes: int = 1
    capacity_cooldown_seconds: int = 300
    spot_calm_seconds: int = 1800


class AutomatedFunction(Construct):
    """One function: role, log group, async DLQ, rule DLQ, rules, alarms."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        spec: contract.FunctionSpec,
        props: AutomationProps,
        code: lambda_.Code,
        layer: lambda_.ILayerVersion,
        environment: Mapping[str, str],
    ) -> None:
        super().__init__(scope, construct_id)
        self.spec = spec
        self.function_name = f"{props.name_prefix}-{spec.name}"
        self.log_group = logs.LogGroup(
            self,
            "Logs",
            log_group_name=f"/aws/lambda/{self.function_name}",
            retention=props.log_retention,
            removal_policy=props.removal_policy,
        )
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"{self.function_name}: least privilege",
        )
        self.log_group.grant_write(self.role)
        # Events the function gave up on after its async retries land here, intact.
        self.dead_letter_queue = _queue(self, "DeadLetterQueue", f"{self.function_name}-dlq")
        # Events EventBridge could not deliver to the function land here.
        self.events_dead_letter_queue = _queue(
            self, "EventsDeadLetterQueue", f"{self.function_name}-events-dlq"
        )
        self.function = lambda_.Function(
            self,
            "Function",
            function_name=self.function_name,
            description=spec.description,
            runtime=lambda_.Runtime.PYTHON_3_13,
            architecture=lambda_.Architecture.ARM_64,
            handler=spec.handler,
            code=code,
            layers=[layer],
            role=self.role,
            memory_size=props.memory_mib,
            timeout=props.timeout or Duration.seconds(60),
            tracing=lambda_.Tracing.ACTIVE,
            log_group=self.log_group,
            logging_format=lambda_.LoggingFormat.JSON,
            environment=dict(environment),
            dead_letter_queue=self.dead_letter_queue,
            retry_attempts=2,
            max_event_age=Duration.hours(6),
        )
        self.rules: list[events.Rule] = []
        self._props = props
        acknowledge(
            self.function.node.default_child or self.function,
            "AwsSolutions-L1",
            "python3.13 on purpose: the pinned Powertools layer is built for python3.13 "
            "(AWSLambdaPowertoolsPythonV3-python313-arm64).",
        )
        acknowledge(
            self.events_dead_letter_queue.node.default_child or self.events_dead_letter_queue,
            "AwsSolutions-SQS3",
            "This queue is itself a dead-letter queue: the DeadLetterConfig of the EventBridge "
            "rule targets of this function (the rule cannot see that link).",
        )

    def acknowledge_grants(self, extra: list[tuple[str, str]] | None = None) -> None:
        """Acknowledge the wildcards of the grants; call after every grant is added.

        ``extra``: (finding id, reason) of the function's own wildcards."""
        cluster = self._props.services.cluster_name
        deploys = self.spec.name != contract.CAPACITY_EVENTS.name
        wildcard = (
            "No resource-level scope exists for ecs:RegisterTaskDefinition, "
            "ecs:DescribeTaskDefinition, ecs:DeregisterTaskDefinition, tag:GetResources "
            "(one account-wide tag look-up) and xray:PutTraceSegments/PutTelemetryRecords."
        )
        findings: list[tuple[str, str]] = [
            ("AwsSolutions-IAM5[Resource::*]", wildcard),
            (
                f"AwsSolutions-IAM5[Resource::{ARN_PREFIX}:ecs:{REGION_ACCOUNT}:service/{cluster}/*]",
                "DescribeServices/UpdateService/ListTagsForResource on this cluster's services "
                "only; services created outside this app may opt in by tag, so they cannot be "
                "listed by name.",
            ),
            (
                f"AwsSolutions-IAM5[Resource::{ARN_PREFIX}:ecs:{REGION_ACCOUNT}:task-definition/*]",
                "Task definition families are created by the services' owners; ListTagsForResource "
                "and TagResource (only with ecs:CreateAction=RegisterTaskDefinition) on task "
                "definitions of this account and region.",
            ),
        ]
        if not deploys:
            findings.pop()  # capacity-events reads no task definition
        own = {rule_id for rule_id, _ in extra or []}
        findings = [f for f in findings if f[0] not in own]
        acknowledge_policy(self.role, findings + (extra or []))

    def add_rule(
        self, construct_id: str, rule_name: str, pattern: Mapping[str, Any]
    ) -> events.Rule:
        """A rule with exactly ``pattern`` (from ``autopilot.contract``) targeting the function."""
        rule = events.Rule(
            self,
            construct_id,
            rule_name=rule_name,
            description=f"{pattern['detail-type'][0]} -> {self.function_name}",
            # The L2 pattern type cannot spell content filters such as {"prefix": ...};
            # the exact contract pattern is written below.
            event_pattern=events.EventPattern(source=list(pattern["source"])),
        )
        cfn_rule = rule.node.default_child
        assert isinstance(cfn_rule, events.CfnRule)
        cfn_rule.add_property_override("EventPattern", dict(pattern))
        rule.add_target(
            targets.LambdaFunction(
                self.function,
                dead_letter_queue=self.events_dead_letter_queue,
                max_event_age=self._props.max_event_age or Duration.hours(2),
                retry_attempts=self._props.rule_retry_attempts,
            )
        )
        self.rules.append(rule)
        return rule

    def add_schedule(self, construct_id: str, rule_name: str, expression: str) -> events.Rule:
        """A schedule rule (no event pattern) targeting the function: EventBridge sends it a
        ``Scheduled Event``. Same retry policy and dead-letter queue as the pattern rules."""
        rule = events.Rule(
            self,
            construct_id,
            rule_name=rule_name,
            description=f"{expression} -> {self.function_name} (zone-balance re-check)",
            schedule=events.Schedule.expression(expression),
        )
        rule.add_target(
            targets.LambdaFunction(
                self.function,
                dead_letter_queue=self.events_dead_letter_queue,
                max_event_age=self._props.max_event_age or Duration.hours(2),
                retry_attempts=self._props.rule_retry_attempts,
            )
        )
        self.rules.append(rule)
        return rule

    @property
    def queues(self) -> list[sqs.Queue]:
        return [self.dead_letter_queue, self.events_dead_letter_queue]


class Automation(Construct):
    """Exposes ``ledger``, ``functions`` (by contract name), ``alarms`` and ``dashboard``."""

    def __init__(self, scope: Construct, construct_id: str, *, props: AutomationProps) -> None:
        super().__init__(scope, construct_id)
        prefix = props.name_prefix
        self.ledger = dynamodb.Table(
            self,
            "Ledger",
            table_name=f"{prefix}-ledger",
            partition_key=dynamodb.Attribute(name="pk", type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name="sk", type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            time_to_live_attribute="expires_at",
            removal_policy=props.removal_policy,
        )
        code = lambda_.Code.from_asset(
            str(props.code_path),
            exclude=["**/__pycache__", "**/*.pyc", "**/.mypy_cache", "**/.pytest_cache"],
        )
        layer = lambda_.LayerVersion.from_layer_version_arn(
            self,
            "PowertoolsLayer",
            ssm.StringParameter.value_for_string_parameter(
                self, POWERTOOLS_SSM_PREFIX + props.powertools_version
            ),
        )
        self.functions: dict[str, AutomatedFunction] = {}
        wiring: list[tuple[contract.FunctionSpec, Callable[[AutomatedFunction], None]]] = [
            (contract.IMAGE_EVENTS, self._wire_image_events),
            (contract.DEPLOYMENT_EVENTS, self._wire_deployment_events),
            (contract.TASK_EVENTS, self._wire_task_events),
            (contract.CAPACITY_EVENTS, self._wire_capacity_events),
        ]
        self._props = props
        self.scaling_alarms = ScalingAlarms(
            self,
            "ScalingAlarms",
            props=ScalingAlarmsProps(
                name_prefix=props.alarm_name_prefix,
                cluster_name=props.services.cluster_name,
                capacity_provider_name=props.cluster.capacity_provider_name,
                cluster=props.cluster_alarms,
                services=props.service_alarms,
                period=props.alarm_period,
                evaluation_periods=props.alarm_evaluation_periods,
            ),
        )
        for spec, wire in wiring:
            fn = AutomatedFunction(
                self,
                _pascal(spec.name),
                spec=spec,
                props=props,
                code=code,
                layer=layer,
                environment=self._environment(spec),
            )
            # exactly the item calls the ledger adapters make (no Scan, no batch, no streams)
            self.ledger.grant(fn.role, *LEDGER_ACTIONS)
            props.notices.grant_publish(fn.role)
            if spec is contract.IMAGE_EVENTS:
                props.services.grant_deploy(fn.role)
                # push times of candidate images (ECR DescribeImages), nothing else of ECR
                props.registry.grant_read_images(fn.role)
            elif spec is not contract.CAPACITY_EVENTS:
                # deployment-events rolls back; task-events rolls crash loops back through
                # deployment-events' own path: existing revisions only
                props.services.grant_roll_back(fn.role)
            wire(fn)
            self.functions[spec.name] = fn

        self.alarms = self._alarms()
        self.dashboard = self._dashboard()

    # -- wiring -------------------------------------------------------------------------
    def _environment(self, spec: contract.FunctionSpec) -> dict[str, str]:
        """Exactly the settings model's variables (a field the infra cannot fill fails
        synth), and the library switches of ``contract.RUNTIME_ENVIRONMENT``."""
        props = self._props
        known = {
            "POWERTOOLS_SERVICE_NAME": spec.name,
            "POWERTOOLS_METRICS_NAMESPACE": props.metrics_namespace,
            "LEDGER_TABLE": self.ledger.table_name,
            "NOTICES_TOPIC_ARN": props.notices.topic.topic_arn,
            "CLUSTER_ARN": props.cluster.cluster_arn,
            "LEASE_SECONDS": str(props.lease_seconds),
            "APPROVAL_TTL_HOURS": str(props.approval_ttl_hours),
            "EVALUATION_WINDOW_SECONDS": str(props.evaluation_window_seconds),
            "MOVE_COOLDOWN_SECONDS": str(props.move_cooldown_seconds),
            "CRASH_LOOP_THRESHOLD": str(props.crash_loop_threshold),
            "CRASH_LOOP_WINDOW_MINUTES": str(props.crash_loop_window_minutes),
            "CAPACITY_COOLDOWN_SECONDS": str(props.capacity_cooldown_seconds),
            "SPOT_CALM_SECONDS": str(props.spot_calm_seconds),
        }
        wanted = env_var_names(SETTINGS_MODELS[spec.name])
        missing = wanted - known.keys()
        if missing:
            raise ValueError(f"{spec.name}: no value for settings {sorted(missing)}")
        return {name: known[name] for name in sorted(wanted)} | contract.RUNTIME_ENVIRONMENT

    def _wire_image_events(self, fn: AutomatedFunction) -> None:
        registry = self._props.registry
        prefix = self._props.name_prefix
        fn.add_rule(
            "EcrImageActionRule",
            f"{prefix}-ecr-image-action",
            contract.ecr_image_action_pattern(registry.repository_names),
        )
        fn.add_rule(
            "EcrImageScanRule",
            f"{prefix}-ecr-image-scan",
            contract.ecr_image_scan_pattern(registry.repository_names),
        )
        fn.add_rule(
            "Inspector2ScanRule",
            f"{prefix}-inspector2-scan",
            contract.inspector2_scan_pattern(registry.repository_arns),
        )
        fn.acknowledge_grants()

    def _wire_deployment_events(self, fn: AutomatedFunction) -> None:
        fn.add_rule(
            "EcsDeploymentRule",
            f"{self._props.name_prefix}-ecs-deployment",
            contract.ecs_deployment_pattern(self._props.services.service_arn_prefix),
        )
        fn.acknowledge_grants()

    def _wire_task_events(self, fn: AutomatedFunction) -> None:
        props = self._props
        fn.add_rule(
            "EcsTaskRule",
            f"{props.name_prefix}-ecs-task",
            contract.ecs_task_pattern(props.cluster.cluster_arn),
        )
        # The trailing edge of the debounce: due re-checks (debounced or deferred
        # evaluations) are evaluated on this schedule.
        fn.add_schedule(
            "RecheckSchedule",
            f"{props.name_prefix}-task-recheck",
            contract.recheck_schedule(props.recheck_interval_minutes),
        )
        arns = _Arns(self)
        cluster_condition = {"ArnEquals": {"ecs:cluster": props.cluster.cluster_arn}}
        role = fn.role
        # ListTasks is authorized on container instances: any, of this cluster only
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["ecs:ListTasks"], resources=["*"], conditions=cluster_condition
            )
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["ecs:DescribeTasks", "ecs:StopTask"],
                resources=[arns.ecs("task", f"{arns.cluster}/*")],
                conditions=cluster_condition,
            )
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["ecs:DescribeContainerInstances"],
                resources=[arns.ecs("container-instance", f"{arns.cluster}/*")],
                conditions=cluster_condition,
            )
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["ecs:DescribeClusters", "ecs:ListContainerInstances"],
                resources=[props.cluster.cluster_arn],
            )
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(actions=["ec2:DescribeSubnets"], resources=["*"])
        )
        self._grant_capacity_reads_and_asg(fn)
        fn.acknowledge_grants(
            [
                (
                    "AwsSolutions-IAM5[Resource::*]",
                    "No resource-level scope exists for ecs:RegisterTaskDefinition, "
                    "ecs:DescribeTaskDefinition, ecs:DeregisterTaskDefinition, tag:GetResources, "
                    "ec2:DescribeSubnets, autoscaling:DescribeAutoScalingGroups and X-Ray; "
                    "ecs:ListTasks is conditioned on ecs:cluster = this cluster.",
                ),
                (
                    f"AwsSolutions-IAM5[Resource::{ARN_PREFIX}:ecs:{REGION_ACCOUNT}:task/"
                    f"{arns.cluster}/*]",
                    "DescribeTasks/StopTask on this cluster's tasks (task ids are not known in "
                    "advance), also conditioned on ecs:cluster = this cluster.",
                ),
                (
                    f"AwsSolutions-IAM5[Resource::{ARN_PREFIX}:ecs:{REGION_ACCOUNT}:"
                    f"container-instance/{arns.cluster}/*]",
                    "DescribeContainerInstances on this cluster's instances (launched by its "
                    "Auto Scaling group, ids not known in advance).",
                ),
                self._asg_acknowledgement(),
            ]
        )

    def _wire_capacity_events(self, fn: AutomatedFunction) -> None:
        props = self._props
        prefix = props.name_prefix
        fn.add_rule(
            "AlarmRule",
            f"{prefix}-scaling-alarms",
            contract.alarm_pattern(props.alarm_name_prefix),
        )
        fn.add_rule(
            "EcsServiceActionRule",
            f"{prefix}-ecs-service-action",
            contract.ecs_placement_failure_pattern(props.cluster.cluster_arn),
        )
        fn.add_rule("SpotWarningRule", f"{prefix}-spot-warning", contract.spot_warning_pattern())
        arns = _Arns(self)
        role = fn.role
        services = f"{props.services.service_arn_prefix}*"
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=[
                    "ecs:DescribeServices",
                    "ecs:UpdateService",
                    "ecs:ListTagsForResource",
                ],
                resources=[services],
            )
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["ecs:DescribeClusters"], resources=[props.cluster.cluster_arn]
            )
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=[
                    "autoscaling:DescribeAutoScalingInstances",
                    "application-autoscaling:DescribeScalableTargets",
                ],
                resources=["*"],
            )
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["application-autoscaling:RegisterScalableTarget"],
                resources=[arns.scalable_targets],
            )
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["cloudwatch:ListTagsForResource"],
                resources=[arns.alarms(props.alarm_name_prefix)],
            )
        )
        self._grant_capacity_reads_and_asg(fn)
        fn.acknowledge_grants(
            [
                (
                    "AwsSolutions-IAM5[Resource::*]",
                    "No resource-level scope exists for autoscaling:DescribeAutoScalingGroups, "
                    "autoscaling:DescribeAutoScalingInstances, "
                    "application-autoscaling:DescribeScalableTargets and X-Ray.",
                ),
                (
                    f"AwsSolutions-IAM5[Resource::{ARN_PREFIX}:application-autoscaling:"
                    f"{REGION_ACCOUNT}:scalable-target/*]",
                    "RegisterScalableTarget (moving a service's scale-out floor) is authorized "
                    "on scalable-target/<random id>: the ids are not known at synth, and the "
                    "service has no condition key for the resource id.",
                ),
                (
                    f"AwsSolutions-IAM5[Resource::{ARN_PREFIX}:cloudwatch:{REGION_ACCOUNT}:"
                    f"alarm:{props.alarm_name_prefix}*]",
                    "ListTagsForResource on the alarms this app manages only (their names share "
                    "the prefix the capacity rule matches).",
                ),
                self._asg_acknowledgement(),
            ]
        )

    def _grant_capacity_reads_and_asg(self, fn: AutomatedFunction) -> None:
        """The cluster's EC2 capacity provider and its Auto Scaling group, nothing else."""
        props = self._props
        cluster = props.cluster
        arns = _Arns(self)
        fn.role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["ecs:DescribeCapacityProviders"],
                resources=[arns.ecs("capacity-provider", cluster.capacity_provider_name)],
            )
        )
        fn.role.add_to_principal_policy(
            iam.PolicyStatement(actions=["autoscaling:DescribeAutoScalingGroups"], resources=["*"])
        )
        fn.role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["autoscaling:SetDesiredCapacity", "autoscaling:UpdateAutoScalingGroup"],
                resources=[cluster.auto_scaling_group.auto_scaling_group_arn],
            )
        )

    def _asg_acknowledgement(self) -> tuple[str, str]:
        asg = self._props.cluster.auto_scaling_group.node.default_child
        assert asg is not None
        logical_id = Stack.of(self).get_logical_id(asg)  # type: ignore[arg-type]
        return (
            f"AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:autoscaling:{REGION_ACCOUNT}:"
            f"autoScalingGroup:*:autoScalingGroupName/<{logical_id}>]",
            "SetDesiredCapacity/UpdateAutoScalingGroup on the cluster's own Auto Scaling group, "
            "named exactly; the wildcard is the group's id, which IAM ARNs require and "
            "CloudFormation does not expose.",
        )

    # -- alarms and dashboard ------------------------------------------------------------
    def _alarms(self) -> list[cloudwatch.Alarm]:
        prefix = self._props.name_prefix
        action = cw_actions.SnsAction(self._props.notices.topic)
        alarms: list[cloudwatch.Alarm] = []

        def alarm(scope: Construct, name: str, metric: cloudwatch.IMetric, what: str) -> None:
            a = cloudwatch.Alarm(
                scope,
                _pascal(name.removeprefix(f"{prefix}-")) + "Alarm",
                alarm_name=f"{prefix}-ops-{name.removeprefix(f'{prefix}-')}",
                alarm_description=what,
                metric=metric,
                threshold=1,
                evaluation_periods=1,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            )
            a.add_alarm_action(action)
            alarms.append(a)

        period = Duration.minutes(5)
        for fn in self.functions.values():
            alarm(
                fn,
                f"{fn.function_name}-errors",
                fn.function.metric_errors(period=period, statistic="Sum"),
                f"{fn.function_name} raised errors",
            )
            alarm(
                fn,
                f"{fn.function_name}-throttles",
                fn.function.metric_throttles(period=period, statistic="Sum"),
                f"{fn.function_name} was throttled",
            )
            for queue, queue_name in (
                (fn.dead_letter_queue, f"{fn.function_name}-dlq"),
                (fn.events_dead_letter_queue, f"{fn.function_name}-events-dlq"),
            ):
                alarm(
                    fn,
                    f"{queue_name}-depth",
                    queue.metric_approximate_number_of_messages_visible(
                        period=period, statistic="Maximum"
                    ),
                    f"{queue_name} holds events that were not processed",
                )
        return alarms

    def _dashboard(self) -> cloudwatch.Dashboard:
        fns = list(self.functions.values())
        period = Duration.minutes(5)
        dashboard = cloudwatch.Dashboard(
            self, "Dashboard", dashboard_name=f"{self._props.name_prefix}-autopilot"
        )
        dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Invocations",
                left=[f.function.metric_invocations(period=period, label=f.spec.name) for f in fns],
                width=8,
            ),
            cloudwatch.GraphWidget(
                title="Errors and throttles",
                left=[
                    f.function.metric_errors(period=period, label=f"{f.spec.name} errors")
                    for f in fns
                ]
                + [
                    f.function.metric_throttles(period=period, label=f"{f.spec.name} throttles")
                    for f in fns
                ],
                width=8,
            ),
            cloudwatch.GraphWidget(
                title="Duration (p95)",
                left=[
                    f.function.metric_duration(period=period, statistic="p95", label=f.spec.name)
                    for f in fns
                ],
                width=8,
            ),
        )
        dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Dead-letter queues (visible messages)",
                left=[
                    q.metric_approximate_number_of_messages_visible(period=period, label=name)
                    for f in fns
                    for q, name in (
                        (f.dead_letter_queue, f"{f.spec.name} async"),
                        (f.events_dead_letter_queue, f"{f.spec.name} rules"),
                    )
                ],
                width=12,
            ),
            cloudwatch.AlarmStatusWidget(title="Alarms", alarms=self.alarms, width=12),
        )
        namespace = self._props.metrics_namespace
        dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Decisions by outcome (every function)",
                left=[
                    cloudwatch.MathExpression(
                        # one metric per outcome (its name), dimension service = the function
                        expression=(
                            f"SEARCH('{{{namespace},service}} "
                            f"NOT MetricName=\"{LEAD_TIME_METRIC}\"', 'Sum', 300)"
                        ),
                        label="",
                        period=period,
                    )
                ],
                width=12,
            ),
            cloudwatch.GraphWidget(
                title="Deploy lead time: push to deployment COMPLETED (s)",
                left=[
                    cloudwatch.Metric(
                        namespace=namespace,
                        metric_name=LEAD_TIME_METRIC,
                        dimensions_map={"service": contract.DEPLOYMENT_EVENTS.name},
                        statistic=stat,
                        period=period,
                        label=stat,
                    )
                    for stat in ("p50", "p90", "Maximum")
                ],
                width=12,
            ),
        )
        scaling = list(self.scaling_alarms.alarms.values())
        if scaling:
            dashboard.add_widgets(
                cloudwatch.AlarmStatusWidget(
                    title="Scaling alarms (capacity-events)", alarms=scaling, width=24
                )
            )
        return dashboard


class _Arns:
    """ARNs in this stack's partition, region and account."""

    def __init__(self, automation: Automation) -> None:
        self._stack = Stack.of(automation)
        self.cluster = automation._props.services.cluster_name

    def ecs(self, resource: str, name: str) -> str:
        return self._stack.format_arn(
            service="ecs",
            resource=resource,
            resource_name=name,
            arn_format=ArnFormat.SLASH_RESOURCE_NAME,
        )

    @property
    def scalable_targets(self) -> str:
        return self._stack.format_arn(
            service="application-autoscaling",
            resource="scalable-target",
            resource_name="*",
            arn_format=ArnFormat.SLASH_RESOURCE_NAME,
        )

    def alarms(self, prefix: str) -> str:
        return self._stack.format_arn(
            service="cloudwatch",
            resource="alarm",
            resource_name=f"{prefix}*",
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )


def _queue(scope: Construct, construct_id: str, name: str) -> sqs.Queue:
    return sqs.Queue(
        scope,
        construct_id,
        queue_name=name,
        encryption=sqs.QueueEncryption.SQS_MANAGED,
        enforce_ssl=True,
        retention_period=Duration.days(14),
    )


def _pascal(name: str) -> str:
    return "".join(p.capitalize() for p in name.replace("_", "-").split("-"))
