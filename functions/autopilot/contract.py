"""Names shared by the CDK app, the handlers and the sandbox: defined once, here.

Tag keys (the tag contract: README.md), EventBridge sources and detail-types, the functions'
logical names and handler paths, and the builders of the rules' event patterns. The
infra code builds its rules from these builders, the sandbox routes through the rules it
reads back from the deployed stack, and the handlers check detail-types against them.

This module is pure data: no boto3, no pydantic, nothing slow to import.
"""

from __future__ import annotations

from typing import Any, Final, NamedTuple

# ---------------------------------------------------------------------------
# Tag contract (README.md, "Opting services in")
# ---------------------------------------------------------------------------
TAG_PREFIX: Final = "autopilot:"
TAG_REPOSITORY: Final = "autopilot:repository"
TAG_CONTAINER: Final = "autopilot:container"
TAG_POLICY: Final = "autopilot:policy"
TAG_SCAN: Final = "autopilot:scan"
TAG_APPROVAL: Final = "autopilot:approval"
TAG_REBALANCE: Final = "autopilot:rebalance"
TAG_SCALING: Final = "autopilot:scaling"
TAG_STRATEGY: Final = "autopilot:strategy"
TAG_ALARMS: Final = "autopilot:alarms"
#: ``on`` | ``off``: the admission hook checks this service's deployments (``logic.admission``)
TAG_ADMISSION: Final = "autopilot:admission"
# on CloudWatch alarms
TAG_TARGET: Final = "autopilot:target"
TAG_STEP: Final = "autopilot:step"
TAG_COOLDOWN: Final = "autopilot:cooldown"

SERVICE_TAG_KEYS: Final = (
    TAG_REPOSITORY,
    TAG_CONTAINER,
    TAG_POLICY,
    TAG_SCAN,
    TAG_APPROVAL,
    TAG_REBALANCE,
    TAG_SCALING,
    TAG_STRATEGY,
    TAG_ALARMS,
    TAG_ADMISSION,
)
ALARM_TAG_KEYS: Final = (TAG_TARGET, TAG_STEP, TAG_COOLDOWN)

DEFAULT_POLICY: Final = "semver"
DEFAULT_SCAN: Final = "critical"
DEFAULT_APPROVAL: Final = "auto"
#: how long autopilot's PAUSE hook (``autopilot:approval=manual-traffic``) waits before ECS
#: rolls the deployment back; ECS takes 1..20160 minutes
DEFAULT_PAUSE_TIMEOUT_MINUTES: Final = 1440
DEFAULT_REBALANCE: Final = "on"
DEFAULT_ADMISSION: Final = "on"

# ---------------------------------------------------------------------------
# EventBridge sources and detail-types
# ---------------------------------------------------------------------------
SOURCE_ECR: Final = "aws.ecr"
SOURCE_INSPECTOR2: Final = "aws.inspector2"
SOURCE_ECS: Final = "aws.ecs"
SOURCE_CLOUDWATCH: Final = "aws.cloudwatch"
SOURCE_EC2: Final = "aws.ec2"
SOURCE_EVENTS: Final = "aws.events"
#: What the control plane itself puts on the default bus (the reconciler's shards).
SOURCE_AUTOPILOT: Final = "ecs-autopilot"

DT_ECR_IMAGE_ACTION: Final = "ECR Image Action"
DT_ECR_IMAGE_SCAN: Final = "ECR Image Scan"
DT_INSPECTOR2_SCAN: Final = "Inspector2 Scan"
DT_INSPECTOR2_FINDING: Final = "Inspector2 Finding"
DT_ECS_DEPLOYMENT: Final = "ECS Deployment State Change"
DT_ECS_HOOK: Final = "ECS Hook State Change"
DT_ECS_TASK: Final = "ECS Task State Change"
DT_ECS_SERVICE_ACTION: Final = "ECS Service Action"
DT_ALARM: Final = "CloudWatch Alarm State Change"
DT_SPOT_WARNING: Final = "EC2 Spot Instance Interruption Warning"
#: What a schedule rule delivers (source ``aws.events``, ``resources`` = the rule's ARN).
DT_SCHEDULED: Final = "Scheduled Event"
#: One shard of a sweep too large for one invocation (source ``ecs-autopilot``): the
#: reconciler's tick puts one per shard, the shard rule brings it back to the reconciler.
DT_RECONCILE_SHARD: Final = "Reconcile Shard"
#: The most services one shard names (``reconciler.shard_size`` at most): 500 names of at
#: most 255 characters, with their clusters' ARNs, stay under PutEvents' 256 KB an entry.
MAX_SHARD_SIZE: Final = 500


# ---------------------------------------------------------------------------
# The functions
# ---------------------------------------------------------------------------
class FunctionSpec(NamedTuple):
    """One Lambda function: its short name (also the CLI's name for it) and handler."""

    name: str
    handler: str
    description: str


