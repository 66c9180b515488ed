"""`autopilot redrive`: replay the events the functions' dead-letter queues hold.

A function's DLQ holds, intact, the events whose asynchronous invocations failed after
Lambda's retries. Redrive reads each DLQ and hands every event back to the function it
came from, deleting the message only once the event is handed over:

- against an AWS account: ``lambda:Invoke`` with ``InvocationType=Event`` (an asynchronous
  invocation, so Lambda's retries and the DLQ apply again), then ``DeleteMessage`` once
  Lambda accepted it (202);
- in the sandbox (in-process: ``redrive_sandbox``; from another process: through the
  ``local up`` control endpoint): the event is routed again, the simulator carries on
  with what the reaction changed, and the message is deleted once the route succeeded or
  its failure dead-lettered the event again (so it is never lost).

``dry_run`` lists what would be redriven and leaves every message in its queue.
The functions are found by their handler (``autopilot.contract.FUNCTIONS``) and their
queues from their ``DeadLetterConfig``.
"""

# ruff: noqa: PLC0415 - imports are deferred: boto3 and the sandbox load only where used

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

VISIBILITY_SECONDS = 60


@dataclass
class Redriven:
    function: str
    queue: str
    message_id: str
    event_id: str
    detail_type: str
    ok: bool = False
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class RedriveReport:
    dry_run: bool
    messages: list[Redriven] = field(default_factory=list)

    @property
    def failed(self) -> list[Redriven]:
        return [m for m in self.messages if not m.ok]

    def to_json(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "count": len(self.messages),
            "failed": len(self.failed),
            "messages": [m.to_json() for m in self.messages],
        }


def _queue_url(sqs: Any, arn: str) -> str:
    url: str = sqs.get_queue_url(QueueName=arn.rsplit(":", 1)[-1])["QueueUrl"]
    return url


def _messages(sqs: Any, url: str) -> Iterator[dict[str, Any]]:
    """Every message of the queue once (each stays invisible while it is being handled)."""
    while True:
        batch = sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=10,
            VisibilityTimeout=VISIBILITY_SECONDS,
            WaitTimeSeconds=0,
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not batch:
            return
        yield from batch


def _release(sqs: Any, url: str, messages: list[dict[str, Any]]) -> None:
    """Make messages visible again (a dry run leaves the queue as it found it)."""
    for i in range(0, len(messages), 10):
        entries = [
            {"Id": str(n), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0}
            for n, m in enumerate(messages[i : i + 10])
        ]
        sqs.change_message_visibility_batch(QueueUrl=url, Entries=entries)


def _event(body: str) -> dict[str, Any] | None:
    try:
        doc = json.loads(body)
    except json.JSONDecodeError:
        return None
    return doc if isinstance(doc, dict) else None


def _drive(
    sqs: Any,
    queues: list[tuple[str, str]],  # (function name, DLQ ARN)
    hand_over: Callable[[str, dict[str, Any]], tuple[bool, str | None]],
    *,
    dry_run: bool,
) -> RedriveReport:
    report = RedriveReport(dry_run=dry_run)
    for function, arn in queues:
        url = _queue_url(sqs, arn)
        seen: list[dict[str, Any]] = []
        again: list[dict[str, Any]] = []  # copies dead-lettered again during this run
        handled: set[str] = set()
        for msg in _messages(sqs, url):
            seen.append(msg)
            event = _event(msg.get("Body", ""))
            event_id = str((event or {}).get("id", ""))
            if event_id and event_id in handled:
                again.append(msg)  # left for a later redrive
                continue
            handled.add(event_id)
            item = Redriven(
                function=function,
                queue=arn.rsplit(":", 1)[-1],
                message_id=msg["MessageId"],
                event_id=str((event or {}).get("id", "")),
                detail_type=str((event or {}).get("detail-type", "")),
            )
            report.messages.append(item)
            if event is None:
                item.error = "the message body is not a JSON event: left in the queue"
                continue
            if dry_run:
                item.ok = True
                continue
            # (delete the message?, error): a failed redelivery that dead-lettered the event
            # again is deleted (its copy is back in the queue) and reported as failed
            delete, item.error = hand_over(function, event)
            item.ok = delete and item.error is None
            if delete:
                sqs.delete_message(QueueUrl=url, ReceiptHandle=msg["ReceiptHandle"])
        if dry_run and seen:
            _release(sqs, url, seen)
        elif again:
            _release(sqs, url, again)
    return report


