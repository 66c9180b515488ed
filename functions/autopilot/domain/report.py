"""What a run decided and did: the value ``run()`` returns and the Lambda entry serializes.

``Report.to_json()`` is the stable interface the CLI (``invoke``), the sandbox and the
tests read: ``function``, ``event_id``, ``decisions`` (one per service, each with
``service``, ``outcome``, ``reason``) and ``actions`` (every AWS call that changes
something, planned or done: ``api``, ``params``, ``done``).

They are plain dataclasses, not models (``autopilot.schema``): autopilot writes them and
never parses them, so they need no validator.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from enum import Enum, StrEnum
from typing import Any


class Outcome(StrEnum):
    """Every decision's outcome; each is also a CloudWatch metric name."""

    DEPLOYED = "deployed"
    ALREADY_RUNNING = "already-running"
    OLDER = "older"
    POLICY_MISMATCH = "policy-mismatch"
    AWAITING_SCAN = "awaiting-scan"
    BLOCKED = "blocked"
    QUARANTINED = "quarantined"
    ROLLED_BACK = "rolled-back"
    LAST_KNOWN_GOOD = "last-known-good"
    #: deployed outside autopilot over what autopilot last deployed (e.g. IaC put back a tag)
    DRIFTED = "drifted"
    #: a running digest that now fails its scan gate (the re-gate): marked, announced once
    VULNERABLE = "vulnerable"
    PENDING_APPROVAL = "pending-approval"
    #: a deployment waits at autopilot's PAUSE hook (manual-traffic) before production traffic
    AWAITING_APPROVAL = "awaiting-approval"
    #: the PAUSE hook was continued (``autopilot approve``): production traffic goes on
    APPROVED = "approved"
    EXPIRED = "expired"  # a pending approval nobody approved in time
    PAUSED = "paused"
    RESUMED = "resumed"
    IGNORED = "ignored"
    REJECTED = "rejected"
    FAILED = "failed"
    BUSY = "busy"
    DUPLICATE = "duplicate"
    # task-events (zone balance, crash loops) and capacity-events
    REBALANCED = "rebalanced"
    BALANCED = "balanced"
    DEFERRED = "deferred"
    DEBOUNCED = "debounced"
    CRASH_LOOP = "crash-loop"
    SCALED = "scaled"
    RESTORED = "restored"
    FALLBACK = "fallback"
    UNCHANGED = "unchanged"
    #: the reconciler moved or removed protective tags (``logic.retention``)
    PROTECTED = "protected"
    #: the admission hook let a deployment go on (``logic.admission``); its refusals are
    #: ``quarantined``, ``blocked`` or ``rejected``, announced
    ADMITTED = "admitted"


# Outcomes that may be announced on the notices topic (a decision is announced when it
# also says ``notify``): real changes and real problems only. "Nothing to do" outcomes
# (already-running, older, policy-mismatch, awaiting-scan, ignored, busy, duplicate,
# balanced, deferred, debounced, unchanged, last-known-good, protected, admitted) are
# recorded, never announced.
ANNOUNCED = frozenset(
    {
        Outcome.DEPLOYED,
        Outcome.BLOCKED,
        Outcome.VULNERABLE,
        Outcome.QUARANTINED,
        Outcome.ROLLED_BACK,
        Outcome.PENDING_APPROVAL,
        Outcome.AWAITING_APPROVAL,
        Outcome.APPROVED,
        Outcome.DRIFTED,
        Outcome.EXPIRED,
        Outcome.PAUSED,
        Outcome.RESUMED,
        Outcome.REJECTED,
        Outcome.FAILED,
        Outcome.CRASH_LOOP,
        Outcome.REBALANCED,
        Outcome.SCALED,
        Outcome.RESTORED,
        Outcome.FALLBACK,
    }
)
SEVERITY = {
    Outcome.DEPLOYED: "info",
    Outcome.PENDING_APPROVAL: "info",
    Outcome.AWAITING_APPROVAL: "info",
    Outcome.APPROVED: "info",
    Outcome.RESUMED: "info",
    Outcome.BLOCKED: "warning",
    Outcome.VULNERABLE: "warning",
    Outcome.REJECTED: "warning",
    Outcome.EXPIRED: "warning",
    Outcome.DRIFTED: "warning",
    Outcome.PAUSED: "warning",
    Outcome.QUARANTINED: "error",
    Outcome.ROLLED_BACK: "error",
    Outcome.FAILED: "error",
    Outcome.CRASH_LOOP: "error",
    Outcome.FALLBACK: "warning",
}


@dataclass(kw_only=True)
class Action:
    """One mutating AWS call, planned (``done`` False) or performed."""

    api: str
    params: dict[str, Any]
    service: str | None = None
    done: bool = False
    result: dict[str, Any] | None = None
    error: str | None = None


@dataclass(kw_only=True)
class Decision:
    """What was decided for one service, and why (``dataclasses.replace`` makes a changed
    copy)."""

    service: str
    outcome: Outcome
    reason: str
    repository: str | None = None
    tag: str | None = None
    digest: str | None = None
    task_definition: str | None = None
    previous_task_definition: str | None = None
    counts: dict[str, int] | None = None
    #: the image reference that deploys (or would deploy): ``<registry>/<repo>@<digest>``
    image: str | None = None
    #: a pending approval's expiry (UTC ISO-8601)
    approval_expires: str | None = None
    #: push (ECR imagePushedAt) to deployment COMPLETED, for the deploy that completed
    lead_time_seconds: float | None = None
    notify: bool = False

    @property
    def severity(self) -> str:
        return SEVERITY.get(self.outcome, "info")

    def to_json(self, *, exclude_none: bool = False) -> dict[str, Any]:
        """The decision as JSON values (``notify``, a run's own flag, left out)."""
        values = jsonable(asdict(self))
        del values["notify"]
        return {k: v for k, v in values.items() if v is not None} if exclude_none else values


@dataclass(kw_only=True)
class Report:
    """The result of one event: decisions per service and the AWS actions (planned or done)."""

    function: str
    event_id: str
    detail_type: str
    dry_run: bool = False
    duplicate: bool = False
    decisions: list[Decision] = field(default_factory=list)
    actions: list[Action] = field(default_factory=list)
    retry_services: list[str] = field(default_factory=list)

    def outcomes(self) -> dict[str, str]:
        """service -> outcome (handy in tests and the CLI)."""
        return {d.service: d.outcome.value for d in self.decisions}

    def to_json(self) -> dict[str, Any]:
        """The report as JSON values: what a Lambda returns, and the CLI and sandbox read."""
        values: dict[str, Any] = jsonable(asdict(self))
        return values


def jsonable(value: Any) -> Any:
    """``value`` with enums as their values, datetimes as ISO-8601 and tuples as lists."""
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime):
        return value.isoformat()
    return value
