"""`autopilot wait SERVICE`, the installed command against the session's sandbox: exit 0
once the service is steady on the expected digest, 1 when that digest's deployment failed
or was rolled back, 1 at the timeout, each with one line saying which."""

# ruff: noqa: PLC0415 - imports are deferred: moto and the functions load only where used

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from sandbox.core import Sandbox
from tests.e2e.test_cli_habits import at_sandbox, autopilot, clean_env, one_error_line


@pytest.fixture(scope="module")
def served(sandbox: Sandbox, demo_results: Any) -> Sandbox:
    """The session's sandbox, after the demo's story."""
    return sandbox


def test_wait_until_a_push_is_steady_then_a_crashing_one_fails(
    served: Sandbox, tmp_path: Path
) -> None:
    from sandbox.demo import DemoContext
    from sandbox.demo.framework import next_version

    ctx = DemoContext(served)
    env = at_sandbox(served, tmp_path)

    # a clean push: image-events deploys it; wait (the ledger's newest deploy) sees it steady
    pushed = ctx.sim.push("demo/web", next_version(ctx, "demo/web"))
    proc = autopilot("wait", "web", "--timeout", "120", "--interval", "0.5", env=env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"web: steady on {pushed.digest[:19]}"), proc.stdout
    assert "Traceback" not in proc.stderr

    proc = autopilot("wait", "web", "--json", "--timeout", "60", env=env)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["ok"] is True
    assert doc["digest"] == pushed.digest

    # a crashing push: deployed, its deployment fails, the circuit breaker rolls it back
    crashing = ctx.sim.push("demo/web", next_version(ctx, "demo/web"), crashing=True)
    proc = autopilot(
        "wait",
        "web",
        "--digest",
        crashing.digest,
        "--timeout",
        "120",
        "--interval",
        "0.5",
        env=env,
    )
    ctx.sim.settle()
    assert proc.returncode == 1, proc.stderr
    last = proc.stdout.strip().splitlines()[-1]
    assert last.startswith("web: "), proc.stdout
    assert "FAILED" in last or "rolled back" in last, last


def test_wait_times_out_with_what_it_was_doing(served: Sandbox, tmp_path: Path) -> None:
    env = at_sandbox(served, tmp_path)
    never = "sha256:" + "0" * 64
    proc = autopilot(
        "wait", "web", "--digest", never, "--timeout", "1.5", "--interval", "0.5", env=env
    )
    assert proc.returncode == 1, proc.stderr
    assert proc.stdout.startswith("web: timed out after 1.5 s: the primary deployment"), proc.stdout


def test_wait_refuses_bad_input_with_one_line(served: Sandbox, tmp_path: Path) -> None:
    env = at_sandbox(served, tmp_path)
    for argv, says in (
        (["wait", "no-such-service", "--timeout", "5"], "no-such-service"),
        (["wait", "web", "--timeout", "0"], "above 0"),
    ):
        proc = autopilot(*argv, env=env)
        assert proc.returncode == 2, proc.stderr
        assert says in one_error_line(proc)
    proc = autopilot("wait", "web", env=clean_env(tmp_path))  # no region
    assert proc.returncode == 3, proc.stderr
