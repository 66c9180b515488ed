"""The app's config file as a typed model: what to build, validated before any construct exists.

``load_config(path)`` reads a YAML or JSON file and returns an :class:`AutopilotConfig`, or
raises :class:`ConfigError` whose ``str()`` is one line naming the file, the field path and
the problem. ``app.py`` prints that line and exits 2.

This module imports no CDK: it stays fast to import and usable by the sandbox and the CLI.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from autopilot.contract import MAX_SHARD_SIZE, RepositoryFilter, encode_policy_tag
from autopilot.errors import MalformedTag
from autopilot.logic import retention as retention_logic
from autopilot.logic.policy import parse_policy
from autopilot.logic.rollout import parse_alarms, parse_rollout
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from infra import limits

# ECR repository names (ECR's own pattern), 2-256 characters.
_ECR_NAME_RE = re.compile(r"^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*$")
_SEMVER_FORMS = frozenset({"semver", "semver:minor", "semver:patch"})


class ConfigError(Exception):
    """A config file that cannot be used; ``str()`` is the one line shown to the user."""

    def __init__(self, file: str | Path, field: str, problem: str) -> None:
        self.file = str(file)
        self.field = field
        self.problem = problem
        where = f"{self.file}: {field}: " if field else f"{self.file}: "
        super().__init__(f"{where}{problem}")


def check_policy(policy: str) -> str:
    """Check one ``autopilot:policy`` string against its grammar (README.md, the tag contract).

    ``semver`` | ``semver:minor`` | ``semver:patch`` | ``glob:<pattern>`` |
    ``regex:<pattern>`` (must compile) | ``tag:<name>``. Returns the policy unchanged or
    raises ``ValueError`` saying what is wrong.
    """
    if policy in _SEMVER_FORMS:
        return policy
    kind, sep, arg = policy.partition(":")
    if not sep or kind not in {"glob", "regex", "tag"}:
        raise ValueError(
            f"bad policy {policy!r}: expected semver, semver:minor, semver:patch, "
            "glob:<pattern>, regex:<pattern> or tag:<name>"
        )
    if not arg:
        raise ValueError(f"bad policy {policy!r}: {kind}: needs a value after the colon")
    if kind == "regex":
        try:
            re.compile(arg)
        except re.error as exc:
            raise ValueError(f"bad policy {policy!r}: the regex does not compile ({exc})") from exc
    if kind == "tag" and not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,127}", arg):
        raise ValueError(f"bad policy {policy!r}: {arg!r} is not a valid image tag")
    try:
        # the handlers' own parser: a pattern they would refuse (too long, could backtrack
        # badly) fails the synth instead of every push to the repository
        parse_policy(policy)
    except MalformedTag as exc:
        raise ValueError(f"bad policy {policy!r}: {exc.problem}") from exc
    return policy


def follows_moving_tag(policy: str) -> bool:
    """True for ``tag:<name>`` policies, which need a MUTABLE repository."""
    return policy.startswith("tag:")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# ---------------------------------------------------------------------------
# network
# ---------------------------------------------------------------------------
class NewVpc(_Strict):
    """A new VPC: public and private subnets in each AZ, NAT gateways, flow logs."""

    cidr: str = "10.40.0.0/16"
    max_azs: int = Field(default=3, ge=2, le=3)
    nat_gateways: int = Field(default=1, ge=1, le=3)


class ExistingVpc(_Strict):
    """An existing VPC, described in full so that synth needs no look-up (no credentials)."""

    vpc_id: str = Field(pattern=r"^vpc-[0-9a-f]{8,17}$")
    availability_zones: list[str] = Field(min_length=2, max_length=6)
    public_subnet_ids: list[Annotated[str, Field(pattern=r"^subnet-[0-9a-f]{8,17}$")]]
    private_subnet_ids: list[Annotated[str, Field(pattern=r"^subnet-[0-9a-f]{8,17}$")]]

    @model_validator(mode="after")
    def _one_subnet_per_az(self) -> ExistingVpc:
        n = len(self.availability_zones)
        for name in ("public_subnet_ids", "private_subnet_ids"):
            if len(getattr(self, name)) != n:
                raise ValueError(f"{name} must list one subnet per availability zone ({n})")
        return self


class Network(_Strict):
    """Exactly one of ``new_vpc`` or ``existing_vpc``."""

    new_vpc: NewVpc | None = None
    existing_vpc: ExistingVpc | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Network:
        if (self.new_vpc is None) == (self.existing_vpc is None):
            raise ValueError("give exactly one of new_vpc or existing_vpc")
        return self


# ---------------------------------------------------------------------------
# capacity
# ---------------------------------------------------------------------------
class Ec2Capacity(_Strict):
    """EC2 capacity: one Auto Scaling group behind an ASG capacity provider."""

    instance_types: list[str] = Field(min_length=1, max_length=20)
    min_capacity: int = Field(default=0, ge=0, le=1000)
    max_capacity: int = Field(default=4, ge=1, le=1000)
    spot: bool = False
    root_volume_gib: int = Field(default=30, ge=30, le=1024)
    target_capacity_percent: int = Field(default=100, ge=1, le=100)

    @field_validator("instance_types")
    @classmethod
    def _instance_type_shape(cls, value: list[str]) -> list[str]:
        for item in value:
            if not re.fullmatch(r"[a-z][a-z0-9-]*\.[a-z0-9]+", item):
                raise ValueError(f"{item!r} is not an EC2 instance type like 'm5.large'")
        return value

    @model_validator(mode="after")
    def _bounds(self) -> Ec2Capacity:
        if self.min_capacity > self.max_capacity:
            raise ValueError(
                f"min_capacity {self.min_capacity} is greater than max_capacity {self.max_capacity}"
            )
        return self


class FargateCapacity(_Strict):
    """Weights and base for the ``fargate-spot-mix`` strategy (FARGATE vs FARGATE_SPOT)."""

    fargate_base: int = Field(default=1, ge=0, le=100000)
    fargate_weight: int = Field(default=1, ge=0, le=1000)
    spot_weight: int = Field(default=3, ge=0, le=1000)

    @model_validator(mode="after")
    def _some_weight(self) -> FargateCapacity:
        if self.fargate_weight + self.spot_weight == 0:
            raise ValueError("fargate_weight and spot_weight cannot both be 0")
        return self


# ---------------------------------------------------------------------------
# registry
# ---------------------------------------------------------------------------
class Repository(_Strict):
    """One ECR repository."""

    name: str = Field(min_length=2, max_length=256)
    # IMMUTABLE unless a service follows a moving tag; say ``immutable`` to forbid that.
    tag_mutability: Literal["immutable", "mutable"] | None = None
    # basic: scan on push (``ECR Image Scan`` events); enhanced: Amazon Inspector scans,
    # switched on for the registry by the account owner (``Inspector2 Scan`` events).
    scanning: Literal["basic", "enhanced"] = "basic"
    untagged_expire_days: int = Field(default=7, ge=1, le=3650)
    keep_tagged: int = Field(default=50, ge=1, le=10000)
    # 12-digit account ids or IAM principal ARNs allowed to pull.
    pull_principals: list[str] = Field(default_factory=list)

    @field_validator("name")
    @classmethod
    def _ecr_name(cls, value: str) -> str:
        if not _ECR_NAME_RE.fullmatch(value):
            raise ValueError(f"{value!r} is not a valid ECR repository name")
        return value

    @field_validator("pull_principals")
    @classmethod
    def _principals(cls, value: list[str]) -> list[str]:
        for item in value:
            if not (
                re.fullmatch(r"\d{12}", item)
                or re.fullmatch(r"arn:aws[a-z-]*:iam::\d{12}:.+", item)
            ):
                raise ValueError(f"{item!r} is neither a 12-digit account id nor an IAM ARN")
        return value


# ---------------------------------------------------------------------------
# services
# ---------------------------------------------------------------------------
class Scaling(_Strict):
    """Service Auto Scaling bounds and the CPU target of its target-tracking policy."""

    min: int = Field(ge=0, le=10000)
    max: int = Field(ge=1, le=10000)
    cpu_target: int = Field(default=60, ge=10, le=90)

    @model_validator(mode="after")
    def _bounds(self) -> Scaling:
        if self.min > self.max:
            raise ValueError(f"min {self.min} is greater than max {self.max}")
        return self


#: an alarm name an ECS tag value can hold (``autopilot:alarms`` separates them by spaces)
_ALARM_TAG_NAME = re.compile(r"[A-Za-z0-9_.:/=+\-@]{1,255}", re.ASCII)
_TAG_VALUE_MAX = 256


class Automation(_Strict):
    """The opt-in tags (README.md, the tag contract), written on the service."""

    policy: str = "semver"
    scan: Literal["critical", "high", "off"] = "critical"
    # ``manual-traffic``: the deploy starts and waits at a pause hook before production
    # traffic (needs a canary, linear or blue-green strategy)
    approval: Literal["auto", "manual", "manual-traffic"] = "auto"
    rebalance: Literal["on", "off"] = "on"
    # the admission hook (``autopilot:admission``): ``off`` opts the service out
    admission: Literal["on", "off"] = "on"
    # ECS's deployment strategy (``autopilot:strategy``): ``rolling``,
    # ``canary:<percent>:<bake minutes>``, ``linear:<step percent>:<bake minutes>`` or
    # ``blue-green:<bake minutes>``; the three that shift traffic need a load_balancer (the
    # estate wires its alternate target group, production listener rule and ECS's role)
    strategy: str | None = None
    # the deployment alarms ECS rolls a deploy back on (``autopilot:alarms``); left out: a
    # service behind a load balancer gets two (its targets' 5xx responses, its unhealthy
    # hosts), others none; ``[]`` for none
    deployment_alarms: list[str] | None = None

    @field_validator("strategy")
    @classmethod
    def _strategy(cls, value: str | None) -> str | None:
        try:
            rollout = parse_rollout(value)
        except MalformedTag as exc:
            raise ValueError(exc.problem) from exc
        return None if rollout is None else str(rollout)

    @field_validator("deployment_alarms")
    @classmethod
    def _alarms(cls, value: list[str] | None) -> list[str] | None:
        if not value:
            return value
        for name in value:
            if not _ALARM_TAG_NAME.fullmatch(name):
                raise ValueError(
                    f"alarm name {name!r}: 1-255 letters, digits and _ . : / = + - @ "
                    "(what an ECS tag value can hold; no spaces)"
                )
        try:
            parse_alarms(" ".join(value))
        except MalformedTag as exc:
            raise ValueError(exc.problem) from exc
        if len(" ".join(value)) > _TAG_VALUE_MAX:
            raise ValueError(f"the names take more than the {_TAG_VALUE_MAX} characters of a tag")
        return list(dict.fromkeys(value))

    @property
    def shifts_traffic(self) -> bool:
        rollout = parse_rollout(self.strategy)
        return rollout is not None and rollout.shifts_traffic

    @field_validator("policy")
    @classmethod
    def _policy(cls, value: str) -> str:
        policy = check_policy(value)
        try:
            # glob/regex patterns ECS cannot hold in a tag are written base64url-encoded
            encode_policy_tag(policy)
        except ValueError as exc:
            raise ValueError(f"bad policy {policy!r}: {exc}") from exc
        return policy

    @property
    def policy_tag(self) -> str:
        """The ``autopilot:policy`` tag value (``glob64:``/``regex64:`` when it must be encoded)."""
        return encode_policy_tag(self.policy)

    @field_validator("rebalance", "admission", mode="before")
    @classmethod
    def _yaml_on_off(cls, value: object) -> object:
        # YAML 1.1 reads a bare on/off as a boolean
        return {True: "on", False: "off"}.get(value, value) if isinstance(value, bool) else value


# Valid Fargate task sizes: cpu units -> memory (MiB).
_FARGATE_MEMORY: dict[int, tuple[int, ...]] = {
    256: (512, 1024, 2048),
    512: tuple(range(1024, 4097, 1024)),
    1024: tuple(range(2048, 8193, 1024)),
    2048: tuple(range(4096, 16385, 1024)),
    4096: tuple(range(8192, 30721, 1024)),
    8192: tuple(range(16384, 61441, 4096)),
    16384: tuple(range(32768, 122881, 8192)),
}


_STEP_RE = re.compile(r"^[+-][1-9][0-9]{0,3}%?$")


def _step(value: str) -> str:
    if not _STEP_RE.fullmatch(value):
        raise ValueError(f"{value!r} is not a step like +1, -2 or +50%")
    return value


class Thresholds(_Strict):
    """High and low thresholds (percent) of one metric: high scales out, low scales in."""

    high: float = Field(default=80, gt=0, le=100)
    low: float | None = Field(default=20, ge=0, lt=100)

    @model_validator(mode="after")
    def _order(self) -> Thresholds:
        if self.low is not None and self.low >= self.high:
            raise ValueError(f"low {self.low} must be below high {self.high}")
        return self


class _AlarmSteps(_Strict):
    """What an alarm's state change does: the step out on ALARM, in on the low alarm."""

    step_out: str = "+1"
    step_in: str = "-1"
    cooldown_seconds: int = Field(default=300, ge=0, le=86_400)

    @field_validator("step_out", "step_in")
    @classmethod
    def _steps(cls, value: str) -> str:
        return _step(value)


