"""Every adjustment the sandbox makes to moto: to run the synthesized templates, and to
make moto's ECS and Auto Scaling backends answer as AWS does.

One module, each entry with the reason; sandbox/README.md repeats them. Four kinds, the
first three in :data:`ADJUSTMENTS` (what is done to the stack and the account), the
fourth in :data:`BACKEND_PATCHES` (what is done to moto's own code):

* ``template``: a change to the template body before ``CreateStack`` (the template test
  compares the deployed template with cdk.out's and allows exactly these);
* ``account``: state the template expects to find in the account (bootstrap bucket and
  assets, SSM parameters), created before ``CreateStack``;
* ``reconcile``: after ``CreateStack``, what moto's CloudFormation skipped or dropped is
  created or applied from the template itself through the plain APIs;
* ``backend``: a method of one of moto's in-process backend (or request handler) classes
  wrapped (or its state machine configured), applied by :func:`patch_backends` when the
  simulator starts and undone by :func:`restore_backends` when the sandbox stops (moto is
  process-wide).
"""

# ruff: noqa: PLC0415 - imports are deferred: moto loads only where a backend is patched

from __future__ import annotations

import contextlib
import copy
import io
import json
import logging
import secrets
import threading
import zipfile
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sandbox.intrinsics import Resolver, Unresolvable
from sandbox.server import ACCOUNT_ID, REGION, Clients
from sandbox.synth import StackArtifact

log = logging.getLogger(__name__)

BOOTSTRAP_QUALIFIER = "hnb659fds"
BOOTSTRAP_BUCKET = f"cdk-{BOOTSTRAP_QUALIFIER}-assets-{ACCOUNT_ID}-{REGION}"
BOOTSTRAP_VERSION = "30"
#: prefix for SSM parameters whose real names are reserved in moto (``/aws/service/...``)
SANDBOX_SSM_PREFIX = "/sandbox"
#: an AMI id moto's EC2 knows (it ships a list of AMIs); any value of the right shape works
SANDBOX_AMI_ID = "ami-0a1b2c3d4e5f67890"


@dataclass(frozen=True)
class Adjustment:
    key: str
    kind: str  # "template" | "account" | "reconcile" | "backend"
    what: str
    why: str


ADJUSTMENTS: tuple[Adjustment, ...] = (
    Adjustment(
        "getazs-region",
        "template",
        'Replace `Fn::GetAZs: ""` (the stack\'s region) with `Fn::GetAZs: <sandbox region>`.',
        "moto resolves an empty `Fn::GetAZs` to us-east-1's zones whatever the region, so "
        "subnets (and tasks) would land in zones of another region.",
    ),
    Adjustment(
        "public-ssm-parameter-defaults",
        "template",
        "Point the `Default` of each SSM-typed parameter under `/aws/service/` at its "
        "`/sandbox` copy (see `reserved-ssm-parameters`).",
        "moto resolves every parameter's default before it applies the values passed to "
        "`CreateStack`, and holds few of AWS's public parameters (not the Powertools layer's): "
        "the stack would fail with a server error.",
    ),
    Adjustment(
        "skipped-resource-references",
        "template",
        "Replace `Fn::GetAtt [<alarm>, Arn]` and `Ref <alarm>` of `AWS::CloudWatch::Alarm` "
        "resources with the alarm's ARN or name built from its `AlarmName` (e.g. in the "
        "dashboard body).",
        "moto's CloudFormation skips alarms and then rejects the template: \"Fn::GetAtt "
        'references undefined resource". The reconcile step creates the alarms under the '
        "same names, so the values are the ones AWS would resolve.",
    ),
    Adjustment(
        "strip-custom-resources",
        "template",
        "Remove `Custom::*` resources (e.g. CDK's `Custom::VpcRestrictDefaultSG`) and the "
        "`DependsOn` entries naming them.",
        "moto waits for a custom resource's Lambda, which it cannot run without Docker: "
        "the stack would stay CREATE_IN_PROGRESS. None of them matters to the automation.",
    ),
    Adjustment(
        "bootstrap-bucket-and-assets",
        "account",
        "Create the bootstrap bucket `cdk-hnb659fds-assets-<account>-<region>` and upload "
        "every file asset of `<stack>.assets.json` (folders zipped) under its `objectKey`.",
        "What `cdk deploy` publishes before it creates the stack; the Lambda functions' "
        "`Code.S3Key` points there.",
    ),
    Adjustment(
        "bootstrap-version-parameter",
        "account",
        "Put the SSM parameter `/cdk-bootstrap/hnb659fds/version` (value 30).",
        "Every CDK template reads it through its `BootstrapVersion` parameter.",
    ),
    Adjustment(
        "reserved-ssm-parameters",
        "account",
        "For each SSM-typed template parameter whose default is under `/aws/service/` "
        "(the ECS-optimized AMI, the Powertools layer ARN), put the same name under "
        "`/sandbox` with a stand-in (an AMI id, a layer ARN of the publishing account) and "
        "pass that name as the parameter value at `CreateStack` (the template is unchanged).",
        "moto reserves `/aws/service/` names (AccessDenied on put) and does not hold "
        "AWS's public parameters.",
    ),
    Adjustment(
        "ecs-service-tags",
        "reconcile",
        "Re-apply each `AWS::ECS::Service`'s `Tags` with `TagResource`.",
        "moto's CloudFormation creates services without tags; `autopilot:*` tags are how "
        "services opt in (the tag keys of `autopilot.contract`).",
    ),
    Adjustment(
        "ecs-service-properties",
        "reconcile",
        "Re-apply each service's `CapacityProviderStrategy`, `NetworkConfiguration`, "
        "`DeploymentConfiguration`, `AvailabilityZoneRebalancing`, `PlacementStrategies` and "
        "`PlacementConstraints` with `UpdateService`.",
        "moto's CloudFormation drops them (launchType EC2, no subnets, no circuit breaker); "
        "the handlers read them (capacity strategy, zones) and the simulator honours the "
        "circuit breaker.",
    ),
    Adjustment(
        "ecs-capacity-providers",
        "reconcile",
        "Create each `AWS::ECS::CapacityProvider` (its ASG by ARN, managed scaling) and "
        "apply `AWS::ECS::ClusterCapacityProviderAssociations` with "
        "`PutClusterCapacityProviders`.",
        "moto's CloudFormation skips both resource types.",
    ),
    Adjustment(
        "scalable-targets",
        "reconcile",
        "Register each `AWS::ApplicationAutoScaling::ScalableTarget` and put each "
        "`ScalingPolicy` through Application Auto Scaling.",
        "Skipped by moto's CloudFormation; the capacity function treats a scalable target "
        "as the owner of a service's desired count.",
    ),
    Adjustment(
        "cloudwatch-alarms",
        "reconcile",
        "Create each `AWS::CloudWatch::Alarm` with `PutMetricAlarm`, tags included.",
        "Skipped by moto's CloudFormation; alarms drive scaling through their "
        "`autopilot:*` tags and the simulator changes their state.",
    ),
    Adjustment(
        "lambda-event-invoke-configs",
        "reconcile",
        "Apply each `AWS::Lambda::EventInvokeConfig` with `PutFunctionEventInvokeConfig`.",
        "Skipped by moto's CloudFormation; the router reads `MaximumRetryAttempts` from it to "
        "emulate Lambda's asynchronous retries.",
    ),
    Adjustment(
        "sqs-queue-policies",
        "reconcile",
        "Apply each `AWS::SQS::QueuePolicy` as the queues' `Policy` attribute.",
        "Skipped by moto's CloudFormation (kept so the deployed state matches the template).",
    ),
    Adjustment(
        "ecr-repository-scanning",
        "reconcile",
        "Re-apply each `AWS::ECR::Repository`'s `ImageScanningConfiguration` with "
        "`PutImageScanningConfiguration`.",
        "moto's CloudFormation passes the property in the template's casing and the "
        "repository ends with no scan-on-push; the simulator emits basic scan results "
        "only for repositories that scan on push.",
    ),
    Adjustment(
        "ecr-registry-scanning",
        "reconcile",
        "Apply `AWS::ECR::RegistryScanningConfiguration` with "
        "`PutRegistryScanningConfiguration`, if the template has one.",
        "The simulator emits `Inspector2 Scan` or `ECR Image Scan` by the registry's "
        "scanning configuration, as AWS does.",
    ),
)

