"""Bounded pattern matching for ``glob:`` and ``regex:`` policies.

Python's ``re`` cannot be interrupted, so a regex is bounded before it runs: the pattern
is at most 100 characters, the input at most 128 (ECR's tag limit), and the parsed pattern
is rejected if it could backtrack badly: a repeat inside a repeat (``(a+)+``), an
alternation inside a repeat (``(a|aa)*``), an optional or variable repeat inside a repeat
(``(?:a?){40}``), a back-reference, more than three unbounded repeats (``.*.*.*.*x`` is
polynomial of degree 4), or more than six optional or variable repeats in all
(``a?a?...a?aaa...`` is exponential in their number). What remains runs in at most ~n^3
steps on 128 characters (well under a millisecond to a few ms).

Globs use ``*`` (any run), ``?`` (one character) and ``[...]`` classes, matched by a
linear-space dynamic programme: no regex, no backtracking.
"""

from __future__ import annotations

import importlib
import re
import warnings
from functools import lru_cache
from typing import Any

from autopilot.contract import TAG_POLICY
from autopilot.errors import UnsafePattern

MAX_PATTERN = 100
MAX_INPUT = 128
MAX_UNBOUNDED_REPEATS = 3
MAX_VARIABLE_REPEATS = 6

_sre: Any = importlib.import_module("re._parser")
_REPEATS = {"MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"}
_UNBOUNDED_MIN = 20  # a repeat whose upper bound exceeds this counts as unbounded


def _walk(items: Any, inside_repeat: bool, counter: list[int], key: str, value: str) -> None:
    for op, arg in items:
        name = str(op)
        if name in _REPEATS:
            low, high, sub = arg
            if high is _sre.MAXREPEAT or high > _UNBOUNDED_MIN:
                counter[0] += 1
            if low != high:
                # every variable repeat (``?`` included) is a choice point: inside a loop
                # they multiply per iteration, and in sequence they multiply with each other
                if inside_repeat:
                    raise UnsafePattern(key, value, "nested repetition can backtrack exponentially")
                counter[1] += 1
            if high != 1:
                if inside_repeat:
                    raise UnsafePattern(key, value, "nested repetition can backtrack exponentially")
                _walk(sub, True, counter, key, value)
            else:
                _walk(sub, inside_repeat, counter, key, value)
        elif name == "SUBPATTERN":
            _walk(arg[-1], inside_repeat, counter, key, value)
        elif name == "BRANCH":
            if inside_repeat:
                raise UnsafePattern(key, value, "alternation inside a repetition can backtrack")
            for branch in arg[1]:
                _walk(branch, inside_repeat, counter, key, value)
        elif name in {"GROUPREF", "GROUPREF_EXISTS"}:
            raise UnsafePattern(key, value, "back-references are not allowed")
        elif name in {"ASSERT", "ASSERT_NOT"}:
            _walk(arg[1], inside_repeat, counter, key, value)
        elif name == "ATOMIC_GROUP":
            _walk(arg, inside_repeat, counter, key, value)


@lru_cache(maxsize=256)
def compile_safe_regex(pattern: str, key: str = TAG_POLICY) -> re.Pattern[str]:
    """Compile ``pattern`` if it is short and cannot backtrack badly; else ``UnsafePattern``."""
    value = "regex:" + pattern
    if not pattern:
        raise UnsafePattern(key, value, "empty pattern")
    if len(pattern) > MAX_PATTERN:
        raise UnsafePattern(key, value, f"pattern longer than {MAX_PATTERN} characters")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            parsed = _sre.parse(pattern)
            compiled = re.compile(pattern)
    except re.error as exc:
        raise UnsafePattern(key, value, f"not a regular expression: {exc.msg}") from None
    counter = [0, 0]
    _walk(parsed, False, counter, key, value)
    if counter[0] > MAX_UNBOUNDED_REPEATS:
        raise UnsafePattern(key, value, f"more than {MAX_UNBOUNDED_REPEATS} unbounded repeats")
    if counter[1] > MAX_VARIABLE_REPEATS:
        raise UnsafePattern(
            key, value, f"more than {MAX_VARIABLE_REPEATS} optional or variable repeats"
        )
    return compiled


def regex_matches(pattern: re.Pattern[str], text: str) -> bool:
    """Whole-string match of a pre-checked pattern on bounded input."""
    if len(text) > MAX_INPUT:
        return False
    return pattern.fullmatch(text) is not None


def check_glob(pattern: str, key: str = TAG_POLICY) -> str:
    value = "glob:" + pattern
    if not pattern:
        raise UnsafePattern(key, value, "empty pattern")
    if len(pattern) > MAX_PATTERN:
        raise UnsafePattern(key, value, f"pattern longer than {MAX_PATTERN} characters")
    _tokens(pattern, key)
    return pattern


@lru_cache(maxsize=256)
def _tokens(pattern: str, key: str = TAG_POLICY) -> tuple[tuple[str, str], ...]:
    """('*',''), ('?',''), ('lit', c) or ('cls', spec) tokens."""
    out: list[tuple[str, str]] = []
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "*":
            if not out or out[-1][0] != "*":
                out.append(("*", ""))
        elif c == "?":
            out.append(("?", ""))
        elif c == "[":
            end = pattern.find("]", i + 2)
            if end < 0:
                raise UnsafePattern(key, "glob:" + pattern, "unclosed [ in glob")
            out.append(("cls", pattern[i + 1 : end]))
            i = end
        else:
            out.append(("lit", c))
        i += 1
    return tuple(out)


def _class_matches(spec: str, ch: str) -> bool:
    negate = spec.startswith(("!", "^"))
    body = spec[1:] if negate else spec
    hit = False
    j = 0
    while j < len(body):
        if j + 2 < len(body) and body[j + 1] == "-":
            hit = hit or body[j] <= ch <= body[j + 2]
            j += 3
        else:
            hit = hit or body[j] == ch
            j += 1
    return hit != negate


def glob_matches(pattern: str, text: str) -> bool:
    """Whole-string glob match in O(len(pattern) * len(text)) time."""
    if len(text) > MAX_INPUT:
        return False
    tokens = _tokens(pattern)
    # reach[j]: the first j characters of text can be matched by the tokens seen so far
    reach = [True] + [False] * len(text)
    for kind, spec in tokens:
        if kind == "*":
            for j in range(1, len(text) + 1):
                reach[j] = reach[j] or reach[j - 1]
            continue
        nxt = [False] * (len(text) + 1)
        for j in range(1, len(text) + 1):
            if not reach[j - 1]:
                continue
            ch = text[j - 1]
            if (
                kind == "?"
                or (kind == "lit" and spec == ch)
                or (kind == "cls" and _class_matches(spec, ch))
            ):
                nxt[j] = True
        reach = nxt
    return reach[len(text)]
