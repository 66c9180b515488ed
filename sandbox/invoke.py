"""`autopilot invoke` and `autopilot history`: one handler or the ledger, against any endpoint.

The endpoint is whatever ``--endpoint`` or ``AWS_ENDPOINT_URL`` names: the sandbox (fake
credentials are used on loopback) or, with neither, AWS itself with the standard
credential chain. The function's environment comes from the deployed function whose
handler is the contract's handler for that name.
"""

# ruff: noqa: PLC0415 - imports are deferred: moto, boto3 and the handlers load only where used

from __future__ import annotations

import contextlib
import importlib
import ipaddress
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

from sandbox.router import (
    FunctionInfo,
    LambdaContext,
    _CapturedOutput,
    load_handler,
    reset_function_caches,
)
from sandbox.server import FAKE_ENV, REGION, patched_environ

#: operation name prefixes that only read
READ_PREFIXES = (
    "Describe",
    "List",
    "Get",
    "Query",
    "Scan",
    "BatchGet",
    "Head",
    "Search",
    "Lookup",
    "Test",
)


class InvokeError(ValueError):
    """Bad input for invoke/history: unknown function, no such table, ..."""


@dataclass
class InvokeOutcome:
    function: str
    function_name: str | None
    endpoint: str | None
    dry_run: bool
    report: dict[str, Any] | None = None
    error: str | None = None
    bad_input: bool = False
    calls: list[str] = field(default_factory=list)
    logs: str = ""

    @property
    def mutating_calls(self) -> list[str]:
        return [c for c in self.calls if not c.split(":", 1)[-1].startswith(READ_PREFIXES)]

    def to_json(self) -> dict[str, Any]:
        return {
            "function": self.function,
            "function_name": self.function_name,
            "endpoint": self.endpoint,
            "dry_run": self.dry_run,
            "ok": self.error is None,
            "error": self.error,
            "report": self.report,
            "aws_calls": self.calls,
            "mutating_calls": self.mutating_calls,
        }


