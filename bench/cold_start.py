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
- ``local``: the tests' environment (tracing off, compiled ``.pyc`` present).
"""

from __future__ import annotations

import os
import re
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from bench.common import FUNCTIONS, PYTHON, Figure, Section, summary, verdict

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
    "CLUSTER_ARN": "arn:aws:ecs:eu-west-1:123456789012:cluster/demo-cluster",
}
# botocore config as adapters/clients.py builds it (the baseline pays the same)
BASELINE = """\
import boto3
from botocore.config import Config
config = Config(retries={{"mode": "standard", "max_attempts": 5}}, connect_timeout=5,
                read_timeout=20, user_agent_extra="ecs-autopilot")
session = boto3.session.Session()
for service in {services!r}:
    session.client(service, config=config)
"""
FUNCTION = """\
import autopilot.handlers.{module}
from autopilot.settings import {settings}, get_settings
from autopilot.adapters.clients import get_clients
get_settings({settings})
get_clients().warm(*{services!r})
"""


def functions() -> list[str]:
    """The handler modules that exist (``capacity_events`` only once it is written)."""
    return sorted(
        p.stem for p in HANDLERS.glob("*.py") if p.stem not in {"__init__", "common"}
    )


def services_of(module: str) -> list[str]:
    """The boto3 services a handler uses: ``aws.<client>`` in its module, the modules of
    other handlers it imports, and ``handlers/common.py`` (ledger and notices)."""
    seen: set[str] = set()
    todo = [module, "common"]
    found: set[str] = set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        text = (HANDLERS / f"{name}.py").read_text()
        found |= {
            PROPERTY_SERVICE[m]
            for m in re.findall(r"\baws\.([a-z0-9_]+)\b", text)
            if m in PROPERTY_SERVICE
        }
        todo += re.findall(r"from autopilot\.handlers import (\w+)", text)
        todo += re.findall(r"from autopilot\.handlers\.(\w+) import", text)
    found.add("dynamodb")  # the ledger (built from aws.dynamodb in every run())
    return sorted(found)


def settings_class(module: str) -> str:
    return "".join(part.title() for part in module.split("_")) + "Settings"


def _shipped_copy(root: Path) -> Path:
    """functions/ as the asset ships it: no __pycache__, no .pyc."""
    dest = root / "task"
    shutil.copytree(FUNCTIONS, dest, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return dest


def _env(mode: str, task_root: Path | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "POWERTOOLS_"))}
    env.pop("LAMBDA_TASK_ROOT", None)
    env.update(ENV)
    if mode == "shipped":
        assert task_root is not None
        env["LAMBDA_TASK_ROOT"] = str(task_root)
        env["PYTHONPATH"] = str(task_root)
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    else:
        env["POWERTOOLS_TRACE_DISABLED"] = "true"
        env["PYTHONPATH"] = str(FUNCTIONS)
    return env


def _time(code: str, env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run([PYTHON, "-c", code], env=env, check=True, capture_output=True)
    return time.perf_counter() - start


def importtime(code: str, env: dict[str, str]) -> dict[str, float]:
    """``python -X importtime``: self time (ms) per top-level package."""
    out = subprocess.run(
        [PYTHON, "-X", "importtime", "-c", code], env=env, check=True, capture_output=True, text=True
    ).stderr
    per_package: dict[str, float] = {}
    for line in out.splitlines():
        m = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|\s*(\S+)", line)
        if m:
            package = m.group(3).split(".")[0]
            per_package[package] = per_package.get(package, 0.0) + int(m.group(1)) / 1000
    return per_package


def offenders(code: str, baseline: str, env: dict[str, str], top: int = 8) -> list[dict[str, object]]:
    """The packages whose import (self) time the function pays beyond the baseline,
    largest first (median of 3 importtime runs each)."""
    runs = [importtime(code, env) for _ in range(3)]
    base = [importtime(baseline, env) for _ in range(3)]
    names = set().union(*runs)
    rows = []
    for name in names:
        fn = statistics.median(r.get(name, 0.0) for r in runs)
        bs = statistics.median(b.get(name, 0.0) for b in base)
        if fn - bs > 1.0:
            rows.append({"package": name, "extra_ms": round(fn - bs, 1), "ms": round(fn, 1)})
    rows.sort(key=lambda r: -float(r["extra_ms"]))  # type: ignore[arg-type]
    return rows[:top]


def run(*, quick: bool) -> Section:
    runs = 2 if quick else 12
    section = Section(
        key="cold-start",
        title="1. Cold start per function (fresh process) vs boto3 with the same clients",
        command="python -m bench.run --only cold-start",
    )
    modes = ("shipped",) if quick else ("shipped", "local")
    with tempfile.TemporaryDirectory(prefix="bench-cold-") as tmp:
        task_root = _shipped_copy(Path(tmp))
        for module in functions():
            services = services_of(module)
            fcode = FUNCTION.format(
                module=module, settings=settings_class(module), services=tuple(services)
            )
            bcode = BASELINE.format(services=tuple(services))
            for mode in modes:
                env = _env(mode, task_root if mode == "shipped" else None)
                _time(fcode, env), _time(bcode, env)  # warm the page cache, not measured
                fn_times: list[float] = []
                base_times: list[float] = []
                for _ in range(runs):
                    fn_times.append(_time(fcode, env))
                    base_times.append(_time(bcode, env))
                ratio = summary(fn_times)["median"] / summary(base_times)["median"]
                ok = ratio <= TARGET_RATIO
                name = module.replace("_", "-")
                label = "as shipped (Lambda init: tracing on, no .pyc)" if mode == "shipped" else "local (tracing off, .pyc cached)"
                fig = Figure(
                    name=f"{name}: {label}",
                    unit="s",
                    values=fn_times,
                    target=f"ratio <= {TARGET_RATIO}x" if mode == "shipped" else None,
                    verdict=verdict(ok) if mode == "shipped" else None,
                    command=f"{PYTHON} -c '{'; '.join(fcode.strip().splitlines())}'",
                    extra={
                        "ratio": round(ratio, 3),
                        "baseline": summary(base_times),
                        "baseline_values": base_times,
                        "baseline_command": f"{PYTHON} -c '{'; '.join(bcode.strip().splitlines())}'",
                        "services": services,
                        "mode": mode,
                    },
                )
                if mode == "shipped" and not ok and not quick:
                    rows = offenders(fcode, bcode, env)
                    fig.extra["importtime_offenders"] = rows
                    fig.why = "over target; import time beyond the baseline (python -X importtime, self ms): " + ", ".join(
                        f"{r['package']} +{r['extra_ms']}" for r in rows[:6]
                    )
                elif mode == "shipped" and not ok:
                    fig.why = "over target (--quick: no importtime profile)"
                section.figures.append(fig)
    section.notes.append(
        "Process wall time (interpreter start to exit), measured from the parent. The ratio "
        "is median(function) / median(baseline) of alternating runs."
    )
    return section
