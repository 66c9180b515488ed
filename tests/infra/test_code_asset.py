"""The code asset's build (``infra/code_asset.py``) on its own, without a synth: the
sources of ``functions/`` and, compiled by the runtime's CPython 3.13, their bytecode;
deterministic. That the functions get this zip is checked on the synthesized template
(``test_stack.py``)."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from infra import code_asset, layer

FUNCTIONS = code_asset.FUNCTIONS


def _names(path: Path) -> list[str]:
    with zipfile.ZipFile(path) as zf:
        return zf.namelist()


def _tree(tmp_path: Path) -> Path:
    """A small functions/ folder with what must not ship beside what must."""
    root = tmp_path / "functions"
    (root / "pkg" / "__pycache__").mkdir(parents=True)
    (root / "pkg" / "__init__.py").write_text("")
    (root / "pkg" / "mod.py").write_text("def f():\n    raise ValueError('here')\n")
    (root / "pkg" / "data.json").write_text("{}")
    (root / "pkg" / "__pycache__" / "mod.cpython-311.pyc").write_bytes(b"stale")
    (root / "pkg" / "stray.pyc").write_bytes(b"stale")
    (root / ".mypy_cache").mkdir()
    (root / ".mypy_cache" / "x.json").write_text("{}")
    return root


def test_without_a_runtime_python_the_zip_holds_the_sources_only(tmp_path: Path) -> None:
    root = _tree(tmp_path)
    built = code_asset.ensure(root, tmp_path / "a", python="")
    assert _names(built) == ["pkg/__init__.py", "pkg/data.json", "pkg/mod.py"]
    again = code_asset.ensure(root, tmp_path / "b", python="")
    assert built.name == again.name
    assert built.read_bytes() == again.read_bytes()


def test_an_edit_builds_a_new_zip_and_old_ones_are_pruned(tmp_path: Path) -> None:
    root = _tree(tmp_path)
    first = code_asset.ensure(root, tmp_path / "build", python="")
    assert code_asset.ensure(root, tmp_path / "build", python="") == first  # reused
    built = [first]
    for n in range(code_asset.KEEP_BUILDS + 2):
        (root / "pkg" / "mod.py").write_text(f"X = {n}\n")
        built.append(code_asset.ensure(root, tmp_path / "build", python=""))
    assert len(set(built)) == len(built)
    left = sorted((tmp_path / "build").glob("code-*.zip"))
    assert len(left) == code_asset.KEEP_BUILDS
    assert built[-1] in left
    assert first not in left


@pytest.mark.skipif(sys.implementation.cache_tag == "cpython-313", reason="this is 3.13")
def test_bytecode_of_another_python_is_refused(tmp_path: Path) -> None:
    with pytest.raises(code_asset.CodeAssetError, match=r"not CPython 3\.13"):
        code_asset.ensure(_tree(tmp_path), tmp_path / "build", python=sys.executable)
    assert not list((tmp_path / "build").glob("*.zip"))


def test_compiled_by_python313_every_module_has_its_bytecode_named_for_var_task(
    tmp_path: Path,
) -> None:
    python = layer.runtime_python()
    if not python:
        pytest.skip("no CPython 3.13 here (infra.layer.runtime_python)")
    built = code_asset.ensure(FUNCTIONS, tmp_path / "a", python=python)
    again = code_asset.ensure(FUNCTIONS, tmp_path / "b", python=python)
    assert built.read_bytes() == again.read_bytes()
    names = _names(built)
    sources = [n for n in names if n.endswith(".py")]
    assert "autopilot/handlers/image_events.py" in sources
    expected_pyc = set()
    for source in sources:
        folder, _, file = source.rpartition("/")
        expected_pyc.add(f"{folder}/__pycache__/{file[:-3]}.cpython-313.pyc")
    assert {n for n in names if n.endswith(".pyc")} == expected_pyc
    shipped_sources = sorted(
        p.relative_to(FUNCTIONS).as_posix() for p in code_asset.sources(FUNCTIONS)
    )
    assert sorted(n for n in names if not n.endswith(".pyc")) == shipped_sources
    # the bytecode is 3.13's, unchecked-hash, and its tracebacks name /var/task
    with zipfile.ZipFile(built) as zf:
        pyc = zf.read("autopilot/__pycache__/contract.cpython-313.pyc")
    probe = (
        "import importlib.util, json, marshal, sys; data = sys.stdin.buffer.read(); "
        "code = marshal.loads(data[16:]); print(json.dumps([data[:4] == "
        "importlib.util.MAGIC_NUMBER, int.from_bytes(data[4:8], 'little'), code.co_filename]))"
    )
    proc = subprocess.run(
        [python, "-c", probe], input=pyc, capture_output=True, check=True, timeout=60
    )
    magic_ok, flags, filename = json.loads(proc.stdout)
    assert magic_ok
    assert flags == 0b01  # hash-based, not checked against the source
    assert filename == "/var/task/autopilot/contract.py"
