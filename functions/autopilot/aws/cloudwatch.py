"""CloudWatch: an alarm's ARN, state and tags (its state says whether to act, its tags what
it drives: both read at decision time, whatever an event carries)."""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

from autopilot.aws.translate import translate

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch import CloudWatchClient


class AlarmNow(NamedTuple):
    """An alarm as ``DescribeAlarms`` answers now."""

    arn: str
    #: OK, ALARM or INSUFFICIENT_DATA
    state: str


def alarm_arn(region: str, account: str, alarm_name: str, partition: str = "aws") -> str:
    return f"arn:{partition}:cloudwatch:{region}:{account}:alarm:{alarm_name}"


def alarm_now(cloudwatch: CloudWatchClient, name: str) -> AlarmNow | None:
    """The alarm named ``name`` (metric or composite) as CloudWatch holds it now, or None if
    there is none. One ``DescribeAlarms``: without ``AlarmTypes`` it would answer metric
    alarms only."""
    with translate("cloudwatch:DescribeAlarms"):
        response = cloudwatch.describe_alarms(
            AlarmNames=[name], AlarmTypes=["MetricAlarm", "CompositeAlarm"]
        )
    found = [*response.get("MetricAlarms", []), *response.get("CompositeAlarms", [])]
    for alarm in found:
        if alarm.get("AlarmName") == name and "AlarmArn" in alarm and "StateValue" in alarm:
            return AlarmNow(arn=alarm["AlarmArn"], state=alarm["StateValue"])
    return None


def alarm_tags(cloudwatch: CloudWatchClient, arn: str) -> dict[str, str]:
    """The alarm's tags, as CloudWatch holds them now."""
    with translate("cloudwatch:ListTagsForResource"):
        response = cloudwatch.list_tags_for_resource(ResourceARN=arn)
    return {t["Key"]: t["Value"] for t in response.get("Tags", []) if "Key" in t and "Value" in t}


def existing_alarms(cloudwatch: CloudWatchClient, names: list[str]) -> frozenset[str]:
    """Which of ``names`` (at most 100) are alarms CloudWatch holds now, metric or
    composite. One ``DescribeAlarms``."""
    if not names:
        return frozenset()
    with translate("cloudwatch:DescribeAlarms"):
        response = cloudwatch.describe_alarms(
            AlarmNames=names, AlarmTypes=["MetricAlarm", "CompositeAlarm"], MaxRecords=100
        )
    found = [*response.get("MetricAlarms", []), *response.get("CompositeAlarms", [])]
    return frozenset(str(a["AlarmName"]) for a in found if "AlarmName" in a)
