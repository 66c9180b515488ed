"""Progress with a clock, on stderr: each step's message, then the seconds it has taken so
far while it runs (``synthesizing ... 12 s, last time 22 s``), and what it took.

The estimate is honest: the time the same step took on the last run, remembered in a small
JSON file (``autopilot demo`` keeps it in the cloud assembly's directory); with none
remembered, there is no estimate. On a terminal the clock ticks in place every second; off a
terminal (a pipe, CI's log) a line every ``every`` seconds.
"""

from __future__ import annotations

import contextlib
import json
import re
import sys
import threading
import time
from pathlib import Path
from typing import TextIO

#: a step's key: its message with the numbers out (a stack's resource count may change)
_NUMBERS_RE = re.compile(r"\d+")


def step_key(msg: str) -> str:
    return _NUMBERS_RE.sub("#", msg)


class ProgressClock:
    """A ``progress(msg)`` callable: a new message ends the step before it."""

    def __init__(
        self,
        *,
        stream: TextIO | None = None,
        memory: Path | None = None,
        every: float = 10.0,
        tty: bool | None = None,
        least: float = 2.0,
    ) -> None:
        self.stream = stream or sys.stderr
        isatty = getattr(self.stream, "isatty", None)
        self.tty = bool(isatty and isatty()) if tty is None else tty
        self.memory = memory
        self.every = every
        self.least = least  # steps shorter than this say nothing of their time
        self.took: dict[str, float] = {}
        self.last: dict[str, float] = self._recall()
        self._lock = threading.Lock()
        self._step: tuple[str, float] | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _recall(self) -> dict[str, float]:
        if self.memory is None:
            return {}
        try:
            doc = json.loads(self.memory.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        if not isinstance(doc, dict):
            return {}
        return {str(k): float(v) for k, v in doc.items() if isinstance(v, int | float)}

    def estimate(self, msg: str) -> float | None:
        """What the step took last time, if remembered."""
        return self.last.get(step_key(msg))

    def _write(self, text: str) -> None:
        with contextlib.suppress(OSError, ValueError):
            self.stream.write(text)
            self.stream.flush()

    def _so_far(self, msg: str, elapsed: float) -> str:
        last = self.estimate(msg)
        told = f"{elapsed:.0f} s"
        return told + (f", last time {last:.0f} s" if last is not None else "")

    def __call__(self, msg: str) -> None:
        self.finish()
        with self._lock:
            self._step = (msg, time.monotonic())
            last = self.estimate(msg)
            head = f"... {msg}" + (f" (last time {last:.0f} s)" if last is not None else "")
            self._write(head if self.tty else head + "\n")
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._tick, args=(self._stop,), daemon=True)
        self._thread.start()

    def _tick(self, stop: threading.Event) -> None:
        interval = 1.0 if self.tty else self.every
        while not stop.wait(interval):
            with self._lock:
                if self._step is None:
                    return
                msg, t0 = self._step
                so_far = self._so_far(msg, time.monotonic() - t0)
                if self.tty:
                    self._write(f"\r\x1b[K... {msg}: {so_far}")
                else:
                    self._write(f"    still at it: {so_far}\n")

    def finish(self) -> None:
        """End the current step (if any): its time, on the same line on a terminal."""
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            self._thread = None
        with self._lock:
            if self._step is None:
                return
            msg, t0 = self._step
            self._step = None
            took = time.monotonic() - t0
            self.took[step_key(msg)] = took
            if self.tty:
                self._write(
                    f"\r\x1b[K... {msg}" + (f": {took:.1f} s" if took >= self.least else "") + "\n"
                )
            elif took >= self.least:
                self._write(f"    took {took:.1f} s\n")

    def close(self) -> None:
        """End the last step and remember what every step took, for the next run."""
        self.finish()
        if self.memory is None or not self.took:
            return
        with contextlib.suppress(OSError):
            self.memory.parent.mkdir(parents=True, exist_ok=True)
            self.memory.write_text(
                json.dumps({**self.last, **self.took}, indent=2, sort_keys=True) + "\n",
                encoding="utf-8",
            )