#: Changes to moto's backend classes, in the order :func:`patch_backends` applies them.
BACKEND_PATCHES: tuple[Adjustment, ...] = (
    Adjustment(
        "ecs-list-tasks-filters",
        "backend",
        "Wrap `EC2ContainerServiceBackend.list_tasks`: keep the tasks of `serviceName` (their "
        "`group` is `service:<name>`) and, with no `desiredStatus`, only the RUNNING ones.",
        "moto's `ListTasks` ignores `serviceName` and lists stopped tasks by default; ECS "
        "filters by service and defaults `desiredStatus` to RUNNING, and the handlers count a "
        "service's running tasks that way.",
    ),
    Adjustment(
        "ecs-update-service-deployment",
        "backend",
        "Wrap `EC2ContainerServiceBackend.update_service`: when the task definition changes, "
        "answer with a new PRIMARY deployment, IN_PROGRESS, the previous one ACTIVE.",
        "ECS opens a deployment on `UpdateService` with a new task definition; moto keeps the "
        "old one, so the handler's response and the next `DescribeServices` would show no "
        "deployment. The simulator then carries it to COMPLETED or FAILED.",
    ),
    Adjustment(
        "ecs-service-deployments",
        "backend",
        "Add `ListServiceDeployments` and `StopServiceDeployment` to moto's ECS response "
        "handler (`EC2ContainerServiceResponse`, dispatched on the X-Amz-Target "
        "`AmazonEC2ContainerServiceV20141113.<Operation>`): the service deployments are "
        "those of moto's service `deployments` (IN_PROGRESS, SUCCESSFUL, STOPPED, "
        "ROLLBACK_IN_PROGRESS, ROLLBACK_SUCCESSFUL); `StopServiceDeployment` with "
        "`stopType` ROLLBACK of a PENDING or IN_PROGRESS one puts the service back on the "
        "revision the deployment replaced (a new PRIMARY deployment, IN_PROGRESS, 'rolling "
        "back to deploymentId ...'), which the simulator then carries to COMPLETED; "
        "`DescribeServiceDeployments` and `DescribeServiceRevisions` describe them (one "
        "service-revision ARN per deployment, `failures` MISSING for unknown ARNs); "
        "`ContinueServiceDeployment` asks the simulator to go on past, or roll back at, a "
        "pause hook AWAITING_ACTION of a deployment IN_PROGRESS; `CreateService` and "
        "`UpdateService` first refuse a `deploymentConfiguration` ECS refuses (a PAUSE hook "
        "at a traffic shift, a number outside its documented range), and a created service "
        "keeps it.",
        "moto 5 implements none of these operations (a call is a NotImplementedError: HTTP 500); "
        "autopilot rolls an in-progress deployment back through ECS with them. Refusals as "
        "the API reference names them: an unknown ARN ServiceDeploymentNotFoundException, "
        "a deployment that is no longer in progress ConflictException, one with no previous "
        "revision ClientException, a service of another deployment controller "
        "UnsupportedFeatureException, a stopType other than ROLLBACK (ABORT's behaviour is "
        "undocumented) InvalidParameterException.",
    ),
    Adjustment(
        "ecs-task-states-held",
        "backend",
        "Set moto's state transition of `ecs::task` to manual (it never advances on its own).",
        "moto advances a task's status on every `DescribeTasks` (RUNNING -> DEACTIVATING -> "
        "...); the simulator owns task states and mirrors them into moto.",
    ),
    Adjustment(
        "asg-instances-by-zone",
        "backend",
        "Wrap `FakeAutoScalingGroup.replace_autoscaling_group_instances`: launch each new "
        "instance in the group's least populated zone, in its subnet there.",
        "EC2 Auto Scaling balances a group's instances over its zones; moto puts every "
        "instance in the group's first subnet, in a random zone, so a zone's capacity could "
        "not be lost and come back as on AWS.",
    ),
    Adjustment(
        "dynamodb-requests-one-at-a-time",
        "backend",
        "Wrap `DynamoHandler.call_action` in one lock: the sandbox's DynamoDB answers one "
        "request at a time.",
        "DynamoDB applies a conditional write atomically (its condition is checked and the "
        "item written as one step); moto's threaded server checks and writes in separate "
        "steps, so two concurrent conditional writes could both pass: two invocations both "
        "held one service's lease, and one deployed an older image over the other's.",
    ),
    Adjustment(
        "events-put-events-routed",
        "backend",
        "Wrap `EventsBackend.put_events`: every entry it accepts on the default bus is kept, as "
        "the event EventBridge delivers (id, source, detail-type, account, region, time, "
        "resources, detail), for the router (`take_put_events`), which routes it to the rules it "
        "matches; and wrap `Rule.send_to_targets` to skip Lambda targets (the router's).",
        "moto's PutEvents delivers to SQS, log group and bus targets only and raises "
        "NotImplementedError on a rule with a Lambda target; on AWS a function's PutEvents "
        "(the reconciler's shards) reaches every rule of the bus it matches.",
    ),
    Adjustment(
        "ecr-untagged-push-with-exclusions",
        "backend",
        "Wrap `ECRBackend._resolve_image_tag_mutability`: a push with no tag has no tag to "
        "check against the repository's mutability exclusion filters (no image holds it).",
        "moto matches the exclusion filters against the pushed tag even when there is none "
        "and fails with a TypeError (HTTP 500), so no image could be pushed by digest (an "
        "image index's manifests) to a repository with `IMMUTABLE_WITH_EXCLUSION`, as the "
        "estate's are (the protective tags' prefix is excluded); ECR takes such pushes.",
    ),
)

#: moto behaviours that need no adjustment but differ from AWS, for the README
KNOWN_GAPS: tuple[tuple[str, str], ...] = (
    (
        "moto's Lambda keeps no `DeadLetterConfig`",
        "the router reads each function's dead-letter queue from the template instead",
    ),
    (
        "Lambda layers from other accounts (the Powertools layer) are dropped",
        "the sandbox runs handlers in-process with the project's own Powertools",
    ),
    (
        "`AWS::EC2::SecurityGroupEgress` is skipped",
        "no traffic flows in the sandbox; nothing reads egress rules",
    ),
    ("`AWS::CDK::Metadata` and the template's `Rules` section are ignored", "they carry no state"),
)


# ---------------------------------------------------------------------------
# template
# ---------------------------------------------------------------------------
def adjust_template(
    template: dict[str, Any], stack_name: str = ""
) -> tuple[dict[str, Any], list[str]]:
    """Return a copy of ``template`` with the template adjustments, and the removed ids."""
    body = copy.deepcopy(template)
    resources: dict[str, Any] = body.get("Resources", {})
    removed = [lid for lid, r in resources.items() if str(r.get("Type", "")).startswith("Custom::")]
    for lid in removed:
        del resources[lid]
    for r in resources.values():
        dep = r.get("DependsOn")
        if isinstance(dep, str) and dep in removed:
            del r["DependsOn"]
        elif isinstance(dep, list):
            kept = [d for d in dep if d not in removed]
            if kept:
                r["DependsOn"] = kept
            else:
                del r["DependsOn"]
    outputs = body.get("Outputs", {})
    for name in [n for n, o in outputs.items() if _mentions(o, removed)]:
        del outputs[name]
    for param in body.get("Parameters", {}).values():
        default = param.get("Default")
        if (
            str(param.get("Type", "")).startswith("AWS::SSM::Parameter::Value")
            and isinstance(default, str)
            and default.startswith("/aws/service/")
        ):
            param["Default"] = SANDBOX_SSM_PREFIX + default
    body = _pin_getazs(body)
    alarms = {
        lid: _alarm_name(stack_name, lid, r)
        for lid, r in resources.items()
        if r.get("Type") == "AWS::CloudWatch::Alarm"
    }
    if alarms:
        body = _replace_alarm_references(body, alarms)
    return body, removed


def _pin_getazs(value: Any) -> Any:
    if isinstance(value, list):
        return [_pin_getazs(v) for v in value]
    if isinstance(value, dict):
        if set(value) == {"Fn::GetAZs"} and value["Fn::GetAZs"] in ("", {"Ref": "AWS::Region"}):
            return {"Fn::GetAZs": REGION}
        return {k: _pin_getazs(v) for k, v in value.items()}
    return value


def _alarm_name(stack_name: str, logical_id: str, resource: dict[str, Any]) -> Any:
    """The alarm's name as the template gives it, or the name reconcile() gives it."""
    return resource.get("Properties", {}).get("AlarmName") or f"{stack_name}-{logical_id}"


def _replace_alarm_references(
    value: Any, alarms: dict[str, Any], *, inside: str | None = None
) -> Any:
    if isinstance(value, list):
        return [_replace_alarm_references(v, alarms, inside=inside) for v in value]
    if not isinstance(value, dict):
        return value
    if len(value) == 1:
        ((key, arg),) = value.items()
        if key == "Ref" and arg in alarms and arg != inside:
            return alarms[arg]
        if key == "Fn::GetAtt":
            logical, attr = arg if isinstance(arg, list) else arg.split(".", 1)
            if logical in alarms and attr == "Arn":
                return {
                    "Fn::Join": [
                        "",
                        [
                            "arn:",
                            {"Ref": "AWS::Partition"},
                            ":cloudwatch:",
                            {"Ref": "AWS::Region"},
                            ":",
                            {"Ref": "AWS::AccountId"},
                            ":alarm:",
                            alarms[logical],
                        ],
                    ]
                }
    out = {}
    for k, v in value.items():
        if k == "Resources" and isinstance(v, dict) and inside is None:
            out[k] = {lid: _replace_alarm_references(r, alarms, inside=lid) for lid, r in v.items()}
        else:
            out[k] = _replace_alarm_references(v, alarms, inside=inside)
    return out


def _mentions(value: Any, ids: list[str]) -> bool:
    text = json.dumps(value)
    return any(f'"{i}"' in text for i in ids)


