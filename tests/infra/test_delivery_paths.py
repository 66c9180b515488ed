"""Delivery paths, read from the synthesized templates.

Wherever an AWS service delivers something for the app (an alarm's action, a rule's target and
its dead-letter queue, a function's asynchronous dead-letter queue or destination, the Auto
Scaling group's notifications), the policies that decide the delivery must admit the principal
that delivers: the target's resource policy, the KMS key policy of a target encrypted with a
customer managed key and, where Lambda sends with the function's own identity, the execution
role's policy. moto enforces none of these policies, so only this reading catches a path that
deploys cleanly and then delivers nothing (an SNS topic policy that holds only an SSL Deny
replaces SNS's default policy and admits no alarm).

The evaluator is IAM's rule in small: a statement applies when its principal, action, resource
and every condition match the request; an applying Deny wins, otherwise an applying Allow is
needed. It reads the template JSON with ``Ref``, ``Fn::GetAtt`` and ``Fn::Join`` resolved to the
names and ARNs the resources get when every stack is deployed into one account and region, so a
reference across stacks (the estate names the control plane's topic) lands on its resource. It
knows only what these templates use and raises on anything else: a new kind of statement or
intrinsic fails the test rather than passing unread (a resource no delivery goes to, such as a
log group in a role's policy, gets a placeholder ARN that only ``*`` matches).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import pytest

from tests.infra.conftest import Synthesized

ACCOUNT = "123456789012"
FOREIGN_ACCOUNT = "999999999999"
REGION = "eu-west-1"
PARTITION = "aws"

CLOUDWATCH = "cloudwatch.amazonaws.com"
EVENTS = "events.amazonaws.com"
# What SNS and SQS ask KMS for on behalf of whoever sends to a topic or queue encrypted with a CMK.
KMS_SEND = ("kms:GenerateDataKey", "kms:Decrypt")
# The action that delivers to a target, by the service in the target's ARN.
SEND_ACTION = {"sns": "sns:Publish", "sqs": "sqs:SendMessage", "lambda": "lambda:InvokeFunction"}
# The Auto Scaling group's default service-linked role, when the group names none.
AUTOSCALING_ROLE = (
    f"arn:{PARTITION}:iam::{ACCOUNT}:role/aws-service-role/autoscaling.amazonaws.com/"
    "AWSServiceRoleForAutoScaling"
)


# -- the account: every stack's resources, with their names and ARNs ------------------------
@dataclass(frozen=True)
class Node:
    """One resource of one stack."""

    stack: str
    logical_id: str
    resource: dict[str, Any]

    @property
    def type(self) -> str:
        return str(self.resource["Type"])

    @property
    def props(self) -> dict[str, Any]:
        return dict(self.resource.get("Properties", {}))

    def __str__(self) -> str:
        return f"{self.stack}/{self.logical_id}"


# type -> (the property naming it, its ARN from (name, logical id), its Ref from (name, ARN))
_KINDS: dict[str, tuple[str, str, str]] = {
    "AWS::SNS::Topic": ("TopicName", "arn:{p}:sns:{r}:{a}:{name}", "{arn}"),
    "AWS::SQS::Queue": (
        "QueueName",
        "arn:{p}:sqs:{r}:{a}:{name}",
        "https://sqs.{r}.amazonaws.com/{a}/{name}",
    ),
    "AWS::Lambda::Function": ("FunctionName", "arn:{p}:lambda:{r}:{a}:function:{name}", "{name}"),
    "AWS::IAM::Role": ("RoleName", "arn:{p}:iam::{a}:role{path}{name}", "{name}"),
    "AWS::KMS::Key": ("-", "arn:{p}:kms:{r}:{a}:key/{logical_id}", "{logical_id}"),
    "AWS::Events::Rule": ("Name", "arn:{p}:events:{r}:{a}:rule/{name}", "{name}"),
    "AWS::CloudWatch::Alarm": ("AlarmName", "arn:{p}:cloudwatch:{r}:{a}:alarm:{name}", "{name}"),
}
_PSEUDO = {
    "AWS::AccountId": ACCOUNT,
    "AWS::Region": REGION,
    "AWS::Partition": PARTITION,
    "AWS::URLSuffix": "amazonaws.com",
}


class Account:
    """The stacks (name -> template JSON) as deployed into ``ACCOUNT`` in ``REGION``.

    ``resolve`` turns a template value into plain strings; ``find`` gives the resource a
    resolved ARN (or queue URL) names, in whichever stack it is."""

    def __init__(self, templates: Mapping[str, dict[str, Any]]) -> None:
        self.nodes = {
            stack: {lid: Node(stack, lid, r) for lid, r in t.get("Resources", {}).items()}
            for stack, t in templates.items()
        }
        self._by_id: dict[str, Node] = {}
        for nodes in self.nodes.values():
            for node in nodes.values():
                if node.type in _KINDS:
                    self._by_id[self.arn(node)] = node
                    self._by_id[self._ref(node)] = node

    def all(self, rtype: str) -> Iterator[Node]:
        for nodes in self.nodes.values():
            yield from (n for n in nodes.values() if n.type == rtype)

    def find(self, resolved: str) -> Node | None:
        return self._by_id.get(resolved)

    def node(self, stack: str, value: Any) -> Node:
        """The resource a template value (a ``Ref``, ``GetAtt`` or ARN) of ``stack`` names."""
        resolved = self.resolve(stack, value)
        found = self.find(resolved)
        if found is None:
            raise LookupError(f"{resolved} is in none of the templates")
        return found

    def resolve(self, stack: str, value: Any) -> Any:
        if isinstance(value, list):
            return [self.resolve(stack, v) for v in value]
        if isinstance(value, bool):
            return str(value).lower()
        if isinstance(value, str | int):
            return str(value)
        if len(value) == 1 and (key := next(iter(value))) in ("Ref", "Fn::GetAtt", "Fn::Join"):
            arg = value[key]
            if key == "Ref":
                if arg in _PSEUDO:
                    return _PSEUDO[arg]
                return self._ref(self.nodes[stack][arg])
            if key == "Fn::GetAtt":
                return self._get_att(self.nodes[stack][arg[0]], arg[1])
            sep, parts = arg
            return str(sep).join(str(self.resolve(stack, p)) for p in parts)
        if any(str(k).startswith("Fn::") for k in value):
            raise NotImplementedError(f"{stack}: cannot resolve {value!r}")
        return {k: self.resolve(stack, v) for k, v in value.items()}

    def arn(self, node: Node) -> str:
        if node.type not in _KINDS:  # no delivery goes to it: a name that matches only "*"
            return f"unmodelled:{node}"
        name_key, arn_format, _ = _KINDS[node.type]
        return arn_format.format(**self._fields(node, name_key))

    def _ref(self, node: Node) -> str:
        if node.type not in _KINDS:
            return node.logical_id
        name_key, _, ref_format = _KINDS[node.type]
        return ref_format.format(arn=self.arn(node), **self._fields(node, name_key))

    def _get_att(self, node: Node, attribute: str) -> str:
        if attribute in ("Arn", "TopicArn") or node.type not in _KINDS:
            return self.arn(node)
        if attribute == "QueueUrl":
            return self._ref(node)
        raise NotImplementedError(f"{node}: GetAtt {attribute}")

    def _fields(self, node: Node, name_key: str) -> dict[str, str]:
        props = node.props
        # an unnamed resource gets a generated name: its logical ID stands for it
        name = self.resolve(node.stack, props[name_key]) if name_key in props else node.logical_id
        path = self.resolve(node.stack, props.get("Path", "/"))
        return {"p": PARTITION, "r": REGION, "a": ACCOUNT, "name": name, "path": path,
                "logical_id": node.logical_id}  # fmt: skip

    # -- the policies that decide a delivery ------------------------------------------------
    def resource_policy(self, target: Node) -> list[dict[str, Any]]:
        """The statements of the target's resource policy, resolved."""
        if target.type == "AWS::SNS::Topic":
            return self._attached(target, "AWS::SNS::TopicPolicy", "Topics") or _sns_default(
                self.arn(target)
            )
        if target.type == "AWS::SQS::Queue":
            return self._attached(target, "AWS::SQS::QueuePolicy", "Queues")  # none: owner only
        if target.type == "AWS::Lambda::Function":
            return [
                _permission_statement(self.resolve(p.stack, p.props), self.arn(target))
                for p in self.all("AWS::Lambda::Permission")
                if self.node(p.stack, p.props["FunctionName"]) == target
            ]
        raise NotImplementedError(f"{target}: resource policy of a {target.type}")

    def key_of(self, target: Node) -> Node | str | None:
        """The customer managed key encrypting a topic or queue, if any (an AWS managed key,
        ``alias/aws/...``, is returned as its alias: no service principal may use it)."""
        key = target.props.get("KmsMasterKeyId")
        if key is None:
            return None
        resolved = self.resolve(target.stack, key)
        return self.find(resolved) or resolved

    def key_policy(self, key: Node) -> list[dict[str, Any]]:
        return list(self.resolve(key.stack, key.props["KeyPolicy"])["Statement"])

    def role_policy(self, role: Node) -> list[dict[str, Any]]:
        """The statements of the role's inline and customer managed policies (the AWS managed
        policies it attaches are not in the template and are not read)."""
        ref = self._ref(role)
        out = [
            s
            for p in role.props.get("Policies", [])
            for s in self.resolve(role.stack, p["PolicyDocument"])["Statement"]
        ]
        for rtype in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            for policy in self.all(rtype):
                if ref in self.resolve(policy.stack, policy.props.get("Roles", [])):
                    out += self.resolve(policy.stack, policy.props["PolicyDocument"])["Statement"]
        return out

    def _attached(self, target: Node, rtype: str, key: str) -> list[dict[str, Any]]:
        ref = self._ref(target)
        return [
            s
            for policy in self.all(rtype)
            if ref in self.resolve(policy.stack, policy.props[key])
            for s in self.resolve(policy.stack, policy.props["PolicyDocument"])["Statement"]
        ]