IMAGE_EVENTS: Final = FunctionSpec(
    name="image-events",
    handler="autopilot.handlers.image_events.handler",
    description="ECR pushes and scans: scan-gated redeploys pinned by digest",
)
DEPLOYMENT_EVENTS: Final = FunctionSpec(
    name="deployment-events",
    handler="autopilot.handlers.deployment_events.handler",
    description="ECS deployment outcomes: last known good, rollback and quarantine",
)
TASK_EVENTS: Final = FunctionSpec(
    name="task-events",
    handler="autopilot.handlers.task_events.handler",
    description="ECS task state changes: zone balance and crash loops",
)
CAPACITY_EVENTS: Final = FunctionSpec(
    name="capacity-events",
    handler="autopilot.handlers.capacity_events.handler",
    description="Alarms, placement failures and Spot warnings: bounded scaling",
)
RECONCILER: Final = FunctionSpec(
    name="reconciler",
    handler="autopilot.handlers.reconciler.handler",
    description="Scheduled sweep: deploys what the tag policies would deploy now, if not running",
)
#: Not an EventBridge reaction: ECS invokes it as the Lambda lifecycle hook of a deployment
#: (PRE_SCALE_UP) and reads its answer (``hookStatus``).
ADMISSION: Final = FunctionSpec(
    name="admission",
    handler="autopilot.handlers.admission.handler",
    description="ECS lifecycle hook: fails a deployment of a quarantined or gate-failing digest",
)
#: The stage of a deployment the admission hook runs at: before ECS starts any new task.
ADMISSION_STAGE: Final = "PRE_SCALE_UP"
FUNCTIONS: Final = {
    f.name: f
    for f in (IMAGE_EVENTS, DEPLOYMENT_EVENTS, TASK_EVENTS, CAPACITY_EVENTS, RECONCILER, ADMISSION)
}


# ---------------------------------------------------------------------------
# What the control plane manages: clusters and repositories
# ---------------------------------------------------------------------------
#: Every repository of the account (the ``REPOSITORIES`` setting, and the rules' filter).
ALL_REPOSITORIES: Final = "*"


class RepositoryFilter(NamedTuple):
    """Which ECR repositories the control plane manages: all of the account's (no names, no
    prefixes), or those named and those whose name starts with a prefix.

    Written as one setting (``REPOSITORIES``): ``*``, or comma-separated ``name:<repo>`` and
    ``prefix:<start>`` items (``setting()`` writes it, ``parse`` reads it).
    """

    names: tuple[str, ...] = ()
    prefixes: tuple[str, ...] = ()

    @property
    def everything(self) -> bool:
        return not self.names and not self.prefixes

    def covers(self, repository: str) -> bool:
        return (
            self.everything
            or repository in self.names
            or any(repository.startswith(p) for p in self.prefixes)
        )

    def setting(self) -> str:
        """The ``REPOSITORIES`` value that names this filter (``parse`` reads it back)."""
        if self.everything:
            return ALL_REPOSITORIES
        return ",".join(
            [*(f"name:{n}" for n in self.names), *(f"prefix:{p}" for p in self.prefixes)]
        )

    def __str__(self) -> str:
        return self.setting()

    @classmethod
    def parse(cls, text: str) -> RepositoryFilter:
        """The filter a ``REPOSITORIES`` value names; raises ``ValueError`` on junk."""
        text = text.strip()
        if text == ALL_REPOSITORIES:
            return cls()
        names: list[str] = []
        prefixes: list[str] = []
        for item in filter(None, (i.strip() for i in text.split(","))):
            kind, sep, value = item.partition(":")
            if not sep or not value or kind not in ("name", "prefix"):
                raise ValueError(f"{item!r}: expected name:<repository> or prefix:<start>")
            (names if kind == "name" else prefixes).append(value)
        if not names and not prefixes:
            raise ValueError("no repositories: give * for all of them")
        return cls(tuple(names), tuple(prefixes))


def split_list(text: str) -> tuple[str, ...]:
    """A comma-separated setting (``CLUSTER_ARNS``) as its items."""
    return tuple(i.strip() for i in text.split(",") if i.strip())


# ---------------------------------------------------------------------------
# Event patterns. Values may be CDK tokens (strings) when built by the CDK app. Every
# pattern pins the account and the region: an event of another account (a rule on a bus
# that receives other accounts' events) never reaches a function.
# ---------------------------------------------------------------------------
def _where(account: str, region: str) -> dict[str, Any]:
    return {"account": [account], "region": [region]}