# ---------------------------------------------------------------------------
# account
# ---------------------------------------------------------------------------
def _public_parameter_value(ptype: str, name: str) -> str:
    """A stand-in for one of AWS's public parameters: an AMI id, or the Powertools layer ARN."""
    if "Image" in ptype or "ami" in name:
        return SANDBOX_AMI_ID
    if name.startswith("/aws/service/powertools/"):
        # a layer of another account, as AWS's parameter holds; moto's Lambda drops it
        layer = "AWSLambdaPowertoolsPythonV3-python313-arm64"
        return f"arn:aws:lambda:{REGION}:017000801446:layer:{layer}:1"
    return "sandbox"


def prepare_account(clients: Clients, stack: StackArtifact) -> dict[str, str]:
    """Bootstrap bucket, assets and SSM parameters; returns the CreateStack parameter values."""
    s3 = clients("s3")
    with contextlib.suppress(s3.exceptions.BucketAlreadyOwnedByYou):
        s3.create_bucket(
            Bucket=BOOTSTRAP_BUCKET,
            **(
                {}
                if REGION == "us-east-1"
                else {"CreateBucketConfiguration": {"LocationConstraint": REGION}}
            ),
        )
    for asset in stack.assets:
        s3.put_object(
            Bucket=BOOTSTRAP_BUCKET,
            Key=asset.object_key,
            Body=_asset_bytes(asset.path, asset.packaging),
        )

    ssm = clients("ssm")
    overrides: dict[str, str] = {}
    for name, param in stack.template.get("Parameters", {}).items():
        ptype, default = str(param.get("Type", "")), param.get("Default")
        if not ptype.startswith("AWS::SSM::Parameter::Value") or not isinstance(default, str):
            continue
        if default.startswith("/aws/"):
            local_name = SANDBOX_SSM_PREFIX + default
            ssm.put_parameter(
                Name=local_name,
                Value=_public_parameter_value(ptype, default),
                Type="String",
                Overwrite=True,
            )
            overrides[name] = local_name
        elif default.startswith("/cdk-bootstrap/"):
            ssm.put_parameter(Name=default, Value=BOOTSTRAP_VERSION, Type="String", Overwrite=True)
        else:
            ssm.put_parameter(Name=default, Value="sandbox", Type="String", Overwrite=True)
    return overrides


def _asset_bytes(path: Path, packaging: str) -> bytes:
    if packaging != "zip" or path.is_file():
        return path.read_bytes()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for f in sorted(path.rglob("*")):
            if f.is_file() and "__pycache__" not in f.parts:
                zf.write(f, f.relative_to(path).as_posix())
    return buf.getvalue()


# ---------------------------------------------------------------------------
# reconcile
# ---------------------------------------------------------------------------
def _tags(value: Any) -> list[dict[str, str]]:
    if isinstance(value, dict):  # {key: value} form
        return [{"Key": k, "Value": str(v)} for k, v in value.items()]
    return [{"Key": t["Key"], "Value": str(t["Value"])} for t in value or []]


def _lower_first(d: Any) -> Any:
    """CloudFormation property names (PascalCase) to ECS API names (camelCase), deeply."""
    if isinstance(d, list):
        return [_lower_first(v) for v in d]
    if isinstance(d, dict):
        return {k[:1].lower() + k[1:]: _lower_first(v) for k, v in d.items()}
    return d


def reconcile(
    clients: Clients,
    stack_name: str,
    template: dict[str, Any],
    physical_ids: dict[str, str],
    parameters: dict[str, str],
    *,
    exports: dict[str, str] | None = None,
) -> list[str]:
    """Create or apply, from the template, what moto's CloudFormation skipped or dropped: one
    step per reconcile adjustment, in this order (capacity providers first: services'
    strategies and the cluster's associations name them). ``exports`` (name -> value) are
    those of the stacks deployed before, for ``Fn::ImportValue``. Returns what was done."""
    ids = dict(physical_ids)
    r = _Reconciling(
        clients,
        stack_name,
        template.get("Resources", {}),
        ids,
        Resolver(template, ids, parameters=parameters, exports=exports),
    )
    _reconcile_capacity_providers(r)
    _reconcile_services(r)
    _reconcile_scalable_targets(r)
    _reconcile_alarms(r)
    _reconcile_event_invoke_configs(r)
    _reconcile_queue_policies(r)
    _reconcile_repository_scanning(r)
    _reconcile_registry_scanning(r)
    return r.done


@dataclass
class _Reconciling:
    """What the reconcile steps share: the stack's resources, the physical ids (a step adds
    the names it creates, which later steps' references resolve to), the resolver over
    them, and the list of what was done."""

    clients: Clients
    stack_name: str
    resources: dict[str, Any]
    ids: dict[str, str]
    resolver: Resolver
    done: list[str] = field(default_factory=list)

    def of_type(self, rtype: str) -> list[tuple[str, dict[str, Any]]]:
        return [
            (lid, r.get("Properties", {}))
            for lid, r in self.resources.items()
            if r.get("Type") == rtype
        ]


def _reconcile_capacity_providers(r: _Reconciling) -> None:
    """``ecs-capacity-providers``."""
    ecs = r.clients("ecs")
    autoscaling = r.clients("autoscaling")
    for lid, props in r.of_type("AWS::ECS::CapacityProvider"):
        p = r.resolver.resolve(props)
        name = p.get("Name") or f"{r.stack_name}-{lid}"
        asg = dict(p.get("AutoScalingGroupProvider", {}))
        asg_ref = asg.get("AutoScalingGroupArn", "")
        if asg_ref and not asg_ref.startswith("arn:"):
            groups = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[asg_ref])[
                "AutoScalingGroups"
            ]
            if groups:
                asg["AutoScalingGroupArn"] = groups[0]["AutoScalingGroupARN"]
        try:
            ecs.create_capacity_provider(
                name=name,
                autoScalingGroupProvider=_lower_first(asg),
                tags=[{"key": t["Key"], "value": t["Value"]} for t in _tags(p.get("Tags"))],
            )
        except ecs.exceptions.ClientError as exc:  # pragma: no cover - re-deploys
            log.debug("capacity provider %s: %s", name, exc)
        r.ids[lid] = name
        r.done.append(f"capacity provider {name}")
    for _lid, props in r.of_type("AWS::ECS::ClusterCapacityProviderAssociations"):
        p = r.resolver.resolve(props)
        ecs.put_cluster_capacity_providers(
            cluster=p["Cluster"],
            capacityProviders=p.get("CapacityProviders", []),
            defaultCapacityProviderStrategy=_lower_first(
                p.get("DefaultCapacityProviderStrategy", [])
            ),
        )
        r.done.append(f"cluster capacity providers of {p['Cluster']}")


def _reconcile_services(r: _Reconciling) -> None:
    """``ecs-service-tags`` and ``ecs-service-properties``."""
    ecs = r.clients("ecs")
    for lid, props in r.of_type("AWS::ECS::Service"):
        p = r.resolver.resolve(props)
        arn = r.ids[lid]
        cluster = p.get("Cluster", "default")
        tags = _tags(p.get("Tags"))
        if tags:
            ecs.tag_resource(
                resourceArn=arn, tags=[{"key": t["Key"], "value": t["Value"]} for t in tags]
            )
        update: dict[str, Any] = {}
        for cfn_key in (
            "CapacityProviderStrategy",
            "NetworkConfiguration",
            "DeploymentConfiguration",
            "AvailabilityZoneRebalancing",
        ):
            if cfn_key in p:
                update[cfn_key[:1].lower() + cfn_key[1:]] = _lower_first(p[cfn_key])
        # the template's plural keys are UpdateService's singular ones
        for cfn_key, api_key in (
            ("PlacementStrategies", "placementStrategy"),
            ("PlacementConstraints", "placementConstraints"),
        ):
            if cfn_key in p:
                update[api_key] = _lower_first(p[cfn_key])
        if "networkConfiguration" in update:
            update["networkConfiguration"] = {
                "awsvpcConfiguration": update["networkConfiguration"]["awsvpcConfiguration"]
            }
        if update:
            ecs.update_service(cluster=cluster, service=arn, **update)
        r.done.append(
            f"service {arn.rsplit('/', 1)[-1]}: {len(tags)} tags, {', '.join(update) or 'nothing else'}"  # noqa: E501
        )


