"""SNS: publish one notice (its arguments are built by ``logic.notices``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from autopilot.aws.translate import translate

if TYPE_CHECKING:
    from mypy_boto3_sns import SNSClient


def publish(sns: SNSClient, params: dict[str, Any]) -> dict[str, Any]:
    with translate("sns:Publish"):
        response = sns.publish(**params)
    return {"MessageId": response.get("MessageId", "")}
