"""The SDK layer: boto3 and what it needs, at the versions uv.lock pins, as one zip file.

The functions run the boto3 the tests run, not the Lambda runtime's (whose version moves
under them). ``python -m infra.layer`` (``make layer``; ``FunctionCode`` calls
:func:`ensure` too, so a synth from a fresh clone builds it) does this, with no Docker:

1. read boto3's dependency closure from uv.lock (boto3, botocore, s3transfer, jmespath,
   python-dateutil, six, urllib3 today) with each package's version and wheel hashes;
2. ``uv pip install --target <tmp>/python --no-deps --require-hashes`` exactly those
   wheels (pure Python, ``py3-none-any``: the same files on arm64 and x86_64), for
   python3.13 (the functions' runtime, ``infra/constructs/function.py``);
3. drop what Lambda never runs (``bin/`` scripts, ``__pycache__``), check that nothing
   compiled slipped in, and zip the tree under ``python/`` (Lambda puts a layer's
   ``python/`` on ``sys.path`` as ``/opt/python``): entries sorted, every timestamp
   1980-01-01, one file mode, so the same lock gives the same bytes, hence the same
   asset hash, on every machine.

Bytecode must come from Lambda's python3.13: the tree is compiled by a CPython 3.13 found
on this machine (:func:`runtime_python`: ``LAYER_PYTHON``, ``python3.13`` on ``PATH``, pyenv's
or uv's installs; ``--python`` overrides) with ``compileall`` (unchecked-hash ``.pyc``:
independent of file times; ``/opt`` is read-only, so the sources never change under them).
Lambda cannot write bytecode into ``/opt``, so without one (``LAYER_PYTHON=none``, or none
installed) the layer ships no ``.pyc`` and botocore compiles at every cold start, about 0.5 s
of CPU (bench/cold_start.py measures it); the build says so on stderr.
The zip is ``build/layer/sdk-<digest>.zip``, the digest naming the pinned versions, the
recipe and the compiling interpreter, so a changed lock builds a new one and an unchanged
one is reused.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import tomllib
import zipfile
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
UV_LOCK = REPO / "uv.lock"
BUILD_DIR = REPO / "build" / "layer"
#: the packages the layer is built around; their dependency closure in uv.lock is shipped
ROOTS = ("boto3",)
#: the functions' runtime (the wheels are pure Python: the platform only picks tags)
PYTHON_VERSION = "3.13"
PYTHON_PLATFORM = "aarch64-manylinux2014"
#: bump when the recipe changes (a new digest, so a new zip)
RECIPE = "1"
_EPOCH = (1980, 1, 1, 0, 0, 0)
_DROP_DIRS = {"__pycache__", "bin"}  # __pycache__ is kept only when compiled here
_NATIVE = (".so", ".pyd", ".dylib")
#: what the compiling interpreter must be: the functions' runtime
_RUNTIME_TAG = "cpython-313"


class LayerError(Exception):
    """The layer cannot be built from this lock (``str()``: one line saying why)."""


@dataclass(frozen=True)
class Pin:
    """One locked package: its name, version and the sha256 of each of its wheels."""

    name: str
    version: str
    hashes: tuple[str, ...]

    @property
    def requirement(self) -> str:
        return f"{self.name}=={self.version} " + " ".join(f"--hash={h}" for h in self.hashes)


def locked(lock: Path = UV_LOCK, roots: tuple[str, ...] = ROOTS) -> list[Pin]:
    """The closure of ``roots`` over uv.lock's dependencies, sorted by name."""
    doc = tomllib.loads(lock.read_text())
    by_name: dict[str, list[dict[str, object]]] = {}
    for package in doc.get("package", []):
        by_name.setdefault(str(package["name"]), []).append(package)
    found: dict[str, Pin] = {}
    todo = list(roots)
    while todo:
        name = todo.pop()
        if name in found:
            continue
        entries = by_name.get(name)
        if not entries:
            raise LayerError(f"{lock.name}: no package {name!r} (needed by {', '.join(roots)})")
        if len(entries) > 1:
            versions = ", ".join(str(e["version"]) for e in entries)
            raise LayerError(f"{lock.name}: {name} is locked at several versions ({versions})")
        entry = entries[0]
        wheels = entry.get("wheels") or []
        assert isinstance(wheels, list)
        hashes = tuple(sorted(str(w["hash"]) for w in wheels if isinstance(w, dict)))
        if not hashes:
            raise LayerError(f"{lock.name}: {name} has no locked wheel")
        found[name] = Pin(name, str(entry["version"]), hashes)
        deps = entry.get("dependencies") or []
        assert isinstance(deps, list)
        todo += [str(d["name"]) for d in deps if isinstance(d, dict)]
    return sorted(found.values(), key=lambda p: p.name)