def _reconcile_scalable_targets(r: _Reconciling) -> None:
    """``scalable-targets``: the targets, then their scaling policies."""
    aas = r.clients("application-autoscaling")
    for lid, props in r.of_type("AWS::ApplicationAutoScaling::ScalableTarget"):
        p = r.resolver.resolve(props)
        aas.register_scalable_target(
            ServiceNamespace=p["ServiceNamespace"],
            ResourceId=p["ResourceId"],
            ScalableDimension=p["ScalableDimension"],
            MinCapacity=int(p["MinCapacity"]),
            MaxCapacity=int(p["MaxCapacity"]),
            **({"RoleARN": p["RoleARN"]} if "RoleARN" in p else {}),
        )
        r.ids[lid] = f"{p['ResourceId']}|{p['ScalableDimension']}|{p['ServiceNamespace']}"
        r.done.append(f"scalable target {p['ResourceId']} {p['MinCapacity']}-{p['MaxCapacity']}")
    for lid, props in r.of_type("AWS::ApplicationAutoScaling::ScalingPolicy"):
        try:
            p = r.resolver.resolve(props)
            target = p.get("ScalingTargetId")
            ns, rid, dim = (
                p.get("ServiceNamespace"),
                p.get("ResourceId"),
                p.get("ScalableDimension"),
            )
            if target:
                rid, dim, ns = target.split("|")
            kwargs: dict[str, Any] = {
                "PolicyName": p["PolicyName"],
                "ServiceNamespace": ns,
                "ResourceId": rid,
                "ScalableDimension": dim,
                "PolicyType": p["PolicyType"],
            }
            for key in (
                "TargetTrackingScalingPolicyConfiguration",
                "StepScalingPolicyConfiguration",
            ):
                if key in p:
                    kwargs[key] = _numbers(p[key])
            aas.put_scaling_policy(**kwargs)
            r.done.append(f"scaling policy {p['PolicyName']}")
        except Exception as exc:
            log.debug("scaling policy %s not applied: %s", lid, exc)


def _reconcile_alarms(r: _Reconciling) -> None:
    """``cloudwatch-alarms``."""
    cw = r.clients("cloudwatch")
    for lid, props in r.of_type("AWS::CloudWatch::Alarm"):
        p = _numbers(r.resolver.resolve(props))
        p.setdefault("AlarmName", f"{r.stack_name}-{lid}")
        tags = _tags(p.pop("Tags", None))
        cw.put_metric_alarm(**p, **({"Tags": tags} if tags else {}))
        r.ids[lid] = p["AlarmName"]
        r.done.append(f"alarm {p['AlarmName']}")


def _reconcile_event_invoke_configs(r: _Reconciling) -> None:
    """``lambda-event-invoke-configs``."""
    lam = r.clients("lambda")
    for lid, props in r.of_type("AWS::Lambda::EventInvokeConfig"):
        try:
            p = r.resolver.resolve(props)
            kwargs = {"FunctionName": p["FunctionName"]}
            for key in ("MaximumRetryAttempts", "MaximumEventAgeInSeconds"):
                if key in p:
                    kwargs[key] = int(p[key])
            if "DestinationConfig" in p:
                kwargs["DestinationConfig"] = p["DestinationConfig"]
            lam.put_function_event_invoke_config(**kwargs)
            r.done.append(
                f"event invoke config of {p['FunctionName']}: {kwargs.get('MaximumRetryAttempts', 2)} retries"  # noqa: E501
            )
        except Exception as exc:
            log.debug("event invoke config %s not applied: %s", lid, exc)


def _reconcile_queue_policies(r: _Reconciling) -> None:
    """``sqs-queue-policies``."""
    sqs = r.clients("sqs")
    for lid, props in r.of_type("AWS::SQS::QueuePolicy"):
        try:
            p = r.resolver.resolve(props)
            for url in p.get("Queues", []):
                sqs.set_queue_attributes(
                    QueueUrl=url, Attributes={"Policy": json.dumps(p["PolicyDocument"])}
                )
            r.done.append(f"queue policy {lid}")
        except Unresolvable as exc:
            log.debug("queue policy %s: %s", lid, exc)


def _reconcile_repository_scanning(r: _Reconciling) -> None:
    """``ecr-repository-scanning``."""
    ecr = r.clients("ecr")
    for lid, props in r.of_type("AWS::ECR::Repository"):
        scanning = props.get("ImageScanningConfiguration")
        if scanning is not None and lid in r.ids:
            on_push = str(scanning.get("ScanOnPush", False)).lower() == "true"
            ecr.put_image_scanning_configuration(
                repositoryName=r.ids[lid], imageScanningConfiguration={"scanOnPush": on_push}
            )
            r.done.append(f"repository {r.ids[lid]}: scan on push {on_push}")


def _reconcile_registry_scanning(r: _Reconciling) -> None:
    """``ecr-registry-scanning``."""
    ecr = r.clients("ecr")
    for _lid, props in r.of_type("AWS::ECR::RegistryScanningConfiguration"):
        p = r.resolver.resolve(props)
        ecr.put_registry_scanning_configuration(
            scanType=p["ScanType"], rules=_lower_first(p.get("Rules", []))
        )
        r.done.append(f"registry scanning {p['ScanType']}")


_NUMERIC = {
    "EvaluationPeriods",
    "DatapointsToAlarm",
    "Period",
    "Threshold",
    "TargetValue",
    "ScaleInCooldown",
    "ScaleOutCooldown",
    "Cooldown",
    "MinAdjustmentMagnitude",
    "ScalingAdjustment",
    "MetricIntervalLowerBound",
    "MetricIntervalUpperBound",
}


def _numbers(value: Any) -> Any:
    """CloudFormation passes numbers as strings or numbers; the APIs want numbers."""
    if isinstance(value, list):
        return [_numbers(v) for v in value]
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if k in _NUMERIC and isinstance(v, str):
                out[k] = float(v) if "." in v or k in {"Threshold", "TargetValue"} else int(v)
            elif k in {"ActionsEnabled"} and isinstance(v, str):
                out[k] = v.lower() == "true"
            else:
                out[k] = _numbers(v)
        return out
    return value


def dead_letter_targets(
    template: dict[str, Any],
    physical_ids: dict[str, str],
    exports: dict[str, str] | None = None,
) -> dict[str, str]:
    """Function name -> DLQ ARN, from the template (moto's Lambda keeps no DeadLetterConfig)."""
    resolver = Resolver(template, physical_ids, exports=exports)
    out: dict[str, str] = {}
    for lid, r in template.get("Resources", {}).items():
        if r.get("Type") != "AWS::Lambda::Function" or lid not in physical_ids:
            continue
        target = (r.get("Properties", {}).get("DeadLetterConfig") or {}).get("TargetArn")
        if target is None:
            continue
        try:
            out[physical_ids[lid]] = str(resolver.resolve(target))
        except Unresolvable:
            continue
    return out


# ---------------------------------------------------------------------------
# backend
# ---------------------------------------------------------------------------
#: (class, method name) -> moto's own method, kept for restore_backends
_ORIGINALS: dict[tuple[type, str], Any] = {}


def _replace_method(cls: type, name: str, wrap: Callable[[Any], Any]) -> None:
    """Put ``wrap(original)`` in place of ``cls.name``; the original is kept once, so a
    second patch_backends wraps moto's method again, not the wrapper."""
    original = _ORIGINALS.setdefault((cls, name), getattr(cls, name))
    setattr(cls, name, wrap(original))


def _patch_list_tasks() -> None:
    from moto.ecs.models import EC2ContainerServiceBackend

    def wrap(original: Any) -> Any:
        def list_tasks(self: Any, *args: Any, **kwargs: Any) -> Any:
            tasks = original(self, *args, **kwargs)
            service_name = kwargs.get("service_name") or (args[4] if len(args) > 4 else None)
            desired = kwargs.get("desiredStatus") or (args[5] if len(args) > 5 else None)
            if not desired:  # ECS's default filter is RUNNING
                tasks = [t for t in tasks if getattr(t, "desired_status", "RUNNING") == "RUNNING"]
            if service_name:
                name = str(service_name).rsplit("/", 1)[-1]
                tasks = [t for t in tasks if getattr(t, "group", "") == f"service:{name}"]
            return tasks

        return list_tasks

    _replace_method(EC2ContainerServiceBackend, "list_tasks", wrap)


def _patch_update_service() -> None:
    from moto.ecs.models import EC2ContainerServiceBackend

    def wrap(original: Any) -> Any:
        def update_service(self: Any, service_properties: dict[str, Any]) -> Any:
            cluster = service_properties.get("cluster", "default")
            name = str(service_properties.get("service", "")).split("/")[-1]
            try:
                before = self._get_service(cluster, name).task_definition
            except Exception:
                before = None
            service = original(self, service_properties)
            # moto's update_service pops force_new_deployment from service_properties, so
            # this is False here: a forced update on the same task definition opens nothing
            force = bool(service_properties.get("force_new_deployment"))
            if service.task_definition != before or force:
                td_arn = self.describe_task_definition(service.task_definition).arn
                service.task_definition = td_arn
                dep_id = f"ecs-svc/{secrets.randbelow(10**18)}"
                now = datetime.now(UTC)
                old = [dict(d, status="ACTIVE") for d in (service.deployments or [])[:1]]
                service.deployments = [
                    {
                        "id": dep_id,
                        "status": "PRIMARY",
                        "taskDefinition": td_arn,
                        "desiredCount": service.desired_count,
                        "pendingCount": 0,
                        "runningCount": 0,
                        "failedTasks": 0,
                        "createdAt": now,
                        "updatedAt": now,
                        "launchType": service.launch_type,
                        "rolloutState": "IN_PROGRESS",
                        "rolloutStateReason": f"ECS deployment {dep_id} in progress.",
                    },
                    *old,
                ]
            return service

        return update_service

    _replace_method(EC2ContainerServiceBackend, "update_service", wrap)


