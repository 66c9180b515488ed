"""1. Cold start per function, as a ratio to boto3 alone with the same clients.

Each run is a fresh interpreter. The function's run imports its handler module, builds
its settings (``get_settings``) and its clients (``get_clients().warm(...)``); the
baseline run imports boto3 and creates the same clients with the same botocore config.
Runs alternate (function, baseline, function, ...), so drift on a shared machine hits
both alike; the figure is the median of the per-pair ratios of whole-process CPU times
(wall time beside it).

Two set-ups per function, both what Lambda does at init (``LAMBDA_TASK_ROOT`` set, the
code the asset ships, ``infra/code_asset.py``: its sources with their bytecode, which the
build compiles for python3.13 and the runs here compile once for this interpreter; bytecode
writing off, as ``/var/task`` is read-only):
- ``tracing off`` (``observability.tracing: off``: ``POWERTOOLS_TRACE_DISABLED=true``, so
  ``autopilot/observability.py`` imports neither the Tracer nor the X-Ray SDK). Target:
  at most ``TARGET_RATIO`` times the baseline.
- ``tracing on`` (``active``: Powertools' Tracer imports the X-Ray SDK and patches
  botocore). Target: what tracing adds to the function (tracing on less tracing off) at
  most ``TRACING_MARGIN`` above the X-Ray SDK's own cost (the baseline with Powertools'
  Logger, Metrics and Tracer less the same without the Tracer, with the function's
  clients), in baseline units. All five processes run in each round, one after the other,
  and the verdict is the median over rounds of the round's difference of differences: the
  figure is a few hundredths of the baseline, below the spread of separate medians on a
  shared machine.

The floors, in the same run: boto3 with the clients (the baseline itself), + Powertools
Logger and Metrics, + the X-Ray SDK (Tracer, botocore patched); and, for comparison, +
pydantic imported and one pydantic model built, which the functions no longer pay
(``autopilot/schema.py``). And what a build without a CPython 3.13 costs: image-events
with the asset's sources only (its modules compiled at every cold start), and the baseline
with boto3 imported from the SDK layer's zip (``infra/layer.py``) without ``.pyc``, against
compiled.

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
import zipfile
from pathlib import Path
from typing import Any

from autopilot.observability import TRACE_DISABLED_ENV

from bench.common import FUNCTIONS, PYTHON, SHOWN_PYTHON, Figure, Section, summary, verdict
from infra import code_asset, layer

TARGET_RATIO = 1.25
#: tracing on may cost this much more than tracing off beyond the X-Ray SDK's own floor
TRACING_MARGIN = 0.05
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
from aws_lambda_powertools import Logger, Metrics{tracer_import}
Logger(); Metrics(){tracer}
"""
FLOOR_LIBS = FLOOR.format(tracer_import="", tracer="")
FLOOR_TRACED = FLOOR.format(
    tracer_import=", Tracer", tracer='; Tracer(patch_modules=("botocore",))'
)
# For comparison: pydantic and its first model (pydantic imports its schema machinery then),
# what the functions' models cost before autopilot/schema.py replaced them.
PYDANTIC = """\
import pydantic
pydantic.create_model("Settings", name=(str, "x"))
"""
LIBS = "Powertools Logger, Metrics"
TRACED = LIBS + ", Tracer(patch botocore): the X-Ray SDK"
WITH_PYDANTIC = LIBS + " + pydantic with one model built (not in the functions)"
FUNCTION = """\
import autopilot.handlers.{module}
from autopilot.settings import {settings}, get_settings
from autopilot.aws.clients import get_clients
get_settings({settings})
get_clients().warm(*{services!r})
"""


def paired_ratio(measured: list[float], against: list[float]) -> float:
    """The median of the runs' ratios, pair by pair (the runs alternate, so each pair ran
    at the machine's speed of its moment): steadier on a shared machine than the ratio of
    the two medians."""
    return statistics.median(m / a for m, a in zip(measured, against, strict=True))


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
    """The sources the code asset ships (``code_asset.sources``); their bytecode comes
    from the runs' cache (``_prime``), compiled by this interpreter."""
    dest = root / name
    for path in code_asset.sources(FUNCTIONS):
        target = dest / path.relative_to(FUNCTIONS)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
    return dest