def is_loopback(endpoint: str | None) -> bool:
    if not endpoint:
        return False
    host = urlparse(endpoint).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _env(endpoint: str | None) -> dict[str, str]:
    env: dict[str, str] = {}
    if endpoint:
        env["AWS_ENDPOINT_URL"] = endpoint
    if is_loopback(endpoint):
        env.update(FAKE_ENV)
    elif not (os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")):
        env["AWS_DEFAULT_REGION"] = REGION
    return env


def _client(service: str, endpoint: str | None) -> Any:
    import boto3

    kwargs: dict[str, Any] = {}
    if endpoint:
        kwargs["endpoint_url"] = endpoint
    with patched_environ(_env(endpoint)):
        return boto3.session.Session().client(service, **kwargs)  # type: ignore[call-overload]


def _contract() -> dict[str, Any]:
    from autopilot.contract import FUNCTIONS

    return dict(FUNCTIONS)


def deployed_function(
    function: str, endpoint: str | None, function_name: str | None = None
) -> dict[str, Any] | None:
    """The deployed configuration of the contract's function (None if it cannot be read)."""
    specs = _contract()
    spec = specs.get(function)
    lam = _client("lambda", endpoint)
    try:
        if function_name:
            cfg: dict[str, Any] = lam.get_function_configuration(FunctionName=function_name)
            return cfg
        found = [
            f
            for page in lam.get_paginator("list_functions").paginate()
            for f in page["Functions"]
            if spec is not None and f.get("Handler") == spec.handler
        ]
    except Exception as exc:
        if function_name:
            raise InvokeError(f"cannot read function {function_name}: {exc}") from exc
        return None
    if len(found) > 1:
        names = ", ".join(f["FunctionName"] for f in found)
        raise InvokeError(
            f"several deployed functions run {function}: {names}; choose one with --function-name"
        )
    return found[0] if found else None


@contextlib.contextmanager
def watch_calls(calls: list[str]) -> Iterator[None]:
    """Record every AWS API call made in this process (service:Operation)."""
    from botocore.client import BaseClient

    original = BaseClient._make_api_call

    def recording(self: Any, operation_name: str, api_params: dict[str, Any]) -> Any:
        calls.append(f"{self.meta.service_model.service_name}:{operation_name}")
        return original(self, operation_name, api_params)

    BaseClient._make_api_call = recording  # type: ignore[method-assign]
    try:
        yield
    finally:
        BaseClient._make_api_call = original  # type: ignore[method-assign]


def invoke(
    function: str,
    event: dict[str, Any],
    *,
    endpoint: str | None = None,
    dry_run: bool = False,
    function_name: str | None = None,
) -> InvokeOutcome:
    specs = _contract()
    if function not in specs:
        raise InvokeError(f"unknown function {function!r}; one of: {', '.join(specs)}")
    spec = specs[function]
    cfg = deployed_function(function, endpoint, function_name)
    fn_env = dict((cfg or {}).get("Environment", {}).get("Variables", {}))
    info = FunctionInfo(
        name=(cfg or {}).get("FunctionName", function),
        arn=(cfg or {}).get("FunctionArn", function),
        handler=spec.handler,
        environment=fn_env,
        timeout=int((cfg or {}).get("Timeout", 60)),
    )
    outcome = InvokeOutcome(function, (cfg or {}).get("FunctionName"), endpoint, dry_run)
    env = {**_env(endpoint), **fn_env, "POWERTOOLS_TRACE_DISABLED": "true"}
    if cfg is not None:
        env.setdefault("AWS_LAMBDA_FUNCTION_NAME", info.name)
    output = _CapturedOutput()
    with patched_environ(env):
        reset_function_caches()
        try:
            with output, watch_calls(outcome.calls):
                if dry_run:
                    module = importlib.import_module(spec.handler.rpartition(".")[0])
                    run = getattr(module, "run", None)
                    if run is None:
                        raise InvokeError(
                            f"{function} has no run() to plan with: --dry-run is not available"
                        )
                    result: Any = run(event, dry_run=True)
                else:
                    result = load_handler(spec.handler)(event, LambdaContext(info))
            if hasattr(result, "model_dump"):
                result = result.model_dump(mode="json")
            outcome.report = result if isinstance(result, dict) else {"result": result}
        except InvokeError:
            raise
        except ImportError as exc:
            raise InvokeError(
                f"{function}'s handler {spec.handler} cannot be imported: {exc}"
            ) from exc
        except Exception as exc:
            outcome.error = f"{type(exc).__name__}: {exc}"
            outcome.bad_input = _is_bad_input(exc)
        finally:
            reset_function_caches()
    outcome.logs = output.text
    return outcome


def _is_bad_input(exc: BaseException) -> bool:
    try:
        from autopilot.errors import InvalidEvent
    except ImportError:  # pragma: no cover
        return False
    return isinstance(exc, InvalidEvent)


def history(
    service: str, *, endpoint: str | None = None, table: str | None = None, limit: int = 50
) -> list[dict[str, Any]]:
    """The ledger's decisions for one service (name or ARN), newest first."""
    env: dict[str, str] = {}
    if not table or not service.startswith("arn:"):
        for name in _contract():
            cfg = deployed_function(name, endpoint)
            if cfg:
                env = dict(cfg.get("Environment", {}).get("Variables", {}))
                break
    table = table or env.get("LEDGER_TABLE") or os.environ.get("LEDGER_TABLE")
    if not table:
        raise InvokeError("no ledger table: none deployed at this endpoint; pass --table")
    arn = service
    if not service.startswith("arn:"):
        cluster = env.get("CLUSTER_ARN") or os.environ.get("CLUSTER_ARN")
        if not cluster:
            raise InvokeError(f"cannot tell {service}'s ARN: pass the service ARN")
        arn = cluster.replace(":cluster/", ":service/") + "/" + service
    from autopilot.adapters.ledger import Ledger

    db = _client("dynamodb", endpoint)
    try:
        return Ledger(db, table).list_decisions(arn, limit=limit)
    except Exception as exc:
        raise InvokeError(f"cannot read the ledger {table}: {exc}") from exc
