"""6. Synth scaling: ``cdk synth`` wall time with 5, 25 and 100 services.

Configs are generated into a temporary directory from config/demo.yaml: N services, each
tracking its own repository, capacity cycling fargate / fargate-spot-mix / ec2, Service
Auto Scaling on each, a load balancer on every third (the demo's proportions). Each synth
writes to its own temporary output directory (the repository's cdk.out is left alone).

The stack has one set of resources per service, and CloudFormation allows 500 resources
per stack: a plain ``cdk synth`` refuses the 100-service config (TooManyResourcesInStack).
To time the curve at every point, the timed runs pass
``-c @aws-cdk/core:stackResourceLimit=0 -c @aws-cdk/core:validateAgainstDefaultRules=false``
(the same at every size); one plain synth per size records whether it would deploy.
"""

from __future__ import annotations

import itertools
import json
import resource
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from bench.common import REPO_ROOT, Figure, Section, summary, tool_env
from sandbox.synth import CONFIG_CONTEXT

OVERRIDES = [
    "-c",
    "@aws-cdk/core:stackResourceLimit=0",
    "-c",
    "@aws-cdk/core:validateAgainstDefaultRules=false",
]
CAPACITY = ("fargate", "fargate-spot-mix", "ec2")
STACK_LIMIT = 500


def write_config(n: int, dest: Path) -> Path:
    base: dict[str, Any] = yaml.safe_load((REPO_ROOT / "config" / "demo.yaml").read_text())
    base["repositories"] = [{"name": f"bench/svc{i:03d}"} for i in range(n)]
    services = []
    for i in range(n):
        svc: dict[str, Any] = {
            "name": f"svc{i:03d}",
            "repository": f"bench/svc{i:03d}",
            "capacity": CAPACITY[i % 3],
            "container_port": 8080,
            "cpu": 256,
            "memory_mib": 512,
            "desired_count": 2,
            "scaling": {"min": 2, "max": 6, "cpu_target": 60},
            "automation": {"policy": "semver", "scan": "critical"},
        }
        if i % 3 == 0:
            svc["load_balancer"] = {"port": 80, "health_check_path": "/healthz"}
        services.append(svc)
    base["services"] = services
    path = dest / f"services-{n}.yaml"
    path.write_text(yaml.safe_dump(base, sort_keys=False))
    return path


def command(config: Path, out: Path, *, overrides: bool = True) -> list[str]:
    cmd = [
        "npx",
        "--no-install",
        "cdk",
        "synth",
        "--quiet",
        "-o",
        str(out),
        "-c",
        f"{CONFIG_CONTEXT}={config}",
    ]
    return cmd + (OVERRIDES if overrides else [])


