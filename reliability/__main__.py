"""`python -m reliability [--full] [--out RELIABILITY.md] [--seed N] [--json FILE]`

Runs every suite once against one sandbox (the estate of ``reliability/estate.yaml``),
prints a summary, writes RELIABILITY.md with ``--out``, and exits 1 if any check failed.
Default sizes fit CI; ``--full`` runs the full sizes (what ``make reliability`` runs).
"""

# ruff: noqa: PLC0415 - imports are deferred: moto, boto3 and checkov load only where used

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Sizes:
    replay_events: int
    fault_events: int
    outage_images: int
    conc_rounds: int
    conc_threads: int
    hostile_events: int
    hostile_tag_values: int  # how many hand-written tag values go through the sandbox
    tag_parse_values: int
    kill_stride: int  # kill after every n-th call of a deploy (1: after each one)
    dropped_events: int  # the stream of which 20% of the ECR events are lost before a sweep


SMALL = Sizes(30, 24, 2, 3, 4, 400, 5, 200, 3, 30)
FULL = Sizes(1000, 200, 8, 10, 8, 10_000, 10_000, 3000, 1, 200)


def run(sizes: Sizes, seed: int, say: Any = print) -> dict[str, Any]:  # noqa: PLR0915
    from reliability import (
        checkov_run,
        concurrency,
        dropped,
        estate,
        faults,
        hostile,
        least_privilege,
        nag_report,
        replay,
        retention,
    )
    from reliability.hooks import HOOKS

    out: dict[str, Any] = {"seed": seed, "sizes": sizes.__dict__, "phases": {}}
    t0 = time.perf_counter()
    assembly = estate.synth_estate()
    demo = estate.synth_estate(estate.DEMO_OUT_DIR, config=estate.DEMO_CONFIG)
    out["synth_seconds"] = round(time.perf_counter() - t0, 1)
    sb = estate.start_sandbox(assembly)
    try:
        say(
            f"sandbox up ({time.perf_counter() - t0:.0f} s); replaying {sizes.replay_events} events"
        )
        t = time.perf_counter()
        r = replay.run_replay(sb, seed=seed, n_events=sizes.replay_events)
        out["phases"]["replay"] = r.summary() | {"ok": r.ok, "details": _details(r)}
        say(f"  replay ok={r.ok} in {time.perf_counter() - t:.0f} s")

        t = time.perf_counter()
        fr = replay.run_replay(sb, seed=seed + 1, n_events=sizes.fault_events, fault_rate=0.2)
        out["phases"]["faults_20"] = fr.summary() | {
            "ok": fr.ok and fr.dead_lettered == 0,
            "details": _details(fr),
        }
        say(f"  20% faults ok={fr.ok} in {time.perf_counter() - t:.0f} s")

        for k, scope in enumerate(("all", "UpdateService")):
            t = time.perf_counter()
            o = faults.outage_run(sb, seed=seed + 2 + k, n_images=sizes.outage_images, scope=scope)
            out["phases"][f"outage_{scope}"] = o.summary() | {"ok": o.ok, "details": o.wrong_final}
            say(f"  100% outage ({scope}) ok={o.ok} in {time.perf_counter() - t:.0f} s")

        t = time.perf_counter()
        d = dropped.run_dropped(sb, seed=seed + 4, n_events=sizes.dropped_events, drop_rate=0.2)
        out["phases"]["dropped_20"] = d.summary() | {
            "deployed_share": d.deployed_share,
            "ok": d.ok,
            "details": [
                *d.wrong_final,
                *d.backward,
                *d.duplicate_deploys,
                *d.blocked_deploys,
                *d.failed_routes,
            ][:20],
        }
        say(f"  20% ECR events dropped, one sweep ok={d.ok} in {time.perf_counter() - t:.0f} s")

        t = time.perf_counter()
        c = concurrency.run_rounds(
            sb, rounds=sizes.conc_rounds, threads=sizes.conc_threads, seed=seed
        )
        out["phases"]["concurrency"] = c.summary() | {"ok": c.ok, "details": c.failures + c.errors}
        say(f"  concurrency ok={c.ok} in {time.perf_counter() - t:.0f} s")

        t = time.perf_counter()
        h = hostile.run_events(sb, n_events=sizes.hostile_events, seed=seed)
        hostile.run_tag_parsing(h, n_values=sizes.tag_parse_values, seed=seed)
        values = hostile.hostile_tag_values()
        hostile.run_tags(sb, h, seed=seed, values=values[: sizes.hostile_tag_values])
        h_redos = hostile.run_redos_push(sb, h, bound=10)
        out["phases"]["hostile"] = h.summary() | {
            "redos_seconds": round(h_redos, 1),
            "hang_details": h.hangs[:10],
            "ok": h.ok,
            "details": (
                h.hangs
                + h.untyped
                + h.unclear
                + h.mutating
                + h.calls_on_rejection
                + h.tag_checks_failed
            )[:20],
        }
        say(f"  hostile ok={h.ok} in {time.perf_counter() - t:.0f} s")

        left = faults.leftovers(sb, HOOKS.calls)
        out["phases"]["leftovers"] = left.summary() | {
            "ok": left.ok,
            "details": (left.unused + left.leases_held + left.leases_past_expiry)[:20],
        }
        # last of the sandbox phases, after the leftovers: a killed invocation's lease that no
        # redelivery needed is left to expire (nothing can give it back), and the
        # redeliveries age the leases they find
        t = time.perf_counter()
        kills = faults.kill_run(sb, stride=sizes.kill_stride)
        out["phases"]["kills"] = kills.summary() | {
            "ok": kills.ok,
            "details": (kills.lost + kills.orphans + kills.double_deploys + kills.leases_held)[:20],
        }
        say(f"  kills mid-flight ok={kills.ok} in {time.perf_counter() - t:.0f} s")

        # after every other sandbox phase: its expiry run deletes images of two repositories
        t = time.perf_counter()
        rt = retention.run_retention(sb, rounds=5)
        out["phases"]["retention"] = rt.summary() | {
            "details": (rt.protected_removed + rt.failed_routes)[:20]
        }
        say(f"  retention against lifecycle expiry ok={rt.ok} in {time.perf_counter() - t:.0f} s")

        out["observed_actions"] = least_privilege.observed_actions(HOOKS.calls)
    finally:
        sb.down()

    t = time.perf_counter()
    templates = {"estate": assembly.stacks[0].template_file, "demo": demo.stacks[0].template_file}
    lp: dict[str, Any] = {}
    ck: dict[str, Any] = {}
    out["cdk_nag"] = {}
    for name, path in templates.items():
        f = least_privilege.check(least_privilege.load_template(path), path.name)
        lp[name] = f.to_json()
        ck[name] = checkov_run.run(path).to_json()
        out["cdk_nag"][name] = nag_report.read(path).to_json()
    out["least_privilege"] = lp
    out["code_actions"] = {k: sorted(v) for k, v in least_privilege.code_actions().items()}
    out["checkov"] = ck
    out["lp_seconds"] = round(time.perf_counter() - t, 1)
    out["seconds"] = round(time.perf_counter() - t0, 1)
    out["machine"] = f"{platform.machine()}, {_cpus()} CPU(s), Python {platform.python_version()}"
    return out


