"""Notices on the SNS topic: what happened, why, and what to do next.

- Subject: one line, at most 100 characters: ``[autopilot] <service>: <outcome> <tag or
  digest>``.
- Body (``MessageStructure=json``): people's protocols (``default``, ``email``) get text
  (the service, what deploys, the reason, the scan counts, the next step as commands)
  followed by the JSON details; machines' protocols (``sqs``, ``lambda``, ``http(s)``,
  ``email-json``, ``firehose``) get the JSON details alone, the text included.
- Message attributes ``outcome``, ``service`` (the full ARN) and ``severity`` (info |
  warning | error), for subscription filter policies.

Which decisions are announced is decided elsewhere (``notify`` and ``report.ANNOUNCED``);
``record`` publishes what this builds (``aws.sns``).
"""

from __future__ import annotations

import json
from typing import Any

from autopilot.domain.report import Decision
from autopilot.domain.service import short_name

SUBJECT_MAX = 100
MACHINE_PROTOCOLS = ("sqs", "lambda", "http", "https", "email-json", "firehose")


def _what(decision: Decision) -> str:
    short = decision.digest[:19] if decision.digest else ""
    if decision.tag and short:
        return f"{decision.tag} ({short})"
    return decision.tag or short


def subject_line(decision: Decision) -> str:
    subject = f"[autopilot] {short_name(decision.service)}: {decision.outcome.value}"
    what = _what(decision)
    if what:
        subject += f" {what}"
    subject = " ".join(subject.split())  # one line
    if len(subject) > SUBJECT_MAX:
        subject = subject[: SUBJECT_MAX - 3] + "..."
    return subject


def next_step(decision: Decision) -> str:
    """What a person can do about this decision, as commands where there are any."""
    name = short_name(decision.service)
    digest = decision.digest or "<digest>"
    steps = {
        "deployed": (
            "Nothing to do. deployment-events records the outcome: a failed deployment is "
            f"rolled back to last known good and this digest quarantined. "
            f"Audit: autopilot history {name}"
        ),
        "pending-approval": (
            f"Approve: autopilot approve {name} {digest}\n"
            f"Reject:  autopilot reject {name} {digest} --reason '...'\n"
            + (
                f"The approval expires at {decision.approval_expires}; after that a new "
                "push (or scan) of the image asks again."
                if decision.approval_expires
                else ""
            )
        ),
        "awaiting-approval": (
            f"The deployment bakes on test traffic and waits before production traffic.\n"
            f"Approve: autopilot approve {name}\n"
            f"Reject:  autopilot reject {name} --reason '...'\n"
            "Without an answer ECS rolls the deployment back when the pause hook times out."
        ),
        "approved": f"Nothing to do: ECS shifts production traffic to the new revision of {name}.",
        "blocked": (
            f"Fix the findings and push a new image: this digest does not deploy to {name} "
            "(the scan gate is the service's autopilot:scan tag)."
        ),
        "vulnerable": (
            "Nothing running was stopped. Push a fixed, newer image: the reconciler deploys "
            "a newer eligible image if one exists (never an older one). The vulnerable "
            "digests show in: autopilot status"
        ),
        "quarantined": (
            f"Push a fixed, newer image: a quarantined digest is never redeployed to {name}."
        ),
        "rolled-back": (
            f"{name} runs its last known good again and this digest is quarantined. Look at the "
            f"service's events and stopped tasks (autopilot history {name}), then push a fix."
        ),
        "crash-loop": (
            f"Look at the stopped tasks' exit codes and logs (autopilot history {name}); "
            "a crashing digest newer than last known good is rolled back and quarantined."
        ),
        "failed": (
            f"The change did not complete: see the reason, check the service "
            f"(autopilot status), and retry by pushing again or with autopilot history {name}."
        ),
        "expired": (
            "Nothing was deployed. Push the image again (or a newer one) to ask for approval again."
        ),
        "paused": (
            f"Every reaction for {name} is held (image, zone, capacity) until: "
            f"autopilot resume {name}"
        ),
        "resumed": f"Nothing to do: autopilot reacts to {name}'s events again.",
        "drifted": (
            f"{name} runs a revision deployed outside autopilot (its owner's IaC, most "
            "likely, put back an image tag). Nothing is reverted: the next eligible push "
            "deploys on top of it. To keep the owner's tool from undoing autopilot, see "
            "README.md, 'Living beside other IaC'."
        ),
        "rebalanced": "Nothing to do: the spread is restored at a bounded pace.",
        "scaled": "Nothing to do: the change stays inside the bounds and is undone when clear.",
        "restored": "Nothing to do: the earlier change was undone.",
        "fallback": (
            "Nothing to do: the original strategy comes back after a calm period on a steady state."
        ),
    }
    if decision.outcome.value == "rejected":
        if decision.reason.startswith("rejected by"):
            return f"Nothing to do: this digest never deploys to {name} by approval."
        return f"Fix what the reason names (tags on {name} or its alarm); it is skipped until then."
    return steps.get(decision.outcome.value, f"See: autopilot history {name}")


def notice_text(decision: Decision, *, function: str, event_id: str) -> str:
    """The human-readable body (without the JSON details)."""
    name = short_name(decision.service)
    lines = [f"{name}: {decision.outcome.value} {_what(decision)}".rstrip(), ""]

    def field(label: str, value: object) -> None:
        if value not in (None, "", {}):
            lines.append(f"{label + ':':<12}{value}")

    field("Service", decision.service)
    field("Image", decision.image)
    if not decision.image:
        field("Repository", decision.repository)
    field("Tag", decision.tag)
    field("Digest", decision.digest)
    field("Reason", decision.reason)
    if decision.counts:
        label = "Findings" if decision.outcome.value in ("blocked", "vulnerable") else "Counts"
        field(label, ", ".join(f"{k}={v}" for k, v in sorted(decision.counts.items())))
    if decision.lead_time_seconds is not None:
        field("Lead time", f"{decision.lead_time_seconds:.0f} s (push to deployment completed)")
    field("Expires", decision.approval_expires)
    field("Revision", decision.task_definition)
    lines += ["", "Next step:", *("  " + s for s in next_step(decision).splitlines() if s)]
    lines += ["", f"Event {event_id} ({function})"]
    return "\n".join(lines)


def notice_params(
    topic_arn: str, function: str, event_id: str, decision: Decision
) -> dict[str, Any]:
    """The sns:Publish arguments for one decision (planned in the report, sent by ``publish``)."""
    text = notice_text(decision, function=function, event_id=event_id)
    details = {
        "function": function,
        "event_id": event_id,
        **decision.to_json(exclude_none=True),
        "severity": decision.severity,
        "next_step": next_step(decision),
        "text": text,
    }
    details_json = json.dumps(details, indent=2, sort_keys=True)
    people = (
        text
        + "\n\nDetails (JSON):\n"
        + json.dumps({k: v for k, v in details.items() if k != "text"}, indent=2, sort_keys=True)
    )
    message = {"default": people, "email": people}
    message.update(dict.fromkeys(MACHINE_PROTOCOLS, details_json))
    return {
        "TopicArn": topic_arn,
        "Subject": subject_line(decision),
        "Message": json.dumps(message),
        "MessageStructure": "json",
        "MessageAttributes": {
            "outcome": {"DataType": "String", "StringValue": decision.outcome.value},
            "service": {"DataType": "String", "StringValue": decision.service},
            "severity": {"DataType": "String", "StringValue": decision.severity},
        },
    }
