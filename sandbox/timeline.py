"""The story the sandbox tells: what happened, in order, with a clock.

One time base: every line starts with the seconds since the timeline started, and an
absolute time inside a function's reason (``until 2026-...Z``) is shown on that base too.
Reactions that change nothing (``NOOP_OUTCOMES``) are hidden unless verbose.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass
class Entry:
    at: float  # seconds since the timeline started
    kind: str  # event | route | unmatched | failed | state | note | scene | check
    text: str
    data: dict[str, Any] = field(default_factory=dict)
    depth: int = 0

    def to_json(self) -> dict[str, Any]:
        return {"at": round(self.at, 3), "kind": self.kind, "text": self.text, "data": self.data}


_MARK = {
    "event": "->",
    "route": "  =>",
    "unmatched": "  ..",
    "failed": "  !!",
    "state": "  **",
    "note": "  --",
    "scene": "==",
    "check": "  ok",
    "miss": "  XX",
}


#: how to read the markers, printed above the story (``autopilot demo``)
LEGEND = (
    "How to read it: each line starts with the seconds since the story began.",
    "  ==  a scene: what the story does next",
    "  ->  a stimulus: an event on the bus, or an operator's command",
    "  =>  a function's reaction: its decisions, then | the AWS writes it made",
    "  **  what changed in AWS as a consequence (deployments, tasks, instances)",
    "  --  a note on what the scene set up",
    "  ok  a check that passed; XX  one that did not",
    "  !!  a function that failed on the event (retried, then its dead-letter queue)",
    "  ..  an event no rule matched (shown with -v)",
)

#: outcomes that change nothing: a reaction made only of these is hidden unless verbose
NOOP_OUTCOMES = frozenset({"debounced", "balanced", "unchanged", "ignored", "duplicate"})


class Timeline:
    def __init__(self, *, echo: bool = False, verbose: bool = False) -> None:
        self.started = time.monotonic()
        self.wall_started = time.time()  # the base of absolute times in reasons
        self.entries: list[Entry] = []
        self.echo = echo
        self.verbose = verbose
        self.hidden = 0  # no-op reactions and quiet events not echoed

    def add(self, kind: str, text: str, **data: Any) -> Entry:
        entry = Entry(time.monotonic() - self.started, kind, text, data)
        self.entries.append(entry)
        if self.echo:
            if self.verbose or not (quiet(entry) or noop(entry)):
                print(format_entry(entry, base=self.wall_started), flush=True)
            else:
                self.hidden += 1
        return entry

    def since(self, index: int) -> list[Entry]:
        return self.entries[index:]

    def mark(self) -> int:
        return len(self.entries)


#: noise hidden unless --verbose: task starts and stops, and events no rule matched
QUIET_DETAIL_TYPES = ("ECS Task State Change",)


def quiet(e: Entry) -> bool:
    return e.kind == "unmatched" or (
        e.kind == "event" and e.data.get("detail_type") in QUIET_DETAIL_TYPES
    )


def noop(e: Entry) -> bool:
    """A reaction that changed nothing: every decision's outcome a no-op, no AWS write."""
    if e.kind != "route":
        return False
    report = e.data.get("report") or {}
    decisions = report.get("decisions") or []
    if any(a.get("done") for a in report.get("actions") or []):
        return False
    return bool(decisions) and all(d.get("outcome") in NOOP_OUTCOMES for d in decisions)


_ISO_RE = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})?")
_INNER_PARENS_RE = re.compile(r"\s*\(([^()]*)\)")
#: phrasings of the functions' reasons said more plainly on the timeline
_PLAIN = (("event already handled", "already handled"), ("it was: ", ""))


def on_base(text: str, base: float | None) -> str:
    """``text`` with each ISO-8601 time as seconds on the timeline (``base``: the wall-clock
    time the timeline started); unchanged when there is no base."""
    if base is None:
        return text

    def relative(m: re.Match[str]) -> str:
        try:
            when = datetime.fromisoformat(m[0].replace("Z", "+00:00"))
        except ValueError:
            return m[0]
        if when.tzinfo is None:
            return m[0]
        seconds = when.timestamp() - base
        return f"{seconds:.2f}s" if seconds >= 0 else f"{-seconds:.0f}s before the start"

    return _ISO_RE.sub(relative, text)


def plain_reason(reason: str, base: float | None = None) -> str:
    """A reason without nested parentheses: ``event already handled (it was: deployed)``
    -> ``already handled, deployed``; absolute times on the timeline's base."""
    text = on_base(reason, base)
    for said, plainer in _PLAIN:
        text = text.replace(said, plainer)
    while True:
        flat = _INNER_PARENS_RE.sub(lambda m: f", {m[1]}" if m[1] else "", text)
        if flat == text:
            return flat.strip()
        text = flat


def summarize_report(report: dict[str, Any], base: float | None = None) -> str:
    """A function's report in one line: ``service outcome: reason; ... | API, ...``."""
    decisions = report.get("decisions") or []
    actions = [a for a in report.get("actions") or [] if a.get("done")]
    parts = []
    for d in decisions[:6]:
        reason = plain_reason(str(d.get("reason") or ""), base)
        service = str(d.get("service") or "?").rsplit("/", 1)[-1]
        parts.append(f"{service} {d.get('outcome', '?')}" + (f": {reason}" if reason else ""))
    text = "; ".join(parts) or "no decision"
    if len(decisions) > 6:
        text += f"; +{len(decisions) - 6} more"
    if actions:
        text += " | " + ", ".join(str(a.get("api")) for a in actions)
    return text


def format_entry(e: Entry, *, base: float | None = None) -> str:
    """One line: seconds, marker, text; a reaction is told from its report, plainly."""
    text = e.text
    report = e.data.get("report") if e.kind == "route" else None
    if report:
        text = f"{e.data.get('function')} via {e.data.get('rule')}: "
        text += summarize_report(report, base)
    return f"{e.at:6.2f}s {_MARK.get(e.kind, '  ')} {text}"