def _repository_condition(repositories: RepositoryFilter, arn_prefix: str = "") -> dict[str, Any]:
    """``detail.repository-name`` for the filter: nothing for all repositories, else the
    names and the prefixes (after ``arn_prefix``, for events that name a repository ARN)."""
    if repositories.everything:
        return {}
    values: list[Any] = [arn_prefix + n for n in repositories.names]
    values += [{"prefix": arn_prefix + p} for p in repositories.prefixes]
    return {"detail": {"repository-name": values}}


def ecr_image_action_pattern(
    account: str, region: str, repositories: RepositoryFilter
) -> dict[str, Any]:
    """Pushes, deletes and failures on the managed repositories.

    ECR push events carry an empty ``resources`` list, so the pattern filters on
    ``detail.repository-name`` (aws-cdk's ``Repository.onEvent`` filters on
    ``resources`` and never fires for pushes).
    """
    return {
        "source": [SOURCE_ECR],
        "detail-type": [DT_ECR_IMAGE_ACTION],
        **_where(account, region),
        **_repository_condition(repositories),
    }


def ecr_image_scan_pattern(
    account: str, region: str, repositories: RepositoryFilter
) -> dict[str, Any]:
    """Basic scanning results: ``repository-name`` is the bare name."""
    return {
        "source": [SOURCE_ECR],
        "detail-type": [DT_ECR_IMAGE_SCAN],
        **_where(account, region),
        **_repository_condition(repositories),
    }


def inspector2_scan_pattern(
    account: str, region: str, repositories: RepositoryFilter, repository_arn_prefix: str
) -> dict[str, Any]:
    """Enhanced scanning results: ``repository-name`` is the repository ARN
    (``repository_arn_prefix`` is ``arn:<partition>:ecr:<region>:<account>:repository/``)."""
    return {
        "source": [SOURCE_INSPECTOR2],
        "detail-type": [DT_INSPECTOR2_SCAN],
        **_where(account, region),
        **_repository_condition(repositories, repository_arn_prefix),
    }


def inspector2_finding_pattern(
    account: str, region: str, repositories: RepositoryFilter, repository_arn_prefix: str
) -> dict[str, Any]:
    """Inspector findings about images of the managed repositories. A finding has no
    ``repository-name``: its ``resources`` name the image as
    ``<repository ARN>/sha256:<digest>``, so the pattern takes resources that start with
    ``repository_arn_prefix`` (ECR images only: no EC2 or Lambda finding) and, for a
    filter, with a managed name followed by ``/sha256:`` or with a managed prefix."""
    if repositories.everything:
        resources: list[Any] = [{"prefix": repository_arn_prefix}]
    else:
        resources = [{"prefix": f"{repository_arn_prefix}{n}/sha256:"} for n in repositories.names]
        resources += [{"prefix": repository_arn_prefix + p} for p in repositories.prefixes]
    return {
        "source": [SOURCE_INSPECTOR2],
        "detail-type": [DT_INSPECTOR2_FINDING],
        **_where(account, region),
        "resources": resources,
    }


def service_arn_prefix(cluster_arn: str) -> str:
    """``arn:...:cluster/<c>`` -> ``arn:...:service/<c>/``: what the cluster's services'
    ARNs start with."""
    prefix, _, cluster = cluster_arn.partition(":cluster/")
    return f"{prefix}:service/{cluster}/"


def ecs_deployment_pattern(account: str, region: str, cluster_arns: list[str]) -> dict[str, Any]:
    """Deployment state changes of the managed clusters' services (the event names the
    service in ``resources``)."""
    return {
        "source": [SOURCE_ECS],
        "detail-type": [DT_ECS_DEPLOYMENT],
        **_where(account, region),
        "resources": [{"prefix": service_arn_prefix(c)} for c in cluster_arns],
    }


def ecs_hook_pattern(account: str, region: str, cluster_arns: list[str]) -> dict[str, Any]:
    """PAUSE hook state changes of the managed clusters' deployments (the event names the
    cluster in ``detail``; its ``resources`` may be missing)."""
    return {
        "source": [SOURCE_ECS],
        "detail-type": [DT_ECS_HOOK],
        **_where(account, region),
        "detail": {"clusterArn": list(cluster_arns), "hookType": ["PAUSE"]},
    }


def ecs_task_pattern(account: str, region: str, cluster_arns: list[str]) -> dict[str, Any]:
    """Task state changes in the managed clusters (standalone tasks too: they are recorded
    as ignored)."""
    return {
        "source": [SOURCE_ECS],
        "detail-type": [DT_ECS_TASK],
        **_where(account, region),
        "detail": {"clusterArn": list(cluster_arns), "lastStatus": ["RUNNING", "STOPPED"]},
    }


def ecs_placement_failure_pattern(
    account: str, region: str, cluster_arns: list[str]
) -> dict[str, Any]:
    """Placement failures and steady states (the steady state ends a Spot fallback)."""
    return {
        "source": [SOURCE_ECS],
        "detail-type": [DT_ECS_SERVICE_ACTION],
        **_where(account, region),
        "detail": {
            "clusterArn": list(cluster_arns),
            "eventName": ["SERVICE_TASK_PLACEMENT_FAILURE", "SERVICE_STEADY_STATE"],
        },
    }


