"""A Lambda lifecycle hook's function for tests/e2e/test_sim_delivery.py, run in process by
the sandbox's router: it answers what ``ANSWERS`` holds next (a dict, or an exception to
raise) and keeps every payload it was invoked with in ``CALLS``."""

from __future__ import annotations

from typing import Any

ANSWERS: list[dict[str, Any] | Exception] = []
CALLS: list[dict[str, Any]] = []


def handler(event: dict[str, Any], context: object) -> dict[str, Any]:
    CALLS.append(event)
    answer = ANSWERS.pop(0) if ANSWERS else {"hookStatus": "SUCCEEDED"}
    if isinstance(answer, Exception):
        raise answer
    return answer