# -- service deployments (``ecs-service-deployments``) ------------------------------------
#: moto's ``Service`` attribute where StopServiceDeployment keeps the deployments it stopped:
#: deployment id -> what the stop did (``arn``, ``source`` and ``source_td`` the revision
#: gone back to, ``rollback`` the id of the rollback's deployment, ``target_td``,
#: ``created``, ``stopped``, ``reason``, ``carried``: the simulator has told it)
STOPPED_ATTR = "sandbox_stopped_deployments"
#: the states StopServiceDeployment ROLLBACK moves to ROLLBACK_REQUESTED, and those in which
#: it "continues" (ECS Developer Guide, "Stopping Amazon ECS service deployments")
_STOPPABLE = ("PENDING", "IN_PROGRESS")
_STOPPING = ("STOP_REQUESTED", "ROLLBACK_REQUESTED", "ROLLBACK_IN_PROGRESS")


def _ecs_error(code: str, message: str) -> Exception:
    """An error moto serializes as ECS's (it finds the service model by the class's module)."""
    from moto.ecs.exceptions import ECSException

    return ECSException(code, message)


def stopped_deployments(ms: Any) -> dict[str, dict[str, Any]]:
    """The deployments StopServiceDeployment stopped on moto's service ``ms``."""
    stopped: dict[str, dict[str, Any]] = vars(ms).setdefault(STOPPED_ATTR, {})
    return stopped


def _sd_arn(ms: Any, deployment_id: str, kind: str = "service-deployment") -> str:
    """``arn:...:service-deployment/<cluster>/<service>/<id>`` of one of ``ms``'s deployments
    (``kind`` ``service-revision``: the revision it rolls out)."""
    return f"{ms.arn.replace(':service/', f':{kind}/', 1)}/{deployment_id.rsplit('/', 1)[-1]}"


def _status(d: dict[str, Any], primary: dict[str, Any]) -> str:
    rollout = d.get("rolloutState") or "COMPLETED"
    if rollout == "IN_PROGRESS":
        return "IN_PROGRESS"
    if rollout == "COMPLETED":
        return "SUCCESSFUL"
    # FAILED: the circuit breaker rolled it back (the primary says so), or it just stopped
    if d is not primary and "rolling back to" in str(primary.get("rolloutStateReason", "")):
        done = primary.get("rolloutState") != "IN_PROGRESS"
        return "ROLLBACK_SUCCESSFUL" if done else "ROLLBACK_IN_PROGRESS"
    return "STOPPED"


def service_deployments(ms: Any) -> list[dict[str, Any]]:
    """moto's service ``ms``'s service deployments, as ListServiceDeployments answers them
    (ServiceDeploymentBrief): those of its ``deployments`` (the PRIMARY first), then those
    StopServiceDeployment stopped."""
    deployments = list(ms.deployments or [])
    primary = deployments[0] if deployments else {}
    stopped = stopped_deployments(ms)
    rollbacks = {s["rollback"]: s for s in stopped.values()}
    details = deployment_details(ms)
    _remember_revisions(ms)
    out: list[dict[str, Any]] = []
    for d in deployments:
        dep_id = str(d.get("id", ""))
        told = details.get(short_id(dep_id), {})
        if not dep_id or dep_id in rollbacks or dep_id in stopped or told.get("_hidden"):
            continue
        created = told.get("_created") or d.get("createdAt") or datetime.now(UTC)
        out.append(
            {
                "serviceDeploymentArn": _sd_arn(ms, dep_id),
                "serviceArn": ms.arn,
                "clusterArn": ms.cluster_arn,
                "createdAt": created,
                "startedAt": created,
                "targetServiceRevisionArn": _sd_arn(ms, dep_id, "service-revision"),
                "status": _status(d, primary),
                "statusReason": str(d.get("rolloutStateReason", "")),
                **told.get("_brief", {}),
            }
        )
    # deployments the simulator told that moto's ``deployments`` no longer hold (one rolled
    # back by an alarm or a hook: the service is on its rollback's deployment)
    listed = {b["serviceDeploymentArn"] for b in out} | {s["arn"] for s in stopped.values()}
    for short, told in details.items():
        arn = _sd_arn(ms, short)
        if "_brief" not in told or told.get("_hidden") or arn in listed:
            continue
        out.append(
            {
                "serviceDeploymentArn": arn,
                "serviceArn": ms.arn,
                "clusterArn": ms.cluster_arn,
                "createdAt": told["_created"],
                "startedAt": told["_created"],
                "targetServiceRevisionArn": _sd_arn(ms, short, "service-revision"),
                **told["_brief"],
            }
        )
    by_id = {str(d.get("id")): d for d in deployments}
    for dep_id, stop in stopped.items():
        back = by_id.get(stop["rollback"])
        done = back is None or back.get("rolloutState") != "IN_PROGRESS"
        out.append(
            {
                "serviceDeploymentArn": stop["arn"],
                "serviceArn": ms.arn,
                "clusterArn": ms.cluster_arn,
                "createdAt": stop["created"],
                "startedAt": stop["created"],
                "finishedAt": stop["stopped"],
                "targetServiceRevisionArn": _sd_arn(ms, dep_id, "service-revision"),
                "status": "ROLLBACK_SUCCESSFUL" if done else "ROLLBACK_IN_PROGRESS",
                "statusReason": stop["reason"],
            }
        )
    return out


def _moto_service_of(backend: Any, cluster: str, service: str) -> Any:
    from moto.ecs.exceptions import ServiceNotFoundException

    try:
        return backend._get_service(cluster.rsplit("/", 1)[-1], service.rsplit("/", 1)[-1])
    except Exception as exc:
        raise ServiceNotFoundException from exc


def _list_service_deployments(self: Any) -> Any:
    """``ListServiceDeployments(service, cluster, status, createdAt, maxResults, nextToken)``
    over moto's service."""
    from moto.core.responses import ActionResult

    ms = _moto_service_of(
        self.ecs_backend, str(self._get_param("cluster") or "default"), self._get_param("service")
    )
    wanted = self._get_param("status") or []
    created = self._get_param("createdAt") or {}
    listed = [
        b
        for b in service_deployments(ms)
        if (not wanted or b["status"] in wanted) and _created_within(b["createdAt"], created)
    ]
    # maxResults (1..100) and nextToken, the offset of the next page; without maxResults
    # every deployment, as before (ECS's 20 would cut this listing, which is not ordered
    # newest first throughout: the ones StopServiceDeployment stopped come last)
    start = int(self._get_param("nextToken") or 0)
    size = int(self._get_param("maxResults") or len(listed) or 1)
    page: dict[str, Any] = {"serviceDeployments": listed[start : start + size]}
    if start + size < len(listed):
        page["nextToken"] = str(start + size)
    return ActionResult(page)


def _created_within(at: Any, created: dict[str, Any]) -> bool:
    """ListServiceDeployments' ``createdAt`` filter ``{after, before}`` on a deployment
    created ``at`` (moto parses the wire's times into naive UTC datetimes)."""

    def seconds(value: Any) -> float:
        if isinstance(value, datetime):
            return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()
        return float(value)

    after, before = created.get("after"), created.get("before")
    if after is None and before is None:
        return True
    when = seconds(at)
    return (after is None or when >= seconds(after)) and (before is None or when <= seconds(before))


def _stop_service_deployment(self: Any) -> Any:
    """``StopServiceDeployment(serviceDeploymentArn, stopType)``: ROLLBACK of a PENDING or
    IN_PROGRESS deployment puts the service back on the revision it replaced."""
    from moto.core.responses import ActionResult

    arn = str(self._get_param("serviceDeploymentArn") or "")
    stop_type = str(self._get_param("stopType") or "ROLLBACK")
    not_found = _ecs_error(
        "ServiceDeploymentNotFoundException", f"The service deployment {arn} does not exist."
    )
    path = arn.partition(":service-deployment/")[2].split("/")
    if len(path) != 3:
        raise not_found
    try:
        ms = _moto_service_of(self.ecs_backend, path[0], path[1])
    except Exception as exc:
        raise not_found from exc
    brief = next((b for b in service_deployments(ms) if b["serviceDeploymentArn"] == arn), None)
    if brief is None:
        raise not_found
    if stop_type != "ROLLBACK":
        raise _ecs_error("InvalidParameterException", "The sandbox takes stopType ROLLBACK only.")
    if brief["status"] in _STOPPING:
        return ActionResult({"serviceDeploymentArn": arn})  # the rollback continues
    if brief["status"] not in _STOPPABLE:
        raise _ecs_error(
            "ConflictException",
            f"The service deployment is {brief['status']}: it is no longer in progress.",
        )
    controller = (getattr(ms, "deployment_controller", None) or {}).get("type") or "ECS"
    if controller != "ECS":
        raise _ecs_error(
            "UnsupportedFeatureException",
            f"StopServiceDeployment is not supported for the {controller} deployment controller.",
        )
    deployments = list(ms.deployments or [])
    dep = next(d for d in deployments if _sd_arn(ms, str(d.get("id"))) == arn)
    sources = [d for d in deployments if d is not dep and d.get("status") == "ACTIVE"]
    if not sources:
        raise _ecs_error(
            "ClientException",
            "The service deployment has no previous service revision to roll back to.",
        )
    source = sources[0]
    now = datetime.now(UTC)
    back = f"ecs-svc/{secrets.randbelow(10**18)}"
    reason = (
        f"ECS deployment {dep['id']} stopped (StopServiceDeployment ROLLBACK): rolling back "
        f"to deploymentId {source['id']}."
    )
    stopped_deployments(ms)[str(dep["id"])] = {
        "arn": arn,
        "source": source["id"],
        "source_td": source["taskDefinition"],
        "target_td": dep.get("taskDefinition"),
        "rollback": back,
        "created": dep.get("createdAt") or now,
        "stopped": now,
        "reason": reason,
        "carried": False,
    }
    ms.task_definition = source["taskDefinition"]
    ms.deployments = [
        dict(
            source,
            id=back,
            status="PRIMARY",
            rolloutState="IN_PROGRESS",
            rolloutStateReason=reason,
            createdAt=now,
            updatedAt=now,
        ),
        dict(dep, status="ACTIVE", rolloutState="FAILED", rolloutStateReason=reason, updatedAt=now),
    ]
    return ActionResult({"serviceDeploymentArn": arn})


