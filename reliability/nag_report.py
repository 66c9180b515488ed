"""cdk-nag's verdict on a synthesized stack, read from the cloud assembly.

``cdk synth`` runs the AwsSolutions pack (``infra/app_builder.py``) and fails on any
unacknowledged finding, so a template that exists passed; this reads what the assembly
records to show it: the validation report's violations, and the acknowledgements (rule,
construct path, reason) in the stack's metadata.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

PACK = "AwsSolutions"
MIN_REASON = 40  # characters: a reason, not a placeholder


@dataclass
class NagResult:
    template: str
    plugin_reports: int = 0
    violations: list[str] = field(default_factory=list)
    acknowledged: int = 0
    rules: int = 0
    without_reason: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.plugin_reports > 0 and not self.violations and not self.without_reason

    def to_json(self) -> dict[str, Any]:
        return asdict(self) | {"ok": self.ok}


def acknowledgements(outdir: Path, stack: str) -> dict[tuple[str, str], str]:
    """(construct path below the stack, rule) -> reason, for the pack's acknowledgements."""
    metadata = json.loads((outdir / f"{stack}.metadata.json").read_text())
    out: dict[tuple[str, str], str] = {}
    for path, entries in metadata.items():
        for entry in entries:
            if entry.get("type") != "aws:cdk:acknowledged-rules":
                continue
            for rule, reason in entry["data"].items():
                if rule.startswith(f"{PACK}::"):
                    key = (path.removeprefix(f"/{stack}/"), rule.removeprefix(f"{PACK}::"))
                    out[key] = reason
    return out


def read(template_file: Path) -> NagResult:
    """The nag verdict for the stack whose template is ``template_file``."""
    outdir = template_file.parent
    stack = template_file.name.removesuffix(".template.json")
    result = NagResult(template=template_file.name)
    report_file = outdir / "validation-report.json"
    if report_file.exists():
        report = json.loads(report_file.read_text())
        for plugin in report.get("pluginReports", []):
            result.plugin_reports += 1
            for v in plugin.get("violations", []):
                where = [r.get("resourceLogicalId") for r in v.get("violatingResources", [])]
                result.violations.append(f"{v.get('ruleName')}: {where}")
    rules: set[str] = set()
    for (path, rule), reason in acknowledgements(outdir, stack).items():
        result.acknowledged += 1
        rules.add(rule.split("[")[0])
        if len(str(reason).strip()) < MIN_REASON:
            at = path if path.startswith("/") else f"/{stack}/{path}"
            result.without_reason.append(f"{at} {PACK}::{rule}")
    result.rules = len(rules)
    return result
