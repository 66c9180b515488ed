"""Route events the way EventBridge would, to handlers run in-process.

The rules and their patterns are read back from the deployed stack (``ListRules``,
``ListTargetsByRule``), the target function's handler and environment from the deployed
Lambda (``GetFunction``); patterns are matched with moto's EventBridge matcher; each
matching target's handler is imported from its handler string and called with the
function's environment, AWS clients pointed at the sandbox, and a Lambda-like context.

A handler that raises is a failed asynchronous invocation: Lambda retries it twice, then
the event goes, intact, to the function's dead-letter queue.

Schedule rules (a ``ScheduleExpression``, no pattern) are loaded too: EventBridge fires
them on its clock, here ``Router.tick()`` does, sending each target the ``Scheduled Event``
AWS sends (source ``aws.events``, ``resources`` = the rule's ARN). Such an event matches
the schedule rule its ``resources`` name (that is what ``local emit`` of
``events/scheduled-event-recheck.json`` does), and no pattern rule.

Events a function puts on the default bus (``PutEvents``: the reconciler's shards) reach
the rules too: moto keeps them (``moto_adjustments.take_put_events``), and after each
delivery the router hands them to ``on_put`` (the simulator queues them, so they are
routed in order, on the timeline) or, with none set, routes them itself.
"""

# ruff: noqa: PLC0415 - imports are deferred: moto, boto3 and the handlers load only where used

from __future__ import annotations

import contextlib
import importlib
import io
import json
import logging
import os
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, cast

from sandbox.server import ACCOUNT_ID, FAKE_ENV, REGION, Clients, patched_environ
from sandbox.synth import REPO_ROOT

if TYPE_CHECKING:
    from moto.events.utils import EventMessageType

#: Lambda's asynchronous invocation retries (the default, unless an EventInvokeConfig says otherwise)  # noqa: E501
DEFAULT_ASYNC_RETRIES = 2


@dataclass(frozen=True)
class FunctionInfo:
    name: str  # deployed name, e.g. demo-image-events
    arn: str
    handler: str  # e.g. autopilot.handlers.image_events.handler
    environment: dict[str, str]
    timeout: int = 3
    memory: int = 128
    dead_letter_arn: str | None = None
    retries: int = DEFAULT_ASYNC_RETRIES

    @property
    def short_name(self) -> str:
        """The contract's name for this function (image-events, ...), by its handler."""
        try:
            from autopilot.contract import FUNCTIONS
        except ImportError:  # pragma: no cover
            return self.name
        for spec in FUNCTIONS.values():
            if spec.handler == self.handler:
                return spec.name
        return self.name


SCHEDULED_SOURCE = "aws.events"
SCHEDULED_DETAIL_TYPE = "Scheduled Event"


@dataclass(frozen=True)
class RuleInfo:
    name: str
    arn: str
    pattern: dict[str, Any]
    function_arns: tuple[str, ...]
    #: ``rate(...)``/``cron(...)`` of a schedule rule (which has no pattern), else None
    schedule: str | None = None

    def matches(self, event: dict[str, Any]) -> bool:
        if self.schedule is not None:
            # what EventBridge sends when this schedule fires: its resources name the rule
            return (
                event.get("source") == SCHEDULED_SOURCE
                and event.get("detail-type") == SCHEDULED_DETAIL_TYPE
                and any(
                    r == self.arn or str(r).endswith(f":rule/{self.name}")
                    for r in event.get("resources") or []
                )
            )
        from moto.events.models import EventPattern

        # an event as the bus carries it: moto's TypedDict of the envelope's keys
        envelope = cast("EventMessageType", event)
        return bool(EventPattern.load(json.dumps(self.pattern)).matches_event(envelope))

    def scheduled_event(self) -> dict[str, Any]:
        """The event this schedule rule's targets get when it fires (AWS's shape)."""
        return normalize_event(
            {
                "source": SCHEDULED_SOURCE,
                "detail-type": SCHEDULED_DETAIL_TYPE,
                "resources": [self.arn],
                "detail": {},
            }
        )