def _cpus() -> int:
    import os

    return os.cpu_count() or 0


def _details(r: Any) -> list[str]:
    out: list[str] = [
        *r.backward,
        *r.blocked_deploys,
        *r.duplicate_deploys,
        *r.wrong_final,
        *r.failed_routes,
    ]
    return out[:20]


def failures(doc: dict[str, Any]) -> list[str]:
    bad = [f"{name}: {p.get('details')}" for name, p in doc["phases"].items() if not p["ok"]]
    for name, ck in doc["checkov"].items():
        if ck["unexplained"] or ck["verify_failed"]:
            bad.append(f"checkov {name}: {ck['unexplained'] + ck['verify_failed']}")
    for name, nag in doc["cdk_nag"].items():
        if not nag["ok"]:
            bad.append(f"cdk-nag {name}: {nag['violations'] + nag['without_reason']}")
    for name, lp in doc["least_privilege"].items():
        if lp["star_mutating_unexpected"] or lp["pass_role"]:
            bad.append(
                f"least privilege {name}: {lp['star_mutating_unexpected'] + lp['pass_role']}"
            )
    return bad


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m reliability", description=__doc__)
    p.add_argument("--full", action="store_true", help="the full sizes (about 15 min)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--out", type=Path, help="write the report (Markdown) here")
    p.add_argument("--json", type=Path, help="write the raw figures (JSON) here")
    args = p.parse_args(argv)
    sizes = FULL if args.full else SMALL
    doc = run(sizes, args.seed)
    doc["command"] = (
        "python -m reliability"
        + (" --full" if args.full else "")
        + (f" --seed {args.seed}" if args.seed != 1 else "")
    )
    from reliability.report import annotate, render

    annotate(doc)
    if args.json:
        args.json.write_text(json.dumps(doc, indent=1, default=str))
    if args.out:
        args.out.write_text(render(doc))
        print(f"wrote {args.out}")
    bad = failures(doc)
    for line in bad:
        print(f"FAILED {line}", file=sys.stderr)
    print(
        f"{'all checks passed' if not bad else f'{len(bad)} check(s) failed'} "
        f"in {doc['seconds']:.0f} s"
    )
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
