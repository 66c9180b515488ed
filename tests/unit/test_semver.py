"""SemVer 2.0.0 precedence, with an optional leading v."""

from __future__ import annotations

import pytest
from autopilot.logic.semver import Version, parse_version
from hypothesis import given
from hypothesis import strategies as st

# The precedence example of semver.org section 11, in order.
ORDERED = [
    "1.0.0-alpha",
    "1.0.0-alpha.1",
    "1.0.0-alpha.beta",
    "1.0.0-beta",
    "1.0.0-beta.2",
    "1.0.0-beta.11",
    "1.0.0-rc.1",
    "1.0.0",
    "v1.0.1",
    "1.1.0",
    "2.0.0",
    "10.0.0",
]


def test_spec_precedence_example() -> None:
    versions = [parse_version(t) for t in ORDERED]
    assert all(v is not None for v in versions)
    assert versions == sorted(versions)  # type: ignore[type-var]
    assert len(set(versions)) == len(versions)


@pytest.mark.parametrize(
    "tag", ["latest", "1.0", "01.0.0", "1.0.0-", "1.0.0-01", "v", "", "1.0.0+", "V1.0.0"]
)
def test_not_semver(tag: str) -> None:
    assert parse_version(tag) is None


def test_build_metadata_is_ignored_and_v_is_optional() -> None:
    assert parse_version("v1.2.3+build.5") == parse_version("1.2.3")
    version = parse_version("1.2.3-rc.1")
    assert version == Version(1, 2, 3, ("rc", "1"))
    assert version is not None
    assert version.is_prerelease
    assert str(version) == "1.2.3-rc.1"


@given(
    st.tuples(st.integers(0, 50), st.integers(0, 50), st.integers(0, 50)),
    st.tuples(st.integers(0, 50), st.integers(0, 50), st.integers(0, 50)),
)
def test_release_order_is_numeric_tuple_order(
    a: tuple[int, int, int], b: tuple[int, int, int]
) -> None:
    va, vb = parse_version("{}.{}.{}".format(*a)), parse_version("v{}.{}.{}".format(*b))
    assert va is not None
    assert vb is not None
    assert (va < vb) == (a < b)
    assert (va == vb) == (a == b)


@pytest.mark.parametrize(
    "tag",
    [
        "1.2.3\n",  # Python's `$` matches before a trailing newline
        "v1.2.3\n",
        "1.2.3-rc.1\n",
        "1.2.3+build.5\n",
        "1.2.3\r",
        "1.2.3 ",
        "\u0661.\u0662.\u0663",  # Arabic-Indic digits: Python's `\d` is Unicode
        "1\u0661.2.3",  # parsed as major 11 before
        "1.2\u0662.3",
        "1.2.3-1\u0661",  # a numeric identifier 11 before
        "1.\u0662.3",
        "1.2.\uff13",  # fullwidth 3
        "1.2.3-rc.\u0661",
        "1.2.3-\u0661a",
        "1.2.3-r\u00e9",  # SemVer identifiers are [0-9A-Za-z-] only
        "1.2.3+b\u00e9",
    ],
)
def test_what_semver_forbids_is_not_a_version(tag: str) -> None:
    assert parse_version(tag) is None


@pytest.mark.parametrize(
    ("tag", "expected"),
    [
        ("0.0.0", Version(0, 0, 0)),
        ("v10.20.30", Version(10, 20, 30)),
        ("1.0.0-0", Version(1, 0, 0, ("0",))),
        ("1.0.0-0a.1", Version(1, 0, 0, ("0a", "1"))),
        ("1.0.0-alpha-a.b-c-somethinglong", Version(1, 0, 0, ("alpha-a", "b-c-somethinglong"))),
        ("1.0.0-x.7.z.92", Version(1, 0, 0, ("x", "7", "z", "92"))),
        ("1.0.0-rc.1+build.1", Version(1, 0, 0, ("rc", "1"))),
        ("1.0.0+21AF26D3----117B344092BD", Version(1, 0, 0)),
        ("1.0.0+0.build.1-rc.10000aaa-kk-0.1", Version(1, 0, 0)),
        ("1.0.0+001", Version(1, 0, 0)),  # build identifiers may have leading zeros
    ],
)
def test_valid_versions_still_parse(tag: str, expected: Version) -> None:
    assert parse_version(tag) == expected
