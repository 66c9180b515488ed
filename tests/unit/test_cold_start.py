"""Import discipline that keeps cold start down (the timing itself is a benchmark, not a test):
importing a handler builds no AWS client and leaves boto3 unimported until first use, and
nothing outside ``aws/`` imports boto3 or botocore."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import autopilot

PACKAGE = Path(autopilot.__file__).parent
#: every module of the asset but the adapters (``aws/``, the only ones that call AWS)
MINE = sorted(
    str(path.relative_to(PACKAGE))
    for path in PACKAGE.rglob("*.py")
    if path.relative_to(PACKAGE).parts[0] != "aws"
)


def test_only_adapters_import_boto3_or_botocore() -> None:
    assert "handlers/image_events.py" in MINE
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
        "import sys, autopilot.handlers.image_events, autopilot.handlers.deployment_events,"
        " autopilot.handlers.task_events, autopilot.handlers.capacity_events;"
        "print('boto3' in sys.modules)"
    )
    env = dict(os.environ, POWERTOOLS_TRACE_DISABLED="true", POWERTOOLS_METRICS_NAMESPACE="t")
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    assert out.stdout.strip() == "False"