# -- service deployments' records: DescribeServiceDeployments, DescribeServiceRevisions,
# ContinueServiceDeployment ------------------------------------------------------------
#: moto's ``Service`` attribute where the simulator keeps what ECS tells of each deployment
#: beyond moto's ``deployments``: deployment id -> ServiceDeployment fields that override the
#: ones derived here (``lifecycleStage``, ``lifecycleHookDetails``, ``deploymentConfiguration``,
#: ``rollback``, ``alarms``, ``finishedAt``, ...), keyed by the id's last part (``short_id``);
#: the keys starting ``_`` are the simulator's own: ``_created``, ``_brief`` (the
#: ListServiceDeployments fields that override the derived ones, and list the deployment
#: once moto's ``deployments`` no longer hold it), ``_hidden`` (a rollback's own deployment:
#: ECS lists the rolled-back one, not it)
DETAILS_ATTR = "sandbox_deployment_details"
#: moto's ``Service`` attribute with the pause hooks of its deployments: hookId -> ``{"arn":
#: the service deployment's ARN, "status": AWAITING_ACTION | SUCCEEDED | ..., "requested":
#: the action ContinueServiceDeployment asked for, None until it is called}``
HOOKS_ATTR = "sandbox_pause_hooks"
#: moto's ``Service`` attribute with its service revisions: revision id -> ``{"taskDefinition",
#: "createdAt", "launchType", "capacityProviderStrategy", "networkConfiguration"}``
REVISIONS_ATTR = "sandbox_service_revisions"


def short_id(deployment_id: str) -> str:
    """The last part of a deployment id (``ecs-svc/123`` -> ``123``), as its ARNs end."""
    return str(deployment_id).rsplit("/", 1)[-1]


def deployment_details(ms: Any) -> dict[str, dict[str, Any]]:
    """What the simulator told of moto's service ``ms``'s deployments (``DETAILS_ATTR``)."""
    details: dict[str, dict[str, Any]] = vars(ms).setdefault(DETAILS_ATTR, {})
    return details


def pause_hooks(ms: Any) -> dict[str, dict[str, Any]]:
    """The pause hooks of moto's service ``ms``'s deployments (``HOOKS_ATTR``)."""
    hooks: dict[str, dict[str, Any]] = vars(ms).setdefault(HOOKS_ATTR, {})
    return hooks


def service_revisions(ms: Any) -> dict[str, dict[str, Any]]:
    """The service revisions of moto's service ``ms`` (``REVISIONS_ATTR``)."""
    revisions: dict[str, dict[str, Any]] = vars(ms).setdefault(REVISIONS_ATTR, {})
    return revisions


def revision_arn(ms: Any, deployment_id: str) -> str:
    """The ARN of the service revision that deployment ``deployment_id`` of ``ms`` rolls out:
    the one string ListServiceDeployments, DescribeServiceDeployments,
    DescribeServiceRevisions and the hooks carry."""
    return _sd_arn(ms, deployment_id, "service-revision")


def remember_revision(ms: Any, deployment_id: str, task_definition: str) -> str:
    """Keep the service revision of deployment ``deployment_id`` (the first one told wins:
    a revision does not change); returns its ARN."""
    rev = str(deployment_id).rsplit("/", 1)[-1]
    service_revisions(ms).setdefault(
        rev,
        {
            "taskDefinition": task_definition,
            "createdAt": datetime.now(UTC),
            "launchType": getattr(ms, "launch_type", None),
            "capacityProviderStrategy": getattr(ms, "capacity_provider_strategy", None) or [],
            "networkConfiguration": getattr(ms, "network_configuration", None) or None,
        },
    )
    return revision_arn(ms, deployment_id)


def _remember_revisions(ms: Any) -> None:
    for d in ms.deployments or []:
        if d.get("id") and d.get("taskDefinition"):
            remember_revision(ms, str(d["id"]), str(d["taskDefinition"]))
    for dep_id, stop in stopped_deployments(ms).items():
        if stop.get("target_td"):
            remember_revision(ms, dep_id, str(stop["target_td"]))
        remember_revision(ms, str(stop["source"]), str(stop["source_td"]))


def _service_of_arn(backend: Any, arn: str, kind: str) -> tuple[Any, str] | None:
    """moto's service and the id part of a ``<kind>/<cluster>/<service>/<id>`` ARN, or None."""
    path = str(arn).partition(f":{kind}/")[2].split("/")
    if len(path) != 3 or not all(path):
        return None
    try:
        return _moto_service_of(backend, path[0], path[1]), path[2]
    except Exception:
        return None


def _revision_summary(ms: Any, dep: dict[str, Any] | None, dep_id: str) -> dict[str, Any]:
    running = int((dep or {}).get("runningCount") or 0)
    pending = int((dep or {}).get("pendingCount") or 0)
    requested = int((dep or {}).get("desiredCount") or ms.desired_count or 0)
    return {
        "arn": revision_arn(ms, dep_id),
        "requestedTaskCount": requested,
        "runningTaskCount": running,
        "pendingTaskCount": pending,
    }


def _monitors(status: str, reason: str, config: dict[str, Any]) -> dict[str, Any]:
    """The rollback monitors' view of a deployment (the simulator's details may override)."""
    done = status not in ("PENDING", "IN_PROGRESS")
    breaker = config.get("deploymentCircuitBreaker") or {}
    alarms = config.get("alarms") or {}

    def state(enabled: bool, tripped: bool) -> str:
        if not enabled:
            return "DISABLED"
        if tripped:
            return "TRIGGERED"
        return "MONITORING_COMPLETE" if done else "MONITORING"

    return {
        "deploymentCircuitBreaker": {
            "status": state(bool(breaker.get("enable")), "circuit breaker" in reason),
            "failureCount": 0,
            "threshold": 3,
        },
        "alarms": {
            "status": state(bool(alarms.get("enable")), False),
            "alarmNames": list(alarms.get("alarmNames") or []),
            "triggeredAlarmNames": [],
        },
    }


def describe_service_deployment(ms: Any, arn: str) -> dict[str, Any] | None:
    """One ServiceDeployment of moto's service ``ms``, as DescribeServiceDeployments answers
    it, or None if ``ms`` has no deployment ``arn``."""
    brief = next((b for b in service_deployments(ms) if b["serviceDeploymentArn"] == arn), None)
    if brief is None:
        return None
    dep_id = arn.rsplit("/", 1)[-1]
    deployments = list(ms.deployments or [])
    by_id = {str(d.get("id", "")).rsplit("/", 1)[-1]: d for d in deployments}
    stop = next(
        (s for k, s in stopped_deployments(ms).items() if k.rsplit("/", 1)[-1] == dep_id), None
    )
    status = str(brief["status"])
    config = copy.deepcopy(vars(ms).get("deployment_configuration") or {})
    config.setdefault("strategy", "ROLLING")
    out: dict[str, Any] = {
        "serviceDeploymentArn": arn,
        "serviceArn": brief["serviceArn"],
        "clusterArn": brief["clusterArn"],
        "createdAt": brief["createdAt"],
        "startedAt": brief["startedAt"],
        "updatedAt": (by_id.get(dep_id) or {}).get("updatedAt") or brief["startedAt"],
        "status": status,
        "statusReason": brief["statusReason"],
        "deploymentConfiguration": config,
    }
    if stop is not None:
        back = next((d for d in deployments if str(d.get("id")) == stop["rollback"]), None)
        out["targetServiceRevision"] = _revision_summary(ms, {"desiredCount": 0}, dep_id)
        out["sourceServiceRevisions"] = [_revision_summary(ms, back, str(stop["source"]))]
        out["rollback"] = {
            "reason": stop["reason"],
            "startedAt": stop["stopped"],
            "serviceRevisionArn": revision_arn(ms, str(stop["source"])),
        }
        if status == "ROLLBACK_SUCCESSFUL":
            out["finishedAt"] = brief.get("finishedAt") or stop["stopped"]
    else:
        mine = by_id.get(dep_id)
        out["targetServiceRevision"] = _revision_summary(ms, mine, dep_id)
        out["sourceServiceRevisions"] = [
            _revision_summary(ms, d, str(d.get("id")))
            for d in deployments
            if d is not mine and d.get("status") == "ACTIVE" and d.get("rolloutState") != "FAILED"
        ]
        primary = deployments[0] if deployments else {}
        if status.startswith("ROLLBACK") and primary is not mine:
            out["rollback"] = {
                "reason": str(primary.get("rolloutStateReason", "")),
                "startedAt": primary.get("createdAt") or brief["startedAt"],
                "serviceRevisionArn": revision_arn(ms, str(primary.get("id"))),
            }
        if status not in ("PENDING", "IN_PROGRESS", "ROLLBACK_IN_PROGRESS"):
            out["finishedAt"] = (mine or {}).get("updatedAt") or brief["startedAt"]
    out.update(_monitors(status, str(out["statusReason"]), config))
    told = deployment_details(ms).get(dep_id, {})
    out.update({k: copy.deepcopy(v) for k, v in told.items() if not k.startswith("_")})
    return out