def _env(task_root: Path, pycache: Path, *, tracing: bool = True) -> dict[str, str]:
    """The child's environment, as Lambda's init has it: ``LAMBDA_TASK_ROOT``, the
    function's variables with the tracing switch the CDK app sets, the code on the path.
    Compiled bytecode comes from ``pycache`` (primed once); nothing is written during
    measured runs."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "POWERTOOLS_"))}
    env.update(ENV)
    env[TRACE_DISABLED_ENV] = "false" if tracing else "true"
    env["LAMBDA_TASK_ROOT"] = str(task_root)
    env["PYTHONPATH"] = str(task_root)
    env["PYTHONPYCACHEPREFIX"] = str(pycache)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def _prime(codes: list[str], envs: list[dict[str, str]], pycache: Path, *uncompiled: Path) -> None:
    """Compile everything the runs import into ``pycache`` (as pip does at install time for
    the runtime's boto3 and the Powertools layer's libraries, and the build does for the
    code asset and the SDK layer), then forget the bytecode of the ``uncompiled`` trees:
    what ships without ``.pyc`` is compiled at every cold start."""
    for env in envs:
        writable = {k: v for k, v in env.items() if k != "PYTHONDONTWRITEBYTECODE"}
        for code in codes:
            subprocess.run([PYTHON, "-c", code], env=writable, check=True, capture_output=True)
    for root in uncompiled:
        shutil.rmtree(pycache / root.relative_to(root.anchor), ignore_errors=True)


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
    function's own slowest modules."""
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
    """The dependency floors: boto3 with image-events' clients (the baseline itself), plus
    Powertools' Logger and Metrics, plus the Tracer (X-Ray SDK, botocore patched). If these
    alone are over a target, no change inside functions/ can meet it. And, for comparison,
    the Logger and Metrics with pydantic and one pydantic model built."""
    services = tuple(services_of("image_events"))
    bcode = BASELINE.format(services=services)
    variants = {
        "nothing more (the baseline itself)": "",
        LIBS: FLOOR_LIBS,
        TRACED: FLOOR_TRACED,
        WITH_PYDANTIC: FLOOR_LIBS + PYDANTIC,
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
        ratio = paired_ratio(times[name], times["base"])
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
                    "floor": name,
                },
            )
        )
    return out


def _paired(
    runs: int, measured: tuple[str, dict[str, str]], against: tuple[str, dict[str, str]]
) -> tuple[list[float], list[float], dict[str, float], float]:
    """``runs`` alternating pairs of fresh processes (``against`` first): the CPU seconds of
    each side, the summary of ``against`` and the median of the per-pair ratios."""
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(runs):
        times[1].append(_time(*against)[1])
        times[0].append(_time(*measured)[1])
    base = summary(times[1])
    return times[0], times[1], base, paired_ratio(times[0], times[1])


def _uncompiled_asset_cost(root: Path, task_root: Path, runs: int) -> Figure:
    """image-events with tracing off, the asset as a build without a CPython 3.13 ships it
    (sources only: its modules compiled at every cold start), against the asset as built."""
    module = "image_events"
    fcode = FUNCTION.format(
        module=module, settings=settings_class(module), services=tuple(services_of(module))
    )
    built = _env(task_root, root / "pycache-built", tracing=False)
    sources = _env(task_root, root / "pycache-sources", tracing=False)
    _prime([fcode], [built], root / "pycache-built")
    _prime([fcode], [sources], root / "pycache-sources", task_root)
    measured, against, base, ratio = _paired(runs, (fcode, sources), (fcode, built))
    return Figure(
        name="code asset: image-events (tracing off) from the asset built without .pyc vs with",
        unit="s CPU",
        values=[round(t, 4) for t in measured],
        command=f"{SHOWN_PYTHON} -c '{one_line(fcode)}' ({TRACE_DISABLED_ENV}=true)",
        extra={
            "ratio": round(ratio, 3),
            "wall_ratio": None,
            "baseline": base,
            "baseline_values": [round(t, 4) for t in against],
            "services": services_of(module),
            "mode": "code asset",
        },
    )


def _layer_cost(root: Path, pycache: Path, runs: int) -> Figure:
    """The baseline with boto3 from the SDK layer built without ``.pyc`` (what ships when
    no CPython 3.13 compiles it, ``infra/layer.runtime_python``; unzipped as Lambda puts it
    in /opt: compiled at every cold start) against the same with boto3 compiled."""
    zipped = layer.ensure(python="")
    opt = root / "opt"
    with zipfile.ZipFile(zipped) as zf:
        zf.extractall(opt)
    site = opt / "python"
    services = tuple(services_of("image_events"))
    bcode = BASELINE.format(services=services)
    env = _env(root / "task", pycache)
    compiled = dict(env, PYTHONPATH=str(site))
    # the same, from a cache of its own without the layer's bytecode (the stdlib's stays)
    shipped = dict(compiled, PYTHONPYCACHEPREFIX=str(root / "layer-pycache"))
    _prime([bcode], [compiled], pycache)
    _prime([bcode], [shipped], root / "layer-pycache", site)
    measured, against, base, ratio = _paired(runs, (bcode, shipped), (bcode, compiled))
    return Figure(
        name="SDK layer: boto3 clients from the layer built without .pyc vs compiled",
        unit="s CPU",
        values=[round(t, 4) for t in measured],
        command=f"{SHOWN_PYTHON} -c '{one_line(bcode)}' (PYTHONPATH=<layer>/python)",
        extra={
            "ratio": round(ratio, 3),
            "wall_ratio": None,
            "baseline": base,
            "baseline_values": [round(t, 4) for t in against],
            "services": list(services),
            "mode": "layer",
            "layer": zipped.name,
            "layer_zip_bytes": zipped.stat().st_size,
            "layer_unzipped_bytes": layer.unzipped_bytes(zipped),
        },
    )


