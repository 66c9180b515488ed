"""Import discipline that keeps cold start down (the timing itself is a benchmark, not a test):
importing a handler builds no AWS client and leaves boto3 unimported until first use, and
nothing outside adapters/ imports boto3 or botocore."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import autopilot

PACKAGE = Path(autopilot.__file__).parent
MINE = [
    "errors.py",
    "observability.py",
    "handlers/common.py",
    "handlers/image_events.py",
    "handlers/deployment_events.py",
    "logic/image_plan.py",
    "logic/deployment_plan.py",
    "logic/images.py",
    "logic/patterns.py",
    "logic/policy.py",
    "logic/scan.py",
    "logic/semver.py",
    "logic/taskdef.py",
    "models/events.py",
    "models/report.py",
    "models/state.py",
]


def test_only_adapters_import_boto3_or_botocore() -> None:
    for rel in MINE:
        tree = ast.parse((PACKAGE / rel).read_text())
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                assert name.split(".")[0] not in {"boto3", "botocore"}, f"{rel} imports {name}"


def test_importing_a_handler_does_not_import_boto3() -> None:
    code = (
        "import sys, autopilot.handlers.image_events, autopilot.handlers.deployment_events;"
        "print('boto3' in sys.modules)"
    )
    env = dict(os.environ, POWERTOOLS_TRACE_DISABLED="true", POWERTOOLS_METRICS_NAMESPACE="t")
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    assert out.stdout.strip() == "False"
