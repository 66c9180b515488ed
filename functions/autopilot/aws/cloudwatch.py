"""CloudWatch: an alarm's ARN and tags (what it drives: read at decision time, whatever an
event carries)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from autopilot.aws.translate import translate

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch import CloudWatchClient


def alarm_arn(region: str, account: str, alarm_name: str, partition: str = "aws") -> str:
    return f"arn:{partition}:cloudwatch:{region}:{account}:alarm:{alarm_name}"


def alarm_tags(cloudwatch: CloudWatchClient, arn: str) -> dict[str, str]:
    """The alarm's tags, as CloudWatch holds them now."""
    with translate("cloudwatch:ListTagsForResource"):
        response = cloudwatch.list_tags_for_resource(ResourceARN=arn)
    return {t["Key"]: t["Value"] for t in response.get("Tags", []) if "Key" in t and "Value" in t}
