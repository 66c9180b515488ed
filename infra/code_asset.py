"""The functions' code asset: ``functions/`` as one zip file, with bytecode for the runtime.

Lambda unpacks a function's code into ``/var/task``, which is read-only, so Python cannot
cache bytecode there: every module the zip ships without its ``.pyc`` is compiled again at
every cold start, and a handler imports some 60 of the asset's modules (bench/cold_start.py
measures what that costs). So :func:`ensure` (``FunctionCode`` calls it at synth, as it
calls ``infra/layer.py``; ``python -m infra.code_asset`` builds it alone) does this, with no
Docker:

1. copy the sources of ``functions/`` (no ``__pycache__``, no stray ``.pyc``, no tool
   caches) into a scratch tree;
2. compile the tree with the CPython 3.13 the SDK layer is compiled with
   (:func:`infra.layer.runtime_python`: ``LAYER_PYTHON``, ``python3.13`` on ``PATH``,
   pyenv's or uv's installs), unchecked-hash ``.pyc`` (the sources never change under them
   in ``/var/task``) whose tracebacks name ``/var/task/...``, where Lambda puts the code;
3. zip sources and bytecode: entries sorted, every timestamp 1980-01-01, one file mode, so
   the same sources give the same bytes, hence the same asset hash, on every machine.

Without a CPython 3.13 (``LAYER_PYTHON=none``, or none installed) the zip holds the sources
only, the functions compile them at every cold start, and the build says so on stderr.
The zip is ``build/code/code-<digest>.zip``, the digest naming the recipe, the compiling
interpreter and every source file's path and bytes: an edit builds a new one, and beyond
the ``KEEP_BUILDS`` most recently used the others are removed.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

from infra import layer

REPO = Path(__file__).resolve().parents[1]
FUNCTIONS = REPO / "functions"
BUILD_DIR = REPO / "build" / "code"
#: where Lambda unpacks the code: the file names the bytecode's tracebacks show
TASK_ROOT = "/var/task"
#: bump when the recipe changes (a new digest, so a new zip)
RECIPE = "1"
#: folders of ``functions/`` that never ship (bytecode is made here, for the runtime)
EXCLUDED_DIRS = frozenset({"__pycache__", ".mypy_cache", ".pytest_cache", ".ruff_cache"})
#: how many built zips ``build/code`` keeps (a test run synthesizes while sources change)
KEEP_BUILDS = 8
_EPOCH = (1980, 1, 1, 0, 0, 0)


class CodeAssetError(Exception):
    """The code asset cannot be built (compileall failed, an unusable interpreter)."""


def sources(root: Path = FUNCTIONS) -> list[Path]:
    """The files of ``root`` that ship, sorted by their path in the zip."""
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in EXCLUDED_DIRS)
        found += [Path(dirpath) / n for n in filenames if not n.endswith(".pyc")]
    return sorted(found, key=lambda p: p.relative_to(root).as_posix())


def digest(root: Path, files: list[Path], compiler: str) -> str:
    h = hashlib.sha256(f"recipe {RECIPE} compiled-by {compiler or 'none'}\n".encode())
    for path in files:
        h.update(path.relative_to(root).as_posix().encode() + b"\0")
        h.update(hashlib.sha256(path.read_bytes()).digest())
    return h.hexdigest()[:16]


def stage(root: Path, target: Path, python: str) -> list[Path]:
    """Copy ``root``'s sources into ``target`` and compile them there with ``python``
    (any CPython: the bench stages with its own); the files to ship, sorted."""
    for path in sources(root):
        dest = target / path.relative_to(root)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, dest)
    if python:
        cmd = [python, "-m", "compileall", "-q", "-j", "0"]
        cmd += ["--invalidation-mode", "unchecked-hash", "-d", TASK_ROOT, str(target)]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise CodeAssetError(f"compileall failed: {(proc.stdout + proc.stderr).strip()[-500:]}")
    shipped = [p for p in target.rglob("*") if p.is_file()]
    return sorted(shipped, key=lambda p: p.relative_to(target).as_posix())


def _zip(root: Path, files: list[Path], dest: Path) -> None:
    with zipfile.ZipFile(dest, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for path in files:
            info = zipfile.ZipInfo(path.relative_to(root).as_posix(), _EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o100644 << 16
            zf.writestr(info, path.read_bytes(), compresslevel=9)


def _prune(build_dir: Path, keep: Path) -> None:
    """Mark ``keep`` as the newest used (to the nanosecond: builds can come within one tick
    of the file system's clock) and remove all but the ``KEEP_BUILDS`` newest."""
    now = time.time_ns()
    os.utime(keep, ns=(now, now))
    built = []
    for path in build_dir.glob("code-*.zip"):
        with contextlib.suppress(FileNotFoundError):  # a concurrent build pruned it
            built.append((path.stat().st_mtime_ns, path))
    built.sort(reverse=True)
    for _, old in built[KEEP_BUILDS:]:
        old.unlink(missing_ok=True)


def ensure(root: Path = FUNCTIONS, build_dir: Path = BUILD_DIR, python: str | None = None) -> Path:
    """The code asset zip of ``root``, built if it is not there yet; compiled by ``python``
    (default: :func:`infra.layer.runtime_python`), which must be the runtime's CPython
    3.13; ``""`` builds it with sources only."""
    looked = python is None
    python = layer.runtime_python() if python is None else python
    try:
        compiler = layer.compiler_of(python) if python else ""
    except layer.LayerError as exc:
        raise CodeAssetError(str(exc)) from None
    files = sources(root)
    dest = build_dir / f"code-{digest(root, files, compiler)}.zip"
    if dest.is_file():
        _prune(build_dir, dest)
        return dest
    build_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="code-", dir=build_dir) as tmp:
        tree = Path(tmp) / "tree"
        shipped = stage(root, tree, python)
        if looked and not python:
            print(
                f"code asset: no CPython {layer.PYTHON_VERSION} here (LAYER_PYTHON, python"
                f"{layer.PYTHON_VERSION}, pyenv, uv): the functions' code ships without .pyc"
                " and compiles at every cold start",
                file=sys.stderr,
            )
        partial = Path(tmp) / dest.name
        _zip(tree, shipped, partial)
        partial.replace(dest)  # atomic: a concurrent build sees the whole file or none
    _prune(build_dir, dest)
    return dest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.code_asset", description=__doc__)
    parser.add_argument(
        "--python",
        default=None,
        help="a CPython 3.13 to compile with (default: the first found; see infra/layer.py)",
    )
    args = parser.parse_args(argv)
    try:
        path = ensure(python=args.python)
    except CodeAssetError as exc:
        print(f"code asset: {exc}", file=sys.stderr)
        return 1
    with zipfile.ZipFile(path) as zf:
        infos = zf.infolist()
    compiled = sum(1 for i in infos if i.filename.endswith(".pyc"))
    print(
        f"{path.relative_to(REPO)}: {path.stat().st_size / 1024:.1f} KiB zipped, "
        f"{len(infos)} files ({compiled} compiled)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
