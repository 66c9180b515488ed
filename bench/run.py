"""The bench's one command: ``python -m bench.run [--quick] [--only NAME[,NAME]] [--out DIR]``.

Runs the sections (cold start, asset size, AWS calls, the reconciler's sweep, storm,
throughput, synth, demo)
in order and writes ``results.json`` (every run's raw
numbers) and ``results.md`` (the table, with targets and verdicts) into ``--out``
(default: bench/). ``--quick`` uses small sizes and few runs (for the smoke test).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import (
    asset_size,
    aws_calls,
    cold_start,
    demo,
    report,
    storm,
    sweep,
    synth,
    throughput,
)
from bench.common import REPO_ROOT, Section

SECTIONS: dict[str, Callable[..., Section]] = {
    "cold-start": cold_start.run,
    "asset-size": asset_size.run,
    "aws-calls": aws_calls.run,
    "sweep": sweep.run,
    "storm": storm.run,
    "throughput": throughput.run,
    "synth": synth.run,
    "demo": demo.run,
}


def _git() -> dict[str, str | bool]:
    """The commit measured, and whether functions/ had uncommitted changes (a shared
    checkout: the bench measures the working tree)."""

    def git(*args: str) -> str:
        proc = subprocess.run(
            ["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, check=False
        )
        return proc.stdout.strip()

    return {
        "commit": git("rev-parse", "--short", "HEAD") or "unknown",
        "functions_dirty": bool(git("status", "--porcelain", "--", "functions")),
    }


def _machine() -> str:
    cpus = os.cpu_count()
    return f"{platform.system()} {platform.machine()}, nproc {cpus}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes, few runs")
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="NAME",
        help=f"run only these sections (repeat or comma-separate): {', '.join(SECTIONS)}",
    )
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "bench", help="where to write")
    parser.add_argument(
        "--merge",
        action="store_true",
        help="replace only the sections run in the existing results.json (keep the others)",
    )
    args = parser.parse_args(argv)
    only = [n.strip() for item in args.only for n in item.split(",") if n.strip()]
    unknown = [n for n in only if n not in SECTIONS]
    if unknown:
        parser.error(f"unknown section {', '.join(unknown)} (known: {', '.join(SECTIONS)})")
    chosen = [n for n in SECTIONS if n in only] if only else list(SECTIONS)

    started = time.perf_counter()
    load_start = [round(x, 2) for x in os.getloadavg()]
    sections = []
    failed = False
    for name in chosen:
        print(f"[bench] {name} ...", file=sys.stderr, flush=True)
        t0 = time.perf_counter()
        try:
            section = SECTIONS[name](quick=args.quick)
        except Exception as exc:  # a broken section is reported, the others still run
            failed = True
            traceback.print_exc()
            section = Section(
                key=name,
                title=name,
                command=f"python -m bench.run --only {name}",
                skipped=f"failed: {type(exc).__name__}: {exc}"[:300],
            )
        section.seconds = time.perf_counter() - t0
        section.command = f"python -m bench.run --only {name}" + (" --quick" if args.quick else "")
        print(f"[bench] {name} done in {section.seconds:.1f} s", file=sys.stderr, flush=True)
        sections.append(section)

    cmd = (
        "python -m bench.run"
        + (" --quick" if args.quick else "")
        + "".join(f" --only {n}" for n in only)
    )
    doc: dict[str, Any] = {
        "meta": {
            "command": cmd,
            "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "machine": _machine(),
            "python": platform.python_version(),
            "quick": args.quick,
            "seconds": round(time.perf_counter() - started, 1),
            "load_average_at_start": load_start,
            "git": _git(),
            "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
        },
        "sections": [s.as_dict() for s in sections],
    }
    args.out.mkdir(parents=True, exist_ok=True)
    previous = args.out / "results.json"
    if args.merge and previous.exists():
        old = json.loads(previous.read_text())
        fresh = {s["key"]: s for s in doc["sections"]}
        doc["sections"] = [fresh.pop(s["key"], s) for s in old["sections"]] + list(fresh.values())
        doc["meta"] = old["meta"]
        # every merge is kept, oldest first: each section's figures are from its last one
        doc["meta"]["merged"] = [
            *old["meta"].get("merged", []),
            {"command": cmd, "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")},
        ]
    (args.out / "results.json").write_text(json.dumps(doc, indent=2, default=str) + "\n")
    (args.out / "results.md").write_text(report.render(doc))
    print(f"[bench] wrote {args.out / 'results.md'} and results.json", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
