"""EventBridge: put one of the control plane's own events on the account's default bus (the
reconciler's shards).

One entry per call: an entry's size (its ``Source``, ``DetailType`` and ``Detail``, UTF-8
bytes, as EventBridge's "Calculating PutEvents event entry size" counts it) must stay under
``MAX_ENTRY_BYTES``. An entry EventBridge refuses comes back in the response with an error
code, not as an exception: it is raised here as ``AwsCallFailed`` with that code.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from autopilot.aws.translate import translate
from autopilot.errors import AwsCallFailed

if TYPE_CHECKING:
    from mypy_boto3_events import EventBridgeClient

#: PutEvents: bytes per entry
MAX_ENTRY_BYTES = 256 * 1024
#: entry error codes worth trying again later
_TRANSIENT = frozenset({"InternalFailure", "ThrottlingException"})


def entry(source: str, detail_type: str, detail: dict[str, Any]) -> dict[str, str]:
    """A PutEvents entry for the default bus (``Detail``: compact JSON)."""
    return {
        "Source": source,
        "DetailType": detail_type,
        "Detail": json.dumps(detail, separators=(",", ":")),
    }


def entry_size(e: dict[str, str]) -> int:
    """An entry's size as EventBridge counts it (no ``Time``, no ``Resources`` here)."""
    return sum(len(e[k].encode()) for k in ("Source", "DetailType", "Detail"))


def put_event(client: EventBridgeClient, params: dict[str, Any]) -> dict[str, Any]:
    """``params``: ``{"Entries": [one entry]}``; returns ``{"EventId": ...}``."""
    with translate("events:PutEvents"):
        response = client.put_events(**params)
    (result,) = response.get("Entries", [{}])
    if not result.get("EventId"):
        code = str(result.get("ErrorCode", "Unknown"))
        raise AwsCallFailed(
            "events:PutEvents",
            code,
            str(result.get("ErrorMessage", "")),
            transient=code in _TRANSIENT,
        )
    return {"EventId": result["EventId"]}
