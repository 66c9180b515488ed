"""What the stacks share: log retention by days, output keys from names, physical names."""

from __future__ import annotations

from pathlib import Path

from aws_cdk import RemovalPolicy
from aws_cdk import aws_logs as logs

from infra.config import AutopilotConfig

FUNCTIONS_DIR = Path(__file__).resolve().parents[2] / "functions"

_RETENTION = {
    1: logs.RetentionDays.ONE_DAY,
    3: logs.RetentionDays.THREE_DAYS,
    5: logs.RetentionDays.FIVE_DAYS,
    7: logs.RetentionDays.ONE_WEEK,
    14: logs.RetentionDays.TWO_WEEKS,
    30: logs.RetentionDays.ONE_MONTH,
    60: logs.RetentionDays.TWO_MONTHS,
    90: logs.RetentionDays.THREE_MONTHS,
    120: logs.RetentionDays.FOUR_MONTHS,
    150: logs.RetentionDays.FIVE_MONTHS,
    180: logs.RetentionDays.SIX_MONTHS,
    365: logs.RetentionDays.ONE_YEAR,
    400: logs.RetentionDays.THIRTEEN_MONTHS,
    545: logs.RetentionDays.EIGHTEEN_MONTHS,
    731: logs.RetentionDays.TWO_YEARS,
}


def retention(config: AutopilotConfig) -> logs.RetentionDays:
    return _RETENTION[config.observability.log_retention_days]


def removal(config: AutopilotConfig) -> RemovalPolicy:
    return RemovalPolicy.RETAIN if config.retain_data else RemovalPolicy.DESTROY


def alnum(name: str) -> str:
    """``demo/web`` -> ``DemoWeb``: a name as part of an output key."""
    return "".join(p.capitalize() for p in "".join(c if c.isalnum() else " " for c in name).split())


def notices_topic_name(config: AutopilotConfig) -> str:
    """The control plane's topic; the estate's Auto Scaling notifications go to it by name."""
    return f"{config.environment}-notices"
