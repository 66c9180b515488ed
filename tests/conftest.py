"""Root fixtures, kept minimal: every test starts with fresh settings and fresh AWS clients.

The suite runs on pytest-xdist's workers (``make test``: ``-n auto --dist loadgroup``): the
tests of a package whose fixtures are expensive and shared (the sandbox of ``tests/e2e``,
the synths of ``tests/infra``, the reliability estate) go to one worker as one group, so
each is built once; the others are spread one by one.
"""

from __future__ import annotations

from collections.abc import Iterator

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


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        parts = item.path.relative_to(item.config.rootpath).parts
        package = parts[1] if len(parts) > 2 and parts[0] == "tests" else ""
        if package in GROUPED:
            item.add_marker(pytest.mark.xdist_group(package))
