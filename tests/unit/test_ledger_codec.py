"""The ledger's DynamoDB attribute-value codec round-trips what the ledger stores."""

from __future__ import annotations

from typing import Any

from autopilot.store.decisions import decision_pk
from autopilot.store.table import from_item, img_pk, svc_pk, to_item
from hypothesis import given
from hypothesis import strategies as st

scalars = st.one_of(
    st.text(max_size=20),
    st.integers(min_value=-(2**53), max_value=2**53),
    st.booleans(),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


@given(st.dictionaries(st.text(min_size=1, max_size=10), values, max_size=6))
def test_round_trip(item: dict[str, Any]) -> None:
    assert from_item(to_item(item)) == item


def test_keys() -> None:
    arn = "arn:aws:ecs:us-east-1:123456789012:service/c/web"
    assert svc_pk(arn) == f"SVC#{arn}"
    assert decision_pk(arn) == f"SVC#{arn}"
    assert decision_pk("repository/demo/web") == "REPO#demo/web"
    assert img_pk("demo/web", "sha256:1") == "IMG#demo/web@sha256:1"


def test_none_values_are_left_out() -> None:
    assert to_item({"a": None, "b": 1}) == {"b": {"N": "1"}}
