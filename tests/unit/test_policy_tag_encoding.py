"""Policy values that ECS cannot hold in a tag travel base64url-encoded (contract module)."""

from __future__ import annotations

import pytest
from autopilot.contract import decode_policy_tag, encode_policy_tag, fits_tag_value
from hypothesis import given
from hypothesis import strategies as st


@pytest.mark.parametrize("policy", ["semver", "semver:minor", "tag:stable", "glob:release-1.2"])
def test_policies_that_fit_a_tag_value_are_written_as_they_are(policy: str) -> None:
    assert encode_policy_tag(policy) == policy
    assert decode_policy_tag(policy) == policy


@pytest.mark.parametrize(
    ("policy", "tag"),
    [("glob:v1.*", "glob64:djEuKg"), ("regex:^v1\\.[0-9]+$", "regex64:XnYxXC5bMC05XSsk")],
)
def test_patterns_with_characters_ecs_refuses_are_encoded(policy: str, tag: str) -> None:
    assert encode_policy_tag(policy) == tag
    assert fits_tag_value(tag)
    assert decode_policy_tag(tag) == policy


@given(st.sampled_from(["glob", "regex"]), st.text(min_size=1, max_size=120))
def test_any_pattern_round_trips_through_a_valid_tag_value(kind: str, pattern: str) -> None:
    policy = f"{kind}:{pattern}"
    try:
        tag = encode_policy_tag(policy)
    except ValueError:
        return  # too long once encoded: refused, never truncated
    assert fits_tag_value(tag)
    assert decode_policy_tag(tag) == policy


@pytest.mark.parametrize("tag", ["glob64:", "glob64:!!!", "regex64:/w==", "regex64:" + "A" * 300])
def test_a_broken_encoded_value_is_a_value_error(tag: str) -> None:
    with pytest.raises(ValueError, match="64"):
        decode_policy_tag(tag)


def test_a_policy_that_cannot_be_encoded_is_refused() -> None:
    with pytest.raises(ValueError, match="cannot be written"):
        encode_policy_tag("tag:v1*")
