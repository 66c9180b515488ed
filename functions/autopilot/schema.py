"""Frozen, typed models of the JSON the functions read (events, hook payloads, settings),
validated field by field with structured errors: the functions' own small validator.

Why not pydantic, which the CDK app's config (``infra/config.py``) uses: in a Lambda
function, importing pydantic and building its first validator cost about as much as
everything else the function adds to boto3 at cold start (bench/results.md, section 1),
and the functions need only a small part of it. This module imports nothing but the
standard library, and a model's field validators are built from its annotations on its
first use, so a function pays only for the models it receives.

What a model declares, pydantic's way (the annotations are evaluated on first use, so the
names they use are imported at run time):
- ``name: T`` or ``name: T = default`` or ``name: T = Field(...)`` (``alias``,
  ``default``/``default_factory``, and constraints as below);
- T one of ``str``, ``int``, ``float``, ``bool``, ``datetime``, ``Any``, ``Literal[...]``,
  ``X | None`` (or any union, first match wins), ``tuple[X, ...]``, ``list[X]``,
  ``dict[K, V]``, another ``Model``; ``Annotated[T, Constraints(...), After(fn)]`` adds
  constraints and a check to T;
- constraints: ``min_length``/``max_length`` (characters of a string, items of a
  container), ``pattern`` (the whole string, ASCII classes: a trailing newline or a
  non-ASCII digit never matches), ``ge``/``gt``/``le`` (numbers);
- ``@check`` methods: whole-model rules, run in order after the fields validate; each
  raises ``ValueError`` to reject.

Input is JSON's (and the environment's) types, read leniently where JSON and environment
variables need it: an ``int``/``float`` field takes a decimal string, a ``bool`` field
``"true"``/``"false"``, a ``datetime`` field an ISO-8601 string or a Unix time; a string
field takes only a string. Unknown keys are ignored; a field is found by its alias or its
name. Errors are collected for every field and raised together as ``ValidationError``,
whose ``errors()`` are ``{"loc", "type", "msg"}`` dicts (never the input).
"""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any, ClassVar, Literal, Self, TypeVar, get_args, get_origin

_MISSING: Any = object()
_NUMERAL = re.compile(r"[+-]?[0-9]+", re.ASCII)
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?", re.ASCII)
_TRUE = frozenset({"true", "1", "yes", "on", "t", "y"})
_FALSE = frozenset({"false", "0", "no", "off", "f", "n"})
#: a Unix time above this is in milliseconds (as pydantic reads one)
_MILLISECONDS = 2e10

Validator = Callable[[Any], Any]
F = TypeVar("F", bound=Callable[..., None])


class Constraints:
    """Constraints on a value (``Annotated[str, Constraints(pattern=...)]``)."""

    __slots__ = ("ge", "gt", "le", "max_length", "min_length", "pattern")

    def __init__(
        self,
        *,
        min_length: int | None = None,
        max_length: int | None = None,
        pattern: str | None = None,
        ge: float | None = None,
        gt: float | None = None,
        le: float | None = None,
    ) -> None:
        self.min_length = min_length
        self.max_length = max_length
        self.pattern = pattern
        self.ge = ge
        self.gt = gt
        self.le = le

    def merged(self, other: Constraints | None) -> Constraints:
        """These constraints, with ``other``'s where it sets one."""
        if other is None:
            return self
        given = {k: getattr(other, k) for k in self.__slots__ if getattr(other, k) is not None}
        return Constraints(**{**{k: getattr(self, k) for k in self.__slots__}, **given})

    @property
    def empty(self) -> bool:
        return all(getattr(self, k) is None for k in self.__slots__)


class After:
    """A check run on the validated value (``Annotated[str, After(fn)]``): ``fn`` returns
    the value to keep, or raises ``ValueError``."""

    __slots__ = ("fn",)

    def __init__(self, fn: Callable[[Any], Any]) -> None:
        self.fn = fn


class FieldInfo:
    """One field of a model: its alias, default and constraints."""

    __slots__ = ("alias", "constraints", "default", "default_factory")

    def __init__(
        self,
        default: Any = _MISSING,
        *,
        alias: str | None = None,
        default_factory: Callable[[], Any] | None = None,
        constraints: Constraints | None = None,
    ) -> None:
        self.default = default
        self.alias = alias
        self.default_factory = default_factory
        self.constraints = constraints

    @property
    def required(self) -> bool:
        return self.default is _MISSING and self.default_factory is None

    def make_default(self) -> Any:
        return self.default_factory() if self.default_factory is not None else self.default