@dataclass
class RouteResult:
    """One rule's delivery of one event to one function, or an unmatched event."""

    event_id: str
    detail_type: str
    rule: str | None = None
    function: str | None = None  # contract name (image-events)
    function_name: str | None = None  # deployed name
    ok: bool = True
    report: dict[str, Any] | None = None
    error: str | None = None
    attempts: int = 0
    dead_lettered: bool = False
    duration_ms: float = 0.0
    logs: str = ""

    @property
    def matched(self) -> bool:
        return self.rule is not None

    def to_json(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "detail_type": self.detail_type,
            "matched": self.matched,
            "rule": self.rule,
            "function": self.function,
            "function_name": self.function_name,
            "ok": self.ok,
            "attempts": self.attempts,
            "dead_lettered": self.dead_lettered,
            "error": self.error,
            "report": self.report,
            "duration_ms": round(self.duration_ms, 1),
        }


class HandlerImportError(RuntimeError):
    """The function's handler cannot be imported (Lambda's Runtime.ImportModuleError)."""


class LambdaContext:
    """What Lambda passes as ``context`` (the attributes Powertools reads). ``request_id``:
    one asynchronous invocation's, which Lambda's retries of it keep (a fresh one if None)."""

    def __init__(self, fn: FunctionInfo, request_id: str | None = None) -> None:
        self.function_name = fn.name
        self.function_version = "$LATEST"
        self.invoked_function_arn = fn.arn
        self.memory_limit_in_mb = fn.memory
        self.aws_request_id = request_id or str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{fn.name}"
        self.log_stream_name = time.strftime("%Y/%m/%d/[$LATEST]") + uuid.uuid4().hex
        self._deadline = time.monotonic() + fn.timeout

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def lambda_environment(fn: FunctionInfo, endpoint: str) -> dict[str, str]:
    """The variables Lambda sets, the function's own, and the sandbox's endpoint."""
    return {
        **FAKE_ENV,
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_LAMBDA_FUNCTION_NAME": fn.name,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(fn.memory),
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{fn.name}",
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
        "LAMBDA_TASK_ROOT": str(REPO_ROOT / "functions"),
        # no X-Ray daemon here (SAM local does the same): Powertools' Tracer stays off
        "POWERTOOLS_TRACE_DISABLED": "true",
        **fn.environment,
    }


def reset_function_caches() -> None:
    """Forget clients and settings the handlers built for the previous environment."""
    try:
        from autopilot.settings import get_settings

        get_settings.cache_clear()
    except ImportError:  # pragma: no cover
        pass
    try:
        clients = importlib.import_module("autopilot.aws.clients")
    except ImportError:
        return
    reset = getattr(clients, "reset_clients", None)
    if callable(reset):
        reset()


def load_handler(handler: str) -> Any:
    """Import ``package.module.function`` as Lambda's Python runtime does."""
    functions_dir = str(REPO_ROOT / "functions")
    if functions_dir not in sys.path:
        sys.path.insert(0, functions_dir)
    module_name, _, attr = handler.rpartition(".")
    module = importlib.import_module(module_name)
    return getattr(module, attr)


