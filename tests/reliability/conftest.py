"""One sandbox for the reliability suites, apart from tests/e2e's.

It deploys the harness's own estate (``reliability/estate.yaml``: environment ``rel``,
so stack, cluster, functions, table and repositories never collide with the demo's, even
though moto's backends are process-wide and outlive tests/e2e's sandbox). The fixtures
are package-scoped: the sandbox stops, and the botocore hooks come off the functions'
clients, before the next tier runs. Select the suites with ``pytest -m reliability``.
"""

# ruff: noqa: PLC0415 - imports are deferred: moto, boto3 and the handlers load only where used

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from sandbox.synth import CloudAssembly


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "reliability: duplicates, faults, concurrency, hostile input, least privilege"
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/reliability/" in str(item.fspath).replace("\\", "/"):
            item.add_marker(pytest.mark.reliability)


@pytest.fixture(scope="package")
def estate_assembly() -> CloudAssembly:
    """The estate synthesized in this session (reused only when newer than its sources)."""
    from reliability.estate import synth_estate

    return synth_estate()


@pytest.fixture(scope="package")
def rel_sandbox(estate_assembly: CloudAssembly) -> Iterator[Any]:
    from reliability import hooks
    from reliability.estate import start_sandbox

    sb = start_sandbox(estate_assembly)
    try:
        yield sb
    finally:
        sb.down()
        hooks.uninstall()