def alarm_pattern(account: str, region: str, alarm_name_prefix: str) -> dict[str, Any]:
    """State changes of the alarms this app manages (their names share a prefix)."""
    return {
        "source": [SOURCE_CLOUDWATCH],
        "detail-type": [DT_ALARM],
        **_where(account, region),
        "detail": {"alarmName": [{"prefix": alarm_name_prefix}]},
    }


def spot_warning_pattern(account: str, region: str) -> dict[str, Any]:
    """Spot interruption warnings (the handler keeps only the managed clusters' instances)."""
    return {"source": [SOURCE_EC2], "detail-type": [DT_SPOT_WARNING], **_where(account, region)}


def recheck_schedule(minutes: int) -> str:
    """The schedule expression of task-events' zone-balance re-check rule.

    A schedule rule has no event pattern: EventBridge sends the target a ``Scheduled Event``
    (source ``aws.events``) whose ``resources`` name the rule.
    """
    if minutes < 1:
        raise ValueError("the re-check interval is at least one minute")
    return f"rate({minutes} minute{'' if minutes == 1 else 's'})"


def reconcile_schedule(minutes: int) -> str:
    """The schedule expression of the reconciler's sweep rule (``rate(N minutes)``); the
    config holds ``reconciler.rate_minutes`` to at least one minute."""
    if minutes < 1:
        raise ValueError("the reconciler's rate is at least one minute")
    return f"rate({minutes} minute{'' if minutes == 1 else 's'})"


def reconcile_shard_pattern(account: str, region: str) -> dict[str, Any]:
    """The reconciler's own shard events (``DT_RECONCILE_SHARD``), put by its tick on the
    default bus of this account and region."""
    return {
        "source": [SOURCE_AUTOPILOT],
        "detail-type": [DT_RECONCILE_SHARD],
        **_where(account, region),
    }


# ---------------------------------------------------------------------------
# Policy values in tags
# ---------------------------------------------------------------------------
# ECS tag values allow only letters, digits, white space and ``+ - = . _ : / @``, so most
# glob and regex patterns (``*``, ``?``, ``[``, ``^``, ``\``, ``(``...) cannot be written
# into an ``autopilot:policy`` tag as they are. Such a pattern travels base64url-encoded
# (no padding) under its own kind: ``glob64:<b64>`` / ``regex64:<b64>``. The CDK app
# encodes when it must; the handlers decode; ``autopilot policy-tag`` prints the value.
ENCODED_POLICY_KINDS: Final = {"glob64": "glob", "regex64": "regex"}
_TAG_VALUE_CHARS: Final = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 +-=._:/@"
)
MAX_TAG_VALUE_LENGTH: Final = 256


def fits_tag_value(value: str) -> bool:
    """True when ``value`` can be an ECS tag value as it is (ASCII subset, at most 256 chars)."""
    return len(value) <= MAX_TAG_VALUE_LENGTH and all(c in _TAG_VALUE_CHARS for c in value)


def encode_policy_tag(policy: str) -> str:
    """The ``autopilot:policy`` tag value for ``policy``: unchanged when it fits, else encoded."""
    import base64  # noqa: PLC0415 - only the CDK app and the CLI encode

    if fits_tag_value(policy):
        return policy
    kind, _, pattern = policy.partition(":")
    if kind not in ("glob", "regex"):
        raise ValueError(f"policy {policy!r} cannot be written as a tag value")
    encoded = base64.urlsafe_b64encode(pattern.encode()).decode().rstrip("=")
    value = f"{kind}64:{encoded}"
    if len(value) > MAX_TAG_VALUE_LENGTH:
        raise ValueError(f"policy {policy!r} is too long for a tag value once encoded")
    return value


def decode_policy_tag(value: str) -> str:
    """The policy a tag value names: ``glob64:``/``regex64:`` values decoded, others unchanged.

    Raises ``ValueError`` when an encoded value is not valid base64url of UTF-8 text.
    """
    import base64  # noqa: PLC0415
    import binascii  # noqa: PLC0415

    kind, sep, payload = value.partition(":")
    plain = ENCODED_POLICY_KINDS.get(kind)
    if not sep or plain is None:
        return value
    if len(payload) > MAX_TAG_VALUE_LENGTH or not payload:
        raise ValueError(f"{kind}: value is empty or too long")
    try:
        padded = payload + "=" * (-len(payload) % 4)
        pattern = base64.b64decode(padded, altchars=b"-_", validate=True).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise ValueError(f"{kind}: value is not base64url-encoded UTF-8 text") from exc
    return f"{plain}:{pattern}"