class ServiceAlarms(_AlarmSteps):
    """Alarms on a service's CPUUtilization and MemoryUtilization (AWS/ECS), tagged with
    ``autopilot:target`` = the service, ``autopilot:step`` and ``autopilot:cooldown``."""

    cpu: Thresholds | None = Thresholds()
    memory: Thresholds | None = Thresholds()


class ClusterAlarms(_AlarmSteps):
    """Alarms on the cluster's CPUReservation and MemoryReservation (AWS/ECS), driving the
    EC2 capacity provider (``autopilot:target`` = ``capacity-provider:<name>``)."""

    cpu_reservation: Thresholds | None = Thresholds()
    memory_reservation: Thresholds | None = Thresholds()


class CapacityAlarms(_Strict):
    """The alarms capacity-events acts on. Their names start with ``name_prefix`` (the
    capacity rule matches that prefix; default ``autopilot-<environment>-``)."""

    name_prefix: str | None = Field(default=None, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
    cluster: ClusterAlarms | None = ClusterAlarms()
    period_seconds: Literal[60, 300] = 60
    evaluation_periods: int = Field(default=3, ge=1, le=100)


class LoadBalancer(_Strict):
    """Put the service behind an internet-facing Application Load Balancer (HTTP)."""

    port: int = Field(default=80, ge=1, le=65535)
    health_check_path: str = Field(default="/", pattern=r"^/")


class Service(_Strict):
    """One ECS service."""

    name: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9_-]{0,62}$")
    repository: str | None = None
    # The image tag the task definition starts from (image automation pins digests later);
    # ``image`` replaces repository+tag with a full image reference.
    image_tag: str = Field(default="latest", pattern=r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$")
    image: str | None = None
    container_name: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_-]{1,255}$")
    container_port: int = Field(default=8080, ge=1, le=65535)
    cpu: int = Field(default=256, ge=128, le=16384)
    memory_mib: int = Field(default=512, ge=128, le=122880)
    desired_count: int = Field(default=2, ge=0, le=10000)
    capacity: Literal["fargate", "fargate-spot-mix", "ec2"]
    scaling: Scaling | None = None
    automation: Automation = Automation()
    load_balancer: LoadBalancer | None = None
    # Deployment floor: ECS keeps at least this percent of desired tasks running (a zone
    # rebalance by task moves needs it below 100).
    min_healthy_percent: int = Field(default=100, ge=0, le=100)
    # EC2 task placement: spread over zones first (eligible for ECS's own AZ rebalancing),
    # spread over instances only, or binpack on memory (both ineligible: autopilot moves
    # tasks one at a time instead).
    placement: Literal["spread-zones", "spread-instances", "binpack"] = "spread-zones"
    # ECS's own Availability Zone rebalancing (ignored, off, for an ineligible placement).
    az_rebalancing: bool = True
    # CloudWatch alarms on the service's CPU and memory that drive it (capacity-events).
    alarms: ServiceAlarms | None = None

    @property
    def container(self) -> str:
        return self.container_name or self.name

    @model_validator(mode="after")
    def _consistent(self) -> Service:
        if self.capacity != "ec2" and self.memory_mib not in _FARGATE_MEMORY.get(self.cpu, ()):
            raise ValueError(
                f"cpu {self.cpu} with memory_mib {self.memory_mib} is not a Fargate size "
                "(see the Fargate task CPU and memory table)"
            )
        if self.capacity != "ec2" and self.placement != "spread-zones":
            raise ValueError("placement applies to ec2 services only")
        if self.repository is None and self.image is None:
            raise ValueError("give repository (tracked by image automation) or image")
        if self.automation.shifts_traffic and self.load_balancer is None:
            raise ValueError(
                f"automation.strategy {self.automation.strategy}: canary, linear and "
                "blue/green shift traffic between two target groups; give the service a "
                "load_balancer, or use rolling"
            )
        if self.scaling is not None and not (
            self.scaling.min <= self.desired_count <= self.scaling.max
        ):
            raise ValueError(
                f"desired_count {self.desired_count} is outside scaling bounds "
                f"{self.scaling.min}-{self.scaling.max}"
            )
        return self


