"""`autopilot invoke`, and where the operator commands (`history`, `status`, `approve`,
`reject`, `pause`, `resume`) act: one handler or the ledger, against any endpoint.

The endpoint is whatever ``--endpoint`` or ``AWS_ENDPOINT_URL`` names: the sandbox (fake
credentials are used on loopback) or, with neither, AWS itself with the standard
credential chain. The function's environment comes from the deployed function whose
handler is the contract's handler for that name. (`autopilot invoke` with no endpoint,
profile or ``--aws`` first starts a throwaway sandbox and passes its endpoint here:
``cli.main._throwaway_sandbox``.)
"""

# ruff: noqa: PLC0415 - imports are deferred: moto, boto3 and the handlers load only where used

from __future__ import annotations

import contextlib
import importlib
import ipaddress
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from autopilot.aws.clients import AwsClients
from autopilot.contract import DEFAULT_PAUSE_TIMEOUT_MINUTES
from autopilot.logic.policy import SCAN_STRICTNESS, Floors, ScanGate

from cli import controls
from cli.adopt import ControlPlane, RolePatterns
from cli.controls import Target
from cli.output import AwsAccessError, access_problem
from sandbox.router import (
    FunctionInfo,
    LambdaContext,
    _CapturedOutput,
    load_handler,
    reset_function_caches,
)
from sandbox.server import FAKE_ENV, patched_environ

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
    #: run against a throwaway in-process sandbox (``autopilot invoke`` with no endpoint)
    throwaway: bool = False

    @property
    def mutating_calls(self) -> list[str]:
        return [c for c in self.calls if not c.split(":", 1)[-1].startswith(READ_PREFIXES)]

    def to_json(self) -> dict[str, Any]:
        return {
            "function": self.function,
            "function_name": self.function_name,
            "endpoint": self.endpoint,
            "dry_run": self.dry_run,
            "throwaway_sandbox": self.throwaway,
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
        if access_problem(exc):
            raise  # the real error: not "no function", "no ledger table"
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

    # botocore's stubs leave out the private _make_api_call, through which every call goes
    original = BaseClient._make_api_call  # type: ignore[attr-defined]

    def recording(self: Any, operation_name: str, api_params: dict[str, Any]) -> Any:
        calls.append(f"{self.meta.service_model.service_name}:{operation_name}")
        return original(self, operation_name, api_params)

    BaseClient._make_api_call = recording  # type: ignore[attr-defined]
    try:
        yield
    finally:
        BaseClient._make_api_call = original  # type: ignore[attr-defined]


def check_function(function: str) -> None:
    """``InvokeError`` unless ``function`` is one of the contract's functions."""
    specs = _contract()
    if function not in specs:
        raise InvokeError(f"unknown function {function!r}; one of: {', '.join(specs)}")


def invoke(
    function: str,
    event: dict[str, Any],
    *,
    endpoint: str | None = None,
    dry_run: bool = False,
    function_name: str | None = None,
) -> InvokeOutcome:
    check_function(function)
    spec = _contract()[function]
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
            if hasattr(result, "to_json"):
                result = result.to_json()
            outcome.report = result if isinstance(result, dict) else {"result": result}
        except InvokeError:
            raise
        except ImportError as exc:
            raise InvokeError(
                f"{function}'s handler {spec.handler} cannot be imported: {exc}"
            ) from exc
        except Exception as exc:
            problem = access_problem(exc)
            if problem:
                raise AwsAccessError(problem) from exc
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


# --------------------------------------------------------------------------- operator
#: the stack outputs the operator commands read: the control plane's (``EcsAutopilot-<env>``)
#: and, for the clusters of an estate built with it, each estate stack's ``ClusterArn``
OUT_TABLE, OUT_CLUSTER, OUT_TOPIC = "LedgerTableName", "ClusterArn", "NoticesTopicArn"
OUT_MANAGED_CLUSTERS = "ManagedClusterArns"
OUT_REPOSITORIES = "ManagedRepositories"
OUT_PASS_ROLES = "PassRoles"
OUT_MIN_SCAN_GATE = "MinScanGate"
OUT_MANUAL_APPROVAL = "ManualApprovalClusterArns"
OUT_RETENTION_PREFIX = "RetentionPrefix"


#: the environment variable naming a ``cdk deploy --outputs-file`` file (``--outputs-file``)
OUTPUTS_FILE_ENV = "AUTOPILOT_OUTPUTS_FILE"


def outputs_file() -> dict[str, dict[str, str]] | None:
    """The stacks' outputs from the file ``$AUTOPILOT_OUTPUTS_FILE`` names, as ``cdk deploy
    --outputs-file`` writes it (stack name -> output key -> value); None when no file is
    named. A file that cannot be used is an ``InvokeError`` naming it and the problem."""
    import json

    path = os.environ.get(OUTPUTS_FILE_ENV)
    if not path:
        return None
    where = f"--outputs-file {path}"
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InvokeError(f"{where}: no such file") from None
    except OSError as exc:
        raise InvokeError(f"{where}: cannot read it ({exc.strerror})") from None
    except ValueError as exc:
        raise InvokeError(f"{where}: not JSON ({exc})") from None
    if not isinstance(doc, dict) or not all(
        isinstance(v, dict) and all(isinstance(x, str) for x in v.values()) for v in doc.values()
    ):
        raise InvokeError(
            f"{where}: not what cdk deploy --outputs-file writes "
            '({"<stack>": {"<output>": "<value>", ...}, ...})'
        )
    return {str(k): {str(o): str(x) for o, x in v.items()} for k, v in doc.items()}


def default_stack() -> str | None:
    """The control plane's stack: the one stack of ``--outputs-file`` with a ledger table
    (``LedgerTableName``), else ``EcsAutopilot-<environment>`` of the config file cdk.json
    names (None if unreadable)."""
    import json
    import re

    written = outputs_file()
    if written:
        planes = [name for name, outputs in written.items() if OUT_TABLE in outputs]
        if len(planes) == 1:
            return planes[0]

    from sandbox.synth import CONFIG_CONTEXT, REPO_ROOT

    try:
        context = json.loads((REPO_ROOT / "cdk.json").read_text()).get("context", {})
        config = (REPO_ROOT / str(context.get(CONFIG_CONTEXT, "config/demo.yaml"))).read_text()
    except (OSError, ValueError):
        return None
    match = re.search(r"^environment:\s*[\"']?([a-z][a-z0-9-]*)", config, re.MULTILINE)
    return f"EcsAutopilot-{match[1]}" if match else None


def stack_outputs(stack: str, endpoint: str | None) -> dict[str, str]:
    """The stack's outputs: ``--outputs-file``'s when it names the stack, else
    CloudFormation's (DescribeStacks); empty if there is no such stack."""
    written = outputs_file()
    if written and stack in written:
        return written[stack]
    cfn = _client("cloudformation", endpoint)
    try:
        found = cfn.describe_stacks(StackName=stack)["Stacks"]
    except Exception as exc:
        if access_problem(exc):
            raise  # the real error: not "no such stack"
        return {}
    return {o["OutputKey"]: o["OutputValue"] for o in (found[0].get("Outputs") or [])}


def estate_outputs(stack: str, endpoint: str | None) -> dict[str, dict[str, str]]:
    """The outputs of the stacks named ``<stack>-...`` (the estate stacks built with the
    control plane ``stack``), by stack name: ``--outputs-file``'s when it names any, else
    CloudFormation's; empty when none can be listed."""
    written = {k: v for k, v in (outputs_file() or {}).items() if k.startswith(f"{stack}-")}
    if written:
        return dict(sorted(written.items()))
    cfn = _client("cloudformation", endpoint)
    out: dict[str, dict[str, str]] = {}
    try:
        for page in cfn.get_paginator("describe_stacks").paginate():
            for s in page["Stacks"]:
                name = str(s["StackName"])
                if name.startswith(f"{stack}-") and not str(s["StackStatus"]).startswith("DELETE"):
                    out[name] = {o["OutputKey"]: o["OutputValue"] for o in s.get("Outputs") or []}
    except Exception as exc:
        if access_problem(exc):
            raise
        return {}
    return dict(sorted(out.items()))


def _split(value: str | Sequence[str] | None) -> tuple[str, ...]:
    """``--cluster a,b --cluster c`` (or one string) -> the items, in order, once each."""
    if value is None:
        return ()
    items = [value] if isinstance(value, str) else list(value)
    return tuple(dict.fromkeys(i.strip() for text in items for i in text.split(",") if i.strip()))


def managed_clusters(
    stack: str | None, outputs: dict[str, str], endpoint: str | None
) -> tuple[str, ...]:
    """The clusters the control plane manages: its ``ManagedClusterArns`` output, else the
    ``ClusterArn`` of its own stack (one stack holding everything) and of its estate stacks."""
    if outputs.get(OUT_MANAGED_CLUSTERS):
        return _split(outputs[OUT_MANAGED_CLUSTERS])
    found = [outputs[OUT_CLUSTER]] if outputs.get(OUT_CLUSTER) else []
    if stack:
        found += [
            o[OUT_CLUSTER] for o in estate_outputs(stack, endpoint).values() if OUT_CLUSTER in o
        ]
    return tuple(dict.fromkeys(found))


def locate(
    endpoint: str | None,
    *,
    stack: str | None = None,
    table: str | None = None,
    cluster: str | Sequence[str] | None = None,
) -> Target:
    """Where the operator commands act (``cli.controls.Target``): ``--table`` and
    ``--cluster`` (ARNs; several allowed) if given, else the outputs of ``--stack`` (default:
    ``EcsAutopilot-<env>`` of the config file cdk.json names): its ``ManagedClusterArns``,
    else the ``ClusterArn`` of it and its estate stacks; else the environment of the
    deployed functions (``CLUSTER_ARNS``). The config's floors under the scan and approval
    tags: the stack's ``MinScanGate`` and ``ManualApprovalClusterArns``, else image-events'
    ``MIN_SCAN_GATE`` and ``MANUAL_APPROVAL_CLUSTER_ARNS``."""
    outputs: dict[str, str] = {}
    clusters = _split(cluster)
    name = stack or default_stack()
    if stack or not (table and clusters):
        outputs = stack_outputs(name, endpoint) if name else {}
        if stack and not outputs:
            raise InvokeError(f"no stack {stack} (or it has no outputs) at this endpoint")
    table = table or outputs.get(OUT_TABLE)
    if not clusters and (outputs or name):
        clusters = managed_clusters(name, outputs, endpoint)
    topic = outputs.get(OUT_TOPIC)
    env: dict[str, str] = {}
    if not (table and clusters and topic and OUT_MIN_SCAN_GATE in outputs):
        cfg = deployed_function("image-events", endpoint)
        env = dict((cfg or {}).get("Environment", {}).get("Variables", {}))
    table = table or env.get("LEDGER_TABLE") or os.environ.get("LEDGER_TABLE")
    clusters = clusters or _split(
        env.get("CLUSTER_ARNS")
        or env.get("CLUSTER_ARN")
        or os.environ.get("CLUSTER_ARNS")
        or os.environ.get("CLUSTER_ARN")
    )
    topic = topic or env.get("NOTICES_TOPIC_ARN") or os.environ.get("NOTICES_TOPIC_ARN")
    if not table:
        raise InvokeError(
            "no ledger table: none deployed at this endpoint; pass --stack or --table"
        )
    if not clusters:
        raise InvokeError("no cluster: none deployed at this endpoint; pass --stack or --cluster")
    for c in clusters:
        if not c.startswith("arn:"):
            raise InvokeError(f"--cluster {c}: give the cluster's ARN")
    lease = env.get("LEASE_SECONDS", "")
    return Target(
        table=table,
        cluster_arns=clusters,
        topic_arn=topic,
        lease_seconds=int(lease) if lease.isdigit() else 300,
        floors=_floors(outputs, env),
    )


def _floors(outputs: dict[str, str], env: dict[str, str]) -> Floors:
    """The floors the control plane's stack outputs (else its image-events function) hold."""
    if OUT_MIN_SCAN_GATE in outputs:
        min_scan = outputs[OUT_MIN_SCAN_GATE]
        approval = outputs.get(OUT_MANUAL_APPROVAL, "-")
    else:
        min_scan = env.get("MIN_SCAN_GATE") or os.environ.get("MIN_SCAN_GATE") or "off"
        approval = env.get("MANUAL_APPROVAL_CLUSTER_ARNS") or os.environ.get(
            "MANUAL_APPROVAL_CLUSTER_ARNS", ""
        )
    if min_scan not in SCAN_STRICTNESS:
        raise InvokeError(f"the deployed scan floor {min_scan!r} is not critical, high or off")
    gate: ScanGate = min_scan
    pause = env.get("PAUSE_TIMEOUT_MINUTES", "")
    return Floors(
        gate,
        frozenset(a for a in _split(approval) if a != "-"),
        int(pause) if pause.isdigit() else DEFAULT_PAUSE_TIMEOUT_MINUTES,
    )


def control_plane(
    endpoint: str | None,
    *,
    stack: str | None = None,
    managed_clusters_: str | None = None,
    repositories: str | None = None,
    pass_roles: str | None = None,
) -> ControlPlane:
    """What the control plane manages, for `autopilot adopt`: each of ``--managed-clusters``,
    ``--repositories`` and ``--pass-roles`` if given, else the outputs of ``--stack``
    (default ``EcsAutopilot-<env>``: ``ManagedClusterArns`` (else its and its estate stacks'
    ``ClusterArn``), ``ManagedRepositories``, ``PassRoles``), else the deployed functions'
    ``CLUSTER_ARNS`` and ``REPOSITORIES``. A cluster given by name is taken in the account
    and region of a cluster ARN given beside it (with none, it matches by name).
    Repositories default to ``*`` (the functions' own default); passable roles that are
    not known are not checked (adopt says so)."""
    from autopilot.contract import ALL_REPOSITORIES, RepositoryFilter
    from autopilot.logic.retention import DEFAULT_PREFIX

    name = stack or default_stack()
    outputs: dict[str, str] = {}
    wanted_outputs = not (managed_clusters_ and repositories and pass_roles)
    if stack or wanted_outputs:
        outputs = stack_outputs(name, endpoint) if name else {}
        if stack and not outputs:
            raise InvokeError(f"no stack {stack} (or it has no outputs) at this endpoint")
    clusters = _split(managed_clusters_)
    where = {"clusters": "--managed-clusters" if clusters else ""}
    if not clusters and (outputs or name):
        clusters = managed_clusters(name, outputs, endpoint)
        where["clusters"] = f"stack {name}" if clusters else ""
    repos_text = repositories or outputs.get(OUT_REPOSITORIES)
    where["repositories"] = (
        "--repositories" if repositories else f"stack {name}" if repos_text else ""
    )
    roles_text = pass_roles or outputs.get(OUT_PASS_ROLES)
    where["roles"] = "--pass-roles" if pass_roles else f"stack {name}" if roles_text else ""
    if not clusters or repos_text is None:
        cfg = deployed_function("image-events", endpoint)
        env = dict((cfg or {}).get("Environment", {}).get("Variables", {}))
        if not clusters:
            clusters = _split(env.get("CLUSTER_ARNS") or env.get("CLUSTER_ARN"))
            where["clusters"] = "the deployed functions' environment" if clusters else ""
        if repos_text is None and env.get("REPOSITORIES"):
            repos_text = env["REPOSITORIES"]
            where["repositories"] = "the deployed functions' environment"
    if not clusters:
        raise InvokeError(
            "no control plane found at this endpoint (no stack "
            f"{name or 'EcsAutopilot-<env>'}, no deployed functions): pass --stack, or "
            "--managed-clusters and --repositories"
        )
    arns = [c for c in clusters if c.startswith("arn:")]
    if arns:  # names in the account and region of the ARNs given
        prefix = arns[0].partition(":cluster/")[0]
        clusters = tuple(c if c.startswith("arn:") else f"{prefix}:cluster/{c}" for c in clusters)
    try:
        repos = RepositoryFilter.parse(repos_text or ALL_REPOSITORIES)
    except ValueError as exc:
        raise InvokeError(f"--repositories {repos_text!r}: {exc}") from exc
    try:
        roles = RolePatterns.parse(roles_text) if roles_text else None
    except ValueError as exc:
        raise InvokeError(f"--pass-roles {roles_text!r}: {exc}") from exc
    source = where["clusters"]
    if where["repositories"] != source:
        source += f"; repositories: {where['repositories'] or 'all (the default)'}"
    if where["roles"] and where["roles"] != source:
        source += f"; roles: {where['roles']}"
    return ControlPlane(
        clusters=clusters,
        repositories=repos,
        pass_roles=roles,
        source=source,
        retention_prefix=outputs.get(OUT_RETENTION_PREFIX) or DEFAULT_PREFIX,
    )


def operator_clients(endpoint: str | None) -> AwsClients:
    """``AwsClients`` for the operator commands, pointed at ``endpoint`` (or AWS itself)."""
    return AwsClients(
        ec2=_client("ec2", endpoint),
        ecs=_client("ecs", endpoint),
        ecr=_client("ecr", endpoint),
        tagging=_client("resourcegroupstaggingapi", endpoint),
        dynamodb=_client("dynamodb", endpoint),
        sns=_client("sns", endpoint),
        cloudwatch=_client("cloudwatch", endpoint),  # the deployment alarms a deploy names
    )


def approver(endpoint: str) -> Callable[[str, str | None], controls.Result]:
    """``approve(service, digest)`` as `autopilot approve` does it against ``endpoint`` (the
    demo's operator, ``sandbox.demo.DemoContext.approve``), recorded as the caller STS names;
    ``digest`` None: continue the deployment waiting at a pause hook, as `autopilot approve
    SERVICE` does."""

    def approve(service: str, digest: str | None) -> controls.Result:
        who = actor(endpoint)
        target = locate(endpoint)
        return controls.approve(operator_clients(endpoint), target, service, digest, actor=who)

    return approve


def adopter(endpoint: str) -> Callable[..., dict[str, Any]]:
    """``adopt(cluster, apply=..., undo=...)`` as `autopilot adopt CLUSTER --json` does it
    against ``endpoint`` with the control plane its stack's outputs describe (the demo's
    operator, ``sandbox.demo.DemoContext.adopt``): the JSON report."""
    from cli import adopt as adoption

    def adopt(cluster: str, *, apply: bool = False, undo: bool = False) -> dict[str, Any]:
        report = adoption.adopt(
            operator_clients(endpoint),
            cluster,
            control_plane(endpoint),
            adoption.options(),
            mode="apply" if apply else "undo" if undo else "dry-run",
            role_tags=adoption.iam_role_tags(_client("iam", endpoint)),
        )
        return report.to_json()

    return adopt


def actor(endpoint: str | None) -> str:
    """Who gives an operator command: the ARN STS names for the credentials in use
    (``sts:GetCallerIdentity``; for a role, ``arn:aws:sts::<account>:assumed-role/<role>/
    <session>``), never a name the environment claims. What the ledger records as the
    approver, rejecter or pauser, and what its resource policy checks (the role's ARN).
    Raises ``AwsAccessError`` when there are no credentials (or AWS cannot be reached) and
    ``InvokeError`` when STS will not say."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return str(_client("sts", endpoint).get_caller_identity()["Arn"])
    except (BotoCoreError, ClientError, ValueError) as exc:
        problem = access_problem(exc)
        if problem:
            raise AwsAccessError(problem) from exc
        raise InvokeError(f"cannot tell who you are (sts:GetCallerIdentity): {exc}") from exc


def history(
    service: str,
    *,
    endpoint: str | None = None,
    table: str | None = None,
    limit: int | None = 50,
    since: str | None = None,
    outcomes: list[str] | None = None,
    stack: str | None = None,
    cluster: str | Sequence[str] | None = None,
    source: str = "ledger",
) -> list[dict[str, Any]]:
    """The ledger's decisions for one service (name, CLUSTER/NAME or ARN), newest first
    (``source`` ``all``/``ecs``: with ECS's service deployments, ``controls.history``)."""
    if table and service.startswith("arn:") and not cluster:
        prefix, _, path = service.partition(":service/")
        cluster = f"{prefix}:cluster/{path.split('/')[0]}"
    target = locate(endpoint, stack=stack, table=table, cluster=cluster)
    try:
        return controls.history(
            operator_clients(endpoint),
            target,
            service,
            since=since,
            outcomes=outcomes,
            limit=limit,
            source=source,
        )
    except controls.OperatorError:
        raise
    except Exception as exc:
        raise InvokeError(f"cannot read the ledger {target.table}: {exc}") from exc
