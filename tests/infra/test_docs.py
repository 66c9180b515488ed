"""The config file's docs are generated from its model (infra/docs.py): README.md's table
and config/schema.json are current, cover every field, and the check sees drift."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml
from pydantic import BaseModel

from infra import docs
from infra.config import AutopilotConfig

REPO = Path(__file__).resolve().parents[2]


def _field_paths(model: type[BaseModel], prefix: str = "") -> list[str]:
    out: list[str] = []
    for name, info in model.model_fields.items():
        path = f"{prefix}{name}"
        out.append(path)
        nested, in_list = docs._nested(info.annotation)
        if nested is not None:
            out += _field_paths(nested, f"{path}[]." if in_list else f"{path}.")
    return out


def test_readme_table_and_schema_are_what_the_model_generates() -> None:
    assert docs.stale() == [], "run `make docs`"
    assert docs.main(["--check"]) == 0


def test_the_table_has_every_field_with_type_default_and_description() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    block = readme[readme.index(docs.BEGIN) : readme.index(docs.END)]
    for path in _field_paths(AutopilotConfig):
        assert f"| `{path}` |" in block, path
    for row in docs.rows():
        assert row.type, row
        assert row.default, row
        assert row.description, f"{row.path}: no description (Field, comment or DESCRIPTIONS)"
    # fields the old hand-written table missed
    for path in ("capacity_alarms.cluster", "services[].image", "services[].placement"):
        assert f"| `{path}` |" in block
    services_alarms = next(r for r in docs.rows() if r.path == "services[].min_healthy_percent")
    assert services_alarms.type == "int (0..100)"
    assert services_alarms.default == "`100`"


def test_every_extra_description_names_a_field() -> None:
    fields = {
        f"{owner.__name__}.{name}"
        for model in docs._models(AutopilotConfig)
        for owner in model.__mro__
        if isinstance(owner, type) and issubclass(owner, BaseModel)
        for name in getattr(owner, "__annotations__", {})
    }
    assert set(docs.DESCRIPTIONS) <= fields, set(docs.DESCRIPTIONS) - fields


def test_the_check_sees_a_hand_edit_and_a_stale_schema(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    readme, schema = tmp_path / "README.md", tmp_path / "config" / "schema.json"
    schema.parent.mkdir()
    text = (REPO / "README.md").read_text(encoding="utf-8")
    readme.write_text(text.replace("| `retain_data` |", "| `retain_everything` |"))
    schema.write_text("{}\n")
    monkeypatch.setattr(docs, "README", readme)
    monkeypatch.setattr(docs, "SCHEMA", schema)
    monkeypatch.setattr(docs, "REPO_ROOT", tmp_path)

    assert docs.stale() == ["README.md", "config/schema.json"]
    assert docs.main(["--check"]) == 1
    assert "README.md is stale: run `make docs`" in capsys.readouterr().err

    assert docs.main([]) == 0
    assert docs.stale() == []
    assert readme.read_text(encoding="utf-8") == text


@pytest.mark.parametrize("name", ["demo.yaml", "existing.yaml"])
def test_the_schema_accepts_the_shipped_configs(name: str) -> None:
    schema = json.loads((REPO / "config" / "schema.json").read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    data = yaml.safe_load((REPO / "config" / name).read_text(encoding="utf-8"))
    jsonschema.validate(data, schema, cls=jsonschema.Draft202012Validator)


def test_the_schema_refuses_what_the_model_refuses_and_takes_its_shorthands() -> None:
    schema = docs.config_schema()
    validator = jsonschema.Draft202012Validator(schema)
    base = {"environment": "prod", "manage": {"clusters": ["c"], "pass_roles": {"paths": ["/a/"]}}}
    assert validator.is_valid(base)
    assert not validator.is_valid({**base, "colour": "red"})  # unknown field
    assert not validator.is_valid({**base, "functions": {"lease_seconds": 5}})  # below 10
    for repositories in ("all", ["a/b"], {"prefixes": ["team-"]}):
        doc = {**base, "manage": {**base["manage"], "repositories": repositories}}
        assert validator.is_valid(doc), repositories
        AutopilotConfig.model_validate(doc)
    lease = schema["$defs"]["AutomationFunctions"]["properties"]["lease_seconds"]
    assert lease["description"].startswith("how long a service's lease holds")