def _function_runs(
    fcode: str,
    bcode: str,
    envs: dict[str, dict[str, str]],
    pycache: Path,
    runs: int,
    *,
    quick: bool,
) -> dict[str, list[tuple[float, float]]]:
    """(wall, CPU) of ``runs`` rounds of, in turn: the function with tracing off, with
    tracing on, the baseline, and the baseline with the libraries without and with the
    Tracer (the X-Ray SDK's own cost with this function's clients, in the same round)."""
    libs, traced = bcode + FLOOR_LIBS, bcode + FLOOR_TRACED
    _prime([fcode, bcode, libs, traced], list(envs.values()), pycache)
    if not quick:
        for env in envs.values():  # warm the page cache, not measured
            _time(fcode, env)
        _time(bcode, envs["off"])
    times: dict[str, list[tuple[float, float]]] = {
        "off": [],
        "on": [],
        "base": [],
        "libs": [],
        "traced": [],
    }
    for _ in range(runs):
        times["off"].append(_time(fcode, envs["off"]))
        times["on"].append(_time(fcode, envs["on"]))
        times["base"].append(_time(bcode, envs["off"]))
        times["libs"].append(_time(libs, envs["on"]))
        times["traced"].append(_time(traced, envs["on"]))
    return times


def beyond_sdk(times: dict[str, list[float]]) -> tuple[float, float, float]:
    """In baseline units, medians over the rounds: what tracing adds to the function (on
    less off), what the X-Ray SDK costs alone (the libraries with the Tracer less without),
    and what tracing adds beyond the SDK (the first less the second, round by round)."""
    rounds = list(zip(*(times[k] for k in ("off", "on", "base", "libs", "traced")), strict=True))
    adds = statistics.median((on - off) / base for off, on, base, _, _ in rounds)
    sdk = statistics.median((tr - lb) / base for _, _, base, lb, tr in rounds)
    beyond = statistics.median(((on - off) - (tr - lb)) / base for off, on, base, lb, tr in rounds)
    return adds, sdk, beyond