class Observability(_Strict):
    log_retention_days: Literal[1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731] = 30
    metrics_namespace: str = Field(default="EcsAutopilot", pattern=r"^[A-Za-z0-9._/#:-]{1,255}$")
    # active: Lambda active tracing and the Powertools Tracer (X-Ray); off: no tracing, no
    # X-Ray permissions, the X-Ray SDK never imported (infra/README.md, "Tracing")
    tracing: Literal["active", "off"] = "active"

    @field_validator("tracing", mode="before")
    @classmethod
    def _yaml_off(cls, value: object) -> object:
        # YAML 1.1 reads a bare off as a boolean
        return "off" if value is False else value


#: how much longer than the function timeout a lease lasts by default
LEASE_MARGIN_SECONDS = 30


class AutomationFunctions(_Strict):
    """Settings of the Lambda functions."""

    # Powertools version whose official layer the functions use (resolved through AWS's
    # public SSM parameter at deploy time); default: the version uv.lock pins
    powertools_version: str | None = Field(default=None, pattern=r"^3\.\d+\.\d+$")
    # Lambda SnapStart: publish a version per change, the rules invoke the alias "live"
    # (infra/README.md, "SnapStart")
    snapstart: bool = False
    # A change to a service holds its lease this long at most; default: the timeout plus
    # LEASE_MARGIN_SECONDS (``lease``). It must exceed the timeout (the lease outlives the
    # invocation that took it) and should stay short of a minute past it: a killed
    # invocation's lease then expires before Lambda's second retry (1 min, then 2 min
    # after the failure) even when the retry comes with a new request id.
    lease_seconds: int | None = Field(default=None, ge=10, le=3600)
    # image-events: a pending manual approval expires after this many hours
    approval_ttl_hours: int = Field(default=24, ge=1, le=720)
    # image-events: autopilot's PAUSE hook (``autopilot:approval=manual-traffic``) waits this
    # long for `autopilot approve` before ECS rolls the deployment back (ECS: 1..20160)
    pause_timeout_minutes: int = Field(default=1440, ge=1, le=20160)
    memory_mib: int = Field(default=512, ge=128, le=10240)
    timeout_seconds: int = Field(default=60, ge=5, le=900)
    max_event_age_minutes: int = Field(default=120, ge=1, le=1440)
    rule_retry_attempts: int = Field(default=8, ge=0, le=185)
    # task-events: one zone-balance evaluation per service per window; one move per cooldown
    evaluation_window_seconds: int = Field(default=60, ge=1, le=3600)
    move_cooldown_seconds: int = Field(default=300, ge=0, le=86_400)
    # task-events: N crashes of one task definition within M minutes is a crash loop
    crash_loop_threshold: int = Field(default=3, ge=1, le=1000)
    crash_loop_window_minutes: int = Field(default=10, ge=1, le=1440)
    # task-events: how often the schedule rule re-checks debounced and deferred evaluations
    recheck_interval_minutes: int = Field(default=1, ge=1, le=60)
    # capacity-events: cooldown of placement-failure / Spot-warning raises per ASG, and how
    # long a Fargate Spot fallback waits without a placement failure before it is undone
    capacity_cooldown_seconds: int = Field(default=300, ge=0, le=86_400)
    spot_calm_seconds: int = Field(default=1800, ge=0, le=604_800)

    @property
    def lease(self) -> int:
        """The lease the functions take: ``lease_seconds``, or the timeout plus
        ``LEASE_MARGIN_SECONDS``."""
        return self.lease_seconds or self.timeout_seconds + LEASE_MARGIN_SECONDS

    @model_validator(mode="after")
    def _lease_outlives_the_timeout(self) -> AutomationFunctions:
        if self.lease_seconds is not None and self.lease_seconds <= self.timeout_seconds:
            raise ValueError(
                f"lease_seconds ({self.lease_seconds}) must exceed timeout_seconds "
                f"({self.timeout_seconds}): a lease shorter than the invocation holding it "
                "lets a second change in while the first is still running (leave "
                f"lease_seconds out for timeout_seconds + {LEASE_MARGIN_SECONDS})"
            )
        return self


