"""What every section shares: statistics, the figure record, the repository's paths."""

from __future__ import annotations

import os
import statistics
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
FUNCTIONS = REPO_ROOT / "functions"
PYTHON = sys.executable
#: The interpreter as the results show it (relative to the repository when it is the venv's).
SHOWN_PYTHON = (
    str(Path(PYTHON).relative_to(REPO_ROOT)) if PYTHON.startswith(str(REPO_ROOT)) else PYTHON
)


def summary(values: Sequence[float]) -> dict[str, float]:
    """Median, min, max and the quartiles (IQR) of some runs."""
    xs = sorted(values)
    if not xs:
        return {}
    if len(xs) >= 4:
        q1, _, q3 = statistics.quantiles(xs, n=4, method="inclusive")
    else:
        q1, q3 = xs[0], xs[-1]
    return {
        "median": statistics.median(xs),
        "min": xs[0],
        "max": xs[-1],
        "q1": q1,
        "q3": q3,
    }


@dataclass
class Figure:
    """One measured figure: its runs, its summary, its target and a plain verdict."""

    name: str
    unit: str
    values: list[float]
    target: str | None = None
    #: "met", "missed", or None when there is no target (a figure to read, not to judge).
    verdict: str | None = None
    why: str = ""
    command: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def runs(self) -> int:
        return len(self.values)

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["runs"] = self.runs
        out["stats"] = summary(self.values)
        return out


@dataclass
class Section:
    """One section of the results (one benchmark ``bench.run`` runs)."""

    key: str
    title: str
    command: str
    figures: list[Figure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    skipped: str | None = None
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "title": self.title,
            "command": self.command,
            "figures": [f.as_dict() for f in self.figures],
            "notes": self.notes,
            "details": self.details,
            "skipped": self.skipped,
            "seconds": round(self.seconds, 2),
        }


def verdict(ok: bool) -> str:
    return "met" if ok else "missed"


@contextmanager
def stopwatch() -> Iterator[Callable[[], float]]:
    start = time.perf_counter()
    done: list[float] = []
    yield lambda: done[0] if done else time.perf_counter() - start
    done.append(time.perf_counter() - start)


def tool_env() -> dict[str, str]:
    """The environment the Makefile gives the CDK CLI (Node 24 from the venv first on PATH)."""
    env = dict(os.environ)
    env["PATH"] = f"{Path(PYTHON).parent}{os.pathsep}{env.get('PATH', '')}"
    env["JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION"] = "20"
    env["CDK_DISABLE_VERSION_CHECK"] = "1"
    env["CDK_CLI_NOTICES"] = "false"
    return env


def rel(path: Path | str) -> str:
    """A path relative to the repository root when it is inside it."""
    p = Path(path)
    try:
        return str(p.resolve().relative_to(REPO_ROOT))
    except ValueError:
        return str(p)
