"""Root fixtures, kept minimal: every test starts with fresh settings and fresh AWS clients.

The suite runs on pytest-xdist's workers (``make test``: ``-n auto``): the tests of a
package whose fixtures are expensive and shared (the sandbox of ``tests/e2e``, the synths
of ``tests/infra``, the reliability estate) go to one worker as one scope, so each is built
once; every other module is a scope of its own (``pytest_xdist_make_scheduler``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from autopilot.aws.clients import reset_clients
from autopilot.settings import get_settings


@pytest.fixture(autouse=True)
def _fresh_settings_and_clients() -> Iterator[None]:
    get_settings.cache_clear()
    reset_clients()
    yield
    get_settings.cache_clear()
    reset_clients()


#: the packages whose tests share package- or session-scoped fixtures: one worker each
GROUPED = ("e2e", "infra", "reliability")


@pytest.hookimpl(optionalhook=True)  # known only when pytest-xdist is loaded
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """pytest-xdist's scheduling by scope, each package of ``GROUPED`` one scope (its
    fixtures are built once, on one worker), every other module its own."""
    from xdist.scheduler import LoadScopeScheduling  # noqa: PLC0415 - only under xdist

    class ByPackage(LoadScopeScheduling):  # type: ignore[misc]
        def _split_scope(self, nodeid: str) -> str:
            parts = nodeid.split("/")
            if len(parts) > 2 and parts[0] == "tests" and parts[1] in GROUPED:
                return f"tests/{parts[1]}"
            return str(super()._split_scope(nodeid))

    return ByPackage(config, log)