class Reconciler(_Strict):
    """The reconciler's schedule: a sweep every ``rate_minutes`` minutes (at least one), in
    shards of ``shard_size`` services when it finds more (fanned out over the bus)."""

    # minutes between two sweeps of every managed service tracking a repository (at least 1)
    rate_minutes: int = Field(default=5, ge=1, le=1440)
    # a tick that finds more tracked services than this sweeps them in shards of this many,
    # each its own invocation (1 .. 500: a shard event stays under PutEvents' 256 KB)
    shard_size: int = Field(default=200, ge=1, le=MAX_SHARD_SIZE)
    # the fraction of each ECS and ECR API rate limit a sweep takes (the rest is left to the
    # other tools in the account); the shards of a fanned-out sweep divide it among them
    api_share: float = Field(default=0.5, gt=0, le=1)


class Retention(_Strict):
    """The protective tags that keep what services run, and their last known good digests,
    from ECR lifecycle expiry (README.md, "Retention")."""

    # reserved image tag prefix of the protective tags; no tag policy may match a tag under it
    prefix: str = retention_logic.DEFAULT_PREFIX
    # known good digests each service keeps tagged (the newest is its rollback target)
    keep_known_good: int = Field(
        default=retention_logic.DEFAULT_KEEP, ge=1, le=retention_logic.MAX_KEEP
    )

    @field_validator("prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        return retention_logic.check_prefix(value)


# ---------------------------------------------------------------------------
# what the control plane manages
# ---------------------------------------------------------------------------
_CLUSTER_NAME_RE = re.compile(r"^[A-Za-z0-9_-]{1,255}$")
_CLUSTER_ARN_RE = re.compile(
    r"^arn:(?P<partition>aws[a-z-]*):ecs:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):"
    r"cluster/(?P<name>[A-Za-z0-9_-]{1,255})$"
)
# Repository name prefixes: the characters of ECR repository names.
_ECR_PREFIX_RE = re.compile(r"^[a-z0-9][a-z0-9._/-]{0,255}$")
# A role ARN: 12-digit account (no wildcard), then role/<path><name>; a trailing * makes it
# a prefix. Role names and paths may hold commas in IAM; here they may not, because the
# PassRoles output is comma-separated.
_ROLE_ARN_RE = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/(?P<rest>[A-Za-z0-9+=.@_/-]+\*?)$")
_ROLE_PATH_RE = re.compile(r"^/(?:[A-Za-z0-9+=.@_-]+/)+$")
# IAM tag keys and values (no comma, no '=' in the key: the PassRoles output is
# comma-separated and its tag item reads key=value).
_ROLE_TAG_KEY_RE = re.compile(r"^[A-Za-z0-9 _.:/+@-]{1,128}$")
_ROLE_TAG_VALUE_RE = re.compile(r"^[A-Za-z0-9 _.:/=+@-]{1,256}$")


class ManagedCluster(BaseModel):
    """One managed cluster: its name, and its ARN when the config gave one (else it is in
    the stack's own account and region)."""

    model_config = ConfigDict(frozen=True)

    name: str
    arn: str | None = None


def parse_cluster(value: str) -> ManagedCluster:
    """A ``manage.clusters`` item (a name or an ARN); raises ``ValueError`` on junk."""
    match = _CLUSTER_ARN_RE.fullmatch(value)
    if match:
        return ManagedCluster(name=match["name"], arn=value)
    if value.startswith("arn:"):
        raise ValueError(
            f"{value!r} is not an ECS cluster ARN (arn:aws:ecs:<region>:<12-digit account>:"
            "cluster/<name>)"
        )
    if not _CLUSTER_NAME_RE.fullmatch(value):
        raise ValueError(f"{value!r} is not an ECS cluster name (letters, digits, - and _)")
    return ManagedCluster(name=value)


def _cluster(value: str) -> str:
    parse_cluster(value)
    return value


def _repository_name(value: str) -> str:
    if not _ECR_NAME_RE.fullmatch(value):
        raise ValueError(f"{value!r} is not a valid ECR repository name")
    return value


def _repository_prefix(value: str) -> str:
    if not value:
        raise ValueError("an empty prefix would match every repository: write repositories: all")
    if not _ECR_PREFIX_RE.fullmatch(value):
        raise ValueError(f"{value!r} is not the start of an ECR repository name")
    return value


def _any_role(why: str) -> ValueError:
    return ValueError(f"{why} would allow passing any role of the account")


def _checked_role_arn(item: str, *, any_role: str, form: str) -> str:
    """A role ARN (a trailing ``*`` for a name prefix), or ``ValueError``: ``any_role`` says
    what a pattern matching every role would allow, ``form`` the ARN form expected."""
    head, _, rest = item.partition(":role/")
    if item.strip() in ("*", "arn:*") or (rest.replace("/", "") in ("", "*") and "*" in item):
        raise ValueError(f"{item!r} would {any_role}")
    if "*" in head:
        raise ValueError(f"{item!r}: name the account (12 digits), not a wildcard")
    if _ROLE_ARN_RE.fullmatch(item) is None:
        raise ValueError(f"{item!r} is not a role ARN ({form})")
    return item


def _role_arn(item: str) -> str:
    return _checked_role_arn(
        item,
        any_role="allow passing any role of the account",
        form="arn:aws:iam::<12-digit account>:role/<name>, a trailing * for a prefix",
    )


def _role_path(item: str) -> str:
    if item.strip() in ("/", "/*", "*", ""):
        raise _any_role(f"the path {item!r}")
    if not _ROLE_PATH_RE.fullmatch(item):
        raise ValueError(
            f"{item!r} is not an IAM path prefix like /team-a/ (starts and ends with /)"
        )
    return item


class ManagedRepositories(_Strict):
    """``all`` (every repository of the account), or names and/or name prefixes. In the file:
    ``repositories: all``, ``repositories: [name, ...]`` (names) or
    ``repositories: {names: [...], prefixes: [...]}``."""

    all: bool = False
    names: list[Annotated[str, AfterValidator(_repository_name)]] = Field(default_factory=list)
    prefixes: list[Annotated[str, AfterValidator(_repository_prefix)]] = Field(default_factory=list)

    @model_validator(mode="after")
    def _something(self) -> ManagedRepositories:
        if self.all and (self.names or self.prefixes):
            raise ValueError("all covers every repository: drop names and prefixes")
        if not self.all and not self.names and not self.prefixes:
            raise ValueError("give names or prefixes, or write repositories: all")
        return self


class RoleTag(_Strict):
    """A tag the roles that may be passed carry (``iam:ResourceTag/<key>`` = ``value``)."""

    key: str
    value: str

    @field_validator("key")
    @classmethod
    def _key(cls, value: str) -> str:
        if not _ROLE_TAG_KEY_RE.fullmatch(value) or value.lower().startswith("aws:"):
            raise ValueError(f"{value!r} is not an IAM tag key this app supports")
        return value

    @field_validator("value")
    @classmethod
    def _value(cls, value: str) -> str:
        if not _ROLE_TAG_VALUE_RE.fullmatch(value):
            raise ValueError(f"{value!r} is not an IAM tag value this app supports (no * or ,)")
        return value


class PassRoles(_Strict):
    """The task and execution roles image-events and the rollbacks may pass to ECS tasks
    (``iam:PassRole``, always with ``iam:PassedToService`` = ``ecs-tasks.amazonaws.com``):
    role ARNs (a trailing ``*`` makes one a name prefix), IAM path prefixes (``/team-a/``),
    and/or a role tag."""

    arns: list[Annotated[str, AfterValidator(_role_arn)]] = Field(default_factory=list)
    paths: list[Annotated[str, AfterValidator(_role_path)]] = Field(default_factory=list)
    tag: RoleTag | None = None

    @model_validator(mode="after")
    def _something(self) -> PassRoles:
        if not self.arns and not self.paths and self.tag is None:
            raise ValueError("give arns, paths or a tag")
        return self


def _operator_role_arn(item: str) -> str:
    return _checked_role_arn(
        item,
        any_role="let any role of the account write the ledger",
        form="arn:aws:iam::<12-digit account>:role/<path/><name>, a trailing * for a prefix; "
        "a session ARN (assumed-role/...) or a user is not one",
    )


class Operators(_Strict):
    """Who, beside the four functions, may write the ledger (approve, reject, pause,
    resume): ``role_arns``, IAM role ARNs with their path, a trailing ``*`` for a name prefix
    (an IAM Identity Center permission set's role, ``.../AWSReservedSSO_Ops_*``). The
    ledger's resource policy denies every item write to any other principal, the account's
    administrators and root user included. Default: none, so only the functions write and
    ``autopilot approve/reject/pause/resume`` are denied."""

    role_arns: list[Annotated[str, AfterValidator(_operator_role_arn)]] = Field(
        default_factory=list
    )


class Manage(_Strict):
    """What the control plane manages, beyond its own estate (if the file builds one).

    ``clusters``: names (in the stack's account and region) or ARNs; the estate's own
    cluster is added when there is an estate. ``repositories``: ``all``, names, prefixes
    (default: the estate's repositories if it declares any, else all). ``pass_roles``: the
    roles that may be passed to ECS tasks (default and always included with an estate: its
    own task and execution roles, under the IAM path ``/ecs-autopilot/<environment>/``)."""

    clusters: list[Annotated[str, AfterValidator(_cluster)]] = Field(default_factory=list)
    repositories: ManagedRepositories | None = None
    pass_roles: PassRoles | None = None

    @field_validator("repositories", mode="before")
    @classmethod
    def _repositories_forms(cls, value: object) -> object:
        if value == "all":
            return {"all": True}
        if isinstance(value, str):
            raise ValueError(f"{value!r}: expected all, a list of names, or names/prefixes")
        if isinstance(value, list):
            return {"names": value}
        return value


class Guardrails(_Strict):
    """Floors the functions enforce whatever a service's tags say (anyone allowed
    ``ecs:TagResource`` can write a tag; README.md, the tag contract, has an SCP that
    stops them). ``min_scan``: the loosest scan gate a service may have: ``critical``
    (blocks CRITICAL findings), ``high`` (blocks HIGH or worse), ``off`` (no floor, the
    default); a tag may be stricter, never looser. ``manual_approval_clusters``: managed
    clusters (names or ARNs, as under ``manage.clusters``, or the estate's own) whose
    services always need ``autopilot approve``, whatever ``autopilot:approval`` says."""

    min_scan: Literal["critical", "high", "off"] = "off"
    manual_approval_clusters: list[Annotated[str, AfterValidator(_cluster)]] = Field(
        default_factory=list
    )

    @field_validator("min_scan", mode="before")
    @classmethod
    def _yaml_off(cls, value: object) -> object:
        # YAML 1.1 reads a bare off as a boolean
        return "off" if value is False else value


class AutopilotConfig(_Strict):
    """The whole config file.

    What the control plane manages: ``manage``; who else may write its ledger:
    ``operators``. The estate (what the app builds: network,
    cluster, capacity, repositories, services) is optional as a whole: without ``network``
    there is no estate, and ``ec2_capacity``, ``repositories`` and ``services`` must be
    absent too."""

    environment: str = Field(pattern=r"^[a-z][a-z0-9-]{1,23}$")
    manage: Manage = Manage()
    operators: Operators = Operators()
    network: Network | None = None
    ec2_capacity: Ec2Capacity | None = None
    fargate_capacity: FargateCapacity = FargateCapacity()
    repositories: list[Repository] = Field(default_factory=list)
    services: list[Service] = Field(default_factory=list)
    observability: Observability = Observability()
    functions: AutomationFunctions = AutomationFunctions()
    reconciler: Reconciler = Reconciler()
    retention: Retention = Retention()
    capacity_alarms: CapacityAlarms = CapacityAlarms()
    guardrails: Guardrails = Guardrails()
    # True keeps repositories, the ledger and log groups when the stack is destroyed.
    retain_data: bool = True

    @property
    def has_estate(self) -> bool:
        return self.network is not None

    @property
    def estate_cluster_name(self) -> str:
        """The estate's cluster (``<environment>-cluster``), named so that the control plane
        can build its ARN without a reference to the estate stack."""
        return f"{self.environment}-cluster"

    @property
    def role_path(self) -> str:
        """The IAM path of the estate's task and execution roles (what may be passed)."""
        return f"/ecs-autopilot/{self.environment}/"

    @property
    def alarm_name_prefix(self) -> str:
        return self.capacity_alarms.name_prefix or f"autopilot-{self.environment}-"

    @property
    def managed_clusters(self) -> list[ManagedCluster]:
        """The estate's cluster (if any), then ``manage.clusters`` in their order."""
        own = [ManagedCluster(name=self.estate_cluster_name)] if self.has_estate else []
        return own + [parse_cluster(c) for c in self.manage.clusters]

    @property
    def managed_repositories(self) -> RepositoryFilter:
        """``manage.repositories``; default: the estate's repositories, else all of them."""
        chosen = self.manage.repositories
        if chosen is None:
            return RepositoryFilter(names=tuple(r.name for r in self.repositories))
        if chosen.all:
            return RepositoryFilter()
        return RepositoryFilter(names=tuple(chosen.names), prefixes=tuple(chosen.prefixes))

    @property
    def pass_roles(self) -> PassRoles | None:
        """``manage.pass_roles``, with the estate's own role path added when there is an
        estate; None when neither says anything."""
        given = self.manage.pass_roles
        if not self.has_estate:
            return given
        paths = [self.role_path] + [
            p for p in (given.paths if given else []) if p != self.role_path
        ]
        return PassRoles(
            arns=list(given.arns) if given else [],
            paths=paths,
            tag=given.tag if given else None,
        )

    @property
    def manual_approval_clusters(self) -> list[ManagedCluster]:
        """The managed clusters ``guardrails.manual_approval_clusters`` names (as
        ``managed_clusters`` holds them), in its order; ``check_config`` has checked each
        one is managed."""
        managed = {c.name: c for c in self.managed_clusters}
        return [managed[parse_cluster(c).name] for c in self.guardrails.manual_approval_clusters]

    def repository(self, name: str) -> Repository:
        return next(r for r in self.repositories if r.name == name)

    def is_mutable(self, repository: Repository) -> bool:
        """IMMUTABLE unless a service follows a moving tag (or the file says mutable)."""
        if repository.tag_mutability is not None:
            return repository.tag_mutability == "mutable"
        return any(
            s.repository == repository.name and follows_moving_tag(s.automation.policy)
            for s in self.services
        )


def check_config(config: AutopilotConfig, file: str | Path) -> None:
    """Every rule that spans fields, and the AWS limits the stacks would hit; raises
    :class:`ConfigError` naming the field at fault. ``load_config`` runs it; so does the app
    builder, for configs made in code."""
    _check_estate(config, file)
    _check_references(config, file)
    _check_manage(config, file)
    _check_guardrails(config, file)
    _check_retention(config, file)
    _check_limits(config, file)


def _check_estate(config: AutopilotConfig, file: str | Path) -> None:
    if config.network is None:
        for name in ("ec2_capacity", "repositories", "services"):
            if getattr(config, name):
                raise ConfigError(
                    file,
                    name,
                    "belongs to an estate, and there is none without network (give network, "
                    "or drop it to manage existing clusters only)",
                )
    elif config.ec2_capacity is None:
        raise ConfigError(file, "ec2_capacity", "an estate (network) needs it for its cluster")
    if len(config.services) > limits.MAX_SERVICES_PER_CLUSTER:
        raise ConfigError(
            file,
            "services",
            f"{len(config.services)} services are more than the split can place: they all run "
            f"in the estate's one cluster, and ECS allows {limits.MAX_SERVICES_PER_CLUSTER:,} "
            "services per cluster",
        )


def _check_manage(config: AutopilotConfig, file: str | Path) -> None:
    manage = config.manage
    seen: dict[str, str] = {}
    if config.has_estate:
        seen[config.estate_cluster_name] = "the estate's own cluster"
    accounts: set[tuple[str, str]] = set()
    for i, item in enumerate(manage.clusters):
        cluster = parse_cluster(item)
        if cluster.name in seen:
            raise ConfigError(
                file,
                f"manage.clusters[{i}]",
                f"cluster {cluster.name!r} is named twice ({seen[cluster.name]} is the same "
                "cluster)",
            )
        seen[cluster.name] = f"manage.clusters[{i}] {item!r}"
        if cluster.arn:
            match = _CLUSTER_ARN_RE.fullmatch(cluster.arn)
            assert match is not None
            accounts.add((match["account"], match["region"]))
            if len(accounts) > 1:
                raise ConfigError(
                    file,
                    f"manage.clusters[{i}]",
                    "the ARNs name more than one account or region: the control plane "
                    "manages the clusters of its own account and region",
                )
    if not seen:
        raise ConfigError(
            file,
            "manage.clusters",
            "no cluster to manage: name existing clusters (names or ARNs), or give an estate",
        )
    if config.pass_roles is None:
        raise ConfigError(
            file,
            "manage.pass_roles",
            "required without an estate: the task and execution roles of the managed services "
            "(arns, paths or tag), which image-events passes when it registers a revision",
        )
    covered = config.managed_repositories
    for i, svc in enumerate(config.services):
        if svc.repository and not covered.covers(svc.repository):
            raise ConfigError(
                file,
                "manage.repositories",
                f"does not cover {svc.repository!r}, which services[{i}] ({svc.name}) tracks",
            )


def _check_guardrails(config: AutopilotConfig, file: str | Path) -> None:
    """A cluster that requires approval is one the control plane manages (the same name,
    and the same ARN when both give one)."""
    managed = {c.name: c for c in config.managed_clusters}
    for i, item in enumerate(config.guardrails.manual_approval_clusters):
        cluster = parse_cluster(item)
        known = managed.get(cluster.name)
        if known is None or (cluster.arn and known.arn and cluster.arn != known.arn):
            raise ConfigError(
                file,
                f"guardrails.manual_approval_clusters[{i}]",
                f"{item!r} is not a managed cluster (managed: {', '.join(managed)})",
            )
        if cluster.arn and not known.arn:
            raise ConfigError(
                file,
                f"guardrails.manual_approval_clusters[{i}]",
                f"{item!r}: the managed cluster {cluster.name!r} is named without an ARN "
                "(this stack's account and region): name it the same way here",
            )


def _check_retention(config: AutopilotConfig, file: str | Path) -> None:
    """No tag policy the app knows of (the default one, the estate services') may take a
    protective tag for a release."""
    prefix = config.retention.prefix
    policies = [(retention_logic.DEFAULT_POLICY, "the default policy")] + [
        (s.automation.policy, f"services[{i}] ({s.name})") for i, s in enumerate(config.services)
    ]
    for policy, whose in policies:
        tag = retention_logic.policy_collision(prefix, policy)
        if tag is not None:
            raise ConfigError(
                file,
                "retention.prefix",
                f"{prefix!r} collides with the tag policy {policy!r} of {whose}: it would "
                f"take the protective tag {tag!r} for a release (choose a prefix no policy "
                "matches, or narrow the policy)",
            )


def _check_limits(config: AutopilotConfig, file: str | Path) -> None:
    arns = [limits.worst_cluster_arn(c.name, c.arn) for c in config.managed_clusters]
    repos = config.managed_repositories
    repo_field = "manage.repositories" if config.manage.repositories else "repositories"
    for rule, pattern in limits.rule_patterns(arns, repos, config.alarm_name_prefix).items():
        size = limits.compact(pattern)
        if size > limits.MAX_EVENT_PATTERN:
            field = repo_field if rule.startswith(("ecr", "inspector")) else "manage.clusters"
            raise ConfigError(
                file,
                field,
                f"the {rule} rule's pattern would be {size:,} characters, more than "
                f"EventBridge's {limits.MAX_EVENT_PATTERN:,}"
                + (
                    ": manage the repositories by prefix or all (manage.repositories)"
                    if field == repo_field
                    else ": manage fewer clusters"
                ),
            )
    size = limits.environment_size(arns, repos)
    if size > limits.MAX_LAMBDA_ENVIRONMENT:
        raise ConfigError(
            file,
            "manage.clusters",
            f"CLUSTER_ARNS and REPOSITORIES would make the functions' environment {size:,} "
            f"bytes, more than Lambda's {limits.MAX_LAMBDA_ENVIRONMENT:,}",
        )
    what, size = limits.largest_statement(arns, repos)
    if size > limits.MAX_MANAGED_POLICY:
        field = repo_field if "repository" in what else "manage.clusters"
        raise ConfigError(
            file,
            field,
            f"one IAM statement, {what}, would be {size:,} characters, more than IAM's "
            f"{limits.MAX_MANAGED_POLICY:,} for a managed policy",
        )


def _check_references(config: AutopilotConfig, file: str | Path) -> None:
    """Cross-field rules, each reported with the path of the field at fault."""
    seen: set[str] = set()
    for i, repo in enumerate(config.repositories):
        if repo.name in seen:
            raise ConfigError(
                file, f"repositories[{i}].name", f"repository {repo.name!r} is declared twice"
            )
        seen.add(repo.name)
    names: set[str] = set()
    for i, svc in enumerate(config.services):
        if svc.name in names:
            raise ConfigError(
                file, f"services[{i}].name", f"service {svc.name!r} is declared twice"
            )
        names.add(svc.name)
        if svc.repository is None:
            continue
        if svc.repository not in seen:
            raise ConfigError(
                file,
                f"services[{i}].repository",
                f"repository {svc.repository!r} is not declared under repositories "
                f"(declared: {', '.join(sorted(seen))})",
            )
        repo = config.repository(svc.repository)
        if follows_moving_tag(svc.automation.policy) and repo.tag_mutability == "immutable":
            raise ConfigError(
                file,
                f"services[{i}].automation.policy",
                f"policy {svc.automation.policy!r} follows a moving tag, but repository "
                f"{repo.name!r} is immutable (set its tag_mutability to mutable or drop the line)",
            )


def _loc(parts: tuple[int | str, ...]) -> str:
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def load_config(path: str | Path) -> AutopilotConfig:
    """Read, parse and validate a config file (YAML, or JSON for ``.json``)."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(file, "", "no such file") from None
    except OSError as exc:
        raise ConfigError(file, "", f"cannot read it ({exc.strerror})") from None
    try:
        data: Any = json.loads(text) if file.suffix == ".json" else yaml.safe_load(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(file, "", f"not valid JSON (line {exc.lineno}: {exc.msg})") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(file, "", f"not valid YAML ({where}{problem})") from None
    if not isinstance(data, dict):
        raise ConfigError(file, "", "the top level must be a mapping of fields")
    try:
        config = AutopilotConfig.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        first = errors[0]
        msg = str(first["msg"]).removeprefix("Value error, ")
        if first["type"] == "extra_forbidden":
            msg = "unknown field"
        more = (
            f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})"
            if len(errors) > 1
            else ""
        )
        raise ConfigError(file, _loc(tuple(first["loc"])), f"{msg}{more}") from None
    check_config(config, file)
    return config
