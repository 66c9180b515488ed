"""cfn-lint over every template of the synthesized assembly: no error, no warning.

Rules are ignored only in .cfnlintrc.yaml, each with its reason."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

from tests.infra.conftest import REPO


def cfn_lint(templates: list[Path]) -> subprocess.CompletedProcess[str]:
    """cfn-lint with the repository's config over ``templates``."""
    return subprocess.run(
        [
            str(Path(sys.executable).parent / "cfn-lint"),
            "--config-file",
            str(REPO / ".cfnlintrc.yaml"),
            "--",
            *map(str, templates),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_every_template_is_clean(synth) -> None:
    templates = sorted(Path(synth.outdir).glob("*.template.json"))
    # the control plane and the estate
    assert len(templates) == len(synth.stacks.all) == 2
    result = cfn_lint(templates)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == ""


def test_ignored_rules_have_reasons() -> None:
    text = (REPO / ".cfnlintrc.yaml").read_text()
    ignored = yaml.safe_load(text).get("ignore_checks", [])
    lines = text.splitlines()
    for rule in ignored:
        at = next(i for i, line in enumerate(lines) if line.strip() == f"- {rule}")
        comment = [line for line in lines[max(0, at - 6) : at] if line.strip().startswith("#")]
        assert any(rule in line for line in comment), f"{rule} needs a reason above it"