def _sns_default(topic_arn: str) -> list[dict[str, Any]]:
    """SNS's default topic policy (what a topic has until a TopicPolicy replaces it): the
    owner's account, for anyone acting for it."""
    return [
        {
            "Effect": "Allow",
            "Principal": {"AWS": "*"},
            "Action": ["SNS:Publish", "SNS:Subscribe", "SNS:GetTopicAttributes"],
            "Resource": topic_arn,
            "Condition": {"StringEquals": {"AWS:SourceOwner": ACCOUNT}},
        }
    ]


def _permission_statement(permission: dict[str, Any], function_arn: str) -> dict[str, Any]:
    """An ``AWS::Lambda::Permission`` as the statement Lambda adds to the function's policy."""
    principal = permission["Principal"]
    kind = "Service" if principal.endswith(".amazonaws.com") else "AWS"
    conditions: dict[str, dict[str, str]] = {}
    if "SourceArn" in permission:
        conditions["ArnLike"] = {"aws:SourceArn": permission["SourceArn"]}
    if "SourceAccount" in permission:
        conditions["StringEquals"] = {"aws:SourceAccount": permission["SourceAccount"]}
    return {
        "Effect": "Allow",
        "Principal": {kind: principal},
        "Action": permission["Action"],
        "Resource": function_arn,
        "Condition": conditions,
    }


