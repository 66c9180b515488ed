"""botocore hooks on the functions' own AWS clients: count every call, inject faults.

``install()`` wraps ``autopilot.aws.clients._make`` (where every client the
functions use is built) so each new client gets two handlers on its event system:

- ``before-parameter-build``: records ``(service, Operation, params)`` once per API call (botocore's
  retries happen after it), into ``HOOKS.calls``;
- ``before-send``: once per HTTP attempt, with probability ``HOOKS.fault_rate`` (seeded),
  answers instead of the server: a ``ThrottlingException`` (400), an ``InternalFailure``
  (500), or raises a ``ReadTimeoutError``. The request then never reaches the server, so
  a retried attempt can't double-apply; botocore's standard retry mode sees exactly what
  AWS would send.

A kill mid-flight (``kill_after(n)``): once the ``n``-th call from now has been answered
(its change made), the invocation is dead: that call and every later one raise
``Killed``, a ``BaseException``, so neither ``except Exception`` nor a ``finally`` block
in the functions reaches AWS again, as when Lambda stops a timed-out or crashed
invocation. ``revive()`` ends it.

Only the functions' clients are hooked: the sandbox's own clients (simulator, router's
dead-letter queue) never see a fault. botocore's backoff sleeps are scaled by
``HOOKS.backoff_scale`` (default 0.02) so thousands of retries fit in minutes; the retry
decisions and attempt counts are botocore's own.
"""

# ruff: noqa: PLC0415 - imports are deferred

from __future__ import annotations

import json
import os
import random
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

READ_PREFIXES = ("Describe", "List", "Get", "Query", "Scan", "BatchGet")


def is_mutating(operation: str) -> bool:
    return not operation.startswith(READ_PREFIXES)


class Killed(BaseException):
    """The invocation was stopped mid-flight (``Hooks.kill_after``)."""


@dataclass
class Call:
    service: str
    operation: str
    params: dict[str, Any]
    thread: int
    function: str = ""  # the deployed function making the call (AWS_LAMBDA_FUNCTION_NAME)
    ok: bool | None = None  # None: no answer (e.g. a timeout after the retries)
    note: dict[str, Any] = field(default_factory=dict)  # what observers learned

    @property
    def mutating(self) -> bool:
        return is_mutating(self.operation)


@dataclass
class Hooks:
    calls: list[Call] = field(default_factory=list)
    fault_rate: float = 0.0
    fault_kinds: tuple[str, ...] = ("throttle", "500", "timeout")
    backoff_scale: float = 0.02
    faults: Counter[str] = field(default_factory=Counter)
    attempts: int = 0
    observers: list[Any] = field(default_factory=list)
    #: if set, only these operations fail (e.g. {"UpdateService"}); else every call may
    fault_operations: frozenset[str] | None = None
    #: calls left until the kill (None: no kill armed); ``dead``: the kill happened
    kill_in: int | None = None
    dead: bool = False
    killed_after: str = ""
    #: the thread of the invocation to kill (the simulator's reactions, and the functions
    #: they invoke, run on the sandbox server's threads: never killed, never counted)
    kill_thread: int | None = None
    _current: threading.local = field(default_factory=threading.local)
    _rng: random.Random = field(default_factory=lambda: random.Random(0))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def seed(self, seed: int) -> None:
        self._rng = random.Random(seed)

    def reset(self) -> None:
        with self._lock:
            self.calls = []
            self.faults = Counter()
            self.attempts = 0

    def kill_after(self, n: int) -> None:
        """Kill the invocation running on this thread once its ``n``-th call from now (1:
        the next) is answered."""
        self.kill_in, self.dead, self.killed_after = n, False, ""
        self.kill_thread = threading.get_ident()

    def revive(self) -> None:
        self.kill_in, self.dead, self.kill_thread = None, False, None

    def _mine(self) -> bool:
        return self.kill_thread is not None and threading.get_ident() == self.kill_thread

    def mark(self) -> int:
        return len(self.calls)

    def since(self, mark: int) -> list[Call]:
        return self.calls[mark:]

    # -- botocore handlers -----------------------------------------------------------
    def before_call(self, model: Any, params: Any, context: Any = None, **_kw: Any) -> None:
        if self.dead and self._mine():
            raise Killed(f"{model.name} after the kill ({self.killed_after})")
        service = model.service_model.endpoint_prefix
        call = Call(
            service,
            model.name,
            dict(params or {}),
            threading.get_ident(),
            os.environ.get("AWS_LAMBDA_FUNCTION_NAME", ""),
        )
        if isinstance(context, dict):
            context["reliability_call"] = call
        self._current.operation = model.name
        for observe in list(self.observers):
            observe(call)
        with self._lock:
            self.calls.append(call)

    def after_call(self, parsed: Any = None, context: Any = None, **_kw: Any) -> None:
        call = context.get("reliability_call") if isinstance(context, dict) else None
        if call is not None:
            call.ok = not (isinstance(parsed, dict) and "Error" in parsed)
            if call.ok and call.operation == "RegisterTaskDefinition" and isinstance(parsed, dict):
                call.note["arn"] = parsed["taskDefinition"]["taskDefinitionArn"]
            if self.kill_in is not None and self._mine():
                self.kill_in -= 1
                if self.kill_in <= 0:
                    self.kill_in, self.dead = None, True
                    self.killed_after = call.operation
                    raise Killed(f"after {call.operation} was answered")

    def before_send(self, request: Any, protocol: str = "json", **_kw: Any) -> Any:
        with self._lock:
            self.attempts += 1
            if self.fault_rate <= 0 or (
                self.fault_operations is not None
                and getattr(self._current, "operation", None) not in self.fault_operations
            ):
                return None
            if self._rng.random() >= self.fault_rate:
                return None
            kind = self._rng.choice(self.fault_kinds)
            self.faults[kind] += 1
        return fault_response(kind, protocol, request.url)


