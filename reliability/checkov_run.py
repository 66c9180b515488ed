"""checkov on the synthesized templates; every failed check needs a written skip reason.

The skips live in ``reliability/checkov-skips.yaml`` (check id -> reason, optional
``resources`` patterns on logical ids, optional ``verify`` of what the reason claims).
"""

# ruff: noqa: PLC0415 - imports are deferred

from __future__ import annotations

import fnmatch
import json
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SKIPS = Path(__file__).with_name("checkov-skips.yaml")


@dataclass
class CheckovResult:
    template: str
    passed: int = 0
    failed: int = 0
    skipped_with_reason: dict[str, int] = field(default_factory=dict)
    unexplained: list[str] = field(default_factory=list)
    verify_failed: list[str] = field(default_factory=list)
    version: str = ""

    @property
    def ok(self) -> bool:
        return not (self.unexplained or self.verify_failed)

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def load_skips() -> dict[str, dict[str, Any]]:
    import yaml

    doc: dict[str, dict[str, Any]] = yaml.safe_load(SKIPS.read_text())
    for check, entry in doc.items():
        if not str(entry.get("reason", "")).strip():
            raise ValueError(f"{SKIPS.name}: {check} has no reason")
    return doc


def _verify(kind: str, template: dict[str, Any]) -> list[str]:
    res = template.get("Resources", {})
    out: list[str] = []
    if kind == "sqs-managed-sse":
        for lid, r in res.items():
            if r.get("Type") == "AWS::SQS::Queue":
                p = r.get("Properties", {})
                if not (p.get("SqsManagedSseEnabled") or p.get("KmsMasterKeyId")):
                    out.append(f"{lid}: neither SqsManagedSseEnabled nor KmsMasterKeyId")
    elif kind == "kms-wildcard-conditions":
        for lid, r in res.items():
            if r.get("Type") != "AWS::KMS::Key":
                continue
            for st in r["Properties"]["KeyPolicy"]["Statement"]:
                if st.get("Principal") in ("*", {"AWS": "*"}):
                    cond = st.get("Condition") or {}
                    has_account = "kms:CallerAccount" in (cond.get("StringEquals") or {})
                    has_principal = "aws:PrincipalArn" in (cond.get("ArnLike") or {})
                    if not (has_account and has_principal):
                        out.append(
                            f"{lid}: Principal * without kms:CallerAccount and "
                            "aws:PrincipalArn conditions"
                        )
    return out


def run(template_path: Path) -> CheckovResult:
    from reliability.tools import CHECKOV_VERSION, ensure_checkov

    exe = ensure_checkov()
    proc = subprocess.run(
        [
            str(exe),
            "-f",
            str(template_path),
            "--framework",
            "cloudformation",
            "--quiet",
            "--compact",
            "-o",
            "json",
            "--skip-download",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    doc: Any = json.loads(proc.stdout)
    doc = doc[0] if isinstance(doc, list) else doc
    res = CheckovResult(template=template_path.name, version=CHECKOV_VERSION)
    res.passed = int(doc["summary"]["passed"])
    res.failed = int(doc["summary"]["failed"])
    skips = load_skips()
    template = json.loads(template_path.read_text())
    verified: set[str] = set()
    for c in doc["results"]["failed_checks"]:
        lid = c["resource"].split(".", 1)[-1]
        entry = skips.get(c["check_id"])
        patterns = (entry or {}).get("resources") or ["*"]
        if entry is None or not any(fnmatch.fnmatchcase(lid, p) for p in patterns):
            res.unexplained.append(f"{c['check_id']} {c['check_name']}: {c['resource']}")
            continue
        res.skipped_with_reason[c["check_id"]] = res.skipped_with_reason.get(c["check_id"], 0) + 1
        kind = entry.get("verify")
        if kind and kind not in verified:
            verified.add(kind)
            res.verify_failed += _verify(kind, template)
    return res