# -- the evaluator ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Request:
    """Who asks (a service principal or an IAM role's ARN), for what, on what, with which
    request context (``aws:SourceArn``, ``aws:SecureTransport``, ...)."""

    action: str
    resource: str
    service: str | None = None
    role_arn: str | None = None
    context: Mapping[str, str] = field(default_factory=dict)


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _wildcard(pattern: str, text: str, *, case: bool = True) -> bool:
    """IAM's ``*`` and ``?`` (in actions, ARNs and ``...Like`` conditions)."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, text, 0 if case else re.IGNORECASE) is not None


def _principal_matches(principal: Any, request: Request) -> bool:
    if principal == "*":
        return True
    for kind, value in principal.items():
        values = _as_list(value)
        if kind == "AWS" and ("*" in values or request.role_arn in values):
            return True
        if kind == "Service" and request.service in values:
            return True
        if kind not in ("AWS", "Service"):
            raise NotImplementedError(f"principal {kind}")
    return False


_NEGATED = ("StringNotEquals", "StringNotLike", "ArnNotEquals", "ArnNotLike")


def _condition_holds(operator: str, key: str, expected: Any, context: Mapping[str, str]) -> bool:
    base = operator.removesuffix("IfExists")
    # condition keys are case-insensitive (aws:SourceOwner, AWS:SourceOwner)
    actual = {k.lower(): v for k, v in context.items()}.get(key.lower())
    if actual is None:  # a key the request does not carry matches only ...IfExists and negations
        return operator.endswith("IfExists") or base in _NEGATED
    values = [str(v) for v in _as_list(expected)]
    if base == "StringEquals":
        return actual in values
    if base in ("StringLike", "ArnLike", "ArnEquals"):  # ArnEquals takes wildcards too
        return any(_wildcard(v, actual) for v in values)
    if base in _NEGATED:
        return not _condition_holds(base.replace("Not", ""), key, expected, context)
    if base == "Bool":
        return actual.lower() in (v.lower() for v in values)
    raise NotImplementedError(f"condition operator {operator}")


def _applies(statement: dict[str, Any], request: Request) -> bool:
    for unread in ("NotPrincipal", "NotAction", "NotResource"):
        if unread in statement:
            raise NotImplementedError(f"{unread} in {statement}")
    if "Principal" in statement and not _principal_matches(statement["Principal"], request):
        return False
    if not any(_wildcard(a, request.action, case=False) for a in _as_list(statement["Action"])):
        return False
    if not any(_wildcard(r, request.resource) for r in _as_list(statement.get("Resource", "*"))):
        return False
    return all(
        _condition_holds(operator, key, expected, request.context)
        for operator, block in statement.get("Condition", {}).items()
        for key, expected in block.items()
    )


def decide(statements: list[dict[str, Any]], request: Request) -> str:
    """``deny`` (an applying Deny), ``allow`` (an applying Allow and no Deny) or ``none``."""
    effects = {s["Effect"] for s in statements if _applies(s, request)}
    return "deny" if "Deny" in effects else "allow" if "Allow" in effects else "none"


# -- the checks, one per kind of path: each returns what is wrong, in words -----------------
def _service_key_problems(account: Account, what: str, target: Node, request: Request) -> list[str]:
    """A service principal sending to a topic or queue encrypted with a CMK needs the key
    policy itself to allow it (IAM policies do not apply to a service principal)."""
    key = account.key_of(target)
    if key is None:
        return []
    if isinstance(key, str):
        return [f"{what}: {target} is encrypted with {key}, whose policy admits no service"]
    return [
        f"{what}: the key policy of {key} does not allow {request.service} {action}"
        for action in KMS_SEND
        if decide(
            account.key_policy(key), replace(request, action=action, resource=account.arn(key))
        )
        != "allow"
    ]


def _service_problems(
    account: Account, what: str, target: Node, request: Request, stranger: Request
) -> list[str]:
    """The target's resource policy (and key) admit ``request``; the resource policy refuses
    ``stranger``, the same delivery from a source that is not the app's."""
    problems = []
    decision = decide(account.resource_policy(target), request)
    if decision != "allow":
        problems.append(
            f"{what}: the resource policy of {target} gives '{decision}' to {request.service}"
        )
    if decide(account.resource_policy(target), stranger) == "allow":
        problems.append(
            f"{what}: the resource policy of {target} also admits {dict(stranger.context)}"
        )
    return problems + _service_key_problems(account, what, target, request)