HOOKS = Hooks()
_installed = False
_saved: dict[str, Any] = {}


class _Raw:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_kw: Any) -> Any:
        yield self._body

    def read(self, *_a: Any) -> bytes:
        return self._body


def _cbor_text(value: str) -> bytes:
    data = value.encode()
    n = len(data)
    head = (
        bytes([0x60 + n])
        if n < 24
        else (bytes([0x78, n]) if n < 256 else bytes([0x79]) + n.to_bytes(2, "big"))
    )
    return head + data


def fault_response(kind: str, protocol: str, url: str) -> Any:
    """What AWS answers when it throttles or fails, in the service's protocol."""
    from botocore.awsrequest import AWSResponse
    from botocore.exceptions import ReadTimeoutError

    if kind == "timeout":
        raise ReadTimeoutError(endpoint_url=url)
    throttle = kind == "throttle"
    status = 400 if throttle else 500
    message = "injected by reliability.hooks"
    if protocol in ("json", "rest-json"):
        code = "ThrottlingException" if throttle else "InternalFailure"
        body = json.dumps({"__type": code, "message": message}).encode()
        headers = {"Content-Type": "application/x-amz-json-1.1", "x-amzn-ErrorType": code}
    elif protocol == "smithy-rpc-v2-cbor":
        code = "ThrottlingException" if throttle else "InternalFailure"
        body = bytes([0xA2]) + _cbor_text("__type") + _cbor_text(code)
        body += _cbor_text("message") + _cbor_text(message)
        headers = {"Content-Type": "application/cbor", "smithy-protocol": "rpc-v2-cbor"}
    elif protocol == "ec2":
        code = "RequestLimitExceeded" if throttle else "InternalError"
        body = (
            f"<Response><Errors><Error><Code>{code}</Code><Message>{message}</Message>"
            "</Error></Errors><RequestID>0</RequestID></Response>"
        ).encode()
        headers = {"Content-Type": "text/xml"}
    else:  # query (SNS, Auto Scaling)
        code = "Throttling" if throttle else "InternalFailure"
        body = (
            f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code>"
            f"<Message>{message}</Message></Error><RequestId>0</RequestId></ErrorResponse>"
        ).encode()
        headers = {"Content-Type": "text/xml"}
    return AWSResponse(url, status, headers, _Raw(body))  # type: ignore[arg-type]


class _DedupPaths(list):  # type: ignore[type-arg]
    """boto3 appends its data path to the loader's search paths on every new Session."""

    def append(self, value: Any) -> None:
        if value not in self:
            super().append(value)


_LOADER: Any = None


def _session() -> Any:
    """A fresh boto3 session per function invocation (as the sandbox does), sharing one
    botocore data loader: the service models are parsed once per process, as in a warm
    Lambda container, instead of once per invocation (which dominated the run time)."""
    global _LOADER  # noqa: PLW0603
    import boto3
    import botocore.loaders
    import botocore.session

    if _LOADER is None:
        _LOADER = botocore.loaders.create_loader()
        _LOADER._search_paths = _DedupPaths(_LOADER._search_paths)
    core = botocore.session.Session()
    core.register_component("data_loader", _LOADER)
    return boto3.session.Session(botocore_session=core)


def install() -> Hooks:
    """Hook every client the functions build from now on (idempotent)."""
    global _installed  # noqa: PLW0603
    if _installed:
        return HOOKS
    from autopilot.aws import clients
    from botocore.retries import standard

    original = clients._make
    _saved.update(
        make=clients._make, session=clients._session, delay=standard.ExponentialBackoff.delay_amount
    )

    def _make(session: Any, service: str) -> Any:
        client = original(session, service)
        client.meta.events.register("before-parameter-build", HOOKS.before_call)
        client.meta.events.register("after-call", HOOKS.after_call)
        # The protocol the client speaks: botocore picks one of the model's ``protocols``
        # (tagging and CloudWatch list CBOR first, yet this botocore speaks JSON to them).
        protocol = client.meta.service_model.resolved_protocol

        def before_send(request: Any, **kw: Any) -> Any:
            return HOOKS.before_send(request, protocol=protocol, **kw)

        client.meta.events.register("before-send", before_send)
        return client

    clients._make = _make
    clients._session = _session

    delay = standard.ExponentialBackoff.delay_amount

    def scaled(self: Any, context: Any) -> float:
        return float(delay(self, context)) * HOOKS.backoff_scale

    # every client's retries wait through this method: replacing it on the class scales them
    standard.ExponentialBackoff.delay_amount = scaled  # type: ignore[method-assign]
    _installed = True
    return HOOKS


def uninstall() -> None:
    """Undo ``install()`` (clients built afterwards are plain again)."""
    global _installed  # noqa: PLW0603
    if not _installed:
        return
    from autopilot.aws import clients
    from botocore.retries import standard

    clients._make = _saved["make"]
    clients._session = _saved["session"]
    standard.ExponentialBackoff.delay_amount = _saved["delay"]  # type: ignore[method-assign]  # put back
    HOOKS.reset()
    HOOKS.observers.clear()
    HOOKS.fault_rate = 0.0
    _installed = False