class _CapturedOutput:
    """Capture what the function writes (Lambda sends it to its log stream, not our terminal).

    Python-level writes (``sys.stdout``/``sys.stderr`` and every logging ``StreamHandler``,
    such as Powertools' Logger, which keeps the stream it found at import) and
    file-descriptor-level writes (1 and 2) are all captured.
    """

    def __init__(self) -> None:
        self.text = ""

    @staticmethod
    def _stream_handlers() -> list[logging.StreamHandler[Any]]:
        loggers = [logging.getLogger()] + [
            lg
            for lg in logging.Logger.manager.loggerDict.values()
            if isinstance(lg, logging.Logger)
        ]
        return [
            h
            for lg in loggers
            for h in lg.handlers
            if (
                type(h) is logging.StreamHandler
                or (
                    isinstance(h, logging.StreamHandler)
                    and not isinstance(h, logging.FileHandler)
                    and "Capture" not in type(h).__name__
                )
            )
            # a handler left on a stream closed since (a test runner's capture of an
            # earlier test) writes nowhere: swapping its stream would flush the closed one
            and not getattr(h.stream, "closed", False)
        ]

    def __enter__(self) -> _CapturedOutput:
        sys.stdout.flush()
        sys.stderr.flush()
        self._buffer = io.StringIO()
        self._handlers = [(h, h.setStream(self._buffer)) for h in self._stream_handlers()]
        self._sys = (sys.stdout, sys.stderr)
        sys.stdout = sys.stderr = self._buffer
        self._tmp = tempfile.TemporaryFile(mode="w+b")
        self._saved = (os.dup(1), os.dup(2))
        os.dup2(self._tmp.fileno(), 1)
        os.dup2(self._tmp.fileno(), 2)
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            sys.stdout, sys.stderr = self._sys
            for handler, previous in self._handlers:
                if previous is not None:
                    handler.setStream(previous)
        finally:
            os.dup2(self._saved[0], 1)
            os.dup2(self._saved[1], 2)
            os.close(self._saved[0])
            os.close(self._saved[1])
            self._tmp.seek(0)
            self.text = self._buffer.getvalue() + self._tmp.read().decode(errors="replace")
            self._tmp.close()


def invoke_in_process(
    fn: FunctionInfo,
    event: dict[str, Any],
    endpoint: str,
    *,
    capture: bool = True,
    request_id: str | None = None,
) -> tuple[dict[str, Any] | None, BaseException | None, str]:
    """Run one handler once; returns (result, exception, logs). ``request_id``: the
    invocation's (a retry passes its first attempt's)."""
    output = _CapturedOutput() if capture else None
    result: Any = None
    error: BaseException | None = None
    with patched_environ(lambda_environment(fn, endpoint)):
        reset_function_caches()
        try:
            try:
                handler = load_handler(fn.handler)
            except (ImportError, AttributeError) as exc:  # Lambda: Runtime.ImportModuleError
                raise HandlerImportError(f"Unable to import module '{fn.handler}': {exc}") from exc
            if output is not None:
                with output:
                    result = handler(json.loads(json.dumps(event)), LambdaContext(fn, request_id))
            else:
                result = handler(json.loads(json.dumps(event)), LambdaContext(fn, request_id))
        except Exception as exc:
            error = exc
        finally:
            reset_function_caches()
    if result is not None and hasattr(result, "to_json"):
        result = result.to_json()
    return (
        (
            result
            if isinstance(result, dict)
            else ({"result": result} if result is not None else None)
        ),
        error,
        (output.text if output else ""),
    )