def alarm_problems(account: Account) -> tuple[int, list[str]]:
    """Every alarm action that is an SNS topic: CloudWatch may publish to the topic for this
    alarm, and for no alarm of another account or outside the topic's alarm names."""
    paths, problems = 0, []
    for alarm in account.all("AWS::CloudWatch::Alarm"):
        alarm_arn = account.arn(alarm)
        for actions in ("AlarmActions", "OKActions", "InsufficientDataActions"):
            for action in account.resolve(alarm.stack, alarm.props.get(actions, [])):
                if not action.startswith(f"arn:{PARTITION}:sns:"):
                    continue
                paths += 1
                what = f"{alarm} {actions} -> {action}"
                topic = account.find(action)
                if topic is None:
                    problems.append(f"{what}: the topic is in none of the templates")
                    continue
                request = Request(
                    action="sns:Publish",
                    resource=action,
                    service=CLOUDWATCH,
                    context={
                        "aws:SourceAccount": ACCOUNT,
                        "aws:SourceArn": alarm_arn,
                        "aws:SecureTransport": "true",
                    },
                )
                foreign = alarm_arn.replace(ACCOUNT, FOREIGN_ACCOUNT)
                other = alarm_arn.rsplit(":", 1)[0] + ":someone-elses-alarm"
                for stranger in (
                    {"aws:SourceAccount": FOREIGN_ACCOUNT, "aws:SourceArn": foreign},
                    {"aws:SourceAccount": ACCOUNT, "aws:SourceArn": other},
                ):
                    problems += _service_problems(
                        account,
                        what,
                        topic,
                        request,
                        replace(request, context={**request.context, **stranger}),
                    )
    return paths, sorted(set(problems))


