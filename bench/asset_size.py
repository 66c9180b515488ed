"""2. Code asset size: functions/ zipped as the CDK asset is (``__pycache__`` excluded).

The exclude list is ``CODE_EXCLUDE`` of infra/constructs/function.py, the one the code
asset is built with.
"""

from __future__ import annotations

import fnmatch
import tempfile
import zipfile
from pathlib import Path

from bench.common import FUNCTIONS, Figure, Section, rel, verdict

TARGET_BYTES = 256 * 1024
EXCLUDE = ["**/__pycache__", "**/*.pyc", "**/.mypy_cache", "**/.pytest_cache"]


def _excluded(path: Path) -> bool:
    parts = path.relative_to(FUNCTIONS).parts
    for pattern in EXCLUDE:
        leaf = pattern.removeprefix("**/")
        if any(fnmatch.fnmatch(part, leaf) for part in parts):
            return True
    return False


def build_zip(dest: Path) -> tuple[int, int, int]:
    """Zip functions/ (deflate, as CDK does); (zip bytes, raw bytes, files)."""
    files = sorted(p for p in FUNCTIONS.rglob("*") if p.is_file() and not _excluded(p))
    raw = 0
    with zipfile.ZipFile(dest, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for p in files:
            zf.write(p, p.relative_to(FUNCTIONS).as_posix())
            raw += p.stat().st_size
    return dest.stat().st_size, raw, len(files)


def run(*, quick: bool) -> Section:
    del quick
    section = Section(
        key="asset-size",
        title="2. Code asset size (functions/ zipped as the CDK asset)",
        command="python -m bench.run --only asset-size",
    )
    with tempfile.TemporaryDirectory(prefix="bench-asset-") as tmp:
        size, raw, files = build_zip(Path(tmp) / "functions.zip")
    kib = size / 1024
    section.figures.append(
        Figure(
            name=f"zip of {rel(FUNCTIONS)}/ ({files} files, {raw / 1024:.0f} KiB unzipped)",
            unit="KiB",
            values=[round(kib, 1)],
            target=f"<= {TARGET_BYTES // 1024} KiB",
            verdict=verdict(size <= TARGET_BYTES),
            why="" if size <= TARGET_BYTES else "the asset is larger than the budget",
            extra={"bytes": size, "raw_bytes": raw, "files": files, "exclude": EXCLUDE},
        )
    )
    section.notes.append(
        "Deterministic (one run). Dependencies are not in the asset: pydantic and Powertools "
        "come from the pinned Powertools layer, boto3 from the Lambda runtime."
    )
    return section