class Router:
    """EventBridge's default bus, as deployed in the sandbox."""

    def __init__(self, clients: Clients, *, dead_letters: dict[str, str] | None = None) -> None:
        self.clients = clients
        self.endpoint = clients.endpoint
        self._dead_letters = dead_letters or {}
        self.rules: list[RuleInfo] = []
        self.functions: dict[str, FunctionInfo] = {}
        self._lock = threading.RLock()
        self.history: list[RouteResult] = []
        #: where the events functions put on the bus go (None: routed here, after the
        #: delivery that put them)
        self.on_put: Callable[[dict[str, Any]], object] | None = None

    def load(self) -> Router:
        """Read the rules, their targets and the target functions back from the sandbox."""
        events = self.clients("events")
        lam = self.clients("lambda")
        rules: list[RuleInfo] = []
        for page in events.get_paginator("list_rules").paginate():
            for r in page["Rules"]:
                schedule = r.get("ScheduleExpression") or None
                if r.get("State") != "ENABLED" or not (r.get("EventPattern") or schedule):
                    continue
                targets = events.list_targets_by_rule(Rule=r["Name"])["Targets"]
                arns = tuple(t["Arn"] for t in targets if ":lambda:" in t["Arn"])
                pattern = json.loads(r["EventPattern"]) if r.get("EventPattern") else {}
                rules.append(RuleInfo(r["Name"], r["Arn"], pattern, arns, schedule))
                for arn in arns:
                    if arn not in self.functions:
                        self.functions[arn] = self._function(lam, arn)
        self.rules = rules
        return self

    def _function(self, lam: Any, arn: str) -> FunctionInfo:
        cfg = lam.get_function(FunctionName=arn)["Configuration"]
        dlq = (cfg.get("DeadLetterConfig") or {}).get("TargetArn") or self._dead_letters.get(
            cfg["FunctionName"]
        )
        retries = DEFAULT_ASYNC_RETRIES
        with contextlib.suppress(Exception):
            retries = int(
                lam.get_function_event_invoke_config(FunctionName=arn).get(
                    "MaximumRetryAttempts", retries
                )
            )
        return FunctionInfo(
            name=cfg["FunctionName"],
            arn=cfg["FunctionArn"],
            handler=cfg["Handler"],
            environment=dict((cfg.get("Environment") or {}).get("Variables", {})),
            timeout=int(cfg.get("Timeout", 3)),
            memory=int(cfg.get("MemorySize", 128)),
            dead_letter_arn=dlq,
            retries=retries,
        )

    @contextlib.contextmanager
    def environment_override(self, name: str, **variables: str) -> Iterator[FunctionInfo]:
        """Run a deployed function with some of its variables changed, for a while (as if
        the config said so): e.g. a scene that needs a longer debounce window than the
        demo config's 1 s to be independent of how fast handlers run here."""
        with self._lock:
            fn = self.function(name)
            changed = replace(fn, environment={**fn.environment, **variables})
            self.functions[fn.arn] = changed
        try:
            yield changed
        finally:
            with self._lock:
                self.functions[fn.arn] = fn

    def function(self, name: str) -> FunctionInfo:
        """A deployed function by its contract name (image-events) or deployed name."""
        for fn in self.functions.values():
            if name in (fn.name, fn.short_name, fn.arn):
                return fn
        raise KeyError(name)

    @property
    def schedules(self) -> list[RuleInfo]:
        """The schedule rules (fired by ``tick``)."""
        return [r for r in self.rules if r.schedule is not None]

    def tick(self) -> list[RouteResult]:
        """Fire every schedule rule once, as EventBridge does on its clock."""
        results: list[RouteResult] = []
        for rule in self.schedules:
            results += self.route(rule.scheduled_event())
        return results

    def matching(self, event: dict[str, Any]) -> list[RuleInfo]:
        return [r for r in self.rules if r.matches(event)]

    def route(self, event: dict[str, Any]) -> list[RouteResult]:
        """Deliver ``event`` to every target of every rule it matches."""
        event = normalize_event(event)
        with self._lock:
            results: list[RouteResult] = []
            for rule in self.matching(event):
                for arn in rule.function_arns:
                    results.append(self.deliver(rule.name, self.functions[arn], event))
            if not results:
                results.append(RouteResult(event_id=event["id"], detail_type=event["detail-type"]))
            self.history.extend(results)
            results += self.route_put_events()
            return results

    def route_put_events(self) -> list[RouteResult]:
        """The events functions put on the default bus since the last look: to ``on_put``,
        or (none set) routed now; the results of those routed."""
        from sandbox.moto_adjustments import take_put_events

        results: list[RouteResult] = []
        for put in take_put_events():
            if self.on_put is not None:
                self.on_put(put)
            else:
                results += self.route(put)
        return results

    def deliver(self, rule: str | None, fn: FunctionInfo, event: dict[str, Any]) -> RouteResult:
        """One asynchronous invocation: the first attempt and Lambda's retries (with the
        first attempt's request id, as Lambda's are), then the DLQ."""
        res = RouteResult(
            event_id=event.get("id", ""),
            detail_type=event.get("detail-type", ""),
            rule=rule,
            function=fn.short_name,
            function_name=fn.name,
        )
        started = time.perf_counter()
        logs: list[str] = []
        request_id = str(uuid.uuid4())
        for attempt in range(1 + fn.retries):
            res.attempts = attempt + 1
            report, error, log_text = invoke_in_process(
                fn, event, self.endpoint, request_id=request_id
            )
            logs.append(log_text)
            if error is None:
                res.ok, res.report, res.error = True, report, None
                break
            res.ok, res.error = False, f"{type(error).__name__}: {error}"
        else:
            res.dead_lettered = self._dead_letter(fn, event, res.error or "", request_id)
        res.duration_ms = (time.perf_counter() - started) * 1000
        res.logs = "".join(logs)
        return res

    def _dead_letter(
        self, fn: FunctionInfo, event: dict[str, Any], error: str, request_id: str
    ) -> bool:
        if not fn.dead_letter_arn:
            return False
        sqs = self.clients("sqs")
        queue_name = fn.dead_letter_arn.rsplit(":", 1)[-1]
        url = sqs.get_queue_url(QueueName=queue_name)["QueueUrl"]
        sqs.send_message(
            QueueUrl=url,
            MessageBody=json.dumps(event),
            MessageAttributes={
                "RequestID": {"DataType": "String", "StringValue": request_id},
                "ErrorCode": {"DataType": "String", "StringValue": "200"},
                "ErrorMessage": {"DataType": "String", "StringValue": error[:250] or "Unhandled"},
            },
        )
        return True


