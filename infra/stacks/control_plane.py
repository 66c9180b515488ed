"""The control plane, ``EcsAutopilot-<environment>``: what runs the estate, whoever built it.

The notices topic, and under ``Automation`` the ledger (writable by the functions and
``operators.role_arns`` only), the functions' code and layer, the four reaction functions
and the reconciler with their rules, retry policies, DLQs, grants and ops alarms, the
re-check and sweep schedules and the dashboard. It refers to no estate stack: the managed
clusters, repositories and roles come from the config (``infra.managed``), so it deploys
first, or alone onto existing clusters. Its template does not change with the number of
services managed.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from aws_cdk import CfnOutput, Duration, Stack
from constructs import Construct

from infra.config import AutopilotConfig
from infra.constructs.admission import Admission, AdmissionProps
from infra.constructs.function import (
    AutomatedFunction,
    FunctionCode,
    FunctionCodeProps,
    FunctionProps,
    FunctionSettings,
    ops_alarm_name_prefix,
)
from infra.constructs.ledger import Ledger, LedgerProps
from infra.constructs.monitoring import Monitoring, MonitoringProps
from infra.constructs.notices import Notices, NoticesProps
from infra.constructs.reactions import (
    CapacityEvents,
    CapacityEventsProps,
    DeploymentEvents,
    DeploymentEventsProps,
    ImageEvents,
    ImageEventsProps,
    Reconciler,
    ReconcilerProps,
    TaskEvents,
    TaskEventsProps,
)
from infra.managed import ManagedScope, ManagedScopeProps
from infra.stacks.common import FUNCTIONS_DIR, alnum, notices_topic_name, removal, retention


class ControlPlaneStack(Stack):
    """Exposes ``notices``, ``ledger``, ``functions`` (by contract name), ``managed`` and
    ``monitoring``."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: AutopilotConfig,
        functions_dir: Path = FUNCTIONS_DIR,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        env = config.environment
        removal_policy = removal(config)
        notices = Notices(
            self,
            "Notices",
            props=NoticesProps(
                topic_name=notices_topic_name(config),
                # the functions' ops alarms; the estate's scaling alarms have no actions
                alarm_name_prefixes=(ops_alarm_name_prefix(env),),
                removal_policy=removal_policy,
            ),
        )
        # One scope for the ledger, the functions and what watches them: their constructs
        # keep the paths, hence the logical IDs, their resources had when one construct
        # built them all. Most are named (table, functions, queues, log groups, rules,
        # alarms): under a new logical ID CloudFormation would create them anew and delete
        # the old ones, which for the ledger means its records.
        automation = Construct(self, "Automation")
        ledger = Ledger(
            automation,
            "Ledger",
            props=LedgerProps(
                table_name=f"{env}-ledger",
                removal_policy=removal_policy,
                operator_role_arns=tuple(config.operators.role_arns),
            ),
        )
        fn_cfg = config.functions
        code = FunctionCode(
            automation,
            "Code",
            props=FunctionCodeProps(
                code_path=functions_dir, powertools_version=fn_cfg.powertools_version
            ),
        )
        managed = ManagedScope(
            ManagedScopeProps(
                clusters=tuple(config.managed_clusters),
                repositories=config.managed_repositories,
                pass_roles=config.pass_roles,
                alarm_name_prefix=config.alarm_name_prefix,
            )
        )
        shared = FunctionProps(
            name_prefix=env,
            code=code,
            ledger=ledger,
            notices=notices,
            managed=managed,
            settings=FunctionSettings(
                metrics_namespace=config.observability.metrics_namespace,
                lease_seconds=fn_cfg.lease,
                approval_ttl_hours=fn_cfg.approval_ttl_hours,
                pause_timeout_minutes=fn_cfg.pause_timeout_minutes,
                min_scan_gate=config.guardrails.min_scan,
                manual_approval_cluster_arns=tuple(
                    managed.arns_of(config.manual_approval_clusters)
                ),
                evaluation_window_seconds=fn_cfg.evaluation_window_seconds,
                move_cooldown_seconds=fn_cfg.move_cooldown_seconds,
                crash_loop_threshold=fn_cfg.crash_loop_threshold,
                crash_loop_window_minutes=fn_cfg.crash_loop_window_minutes,
                capacity_cooldown_seconds=fn_cfg.capacity_cooldown_seconds,
                spot_calm_seconds=fn_cfg.spot_calm_seconds,
                shard_size=config.reconciler.shard_size,
                api_share=config.reconciler.api_share,
                retention_prefix=config.retention.prefix,
                retention_keep=config.retention.keep_known_good,
            ),
            memory_mib=fn_cfg.memory_mib,
            timeout=Duration.seconds(fn_cfg.timeout_seconds),
            max_event_age=Duration.minutes(fn_cfg.max_event_age_minutes),
            rule_retry_attempts=fn_cfg.rule_retry_attempts,
            log_retention=retention(config),
            removal_policy=removal_policy,
            tracing=config.observability.tracing,
            snapstart=fn_cfg.snapstart,
        )
        # the admission hook first: the functions that deploy put it on services
        admission = Admission(automation, "Admission", props=AdmissionProps(function=shared))
        deploying = replace(
            shared,
            settings=replace(
                shared.settings,
                admission_function_arn=admission.hook_target_arn,
                admission_role_arn=admission.hook_role.role_arn,
            ),
        )
        functions: tuple[AutomatedFunction, ...] = (
            ImageEvents(automation, "ImageEvents", props=ImageEventsProps(function=deploying)),
            DeploymentEvents(
                automation, "DeploymentEvents", props=DeploymentEventsProps(function=shared)
            ),
            TaskEvents(
                automation,
                "TaskEvents",
                props=TaskEventsProps(
                    function=shared, recheck_interval_minutes=fn_cfg.recheck_interval_minutes
                ),
            ),
            CapacityEvents(
                automation,
                "CapacityEvents",
                props=CapacityEventsProps(
                    function=shared, alarm_name_prefix=config.alarm_name_prefix
                ),
            ),
            Reconciler(
                automation,
                "Reconciler",
                props=ReconcilerProps(
                    function=deploying, rate_minutes=config.reconciler.rate_minutes
                ),
            ),
            admission,
        )
        for fn in functions[0], functions[4]:  # image-events, the reconciler: UpdateService
            admission.grant_pass_hook_role(fn.role)
        monitoring = Monitoring(
            automation,
            "Dashboard",
            props=MonitoringProps(
                dashboard_name=f"{env}-autopilot",
                functions=functions,
                metrics_namespace=config.observability.metrics_namespace,
            ),
        )
        self.notices, self.ledger, self.managed = notices, ledger, managed
        self.functions = {fn.spec.name: fn for fn in functions}
        self.monitoring = monitoring

        # -- outputs: what the CLI, the sandbox and people look up -----------------------
        CfnOutput(self, "LedgerTableName", value=ledger.table_name)
        CfnOutput(self, "NoticesTopicArn", value=notices.topic.topic_arn)
        for fn in functions:
            key = alnum(fn.spec.name)
            CfnOutput(self, f"{key}FunctionName", value=fn.function.function_name)
            CfnOutput(
                self,
                f"{key}DlqUrl",
                value=fn.dead_letter_queue.queue_url,
                description=f"{fn.function_name}: async invocations that failed",
            )
            CfnOutput(
                self,
                f"{key}EventsDlqUrl",
                value=fn.events_dead_letter_queue.queue_url,
                description=f"{fn.function_name}: events EventBridge could not deliver",
            )
        CfnOutput(self, "DashboardName", value=monitoring.dashboard.dashboard_name)
        CfnOutput(
            self,
            "ManagedClusterArns",
            value=",".join(managed.cluster_arns),
            description="The clusters the functions act on (CLUSTER_ARNS), comma-separated",
        )
        CfnOutput(
            self,
            "ManagedRepositories",
            value=str(managed.repositories),
            description="The repositories the functions act on (REPOSITORIES): * or "
            "name:<repo> / prefix:<start> items",
        )
        CfnOutput(
            self,
            "MinScanGate",
            value=config.guardrails.min_scan,
            description="The floor under every service's autopilot:scan tag (MIN_SCAN_GATE): "
            "critical, high or off (none)",
        )
        CfnOutput(
            self,
            "ManualApprovalClusterArns",
            value=",".join(shared.settings.manual_approval_cluster_arns) or "-",
            description="The clusters whose services always need a manual approval "
            "(MANUAL_APPROVAL_CLUSTER_ARNS), comma-separated; - for none",
        )
        CfnOutput(
            self,
            "RetentionPrefix",
            value=config.retention.prefix,
            description="The reserved tag prefix of the reconciler's protective tags "
            "(RETENTION_PREFIX): autopilot adopt checks each tracked repository keeps it",
        )
        CfnOutput(
            self,
            "PassRoles",
            value=managed.pass_roles_text or "-",
            description="The roles image-events may pass to ECS tasks: arn:... (a trailing * "
            "is a prefix), path:/<prefix>/ and tag:<key>=<value> items; - for none",
        )
