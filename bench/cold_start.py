"""1. Cold start per function, as a ratio to boto3 alone with the same clients.

Each run is a fresh interpreter. The function's run imports its handler module, builds
its settings (``get_settings``) and its clients (``get_clients().warm(...)``); the
baseline run imports boto3 and creates the same clients with the same botocore config.
Runs alternate (function, baseline, function, ...), so drift on a shared machine hits
both alike; the figure is the ratio of the medians of whole-process wall times.

Two set-ups:
- ``as shipped`` (the target): what Lambda does at init. ``LAMBDA_TASK_ROOT`` is set, so
  Powertools' Tracer is on (the functions are deployed with active tracing) and imports
  the X-Ray SDK and patches botocore; the code comes from a copy of ``functions/`` with
  no ``__pycache__`` and bytecode writing off, as in the asset (the CDK asset excludes
  ``__pycache__``), so the function's own modules are compiled on every cold start.
- ``compiled``: the same, but with the function's own modules already compiled (what
  shipping ``.pyc`` for python3.13 in the asset, or a container image, would give).

The libraries' compiled bytecode: this machine sets ``PYTHONDONTWRITEBYTECODE=1`` and the
venv holds almost no ``.pyc``, so a naive timing would compile botocore in every process
(the baseline then takes ~0.5 s instead of ~0.16 s). Lambda's boto3 and a pip-installed
layer come compiled, so the bench compiles what the runs import once into a private cache
(``PYTHONPYCACHEPREFIX``) and every measured run reads it without writing.
"""

from __future__ import annotations

import ast
import os
import re
import resource
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from autopilot.contract import RUNTIME_ENVIRONMENT

from bench.common import FUNCTIONS, PYTHON, SHOWN_PYTHON, Figure, Section, summary, verdict

TARGET_RATIO = 1.35
HANDLERS = FUNCTIONS / "autopilot" / "handlers"
# AwsClients property -> the boto3 service name it creates
PROPERTY_SERVICE = {
    "ecs": "ecs",
    "ecr": "ecr",
    "tagging": "resourcegroupstaggingapi",
    "dynamodb": "dynamodb",
    "sns": "sns",
    "ec2": "ec2",
    "autoscaling": "autoscaling",
    "application_autoscaling": "application-autoscaling",
    "cloudwatch": "cloudwatch",
}
ENV = {
    "AWS_DEFAULT_REGION": "eu-west-1",
    "AWS_REGION": "eu-west-1",
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "POWERTOOLS_SERVICE_NAME": "bench",
    "POWERTOOLS_METRICS_NAMESPACE": "EcsAutopilot",
    "LEDGER_TABLE": "autopilot-ledger",
    "NOTICES_TOPIC_ARN": "arn:aws:sns:eu-west-1:123456789012:autopilot-notices",
    "CLUSTER_ARNS": "arn:aws:ecs:eu-west-1:123456789012:cluster/demo-cluster",
    **RUNTIME_ENVIRONMENT,  # as the CDK app sets it on every function
}
# botocore config as aws/clients.py builds it (the baseline pays the same)
BASELINE = """\
import boto3
from botocore.config import Config
config = Config(retries={{"mode": "standard", "max_attempts": 5}}, connect_timeout=5, read_timeout=20, user_agent_extra="ecs-autopilot")
session = boto3.session.Session()
clients = [session.client(service, config=config) for service in {services!r}]
"""  # noqa: E501 - shown as one line in the results
# The libraries alone, no function code: what any function built on them pays at least.
FLOOR = """\
import pydantic
from aws_lambda_powertools import Logger, Metrics{tracer_import}
Logger(); Metrics(){tracer}
"""
# ... and the first pydantic model a function builds (its settings, at least): pydantic
# imports its schema machinery then. Its name says what it costs in the results.
FIRST_MODEL = """\
pydantic.create_model("Settings", name=(str, "x"))
"""
#: the floor variant a function cannot go below (libraries, Tracer on, one model built)
MODEL_FLOOR = "pydantic + Powertools Logger, Metrics, Tracer(patch botocore) + one model built"
FUNCTION = """\
import autopilot.handlers.{module}
from autopilot.settings import {settings}, get_settings
from autopilot.aws.clients import get_clients
get_settings({settings})
get_clients().warm(*{services!r})
"""


def functions() -> list[str]:
    """The handler modules (one per function)."""
    return sorted(p.stem for p in HANDLERS.glob("*.py") if p.stem != "__init__")


def _module_file(module: str) -> Path | None:
    base = FUNCTIONS / Path(*module.split("."))
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.exists():
            return path
    return None


