"""Import discipline that keeps cold start down (the timing itself is a benchmark, not a test):
importing a handler builds no AWS client and leaves boto3 unimported until first use, and
nothing outside ``aws/`` imports boto3 or botocore."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import autopilot
import pytest

PACKAGE = Path(autopilot.__file__).parent
#: every module of the asset but the adapters (``aws/``, the only ones that call AWS)
MINE = sorted(
    str(path.relative_to(PACKAGE))
    for path in PACKAGE.rglob("*.py")
    if path.relative_to(PACKAGE).parts[0] != "aws"
)


def test_only_adapters_import_boto3_or_botocore() -> None:
    assert "handlers/image_events.py" in MINE
    for rel in MINE:
        tree = ast.parse((PACKAGE / rel).read_text())
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                assert name.split(".")[0] not in {"boto3", "botocore"}, f"{rel} imports {name}"


def test_importing_a_handler_does_not_import_boto3() -> None:
    code = (
        "import sys, autopilot.handlers.image_events, autopilot.handlers.deployment_events,"
        " autopilot.handlers.task_events, autopilot.handlers.capacity_events;"
        "print('boto3' in sys.modules)"
    )
    env = dict(os.environ, POWERTOOLS_TRACE_DISABLED="true", POWERTOOLS_METRICS_NAMESPACE="t")
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    assert out.stdout.strip() == "False"


def test_a_function_builds_its_own_settings_model_only() -> None:
    # every settings model lives in one module: a function's init builds the validator of
    # its own (at get_settings), not those of the other functions (built on first use)
    code = (
        "import json, autopilot.handlers.task_events; from autopilot import settings;"
        "settings.get_settings(settings.TaskEventsSettings);"
        "models = [v for v in vars(settings).values() if isinstance(v, type)"
        " and issubclass(v, settings.FunctionSettings)];"
        "print(json.dumps(sorted(m.__name__ for m in models if vars(m).get('_validators'))))"
    )
    base = {k: v for k, v in os.environ.items() if not k.startswith(("POWERTOOLS_", "AWS_"))}
    env = base | _SETTINGS_ENV | {"POWERTOOLS_TRACE_DISABLED": "true"}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    assert json.loads(out.stdout.strip().splitlines()[-1]) == ["TaskEventsSettings"]


# -- tracing as the config's choice (observability.py) --------------------------------------
_INVOKE = """
import json, sys
from types import SimpleNamespace
from autopilot.errors import InvalidEvent
import autopilot.handlers.{module} as handler_module
context = SimpleNamespace(
    function_name="t", memory_limit_in_mb=512, aws_request_id="r-1",
    invoked_function_arn="arn:aws:lambda:eu-west-1:123456789012:function:t",
)
try:
    handler_module.handler({{"detail-type": "nothing we know", "detail": {{}}}}, context)
except InvalidEvent:
    pass
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in {roots})))
"""
# what lambda_entry needs to build any function's settings before it parses the event
_SETTINGS_ENV = {
    "AWS_DEFAULT_REGION": "eu-west-1",
    "POWERTOOLS_SERVICE_NAME": "t",
    "POWERTOOLS_METRICS_NAMESPACE": "t",
    "LEDGER_TABLE": "t-ledger",
    "NOTICES_TOPIC_ARN": "arn:aws:sns:eu-west-1:123456789012:t-notices",
    "CLUSTER_ARNS": "arn:aws:ecs:eu-west-1:123456789012:cluster/t",
    "REPOSITORIES": "*",
}
HANDLER_MODULES = sorted(
    p.stem for p in (PACKAGE / "handlers").glob("*.py") if p.stem != "__init__"
)


def _modules_after_one_invocation(
    module: str, roots: tuple[str, ...] = ("aws_xray_sdk",), **env: str
) -> list[str]:
    """Import the handler in a fresh interpreter as Lambda's init would (LAMBDA_TASK_ROOT
    set: Powertools' Tracer would be on), invoke it once (its settings built, the event
    refused), list the modules loaded of the packages ``roots``."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("POWERTOOLS_", "AWS_"))}
    full = base | _SETTINGS_ENV | {"LAMBDA_TASK_ROOT": str(PACKAGE.parent)} | env
    out = subprocess.run(
        [sys.executable, "-c", _INVOKE.format(module=module, roots=set(roots))],
        capture_output=True,
        text=True,
        env=full,
        check=True,
    )
    loaded: list[str] = json.loads(out.stdout.strip().splitlines()[-1])
    return loaded


@pytest.mark.parametrize("module", HANDLER_MODULES)
def test_with_tracing_off_no_xray_sdk_module_is_ever_imported(module: str) -> None:
    # Given the function deployed with observability.tracing: off (the CDK app sets
    # POWERTOOLS_TRACE_DISABLED=true), When Lambda imports the handler and invokes it once,
    # Then not one aws_xray_sdk module is loaded, not even lazily by the invocation.
    assert _modules_after_one_invocation(module, POWERTOOLS_TRACE_DISABLED="true") == []


@pytest.mark.parametrize("module", HANDLER_MODULES)
def test_no_function_imports_pydantic(module: str) -> None:
    # The functions' models are autopilot.schema's: importing pydantic and building its first
    # validator cost about as much as the rest of a function's init (bench/results.md).
    roots = ("pydantic", "pydantic_core", "annotated_types")
    assert _modules_after_one_invocation(module, roots, POWERTOOLS_TRACE_DISABLED="true") == []


def test_with_tracing_active_the_tracer_loads_the_xray_sdk() -> None:
    # the check above can see the SDK: with tracing active it is there
    loaded = _modules_after_one_invocation("image_events", POWERTOOLS_TRACE_DISABLED="false")
    assert "aws_xray_sdk.core" in loaded


# -- SnapStart: what a restored environment must not inherit (aws/clients.py) --------------
_RESTORE = """
import random, snapshot_restore_py
import autopilot.handlers.{module}
from autopilot.aws import clients
assert snapshot_restore_py.after == [clients.after_restore], snapshot_restore_py.after
before = clients.get_clients()
state = random.getstate()
for hook in snapshot_restore_py.after:
    hook()
assert clients.get_clients() is not before
assert random.getstate() != state
print("ok")
"""
# the registration API of Lambda's snapshot_restore_py, recording what is registered
_HOOKS = """
after = []
def register_after_restore(func, *args, **kwargs):
    after.append(func)
def register_before_snapshot(func, *args, **kwargs):
    pass
"""


@pytest.mark.parametrize("module", HANDLER_MODULES)
def test_under_snapstart_a_restore_hook_forgets_clients_and_reseeds(
    module: str, tmp_path: Path
) -> None:
    # Given Lambda's runtime, which provides snapshot_restore_py, When the handler is
    # imported (init, before the snapshot), Then it has registered the hook that drops the
    # snapshot's clients and random state on every restore.
    (tmp_path / "snapshot_restore_py.py").write_text(_HOOKS)
    env = dict(os.environ, PYTHONPATH=f"{tmp_path}{os.pathsep}{PACKAGE.parent}")
    env |= {"POWERTOOLS_TRACE_DISABLED": "true", "POWERTOOLS_METRICS_NAMESPACE": "t"}
    out = subprocess.run(
        [sys.executable, "-c", _RESTORE.format(module=module)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "ok"
