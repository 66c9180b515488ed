"""2. Code asset and SDK layer sizes: the code asset's zip as the CDK app builds it
(``infra/code_asset.py``: ``functions/``'s sources and, compiled by a CPython 3.13, their
bytecode), its sources-only zip (what a build without a CPython 3.13 ships), and the SDK
layer's zip (``infra/layer.py``).
"""

from __future__ import annotations

import tempfile
import zipfile
from pathlib import Path

from bench.common import FUNCTIONS, Figure, Section, rel, verdict
from infra import code_asset, layer

#: the code asset's budget (sources, and with their bytecode: about 3x the sources zipped)
TARGET_BYTES = 256 * 1024
TARGET_COMPILED_BYTES = 768 * 1024
#: Lambda's limit on a function's code and all its layers, unzipped
LAMBDA_UNZIPPED_LIMIT = 250 * 1024 * 1024


def _measure(path: Path) -> tuple[int, int, int, int]:
    """(zip bytes, unzipped bytes, files, of which .pyc) of a built zip."""
    with zipfile.ZipFile(path) as zf:
        infos = zf.infolist()
    raw = sum(i.file_size for i in infos)
    compiled = sum(1 for i in infos if i.filename.endswith(".pyc"))
    return path.stat().st_size, raw, len(infos), compiled


def run(*, quick: bool) -> Section:
    del quick
    section = Section(
        key="asset-size",
        title="2. Code asset and SDK layer sizes (zipped as the CDK assets are)",
        command="python -m bench.run --only asset-size",
    )
    python = layer.runtime_python()
    with tempfile.TemporaryDirectory(prefix="bench-asset-") as tmp:
        built = [("as built", code_asset.ensure(FUNCTIONS, Path(tmp) / "built"))]
        if python:
            built.append(("sources only", code_asset.ensure(FUNCTIONS, Path(tmp) / "src", "")))
        raw = 0
        for how, path in built:
            size, unzipped, files, compiled = _measure(path)
            budget = TARGET_COMPILED_BYTES if compiled else TARGET_BYTES
            raw = max(raw, unzipped)
            what = f"{compiled} of them python3.13 bytecode" if compiled else "sources only"
            section.figures.append(
                Figure(
                    name=(
                        f"code asset {how}: {rel(FUNCTIONS)}/ ({files} files, {what}; "
                        f"{unzipped / 1024:.0f} KiB unzipped)"
                    ),
                    unit="KiB",
                    values=[round(size / 1024, 1)],
                    target=f"<= {budget // 1024} KiB",
                    verdict=verdict(size <= budget),
                    why="" if size <= budget else "the asset is larger than the budget",
                    extra={
                        "bytes": size,
                        "raw_bytes": unzipped,
                        "files": files,
                        "compiled": compiled,
                        "excluded_dirs": sorted(code_asset.EXCLUDED_DIRS),
                    },
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
        "Deterministic (one run). Dependencies are not in the asset: Powertools "
        "comes from the pinned Powertools layer, boto3 and botocore from the SDK layer "
        "(uv.lock's versions, compiled like the asset when a CPython 3.13 builds it). "
        "Bytecode compresses worse than source: the asset as built is about 3x its "
        "sources-only zip, and saves their compile at every cold start (section 1). "
        "Lambda's 250 MiB limit counts the Powertools layer too, which is not measured here."
    )
    return section
