"""A small resolver of CloudFormation intrinsics against a deployed stack.

Used to re-apply, through the plain APIs, template properties that moto's CloudFormation
skipped or dropped: ``Ref`` and ``Fn::GetAtt`` are answered from the stack's physical
resource ids and the sandbox's account and region, ``Fn::ImportValue`` from the exports of
the stacks deployed before (a stack of several that references another's resources).
"""

# ruff: noqa: PLC0415 - imports are deferred: moto, boto3 and the handlers load only where used

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sandbox.server import ACCOUNT_ID, REGION


class Unresolvable(ValueError):
    """An intrinsic the resolver cannot answer."""


class Resolver:
    def __init__(
        self,
        template: dict[str, Any],
        physical_ids: dict[str, str],
        *,
        parameters: dict[str, str] | None = None,
        attribute: Callable[[str, str, str, str], str | None] | None = None,
        exports: dict[str, str] | None = None,
    ) -> None:
        self.template = template
        self.physical_ids = physical_ids
        self.parameters = parameters or {}
        self._attribute = attribute
        #: export name -> value, of the stacks deployed before this one
        self.exports = exports or {}

    def pseudo(self, name: str) -> str:
        return {
            "AWS::AccountId": ACCOUNT_ID,
            "AWS::Region": REGION,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::NoValue": "",
        }[name]

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Ref":
                return self.ref(arg)
            if key == "Fn::GetAtt":
                logical, attr = arg if isinstance(arg, list) else arg.split(".", 1)
                return self.get_att(logical, attr)
            if key == "Fn::Join":
                sep, parts = arg
                return sep.join(str(p) for p in self.resolve(parts))
            if key == "Fn::Select":
                index, items = arg
                return self.resolve(items)[int(self.resolve(index))]
            if key == "Fn::Split":
                sep, text = arg
                return str(self.resolve(text)).split(sep)
            if key == "Fn::Sub":
                return self._sub(arg)
            if key == "Fn::ImportValue":
                name = str(self.resolve(arg))
                if name not in self.exports:
                    raise Unresolvable(f"Fn::ImportValue {name}: no stack exports it")
                return self.exports[name]
            if key.startswith("Fn::"):
                raise Unresolvable(f"{key} is not supported by the sandbox's resolver")
        return {k: self.resolve(v) for k, v in value.items()}

    def ref(self, name: str) -> str:
        if name.startswith("AWS::"):
            return self.pseudo(name)
        if name in self.parameters:
            return self.parameters[name]
        if name in self.physical_ids:
            return self.physical_ids[name]
        raise Unresolvable(f"Ref {name}: no such deployed resource")

    def get_att(self, logical: str, attr: str) -> str:
        rtype = self.template.get("Resources", {}).get(logical, {}).get("Type", "")
        physical = self.ref(logical)
        if self._attribute is not None:
            answer = self._attribute(rtype, logical, physical, attr)
            if answer is not None:
                return answer
        if rtype == "AWS::SQS::Queue" and physical.startswith("http"):
            name = physical.rstrip("/").rsplit("/", 1)[-1]
            if attr == "Arn":
                return f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:{name}"
            if attr == "QueueName":
                return name
            if attr == "QueueUrl":
                return physical
        if rtype == "AWS::SNS::Topic" and attr == "TopicName":
            return physical.rsplit(":", 1)[-1]
        if attr in ("Arn", f"{rtype.split('::')[-1]}Arn") and physical.startswith("arn:"):
            return physical
        if attr == "Name" and physical.startswith("arn:"):
            return physical.rsplit("/", 1)[-1]
        if rtype == "AWS::ECR::Repository" and attr == "Arn":
            return f"arn:aws:ecr:{REGION}:{ACCOUNT_ID}:repository/{physical}"
        if rtype == "AWS::ECR::Repository" and attr == "RepositoryUri":
            return f"{ACCOUNT_ID}.dkr.ecr.{REGION}.amazonaws.com/{physical}"
        if attr in ("GroupId", "Id"):
            return physical
        if attr in ("LoadBalancerFullName", "TargetGroupFullName") and physical.startswith("arn:"):
            # the ARN's resource part: app/<name>/<id> for a load balancer (its ARN has
            # loadbalancer/ before it), targetgroup/<name>/<id> for a target group
            return physical.split(":", 5)[5].removeprefix("loadbalancer/")
        raise Unresolvable(f"Fn::GetAtt {logical}.{attr} ({rtype}) is not known to the resolver")

    def _sub(self, arg: Any) -> str:
        import re

        text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])
        resolved_vars = {k: str(self.resolve(v)) for k, v in variables.items()}

        def repl(m: re.Match[str]) -> str:
            name = m.group(1)
            if name in resolved_vars:
                return resolved_vars[name]
            if "." in name:
                logical, attr = name.split(".", 1)
                return self.get_att(logical, attr)
            return self.ref(name)

        return re.sub(r"\$\{([^}!][^}]*)\}", repl, text)
