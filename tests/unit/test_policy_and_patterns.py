"""Tag policies and the bounded glob/regex matchers: a hostile pattern cannot hang."""

from __future__ import annotations

import time

import pytest
from autopilot.errors import MalformedTag, UnsafePattern
from autopilot.logic.patterns import (
    MAX_INPUT,
    compile_safe_regex,
    glob_matches,
    regex_matches,
)
from autopilot.logic.policy import (
    NO_FLOORS,
    Floors,
    parse_approval,
    parse_policy,
    parse_scan_gate,
    parse_service_config,
    service_config,
)
from autopilot.logic.semver import parse_version
from hypothesis import given, settings
from hypothesis import strategies as st


@pytest.mark.parametrize(
    ("value", "kind", "scope", "pre"),
    [
        (None, "semver", "any", False),
        ("semver", "semver", "any", False),
        ("semver:minor", "semver", "minor", False),
        ("semver:patch", "semver", "patch", False),
        ("semver+pre", "semver", "any", True),
        ("semver:minor+pre", "semver", "minor", True),
        ("glob:v1.*", "glob", "any", False),
        ("regex:^release-[0-9]+$", "regex", "any", False),
        ("tag:stable", "tag", "any", False),
        ("glob64:djEuKg", "glob", "any", False),
        ("regex64:XnYxXC5bMC05XSsk", "regex", "any", False),
    ],
)
def test_policies_parse(value: str | None, kind: str, scope: str, pre: bool) -> None:
    policy = parse_policy(value)
    assert (policy.kind, policy.scope, policy.prerelease) == (kind, scope, pre)


@pytest.mark.parametrize(
    "value",
    [
        "",
        "semver:major",
        "semver+beta",
        "glob:",
        "regex:",
        "tag:",
        "tag:no spaces",
        "latest",
        "regex:([",
        "glob64:",
        "glob64:!!!",
        "regex64:KFs",
    ],
)
def test_malformed_policies_raise_a_typed_error(value: str) -> None:
    with pytest.raises(MalformedTag) as raised:
        parse_policy(value)
    assert raised.value.key == "autopilot:policy"


@pytest.mark.parametrize(
    "pattern",
    [
        "(a+)+$",
        "(a*)*b",
        "(a|aa)*b",
        "(x+x+)+y",
        "(\\w)\\1",
        ".*.*.*.*x",
        "a" * 101,
        "(?:a{1,30}){1,30}",
        "(?:a?){40}a{40}",  # an optional inside a loop: 2^40 ways to split the a's
        "a?" * 40 + "a{40}",  # forty optionals in sequence: the same, without a loop
    ],
)
def test_hostile_regexes_are_rejected(pattern: str) -> None:
    with pytest.raises(UnsafePattern):
        compile_safe_regex(pattern)


@settings(max_examples=200, deadline=None)
@given(
    pattern=st.from_regex(r"[a-z.\\*+?()\[\]|{}0-9,^$-]{1,40}", fullmatch=True),
    text=st.text(alphabet="ab.-01", max_size=200),
)
def test_any_accepted_regex_runs_fast_on_any_tag(pattern: str, text: str) -> None:
    try:
        compiled = compile_safe_regex(pattern)
    except UnsafePattern:
        return
    start = time.perf_counter()
    regex_matches(compiled, text)
    regex_matches(compiled, "a" * MAX_INPUT)
    assert time.perf_counter() - start < 0.5


def test_worst_accepted_regex_is_bounded() -> None:
    compiled = compile_safe_regex(".*.*.*x")
    start = time.perf_counter()
    assert not regex_matches(compiled, "a" * MAX_INPUT)
    assert time.perf_counter() - start < 0.5
    assert not regex_matches(compile_safe_regex("a+"), "a" * (MAX_INPUT + 1))


def test_an_encoded_policy_tag_means_the_pattern_it_carries() -> None:
    policy = parse_policy("glob64:djEuKg")
    assert policy.pattern == "v1.*"
    assert policy.accepts_tag("v1.7")
    assert not policy.accepts_tag("v2.0")


@pytest.mark.parametrize(
    ("pattern", "text", "expected"),
    [
        ("v1.*", "v1.2.3", True),
        ("v1.*", "v2.0.0", False),
        ("release-[0-9]*", "release-5x", True),
        ("release-[!a-z]", "release-5", True),
        ("release-[!a-z]", "release-x", False),
        ("?", "", False),
        ("*", "", True),
        ("a*b*c", "aXbYc", True),
    ],
)
def test_glob(pattern: str, text: str, expected: bool) -> None:
    assert glob_matches(pattern, text) is expected


def test_glob_is_linear_on_hostile_input() -> None:
    start = time.perf_counter()
    assert not glob_matches("*a*a*a*a*a*a*a*b", "a" * MAX_INPUT)
    assert time.perf_counter() - start < 0.5


