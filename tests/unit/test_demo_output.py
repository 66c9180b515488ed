"""How `autopilot demo` tells its story (sandbox/timeline.py, cli/progress.py): a legend of
the markers, no-op reactions hidden unless verbose, plain reasons on one time base, and a
clock with an honest estimate while a long step runs."""

from __future__ import annotations

import io
import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from cli.progress import ProgressClock, step_key
from sandbox.timeline import (
    _MARK,
    LEGEND,
    NOOP_OUTCOMES,
    Entry,
    Timeline,
    format_entry,
    noop,
    plain_reason,
)


def report(*decisions: tuple[str, str], writes: tuple[str, ...] = ()) -> dict[str, Any]:
    return {
        "decisions": [
            {"service": f"arn:aws:ecs:eu-west-1:123456789012:service/c/{s}", "outcome": o}
            | ({"reason": r} if (r := REASONS.get(o)) else {})
            for s, o in decisions
        ],
        "actions": [{"api": api, "done": True} for api in writes],
    }


REASONS = {
    "duplicate": "event already handled (it was: deployed)",
    "debounced": "a burst (3 events) is settling",
}


def route(rep: dict[str, Any]) -> Entry:
    return Entry(1.5, "route", "raw", {"function": "image-events", "rule": "r", "report": rep})


def test_the_legend_explains_every_marker_the_story_prints() -> None:
    legend = "\n".join(LEGEND)
    marks = {m.strip() for m in _MARK.values()}
    assert {"->", "=>", "**", "--", "ok"} <= marks
    for mark in marks:
        assert f" {mark}  " in legend, mark


def test_reasons_are_plain_without_nested_parentheses() -> None:
    assert plain_reason("event already handled (it was: deployed)") == "already handled, deployed"
    assert plain_reason("a (b (c)) d") == "a, b, c d"
    line = format_entry(route(report(("web", "duplicate"))))
    assert line.endswith("image-events via r: web duplicate: already handled, deployed")
    assert "(" not in line


def test_absolute_times_in_reasons_are_on_the_timeline_base() -> None:
    base = datetime(2026, 12, 1, 14, 0, 0, tzinfo=UTC).timestamp()
    text = plain_reason("deferred (until 2026-12-01T14:00:12.500000+00:00)", base)
    assert text == "deferred, until 12.50s"
    assert plain_reason("pushed 2026-12-01T13:59:00Z", base) == "pushed 60s before the start"
    assert "2026-12-01T14:00:12" in plain_reason("until 2026-12-01T14:00:12Z")  # no base


def test_no_op_reactions_are_hidden_unless_verbose(capsys: pytest.CaptureFixture[str]) -> None:
    assert {"debounced", "balanced", "unchanged", "ignored", "duplicate"} == NOOP_OUTCOMES
    quiet = report(("web", "duplicate"), ("feed", "debounced"))
    assert noop(route(quiet))
    assert not noop(route(report(("web", "deployed"), ("feed", "debounced"))))
    assert not noop(route(report(("web", "balanced"), writes=("UpdateService",))))
    assert not noop(route({"decisions": []}))

    told = Timeline(echo=True)
    told.add("route", "raw", function="f", rule="r", report=quiet)
    told.add("route", "raw", function="f", rule="r", report=report(("web", "deployed")))
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1
    assert "web deployed" in lines[0]
    assert told.hidden == 1

    verbose = Timeline(echo=True, verbose=True)
    verbose.add("route", "raw", function="f", rule="r", report=quiet)
    assert "web duplicate: already handled, deployed" in capsys.readouterr().out
    assert verbose.hidden == 0


def test_the_clock_ticks_and_remembers_for_the_next_estimate(tmp_path: Path) -> None:
    memory = tmp_path / "steps.json"
    stream = io.StringIO()
    clock = ProgressClock(stream=stream, memory=memory, every=0.05, tty=False, least=0.1)
    clock("deploying EcsAutopilot-demo (120 resources) into the sandbox")
    time.sleep(0.3)
    clock("moto server on http://127.0.0.1:1")
    clock.close()
    text = stream.getvalue()
    assert "... deploying EcsAutopilot-demo (120 resources) into the sandbox\n" in text
    assert "    still at it: 0 s\n" in text
    assert "    took 0." in text
    assert "last time" not in text  # the first run has no estimate: none is claimed
    remembered = json.loads(memory.read_text())
    key = step_key("deploying EcsAutopilot-demo (125 resources) into the sandbox")
    assert remembered[key] >= 0.3

    again = io.StringIO()
    clock = ProgressClock(stream=again, memory=memory, every=0.05, tty=False)
    clock("deploying EcsAutopilot-demo (125 resources) into the sandbox")
    clock.close()
    assert "(last time 0 s)" in again.getvalue()


def test_on_a_terminal_the_clock_ticks_in_place() -> None:
    stream = io.StringIO()
    clock = ProgressClock(stream=stream, tty=True, least=0.0)
    clock("synthesizing the CDK app (cdk synth)")
    time.sleep(1.2)
    clock.close()
    text = stream.getvalue()
    assert "\r\x1b[K... synthesizing the CDK app (cdk synth): 1 s" in text
    assert text.endswith(" s\n")
    assert text.count("\n") == 1