def _describe_service_deployments(self: Any) -> Any:
    """``DescribeServiceDeployments(serviceDeploymentArns)``: the ServiceDeployments moto's
    services have; ``failures`` (reason MISSING) for the ARNs none has."""
    from moto.core.responses import ActionResult

    found: list[dict[str, Any]] = []
    failures: list[dict[str, Any]] = []
    for arn in self._get_param("serviceDeploymentArns") or []:
        located = _service_of_arn(self.ecs_backend, arn, "service-deployment")
        described = describe_service_deployment(located[0], arn) if located else None
        if described is None:
            failures.append({"arn": arn, "reason": "MISSING"})
        else:
            found.append(described)
    return ActionResult({"serviceDeployments": found, "failures": failures})


def _image_digest_of(image: str) -> str | None:
    """The digest of ``image``: pinned by digest, or its tag resolved in moto's ECR."""
    if "@sha256:" in image:
        return image.split("@", 1)[1]
    registry, _, rest = image.partition("/")
    if ".dkr.ecr." not in registry or not rest:
        return None
    name, _, tag = rest.rpartition(":") if ":" in rest else (rest, "", "latest")
    try:
        from moto.ecr.models import ecr_backends

        account, region = registry.split(".", 1)[0], registry.split(".")[3]
        repo = ecr_backends[account][region].repositories[name]
        for img in repo.images:
            if tag in (getattr(img, "image_tags", None) or [img.image_tag]):
                return str(img.image_digest)
    except Exception:
        return None
    return None


def describe_service_revision(backend: Any, arn: str) -> dict[str, Any] | None:
    """One ServiceRevision, as DescribeServiceRevisions answers it, or None if unknown."""
    located = _service_of_arn(backend, arn, "service-revision")
    if located is None:
        return None
    ms, rev = located
    service_deployments(ms)  # keeps the revisions of the deployments it lists
    kept = service_revisions(ms).get(rev)
    if kept is None:
        return None
    td = backend.describe_task_definition(kept["taskDefinition"])
    images = []
    for c in td.container_definitions:
        image = str(c.get("image", ""))
        entry = {"containerName": c.get("name"), "image": image}
        if digest := _image_digest_of(image):
            entry["imageDigest"] = digest
        images.append(entry)
    out = {
        "serviceRevisionArn": arn,
        "serviceArn": ms.arn,
        "clusterArn": ms.cluster_arn,
        "taskDefinition": kept["taskDefinition"],
        "containerImages": images,
        "createdAt": kept["createdAt"],
        "loadBalancers": list(getattr(ms, "load_balancers", None) or []),
    }
    if kept.get("capacityProviderStrategy"):
        out["capacityProviderStrategy"] = kept["capacityProviderStrategy"]
    elif kept.get("launchType"):
        out["launchType"] = kept["launchType"]
    if kept.get("networkConfiguration"):
        out["networkConfiguration"] = kept["networkConfiguration"]
    return out


def _describe_service_revisions(self: Any) -> Any:
    """``DescribeServiceRevisions(serviceRevisionArns)``: the revisions of moto's services;
    ``failures`` (reason MISSING) for the ARNs none has."""
    from moto.core.responses import ActionResult

    found: list[dict[str, Any]] = []
    failures: list[dict[str, Any]] = []
    for arn in self._get_param("serviceRevisionArns") or []:
        described = describe_service_revision(self.ecs_backend, arn)
        if described is None:
            failures.append({"arn": arn, "reason": "MISSING"})
        else:
            found.append(described)
    return ActionResult({"serviceRevisions": found, "failures": failures})


def _continue_service_deployment(self: Any) -> Any:
    """``ContinueServiceDeployment(serviceDeploymentArn, hookId, action)``: asks the simulator
    to go on past (CONTINUE, the default) or roll back at (ROLLBACK) a pause hook that is
    AWAITING_ACTION in an IN_PROGRESS deployment; the simulator carries it."""
    from moto.core.responses import ActionResult

    arn = str(self._get_param("serviceDeploymentArn") or "")
    hook_id = str(self._get_param("hookId") or "")
    action = str(self._get_param("action") or "CONTINUE")
    if not arn or not hook_id:
        raise _ecs_error(
            "InvalidParameterException", "serviceDeploymentArn and hookId are required."
        )
    if action not in ("CONTINUE", "ROLLBACK"):
        raise _ecs_error(
            "InvalidParameterException",
            f"action {action!r} is not valid: CONTINUE or ROLLBACK.",
        )
    not_found = _ecs_error(
        "ServiceDeploymentNotFoundException", f"The service deployment {arn} does not exist."
    )
    located = _service_of_arn(self.ecs_backend, arn, "service-deployment")
    if located is None:
        raise not_found
    ms = located[0]
    brief = next((b for b in service_deployments(ms) if b["serviceDeploymentArn"] == arn), None)
    if brief is None:
        raise not_found
    hook = pause_hooks(ms).get(hook_id)
    if hook is None or hook.get("arn") != arn:
        raise _ecs_error(
            "InvalidParameterException",
            f"The service deployment has no lifecycle hook {hook_id}.",
        )
    if brief["status"] != "IN_PROGRESS":
        raise _ecs_error(
            "ClientException", f"The service deployment is {brief['status']}, not IN_PROGRESS."
        )
    if hook.get("status") != "AWAITING_ACTION" or hook.get("requested"):
        raise _ecs_error(
            "ClientException",
            f"The lifecycle hook {hook_id} is {hook.get('status')}, not AWAITING_ACTION.",
        )
    hook["requested"] = action
    return ActionResult({"serviceDeploymentArn": arn})


#: the stages a PAUSE hook may not name: they run again during a rollback (ECS Developer
#: Guide, "pause lifecycle hooks")
_NO_PAUSE_STAGES = ("TEST_TRAFFIC_SHIFT", "PRODUCTION_TRAFFIC_SHIFT")


#: the ranges ECS documents for a deployment configuration's numbers (API reference:
#: DeploymentConfiguration, LinearConfiguration, CanaryConfiguration,
#: DeploymentLifecycleHookTimeoutConfiguration): (path, low, high)
_RANGES = (
    (("bakeTimeInMinutes",), 0, 1440),
    (("linearConfiguration", "stepPercent"), 3.0, 100.0),
    (("linearConfiguration", "stepBakeTimeInMinutes"), 0, 1440),
    (("canaryConfiguration", "canaryPercent"), 0.1, 100.0),
    (("canaryConfiguration", "canaryBakeTimeInMinutes"), 0, 1440),
)
#: at most this many hooks of each target type on a service (ECS Developer Guide)
_MAX_HOOKS = 10


def _invalid(message: str) -> Exception:
    return _ecs_error("InvalidParameterException", message)


def _check_lifecycle_hooks(config: Any) -> None:
    """ECS's refusals of a deployment configuration: a number outside its documented range,
    a PAUSE hook at TEST_ or PRODUCTION_TRAFFIC_SHIFT, a Lambda hook with no target, a hook
    timeout outside 1-20,160 minutes (a Lambda hook's 1-1,440), more than 10 hooks of one
    target type."""
    if not isinstance(config, dict):
        return
    for path, low, high in _RANGES:
        value: Any = config
        for key in path:
            value = value.get(key) if isinstance(value, dict) else None
        if value is not None and not low <= float(value) <= high:
            raise _invalid(f"{'.'.join(path)} {value} is outside {low:g}-{high:g}.")
    hooks = config.get("lifecycleHooks") or []
    kinds = Counter(str(h.get("targetType") or "AWS_LAMBDA") for h in hooks)
    for kind, count in kinds.items():
        if count > _MAX_HOOKS:
            raise _invalid(f"A service takes at most {_MAX_HOOKS} {kind} hooks, not {count}.")
    for hook in hooks:
        timeout = (hook.get("timeoutConfiguration") or {}).get("timeoutInMinutes")
        # pause hooks up to 14 days; Lambda hooks up to 1440 (the Lambda hooks page)
        most = 20160 if hook.get("targetType") == "PAUSE" else 1440
        if timeout is not None and not 1 <= int(timeout) <= most:
            raise _invalid(f"timeoutInMinutes {timeout} is outside 1-{most}.")
        if hook.get("targetType") != "PAUSE":
            if not hook.get("hookTargetArn"):
                raise _invalid("An AWS_LAMBDA lifecycle hook needs a hookTargetArn.")
            continue
        bad = sorted(set(hook.get("lifecycleStages") or []) & set(_NO_PAUSE_STAGES))
        if bad:
            raise _invalid(
                f"A PAUSE lifecycle hook cannot be at {', '.join(bad)}: those stages run again "
                "during a rollback."
            )


