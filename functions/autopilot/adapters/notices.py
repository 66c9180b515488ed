"""Notices on the SNS topic: one-line subject, attributes outcome / service / severity."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from autopilot.adapters.aws_errors import translate

if TYPE_CHECKING:
    from mypy_boto3_sns import SNSClient

    from autopilot.models.report import Decision


def notice_params(
    topic_arn: str, function: str, event_id: str, decision: Decision
) -> dict[str, Any]:
    """The sns:Publish arguments for one decision (planned in the report, sent by ``publish``)."""
    service = decision.service.rsplit("/", 1)[-1]
    what = decision.tag or (decision.digest or "")[:19]
    subject = f"[autopilot] {service}: {decision.outcome.value} {what}".strip()
    subject = " ".join(subject.split())[:100]
    body = {
        "function": function,
        "event_id": event_id,
        **decision.model_dump(mode="json", exclude={"notify"}, exclude_none=True),
    }
    return {
        "TopicArn": topic_arn,
        "Subject": subject,
        "Message": json.dumps(body, indent=2, sort_keys=True),
        "MessageAttributes": {
            "outcome": {"DataType": "String", "StringValue": decision.outcome.value},
            "service": {"DataType": "String", "StringValue": decision.service},
            "severity": {"DataType": "String", "StringValue": decision.severity},
        },
    }


def publish(sns: SNSClient, params: dict[str, Any]) -> str:
    with translate("sns:Publish"):
        response = sns.publish(**params)
    return response.get("MessageId", "")