def rule_problems(account: Account) -> tuple[int, list[str]]:
    """Every rule target, and its dead-letter queue: EventBridge may deliver for this rule,
    and not for another rule."""
    paths, problems = 0, []
    for rule in account.all("AWS::Events::Rule"):
        rule_arn = account.arn(rule)
        for target in account.resolve(rule.stack, rule.props.get("Targets", [])):
            if "RoleArn" in target:
                raise NotImplementedError(f"{rule}: a target delivered with a role")
            sends = [(target["Arn"], "target")]
            if "DeadLetterConfig" in target:
                sends.append((target["DeadLetterConfig"]["Arn"], "dead-letter queue"))
            for arn, role in sends:
                paths += 1
                what = f"{rule} {role} {arn}"
                node = account.find(arn)
                if node is None:
                    problems.append(f"{what}: in none of the templates")
                    continue
                context = {
                    "aws:SourceAccount": ACCOUNT,
                    "aws:SourceArn": rule_arn,
                    "aws:SecureTransport": "true",
                }
                request = Request(
                    action=SEND_ACTION[arn.split(":")[2]],
                    resource=arn,
                    service=EVENTS,
                    context=context,
                )
                stranger = replace(
                    request, context={**context, "aws:SourceArn": f"{rule_arn}-someone-elses"}
                )
                problems += _service_problems(account, what, node, request, stranger)
    return paths, problems


def async_failure_problems(account: Account) -> tuple[int, list[str]]:
    """Every function's dead-letter queue and asynchronous destination: Lambda sends with
    the function's execution role, so the role's policy must allow the send, the target's
    resource policy must not deny it, and a CMK's policy must admit the role."""
    sends: list[tuple[Node, str, str]] = []
    for fn in account.all("AWS::Lambda::Function"):
        if "DeadLetterConfig" in fn.props:
            arn = account.resolve(fn.stack, fn.props["DeadLetterConfig"]["TargetArn"])
            sends.append((fn, arn, "dead-letter queue"))
    for config in account.all("AWS::Lambda::EventInvokeConfig"):
        fn = account.node(config.stack, config.props["FunctionName"])
        destinations = account.resolve(config.stack, config.props.get("DestinationConfig", {}))
        for outcome in ("OnFailure", "OnSuccess"):
            if outcome in destinations:
                sends.append((fn, destinations[outcome]["Destination"], f"{outcome} destination"))
    problems = []
    for fn, arn, role in sends:
        what = f"{fn} {role} {arn}"
        execution_role = account.node(fn.stack, fn.props["Role"])
        identity = account.role_policy(execution_role)
        request = Request(
            action=SEND_ACTION[arn.split(":")[2]],
            resource=arn,
            role_arn=account.arn(execution_role),
            context={"aws:SecureTransport": "true"},
        )
        if decide(identity, request) != "allow":
            problems.append(f"{what}: the policy of {execution_role} does not allow it")
        target = account.find(arn)
        if target is None:
            problems.append(f"{what}: in none of the templates")
            continue
        if decide(account.resource_policy(target), request) == "deny":
            problems.append(f"{what}: the resource policy of {target} denies it")
        key = account.key_of(target)
        if isinstance(key, Node):
            for action in KMS_SEND:
                on_key = replace(request, action=action, resource=account.arn(key))
                root = replace(on_key, role_arn=f"arn:{PARTITION}:iam::{ACCOUNT}:root")
                direct = decide(account.key_policy(key), on_key) == "allow"
                delegated = decide(account.key_policy(key), root) == "allow" and (
                    decide(identity, on_key) == "allow"
                )
                if not (direct or delegated):
                    problems.append(f"{what}: {key} does not let {execution_role} {action}")
        elif key is not None:
            problems.append(f"{what}: {target} is encrypted with {key}")
    return len(sends), problems