def _checked(name: str) -> Callable[[Any], Any]:
    """moto's ``CreateService``/``UpdateService`` answer, after ECS's lifecycle-hook check;
    a created service keeps its ``deploymentConfiguration`` (moto drops it on create)."""

    def answer(self: Any) -> Any:
        from moto.ecs.responses import EC2ContainerServiceResponse

        config = self._get_param("deploymentConfiguration")
        _check_lifecycle_hooks(config)
        original = _ORIGINALS[(EC2ContainerServiceResponse, name)]
        result = original(self)
        if name == "create_service" and isinstance(config, dict):
            with contextlib.suppress(Exception):
                ms = _moto_service_of(
                    self.ecs_backend,
                    str(self._get_param("cluster") or "default"),
                    str(self._get_param("serviceName")),
                )
                ms.deployment_configuration = config
        return result

    return answer


#: the operations ``ecs-service-deployments`` adds: moto's dispatch calls the response
#: handler's method named after the operation (``camelcase_to_underscores``)
SERVICE_DEPLOYMENT_ACTIONS: dict[str, Callable[[Any], Any]] = {
    "list_service_deployments": _list_service_deployments,
    "stop_service_deployment": _stop_service_deployment,
    "describe_service_deployments": _describe_service_deployments,
    "describe_service_revisions": _describe_service_revisions,
    "continue_service_deployment": _continue_service_deployment,
    "create_service": _checked("create_service"),
    "update_service": _checked("update_service"),
}
_MISSING = object()


def keep_service_deployment_originals() -> list[tuple[type, str]]:
    """Keep moto's own answers of the operations ``SERVICE_DEPLOYMENT_ACTIONS`` replaces, which
    ``CreateService`` and ``UpdateService`` call after their check: for whoever puts the
    actions in place (the adjustment below, or a test's own patch). Returns what it kept
    that was not kept before."""
    from moto.ecs.responses import EC2ContainerServiceResponse

    added: list[tuple[type, str]] = []
    for name in SERVICE_DEPLOYMENT_ACTIONS:
        key = (EC2ContainerServiceResponse, name)
        if key not in _ORIGINALS:
            _ORIGINALS[key] = getattr(EC2ContainerServiceResponse, name, _MISSING)
            added.append(key)
    return added


@contextlib.contextmanager
def service_deployment_originals() -> Iterator[None]:
    """moto's own answers kept while a test patches ``SERVICE_DEPLOYMENT_ACTIONS`` in itself
    (tests/estate.py), and forgotten after, so no later ``restore_backends`` undoes a patch
    that is gone."""
    added = keep_service_deployment_originals()
    try:
        yield
    finally:
        for key in added:
            _ORIGINALS.pop(key, None)


def _add_service_deployments() -> None:
    from moto.ecs.responses import EC2ContainerServiceResponse

    keep_service_deployment_originals()
    for name, method in SERVICE_DEPLOYMENT_ACTIONS.items():
        setattr(EC2ContainerServiceResponse, name, method)


def _hold_task_states() -> None:
    from moto.moto_api import state_manager

    state_manager.set_transition(
        model_name="ecs::task", transition={"progression": "manual", "times": 10**12}
    )


def _patch_asg_zones() -> None:
    from moto.autoscaling.models import FakeAutoScalingGroup
    from moto.ec2.models import ec2_backends

    def wrap(original: Any) -> Any:
        def replace(self: Any, count_needed: int, propagated_tags: dict[str, str]) -> None:
            ec2 = ec2_backends[ACCOUNT_ID][REGION]
            subnets = [s for s in (self.vpc_zone_identifier or "").split(",") if s]
            by_zone: dict[str, str] = {}
            for sid in subnets:
                by_zone.setdefault(ec2.get_subnet(sid).availability_zone, sid)
            if not by_zone:
                original(self, count_needed, propagated_tags)
                return
            saved = (self.vpc_zone_identifier, self.availability_zones)
            try:
                for _ in range(count_needed):
                    counts = Counter(
                        str(s.instance.placement)
                        if not hasattr(s.instance.placement, "zone")
                        else s.instance.placement.zone
                        for s in self.instance_states
                    )
                    zone = min(by_zone, key=lambda z: (counts[z], z))
                    self.vpc_zone_identifier, self.availability_zones = by_zone[zone], [zone]
                    original(self, 1, dict(propagated_tags))
            finally:
                self.vpc_zone_identifier, self.availability_zones = saved

        return replace

    _replace_method(FakeAutoScalingGroup, "replace_autoscaling_group_instances", wrap)


#: one DynamoDB request at a time (``dynamodb-requests-one-at-a-time``)
_DYNAMODB_LOCK = threading.Lock()


def _serialize_dynamodb() -> None:
    from moto.dynamodb.responses import DynamoHandler

    def wrap(original: Any) -> Any:
        def call_action(self: Any) -> Any:
            with _DYNAMODB_LOCK:
                return original(self)

        return call_action

    _replace_method(DynamoHandler, "call_action", wrap)


#: events put on the default bus (PutEvents) not yet taken by the router, oldest first
_PUT_EVENTS: list[dict[str, Any]] = []
_PUT_LOCK = threading.Lock()


def take_put_events() -> list[dict[str, Any]]:
    """The events put on the default bus since the last call (``events-put-events-routed``)."""
    with _PUT_LOCK:
        out = list(_PUT_EVENTS)
        _PUT_EVENTS.clear()
    return out


def _patch_put_events() -> None:
    from moto.events.models import EventsBackend, Rule

    def wrap_put(original: Any) -> Any:
        def put_events(self: Any, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
            entries: list[dict[str, Any]] = original(self, events)
            kept = []
            for entry, result in zip(events, entries, strict=False):
                bus = str(entry.get("EventBusName") or "default")
                if not result.get("EventId") or bus.rsplit("/", 1)[-1] != "default":
                    continue
                kept.append(
                    {
                        "version": "0",
                        "id": result["EventId"],
                        "detail-type": entry["DetailType"],
                        "source": entry["Source"],
                        "account": self.account_id,
                        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                        "region": self.region_name,
                        "resources": list(entry.get("Resources") or []),
                        "detail": json.loads(entry["Detail"]),
                    }
                )
            with _PUT_LOCK:
                _PUT_EVENTS.extend(kept)
            return entries

        return put_events

    def wrap_send(original: Any) -> Any:
        def send_to_targets(self: Any, event: Any, transform_input: bool = True) -> None:
            targets = self.targets
            self.targets = [t for t in targets if ":lambda:" not in str(t.get("Arn", ""))]
            try:
                original(self, event, transform_input)
            finally:
                self.targets = targets

        return send_to_targets

    _replace_method(EventsBackend, "put_events", wrap_put)
    _replace_method(Rule, "send_to_targets", wrap_send)


def _patch_untagged_push() -> None:
    from moto.ecr.models import ECRBackend

    def wrap(original: Any) -> Any:
        def resolve(self: Any, repository: Any, proposed_image_tag: str | None) -> Any:
            if proposed_image_tag is None:
                return []  # no tag pushed: no image holds it, nothing is immutable
            return original(self, repository, proposed_image_tag)

        return resolve

    _replace_method(ECRBackend, "_resolve_image_tag_mutability", wrap)


_PATCHERS: dict[str, Callable[[], None]] = {
    "ecs-list-tasks-filters": _patch_list_tasks,
    "ecs-update-service-deployment": _patch_update_service,
    "ecs-service-deployments": _add_service_deployments,
    "ecs-task-states-held": _hold_task_states,
    "asg-instances-by-zone": _patch_asg_zones,
    "dynamodb-requests-one-at-a-time": _serialize_dynamodb,
    "events-put-events-routed": _patch_put_events,
    "ecr-untagged-push-with-exclusions": _patch_untagged_push,
}


def patch_backends() -> None:
    """Apply every backend patch (when the simulator starts)."""
    for patch in BACKEND_PATCHES:
        _PATCHERS[patch.key]()


def restore_backends() -> None:
    """Undo every backend patch (when the sandbox stops: moto's backends are process-wide)."""
    from moto.moto_api import state_manager

    for (cls, name), original in _ORIGINALS.items():
        if original is _MISSING:
            delattr(cls, name)
        else:
            setattr(cls, name, original)
    _ORIGINALS.clear()
    take_put_events()  # none is left for the next sandbox
    state_manager.unset_transition(model_name="ecs::task")
