"""Root fixtures, kept minimal: every test starts with fresh settings and fresh AWS clients."""

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
