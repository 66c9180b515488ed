"""The SDK layer's build (``infra/layer.py``) on its own, without a synth: deterministic,
and compiled only by the functions' runtime (CPython 3.13). What the functions get from it
is checked on the synthesized template (``test_functions_runtime.py``)."""

from __future__ import annotations

import sys
import zipfile
from pathlib import Path

import pytest

from infra import layer


def test_the_default_layer_is_the_same_bytes_when_built_again(tmp_path: Path) -> None:
    first = layer.ensure(build_dir=tmp_path / "a", python="")
    second = layer.ensure(build_dir=tmp_path / "b", python="")
    assert first.name == second.name
    assert first.read_bytes() == second.read_bytes()
    with zipfile.ZipFile(first) as zf:
        assert not [n for n in zf.namelist() if n.endswith(".pyc") or "/bin/" in n]


@pytest.mark.skipif(sys.implementation.cache_tag == "cpython-313", reason="this is 3.13")
def test_bytecode_of_another_python_is_refused(tmp_path: Path) -> None:
    with pytest.raises(layer.LayerError, match=r"not CPython 3\.13"):
        layer.ensure(build_dir=tmp_path, python=sys.executable)
    assert not list(tmp_path.glob("*.zip"))


def _python313() -> str | None:
    return layer.runtime_python() or None


def test_compiled_by_python313_every_module_has_its_bytecode(tmp_path: Path) -> None:
    python = _python313()
    if python is None:
        pytest.skip("no CPython 3.13 here (infra.layer.runtime_python)")
    built = layer.ensure(build_dir=tmp_path / "a", python=python)
    again = layer.ensure(build_dir=tmp_path / "b", python=python)
    assert built.read_bytes() == again.read_bytes()
    with zipfile.ZipFile(built) as zf:
        names = set(zf.namelist())
    sources = [n for n in names if n.endswith(".py")]
    assert "python/botocore/client.py" in sources
    for source in sources:
        folder, _, file = source.rpartition("/")
        assert f"{folder}/__pycache__/{file[:-3]}.cpython-313.pyc" in names, source
