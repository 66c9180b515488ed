"""Monitoring: the operators' dashboard over the functions, their queues and alarms.

Rows: invocations, errors and throttles, p95 duration of every function; the visible
messages of every dead-letter queue and the state of every ops alarm; the business
metrics (decisions by outcome, deploy lead time); the scaling alarms, if any. The ops
alarms themselves belong to the function they watch (``AutomatedFunction.alarms``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from autopilot import contract
from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from constructs import Construct

from infra.constructs.function import AutomatedFunction

#: deployment-events' metric of push-to-COMPLETED time (seconds)
LEAD_TIME_METRIC = "deploy-lead-time"


@dataclass(frozen=True)
class MonitoringProps:
    """``dashboard_name``: physical name of the dashboard. ``functions``: in the order
    their lines and alarms are shown. ``scaling_alarms``: the alarms capacity-events acts
    on (default none: no row for them). ``metrics_namespace``: of the business metrics
    (default ``EcsAutopilot``)."""

    dashboard_name: str
    functions: Sequence[AutomatedFunction]
    scaling_alarms: Sequence[cloudwatch.IAlarm] = field(default_factory=tuple)
    metrics_namespace: str = "EcsAutopilot"


class Monitoring(Construct):
    """Exposes ``dashboard`` and ``alarms`` (every function's ops alarms, in order)."""

    def __init__(self, scope: Construct, construct_id: str, *, props: MonitoringProps) -> None:
        super().__init__(scope, construct_id)
        fns = list(props.functions)
        self.alarms: list[cloudwatch.Alarm] = [a for f in fns for a in f.alarms]
        period = Duration.minutes(5)
        # CDK leaves the id "Default" out of logical IDs: the dashboard keeps the logical ID
        # of a dashboard that is the child ``construct_id`` of ``scope`` (the stack's
        # Automation/Dashboard: AutomationDashboard8A624709).
        self.dashboard = cloudwatch.Dashboard(self, "Default", dashboard_name=props.dashboard_name)
        self.dashboard.add_widgets(
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
        self.dashboard.add_widgets(
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
        namespace = props.metrics_namespace
        self.dashboard.add_widgets(
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
        scaling = list(props.scaling_alarms)
        if scaling:
            self.dashboard.add_widgets(
                cloudwatch.AlarmStatusWidget(
                    title="Scaling alarms (capacity-events)", alarms=scaling, width=24
                )
            )
