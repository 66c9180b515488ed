"""Render the results (the JSON document) as bench/results.md."""

from __future__ import annotations

from typing import Any


def _num(value: float, unit: str) -> str:
    if unit in ("calls", "actions", "files", "runs") or (
        float(value).is_integer() and abs(value) >= 10
    ):
        return f"{value:,.0f}"
    if unit == "decisions/s":
        return f"{value:,.0f}"
    if abs(value) < 10:
        return f"{value:.3f}"
    return f"{value:,.1f}"


def _spread(fig: dict[str, Any]) -> str:
    stats, unit = fig["stats"], fig["unit"]
    if fig["runs"] <= 1:
        return "-"
    text = f"{_num(stats['min'], unit)} .. {_num(stats['max'], unit)}"
    if fig["runs"] >= 4:
        text += f" (IQR {_num(stats['q1'], unit)} .. {_num(stats['q3'], unit)})"
    return text


def _commit(meta: dict[str, Any]) -> str:
    git = meta.get("git") or {}
    if not git:
        return ""
    dirty = (
        " with uncommitted changes under functions/ (other work in the shared checkout)"
        if git.get("functions_dirty")
        else ""
    )
    return f"Measured: the working tree at commit {git.get('commit')}{dirty}."


def _load(meta: dict[str, Any]) -> str:
    start, end = meta.get("load_average_at_start"), meta.get("load_average_at_end")
    if not start or not end:
        return "unknown"
    return f"{start[0]:.1f} at the start, {end[0]:.1f} at the end (1 min)"


def _word(fig: dict[str, Any]) -> str:
    if fig["verdict"] is None:
        return "-"
    word = f"**{fig['verdict']}**"
    return f"{word}: {fig['why']}" if fig["why"] else word


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def render(doc: dict[str, Any]) -> str:
    meta = doc["meta"]
    out = [
        "# Benchmarks",
        "",
        f"Written by `{meta['command']}` on {meta['date']} "
        f"(machine: {meta['machine']}; Python {meta['python']}; "
        f"{'quick run: small sizes, few runs' if meta['quick'] else 'full run'}; "
        f"{meta['seconds']:.0f} s in all; load average {_load(meta)}). {_commit(meta)}",
        "",
        *(
            [
                "Sections re-run later and merged in: "
                + "; ".join(f"`{m['command']}` at {m['date']}" for m in meta["merged"])
                + ".",
                "",
            ]
            if meta.get("merged")
            else []
        ),
        "Benchmarks, not tests: nothing here is asserted by `make test`. The machine was shared "
        "with other work while this ran, so times are noisy; the spread is shown beside each "
        "median. Raw numbers, every run: [results.json](results.json).",
        "",
        "## Summary",
        "",
        "| figure | median | target | verdict |",
        "|---|---|---|---|",
    ]
    for section in doc["sections"]:
        if section["skipped"]:
            out.append(f"| {_cell(section['title'])} | skipped | | {_cell(section['skipped'])} |")
            continue
        for fig in section["figures"]:
            if fig["target"] is None:
                continue
            out.append(
                f"| {_cell(fig['name'])} | {_headline(fig)} | {_cell(fig['target'])} "
                f"| {_cell(_word(fig))} |"
            )
    for section in doc["sections"]:
        out += ["", f"## {section['title']}", ""]
        out.append(f"Command: `{section['command']}` ({section['seconds']:.0f} s).")
        out.append("")
        if section["skipped"]:
            out += [f"Skipped: {section['skipped']}", ""]
            continue
        out += [
            "| figure | runs | median | spread (min .. max) | target | verdict |",
            "|---|---|---|---|---|---|",
        ]
        for fig in section["figures"]:
            out.append(
                f"| {_cell(fig['name'])} | {fig['runs']} | {_headline(fig)} | "
                f"{_cell(_spread(fig))} | {_cell(fig['target'] or '-')} | {_cell(_word(fig))} |"
            )
        out.append("")
        extra = _extras(section)
        if extra:
            out += [*extra, ""]
        for note in section["notes"]:
            out.append(f"- {note}")
    out.append("")
    return "\n".join(out)


def _headline(fig: dict[str, Any]) -> str:
    text = f"{_num(fig['stats']['median'], fig['unit'])} {fig['unit']}"
    if "ratio" in fig["extra"]:
        text += f" ({fig['extra']['ratio']:.2f}x)"
    return text


