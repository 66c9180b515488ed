"""The story the sandbox tells: what happened, in order, with a clock."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
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


class Timeline:
    def __init__(self, *, echo: bool = False, verbose: bool = False) -> None:
        self.started = time.monotonic()
        self.entries: list[Entry] = []
        self.echo = echo
        self.verbose = verbose

    def add(self, kind: str, text: str, **data: Any) -> Entry:
        entry = Entry(time.monotonic() - self.started, kind, text, data)
        self.entries.append(entry)
        if self.echo and (self.verbose or not quiet(entry)):
            print(format_entry(entry), flush=True)
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


def format_entry(e: Entry) -> str:
    return f"{e.at:6.2f}s {_MARK.get(e.kind, '  ')} {e.text}"
