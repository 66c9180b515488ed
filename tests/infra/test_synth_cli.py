"""`make synth`'s path: the CDK CLI runs app.py with no AWS credentials and no network look-up."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

from tests.infra.conftest import REPO, scrubbed_env


def _comparable(template: dict[str, Any]) -> dict[str, Any]:
    """Without what only the CLI adds (path/asset metadata, the CDKMetadata resource) and
    with asset hashes masked: colleagues edit functions/ while the suite runs."""
    resources = {
        k: {key: v for key, v in r.items() if key != "Metadata"}
        for k, r in template["Resources"].items()
        if r["Type"] != "AWS::CDK::Metadata"
    }
    comparable = {
        "Resources": resources,
        "Outputs": template["Outputs"],
        "Parameters": template["Parameters"],
    }
    return json.loads(re.sub(r"\b[0-9a-f]{64}\b", "<asset-hash>", json.dumps(comparable)))


def test_cli_synth_needs_no_credentials(synth, tmp_path: Path) -> None:
    # Given no AWS credentials, config or region anywhere in the environment
    env = scrubbed_env()
    assert not any(k.startswith("AWS_") and "FILE" not in k for k in env)
    # When the pinned CDK CLI synthesizes the app (as `make synth` does)
    out = tmp_path / "cdk.out"
    result = subprocess.run(
        ["npx", "--no-install", "cdk", "synth", "--quiet", "--output", str(out)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    # Then it succeeds, and writes the same templates the in-process synth did
    assert result.returncode == 0, result.stderr[-3000:]
    assert sorted(p.name for p in out.glob("*.template.json")) == [
        "EcsAutopilot-demo-estate.template.json",
        "EcsAutopilot-demo.template.json",
    ]
    for view in synth.views:
        written = json.loads((out / f"{view.stack.stack_name}.template.json").read_text())
        assert _comparable(written) == _comparable(view.template_json), view.stack.stack_name
    assert (
        not (REPO / "cdk.context.json").exists()
        or "availability-zones" not in (REPO / "cdk.context.json").read_text()
    )
