"""The lease outlives the invocation holding it: derived from the function timeout, or
checked against it when the config sets it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from infra.config import LEASE_MARGIN_SECONDS, AutomationFunctions, ConfigError, load_config
from tests.infra.conftest import REPO
from tests.infra.test_stack import lambdas


def test_the_lease_is_the_timeout_plus_a_margin_by_default() -> None:
    assert AutomationFunctions().lease == 60 + LEASE_MARGIN_SECONDS
    assert AutomationFunctions(timeout_seconds=120).lease == 120 + LEASE_MARGIN_SECONDS
    assert AutomationFunctions(timeout_seconds=60, lease_seconds=75).lease == 75


def test_a_lease_no_longer_than_the_timeout_fails_the_config_naming_both(tmp_path: Path) -> None:
    text = (REPO / "config" / "demo.yaml").read_text()
    assert "\nfunctions:\n" in text
    path = tmp_path / "short_lease.yaml"
    path.write_text(
        text.replace("\nfunctions:\n", "\nfunctions:\n  lease_seconds: 60\n  timeout_seconds: 60\n")
    )
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert err.value.field == "functions"
    assert "lease_seconds (60) must exceed timeout_seconds (60)" in err.value.problem
    assert "\n" not in str(err.value)


def test_each_function_gets_the_lease_of_its_timeout_plus_the_margin(control: Any) -> None:
    for name, fn in lambdas(control).items():
        lease = int(fn["Environment"]["Variables"]["LEASE_SECONDS"])
        assert lease == fn["Timeout"] + LEASE_MARGIN_SECONDS, name
