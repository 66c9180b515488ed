"""One reaction function and what every one of them shares.

``FunctionCode``: the code asset (``functions/``, whole, with its bytecode:
``infra/code_asset.py``), the pinned Powertools layer and
the SDK layer (boto3 and botocore at uv.lock's versions, ``infra/layer.py``).
``AutomatedFunction``: the base of the four functions in ``infra/constructs/reactions.py``:
python3.13 on arm64, tracing as the config says, its own log group, its environment (exactly
its settings model's fields, plus the tracing switch),
an async dead-letter queue and one for its rule targets, SnapStart and an alias if asked,
its ledger and topic grants, its ops alarms, and the helpers its rules and acknowledgements
are made with. Names and handler paths come from ``autopilot.contract``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from autopilot import contract
from autopilot.settings import env_var_names
from aws_cdk import Annotations, Duration, RemovalPolicy
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from infra import code_asset
from infra import layer as sdk_layer
from infra.constructs.ledger import Ledger
from infra.constructs.notices import Notices
from infra.managed import ManagedScope
from infra.nag import acknowledge, acknowledge_policy

# The official Powertools for AWS Lambda (Python) v3 layer, pinned to the exact library
# version the tests run with (the one in uv.lock), through the public SSM parameter AWS
# publishes per version: /aws/service/powertools/python/<arch>/<python>/<version> holds
# the ARN of AWSLambdaPowertoolsPythonV3-python313-arm64:<layer version> in each region.
# CloudFormation resolves it at deploy time, so synth stays offline. The layer is built
# with include_extras=True: it carries pydantic and aws-xray-sdk. boto3 and botocore come
# from the SDK layer, listed after it (a later layer's files win in /opt), not from the
# runtime. Config: functions.powertools_version overrides the version.
POWERTOOLS_LAYER_ACCOUNT = "017000801446"
POWERTOOLS_LAYER_NAME = "AWSLambdaPowertoolsPythonV3-python313-arm64"
POWERTOOLS_SSM_PREFIX = "/aws/service/powertools/python/arm64/python3.13/"

#: ``observability.tracing`` of the config -> the functions' TracingConfig
TRACING_MODES = {"active": lambda_.Tracing.ACTIVE, "off": lambda_.Tracing.DISABLED}
#: the variable ``autopilot/observability.py`` decides tracing from (Powertools' own switch)
TRACE_DISABLED_ENV = "POWERTOOLS_TRACE_DISABLED"
#: the alias the rules invoke when SnapStart is on
LIVE_ALIAS = "live"
#: retry policy of the functions' asynchronous invocations (on $LATEST, and on the alias)
ASYNC_RETRY_ATTEMPTS = 2
ASYNC_MAX_EVENT_AGE = Duration.hours(6)


def ops_alarm_name_prefix(name_prefix: str) -> str:
    """What the names of the ops alarms of the functions named ``<name_prefix>-...`` start
    with (``<env>-ops-``)."""
    return f"{name_prefix}-ops-"


def installed_powertools_version() -> str:
    """The aws-lambda-powertools version installed here (the one uv.lock pins)."""
    from importlib.metadata import version  # noqa: PLC0415

    return version("aws-lambda-powertools")


@dataclass(frozen=True)
class FunctionCodeProps:
    """``code_path``: the ``functions/`` folder, shipped whole as the code asset.
    ``powertools_version``: the Powertools version whose layer the functions use (default
    None: the installed one, i.e. uv.lock's)."""

    code_path: Path
    powertools_version: str | None = None


class FunctionCode(Construct):
    """Exposes ``asset`` (one code asset for every function), ``layer`` (Powertools),
    ``sdk_layer`` (boto3 and its dependencies at uv.lock's versions, one zip file built by
    ``infra/layer.py`` if it is not there yet), ``sdk_versions`` (their names and versions)
    and ``layers`` (what every function lists, in that order: the SDK layer last, so its
    botocore is the one in /opt/python whatever the Powertools layer holds)."""

    def __init__(self, scope: Construct, construct_id: str, *, props: FunctionCodeProps) -> None:
        super().__init__(scope, construct_id)
        self.powertools_version = props.powertools_version or installed_powertools_version()
        # One zip file of the sources and their python3.13 bytecode (infra/code_asset.py):
        # /var/task is read-only, so code shipped without .pyc compiles at every cold start.
        self.asset = lambda_.Code.from_asset(str(code_asset.ensure(props.code_path)))
        self.layer = lambda_.LayerVersion.from_layer_version_arn(
            self,
            "PowertoolsLayer",
            ssm.StringParameter.value_for_string_parameter(
                self, POWERTOOLS_SSM_PREFIX + self.powertools_version
            ),
        )
        pins = sdk_layer.locked()
        self.sdk_versions = {pin.name: pin.version for pin in pins}
        # One zip file: a file asset is hashed and staged at synth without walking a tree.
        self.sdk_layer = lambda_.LayerVersion(
            self,
            "SdkLayer",
            code=lambda_.Code.from_asset(str(sdk_layer.ensure())),
            compatible_runtimes=[lambda_.Runtime.PYTHON_3_13],
            compatible_architectures=[lambda_.Architecture.ARM_64],
            description=(
                "uv.lock's "
                + ", ".join(
                    f"{p.name} {p.version}" for p in pins if p.name in {"boto3", "botocore"}
                )
                + " and their dependencies (infra/layer.py)"
            ),
        )
        self.layers: list[lambda_.ILayerVersion] = [self.layer, self.sdk_layer]


@dataclass(frozen=True)
class FunctionSettings:
    """The values the functions' settings models read from the environment (each function
    gets those its model has). ``metrics_namespace``: of the business metrics.
    ``lease_seconds``: of a service's lease. ``approval_ttl_hours``: how long a pending
    manual approval stays valid (image-events). ``min_scan_gate`` (default ``off``: none)
    and ``manual_approval_cluster_arns`` (default none): the config's floors under the
    scan and approval tags (image-events). ``admission_function_arn`` /
    ``admission_role_arn``: the admission hook a deploy adds. ``retention_prefix`` /
    ``retention_keep``: the reconciler's protective tags (the config's ``retention``),
    ``shard_size`` the size of its shards, ``api_share`` its share of the API rate limits.
    The rest are the task-events and capacity-events settings of the same names."""

    metrics_namespace: str = "EcsAutopilot"
    lease_seconds: int = 300
    approval_ttl_hours: int = 24
    #: image-events: how long autopilot's PAUSE hook (manual-traffic approval) waits
    pause_timeout_minutes: int = 1440
    min_scan_gate: str = "off"
    manual_approval_cluster_arns: tuple[str, ...] = ()
    evaluation_window_seconds: int = 60
    move_cooldown_seconds: int = 300
    crash_loop_threshold: int = 3
    crash_loop_window_minutes: int = 10
    capacity_cooldown_seconds: int = 300
    spot_calm_seconds: int = 1800
    shard_size: int = 200
    api_share: float = 0.5
    retention_prefix: str = "autopilot-keep-"
    retention_keep: int = 3
    #: the admission hook a deploy adds (image-events, the reconciler): the function's ARN
    #: and the role ECS assumes to invoke it (``infra.constructs.admission``); "": none
    admission_function_arn: str = ""
    admission_role_arn: str = ""


@dataclass(frozen=True)
class FunctionProps:
    """What every function is built from and acts on.

    ``name_prefix``: physical names are ``<prefix>-<function>``, ``<prefix>-<function>-dlq``
    ... ``code``: the code asset and layer. ``ledger`` / ``notices``: every function gets
    the ledger's item calls and publishes to the topic. ``managed``: the clusters,
    repositories and roles the functions act on (their ``CLUSTER_ARNS`` and
    ``REPOSITORIES``, and their grants). ``settings``: the rest of their environment.
    ``memory_mib`` (default 512) / ``timeout`` (default 60 s): of each function.
    ``max_event_age`` (default 2 h) / ``rule_retry_attempts`` (default 8): retry policy of
    each rule target.
    ``log_retention`` / ``removal_policy``: of the log groups (default one month, RETAIN).
    ``tracing`` (default ``active``): Lambda active tracing and the Powertools Tracer, or
    ``off``: no TracingConfig, no X-Ray grant, and ``POWERTOOLS_TRACE_DISABLED=true`` so the
    functions never import the X-Ray SDK (``autopilot/observability.py``).
    ``snapstart`` (default False): SnapStart on published versions; every change publishes
    a version, the alias ``live`` points at it, and the rules invoke the alias.
    """

    name_prefix: str
    code: FunctionCode
    ledger: Ledger
    notices: Notices
    managed: ManagedScope
    settings: FunctionSettings = field(default_factory=FunctionSettings)
    memory_mib: int = 512
    timeout: Duration | None = None
    max_event_age: Duration | None = None
    rule_retry_attempts: int = 8
    log_retention: logs.RetentionDays = logs.RetentionDays.ONE_MONTH
    removal_policy: RemovalPolicy = RemovalPolicy.RETAIN
    tracing: str = "active"
    snapstart: bool = False

    def __post_init__(self) -> None:
        if self.tracing not in TRACING_MODES:
            raise ValueError(f"tracing must be one of {', '.join(TRACING_MODES)}")


class AutomatedFunction(Construct):
    """One function: role, log group, async DLQ, rule DLQ, the function, its ops alarms.

    A subclass names its ``spec`` (from ``autopilot.contract``) and ``settings_model``, adds
    its grants and rules, then calls ``acknowledge_grants``. Exposes ``function``, ``role``,
    ``log_group``, ``dead_letter_queue``, ``events_dead_letter_queue``, ``rules`` and
    ``alarms`` (errors, throttles and the depth of each queue, to the notices topic), and
    ``invoked``: what the rules invoke (the function, or its ``live`` alias with SnapStart).
    """

    spec: ClassVar[contract.FunctionSpec]
    settings_model: ClassVar[type[Any]]

    def __init__(self, scope: Construct, construct_id: str, *, props: FunctionProps) -> None:
        super().__init__(scope, construct_id)
        spec = self.spec
        self._props = props
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
            code=props.code.asset,
            layers=props.code.layers,
            role=self.role,
            memory_size=props.memory_mib,
            timeout=props.timeout or Duration.seconds(60),
            tracing=TRACING_MODES[props.tracing],
            log_group=self.log_group,
            logging_format=lambda_.LoggingFormat.JSON,
            environment=self._environment(),
            dead_letter_queue=self.dead_letter_queue,
            retry_attempts=ASYNC_RETRY_ATTEMPTS,
            max_event_age=ASYNC_MAX_EVENT_AGE,
            snap_start=lambda_.SnapStartConf.ON_PUBLISHED_VERSIONS if props.snapstart else None,
        )
        self.invoked: lambda_.IFunction = self.function
        if props.snapstart:
            # A snapshot exists only for a published version: the rules invoke the alias,
            # which follows the version every change publishes. The async retry policy is
            # per qualifier, so the alias gets the same one; the dead-letter queue is the
            # function's (every version carries it).
            self.invoked = lambda_.Alias(
                self,
                "Live",
                alias_name=LIVE_ALIAS,
                version=self.function.current_version,
                retry_attempts=ASYNC_RETRY_ATTEMPTS,
                max_event_age=ASYNC_MAX_EVENT_AGE,
            )
            Annotations.of(self.function).acknowledge_warning(
                "@aws-cdk/aws-lambda:snapStartRequirePublish",
                "A version is published on every change (current_version) and the alias "
                f"'{LIVE_ALIAS}' the rules invoke points at it.",
            )
        self.rules: list[events.Rule] = []
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
        # exactly the item calls the ledger adapters make (no Scan, no batch, no streams)
        props.ledger.grant_item_calls(self.role)
        props.notices.grant_publish(self.role)
        self.alarms = self._ops_alarms()

    def _environment(self) -> dict[str, str]:
        """Exactly the settings model's variables (a field the infra cannot fill fails
        synth), and the tracing switch."""
        props = self._props
        settings = props.settings
        known = {
            "POWERTOOLS_SERVICE_NAME": self.spec.name,
            "POWERTOOLS_METRICS_NAMESPACE": settings.metrics_namespace,
            "LEDGER_TABLE": props.ledger.table_name,
            "NOTICES_TOPIC_ARN": props.notices.topic.topic_arn,
            "CLUSTER_ARNS": ",".join(props.managed.cluster_arns),
            "REPOSITORIES": str(props.managed.repositories),
            "LEASE_SECONDS": str(settings.lease_seconds),
            "APPROVAL_TTL_HOURS": str(settings.approval_ttl_hours),
            "PAUSE_TIMEOUT_MINUTES": str(settings.pause_timeout_minutes),
            "MIN_SCAN_GATE": settings.min_scan_gate,
            "MANUAL_APPROVAL_CLUSTER_ARNS": ",".join(settings.manual_approval_cluster_arns),
            "EVALUATION_WINDOW_SECONDS": str(settings.evaluation_window_seconds),
            "MOVE_COOLDOWN_SECONDS": str(settings.move_cooldown_seconds),
            "CRASH_LOOP_THRESHOLD": str(settings.crash_loop_threshold),
            "CRASH_LOOP_WINDOW_MINUTES": str(settings.crash_loop_window_minutes),
            "CAPACITY_COOLDOWN_SECONDS": str(settings.capacity_cooldown_seconds),
            "SPOT_CALM_SECONDS": str(settings.spot_calm_seconds),
            "SHARD_SIZE": str(settings.shard_size),
            "API_SHARE": str(settings.api_share),
            "RETENTION_PREFIX": settings.retention_prefix,
            "RETENTION_KEEP": str(settings.retention_keep),
            "ADMISSION_FUNCTION_ARN": settings.admission_function_arn,
            "ADMISSION_ROLE_ARN": settings.admission_role_arn,
        }
        wanted = env_var_names(self.settings_model)
        missing = wanted - known.keys()
        if missing:
            raise ValueError(f"{self.spec.name}: no value for settings {sorted(missing)}")
        tracing = {TRACE_DISABLED_ENV: "false" if props.tracing == "active" else "true"}
        return {name: known[name] for name in sorted(wanted)} | tracing

    def _ops_alarms(self) -> list[cloudwatch.Alarm]:
        """``<prefix>-ops-<function>-{errors,throttles,dlq-depth,events-dlq-depth}``: one
        datapoint of 5 minutes at or over 1 alarms, to the notices topic."""
        prefix = self._props.name_prefix
        action = cw_actions.SnsAction(self._props.notices.topic)
        period = Duration.minutes(5)
        name = self.function_name
        watched: list[tuple[str, cloudwatch.IMetric, str]] = [
            (
                f"{name}-errors",
                self.function.metric_errors(period=period, statistic="Sum"),
                f"{name} raised errors",
            ),
            (
                f"{name}-throttles",
                self.function.metric_throttles(period=period, statistic="Sum"),
                f"{name} was throttled",
            ),
        ]
        for queue, queue_name in (
            (self.dead_letter_queue, f"{name}-dlq"),
            (self.events_dead_letter_queue, f"{name}-events-dlq"),
        ):
            watched.append(
                (
                    f"{queue_name}-depth",
                    queue.metric_approximate_number_of_messages_visible(
                        period=period, statistic="Maximum"
                    ),
                    f"{queue_name} holds events that were not processed",
                )
            )
        alarms: list[cloudwatch.Alarm] = []
        for what, metric, description in watched:
            stem = what.removeprefix(f"{prefix}-")
            alarm = cloudwatch.Alarm(
                self,
                _pascal(stem) + "Alarm",
                alarm_name=f"{ops_alarm_name_prefix(prefix)}{stem}",
                alarm_description=description,
                metric=metric,
                threshold=1,
                evaluation_periods=1,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            )
            alarm.add_alarm_action(action)
            alarms.append(alarm)
        return alarms

    def acknowledge_grants(self, extra: list[tuple[str, str]] | None = None) -> None:
        """Acknowledge the wildcards of the grants; call after every grant is added.

        ``extra``: (finding id, reason) of the function's own wildcards; one with the id of
        a shared finding replaces the shared reason."""
        managed = self._props.managed
        name = self.spec.name
        deploys = name in (contract.IMAGE_EVENTS.name, contract.RECONCILER.name)
        wildcard = (
            "No resource-level scope exists for ecs:DescribeTaskDefinition, "
            "ecs:DeregisterTaskDefinition, tag:GetResources (one account-wide tag look-up)"
            + (
                "; cloudwatch:DescribeAlarms (read only: that a service's deployment alarms "
                "exist) answers composite alarms only when allowed on *"
                if deploys
                else ""
            )
            + (
                " and xray:PutTraceSegments/PutTelemetryRecords."
                if self._props.tracing == "active"
                else "."
            )
        )
        findings: list[tuple[str, str]] = [
            ("AwsSolutions-IAM5[Resource::*]", wildcard),
            *managed.service_findings(),
        ]
        if name != contract.CAPACITY_EVENTS.name:  # capacity-events reads no task definition
            findings.append(managed.task_definition_finding())
        if name == contract.IMAGE_EVENTS.name:  # the only one that registers revisions
            findings += managed.pass_role_findings()
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
        rule.add_target(self._target())
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
        rule.add_target(self._target())
        self.rules.append(rule)
        return rule

    def _target(self) -> targets.LambdaFunction:
        """The function as a rule target: the props' retry policy, then the events DLQ."""
        return targets.LambdaFunction(
            self.invoked,
            dead_letter_queue=self.events_dead_letter_queue,
            max_event_age=self._props.max_event_age or Duration.hours(2),
            retry_attempts=self._props.rule_retry_attempts,
        )

    @property
    def queues(self) -> list[sqs.Queue]:
        return [self.dead_letter_queue, self.events_dead_letter_queue]


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
