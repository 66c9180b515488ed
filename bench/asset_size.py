"""2. Code asset and SDK layer sizes: functions/ zipped as the CDK asset is
(``__pycache__`` excluded), and the SDK layer's zip (``infra/layer.py``).

The exclude list is ``CODE_EXCLUDE`` of infra/constructs/function.py, the one the code
asset is built with.
"""

from __future__ import annotations

import fnmatch
import tempfile
import zipfile
from pathlib import Path

from bench.common import FUNCTIONS, Figure, Section, rel, verdict
from infra import layer

TARGET_BYTES = 256 * 1024
#: Lambda's limit on a function's code and all its layers, unzipped
LAMBDA_UNZIPPED_LIMIT = 250 * 1024 * 1024
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
        title="2. Code asset and SDK layer sizes (zipped as the CDK assets are)",
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
    sdk = layer.ensure()
    sdk_zip, sdk_raw = sdk.stat().st_size, layer.unzipped_bytes(sdk)
    pins = ", ".join(f"{p.name} {p.version}" for p in layer.locked())
    section.figures.append(
        Figure(
            name=f"SDK layer {sdk.name} ({pins}; {sdk_raw / 2**20:.1f} MiB unzipped)",
            unit="KiB",
            values=[round(sdk_zip / 1024, 1)],
            target=f"unzipped, with the code asset, <= {LAMBDA_UNZIPPED_LIMIT // 2**20} MiB",
            verdict=verdict(sdk_raw + raw <= LAMBDA_UNZIPPED_LIMIT),
            why="",
            extra={"bytes": sdk_zip, "raw_bytes": sdk_raw, "pins": pins},
        )
    )
    section.notes.append(
        "Deterministic (one run). Dependencies are not in the asset: pydantic and Powertools "
        "come from the pinned Powertools layer, boto3 and botocore from the SDK layer "
        "(uv.lock's versions, no .pyc). Lambda's 250 MiB limit counts the Powertools layer "
        "too, which is not measured here."
    )
    return section