def _extras(section: dict[str, Any]) -> list[str]:
    key = section["key"]
    lines: list[str] = []
    if key == "cold-start":
        lines += [
            "| function, set-up | clients | CPU: function / baseline | ratio | "
            "wall: function / baseline | wall ratio |",
            "|---|---|---|---|---|---|",
        ]
        for fig in section["figures"]:
            e = fig["extra"]
            wall = (
                f"{e['wall']['median']:.3f} / {e['baseline_wall']['median']:.3f} s | "
                f"{e['wall_ratio']:.2f}x"
                if e.get("wall_ratio")
                else "- | -"
            )
            lines.append(
                f"| {_cell(fig['name'])} | {', '.join(e['services'])} | "
                f"{fig['stats']['median']:.3f} / {e['baseline']['median']:.3f} s | "
                f"{e['ratio']:.2f}x | {wall} |"
            )
        for fig in section["figures"]:
            found = fig["extra"].get("importtime_offenders")
            if not found:
                continue
            lines += [
                "",
                f"{fig['name'].split(':')[0]}: what it imports beyond the baseline "
                "(`python -X importtime`, self time per package, median of 5 runs), and "
                "what pulls it in:",
                "",
            ]
            for r in found["packages"]:
                lines.append(
                    f"- `{r['package']}` {r['ms']:.0f} ms (imported by `{r['imported_by']}`)"
                )
            own = ", ".join(
                f"`{r['module']}` {r['ms']:.0f} ms (from `{r.get('imported_by', '-')}`)"
                for r in found["own_modules"]
            )
            lines.append(f"- its own slowest modules: {own}")
        first = section["figures"][0] if section["figures"] else None
        if first:
            lines += [
                "",
                f"Function run: `{first['command']}`",
                "",
                f"Baseline run: `{first['extra']['baseline_command']}`",
                "",
                "Environment of both: the functions' variables (`bench/cold_start.py` ENV), "
                "`LAMBDA_TASK_ROOT` and `PYTHONPATH` = a copy of functions/ without "
                "`__pycache__`, `PYTHONPYCACHEPREFIX` = the primed bytecode cache, "
                "`PYTHONDONTWRITEBYTECODE=1`.",
            ]
    elif key == "aws-calls":
        lines += ["| reaction | calls by API |", "|---|---|"]
        for fig in section["figures"]:
            calls = fig["extra"].get("calls", {})
            lines.append(
                f"| {_cell(fig['name'])} | "
                + ", ".join(f"{k} {v}" for k, v in calls.items())
                + " |"
            )
    elif key == "sweep":
        lines += _sweep_lines(section)
    elif key == "storm":
        d = section["details"]
        lines += [
            f"Outcomes: {', '.join(f'{k} {v}' for k, v in d['outcomes'].items())}.",
            "",
            f"Actions taken: {', '.join(f'{k} {v}' for k, v in d['actions'].items()) or 'none'}.",
            "",
            f"Calls by API: {', '.join(f'{k} {v}' for k, v in d['calls'].items())}.",
            "",
            "Spread of running tasks per service after the storm (largest zone first): "
            + ", ".join(f"{k}: {v} services" for k, v in d["spread_after"].items())
            + ".",
        ]
    elif key == "synth":
        for fig in section["figures"]:
            if fig["command"]:
                lines.append(f"Timed command ({fig['name']}): `{fig['command']}`")
                break
        lines.append("")
        lines += [
            "| services | stacks | resources | largest stack | wall median "
            "| CPU median (CLI, app, jsii) |",
            "|---|---|---|---|---|---|",
        ]
        for fig in section["figures"]:
            e = fig["extra"]
            lines.append(
                f"| {e['services']} | {len(e['stacks'])} | {e['resources']} | "
                f"{e['largest_stack']} | {fig['stats']['median']:.1f} s | "
                f"{e['cpu']['median']:.1f} s |"
            )
        lines += ["", "Resources per stack (outputs, template KB):", ""]
        for fig in section["figures"]:
            e = fig["extra"]
            items = list(e["stacks"].items())
            shown = items if len(items) <= 6 else items[:3] + items[-1:]
            per = [
                f"{name.removeprefix('EcsAutopilot-')} {s['resources']} ({s['outputs']}, "
                f"{s['kb']} KB)"
                for name, s in shown
            ]
            if len(items) > 6:
                middle = [s for _, s in items[3:-1]]
                per.insert(
                    3,
                    f"{len(middle)} more services stacks of {min(s['resources'] for s in middle)}"
                    f"-{max(s['resources'] for s in middle)} resources",
                )
            lines.append(f"- {e['services']} services: {', '.join(per)}")
    elif key == "demo" and section["figures"]:
        fig = section["figures"][0]
        lines.append(f"Command: `{fig['command']}`; runs: {'; '.join(fig['extra']['summaries'])}.")
    elif key == "throughput":
        for fig in section["figures"]:
            e = fig["extra"]
            mix = ", ".join(f"{k} {v}" for k, v in e.get("mix", {}).items())
            lines.append(
                f"- {fig['name']}: {e['decisions_per_run']:,} decisions per run over "
                f"{e['distinct_inputs']} distinct inputs ({mix})."
            )
    return lines


def _sweep_lines(section: dict[str, Any]) -> list[str]:
    """The reconciler's sweeps: calls by API, wall time and outcomes per size."""
    lines: list[str] = []
    lines += [
        "| services (repositories) | sweep | calls by API | wall | outcomes |",
        "|---|---|---|---|---|",
    ]
    for size, m in section["details"].items():
        for which, label in (("idle", "nothing to do"), ("lost", "a dropped push each")):
            calls = ", ".join(f"{k} {v}" for k, v in m[f"{which}_calls"].items())
            got = ", ".join(f"{k} {v}" for k, v in m[f"{which}_outcomes"].items())
            lines.append(
                f"| {size} ({m['repositories']}) | {label} | {calls} | "
                f"{m[f'{which}_wall']:.1f} s | {got or 'none'} |"
            )
    for size, m in section["details"].items():
        walls = m.get("lost_shard_walls") or []
        if walls:
            lines += [
                "",
                f"{size} services, a dropped push each, fanned out: the tick "
                f"{m['lost_tick_wall']:.1f} s, then {len(walls)} shards (the tick's and those "
                "they handed on when short of time), each its own invocation and budget: "
                + ", ".join(f"{w:.1f} s" for w in walls)
                + ".",
            ]
    lines += [
        "",
        "Delay from a dropped push event to its deploy: at most one "
        "`reconciler.rate_minutes` interval per sweep it takes plus the sweep's time (fanned "
        "out: the tick and its slowest shard with those it handed on): "
        + "; ".join(
            f"{size} services: {m['sweeps_to_deploy_all']} sweep(s) x rate_minutes "
            f"+ {m.get('lost_delay', m['lost_wall']):.1f} s"
            for size, m in section["details"].items()
        )
        + ".",
    ]
    return lines