#: what EventBridge puts in every event's envelope (the fields `local emit` insists on)
ENVELOPE_FIELDS = (
    "version",
    "id",
    "detail-type",
    "source",
    "account",
    "time",
    "region",
    "resources",
    "detail",
)


def missing_envelope_fields(event: Any) -> list[str]:
    """The EventBridge envelope fields ``event`` lacks (all of them if it is no object)."""
    if not isinstance(event, dict):
        return list(ENVELOPE_FIELDS)
    return [f for f in ENVELOPE_FIELDS if f not in event]


def rehome_event(event: dict[str, Any]) -> dict[str, Any]:
    """The same event as if it came from the sandbox's account and region.

    Sample events are captured in many accounts and regions; their ARNs name them. Every
    ``:<region>:`` and ``:<account>:`` of the event's own envelope is rewritten to the
    sandbox's, so the deployed rules (whose patterns name the sandbox's ARNs) see them
    as EventBridge would in that account.
    """
    region, account = event.get("region"), event.get("account")
    text = json.dumps(event)
    if isinstance(region, str) and region and region != REGION:
        text = text.replace(f":{region}:", f":{REGION}:").replace(
            f'"region": "{region}"', f'"region": "{REGION}"'
        )
    if isinstance(account, str) and account and account != ACCOUNT_ID:
        text = text.replace(f":{account}:", f":{ACCOUNT_ID}:").replace(
            f'"account": "{account}"', f'"account": "{ACCOUNT_ID}"'
        )
    out: dict[str, Any] = json.loads(text)
    return out


def normalize_event(event: dict[str, Any]) -> dict[str, Any]:
    """Fill the envelope fields EventBridge always sets (an id, the time, account, region)."""
    if not isinstance(event, dict) or "detail-type" not in event or "source" not in event:
        raise ValueError("not an EventBridge event: it needs at least 'source' and 'detail-type'")
    out = dict(event)
    out.setdefault("version", "0")
    out.setdefault("id", str(uuid.uuid4()))
    out.setdefault("account", ACCOUNT_ID)
    out.setdefault("region", REGION)
    out.setdefault("time", time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
    out.setdefault("resources", [])
    out.setdefault("detail", {})
    return out