def Field(
    default: Any = _MISSING,
    *,
    alias: str | None = None,
    default_factory: Callable[[], Any] | None = None,
    min_length: int | None = None,
    max_length: int | None = None,
    pattern: str | None = None,
    ge: float | None = None,
    gt: float | None = None,
    le: float | None = None,
) -> Any:
    """A field's declaration (typed ``Any``, so ``x: int = Field(...)`` type-checks)."""
    constraints = Constraints(
        min_length=min_length, max_length=max_length, pattern=pattern, ge=ge, gt=gt, le=le
    )
    return FieldInfo(
        default,
        alias=alias,
        default_factory=default_factory,
        constraints=None if constraints.empty else constraints,
    )


def check(method: F) -> F:
    """Mark a model method as a whole-model rule (run after the fields validate)."""
    method.__model_check__ = True  # type: ignore[attr-defined]
    return method


class ValidationError(ValueError):
    """A value does not fit a model. ``errors()``: where, the kind and the message."""

    def __init__(self, title: str, errors: list[dict[str, Any]]) -> None:
        self.title = title
        self._errors = errors
        lines = (f"  {'.'.join(e['loc']) or '(whole)'}: {e['msg']} [{e['type']}]" for e in errors)
        super().__init__(f"{len(errors)} validation error(s) for {title}\n" + "\n".join(lines))

    def errors(self) -> list[dict[str, Any]]:
        return [{**e, "loc": list(e["loc"])} for e in self._errors]

    def error_count(self) -> int:
        return len(self._errors)


class _Invalid(Exception):
    """Inside validation: what failed, each as (loc, type, msg)."""

    def __init__(self, errors: list[tuple[tuple[str, ...], str, str]]) -> None:
        super().__init__(errors)
        self.errors = errors


def _fail(kind: str, msg: str) -> _Invalid:
    return _Invalid([((), kind, msg)])


def _error(model: type, exc: _Invalid) -> ValidationError:
    errors = [{"loc": loc, "type": kind, "msg": msg} for loc, kind, msg in exc.errors]
    return ValidationError(model.__name__, errors)


# ---------------------------------------------------------------------------
# Validators built from annotations
# ---------------------------------------------------------------------------
def _string(value: Any) -> str:
    if not isinstance(value, str):
        raise _fail("string_type", "Input should be a valid string")
    return value


def _int(value: Any) -> int:
    if isinstance(value, bool):
        raise _fail("int_type", "Input should be a valid integer")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and _NUMERAL.fullmatch(value):
        return int(value)
    raise _fail("int_parsing", "Input should be a valid integer")


def _float(value: Any) -> float:
    if isinstance(value, bool):
        raise _fail("float_type", "Input should be a valid number")
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str) and _DECIMAL.fullmatch(value):
        return float(value)
    raise _fail("float_parsing", "Input should be a valid number")


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.lower() in _TRUE | _FALSE:
        return value.lower() in _TRUE
    raise _fail("bool_parsing", "Input should be a valid boolean")