def run(*, quick: bool) -> Section:
    runs = 1 if quick else 10
    section = Section(
        key="cold-start",
        title="1. Cold start per function (fresh process) vs boto3 with the same clients",
        command="python -m bench.run --only cold-start",
    )
    with tempfile.TemporaryDirectory(prefix="bench-cold-") as tmp:
        task_root = _shipped_copy(Path(tmp))
        pycache = Path(tmp) / "pycache"
        envs = {
            "off": _env(task_root, pycache, tracing=False),
            "on": _env(task_root, pycache, tracing=True),
        }
        floors = _floors(envs["on"], pycache, task_root, runs)
        floor = {f.extra["floor"]: f.extra["ratio"] for f in floors}
        lib_floor = {"off": floor[LIBS], "on": floor[TRACED]}
        for module in functions():
            services = services_of(module)
            fcode = FUNCTION.format(
                module=module, settings=settings_class(module), services=tuple(services)
            )
            bcode = BASELINE.format(services=tuple(services))
            times = _function_runs(fcode, bcode, envs, pycache, runs, quick=quick)
            base_cpu = [c for _, c in times["base"]]
            base_wall = [w for w, _ in times["base"]]
            name = module.replace("_", "-")
            ratios: dict[str, float] = {}
            for mode in ("off", "on"):
                cpu = [c for _, c in times[mode]]
                wall = [w for w, _ in times[mode]]
                ratio = ratios[mode] = paired_ratio(cpu, base_cpu)
                wall_ratio = paired_ratio(wall, base_wall)
                if mode == "off":
                    ok = ratio <= TARGET_RATIO
                    target = f"ratio <= {TARGET_RATIO}x"
                else:
                    adds, sdk, beyond = beyond_sdk({k: [c for _, c in v] for k, v in times.items()})
                    ok = beyond <= TRACING_MARGIN
                    target = (
                        f"tracing adds <= the X-Ray SDK's own cost + {TRACING_MARGIN}x; adds "
                        f"{adds:.3f}x, the SDK alone {sdk:.3f}x: {beyond:+.3f}x beyond it "
                        f"(ratio {ratios['off']:.2f}x off)"
                    )
                fig = Figure(
                    name=f"{name}: tracing {mode}",
                    unit="s CPU",
                    values=[round(c, 4) for c in cpu],
                    target=target,
                    verdict=verdict(ok),
                    command=f"{SHOWN_PYTHON} -c '{one_line(fcode)}' "
                    f"({TRACE_DISABLED_ENV}={envs[mode][TRACE_DISABLED_ENV]})",
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
                        "mode": f"tracing {mode}",
                    },
                )
                if mode == "on":
                    fig.extra["tracing"] = {
                        "adds": round(adds, 4),
                        "sdk_alone": round(sdk, 4),
                        "beyond_sdk": round(beyond, 4),
                        "libs_values": [round(c, 4) for _, c in times["libs"]],
                        "traced_values": [round(c, 4) for _, c in times["traced"]],
                    }
                if not ok and not quick:
                    found = offenders(fcode, bcode, envs[mode])
                    fig.extra["importtime_offenders"] = found
                    fig.why = (
                        f"over target: the libraries (tracing {mode}) are at "
                        f"{lib_floor[mode]:.2f}x before any function code (floor rows below); "
                        "imports the baseline does not pay for: "
                        + ", ".join(
                            f"{r['package']} {r['ms']:.0f} ms" for r in found["packages"][:5]
                        )
                    )
                elif not ok:
                    fig.why = "over target (--quick: one run, no importtime profile)"
                section.figures.append(fig)
        section.figures += floors
        section.figures.append(_uncompiled_asset_cost(Path(tmp), task_root, runs))
        section.figures.append(_layer_cost(Path(tmp), pycache, runs))
    section.notes += [
        "Each run is a fresh interpreter; runs alternate (tracing off, tracing on, baseline, "
        "and the two library floors for the tracing-on verdict). "
        "The figure is CPU time (user + system) of the child process, and the verdict is the "
        "median of the per-pair CPU ratios (each function run against the baseline run "
        "next to it, so both ran at that moment's machine speed): the machine is shared, "
        "and wall time there includes waiting for a core. The wall-clock ratio is shown "
        "beside it.",
        "Baseline: a fresh process that imports boto3 and creates the same clients with the "
        "same botocore config (the SDK's own cost is not the function's).",
        "Both set-ups run as Lambda's init would: LAMBDA_TASK_ROOT set, the function's "
        f"environment variables set with {TRACE_DISABLED_ENV} as the CDK app sets it for "
        "observability.tracing off (true: autopilot/observability.py imports neither "
        "Powertools' Tracer nor the X-Ray SDK) or active (false: the Tracer imports the X-Ray "
        "SDK and patches botocore), the code the asset ships (infra/code_asset.py) with its "
        "bytecode, compiled once for this interpreter as the build compiles it for "
        "python3.13. The libraries' bytecode is compiled once beforehand (see "
        "the module docstring: this machine sets PYTHONDONTWRITEBYTECODE=1 and its venv has "
        "almost no .pyc).",
        "The tracing-on target: what tracing adds to the function (tracing on less tracing "
        "off) is at most the X-Ray SDK's own cost (the baseline with Powertools' Logger, "
        "Metrics and Tracer less the same without the Tracer, with the function's clients) "
        f"plus {TRACING_MARGIN}x: tracing adds nothing beyond the SDK itself. Each round runs "
        "the five processes one after the other (tracing off, tracing on, baseline, "
        "libraries, libraries with the Tracer); the verdict is the median over rounds of "
        "(on - off) - (with Tracer - without), divided by the round's baseline.",
        "The code asset and SDK layer rows: what a build machine without a CPython 3.13 "
        "ships (the build says so): the code asset and the SDK layer (infra/layer.py) "
        "without .pyc, so their modules compile at every cold start (Lambda cannot cache "
        "bytecode in /var/task or /opt). The code asset row is image-events (tracing off) "
        "from the sources only against the asset as built; the layer row the baseline with "
        "boto3 from the unzipped layer against the same with that boto3 compiled. The "
        "function rows use compiled boto3 on both sides.",
        "What is not in init: a function's event models are built on their first use "
        "(autopilot/schema.py), so each pays only for the models it receives, in its first "
        "invocation (a model's validators are closures made from its annotations: no schema "
        "compiler, no pydantic); task-events imports deployment-events' rollback path only "
        "when it rolls a crash loop back.",
    ]
    return section
