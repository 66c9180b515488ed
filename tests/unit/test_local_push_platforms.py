"""``autopilot local push --platforms``: a bad platform list is a usage error (exit 2),
refused before the sandbox is asked."""

from __future__ import annotations

import pytest

from cli.main import main


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--platforms", "linux"], "--platforms takes OS/ARCH"),
        (["--platforms", "linux/amd64,Linux/ARM64"], "Linux/ARM64"),
        (["--attestation"], "--attestation goes with --platforms"),
    ],
)
def test_a_bad_platform_list_is_a_usage_error(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["local", "push", "demo/web:1.4.0", *argv])
    assert code == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err