# ---------------------------------------------------------------------------- AWS account
def account_queues(lam: Any, only: list[str] | None = None) -> list[tuple[str, str]]:
    """(function name, DLQ ARN) of every deployed autopilot function (found by handler)."""
    from autopilot.contract import FUNCTIONS

    handlers = {spec.handler: spec.name for spec in FUNCTIONS.values()}
    out: list[tuple[str, str]] = []
    for page in lam.get_paginator("list_functions").paginate():
        for fn in page["Functions"]:
            short = handlers.get(fn.get("Handler", ""))
            if short is None or (only and short not in only and fn["FunctionName"] not in only):
                continue
            dlq = (fn.get("DeadLetterConfig") or {}).get("TargetArn")
            if dlq and ":sqs:" in dlq:
                out.append((fn["FunctionName"], dlq))
    return out


def redrive_account(
    *,
    endpoint: str | None = None,
    functions: list[str] | None = None,
    dry_run: bool = False,
    lam: Any = None,
    sqs: Any = None,
) -> RedriveReport:
    """Re-invoke each DLQ'd event asynchronously; delete the message once Lambda took it."""
    import boto3

    kwargs: dict[str, Any] = {"endpoint_url": endpoint} if endpoint else {}
    lam = lam or boto3.client("lambda", **kwargs)
    sqs = sqs or boto3.client("sqs", **kwargs)

    def hand_over(function: str, event: dict[str, Any]) -> tuple[bool, str | None]:
        try:
            out = lam.invoke(
                FunctionName=function, InvocationType="Event", Payload=json.dumps(event).encode()
            )
        except Exception as exc:
            return False, f"{type(exc).__name__}: {exc}"
        status = int(out.get("StatusCode", 0))
        return (status == 202, None if status == 202 else f"Invoke answered {status}")

    return _drive(sqs, account_queues(lam, functions), hand_over, dry_run=dry_run)


# ---------------------------------------------------------------------------- the sandbox
def sandbox_queues(router: Any, only: list[str] | None = None) -> list[tuple[str, str]]:
    return [
        (fn.name, fn.dead_letter_arn)
        for fn in router.functions.values()
        if fn.dead_letter_arn and (not only or fn.short_name in only or fn.name in only)
    ]


def redrive_sandbox(
    sb: Any, *, functions: list[str] | None = None, dry_run: bool = False
) -> RedriveReport:
    """In-process: route each DLQ'd event back to its function, then let the simulator
    carry on with what the reaction changed (deployments and their events)."""
    router, sim = sb.router, sb.simulator

    def hand_over(function: str, event: dict[str, Any]) -> tuple[bool, str | None]:
        fn = router.function(function)
        with sim._lock:  # the simulator routes under this lock too
            res = router.deliver("redrive", fn, event)
            router.history.append(res)
            sim.settle()
        if res.ok:
            return True, None
        # failed again: Lambda's retries ran and the event is back in the DLQ (kept)
        return res.dead_lettered, res.error

    return _drive(sb.clients("sqs"), sandbox_queues(router, functions), hand_over, dry_run=dry_run)


