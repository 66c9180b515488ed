"""One sandbox for the whole e2e package: synthesized once, deployed once into moto.

moto's backends are process-wide, so there is exactly one sandbox per test process; the
demo scenes run first (``demo_results``) and the other tests run against the state the
story left behind. The fixtures are package-scoped so the sandbox stops (and the
simulator's changes to moto are undone) before the other tiers' tests run.
"""

# ruff: noqa: PLC0415 - imports are deferred: moto, boto3 and the handlers load only where used

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sandbox.core import Sandbox
from sandbox.synth import REPO_ROOT, CloudAssembly, synth
from sandbox.timeline import Timeline

EVENTS_DIR = REPO_ROOT / "events"


def event_files() -> list[Path]:
    return sorted(EVENTS_DIR.glob("*.json"))


def load(path: Path) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(path.read_text())
    return doc


@pytest.fixture(scope="package")
def assembly() -> CloudAssembly:
    return synth(REPO_ROOT / "cdk.out")


@pytest.fixture(scope="package")
def sandbox(assembly: CloudAssembly) -> Iterator[Sandbox]:
    sb = Sandbox(assembly=assembly, timeline=Timeline(), brownfield=True).up()
    try:
        yield sb
    finally:
        sb.down()


@pytest.fixture(scope="package")
def demo_results(sandbox: Sandbox) -> list[Any]:
    from cli.invoke import adopter, approver
    from sandbox.demo import DemoContext, run_scenes

    ctx = DemoContext(sandbox, approve=approver(sandbox.endpoint), adopt=adopter(sandbox.endpoint))
    return run_scenes(ctx)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/e2e/" in str(item.fspath).replace("\\", "/"):
            item.add_marker(pytest.mark.e2e)
