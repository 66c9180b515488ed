"""`autopilot adopt`: can the control plane manage an existing cluster's services, and the
tags that opt them in.

Three parts, read top to bottom:

1. **The judgement** (pure): :func:`judge` takes what was read of one service
   (:class:`ServiceFacts`), what the control plane manages (:class:`ControlPlane`) and the
   operator's choices (:class:`Options`), and returns a :class:`Judgement`: a verdict
   (``manage``, ``partial``: zone balance and capacity without image automation, or
   ``never``), the reasons (each a stable code from :data:`REASONS` and a sentence), and
   the tags it would write (the tag contract of ``autopilot.contract``).
2. **Reading** (:func:`read_facts`): the cluster's services through the functions'
   adapters (``autopilot.aws.ecs``, ``autopilot.aws.ec2``); the cluster itself and the
   roles' tags with the plain clients (no adapter reads them).
3. **Acting** (:func:`apply`, :func:`undo`): ``TagResource`` / ``UntagResource`` through
   the adapters, one call per service; a failure is kept on that service's result.

Beside the services, each repository a service would track is checked for what keeps its
protective tags (README.md, "Retention"): :func:`retention_gaps` (pure) says what its
lifecycle policy and tag mutability lack, from one DescribeRepositories and one
GetLifecyclePolicy each (:func:`read_retention`); adopt changes neither, it prints the
rule to add (:func:`retention_fix`).

Nothing here is part of the Lambda asset; ``cli.main`` is the command.
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Final, Literal, NamedTuple

from autopilot import contract
from autopilot.aws import ec2, ecr, ecs
from autopilot.aws.clients import AwsClients
from autopilot.domain.images import ImageRef, parse_image
from autopilot.domain.service import Service, cluster_name
from autopilot.errors import AutopilotError, MalformedTag
from autopilot.logic import retention
from autopilot.logic.policy import (
    parse_approval,
    parse_policy,
    parse_rebalance,
    parse_scan_gate,
    parse_service_config,
)
from autopilot.logic.semver import parse_version
from autopilot.logic.zone_balance import native_rebalancing_eligible

Verdict = Literal["manage", "partial", "never"]
Severity = Literal["never", "no-image-automation", "warning", "note"]

NEVER: Final = "never"
NO_IMAGES: Final = "no-image-automation"
WARNING: Final = "warning"
NOTE: Final = "note"

#: Every reason adopt gives: code -> (severity, what it means). ``never``: autopilot never
#: manages the service, nothing is written; ``no-image-automation``: zone balance and
#: capacity only, no ``autopilot:repository`` is written; ``warning`` and ``note`` change
#: nothing that is written. The codes are stable (scripts read them from ``--json``).
REASONS: Final[dict[str, tuple[Severity, str]]] = {
    "deployment-controller": (
        NEVER,
        "the deployment controller is CODE_DEPLOY or EXTERNAL: autopilot never updates it",
    ),
    "cluster-not-managed": (
        NEVER,
        "the cluster is not one the control plane manages: no event of it reaches a function",
    ),
    "short-arn": (
        NEVER,
        "the service has an old-format ARN (no cluster in it): ECS cannot tag it",
    ),
    "image-not-ecr": (
        NO_IMAGES,
        "no container runs an image of a private ECR repository",
    ),
    "image-other-registry": (
        NO_IMAGES,
        "the image is in another account's or region's registry: its pushes never reach "
        "this control plane",
    ),
    "repository-not-covered": (
        NO_IMAGES,
        "the repository is not one the control plane covers: its pushes reach no function",
    ),
    "several-repositories": (
        NO_IMAGES,
        "containers run images of several ECR repositories: choose one with --repository",
    ),
    "several-containers": (
        NO_IMAGES,
        "more than one container runs the repository: choose one with --container",
    ),
    "container-not-found": (NO_IMAGES, "--container names no container of the task definition"),
    "repository-not-used": (NO_IMAGES, "no container runs an image of the --repository given"),
    "role-not-passable": (
        NO_IMAGES,
        "a task or execution role is not one the control plane may pass: every deploy "
        "(RegisterTaskDefinition) would be denied",
    ),
    "no-task-definition": (NO_IMAGES, "the service names no task definition (task sets)"),
    "role-unverified": (
        WARNING,
        "the role's tags could not be read: whether the control plane may pass it is unknown",
    ),
    "pass-roles-unknown": (
        WARNING,
        "the control plane's passable roles are unknown (no PassRoles output, no "
        "--pass-roles): roles not checked",
    ),
    "no-circuit-breaker": (
        WARNING,
        "no deployment circuit breaker with rollback: ECS will not fail and roll back a "
        "bad deployment itself",
    ),
    "daemon": (
        WARNING,
        "DAEMON scheduling: one task per instance, no zone balance (autopilot:rebalance=off)",
    ),
    "external-launch-type": (
        WARNING,
        "EXTERNAL launch type (ECS Anywhere): its instances are in no Availability Zone",
    ),
    "policy-needs-version": (
        WARNING,
        "the policy takes versions relative to the running one, which is not a SemVer tag: "
        "nothing deploys until it is",
    ),
    "existing-tag-malformed": (
        WARNING,
        "an autopilot tag it carries is malformed: the functions skip the service until "
        "it is rewritten",
    ),
    "stale-tags": (
        WARNING,
        "it carries autopilot tags adopt would not write: the functions may act on them",
    ),
    "container-runs-other-image": (
        WARNING,
        "the --container runs an image of another repository: the next deploy replaces it",
    ),
    "placement-excludes-rebalancing": (
        NOTE,
        "its placement makes it ineligible for ECS's AZ rebalancing: autopilot moves its "
        "tasks between zones itself, one at a time",
    ),
    "rebalancing-off": (
        NOTE,
        "ECS's AZ rebalancing is off: autopilot turns it on when the zones become lopsided",
    ),
    "single-zone": (NOTE, "its subnets are in one Availability Zone: there is nothing to balance"),
    "deployment-in-progress": (
        NOTE,
        "a deployment is in progress: autopilot acts once it ends",
    ),
    "pinned-by-tag": (
        NOTE,
        "the task definition names the image by tag: autopilot pins it to a digest on its "
        "next deploy, and the owner's next terraform apply or cdk deploy may put the tag back",
    ),
    "no-admission-hook": (
        NOTE,
        "no admission hook: a deployment another tool starts is not checked for quarantined "
        "or gate-failing digests until autopilot's next deploy adds the hook",
    ),
    "already-adopted": (NOTE, "it already carries autopilot tags"),
}

_ECR_REGISTRY = re.compile(
    r"^(?P<account>\d{12})\.dkr\.ecr(?:-fips)?\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(?:\.cn)?$"
)
_REPOSITORY_NAME = re.compile(r"^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*$")
_CONTAINER_NAME = re.compile(r"^[A-Za-z0-9_-]{1,255}$")
_IMAGE_TAG_KEYS: Final = (
    contract.TAG_REPOSITORY,
    contract.TAG_CONTAINER,
    contract.TAG_POLICY,
    contract.TAG_SCAN,
    contract.TAG_APPROVAL,
)


class AdoptError(AutopilotError):
    """Bad input: no such cluster, a service not in it, a value the tag contract refuses."""


# --------------------------------------------------------------------------- the control plane
#: the ``PassRoles`` text of a control plane that may pass no role
NO_ROLES: Final = "-"


class RolePattern(NamedTuple):
    """One item of the roles the control plane may pass (``iam:PassRole``)."""

    kind: Literal["arn", "path", "tag"]
    #: ``arn``: a role ARN, ``*`` matching any characters; ``path``: a path prefix
    #: (``/teams/``); ``tag``: the tag key
    value: str
    #: ``tag``: the tag's value (None: any value)
    tag_value: str | None = None

    def __str__(self) -> str:
        if self.kind == "arn":
            return self.value
        if self.kind == "path":
            return f"path:{self.value}"
        return f"tag:{self.value}" + ("" if self.tag_value is None else f"={self.tag_value}")


class RolePatterns(NamedTuple):
    """The roles the control plane may pass, as one text (the ``PassRoles`` output, or
    ``--pass-roles``): comma-separated items, each a role ARN (``*`` matches any
    characters: ``arn:aws:iam::123456789012:role/teams/*``), ``path:/teams/`` (the role's
    path starts with it) or ``tag:KEY=VALUE`` / ``tag:KEY`` (the role carries the tag);
    ``-`` alone: no role may be passed."""

    items: tuple[RolePattern, ...]

    @classmethod
    def parse(cls, text: str) -> RolePatterns:
        if text.strip() == NO_ROLES:
            return cls(())
        items: list[RolePattern] = []
        for raw in filter(None, (i.strip() for i in text.split(","))):
            if raw.startswith("arn:"):
                if ":role/" not in raw or not raw.startswith("arn:aws"):
                    raise ValueError(
                        f"{raw!r}: an ARN item names roles (arn:...:iam::...:role/...)"
                    )
                items.append(RolePattern("arn", raw))
            elif raw.startswith("path:"):
                path = raw[len("path:") :]
                if not path.startswith("/") or not path.endswith("/"):
                    raise ValueError(f"{raw!r}: a path starts and ends with / (path:/teams/)")
                items.append(RolePattern("path", path))
            elif raw.startswith("tag:"):
                key, sep, value = raw[len("tag:") :].partition("=")
                if not key:
                    raise ValueError(f"{raw!r}: expected tag:KEY=VALUE or tag:KEY")
                items.append(RolePattern("tag", key, value if sep else None))
            else:
                raise ValueError(f"{raw!r}: expected a role ARN, path:/PREFIX/ or tag:KEY=VALUE")
        if not items:
            raise ValueError("no roles: give role ARNs, path:/PREFIX/ or tag:KEY=VALUE items")
        return cls(tuple(items))

    @property
    def needs_tags(self) -> bool:
        return any(p.kind == "tag" for p in self.items)

    def allows(self, role_arn: str, tags: dict[str, str] | None) -> bool | None:
        """True/False, or None when only the role's tags could say and they are unknown."""
        unknown = False
        for p in self.items:
            if p.kind == "arn" and fnmatch.fnmatchcase(role_arn, p.value):
                return True
            if p.kind == "path" and role_path(role_arn).startswith(p.value):
                return True
            if p.kind == "tag":
                if tags is None:
                    unknown = True
                elif p.value in tags and p.tag_value in (None, tags[p.value]):
                    return True
        return None if unknown else False

    def __str__(self) -> str:
        return ",".join(str(p) for p in self.items) or NO_ROLES


def role_path(role_arn: str) -> str:
    """``arn:aws:iam::1:role/teams/a/web`` -> ``/teams/a/``."""
    resource = role_arn.split(":", 5)[-1]
    inner = resource.partition("role/")[2]
    head, _, _name = inner.rpartition("/")
    return f"/{head}/" if head else "/"


def role_name(role_arn: str) -> str:
    return role_arn.rsplit("/", 1)[-1]


class ControlPlane(NamedTuple):
    """What the control plane manages, and where that was read (``source``)."""

    clusters: tuple[str, ...]
    repositories: contract.RepositoryFilter
    #: None: unknown (roles are not checked)
    pass_roles: RolePatterns | None
    source: str
    #: the protective tag prefix (the stack's ``RetentionPrefix`` output, else the default)
    retention_prefix: str = retention.DEFAULT_PREFIX

    def manages(self, cluster_arn: str) -> bool:
        """The cluster is one of ``clusters`` (by ARN, or by the name given without one)."""
        return cluster_arn in self.clusters or cluster_name(cluster_arn) in self.clusters

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "clusters": list(self.clusters),
            "repositories": self.repositories.setting(),
            "pass_roles": str(self.pass_roles) if self.pass_roles is not None else None,
            "retention_prefix": self.retention_prefix,
        }


# --------------------------------------------------------------------------- the operator's choices
class Options(NamedTuple):
    """``--repository --container --policy --scan --approval --rebalance``, validated."""

    repository: str | None = None
    container: str | None = None
    #: the ``autopilot:policy`` tag value (encoded when the pattern needs it)
    policy: str = contract.DEFAULT_POLICY
    scan: str = contract.DEFAULT_SCAN
    approval: str = contract.DEFAULT_APPROVAL
    #: ``on`` / ``off``; None: ``on``, ``off`` for a DAEMON service
    rebalance: str | None = None


def options(
    *,
    repository: str | None = None,
    container: str | None = None,
    policy: str | None = None,
    scan: str | None = None,
    approval: str | None = None,
    rebalance: str | None = None,
) -> Options:
    """The choices, checked with the functions' own parsers; raises ``AdoptError``."""
    try:
        if policy is not None:
            parse_policy(policy)
        value = contract.encode_policy_tag(policy or contract.DEFAULT_POLICY)
        parse_policy(value)
        gate = parse_scan_gate(scan)
        approve = parse_approval(approval)
        if rebalance is not None:
            parse_rebalance(rebalance)
    except MalformedTag as exc:
        flag = exc.key.removeprefix(contract.TAG_PREFIX)
        raise AdoptError(f"--{flag} {exc.value!r}: {exc.problem}") from exc
    except ValueError as exc:
        raise AdoptError(f"--policy {policy!r}: {exc}") from exc
    if repository is not None and not _REPOSITORY_NAME.match(repository):
        raise AdoptError(f"--repository {repository!r}: not an ECR repository name")
    if container is not None and not _CONTAINER_NAME.match(container):
        raise AdoptError(f"--container {container!r}: not a container name")
    return Options(
        repository=repository,
        container=container,
        policy=value,
        scan=gate,
        approval=approve,
        rebalance=rebalance.strip().lower() if rebalance is not None else None,
    )


# --------------------------------------------------------------------------- what was read
class ServiceFacts(NamedTuple):
    """What adopt read of one service."""

    service: Service
    #: DescribeTaskDefinition's ``taskDefinition`` (None: the service names none)
    task_definition: dict[str, Any] | None = None
    #: the Availability Zones of its subnets (empty: none, or not awsvpc)
    zones: tuple[str, ...] = ()
    #: role ARN -> its tags (None: not read or not readable)
    role_tags: dict[str, dict[str, str] | None] = {}
    #: its tasks run on Fargate (None: as the service says; a service with neither a launch
    #: type nor a strategy runs by the cluster's default strategy)
    fargate: bool | None = None


class Reason(NamedTuple):
    code: str
    severity: Severity
    message: str

    def to_json(self) -> dict[str, str]:
        return {"code": self.code, "severity": self.severity, "message": self.message}


class Judgement(NamedTuple):
    service: str
    arn: str
    verdict: Verdict
    reasons: tuple[Reason, ...]
    #: the tags adopt writes (empty: none)
    tags: dict[str, str]
    #: the ``autopilot:*`` tags the service carries now
    current: dict[str, str]
    repository: str | None = None
    container: str | None = None

    @property
    def image_automation(self) -> bool:
        return contract.TAG_REPOSITORY in self.tags

    @property
    def changes(self) -> dict[str, str]:
        """The tags that are not already on the service with that value."""
        return {k: v for k, v in self.tags.items() if self.current.get(k) != v}

    def codes(self) -> list[str]:
        return [r.code for r in self.reasons]


def _reason(code: str, detail: str) -> Reason:
    severity, _ = REASONS[code]
    return Reason(code, severity, detail)


# --------------------------------------------------------------------------- the judgement
def judge(facts: ServiceFacts, plane: ControlPlane, choices: Options) -> Judgement:
    """Can the control plane manage this service, why not, and the tags adopt writes."""
    svc = facts.service
    current = {k: v for k, v in svc.tags.items() if k.startswith(contract.TAG_PREFIX)}
    reasons: list[Reason] = []
    never = _never(svc, plane, reasons)
    tracked = None
    if svc.ecs_controlled:  # else reported once, with its controller
        tracked = _tracked_image(facts, plane, choices, reasons)
        if tracked is not None and not _roles_passable(facts, plane, reasons):
            tracked = None
    _deployment(facts, tracked, choices, reasons)
    daemon = _placement(facts, reasons)
    tags: dict[str, str] = {}
    if not never:
        if tracked is not None:
            repository, container = tracked
            tags[contract.TAG_REPOSITORY] = repository
            tags[contract.TAG_CONTAINER] = container
            tags[contract.TAG_POLICY] = choices.policy
            tags[contract.TAG_SCAN] = choices.scan
            tags[contract.TAG_APPROVAL] = choices.approval
        tags[contract.TAG_REBALANCE] = choices.rebalance or ("off" if daemon else "on")
    _existing(current, tags, never, reasons)
    verdict: Verdict = "never" if never else ("manage" if tracked is not None else "partial")
    return Judgement(
        service=svc.name,
        arn=svc.arn,
        verdict=verdict,
        reasons=tuple(reasons),
        tags=tags,
        current=current,
        repository=tracked[0] if tracked and not never else None,
        container=tracked[1] if tracked and not never else None,
    )


def _never(svc: Service, plane: ControlPlane, reasons: list[Reason]) -> bool:
    """The reasons autopilot never manages the service (nothing is written)."""
    never = False
    if not svc.ecs_controlled:
        never = True
        reasons.append(
            _reason(
                "deployment-controller",
                f"its deployment controller is {svc.deployment_controller}: autopilot never "
                "updates it, by any path (its own controller deploys it)",
            )
        )
    if not plane.manages(svc.cluster_arn):
        never = True
        reasons.append(
            _reason(
                "cluster-not-managed",
                f"cluster {cluster_name(svc.cluster_arn)} is not one the control plane manages "
                f"(it manages {', '.join(cluster_name(c) for c in plane.clusters)}): no event "
                "of it reaches a function",
            )
        )
    if svc.arn.split(":", 5)[-1].count("/") < 2:
        never = True
        reasons.append(
            _reason(
                "short-arn",
                "its ARN has the old format (no cluster in it): ECS cannot tag it; opt in to "
                "the long ARN format (serviceLongArnFormat) and re-create it",
            )
        )
    return never


class _Container(NamedTuple):
    name: str
    image: str
    ref: ImageRef | None
    #: (account, region) of a private ECR registry, else None
    ecr: tuple[str, str] | None
    essential: bool


def _containers(td: dict[str, Any]) -> list[_Container]:
    out: list[_Container] = []
    for c in td.get("containerDefinitions") or []:
        image = str(c.get("image", ""))
        ref = parse_image(image)
        match = _ECR_REGISTRY.match(ref.registry or "") if ref else None
        out.append(
            _Container(
                str(c.get("name", "")),
                image,
                ref,
                (match["account"], match["region"]) if match else None,
                bool(c.get("essential", True)),
            )
        )
    return out


def _tracked_image(
    facts: ServiceFacts, plane: ControlPlane, choices: Options, reasons: list[Reason]
) -> tuple[str, str] | None:
    """(repository, container) image automation would track, or None with the reason."""
    td = facts.task_definition
    if td is None:
        reasons.append(
            _reason(
                "no-task-definition",
                "the service names no task definition (its controller runs task sets): no "
                "image automation",
            )
        )
        return None
    containers = _containers(td)
    chosen = _choose_container(containers, choices, reasons)
    if chosen is None:
        return None
    container, repository = chosen
    svc = facts.service
    account, region = svc.arn.split(":")[4], svc.arn.split(":")[3]
    if container.ecr is not None and container.ecr != (account, region):
        reasons.append(
            _reason(
                "image-other-registry",
                f"container {container.name} runs {container.image}, from the registry of "
                f"account {container.ecr[0]} in {container.ecr[1]}: pushes there never reach "
                f"the control plane of {account} in {region}: no image automation",
            )
        )
        return None
    if not plane.repositories.covers(repository):
        reasons.append(
            _reason(
                "repository-not-covered",
                f"repository {repository} is not one the control plane covers "
                f"({plane.repositories.setting()}): its pushes reach no function: no image "
                "automation",
            )
        )
        return None
    return repository, container.name


def _choose_container(
    containers: list[_Container], choices: Options, reasons: list[Reason]
) -> tuple[_Container, str] | None:
    """The container to update and the repository it takes, by the choices or the images."""
    ecr = [c for c in containers if c.ecr is not None and c.ref is not None]
    if choices.container is not None:
        named = next((c for c in containers if c.name == choices.container), None)
        if named is None:
            names = ", ".join(c.name for c in containers) or "none"
            reasons.append(
                _reason(
                    "container-not-found",
                    f"--container {choices.container}: the task definition has no such "
                    f"container (it has {names}): no image automation",
                )
            )
            return None
        own = named.ref.repository if named.ecr is not None and named.ref else None
        repository = choices.repository or own
        if repository is None:
            reasons.append(
                _reason(
                    "image-not-ecr",
                    f"container {named.name} runs {named.image}, not an image of a private ECR "
                    "repository (give --repository to track one): no image automation",
                )
            )
            return None
        if own != repository:
            reasons.append(
                _reason(
                    "container-runs-other-image",
                    f"container {named.name} runs {named.image}: the next deploy replaces it "
                    f"with an image of {repository}",
                )
            )
        return named, repository
    candidates = [
        c
        for c in ecr
        if choices.repository is None
        or (c.ref is not None and c.ref.repository == choices.repository)
    ]
    if not ecr:
        shown = ", ".join(f"{c.name} runs {c.image}" for c in containers if c.essential)
        reasons.append(
            _reason(
                "image-not-ecr",
                f"no container runs an image of a private ECR repository ({shown or 'none'}): "
                "no image automation",
            )
        )
        return None
    if not candidates:
        reasons.append(
            _reason(
                "repository-not-used",
                f"no container runs an image of {choices.repository} (give --container to "
                "choose the one that should): no image automation",
            )
        )
        return None
    repositories = sorted({c.ref.repository for c in candidates if c.ref})
    if len(repositories) > 1:
        reasons.append(
            _reason(
                "several-repositories",
                f"containers run images of {', '.join(repositories)}: choose one with "
                "--repository: no image automation",
            )
        )
        return None
    if len(candidates) > 1:
        names = ", ".join(c.name for c in candidates)
        reasons.append(
            _reason(
                "several-containers",
                f"containers {names} all run {repositories[0]}: choose one with --container: "
                "no image automation",
            )
        )
        return None
    return candidates[0], repositories[0]


def _roles_passable(facts: ServiceFacts, plane: ControlPlane, reasons: list[Reason]) -> bool:
    """Whether the control plane may pass the task and execution roles (a deploy registers
    a task definition naming them: ``iam:PassRole``)."""
    td = facts.task_definition or {}
    roles = [
        (what, arn)
        for what, key in (("task role", "taskRoleArn"), ("execution role", "executionRoleArn"))
        if (arn := role_arn_of(str(td.get(key) or ""), facts.service.arn))
    ]
    if not roles:
        return True
    if plane.pass_roles is None:
        reasons.append(
            _reason(
                "pass-roles-unknown",
                "the control plane's passable roles are unknown (no PassRoles output, no "
                f"--pass-roles): {', '.join(arn for _, arn in roles)} not checked",
            )
        )
        return True
    passable = True
    for what, arn in roles:
        allowed = plane.pass_roles.allows(arn, facts.role_tags.get(arn))
        if allowed is None:
            reasons.append(
                _reason(
                    "role-unverified",
                    f"the {what} {arn}'s tags could not be read: whether the control plane "
                    f"may pass it ({plane.pass_roles}) is unknown",
                )
            )
        elif not allowed:
            passable = False
            reasons.append(
                _reason(
                    "role-not-passable",
                    f"the {what} {arn} is not one the control plane may pass "
                    f"({plane.pass_roles}): every deploy would be denied "
                    "(RegisterTaskDefinition needs iam:PassRole): no image automation",
                )
            )
    return passable


def role_arn_of(value: str, service_arn: str) -> str | None:
    """A task definition's role (an ARN, or a bare name in the service's account) as an ARN."""
    if not value:
        return None
    if value.startswith("arn:"):
        return value
    parts = service_arn.split(":")
    return f"arn:{parts[1]}:iam::{parts[4]}:role/{value}"


def _deployment(
    facts: ServiceFacts, tracked: tuple[str, str] | None, choices: Options, reasons: list[Reason]
) -> None:
    """How deployments will go: the circuit breaker, one in progress, the running version."""
    svc = facts.service
    if not svc.ecs_controlled:
        return
    if not svc.circuit_breaker_rollback:
        reasons.append(
            _reason(
                "no-circuit-breaker",
                "no deployment circuit breaker with rollback: ECS will not fail and roll back a "
                "bad deployment itself, only autopilot's crash-loop detection will",
            )
        )
    if svc.deployment_in_progress:
        reasons.append(
            _reason(
                "deployment-in-progress", "a deployment is in progress: autopilot acts once it ends"
            )
        )
    if tracked is not None and not _admission_hooked(svc):
        reasons.append(_reason("no-admission-hook", _no_admission_hook(svc)))
    if tracked is None or facts.task_definition is None:
        return
    repository, container = tracked
    running = next((c for c in _containers(facts.task_definition) if c.name == container), None)
    if running is None or running.ref is None or running.ref.repository != repository:
        return
    if running.ref.digest is None and running.ref.tag:
        reasons.append(
            _reason(
                "pinned-by-tag",
                f"the task definition names {repository}:{running.ref.tag}: autopilot pins it to "
                "a digest on its next deploy, and the owner's next terraform apply or cdk deploy "
                "may put the tag back",
            )
        )
    policy = parse_policy(choices.policy)
    if policy.kind == "semver" and policy.scope != "any":
        tag = running.ref.tag if running.ref.digest is None else None
        if tag is None or parse_version(tag) is None:
            shown = f"runs tag {tag}" if tag else "runs by digest (its tag is not in the image)"
            reasons.append(
                _reason(
                    "policy-needs-version",
                    f"policy {policy.raw} takes versions relative to the running one, and "
                    f"{container} {shown}: nothing deploys until it runs a SemVer tag",
                )
            )


#: the ECS strategies whose deployments run lifecycle hooks (none are documented for rolling)
_HOOKED_STRATEGIES = ("BLUE_GREEN", "LINEAR", "CANARY")


def _admission_hooked(svc: Service) -> bool:
    """It has a Lambda lifecycle hook whose function is an admission function
    (``<prefix>-admission``, or an alias of it), or it opted out (``autopilot:admission=off``)."""
    if svc.tags.get(contract.TAG_ADMISSION, "").strip().lower() == "off":
        return True
    suffix = f"-{contract.ADMISSION.name}"
    for hook in svc.deployment_configuration.get("lifecycleHooks") or []:
        target = str(hook.get("hookTargetArn") or "") if isinstance(hook, dict) else ""
        _, _, function = target.partition(":function:")
        if function.split(":", 1)[0].endswith(suffix):
            return True
    return False


def _no_admission_hook(svc: Service) -> str:
    strategy = str(svc.deployment_configuration.get("strategy") or "ROLLING")
    if strategy in _HOOKED_STRATEGIES:
        return (
            f"no admission hook on this {strategy} service: a deployment another tool starts is "
            "not checked for quarantined or gate-failing digests until autopilot's next deploy "
            f"adds it ({contract.TAG_ADMISSION}=off opts out)"
        )
    return (
        f"no admission hook: {strategy} deployments take no lifecycle hooks, so a deployment "
        "another tool starts is not checked; an autopilot:strategy of canary, linear or "
        "blue-green gets the hook on autopilot's next deploy"
    )


def _placement(facts: ServiceFacts, reasons: list[Reason]) -> bool:
    """Zone balance as it will go; True for a DAEMON service."""
    svc = facts.service
    if not svc.ecs_controlled:
        return False
    if svc.scheduling_strategy == "DAEMON":
        reasons.append(
            _reason(
                "daemon",
                "DAEMON scheduling: one task per instance, no zone balance "
                "(autopilot:rebalance=off); image automation is not affected",
            )
        )
        return True
    if svc.launch_type == "EXTERNAL":
        reasons.append(
            _reason(
                "external-launch-type",
                "EXTERNAL launch type (ECS Anywhere): its instances are in no Availability "
                "Zone, so zone balance does not apply",
            )
        )
        return False
    if len(facts.zones) == 1:
        reasons.append(
            _reason(
                "single-zone",
                f"its subnets are all in {facts.zones[0]}: there is nothing to balance",
            )
        )
    eligible = native_rebalancing_eligible(
        scheduling_strategy=svc.scheduling_strategy,
        placement_strategy_types=svc.placement_strategy,
        fargate=svc.fargate if facts.fargate is None else facts.fargate,
        has_az_placement_constraint=svc.az_placement_constraint,
    )
    if not eligible:
        how = _placement_text(svc)
        reasons.append(
            _reason(
                "placement-excludes-rebalancing",
                f"its placement ({how}) makes it ineligible for ECS's AZ rebalancing: autopilot "
                "moves its tasks between zones itself, one at a time, within its minimum "
                "healthy percent",
            )
        )
    elif svc.az_rebalancing != "ENABLED":
        reasons.append(
            _reason(
                "rebalancing-off",
                "ECS's AZ rebalancing is off: autopilot turns it on when the zones become lopsided",
            )
        )
    return False


def _placement_text(svc: Service) -> str:
    parts = [f"{t} on {f}" if f else t for t, f in svc.placement_strategy]
    if svc.az_placement_constraint:
        parts.append("a constraint on attribute:ecs.availability-zone")
    return ", ".join(parts) or "EC2 with no spread over zones first"


def _existing(
    current: dict[str, str], tags: dict[str, str], never: bool, reasons: list[Reason]
) -> None:
    """What the autopilot tags it carries already mean."""
    if not current:
        return
    try:
        parse_service_config(current)
        parse_rebalance(current.get(contract.TAG_REBALANCE))
    except MalformedTag as exc:
        fix = "adopt --apply rewrites it" if exc.key in tags else "adopt --undo removes it"
        reasons.append(
            _reason(
                "existing-tag-malformed",
                f"its tag {exc.key}={exc.value!r} is malformed ({exc.problem}): the functions "
                f"skip the service; {fix}",
            )
        )
    stale = sorted(k for k in current if k in _IMAGE_TAG_KEYS and k not in tags)
    if stale:
        shown = ", ".join(f"{k}={current[k]}" for k in stale)
        effect = (
            "the functions skip the service anyway"
            if never
            else "the functions may try to deploy it"
        )
        reasons.append(
            _reason(
                "stale-tags",
                f"it carries {shown}, which adopt would not write ({effect}): remove them "
                "with adopt --undo",
            )
        )
    if not never:
        changed = sum(1 for k, v in tags.items() if current.get(k) != v)
        reasons.append(
            _reason(
                "already-adopted",
                f"it already carries {len(current)} autopilot tag(s); {changed} would change",
            )
        )


# --------------------------------------------------------------------------- reading
def find_cluster(aws: AwsClients, cluster: str) -> str:
    """The ARN of an ACTIVE cluster named (or ARN'd) ``cluster``; raises ``AdoptError``.
    (DescribeClusters through the client: the functions' adapter answers a missing cluster
    as one with no capacity, which cannot be told from a real one.)"""
    try:
        found = aws.ecs.describe_clusters(clusters=[cluster]).get("clusters") or []
    except Exception as exc:
        raise AdoptError(f"cannot read cluster {cluster}: {exc}") from exc
    active = [c for c in found if c.get("status") == "ACTIVE" and c.get("clusterArn")]
    if not active:
        raise AdoptError(f"no cluster {cluster} at this endpoint")
    return str(active[0]["clusterArn"])


def read_services(aws: AwsClients, cluster_arn: str, names: list[str] | None) -> list[Service]:
    """The cluster's services (all, or the ones named); ``AdoptError`` names one not in it."""
    try:
        wanted = (
            list(dict.fromkeys(names)) if names else ecs.list_service_arns(aws.ecs, cluster_arn)
        )
        found = ecs.describe_services(aws.ecs, cluster_arn, wanted)
    except AutopilotError as exc:
        raise AdoptError(f"cannot read the services of {cluster_arn}: {exc}") from exc
    if names:
        missing = [n for n in wanted if not any(n in (s.name, s.arn) for s in found)]
        if missing:
            raise AdoptError(
                f"no active service {', '.join(missing)} in cluster {cluster_name(cluster_arn)}"
            )
    return sorted(found, key=lambda s: s.name)


RoleTags = Callable[[str], dict[str, str] | None]


def read_facts(
    aws: AwsClients,
    services: Iterable[Service],
    *,
    role_tags: RoleTags | None = None,
) -> list[ServiceFacts]:
    """Each service's task definition, its subnets' zones and (with ``role_tags``) its roles'
    tags. The zones of one set of subnets and the tags of one role are read once."""
    zones: dict[tuple[str, ...], tuple[str, ...]] = {}
    tags: dict[str, dict[str, str] | None] = {}
    defaults: dict[str, bool] = {}
    out: list[ServiceFacts] = []
    for svc in services:
        fargate: bool | None = None
        if not svc.strategy and svc.launch_type is None:
            # the cluster's default capacity provider strategy places its tasks
            if svc.cluster_arn not in defaults:
                try:
                    capacity = ecs.cluster_capacity(aws.ecs, svc.cluster_arn)
                    defaults[svc.cluster_arn] = bool(capacity.default_strategy) and not (
                        capacity.ec2_default_providers()
                    )
                except AutopilotError:
                    defaults[svc.cluster_arn] = False
            fargate = defaults[svc.cluster_arn]
        td: dict[str, Any] | None = None
        if svc.task_definition:
            try:
                td, _ = ecs.describe_task_definition(aws.ecs, svc.task_definition)
            except AutopilotError:
                td = None
        key = tuple(sorted(svc.subnets))
        if key and key not in zones:
            try:
                zones[key] = ec2.subnet_zones(aws.ec2, key)
            except AutopilotError:
                zones[key] = ()
        roles: dict[str, dict[str, str] | None] = {}
        if role_tags is not None and td is not None:
            for field_ in ("taskRoleArn", "executionRoleArn"):
                arn = role_arn_of(str(td.get(field_) or ""), svc.arn)
                if arn is None:
                    continue
                if arn not in tags:
                    tags[arn] = role_tags(arn)
                roles[arn] = tags[arn]
        out.append(ServiceFacts(svc, td, zones.get(key, ()), roles, fargate))
    return out


def iam_role_tags(iam: Any) -> RoleTags:
    """The tags of a role by ARN (ListRoleTags through the IAM client: the functions have no
    IAM adapter); None when they cannot be read."""

    def read(arn: str) -> dict[str, str] | None:
        try:
            found: dict[str, str] = {}
            marker: str | None = None
            while True:
                kwargs: dict[str, Any] = {"RoleName": role_name(arn)}
                if marker:
                    kwargs["Marker"] = marker
                page = iam.list_role_tags(**kwargs)
                found.update({t["Key"]: t["Value"] for t in page.get("Tags", [])})
                if not page.get("IsTruncated"):
                    return found
                marker = page.get("Marker")
        except Exception:
            return None

    return read


# --------------------------------------------------------------------------- acting
@dataclass
class ServiceResult:
    """One service's judgement and what was done about it."""

    judgement: Judgement
    written: dict[str, str] = field(default_factory=dict)
    removed: list[str] = field(default_factory=list)
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        j = self.judgement
        return {
            "service": j.service,
            "arn": j.arn,
            "verdict": j.verdict,
            "image_automation": j.image_automation,
            "repository": j.repository,
            "container": j.container,
            "reasons": [r.to_json() for r in j.reasons],
            "tags": j.tags,
            "current": j.current,
            "changes": j.changes,
            "written": self.written,
            "removed": self.removed,
            "error": self.error,
        }


def apply(aws: AwsClients, judgements: Iterable[Judgement]) -> list[ServiceResult]:
    """Write each service's changed tags (one TagResource per service; none when nothing
    changes or the verdict is never)."""
    out: list[ServiceResult] = []
    for j in judgements:
        outcome = ServiceResult(j)
        changes = j.changes
        if j.verdict != "never" and changes:
            params = {
                "resourceArn": j.arn,
                "tags": [{"key": k, "value": v} for k, v in changes.items()],
            }
            try:
                ecs.tag_resource(aws.ecs, params)
                outcome.written = changes
            except AutopilotError as exc:
                outcome.error = str(exc)
        out.append(outcome)
    return out


def undo(aws: AwsClients, judgements: Iterable[Judgement]) -> list[ServiceResult]:
    """Remove every ``autopilot:*`` tag of each service (one UntagResource per service that
    carries any), whatever the verdict."""
    out: list[ServiceResult] = []
    for j in judgements:
        outcome = ServiceResult(j)
        keys = sorted(j.current)
        if keys:
            try:
                ecs.untag_resource(aws.ecs, {"resourceArn": j.arn, "tagKeys": keys})
                outcome.removed = keys
            except AutopilotError as exc:
                outcome.error = str(exc)
        out.append(outcome)
    return out


Mode = Literal["dry-run", "apply", "undo"]


@dataclass
class Report:
    """What `autopilot adopt` prints (``--json``: :meth:`to_json`)."""

    cluster: str
    mode: Mode
    plane: ControlPlane
    outcomes: list[ServiceResult]
    #: each tracked repository -> what it lacks for the protective tags (empty: nothing)
    retention: dict[str, list[str]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return all(o.error is None for o in self.outcomes)

    def to_json(self) -> dict[str, Any]:
        verdicts = [o.judgement.verdict for o in self.outcomes]
        return {
            "cluster": self.cluster,
            "mode": self.mode,
            "ok": self.ok,
            "control_plane": self.plane.to_json(),
            "summary": {
                "services": len(self.outcomes),
                "manage": verdicts.count("manage"),
                "partial": verdicts.count("partial"),
                "never": verdicts.count("never"),
                "written": sum(1 for o in self.outcomes if o.written),
                "removed": sum(1 for o in self.outcomes if o.removed),
                "failed": sum(1 for o in self.outcomes if o.error),
            },
            "services": [o.to_json() for o in self.outcomes],
            "repositories": [
                {"repository": name, "retention_missing": missing}
                for name, missing in sorted(self.retention.items())
            ],
        }


def adopt(
    aws: AwsClients,
    cluster: str,
    plane: ControlPlane,
    choices: Options,
    *,
    services: list[str] | None = None,
    mode: Mode = "dry-run",
    role_tags: RoleTags | None = None,
) -> Report:
    """The whole command: read, judge every service, then (``apply``/``undo``) act. Bad
    input (no such cluster, a service not in it) raises ``AdoptError`` before anything is
    written."""
    cluster_arn = find_cluster(aws, cluster)
    found = read_services(aws, cluster_arn, services)
    needs_tags = plane.pass_roles is not None and plane.pass_roles.needs_tags
    facts = read_facts(aws, found, role_tags=role_tags if needs_tags else None)
    judgements = [judge(f, plane, choices) for f in facts]
    if mode == "apply":
        outcomes = apply(aws, judgements)
    elif mode == "undo":
        outcomes = undo(aws, judgements)
    else:
        outcomes = [ServiceResult(j) for j in judgements]
    tracked = sorted({j.repository for j in judgements if j.repository and j.verdict != NEVER})
    gaps = {
        repo: retention_gaps(plane.retention_prefix, *read_retention(aws, repo)) for repo in tracked
    }
    return Report(cluster_arn, mode, plane, outcomes, gaps)


# --------------------------------------------------------------------------- retention
def read_retention(aws: AwsClients, repository: str) -> tuple[str, list[str], str | None]:
    """(tag mutability, its exclusion filters, the lifecycle policy text or None) of a
    repository; a repository adopt cannot read is reported as lacking everything."""
    try:
        mutability, filters = ecr.tag_mutability(aws.ecr, repository)
        return mutability, filters, ecr.lifecycle_policy(aws.ecr, repository)
    except AutopilotError:
        return "unknown", [], None


def retention_gaps(
    prefix: str, mutability: str, filters: list[str], lifecycle: str | None
) -> list[str]:
    """What a repository lacks for the protective tags (empty: nothing): the lifecycle rule
    that keeps the prefix, of the highest priority; tags under the prefix that may move."""
    missing: list[str] = []
    rules: list[Any] = []
    if lifecycle:
        try:
            rules = list(json.loads(lifecycle).get("rules", []))
        except (ValueError, AttributeError):
            rules = []
    first = min(rules, key=lambda r: int(r.get("rulePriority", 0)), default=None)
    keeps = first is not None and _keeps_prefix(first, prefix)
    if not keeps:
        missing.append(
            f"lifecycle: the first rule (lowest rulePriority) must keep {prefix}* "
            "(tagged, tagPrefixList, imageCountMoreThan, expire): "
            + ("the policy has no rule" if first is None else "the first rule does not")
        )
    if not retention.slots_mutable(prefix, mutability, filters):
        missing.append(
            f"mutability: {mutability}: the protective tags cannot move (use "
            "IMMUTABLE_WITH_EXCLUSION with the WILDCARD filter "
            f"{retention.exclusion_filter(prefix)}, or MUTABLE)"
        )
    return missing


def _keeps_prefix(rule: Any, prefix: str) -> bool:
    selection = rule.get("selection") or {}
    return (
        str(selection.get("tagStatus", "")).lower() == "tagged"
        and prefix in (selection.get("tagPrefixList") or [])
        and len(selection.get("tagPrefixList") or []) == 1
        and selection.get("countType") == "imageCountMoreThan"
        and int(selection.get("countNumber", 0)) >= retention.PROTECT_COUNT
    )


def retention_fix(repository: str, prefix: str) -> list[str]:
    """The commands that add what keeps the protective tags (the rule renumbers the others)."""
    rule = json.dumps(retention.lifecycle_rule(prefix))
    return [
        f"aws ecr put-image-tag-mutability --repository-name {repository} "
        "--image-tag-mutability IMMUTABLE_WITH_EXCLUSION --image-tag-mutability-exclusion-"
        f"filters filterType=WILDCARD,filter={retention.exclusion_filter(prefix)}",
        f"lifecycle rule to add first (the others' rulePriority above 1): {rule}",
    ]


# --------------------------------------------------------------------------- text
def render(report: Report) -> list[str]:
    """The report for people: one block per service, then what was (or would be) done."""
    plane = report.plane
    managed = plane.manages(report.cluster)
    lines = [
        f"cluster {report.cluster}: "
        + ("managed" if managed else "NOT managed")
        + f" by the control plane ({plane.source})"
    ]
    width = max((len(o.judgement.service) for o in report.outcomes), default=8)
    for o in report.outcomes:
        j = o.judgement
        what = f"  {j.repository}, container {j.container}" if j.repository else ""
        lines.append(f"{j.service:{width}}  {j.verdict:8}{what}".rstrip())
        if report.mode == "undo":
            if o.removed:
                lines.append(f"    removed {' '.join(o.removed)}")
            elif not o.error:
                lines.append("    no autopilot tag to remove")
        elif j.tags:
            verb = "wrote" if o.written else ("would write" if j.changes else "already has")
            shown = j.changes if (j.changes and verb != "already has") else j.tags
            lines.append(f"    {verb} " + " ".join(f"{k}={v}" for k, v in shown.items()))
        for r in j.reasons:
            lines.append(f"    {r.severity:19} {r.code}: {r.message}")
        if o.error:
            lines.append(f"    FAILED: {o.error}")
    prefix = plane.retention_prefix
    for repo, missing in sorted(report.retention.items()):
        if not missing:
            lines.append(f"repository {repo}: keeps the protective tags ({prefix}*)")
            continue
        lines.append(f"repository {repo}: lacks what keeps the protective tags ({prefix}*)")
        lines += [f"    missing {m}" for m in missing]
        lines += [f"    add: {fix}" for fix in retention_fix(repo, prefix)]
    lines.append(_footer(report))
    return lines


def _footer(report: Report) -> str:
    if report.mode == "undo":
        n = sum(1 for o in report.outcomes if o.removed)
        return f"removed the autopilot tags of {n} service(s)" + _failed(report)
    if report.mode == "apply":
        n = sum(1 for o in report.outcomes if o.written)
        return f"wrote the tags of {n} service(s)" + _failed(report)
    n = sum(1 for o in report.outcomes if o.judgement.changes and o.judgement.verdict != "never")
    return (
        f"dry run: nothing written; --apply writes the tags of {n} service(s)"
        if n
        else "dry run: nothing to write"
    )


def _failed(report: Report) -> str:
    n = sum(1 for o in report.outcomes if o.error)
    return f"; {n} failed" if n else ""