def auto_scaling_problems(account: Account) -> tuple[int, list[str]]:
    """Every Auto Scaling group's notification topic: the group's service-linked role
    publishes. Its AWS managed policy (AutoScalingServiceRolePolicy) allows ``sns:Publish`` on
    ``*`` and nothing of KMS, so within the account the topic policy need only not deny it,
    and the key policy must name the role itself."""
    paths, problems = 0, []
    for group in account.all("AWS::AutoScaling::AutoScalingGroup"):
        role_arn = account.resolve(
            group.stack, group.props.get("ServiceLinkedRoleARN", AUTOSCALING_ROLE)
        )
        notifications = group.props.get("NotificationConfigurations", [])
        for notification in account.resolve(group.stack, notifications):
            paths += 1
            topic_arn = notification["TopicARN"]
            what = f"{group} notifications -> {topic_arn}"
            topic = account.find(topic_arn)
            if topic is None:
                problems.append(f"{what}: the topic is in none of the templates")
                continue
            context = {
                "aws:PrincipalArn": role_arn,
                "kms:CallerAccount": ACCOUNT,
                "aws:SecureTransport": "true",
            }
            request = Request("sns:Publish", topic_arn, role_arn=role_arn, context=context)
            if decide(account.resource_policy(topic), request) == "deny":
                problems.append(f"{what}: the topic policy of {topic} denies it")
            key = account.key_of(topic)
            if isinstance(key, str):
                problems.append(f"{what}: {topic} is encrypted with {key}")
            elif key is not None:
                other = f"arn:{PARTITION}:iam::{ACCOUNT}:role/someone-else"
                for action in KMS_SEND:
                    on_key = replace(request, action=action, resource=account.arn(key))
                    if decide(account.key_policy(key), on_key) != "allow":
                        problems.append(f"{what}: {key} does not let {role_arn} {action}")
                    stranger = replace(
                        on_key, role_arn=other, context={**context, "aws:PrincipalArn": other}
                    )
                    if decide(account.key_policy(key), stranger) == "allow":
                        problems.append(f"{what}: {key} lets any role of the account {action}")
    return paths, problems


# -- the demo's stacks ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def account(synth: Synthesized) -> Account:
    return Account(
        {
            s.stack_name: json.loads((synth.outdir / f"{s.stack_name}.template.json").read_text())
            for s in synth.stacks.all
        }
    )


def test_every_alarm_action_can_publish_to_its_topic(account: Account) -> None:
    # Given every alarm of every stack, and the SNS topics among their actions
    # When CloudWatch publishes for each alarm (from this account, over TLS)
    paths, problems = alarm_problems(account)
    # Then the topic policy and the topic's key admit it, and the topic admits no alarm of
    # another account and none outside the alarm names it is meant for
    assert paths == 24  # the control plane's ops alarms; the scaling alarms have no actions
    assert problems == []


def test_every_rule_target_and_dead_letter_queue_admit_their_rule(account: Account) -> None:
    # Given every rule's targets and their dead-letter queues
    # When EventBridge delivers an event, or a failed one to the queue, for that rule
    paths, problems = rule_problems(account)
    # Then the function's permissions and the queue's policy admit this rule and no other
    assert paths == 26  # thirteen rules, each a function target and an events DLQ
    assert problems == []


def test_every_async_failure_can_reach_its_queue(account: Account) -> None:
    # Given every function's dead-letter queue and asynchronous destinations
    # When Lambda sends a failed event there with the function's execution role
    paths, problems = async_failure_problems(account)
    # Then the role's policy allows it, nothing denies it, and no CMK is in the way
    assert paths == 6  # one dead-letter queue per function; no destinations
    assert problems == []