def _synth(cmd: list[str]) -> tuple[float, float, subprocess.CompletedProcess[str]]:
    """(wall seconds, CPU seconds of the CLI and everything it ran, the process)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(
        cmd, cwd=REPO_ROOT, env=tool_env(), capture_output=True, text=True, check=False
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, proc


def _resources(out: Path) -> int:
    total = 0
    for template in out.glob("*.template.json"):
        total += len(json.loads(template.read_text()).get("Resources", {}))
    return total


def _slopes(medians: dict[int, float]) -> list[dict[str, float]]:
    return [
        {"from": a, "to": b, "seconds_per_service": round((medians[b] - medians[a]) / (b - a), 4)}
        for a, b in itertools.pairwise(sorted(medians))
    ]


def run(*, quick: bool) -> Section:  # noqa: PLR0915 - one linear procedure
    sizes = (5, 25) if quick else (5, 25, 100)
    runs = 1 if quick else 3
    section = Section(
        key="synth",
        title="6. Synth scaling: cdk synth wall time by number of services",
        command="python -m bench.run --only synth",
    )
    with tempfile.TemporaryDirectory(prefix="bench-synth-") as tmp:
        root = Path(tmp)
        configs = {n: write_config(n, root) for n in sizes}
        wall: dict[int, list[float]] = {n: [] for n in sizes}
        cpu: dict[int, list[float]] = {n: [] for n in sizes}
        resources: dict[int, int] = {}
        failed: set[int] = set()
        for r in range(runs):  # sizes interleaved: a change of load hits every size alike
            for n in sizes:
                if n in failed:
                    continue
                out = root / f"out-{n}-{r}"
                seconds, cpu_seconds, proc = _synth(command(configs[n], out))
                if proc.returncode != 0:
                    section.notes.append(f"{n} services: synth failed: {_last_error(proc)}")
                    failed.add(n)
                    continue
                wall[n].append(seconds)
                cpu[n].append(cpu_seconds)
                resources[n] = _resources(out)
        for n in sizes:
            if not wall[n]:
                continue
            plain_ok: bool | None = None
            plain_error = ""
            if resources[n] > STACK_LIMIT or not quick:
                _, _, proc = _synth(command(configs[n], root / f"plain-{n}", overrides=False))
                plain_ok = proc.returncode == 0
                plain_error = "" if plain_ok else _last_error(proc)
            shown = " ".join(command(configs[n], root / f"out-{n}")).replace(str(root), "$TMP")
            fig = Figure(
                name=f"{n} services ({resources[n]} resources)",
                unit="s",
                values=[round(t, 2) for t in wall[n]],
                command=f"PATH=$PWD/.venv/bin:$PATH {shown}",
                extra={
                    "resources": resources[n],
                    "cpu": summary(cpu[n]),
                    "cpu_values": [round(t, 2) for t in cpu[n]],
                    "plain_synth_ok": plain_ok,
                    "plain_synth_error": plain_error,
                },
            )
            if plain_ok is False:
                fig.why = f"plain cdk synth fails: {plain_error}"
            section.figures.append(fig)
    wall_medians = {n: summary(v)["median"] for n, v in wall.items() if v}
    cpu_medians = {n: summary(v)["median"] for n, v in cpu.items() if v}
    slopes, cpu_slopes = _slopes(wall_medians), _slopes(cpu_medians)
    section.details = {
        "wall_medians": wall_medians,
        "cpu_medians": cpu_medians,
        "slopes": slopes,
        "cpu_slopes": cpu_slopes,
    }
    if len(cpu_slopes) >= 2:
        s1, s2 = cpu_slopes[0]["seconds_per_service"], cpu_slopes[-1]["seconds_per_service"]
        growth = s2 / s1 if s1 > 0 else float("inf")
        section.details["cpu_slope_growth"] = round(growth, 2)
        shape = (
            "linear within the noise (about the same CPU per added service)"
            if 0.67 <= growth <= 1.5
            else f"not linear: an added service costs {growth:.1f}x the CPU between the last "
            "two points that it costs between the first two"
        )
        section.notes.append(
            "Cost per added service between points, wall: "
            + ", ".join(f"{s['from']}->{s['to']}: {s['seconds_per_service']:.3f} s" for s in slopes)
            + "; CPU: "
            + ", ".join(
                f"{s['from']}->{s['to']}: {s['seconds_per_service']:.3f} s" for s in cpu_slopes
            )
            + f". Judged on CPU time (wall time on this shared machine swings by several "
            f"seconds between runs), the curve is {shape}."
        )
    if len(cpu_slopes) == 1:
        only = cpu_slopes[0]
        section.notes.append(
            f"Only two sizes synthesized ({only['from']} and {only['to']}), so whether the "
            f"curve is linear cannot be judged here: {only['from']}->{only['to']} costs "
            f"{slopes[0]['seconds_per_service']:.3f} s wall, "
            f"{only['seconds_per_service']:.3f} s CPU per added service."
        )
    counts = {
        int(f.name.split(" ")[0]): int(f.extra["resources"])
        for f in section.figures
        if f.extra.get("resources")
    }
    if len(counts) >= 2:
        (n1, r1), (n2, r2) = sorted(counts.items())[0], sorted(counts.items())[-1]
        per = (r2 - r1) / (n2 - n1)
        fixed = r1 - per * n1
        fits = int((STACK_LIMIT - fixed) // per)
        section.details["resources_per_service"] = round(per, 2)
        section.details["services_per_stack"] = fits
        section.notes.append(
            f"Resources: about {per:.1f} per service on top of {fixed:.0f} fixed, all in one "
            f"stack, so one stack holds about {fits} services of this shape before "
            f"CloudFormation's {STACK_LIMIT}-resource limit (a plain synth refuses more). "
            "Larger estates need the services split across stacks."
        )
    section.notes.append(
        "Most of a small synth is fixed cost: starting Node, the jsii kernel and "
        "aws-cdk-lib, the CLI, and cdk-nag over the whole tree."
    )
    return section


def _last_error(proc: subprocess.CompletedProcess[str]) -> str:
    lines = [
        ln.strip()
        for ln in (proc.stderr + proc.stdout).splitlines()
        if "Error" in ln or "error" in ln.lower()
    ]
    text = next((ln for ln in lines if "TooManyResources" in ln or "maximum" in ln), None)
    if text is None:
        # a cdk-nag (or other validation) error: its message and the construct path below it
        out = [ln.strip() for ln in (proc.stderr + proc.stdout).splitlines()]
        for i, ln in enumerate(out):
            if ln.startswith("ERROR"):
                text = f"{ln} at {out[i + 1] if i + 1 < len(out) else '?'}"
                break
    text = text or (lines[-1] if lines else f"exit {proc.returncode}")
    return text[:300]
