"""The adapter over ECS's service-deployment records (``autopilot.aws.ecs``), on a fake
client: ListServiceDeployments paged (maxResults at most 100, nextToken) with its
``createdAt`` and ``status`` filters, DescribeServiceDeployments' rollback, alarms, creation
time and source revisions, and DescribeServiceRevisions in batches of 20."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

from autopilot.aws import ecs

SERVICE = "arn:aws:ecs:eu-west-1:123456789012:service/demo/web"
CLUSTER = "arn:aws:ecs:eu-west-1:123456789012:cluster/demo"
AT = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


def sd_arn(n: int) -> str:
    return f"arn:aws:ecs:eu-west-1:123456789012:service-deployment/demo/web/{n}"


class FakeEcs:
    """Answers ListServiceDeployments from ``total`` deployments in pages, and describes
    what it is asked; keeps every call's input."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def list_service_deployments(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(("list", kwargs))
        start = int(kwargs.get("nextToken") or 0)
        end = min(start + int(kwargs["maxResults"]), self.total)
        page: dict[str, Any] = {
            "serviceDeployments": [{"serviceDeploymentArn": sd_arn(n)} for n in range(start, end)]
        }
        if end < self.total:
            page["nextToken"] = str(end)
        return page

    def describe_service_revisions(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(("revisions", kwargs))
        return {
            "serviceRevisions": [
                {"serviceRevisionArn": a, "taskDefinition": f"td-of-{a}"}
                for a in kwargs["serviceRevisionArns"]
            ],
            "failures": [],
        }

    def describe_service_deployments(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(("describe", kwargs))
        return {
            "serviceDeployments": [
                {
                    "serviceDeploymentArn": arn,
                    "status": "ROLLBACK_SUCCESSFUL",
                    "createdAt": AT,
                    "sourceServiceRevisions": [{"arn": "rev-old", "runningTaskCount": 2}],
                    "targetServiceRevision": {"arn": "rev-new", "requestedTaskCount": 2},
                    "rollback": {
                        "reason": "alarm web-5xx",
                        "startedAt": AT,
                        "serviceRevisionArn": "rev-old",
                    },
                    "alarms": {
                        "status": "TRIGGERED",
                        "alarmNames": ["web-5xx", "web-hosts"],
                        "triggeredAlarmNames": ["web-5xx"],
                    },
                }
                for arn in kwargs["serviceDeploymentArns"]
            ]
        }


def test_recent_deployments_pages_by_100_with_the_filters() -> None:
    fake = FakeEcs(total=230)
    found = ecs.recent_deployments(
        cast(Any, fake), CLUSTER, SERVICE, limit=None, created_after=AT, statuses=["SUCCESSFUL"]
    )
    assert found == [sd_arn(n) for n in range(230)]
    assert [c["maxResults"] for _, c in fake.calls] == [100, 100, 100]
    assert [c.get("nextToken") for _, c in fake.calls] == [None, "100", "200"]
    assert all(c["createdAt"] == {"after": AT} for _, c in fake.calls)
    assert all(c["status"] == ["SUCCESSFUL"] for _, c in fake.calls)


def test_recent_deployments_asks_for_no_more_than_the_limit() -> None:
    fake = FakeEcs(total=230)
    assert ecs.recent_deployments(cast(Any, fake), CLUSTER, SERVICE) == [sd_arn(0)]
    (only,) = fake.calls
    assert only[1]["maxResults"] == 1
    assert "createdAt" not in only[1]
    assert "status" not in only[1]
    fake.calls.clear()
    assert len(ecs.recent_deployments(cast(Any, fake), CLUSTER, SERVICE, limit=150)) == 150
    assert [c["maxResults"] for _, c in fake.calls] == [100, 50]


def test_a_described_deployment_carries_its_rollback_and_alarms() -> None:
    fake = FakeEcs(total=0)
    arns = [sd_arn(n) for n in range(45)]
    described = ecs.describe_service_deployments(cast(Any, fake), arns)
    assert [d.arn for d in described] == arns
    assert [len(c["serviceDeploymentArns"]) for _, c in fake.calls] == [20, 20, 5]
    d = described[0]
    assert d.created_at == AT
    assert d.source_revisions == ("rev-old",)
    assert d.target_revision == "rev-new"
    assert d.rollback is not None
    assert (d.rollback.reason, d.rollback.started_at, d.rollback.revision) == (
        "alarm web-5xx",
        AT,
        "rev-old",
    )
    assert d.alarm_names == ("web-5xx", "web-hosts")
    assert d.triggered_alarms == ("web-5xx",)


def test_service_revisions_are_described_20_at_a_time_once_each() -> None:
    fake = FakeEcs(total=0)
    arns = [f"rev-{n}" for n in range(25)] + ["rev-0", ""]
    found = ecs.describe_service_revisions(cast(Any, fake), arns)
    assert sorted(found) == sorted(f"rev-{n}" for n in range(25))
    assert found["rev-3"].task_definition == "td-of-rev-3"
    assert [len(c["serviceRevisionArns"]) for _, c in fake.calls] == [20, 5]
