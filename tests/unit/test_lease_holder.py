"""Who holds a service's lease: ``<function>:<event id>:<invocation>`` (``record.Run``)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from autopilot.domain.report import Report
from autopilot.record import Run, invocation_id


def _run(event_id: str, invocation: str) -> Run:
    report = Report(function="image-events", event_id=event_id, detail_type="ECR Image Action")
    nothing: Any = None  # the holder reads only the report and the invocation
    return Run(report, nothing, nothing, "", 300, invocation)


def test_two_deliveries_of_one_event_hold_as_two_holders() -> None:
    a, b = _run("push-1", "request-a"), _run("push-1", "request-b")
    assert a.holder == "image-events:push-1:request-a"
    assert a.holder != b.holder
    assert _run("push-1", "request-a").holder == a.holder  # a retry: the same request id


def test_the_invocation_is_the_lambda_request_id_else_a_fresh_one() -> None:
    assert invocation_id(SimpleNamespace(aws_request_id="8f6e-request")) == "8f6e-request"
    fresh = {invocation_id(), invocation_id(None), invocation_id(SimpleNamespace())}
    assert len(fresh) == 3
