"""autopilot.schema, the functions' own validator: the types, the lenient readings JSON and
the environment need, the constraints, whole-model checks, and the error list."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import pytest
from autopilot.schema import After, Constraints, Field, Model, ValidationError, check

pytestmark = pytest.mark.disable_socket

Word = Annotated[str, Constraints(pattern=r"^[A-Z][A-Z0-9_]{0,7}$")]


def _upper(value: str) -> str:
    if value != value.upper():
        raise ValueError("not upper case")
    return value


class Part(Model):
    name: Annotated[str, Constraints(min_length=1, max_length=5)]
    weight: float = Field(default=1.0, gt=0, le=10)


class Whole(Model):
    id: str
    kind: Literal["A", "B"] = Field(alias="kindOf")
    count: int = Field(default=0, ge=0, le=100)
    on: bool = False
    at: datetime | None = None
    word: Word | None = None
    shout: Annotated[str, After(_upper)] = "OK"
    parts: tuple[Part, ...] = Field(default=(), max_length=2)
    tags: list[Word] = Field(default_factory=list)
    counts: dict[Word, Annotated[int, Constraints(ge=0)]] = Field(default_factory=dict)
    extra: Any = None

    @check
    def _parts_named_apart(self) -> None:
        names = [p.name for p in self.parts]
        if len(names) != len(set(names)):
            raise ValueError("two parts share a name")


def _errors(data: Any) -> list[dict[str, Any]]:
    with pytest.raises(ValidationError) as raised:
        Whole.model_validate(data)
    assert raised.value.error_count() == len(raised.value.errors())
    return raised.value.errors()


def test_a_whole_value_reads_every_type() -> None:
    w = Whole.model_validate(
        {
            "id": "x",
            "kindOf": "B",
            "count": 7,
            "on": True,
            "at": "2026-12-02T09:30:00Z",
            "word": "HIGH",
            "parts": [{"name": "a", "weight": 2}, {"name": "b"}],
            "tags": ["T1"],
            "counts": {"CRITICAL": 0, "HIGH": 3},
            "extra": {"anything": [1]},
            "unknown": "ignored",
        }
    )
    assert (w.id, w.kind, w.count, w.on) == ("x", "B", 7, True)
    assert w.at == datetime(2026, 12, 2, 9, 30, tzinfo=UTC)
    assert w.parts == (Part(name="a", weight=2.0), Part(name="b"))
    assert isinstance(w.parts, tuple)
    assert w.tags == ["T1"]
    assert w.counts == {"CRITICAL": 0, "HIGH": 3}
    assert w.extra == {"anything": [1]}
    assert not hasattr(w, "unknown")


def test_defaults_fill_what_is_absent_and_factories_give_fresh_values() -> None:
    a = Whole.model_validate({"id": "x", "kindOf": "A"})
    b = Whole.model_validate({"id": "y", "kind": "A"})  # by name as well as by alias
    assert (a.count, a.on, a.at, a.word, a.shout, a.parts) == (0, False, None, None, "OK", ())
    assert a.tags == []
    assert a.tags is not b.tags


def test_the_environment_s_text_reads_as_numbers_and_booleans() -> None:
    w = Whole.model_validate({"id": "x", "kindOf": "A", "count": "42", "on": "true"})
    assert (w.count, w.on) == (42, True)
    assert Part.model_validate({"name": "p", "weight": "0.5"}).weight == 0.5


@pytest.mark.parametrize(
    ("field", "value", "kind"),
    [
        ("id", 5, "string_type"),
        ("kindOf", "C", "literal_error"),
        ("count", -1, "greater_than_equal"),
        ("count", 101, "less_than_equal"),
        ("count", "1.5", "int_parsing"),
        ("count", True, "int_type"),
        ("count", "٣", "int_parsing"),  # a non-ASCII digit
        ("on", "maybe", "bool_parsing"),
        ("at", "yesterday", "datetime_parsing"),
        ("word", "high", "string_pattern_mismatch"),
        ("word", "HIGH\n", "string_pattern_mismatch"),  # `$` takes no trailing newline
        ("word", "TOOLONGWORD", "string_pattern_mismatch"),
        ("shout", "quiet", "value_error"),
        ("parts", "ab", "list_type"),
        ("parts", [{"name": "a"}, {"name": "b"}, {"name": "c"}], "too_long"),
        ("counts", [], "dict_type"),
    ],
)
def test_junk_is_one_typed_error_at_its_place(field: str, value: Any, kind: str) -> None:
    errors = _errors({"id": "x", "kindOf": "A", field: value})
    assert [(e["loc"], e["type"]) for e in errors] == [([field], kind)]
    assert all(set(e) == {"loc", "type", "msg"} for e in errors)  # never the input


def test_every_error_is_listed_with_its_path() -> None:
    errors = _errors(
        {
            "parts": [{"name": ""}, {"name": "ok", "weight": 0}],
            "counts": {"low": -1},
            "tags": ["A", 3],
        }
    )
    where = {(".".join(e["loc"]), e["type"]) for e in errors}
    assert where == {
        ("id", "missing"),
        ("kindOf", "missing"),
        ("parts.0.name", "string_too_short"),
        ("parts.1.weight", "greater_than"),
        ("counts.low", "string_pattern_mismatch"),  # the key
        ("counts.low", "greater_than_equal"),  # and its value
        ("tags.1", "string_type"),
    }


def test_a_check_runs_once_the_fields_are_valid() -> None:
    errors = _errors({"id": "x", "kindOf": "A", "parts": [{"name": "a"}, {"name": "a"}]})
    message = "Value error, two parts share a name"
    assert errors == [{"loc": [], "type": "value_error", "msg": message}]


def test_not_an_object_is_an_error_not_a_crash() -> None:
    for junk in (None, [], "event", 3):
        with pytest.raises(ValidationError) as raised:
            Whole.model_validate(junk)
        assert raised.value.errors()[0]["type"] == "model_type"


def test_unix_times_and_iso_offsets_read_as_datetimes() -> None:
    at = datetime(2026, 12, 2, 9, 30, tzinfo=UTC)
    for value in (at.timestamp(), int(at.timestamp() * 1000), "2026-12-02T09:30:00+00:00"):
        assert Whole.model_validate({"id": "x", "kindOf": "A", "at": value}).at == at


def test_a_model_is_frozen_comparable_and_hashable() -> None:
    p = Part.model_validate({"name": "a"})
    with pytest.raises(TypeError):
        p.name = "b"  # type: ignore[misc]
    assert p == Part(name="a")
    assert p != Part(name="b")
    assert len({p, Part(name="a")}) == 1
    assert "name='a'" in repr(p)


def test_the_constructor_validates_like_model_validate() -> None:
    with pytest.raises(ValidationError):
        Part(name="toolong")


def test_model_dump_by_field_name_or_alias() -> None:
    w = Whole.model_validate({"id": "x", "kindOf": "A", "parts": [{"name": "a"}]})
    assert w.model_dump(by_alias=True)["kindOf"] == "A"
    assert w.model_dump()["parts"] == ({"name": "a", "weight": 1.0},)


def test_a_subclass_narrows_a_field_and_keeps_the_rest() -> None:
    class Narrow(Whole):
        kind: Literal["A"] = Field(alias="kindOf")

    assert Narrow.model_validate({"id": "x", "kindOf": "A"}).kind == "A"
    with pytest.raises(ValidationError):
        Narrow.model_validate({"id": "x", "kindOf": "B"})
    assert list(Narrow.model_fields) == [*(f for f in Whole.model_fields if f != "kind"), "kind"]


def test_validators_are_built_on_first_use_only() -> None:
    class Late(Model):
        n: int

    assert vars(Late).get("_validators") is None
    Late.model_validate({"n": 1})
    assert vars(Late).get("_validators") is not None


def test_an_unsupported_annotation_is_a_type_error_at_first_use() -> None:
    class Odd(Model):
        n: complex

    with pytest.raises(TypeError, match=re.escape("no validator for annotation")):
        Odd.model_validate({"n": 1})