def digest(pins: list[Pin], compiler: str = "") -> str:
    head = f"recipe {RECIPE} python{PYTHON_VERSION} compiled-by {compiler or 'none'}"
    text = "\n".join([head, *(p.requirement for p in pins)])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def zip_path(pins: list[Pin], build_dir: Path = BUILD_DIR, compiler: str = "") -> Path:
    return build_dir / f"sdk-{digest(pins, compiler)}.zip"


def compiler_of(python: str) -> str:
    """``python``'s version (``3.13.0``) if it is CPython 3.13, the functions' runtime."""
    probe = "import sys; print(sys.implementation.cache_tag, '%d.%d.%d' % sys.version_info[:3])"
    try:
        proc = subprocess.run([python, "-c", probe], capture_output=True, text=True, check=False)
    except OSError as exc:
        raise LayerError(f"LAYER_PYTHON {python}: cannot run it ({exc.strerror})") from None
    tag, _, found = proc.stdout.strip().partition(" ")
    if proc.returncode != 0 or tag != _RUNTIME_TAG:
        raise LayerError(
            f"LAYER_PYTHON {python}: not CPython {PYTHON_VERSION} "
            f"({tag or 'no answer'}): bytecode must match the functions' runtime"
        )
    return found


def _compile(python: str, target: Path) -> None:
    cmd = [python, "-m", "compileall", "-q", "-j", "0", "--invalidation-mode", "unchecked-hash"]
    proc = subprocess.run(
        [*cmd, "-d", "/opt/python", str(target)], capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        raise LayerError(f"compileall failed: {(proc.stdout + proc.stderr).strip()[-500:]}")


def _uv() -> str:
    for candidate in (REPO / ".tools" / "bin" / "uv", shutil.which("uv")):
        if candidate and Path(candidate).exists():
            return str(candidate)
    raise LayerError("uv not found (make dev installs it into .tools/)")


def _install(pins: list[Pin], target: Path) -> None:
    requirements = target.parent / "requirements.txt"
    requirements.write_text("".join(p.requirement + "\n" for p in pins))
    cmd = [
        _uv(),
        "pip",
        "install",
        "--quiet",
        "--no-deps",
        "--no-compile",
        "--require-hashes",
        "--only-binary",
        ":all:",
        "--python-version",
        PYTHON_VERSION,
        "--python-platform",
        PYTHON_PLATFORM,
        "--target",
        str(target),
        "-r",
        str(requirements),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise LayerError(f"uv pip install failed: {proc.stderr.strip()[-500:]}")


def _files(root: Path) -> list[Path]:
    """What goes into the zip under ``python/``: sorted, without ``_DROP_DIRS`` (``.pyc``
    only in ``__pycache__``, and only ``_RUNTIME_TAG``'s, where compiled ones are kept)."""
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in _DROP_DIRS)
        if Path(dirpath).name == "__pycache__":
            out += [Path(dirpath) / n for n in filenames if f".{_RUNTIME_TAG}.pyc" in n]
            continue
        if (Path(dirpath) / "__pycache__").is_dir():
            dirnames.append("__pycache__")
        for name in sorted(filenames):
            path = Path(dirpath) / name
            if name.endswith((*_NATIVE, ".pyc")):
                raise LayerError(f"not pure Python: {path.relative_to(root)}")
            out.append(path)
    return sorted(out, key=lambda p: p.relative_to(root).as_posix())


def _zip(root: Path, dest: Path, *, compiled: bool = False) -> None:
    files = _files(root)
    if not compiled:
        files = [f for f in files if f.parent.name != "__pycache__"]
    with zipfile.ZipFile(dest, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for path in files:
            info = zipfile.ZipInfo("python/" + path.relative_to(root).as_posix(), _EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o100644 << 16
            zf.writestr(info, path.read_bytes(), compresslevel=9)


def runtime_python() -> str:
    """A CPython 3.13 on this machine to compile the layer with, or "" if there is none:
    ``LAYER_PYTHON`` if set (``none``: build uncompiled), else the first of ``python3.13``
    on ``PATH``, pyenv's and uv's installs that answers as CPython 3.13."""
    chosen = os.environ.get("LAYER_PYTHON", "")
    if chosen:
        return "" if chosen == "none" else chosen
    home = Path.home()
    pyenv = Path(os.environ.get("PYENV_ROOT", home / ".pyenv"))
    candidates = [shutil.which(f"python{PYTHON_VERSION}") or ""]
    candidates += sorted(str(p) for p in pyenv.glob(f"versions/{PYTHON_VERSION}*/bin/python3"))
    uv_pythons = home / ".local" / "share" / "uv" / "python"
    candidates += sorted(str(p) for p in uv_pythons.glob(f"cpython-{PYTHON_VERSION}*/bin/python3"))
    for candidate in filter(None, candidates):
        try:
            compiler_of(candidate)
        except LayerError:
            continue  # e.g. a pyenv shim for a version not selected
        return candidate
    return ""


def ensure(lock: Path = UV_LOCK, build_dir: Path = BUILD_DIR, python: str | None = None) -> Path:
    """The layer zip for ``lock``, built if it is not there yet; compiled by ``python``
    (default: :func:`runtime_python`) when there is one. Without one the layer ships no
    ``.pyc`` and says so on stderr when it is built."""
    python = python if python is not None else runtime_python()
    compiler = compiler_of(python) if python else ""
    pins = locked(lock)
    dest = zip_path(pins, build_dir, compiler)
    if dest.is_file():
        return dest
    build_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="sdk-layer-", dir=build_dir) as tmp:
        target = Path(tmp) / "python"
        _install(pins, target)
        if python:
            _compile(python, target)
        else:
            print(
                f"layer: no CPython {PYTHON_VERSION} here (LAYER_PYTHON, python{PYTHON_VERSION},"
                " pyenv, uv): the SDK layer ships without .pyc and botocore compiles at every"
                " cold start",
                file=sys.stderr,
            )
        partial = Path(tmp) / dest.name
        _zip(target, partial, compiled=bool(python))
        partial.replace(dest)  # atomic: a concurrent build sees the whole file or none
    return dest


def versions_in_zip(path: Path) -> dict[str, str]:
    """``{distribution name: version}`` of the ``*.dist-info`` folders in a layer zip."""
    found: dict[str, str] = {}
    with zipfile.ZipFile(path) as zf:
        for name in zf.namelist():
            parts = name.split("/")
            if len(parts) == 3 and parts[1].endswith(".dist-info") and parts[2] == "METADATA":
                meta = zf.read(name).decode()
                fields = dict(line.split(": ", 1) for line in meta.splitlines() if ": " in line)
                found[fields["Name"]] = fields["Version"]
    return found


def unzipped_bytes(path: Path) -> int:
    with zipfile.ZipFile(path) as zf:
        return sum(i.file_size for i in zf.infolist())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.layer", description=__doc__)
    parser.add_argument(
        "--python",
        default=None,
        help="a CPython 3.13 to compile with (default: the first found; see runtime_python)",
    )
    args = parser.parse_args(argv)
    try:
        path = ensure(python=args.python)
    except LayerError as exc:
        print(f"layer: {exc}", file=sys.stderr)
        return 1
    pins = ", ".join(f"{p.name} {p.version}" for p in locked())
    size, raw = path.stat().st_size, unzipped_bytes(path)
    where = path.relative_to(REPO)
    print(f"{where}: {size / 2**20:.1f} MiB zipped, {raw / 2**20:.1f} MiB unzipped ({pins})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