def services_of(module: str) -> list[str]:
    """The boto3 services a handler uses: every ``aws.<client>`` (an ``AwsClients``
    property) in the modules of its import closure inside ``autopilot``, but for
    ``aws/perform.py``, whose table names every client (clients are built on first use:
    a function builds only those its flows use)."""
    seen: set[str] = set()
    todo = [f"autopilot.handlers.{module}"]
    found: set[str] = set()
    while todo:
        name = todo.pop()
        path = _module_file(name)
        if name in seen or path is None or name == "autopilot.aws.perform":
            continue
        seen.add(name)
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("autopilot"):
                todo.append(str(node.module))
                todo += [f"{node.module}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                todo += [a.name for a in node.names if a.name.startswith("autopilot.")]
            elif (
                isinstance(node, ast.Attribute)
                and node.attr in PROPERTY_SERVICE
                and (
                    (isinstance(node.value, ast.Name) and node.value.id == "aws")
                    or (isinstance(node.value, ast.Attribute) and node.value.attr == "aws")
                )
            ):
                found.add(PROPERTY_SERVICE[node.attr])
    found.add("sns")  # the notices: record.finish publishes through aws/perform.py
    return sorted(found)


def settings_class(module: str) -> str:
    return "".join(part.title() for part in module.split("_")) + "Settings"


def one_line(code: str) -> str:
    return "; ".join(code.strip().splitlines())


def _shipped_copy(root: Path, name: str = "task") -> Path:
    """functions/ as the asset ships it: no __pycache__, no .pyc."""
    dest = root / name
    shutil.copytree(FUNCTIONS, dest, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return dest


def _env(task_root: Path, pycache: Path) -> dict[str, str]:
    """The child's environment, as Lambda's init has it: ``LAMBDA_TASK_ROOT`` (so the
    Tracer is on), the function's variables, the code on the path. Compiled bytecode comes
    from ``pycache`` (primed once); nothing is written during measured runs."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "POWERTOOLS_"))}
    env.update(ENV)
    env["LAMBDA_TASK_ROOT"] = str(task_root)
    env["PYTHONPATH"] = str(task_root)
    env["PYTHONPYCACHEPREFIX"] = str(pycache)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def _prime(codes: list[str], envs: list[dict[str, str]], pycache: Path, task_root: Path) -> None:
    """Compile everything the runs import into ``pycache`` (as pip does at install time for
    the runtime's boto3 and the layer's libraries), then forget the shipped copy's own
    bytecode: the asset has none, so the function compiles its modules at every cold start."""
    for env in envs:
        writable = {k: v for k, v in env.items() if k != "PYTHONDONTWRITEBYTECODE"}
        for code in codes:
            subprocess.run([PYTHON, "-c", code], env=writable, check=True, capture_output=True)
    shutil.rmtree(pycache / task_root.relative_to(task_root.anchor), ignore_errors=True)


def _time(code: str, env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the child: user + system) of one fresh process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run([PYTHON, "-c", code], env=env, check=True, capture_output=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


_LINE = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)")


def importtime(
    code: str, env: dict[str, str]
) -> tuple[dict[str, float], dict[str, str], dict[str, float]]:
    """One ``python -X importtime`` run: self ms per top-level package; who pulls each
    package (and each autopilot module) in: the nearest importing module of another package
    (C accelerators such as ``_asyncio`` skipped); self ms per autopilot module."""
    out = subprocess.run(
        [PYTHON, "-X", "importtime", "-c", code],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stderr
    per_package: dict[str, float] = {}
    importer: dict[str, str] = {}
    own: dict[str, float] = {}
    # children print before their parent: (depth, module, names still looking for an importer)
    pending: list[tuple[int, str, set[str]]] = []
    for line in out.splitlines():
        m = _LINE.match(line)
        if not m:
            continue
        self_ms, depth, module = int(m.group(1)) / 1000, len(m.group(3)) // 2, m.group(4)
        package = module.split(".")[0]
        per_package[package] = per_package.get(package, 0.0) + self_ms
        if package == "autopilot":
            own[module] = own.get(module, 0.0) + self_ms
        unresolved: set[str] = set()
        while pending and pending[-1][0] > depth:
            _, child, names = pending.pop()
            names = names | {child.split(".")[0]}
            if child.startswith("autopilot."):
                names.add(child)
            unresolved |= names
        if package.startswith("_"):
            pending.append((depth, module, unresolved))
            continue
        for name in unresolved:
            if name.split(".")[0] == package and not name.startswith("autopilot."):
                continue
            if name == module:
                continue
            importer.setdefault(name, module)
        pending.append((depth, module, set()))
    return per_package, importer, own


def offenders(code: str, baseline: str, env: dict[str, str], runs: int = 5) -> dict[str, Any]:
    """What the function imports that the baseline does not, by self time (median of
    ``runs`` importtime runs), with the module that pulls each package in; and the
    function's own slowest modules (pydantic models are built when their module runs)."""
    fn = [importtime(code, env) for _ in range(runs)]
    base_packages = set().union(*(importtime(baseline, env)[0] for _ in range(2)))
    importer: dict[str, str] = {}
    for _, who, _own in fn:
        for k, v in who.items():
            importer.setdefault(k, v)
    packages = set().union(*(p for p, _, _ in fn)) - base_packages
    rows: list[dict[str, Any]] = [
        {
            "package": name,
            "ms": round(statistics.median(p.get(name, 0.0) for p, _, _ in fn), 1),
            "imported_by": importer.get(name, "-"),
        }
        for name in packages
    ]
    rows = sorted((r for r in rows if float(r["ms"]) >= 2.0), key=lambda r: -float(r["ms"]))
    modules = set().union(*(o for _, _, o in fn))
    own: list[dict[str, Any]] = sorted(
        (
            {
                "module": m,
                "ms": round(statistics.median(o.get(m, 0.0) for _, _, o in fn), 1),
                "imported_by": importer.get(m, "-"),
            }
            for m in modules
        ),
        key=lambda r: -float(r["ms"]),
    )
    return {"packages": rows[:10], "own_modules": own[:6]}


def _floors(env: dict[str, str], pycache: Path, task_root: Path, runs: int) -> list[Figure]:
    """The dependency floor: boto3 with image-events' clients, plus pydantic and Powertools'
    Logger and Metrics, without and with the Tracer (X-Ray SDK, botocore patched). If these
    alone are over the target, no change inside functions/ can meet it."""
    services = tuple(services_of("image_events"))
    bcode = BASELINE.format(services=services)
    traced = FLOOR.format(tracer_import=", Tracer", tracer='; Tracer(patch_modules=("botocore",))')
    variants = {
        "pydantic + Powertools Logger, Metrics": FLOOR.format(tracer_import="", tracer=""),
        "pydantic + Powertools Logger, Metrics, Tracer(patch botocore)": traced,
        MODEL_FLOOR: traced + FIRST_MODEL,
    }
    codes = {name: bcode + code for name, code in variants.items()}
    _prime([bcode, *codes.values()], [env], pycache, task_root)
    times: dict[str, list[float]] = {name: [] for name in [*codes, "base"]}
    for _ in range(runs):
        times["base"].append(_time(bcode, env)[1])
        for name, code in codes.items():
            times[name].append(_time(code, env)[1])
    base = summary(times["base"])
    out = []
    for name, code in codes.items():
        ratio = summary(times[name])["median"] / base["median"]
        out.append(
            Figure(
                name=f"floor, no function code: boto3 clients + {name}",
                unit="s CPU",
                values=[round(t, 4) for t in times[name]],
                command=f"{SHOWN_PYTHON} -c '{one_line(code)}'",
                extra={
                    "ratio": round(ratio, 3),
                    "wall_ratio": None,
                    "baseline": base,
                    "baseline_values": [round(t, 4) for t in times["base"]],
                    "services": list(services),
                    "mode": "floor",
                },
            )
        )
    return out


def run(*, quick: bool) -> Section:
    runs = 1 if quick else 10
    section = Section(
        key="cold-start",
        title="1. Cold start per function (fresh process) vs boto3 with the same clients",
        command="python -m bench.run --only cold-start",
    )
    with tempfile.TemporaryDirectory(prefix="bench-cold-") as tmp:
        task_root = _shipped_copy(Path(tmp))
        compiled_root = _shipped_copy(Path(tmp), "compiled")
        pycache = Path(tmp) / "pycache"
        shipped_env = _env(task_root, pycache)
        compiled_env = _env(compiled_root, pycache)
        floors = [] if quick else _floors(shipped_env, pycache, task_root, runs)
        model_floor = next((f.extra["ratio"] for f in floors if f.name.endswith(MODEL_FLOOR)), None)
        for module in functions():
            services = services_of(module)
            fcode = FUNCTION.format(
                module=module, settings=settings_class(module), services=tuple(services)
            )
            bcode = BASELINE.format(services=tuple(services))
            _prime([fcode, bcode], [shipped_env, compiled_env], pycache, task_root)
            if not quick:
                for env in (shipped_env, compiled_env):  # warm the page cache, not measured
                    _time(fcode, env)
                _time(bcode, shipped_env)
            times: dict[str, list[tuple[float, float]]] = {
                "shipped": [],
                "compiled": [],
                "base": [],
            }
            for _ in range(runs):  # alternating
                times["shipped"].append(_time(fcode, shipped_env))
                times["base"].append(_time(bcode, shipped_env))
                times["compiled"].append(_time(fcode, compiled_env))
            base_cpu = [c for _, c in times["base"]]
            base_wall = [w for w, _ in times["base"]]
            name = module.replace("_", "-")
            for mode in ("shipped", "compiled"):
                cpu = [c for _, c in times[mode]]
                wall = [w for w, _ in times[mode]]
                ratio = summary(cpu)["median"] / summary(base_cpu)["median"]
                wall_ratio = summary(wall)["median"] / summary(base_wall)["median"]
                judged = mode == "shipped"
                ok = ratio <= TARGET_RATIO
                label = (
                    "as shipped (asset without .pyc)" if judged else "if the asset carried its .pyc"
                )
                fig = Figure(
                    name=f"{name}: {label}",
                    unit="s CPU",
                    values=[round(c, 4) for c in cpu],
                    target=f"ratio <= {TARGET_RATIO}x" if judged else None,
                    verdict=verdict(ok) if judged else None,
                    command=f"{SHOWN_PYTHON} -c '{one_line(fcode)}'",
                    extra={
                        "ratio": round(ratio, 3),
                        "wall_ratio": round(wall_ratio, 3),
                        "wall": summary(wall),
                        "wall_values": [round(w, 4) for w in wall],
                        "baseline": summary(base_cpu),
                        "baseline_values": [round(c, 4) for c in base_cpu],
                        "baseline_wall": summary(base_wall),
                        "baseline_command": f"{SHOWN_PYTHON} -c '{one_line(bcode)}'",
                        "services": services,
                        "mode": mode,
                    },
                )
                if judged and not ok and not quick:
                    found = offenders(fcode, bcode, shipped_env)
                    fig.extra["importtime_offenders"] = found
                    fig.why = (
                        f"over target: the libraries with the Tracer on and one pydantic model "
                        f"built are at {model_floor:.2f}x before any function code (floor rows "
                        "below); imports the baseline does not pay for: "
                        + ", ".join(
                            f"{r['package']} {r['ms']:.0f} ms" for r in found["packages"][:5]
                        )
                    )
                elif judged and not ok:
                    fig.why = "over target (--quick: no importtime profile)"
                section.figures.append(fig)
        section.figures += floors
    section.notes += [
        "Each run is a fresh interpreter; runs alternate (as shipped, baseline, compiled). The "
        "figure is CPU time (user + system) of the child process, and the verdict is the ratio "
        "of CPU medians: the machine is shared, and wall time there includes waiting for a "
        "core. The wall-clock ratio is shown beside it.",
        "Baseline: a fresh process that imports boto3 and creates the same clients with the "
        "same botocore config (Lambda's runtime has boto3; that cost is not the function's).",
        "Both run as Lambda's init would: LAMBDA_TASK_ROOT set (Powertools' Tracer is on, as "
        "the functions deploy with active tracing: it imports the X-Ray SDK and patches "
        "botocore), the function's environment variables set, the code from a copy of "
        "functions/ without __pycache__ (the asset excludes it). The libraries' bytecode is "
        "compiled once beforehand (see the module docstring: this machine sets "
        "PYTHONDONTWRITEBYTECODE=1 and its venv has almost no .pyc).",
        "What is not in init: image-events' and deployment-events' event models are built on "
        "their first use (defer_build), so each pays only for the models it receives, in its "
        "first invocation; task-events imports deployment-events' rollback path only when it "
        "rolls a crash loop back. The functions run with PYDANTIC_DISABLE_PLUGINS=__all__ "
        "(contract.RUNTIME_ENVIRONMENT, set by the CDK app; the runs here too): pydantic "
        "otherwise scans every installed distribution's entry points for plugins when it "
        "builds its first model.",
        "Why the target is out of reach for these functions: a process with the libraries, "
        "the Tracer on and one pydantic model built (the settings: every function builds "
        "them at init) is the last floor row; the target leaves what is above it for the "
        "function's own modules, which compile at every cold start (no .pyc in the asset: "
        "compiled for the build machine's Python, not Lambda's 3.13) and define their "
        "models and dataclasses.",
    ]
    return section
