"""How the simulator tells what happens: one line per event, per handler run, per label.

Pure text from plain values (events, handler reports, ARNs): this module imports nothing
of the simulator's, so every concern can use it.
"""

from __future__ import annotations

from typing import Any

from sandbox.router import RouteResult
from sandbox.timeline import Timeline


def short(arn: str, n: int = 8) -> str:
    """The first ``n`` characters of an ARN's last part (a task's id)."""
    return arn.rsplit("/", 1)[-1][:n]


def td_label(arn: str) -> str:
    """A task definition ARN as ``family:revision``."""
    return arn.rsplit("/", 1)[-1]


def counts_label(findings: dict[str, int]) -> str:
    shown = {k: v for k, v in findings.items() if v}
    return ", ".join(f"{k}={v}" for k, v in shown.items()) or "no findings"


def describe_event(event: dict[str, Any]) -> str:
    d = event.get("detail", {}) or {}
    dt = event.get("detail-type", "?")
    if dt == "ECR Image Action":
        return f"{dt} {d.get('action-type')} {d.get('repository-name')}:{d.get('image-tag', '<digest>')}"  # noqa: E501
    if dt in ("ECR Image Scan", "Inspector2 Scan"):
        return f"{dt} {str(d.get('repository-name', '')).rsplit('/', 1)[-1]}: {counts_label(d.get('finding-severity-counts') or {})}"  # noqa: E501
    if dt == "ECS Deployment State Change":
        svc = (event.get("resources") or ["?"])[0].rsplit("/", 1)[-1]
        return (
            f"{dt} {svc}: {d.get('eventName')} {d.get('deploymentId', '')} ({d.get('reason', '')})"
        )
    if dt == "ECS Task State Change":
        return f"{dt} {d.get('group')}: {d.get('lastStatus')} in {d.get('availabilityZone')}"
    if dt == "CloudWatch Alarm State Change":
        return f"{dt} {d.get('alarmName')}: {(d.get('previousState') or {}).get('value')} -> {(d.get('state') or {}).get('value')}"  # noqa: E501
    if dt == "ECS Service Action":
        return f"{dt} {d.get('eventName')} {d.get('reason', '')}".strip()
    return f"{dt} from {event.get('source')}"


def summarize_report(report: dict[str, Any] | None) -> str:
    if not report:
        return "ok (no report)"
    decisions = report.get("decisions") or []
    actions = [a for a in report.get("actions") or [] if a.get("done")]
    parts = []
    for d in decisions[:6]:
        reason = d.get("reason") or ""
        service = str(d.get("service") or "?").rsplit("/", 1)[-1]
        parts.append(f"{service} {d.get('outcome', '?')}" + (f" ({reason})" if reason else ""))
    text = "; ".join(parts) or "no decision"
    if len(decisions) > 6:
        text += f"; +{len(decisions) - 6} more"
    if actions:
        text += " | " + ", ".join(str(a.get("api")) for a in actions)
    return text


def record_route(timeline: Timeline, res: RouteResult) -> None:
    """One delivery on the timeline: unmatched, failed (and where the event went), or the
    function's report."""
    if not res.matched:
        timeline.add("unmatched", f"no rule matched {res.detail_type} ({res.event_id[:8]})")
        return
    if not res.ok:
        where = "dead-letter queue" if res.dead_lettered else "nowhere (no DLQ)"
        timeline.add(
            "failed",
            f"{res.function} failed {res.attempts}x: {res.error} -> event to {where}",
            function=res.function,
            error=res.error,
        )
        return
    timeline.add(
        "route",
        f"{res.function} via {res.rule}: {summarize_report(res.report)}",
        function=res.function,
        rule=res.rule,
        report=res.report,
    )
