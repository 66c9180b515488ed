"""Handler tier: the real handlers against the estate in moto's ``mock_aws`` (``tests/estate.py``).

``estate`` is the account, open for one test, in the functions' environment. The test
modules know it by the names they grew up with: ``world`` (image and deployment reactions,
the operator) and ``rx`` (task and capacity reactions) are that one estate, ``clock`` its
fake clock of the reaction state.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.estate import ENV, UNSET, Estate, FakeClock, LambdaContext

# Powertools reads these when the handler modules are imported (as Lambda sets them
# before the import): set them before the test modules import the handlers.
for _key in (
    "POWERTOOLS_SERVICE_NAME",
    "POWERTOOLS_METRICS_NAMESPACE",
    "POWERTOOLS_TRACE_DISABLED",
):
    os.environ.setdefault(_key, ENV[_key])


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The functions' environment (``ENV``) for this test."""
    for key, value in ENV.items():
        monkeypatch.setenv(key, value)
    for key in UNSET:
        monkeypatch.delenv(key, raising=False)


@pytest.fixture
def estate(aws_env: None) -> Iterator[Estate]:
    with Estate() as opened:
        yield opened


@pytest.fixture
def world(estate: Estate) -> Estate:
    return estate


@pytest.fixture
def rx(estate: Estate) -> Estate:
    return estate


@pytest.fixture
def clock(estate: Estate) -> FakeClock:
    return estate.clock


@pytest.fixture
def context() -> LambdaContext:
    return LambdaContext()
