"""Alarms: ``SetAlarmState``, then the ``CloudWatch Alarm State Change`` AWS sends, with
``previousState``, ``state`` and the alarm's metric ``configuration``.

No ``alarmTags`` in the event unless ``propagate_tags`` is on (CloudWatch's alarm tag
propagation, off by default as on AWS): capacity-events reads the alarm's tags itself.
"""

from __future__ import annotations

import uuid
from typing import Any

from sandbox.server import Clients
from sandbox.simulator.bus import Event, EventQueue, make_event, now
from sandbox.simulator.state import SimulatorError
from sandbox.timeline import Timeline


class Alarms:
    def __init__(self, clients: Clients, queue: EventQueue, timeline: Timeline) -> None:
        self.clients = clients
        self.queue = queue
        self.timeline = timeline
        #: True: alarm events carry ``alarmTags`` (CloudWatch's alarm tag propagation);
        #: False (AWS's default): they do not, and capacity-events reads the tags itself
        self.propagate_tags = False

    def set_state(self, name: str, state: str, reason: str | None = None) -> bool:
        """Set the alarm's state; queue its event if the state changed (True) or note that
        nothing changed (False)."""
        cw = self.clients("cloudwatch")
        found = cw.describe_alarms(AlarmNames=[name]).get("MetricAlarms", [])
        if not found:
            raise SimulatorError(f"no alarm named {name!r} in the sandbox")
        before = found[0]
        reason = reason or f"Threshold Crossed: set by the sandbox to {state}"
        cw.set_alarm_state(AlarmName=name, StateValue=state, StateReason=reason)
        after = cw.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]
        if before["StateValue"] == state:
            self.timeline.add("note", f"alarm {name} already {state}: no state change, no event")
            return False
        event = alarm_event(before, after)
        if self.propagate_tags:
            tags = cw.list_tags_for_resource(ResourceARN=after["AlarmArn"]).get("Tags", [])
            event["detail"]["alarmTags"] = {t["Key"]: t["Value"] for t in tags}
        self.queue.put(event, label=f"alarm {name}: {before['StateValue']} -> {state}")
        return True


def alarm_event(before: dict[str, Any], after: dict[str, Any]) -> Event:
    """The state change event from the alarm as ``DescribeAlarms`` described it before and
    after."""

    def state(a: dict[str, Any]) -> dict[str, Any]:
        ts = a.get("StateUpdatedTimestamp") or now()
        return {
            "reason": a.get("StateReason", ""),
            "reasonData": a.get("StateReasonData", "{}") or "{}",
            "timestamp": ts.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}+0000",
            "value": a["StateValue"],
        }

    metrics: list[dict[str, Any]]
    if after.get("Metrics"):
        metrics = [{k[:1].lower() + k[1:]: v for k, v in m.items()} for m in after["Metrics"]]
    else:
        metrics = [
            {
                "id": str(uuid.uuid4()),
                "metricStat": {
                    "metric": {
                        "dimensions": {d["Name"]: d["Value"] for d in after.get("Dimensions", [])},
                        "name": after.get("MetricName"),
                        "namespace": after.get("Namespace"),
                    },
                    "period": after.get("Period"),
                    "stat": after.get("Statistic") or after.get("ExtendedStatistic"),
                },
                "returnData": True,
            }
        ]
    config: dict[str, Any] = {"metrics": metrics}
    if after.get("AlarmDescription"):
        config["description"] = after["AlarmDescription"]
    return make_event(
        "aws.cloudwatch",
        "CloudWatch Alarm State Change",
        {
            "alarmName": after["AlarmName"],
            "configuration": config,
            "previousState": state(before),
            "state": state(after),
        },
        [after["AlarmArn"]],
    )
