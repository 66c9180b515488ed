"""Smoke run of the bench at tiny size (``--quick``): it runs and writes well-formed output.

No timed assertion: benchmarks are not tests. The sections that start the CDK CLI or the
sandbox (synth, demo) are left to ``make bench``; every other section runs here.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench import run as bench_run

SECTIONS = ["cold-start", "asset-size", "aws-calls", "sweep", "storm", "throughput"]


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("bench")
    code = bench_run.main(["--quick", "--only", ",".join(SECTIONS), "--out", str(out)])
    assert code == 0
    return out


def test_the_quick_bench_writes_results_json_with_every_section(results: Path) -> None:
    doc = json.loads((results / "results.json").read_text())
    assert doc["meta"]["quick"] is True
    assert {"date", "machine", "python", "command", "seconds"} <= set(doc["meta"])
    assert [s["key"] for s in doc["sections"]] == SECTIONS
    for section in doc["sections"]:
        assert section["command"].startswith("python -m bench.run")
        if section["skipped"]:
            assert not section["skipped"].startswith("failed"), section["skipped"]
            continue
        assert section["figures"], section["key"]
        for fig in section["figures"]:
            assert fig["runs"] == len(fig["values"]) >= 1
            assert set(fig["stats"]) == {"median", "min", "max", "q1", "q3"}
            assert fig["stats"]["min"] <= fig["stats"]["median"] <= fig["stats"]["max"]
            assert fig["verdict"] in (None, "met", "missed")
            if fig["verdict"] is not None:
                assert fig["target"]
            if fig["verdict"] == "missed":
                assert fig["why"], fig["name"]


def test_the_quick_bench_writes_results_md_with_a_summary_and_every_section(
    results: Path,
) -> None:
    doc = json.loads((results / "results.json").read_text())
    md = (results / "results.md").read_text()
    assert md.startswith("# Benchmarks")
    assert "## Summary" in md
    assert "nproc" in md
    for section in doc["sections"]:
        assert f"## {section['title']}" in md
        assert section["command"] in md


def test_call_counts_are_counted_at_the_botocore_level(results: Path) -> None:
    doc = json.loads((results / "results.json").read_text())
    calls = next(s for s in doc["sections"] if s["key"] == "aws-calls")
    one = calls["figures"][0]
    assert one["extra"]["outcome"] == "deployed"
    assert one["extra"]["calls"]  # per API, from before-call hooks


def test_an_unknown_section_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as exc:
        bench_run.main(["--only", "nope", "--out", str(tmp_path)])
    assert exc.value.code == 2