def test_semver_scopes() -> None:
    minor, patch = parse_policy("semver:minor"), parse_policy("semver:patch")
    run, same_minor, next_minor, next_major = (
        parse_version(v) for v in ("1.2.3", "1.2.4", "1.3.0", "2.0.0")
    )
    assert run is not None
    assert same_minor is not None
    assert next_minor is not None
    assert next_major is not None
    assert minor.version_allowed(next_minor, run) is None
    assert minor.version_allowed(next_major, run) is not None
    assert patch.version_allowed(same_minor, run) is None
    assert patch.version_allowed(next_minor, run) is not None
    assert minor.version_allowed(next_minor, None) is not None


def test_prereleases_only_onto_a_prerelease_of_the_same_version_or_when_asked() -> None:
    rc2, rc1, release = (parse_version(v) for v in ("1.3.0-rc.2", "1.3.0-rc.1", "1.2.0"))
    assert rc2 is not None
    assert rc1 is not None
    assert release is not None
    assert parse_policy("semver").version_allowed(rc2, release) is not None
    assert parse_policy("semver").version_allowed(rc2, rc1) is None
    assert parse_policy("semver+pre").version_allowed(rc2, release) is None


def test_scan_gate_and_approval_tags() -> None:
    assert parse_scan_gate(None) == "critical"
    assert parse_scan_gate("high") == "high"
    assert parse_approval(None) == "auto"
    with pytest.raises(MalformedTag):
        parse_scan_gate("medium")
    with pytest.raises(MalformedTag):
        parse_approval("sometimes")


def test_service_config_from_tags() -> None:
    assert parse_service_config({"other": "x"}) is None
    cfg = parse_service_config(
        {"autopilot:repository": "demo/web", "autopilot:container": "app", "autopilot:scan": "off"}
    )
    assert cfg is not None
    assert (cfg.repository, cfg.container, cfg.scan, cfg.policy.kind) == (
        "demo/web",
        "app",
        "off",
        "semver",
    )


# -- the config's floors under the scan and approval tags -------------------------------------
CLUSTER = "arn:aws:ecs:us-east-1:123456789012:cluster/prod"
OTHER = "arn:aws:ecs:us-east-1:123456789012:cluster/dev"


@pytest.mark.parametrize(
    ("tag", "floor", "effective"),
    [
        ("off", "off", "off"),
        ("off", "critical", "critical"),
        ("off", "high", "high"),
        ("critical", "high", "high"),
        ("high", "critical", "high"),  # a stricter tag stands
        ("critical", "off", "critical"),
        ("high", "off", "high"),
    ],
)
def test_the_scan_gate_is_the_stricter_of_the_tag_and_the_floor(
    tag: str, floor: str, effective: str
) -> None:
    tags = {"autopilot:repository": "demo/web", "autopilot:scan": tag}
    cfg = service_config(tags, CLUSTER, Floors(min_scan=floor))  # type: ignore[arg-type]
    assert cfg is not None
    assert cfg.scan == effective
    overridden = effective != tag
    assert cfg.scan_tag == (tag if overridden else None)
    assert cfg.scan_note == (
        f"scan gate {effective} (the config's floor; the tag says {tag})" if overridden else ""
    )


def test_approval_is_manual_in_a_cluster_that_requires_it_whatever_the_tag() -> None:
    floors = Floors(manual_approval_clusters=frozenset({CLUSTER}))
    tags = {"autopilot:repository": "demo/web", "autopilot:approval": "auto"}
    required = service_config(tags, CLUSTER, floors)
    elsewhere = service_config(tags, OTHER, floors)
    assert required is not None
    assert elsewhere is not None
    assert (required.approval, required.approval_tag) == ("manual", "auto")
    assert "the config requires it in this cluster; the tag says auto" in required.approval_note
    assert (elsewhere.approval, elsewhere.approval_tag, elsewhere.approval_note) == (
        "auto",
        None,
        "",
    )
    # an untagged service (default auto) is held too; a manual tag needs no override
    untagged = service_config({"autopilot:repository": "demo/web"}, CLUSTER, floors)
    assert untagged is not None
    assert untagged.approval == "manual"
    manual = service_config({**tags, "autopilot:approval": "manual"}, CLUSTER, floors)
    assert manual is not None
    assert (manual.approval, manual.approval_tag) == ("manual", None)


def test_no_floors_leave_the_tags_as_they_are() -> None:
    tags = {"autopilot:repository": "demo/web", "autopilot:scan": "off"}
    assert service_config(tags, CLUSTER, NO_FLOORS) == parse_service_config(tags)
    assert service_config({"other": "x"}, CLUSTER, Floors("high")) is None
