"""ScalingAlarms: the CloudWatch alarms that drive capacity-events.

Cluster CPU and memory reservation high/low (driving the EC2 capacity provider) and, per
service, CPU and memory utilization high/low (driving the service). Every alarm is named
``<prefix><what>-high|low`` (the capacity rule matches the prefix) and tagged with what it
drives, in the grammar of ``autopilot.logic.capacity``:

* ``autopilot:target``: the service's ARN (a control plane managing several clusters
  refuses a bare name) or ``capacity-provider:<name>``
* ``autopilot:step``: the config's ``step_out`` on a high alarm, ``step_in`` on a low one
* ``autopilot:cooldown``: seconds

The alarms have no actions: their state changes reach capacity-events through EventBridge.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from autopilot import contract
from aws_cdk import ArnFormat, Duration, Stack, Tags
from aws_cdk import aws_cloudwatch as cloudwatch
from constructs import Construct

from infra.config import ClusterAlarms, ServiceAlarms, Thresholds


@dataclass(frozen=True)
class ScalingAlarmsProps:
    """``name_prefix``: every alarm's name starts with it. ``cluster_name`` /
    ``capacity_provider_name``: what the cluster alarms measure and drive. ``cluster``:
    None for no cluster alarms. ``services``: service name -> its alarms. ``period`` and
    ``evaluation_periods``: of every alarm (default 60 s x 3)."""

    name_prefix: str
    cluster_name: str
    capacity_provider_name: str
    cluster: ClusterAlarms | None = None
    services: Mapping[str, ServiceAlarms] = field(default_factory=dict)
    period: Duration | None = None
    evaluation_periods: int = 3


class ScalingAlarms(Construct):
    """Exposes ``alarms`` by alarm name; ``add_service`` adds a service's alarms."""

    def __init__(self, scope: Construct, construct_id: str, *, props: ScalingAlarmsProps) -> None:
        super().__init__(scope, construct_id)
        self._props = props
        self.alarms: dict[str, cloudwatch.Alarm] = {}
        cluster_dims = {"ClusterName": props.cluster_name}
        if props.cluster is not None:
            c = props.cluster
            target = f"capacity-provider:{props.capacity_provider_name}"
            for metric, short, thresholds in (
                ("CPUReservation", "cpu-reservation", c.cpu_reservation),
                ("MemoryReservation", "memory-reservation", c.memory_reservation),
            ):
                self._pair(
                    f"cluster-{short}",
                    metric,
                    cluster_dims,
                    thresholds,
                    target,
                    (c.step_out, c.step_in, c.cooldown_seconds),
                )
        for name, s in sorted(props.services.items()):
            self.add_service(name, s)

    def add_service(self, name: str, alarms: ServiceAlarms) -> None:
        """CPU and memory utilization alarms of one service (``autopilot:target`` = the
        service's ARN)."""
        dims = {"ClusterName": self._props.cluster_name, "ServiceName": name}
        service_arn = Stack.of(self).format_arn(
            service="ecs",
            resource="service",
            resource_name=f"{self._props.cluster_name}/{name}",
            arn_format=ArnFormat.SLASH_RESOURCE_NAME,
        )
        for metric, short, thresholds in (
            ("CPUUtilization", "cpu", alarms.cpu),
            ("MemoryUtilization", "memory", alarms.memory),
        ):
            self._pair(
                f"{name}-{short}",
                metric,
                dims,
                thresholds,
                service_arn,
                (alarms.step_out, alarms.step_in, alarms.cooldown_seconds),
            )

    def _pair(  # noqa: PLR0917 - internal step
        self,
        stem: str,
        metric_name: str,
        dimensions: Mapping[str, str],
        thresholds: Thresholds | None,
        target: str,
        steps: tuple[str, str, int],
    ) -> None:
        if thresholds is None:
            return
        step_out, step_in, cooldown = steps
        metric = cloudwatch.Metric(
            namespace="AWS/ECS",
            metric_name=metric_name,
            dimensions_map=dict(dimensions),
            statistic="Average",
            period=self._props.period or Duration.minutes(1),
        )
        pairs: list[tuple[str, float, cloudwatch.ComparisonOperator, str]] = [
            (
                "high",
                thresholds.high,
                cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                step_out,
            )
        ]
        if thresholds.low is not None:
            pairs.append(
                ("low", thresholds.low, cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD, step_in)
            )
        for level, threshold, operator, step in pairs:
            name = f"{self._props.name_prefix}{stem}-{level}"
            alarm = cloudwatch.Alarm(
                self,
                _pascal(f"{stem}-{level}"),
                alarm_name=name,
                alarm_description=(
                    f"{metric_name} {level} ({threshold:g} %): {target} {step}, "
                    f"cooldown {cooldown} s (capacity-events)"
                ),
                metric=metric,
                threshold=threshold,
                evaluation_periods=self._props.evaluation_periods,
                comparison_operator=operator,
                treat_missing_data=cloudwatch.TreatMissingData.MISSING,
            )
            Tags.of(alarm).add(contract.TAG_TARGET, target)
            Tags.of(alarm).add(contract.TAG_STEP, step)
            Tags.of(alarm).add(contract.TAG_COOLDOWN, str(cooldown))
            self.alarms[name] = alarm


def _pascal(name: str) -> str:
    return "".join(p.capitalize() for p in name.replace("_", "-").split("-"))
