"""6. Synth scaling: ``cdk synth`` wall time and resources per stack at 10, 100 and 1,000
services.

Configs are generated into a temporary directory from config/demo.yaml (no 1,000-entry file
is committed): N services, each tracking its own repository, capacity cycling fargate /
fargate-spot-mix / ec2, Service Auto Scaling on each, a load balancer on every third (the
demo's proportions), CPU/memory alarms on every other; the control plane also manages four
existing clusters (three by name, one by ARN), and the repositories by their prefix
(``bench/``; a list of 1,000 names would outgrow EventBridge's and IAM's limits). Each synth
is a plain ``cdk synth`` (cdk-nag on, the app's own limits) writing to its own temporary
output directory (the repository's cdk.out is left alone).

The app splits the estate over as many stacks as it needs (``infra/split.py``): the figures
say how many and what each holds; the control plane's template is the same at every size.
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

CAPACITY = ("fargate", "fargate-spot-mix", "ec2")
CONTROL_PLANE = "EcsAutopilot-demo"
#: existing clusters the control plane manages beside the estate's own
EXISTING_CLUSTERS = [
    "legacy-web",
    "legacy-batch",
    "payments",
    "arn:aws:ecs:eu-west-1:111122223333:cluster/data",
]


def write_config(n: int, dest: Path) -> Path:
    base: dict[str, Any] = yaml.safe_load((REPO_ROOT / "config" / "demo.yaml").read_text())
    base["repositories"] = [{"name": f"bench/svc{i:04d}"} for i in range(n)]
    services = []
    for i in range(n):
        svc: dict[str, Any] = {
            "name": f"svc{i:04d}",
            "repository": f"bench/svc{i:04d}",
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
        if i % 2 == 0:
            svc["alarms"] = {"step_out": "+1", "step_in": "-1", "cooldown_seconds": 60}
        services.append(svc)
    base["services"] = services
    base["manage"] = {"clusters": EXISTING_CLUSTERS, "repositories": {"prefixes": ["bench/"]}}
    path = dest / f"services-{n}.yaml"
    path.write_text(yaml.safe_dump(base, sort_keys=False))
    return path


def command(config: Path, out: Path) -> list[str]:
    return [
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


def stacks_of(out: Path) -> dict[str, dict[str, Any]]:
    """Per stack of a cloud assembly, in deployment order: resources, outputs, template KB."""
    manifest = json.loads((out / "manifest.json").read_text())["artifacts"]
    found: dict[str, dict[str, Any]] = {}
    for name, art in manifest.items():
        if art.get("type") != "aws:cloudformation:stack":
            continue
        template_file = out / art["properties"]["templateFile"]
        template = json.loads(template_file.read_text())
        found[name] = {
            "resources": len(template.get("Resources", {})),
            "outputs": len(template.get("Outputs", {})),
            "kb": round(template_file.stat().st_size / 1024),
            "resource_ids": sorted(template.get("Resources", {})),
        }
    return dict(sorted(found.items(), key=lambda kv: _order(kv[0])))


def _order(name: str) -> tuple[int, int]:
    if name == CONTROL_PLANE:
        return (0, 0)
    if name.endswith("-estate"):
        return (1, 0)
    return (2, int(name.rpartition("-")[2]))


def _slopes(medians: dict[int, float]) -> list[dict[str, float]]:
    return [
        {"from": a, "to": b, "seconds_per_service": round((medians[b] - medians[a]) / (b - a), 4)}
        for a, b in itertools.pairwise(sorted(medians))
    ]


def run(*, quick: bool, sizes: tuple[int, ...] | None = None) -> Section:
    sizes = sizes or ((10, 30) if quick else (10, 100, 1000))
    # the largest size once (a synth of 1,000 services takes minutes), the others three times
    runs = {n: 1 if quick or n >= 1000 else 3 for n in sizes}
    section = Section(
        key="synth",
        title="6. Synth scaling: cdk synth wall time and resources per stack by number of services",
        command="python -m bench.run --only synth",
    )
    with tempfile.TemporaryDirectory(prefix="bench-synth-") as tmp:
        root = Path(tmp)
        configs = {n: write_config(n, root) for n in sizes}
        wall: dict[int, list[float]] = {n: [] for n in sizes}
        cpu: dict[int, list[float]] = {n: [] for n in sizes}
        stacks: dict[int, dict[str, dict[str, Any]]] = {}
        failed: dict[int, str] = {}
        for r in range(max(runs.values())):  # sizes interleaved: a change of load hits all
            for n in sizes:
                if n in failed or r >= runs[n]:
                    continue
                out = root / f"out-{n}-{r}"
                seconds, cpu_seconds, proc = _synth(command(configs[n], out))
                if proc.returncode != 0:
                    failed[n] = _last_error(proc)
                    section.notes.append(f"{n} services: synth failed: {failed[n]}")
                    continue
                wall[n].append(seconds)
                cpu[n].append(cpu_seconds)
                stacks[n] = stacks_of(out)
        for n in sizes:
            if not wall[n]:
                continue
            per_stack = {
                name: {k: v for k, v in s.items() if k != "resource_ids"}
                for name, s in stacks[n].items()
            }
            total = sum(s["resources"] for s in per_stack.values())
            shown = " ".join(command(configs[n], root / f"out-{n}")).replace(str(root), "$TMP")
            section.figures.append(
                Figure(
                    name=f"{n} services ({len(per_stack)} stacks, {total} resources)",
                    unit="s",
                    values=[round(t, 2) for t in wall[n]],
                    command=f"PATH=$PWD/.venv/bin:$PATH {shown}",
                    extra={
                        "services": n,
                        "resources": total,
                        "stacks": per_stack,
                        "largest_stack": max(s["resources"] for s in per_stack.values()),
                        "cpu": summary(cpu[n]),
                        "cpu_values": [round(t, 2) for t in cpu[n]],
                    },
                )
            )
    wall_medians = {n: summary(v)["median"] for n, v in wall.items() if v}
    cpu_medians = {n: summary(v)["median"] for n, v in cpu.items() if v}
    slopes, cpu_slopes = _slopes(wall_medians), _slopes(cpu_medians)
    section.details = {
        "wall_medians": wall_medians,
        "cpu_medians": cpu_medians,
        "slopes": slopes,
        "cpu_slopes": cpu_slopes,
    }
    if slopes:
        section.notes.append(
            "Cost per added service between points, wall: "
            + ", ".join(f"{s['from']}->{s['to']}: {s['seconds_per_service']:.3f} s" for s in slopes)
            + "; CPU: "
            + ", ".join(
                f"{s['from']}->{s['to']}: {s['seconds_per_service']:.3f} s" for s in cpu_slopes
            )
            + " (wall time on this shared machine swings by seconds between runs)."
        )
    control = {n: s[CONTROL_PLANE] for n, s in stacks.items() if CONTROL_PLANE in s}
    if len(control) >= 2:
        same = len({json.dumps(c["resource_ids"]) for c in control.values()}) == 1
        section.details["control_plane_same"] = same
        counts = sorted({c["resources"] for c in control.values()})
        section.notes.append(
            f"Control plane ({CONTROL_PLANE}): {', '.join(map(str, counts))} resources at "
            + ", ".join(f"{n}" for n in sorted(control))
            + " services: "
            + (
                "the same resources at every size."
                if same
                else "NOT the same resources at every size."
            )
        )
    if stacks:
        n = max(stacks)
        estate = {k: v for k, v in stacks[n].items() if k != CONTROL_PLANE}
        largest = max(v["resources"] for v in estate.values())
        section.notes.append(
            f"At {n} services the estate is split over {len(estate)} stacks; the largest holds "
            f"{largest} resources (CloudFormation allows 500; the split fills a stack to 90 % so "
            "that a service that grows stays in its stack)."
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