def _datetime(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = value / 1000 if abs(value) > _MILLISECONDS else value
        try:
            return datetime.fromtimestamp(seconds, tz=UTC)
        except (OverflowError, OSError, ValueError):
            raise _fail("datetime_parsing", "Input should be a valid datetime") from None
    if isinstance(value, str) and 10 <= len(value) <= 64 and value.isascii():
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            pass
    raise _fail("datetime_parsing", "Input should be a valid datetime (ISO 8601)")


def _any(value: Any) -> Any:
    return value


_SCALARS: dict[Any, Validator] = {
    str: _string,
    int: _int,
    float: _float,
    bool: _bool,
    datetime: _datetime,
    Any: _any,
    object: _any,
}


def _constrained(inner: Validator, c: Constraints) -> Validator:
    pattern = re.compile(c.pattern, re.ASCII) if c.pattern is not None else None

    def validate(value: Any) -> Any:
        value = inner(value)
        if isinstance(value, str | tuple | list | dict):
            what = "String" if isinstance(value, str) else "Value"
            unit = "character" if isinstance(value, str) else "item"
            if c.min_length is not None and len(value) < c.min_length:
                kind = "string_too_short" if isinstance(value, str) else "too_short"
                raise _fail(kind, f"{what} should have at least {c.min_length} {unit}(s)")
            if c.max_length is not None and len(value) > c.max_length:
                kind = "string_too_long" if isinstance(value, str) else "too_long"
                raise _fail(kind, f"{what} should have at most {c.max_length} {unit}(s)")
        if pattern is not None and isinstance(value, str) and not pattern.fullmatch(value):
            raise _fail("string_pattern_mismatch", f"String should match pattern {c.pattern!r}")
        if isinstance(value, int | float):
            if c.ge is not None and not value >= c.ge:
                msg = f"Input should be greater than or equal to {c.ge}"
                raise _fail("greater_than_equal", msg)
            if c.gt is not None and not value > c.gt:
                raise _fail("greater_than", f"Input should be greater than {c.gt}")
            if c.le is not None and not value <= c.le:
                raise _fail("less_than_equal", f"Input should be less than or equal to {c.le}")
        return value

    return validate


def _after(inner: Validator, fn: Callable[[Any], Any]) -> Validator:
    def validate(value: Any) -> Any:
        value = inner(value)
        try:
            return fn(value)
        except ValueError as exc:
            raise _fail("value_error", f"Value error, {exc}") from None

    return validate


def _literal(choices: tuple[Any, ...]) -> Validator:
    allowed = frozenset(choices)
    shown = ", ".join(repr(c) for c in choices)

    def validate(value: Any) -> Any:
        if isinstance(value, str | int) and not isinstance(value, bool) and value in allowed:
            return value
        raise _fail("literal_error", f"Input should be one of {shown}")

    return validate


def _union(options: list[Validator], nullable: bool) -> Validator:
    def validate(value: Any) -> Any:
        if value is None and nullable:
            return None
        failures: list[tuple[tuple[str, ...], str, str]] = []
        for option in options:
            try:
                return option(value)
            except _Invalid as exc:
                failures += exc.errors
        raise _Invalid(failures[:1] if len(options) == 1 else failures)

    return validate


def _sequence(item: Validator, make: type[tuple[Any, ...]] | type[list[Any]]) -> Validator:
    def validate(value: Any) -> Any:
        if not isinstance(value, list | tuple):
            raise _fail("list_type", "Input should be a valid list")
        out: list[Any] = []
        errors: list[tuple[tuple[str, ...], str, str]] = []
        for i, element in enumerate(value):
            try:
                out.append(item(element))
            except _Invalid as exc:
                errors += [((str(i), *loc), kind, msg) for loc, kind, msg in exc.errors]
        if errors:
            raise _Invalid(errors)
        return make(out)

    return validate


def _mapping(key: Validator, item: Validator) -> Validator:
    def validate(value: Any) -> Any:
        if not isinstance(value, dict):
            raise _fail("dict_type", "Input should be a valid dictionary")
        out: dict[Any, Any] = {}
        errors: list[tuple[tuple[str, ...], str, str]] = []
        for k, v in value.items():
            read = []
            for validator, given in ((key, k), (item, v)):  # the key's errors and the value's
                try:
                    read.append(validator(given))
                except _Invalid as exc:
                    errors += [((str(k), *loc), kind, msg) for loc, kind, msg in exc.errors]
            if len(read) == 2:
                out[read[0]] = read[1]
        if errors:
            raise _Invalid(errors)
        return out

    return validate


def _compile(tp: Any, constraints: Constraints | None = None) -> Validator:
    """The validator of annotation ``tp``, with a field's ``constraints`` on its value."""
    origin = get_origin(tp)
    if origin is typing.Annotated:
        base, *extras = get_args(tp)
        own = constraints
        checks: list[Callable[[Any], Any]] = []
        for extra in extras:
            if isinstance(extra, Constraints):
                own = extra.merged(own)
            elif isinstance(extra, After):
                checks.append(extra.fn)
        validator = _compile(base, own)
        for fn in checks:
            validator = _after(validator, fn)
        return validator
    if origin is typing.Union or origin is types.UnionType:
        members = get_args(tp)
        nullable = type(None) in members
        options = [_compile(m, constraints) for m in members if m is not type(None)]
        return _union(options, nullable)
    if origin is Literal:
        validator = _literal(get_args(tp))
    elif origin is tuple:
        validator = _sequence(_compile(get_args(tp)[0]), tuple)
    elif origin is list:
        validator = _sequence(_compile(get_args(tp)[0]), list)
    elif origin is dict:
        key, item = get_args(tp)
        validator = _mapping(_compile(key), _compile(item))
    elif isinstance(tp, type) and issubclass(tp, Model):
        validator = tp._validate
    elif tp in _SCALARS:
        validator = _SCALARS[tp]
    else:
        raise TypeError(f"schema: no validator for annotation {tp!r}")
    if constraints is not None and not constraints.empty:
        validator = _constrained(validator, constraints)
    return validator


# ---------------------------------------------------------------------------
# Models
# ---------------------------------------------------------------------------
class Model:
    """A frozen record validated from a dict (``Model.model_validate(data)``)."""

    #: every field by name (a subclass's own and its bases'), in declaration order
    model_fields: ClassVar[dict[str, FieldInfo]] = {}
    _validators: ClassVar[tuple[tuple[str, str | None, FieldInfo, Validator], ...] | None]
    _checks: ClassVar[tuple[Callable[[Any], None], ...]] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        fields = dict(cls.model_fields)
        # the class's own annotations (names only: their types are read on first use)
        own = vars(cls).get("__annotations__", {})
        for name in own:
            if name.startswith("_"):
                continue
            declared = cls.__dict__.get(name, _MISSING)
            info = declared if isinstance(declared, FieldInfo) else FieldInfo(declared)
            fields.pop(name, None)
            fields[name] = info
            if name in cls.__dict__:
                delattr(cls, name)  # the instance's value, not the declaration, is read
        cls.model_fields = fields
        cls._validators = None
        checks = [m for m in cls.__dict__.values() if getattr(m, "__model_check__", False)]
        cls._checks = (*cls._checks, *checks)

    def __init__(self, **data: Any) -> None:
        """Validate ``data`` (by field name or alias), as ``model_validate`` does."""
        try:
            self._fill(data)
        except _Invalid as exc:
            raise _error(type(self), exc) from None

    @classmethod
    def model_validate(cls, data: Any) -> Self:
        """``data`` as this model, or ``ValidationError`` listing every error."""
        try:
            return cls._validate(data)
        except _Invalid as exc:
            raise _error(cls, exc) from None

    @classmethod
    def _validate(cls, data: Any) -> Self:
        if isinstance(data, cls):
            return data
        if not isinstance(data, dict):
            raise _fail("model_type", f"Input should be an object ({cls.__name__})")
        instance = cls.__new__(cls)
        instance._fill(data)
        return instance

    def _fill(self, data: dict[str, Any]) -> None:
        for name, value in self._values(data).items():
            object.__setattr__(self, name, value)
        for rule in self._checks:
            try:
                rule(self)
            except ValueError as exc:
                raise _fail("value_error", f"Value error, {exc}") from None

    @classmethod
    def _values(cls, data: dict[str, Any]) -> dict[str, Any]:
        if cls._validators is None:
            cls._validators = cls._build()
        values: dict[str, Any] = {}
        errors: list[tuple[tuple[str, ...], str, str]] = []
        for name, alias, info, validator in cls._validators:
            key = alias if alias is not None and alias in data else name
            if key not in data:
                if info.required:
                    errors.append(((alias or name,), "missing", "Field required"))
                else:
                    values[name] = info.make_default()
                continue
            try:
                values[name] = validator(data[key])
            except _Invalid as exc:
                errors += [((key, *loc), kind, msg) for loc, kind, msg in exc.errors]
        if errors:
            raise _Invalid(errors)
        return values

    @classmethod
    def _build(cls) -> tuple[tuple[str, str | None, FieldInfo, Validator], ...]:
        hints = typing.get_type_hints(cls, include_extras=True)
        return tuple(
            (name, info.alias, info, _compile(hints[name], info.constraints))
            for name, info in cls.model_fields.items()
        )

    def __setattr__(self, name: str, value: Any) -> None:
        raise TypeError(f"{type(self).__name__} is frozen")

    def __delattr__(self, name: str) -> None:
        raise TypeError(f"{type(self).__name__} is frozen")

    def _items(self) -> Iterator[tuple[str, Any]]:
        for name in self.model_fields:
            yield name, getattr(self, name)

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self) or not isinstance(other, Model):
            return NotImplemented
        return dict(self._items()) == dict(other._items())

    def __hash__(self) -> int:
        return hash((type(self), *(value for _, value in self._items())))

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={value!r}" for name, value in self._items())
        return f"{type(self).__name__}({fields})"

    def model_dump(self, *, by_alias: bool = False) -> dict[str, Any]:
        """The model as a dict (nested models as dicts), by field name or alias."""
        return {
            (info.alias or name) if by_alias else name: _dump(getattr(self, name), by_alias)
            for name, info in self.model_fields.items()
        }


def _dump(value: Any, by_alias: bool) -> Any:
    if isinstance(value, Model):
        return value.model_dump(by_alias=by_alias)
    if isinstance(value, tuple | list):
        return type(value)(_dump(v, by_alias) for v in value)
    if isinstance(value, dict):
        return {k: _dump(v, by_alias) for k, v in value.items()}
    return value