def redrive_control(*, functions: list[str] | None = None, dry_run: bool = False) -> RedriveReport:
    """From another process, against the running `local up` sandbox: the events are put
    back on its bus as they are (``/emit`` with ``as_is``), so they reach their function
    through its rule again."""
    import boto3

    from sandbox.control import call, read_state
    from sandbox.server import client_kwargs

    state = read_state()
    kwargs = client_kwargs(state["endpoint"])
    lam = boto3.client("lambda", **kwargs)
    sqs = boto3.client("sqs", **kwargs)
    queues: list[tuple[str, str]] = []
    for name, arn in _sandbox_dead_letters(state, lam).items():
        short = name.split("-", 1)[-1]
        if not functions or name in functions or short in functions:
            queues.append((name, arn))

    def hand_over(_function: str, event: dict[str, Any]) -> tuple[bool, str | None]:
        doc = call("/emit", {"event": event, "as_is": True})
        routes = doc.get("routes", [])
        failed = [r for r in routes if r.get("matched") and not r.get("ok")]
        if not any(r.get("matched") for r in routes):
            return False, "no rule matches the event any more: left in the queue"
        if failed and not all(r.get("dead_lettered") for r in failed):
            return False, failed[0].get("error")
        return True, (failed[0].get("error") if failed else None)

    return _drive(sqs, queues, hand_over, dry_run=dry_run)


def _sandbox_dead_letters(state: dict[str, Any], lam: Any) -> dict[str, str]:
    """Function name -> DLQ ARN: moto's Lambda keeps no DeadLetterConfig, the template does."""
    import boto3
    from autopilot.contract import FUNCTIONS

    from sandbox import moto_adjustments as adj
    from sandbox.server import client_kwargs

    handlers = {spec.handler for spec in FUNCTIONS.values()}
    names = {
        fn["FunctionName"]
        for page in lam.get_paginator("list_functions").paginate()
        for fn in page["Functions"]
        if fn.get("Handler") in handlers
    }
    cfn = boto3.client("cloudformation", **client_kwargs(state["endpoint"]))
    out: dict[str, str] = {}
    for stack in cfn.describe_stacks().get("Stacks", []):
        template = cfn.get_template(StackName=stack["StackName"])["TemplateBody"]
        if isinstance(template, str):
            template = json.loads(template)
        physical = {
            r["LogicalResourceId"]: r.get("PhysicalResourceId", "")
            for page in cfn.get_paginator("list_stack_resources").paginate(
                StackName=stack["StackName"]
            )
            for r in page["StackResourceSummaries"]
        }
        for name, arn in adj.dead_letter_targets(template, physical).items():
            if name in names:
                out[name] = arn
    return out


# ---------------------------------------------------------------------------- the CLI
def register_cli(root: Any) -> None:
    """`autopilot redrive [--dry-run] [--function NAME]... [--account] [--endpoint-url URL]`
    (``--endpoint-url`` is one of the global options ``cli.parsing.command`` adds)."""
    from cli.parsing import command, option

    command(
        root,
        "redrive",
        cmd_redrive,
        help="replay the events in the functions' dead-letter queues (sandbox or account)",
        example=[
            "autopilot redrive --dry-run",
            "autopilot redrive --function image-events --account --region eu-west-1",
        ],
        params=[
            option("--dry-run", is_flag=True, help="list what would be redriven; keep it"),
            option(
                "--function",
                "functions",
                multiple=True,
                metavar="FUNCTION",
                help="only this function's DLQ (image-events, ... or the deployed name); "
                "repeatable",
            ),
            option(
                "--account",
                is_flag=True,
                help="against the AWS account your credentials name (lambda Invoke, Event), "
                "even if a sandbox is running",
            ),
        ],
    )


def cmd_redrive(args: Any) -> int:
    from cli.output import EXIT_FAILED, EXIT_OK, UsageError, out, print_json
    from sandbox.control import NoSandbox

    try:
        if args.account or args.endpoint:
            report = redrive_account(
                endpoint=args.endpoint, functions=args.functions, dry_run=args.dry_run
            )
        else:
            report = redrive_control(functions=args.functions, dry_run=args.dry_run)
    except NoSandbox as exc:
        raise UsageError(f"{exc} (or pass --account to redrive in your AWS account)") from exc
    if args.output == "json":
        print_json(report.to_json())
    else:
        verb = "would redrive" if report.dry_run else "redriven"
        for m in report.messages:
            mark = "ok" if m.ok else "XX"
            out(
                f"{mark} {m.function}: {m.detail_type} {m.event_id}"
                + (f" ({m.error})" if m.error else "")
            )
        out(f"{len(report.messages) - len(report.failed)} {verb}, {len(report.failed)} failed")
    return EXIT_FAILED if report.failed else EXIT_OK
