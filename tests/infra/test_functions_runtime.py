"""What the functions run on: the SDK layer at uv.lock's versions, tracing as the config
says (``observability.tracing``), and SnapStart behind an alias (``functions.snapstart``).

The demo config (tracing active, no SnapStart) is the session's shared synth; one more
synth of config/existing.yaml with tracing off and SnapStart on covers the other side.
"""

from __future__ import annotations

import json
import tomllib
import zipfile
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest
from autopilot.contract import FUNCTIONS
from autopilot.observability import TRACE_DISABLED_ENV

from infra import layer
from infra.config import ConfigError, load_config
from tests.infra.conftest import REPO, StackView, Synthesized, synthesize

#: boto3's dependency closure, as boto3's and botocore's wheels declare it
SDK = {"boto3", "botocore", "s3transfer", "jmespath", "python-dateutil", "six", "urllib3"}


def _resources(view: StackView, rtype: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in view.template_json["Resources"].items() if v["Type"] == rtype}


def _functions(view: StackView) -> dict[str, dict[str, Any]]:
    return {lid: r["Properties"] for lid, r in _resources(view, "AWS::Lambda::Function").items()}


def _policy_actions(view: StackView) -> set[str]:
    found: set[str] = set()
    for policy in _resources(view, "AWS::IAM::Policy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            actions = statement["Action"]
            found |= {actions} if isinstance(actions, str) else set(actions)
    return found


def _alias_name(alias_id: str) -> dict[str, Any]:
    """How CDK spells an alias's name as a qualifier: the last part of its ARN."""
    return {"Fn::Select": [7, {"Fn::Split": [":", {"Ref": alias_id}]}]}


def _locked_versions() -> dict[str, str]:
    doc = tomllib.loads((REPO / "uv.lock").read_text())
    return {p["name"]: p["version"] for p in doc["package"] if p["name"] in SDK}


def _layer_zip(view: StackView, layer_id: str) -> Path:
    """The staged asset file of a layer, from the stack's assets manifest."""
    key = view.template_json["Resources"][layer_id]["Properties"]["Content"]["S3Key"]
    assets = json.loads((view.outdir / f"{view.stack.stack_name}.assets.json").read_text())
    (source,) = [a["source"] for h, a in assets["files"].items() if key.startswith(h)]
    assert source["packaging"] == "file"  # one zip file, not a folder to hash and zip
    return view.outdir / source["path"]


# -- the SDK layer ---------------------------------------------------------------------------
def test_every_function_lists_the_sdk_layer_last(control: StackView) -> None:
    (layer_id,) = _resources(control, "AWS::Lambda::LayerVersion")
    layer = control.template_json["Resources"][layer_id]["Properties"]
    functions = _functions(control)
    assert len(functions) == len(FUNCTIONS)
    for props in functions.values():
        # the Powertools layer first, the SDK layer last: its files win in /opt/python
        assert len(props["Layers"]) == 2
        assert props["Layers"][-1] == {"Ref": layer_id}
        assert props["Runtime"] in layer["CompatibleRuntimes"]
        assert props["Architectures"] == layer["CompatibleArchitectures"]


def test_the_sdk_layer_holds_exactly_uv_locks_versions(control: StackView) -> None:
    (layer_id,) = _resources(control, "AWS::Lambda::LayerVersion")
    path = _layer_zip(control, layer_id)
    found: dict[str, str] = {}
    with zipfile.ZipFile(path) as zf:
        names = zf.namelist()
        for name in names:
            parts = name.split("/")
            if len(parts) == 3 and parts[1].endswith(".dist-info") and parts[2] == "METADATA":
                meta = dict(
                    line.split(": ", 1)
                    for line in zf.read(name).decode().splitlines()
                    if ": " in line
                )
                found[meta["Name"]] = meta["Version"]
        infos = zf.infolist()
    locked = _locked_versions()
    assert set(locked) == SDK
    assert found == locked
    # ... which are the ones the tests run with
    assert {name: version(name) for name in SDK} == locked
    # Lambda's layout (python/ on sys.path as /opt/python), pure Python, bytecode only the
    # runtime's (python3.13) and only where this machine has a CPython 3.13 to compile it,
    # deterministic (sorted, one timestamp)
    assert all(n.startswith("python/") for n in names)
    assert "python/boto3/__init__.py" in names
    assert "python/botocore/data/ecs/2014-11-13/service-2.json.gz" in names
    assert not [n for n in names if n.endswith(".so")]
    bytecode = [n for n in names if n.endswith(".pyc") or "__pycache__" in n]
    assert all("/__pycache__/" in n and n.endswith(".cpython-313.pyc") for n in bytecode)
    assert bool(bytecode) == bool(layer.runtime_python())
    assert names == sorted(names)
    assert {i.date_time for i in infos} == {(1980, 1, 1, 0, 0, 0)}


# -- tracing and SnapStart -------------------------------------------------------------------
def test_tracing_active_by_default(control: StackView) -> None:
    for props in _functions(control).values():
        assert props["TracingConfig"] == {"Mode": "Active"}
        assert props["Environment"]["Variables"][TRACE_DISABLED_ENV] == "false"
        assert "SnapStart" not in props
    assert {"xray:PutTraceSegments", "xray:PutTelemetryRecords"} <= _policy_actions(control)
    assert not _resources(control, "AWS::Lambda::Alias")


@pytest.fixture(scope="module")
def traceless_snapstart(tmp_path_factory: pytest.TempPathFactory) -> StackView:
    """config/existing.yaml (a control plane alone) with tracing off and SnapStart on."""
    config = load_config(REPO / "config" / "existing.yaml")
    config = config.model_copy(
        update={
            "observability": config.observability.model_copy(update={"tracing": "off"}),
            "functions": config.functions.model_copy(update={"snapstart": True}),
        }
    )
    synth: Synthesized = synthesize(config, tmp_path_factory.mktemp("cdk.out"))
    (view,) = synth.views
    return view


def test_tracing_off_leaves_no_tracing_config_and_no_xray_grant(
    traceless_snapstart: StackView,
) -> None:
    functions = _functions(traceless_snapstart)
    assert len(functions) == len(FUNCTIONS)
    for props in functions.values():
        # no TracingConfig: Lambda's default, PassThrough (no segments of its own)
        assert props.get("TracingConfig", {"Mode": "PassThrough"}) == {"Mode": "PassThrough"}
        assert props["Environment"]["Variables"][TRACE_DISABLED_ENV] == "true"
    assert not {a for a in _policy_actions(traceless_snapstart) if a.startswith("xray:")}


def test_snapstart_publishes_versions_and_the_rules_invoke_the_alias(
    traceless_snapstart: StackView,
) -> None:
    view = traceless_snapstart
    resources = view.template_json["Resources"]
    functions = _functions(view)
    aliases = _resources(view, "AWS::Lambda::Alias")
    versions = _resources(view, "AWS::Lambda::Version")
    assert len(aliases) == len(versions) == len(functions) == len(FUNCTIONS)
    alias_of: dict[str, str] = {}
    for alias_id, alias in aliases.items():
        props = alias["Properties"]
        assert props["Name"] == "live"
        version_id = props["FunctionVersion"]["Fn::GetAtt"][0]
        assert resources[version_id]["Type"] == "AWS::Lambda::Version"
        function_id = resources[version_id]["Properties"]["FunctionName"]["Ref"]
        alias_of[function_id] = alias_id
    assert set(alias_of) == set(functions)
    for function_id, props in functions.items():
        assert props["SnapStart"] == {"ApplyOn": "PublishedVersions"}
        # the async retry policy holds for the alias too (it is per qualifier)
        configs = [
            c["Properties"]
            for c in _resources(view, "AWS::Lambda::EventInvokeConfig").values()
            if c["Properties"]["FunctionName"] == {"Ref": function_id}
        ]
        qualifiers = [json.dumps(c["Qualifier"]) for c in configs]
        assert sorted(qualifiers) == sorted(
            ['"$LATEST"', json.dumps(_alias_name(alias_of[function_id]))]
        )
        assert {c["MaximumRetryAttempts"] for c in configs} == {2}
        assert "TargetArn" in json.dumps(props["DeadLetterConfig"])  # every version keeps it
    # every rule target is an alias, EventBridge may invoke exactly it, and its DLQ stays
    targets = [
        t
        for r in _resources(view, "AWS::Events::Rule").values()
        for t in r["Properties"]["Targets"]
    ]
    assert len(targets) >= 4
    for target in targets:
        assert target["Arn"] == {"Ref": target["Arn"]["Ref"]}
        assert target["Arn"]["Ref"] in aliases
        assert "DeadLetterConfig" in target
    permitted = {
        p["Properties"]["FunctionName"]["Ref"]
        for p in _resources(view, "AWS::Lambda::Permission").values()
        if p["Properties"]["Principal"] == "events.amazonaws.com"
    }
    # every alias but admission's, which no rule invokes (ECS does, as a lifecycle hook)
    hooked = {alias_of[f] for f, p in functions.items() if p["FunctionName"].endswith("-admission")}
    assert len(hooked) == 1
    assert permitted == set(aliases) - hooked


# -- the config fields -----------------------------------------------------------------------
def test_tracing_and_snapstart_in_the_config_file(tmp_path: Path) -> None:
    existing = (REPO / "config" / "existing.yaml").read_text()
    assert "tracing" not in existing
    assert "snapstart" not in existing
    assert load_config(_write(tmp_path, existing)).observability.tracing == "active"
    assert load_config(_write(tmp_path, existing)).functions.snapstart is False
    chosen = existing.replace("observability:\n", "observability:\n  tracing: off\n").replace(
        "functions:\n", "functions:\n  snapstart: true\n"
    )
    config = load_config(_write(tmp_path, chosen))
    assert config.observability.tracing == "off"  # YAML's bare off, not False
    assert config.functions.snapstart is True
    wrong = existing.replace("observability:\n", "observability:\n  tracing: sometimes\n")
    with pytest.raises(ConfigError, match=r"observability\.tracing"):
        load_config(_write(tmp_path, wrong))


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "c.yaml"
    path.write_text(text)
    return path