def test_auto_scaling_notifications_can_reach_the_topic(account: Account) -> None:
    # Given the estate's Auto Scaling group, notifying the control plane's topic by name
    # When its service-linked role publishes a launch or terminate notification
    paths, problems = auto_scaling_problems(account)
    # Then the topic policy does not deny it and the topic's key admits that role only
    assert paths == 1
    assert problems == []


# -- the evaluator bites: hand-written templates with the mistakes it is there to catch -------
def _alarm_and_topic(topic_policy: list[dict[str, Any]] | None) -> dict[str, Any]:
    resources: dict[str, Any] = {
        "Key": {
            "Type": "AWS::KMS::Key",
            "Properties": {
                "KeyPolicy": {
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": CLOUDWATCH},
                            "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
                            "Resource": "*",
                        }
                    ]
                }
            },
        },
        "Topic": {
            "Type": "AWS::SNS::Topic",
            "Properties": {"KmsMasterKeyId": {"Fn::GetAtt": ["Key", "Arn"]}},
        },
        "Alarm": {
            "Type": "AWS::CloudWatch::Alarm",
            "Properties": {"AlarmName": "x-ops-errors", "AlarmActions": [{"Ref": "Topic"}]},
        },
    }
    if topic_policy is not None:
        resources["Policy"] = {
            "Type": "AWS::SNS::TopicPolicy",
            "Properties": {
                "Topics": [{"Ref": "Topic"}],
                "PolicyDocument": {"Statement": topic_policy},
            },
        }
    return {"Resources": resources}


SSL_ONLY = {
    "Effect": "Deny",
    "Principal": "*",
    "Action": "sns:Publish",
    "Resource": {"Ref": "Topic"},
    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
}


def test_a_topic_policy_of_only_the_ssl_deny_refuses_alarms() -> None:
    # Given an alarm publishing to a topic whose policy is only the SSL Deny (issue 15)
    account = Account({"T": _alarm_and_topic([SSL_ONLY])})
    # When the alarm path is evaluated
    _, problems = alarm_problems(account)
    # Then CloudWatch is refused: the policy replaced SNS's default and allows nobody
    assert any("gives 'none' to cloudwatch.amazonaws.com" in p for p in problems)


def test_an_unscoped_topic_allow_is_reported() -> None:
    # Given a topic policy that lets CloudWatch publish for any alarm of any account
    allow_all = {
        "Effect": "Allow",
        "Principal": {"Service": CLOUDWATCH},
        "Action": "sns:Publish",
        "Resource": {"Ref": "Topic"},
    }
    account = Account({"T": _alarm_and_topic([SSL_ONLY, allow_all])})
    # When the alarm path is evaluated
    _, problems = alarm_problems(account)
    # Then the delivery is admitted but the missing scope is a problem
    assert problems
    assert all("also admits" in p for p in problems)


def test_a_dead_letter_queue_the_role_cannot_send_to_is_reported() -> None:
    # Given a function whose dead-letter queue its role's policy does not cover
    template = {
        "Resources": {
            "Queue": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "q"}},
            "Other": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "other"}},
            "Role": {"Type": "AWS::IAM::Role", "Properties": {}},
            "RolePolicy": {
                "Type": "AWS::IAM::Policy",
                "Properties": {
                    "Roles": [{"Ref": "Role"}],
                    "PolicyDocument": {
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Action": "sqs:SendMessage",
                                "Resource": {"Fn::GetAtt": ["Other", "Arn"]},
                            }
                        ]
                    },
                },
            },
            "Fn": {
                "Type": "AWS::Lambda::Function",
                "Properties": {
                    "Role": {"Fn::GetAtt": ["Role", "Arn"]},
                    "DeadLetterConfig": {"TargetArn": {"Fn::GetAtt": ["Queue", "Arn"]}},
                },
            },
        }
    }
    # When the function's failure paths are evaluated
    paths, problems = async_failure_problems(Account({"T": template}))
    # Then the dead-letter queue is reported as out of the role's reach
    assert paths == 1
    assert problems == [
        f"T/Fn dead-letter queue arn:aws:sqs:{REGION}:{ACCOUNT}:q: "
        "the policy of T/Role does not allow it"
    ]
