"""A service's ``autopilot:*`` tags: which image tags deploy (``autopilot:policy``), the scan
gate (``autopilot:scan``), approval, zone rebalancing, and how ECS rolls a deploy out
(``autopilot:strategy``, ``autopilot:alarms``: ``logic.rollout``); parsing and checks; and the
config's floors under the scan and approval tags (``Floors``: whatever a tag says, the
gate is at least the floor's and approval is manual in the clusters that require it).

Policies: ``semver`` | ``semver:minor`` | ``semver:patch`` (add ``+pre`` to also take
pre-releases, e.g. ``semver:minor+pre``), ``glob:<pattern>``, ``regex:<pattern>``,
``tag:<name>``.
"""

from __future__ import annotations

import re
from typing import Literal, NamedTuple

from autopilot import contract
from autopilot.errors import MalformedTag
from autopilot.logic import patterns
from autopilot.logic.rollout import AdmissionHook, Rollout, parse_alarms, parse_rollout
from autopilot.logic.semver import Version, parse_version

PolicyKind = Literal["semver", "glob", "regex", "tag"]
SemverScope = Literal["any", "minor", "patch"]
ScanGate = Literal["critical", "high", "off"]
#: ``manual``: nothing deploys before ``autopilot approve``; ``manual-traffic``: the deploy
#: starts at once and waits at autopilot's PAUSE hook before production traffic
#: (``logic.rollout.pause_hook``)
Approval = Literal["auto", "manual", "manual-traffic"]


class Policy(NamedTuple):
    kind: PolicyKind
    raw: str
    scope: SemverScope = "any"
    prerelease: bool = False
    pattern: str = ""

    @property
    def by_version(self) -> bool:
        return self.kind == "semver"

    def accepts_tag(self, tag: str) -> bool:
        """Whether a tag is a candidate at all (semver scope is checked against the running one)."""
        if self.kind == "semver":
            version = parse_version(tag)
            return version is not None
        if self.kind == "tag":
            return tag == self.pattern
        if self.kind == "glob":
            return patterns.glob_matches(self.pattern, tag)
        return patterns.regex_matches(patterns.compile_safe_regex(self.pattern), tag)

    def best_version(self, tags: tuple[str, ...]) -> tuple[str, Version] | None:
        """The highest SemVer tag among ``tags`` (for semver policies)."""
        found = [(t, v) for t in tags if (v := parse_version(t)) is not None]
        return max(found, key=lambda tv: tv[1]) if found else None

    def version_allowed(self, candidate: Version, running: Version | None) -> str | None:
        """None if ``candidate`` may replace ``running`` under this policy, else the reason."""
        if candidate.is_prerelease and not self.prerelease:
            same_pre = (
                running is not None and running.is_prerelease and running.core == candidate.core
            )
            if not same_pre:
                return f"{candidate} is a pre-release and the policy takes none"
        if self.scope == "any":
            return None
        if running is None:
            return f"policy {self.raw} needs the running version, which is unknown"
        if candidate.major != running.major:
            return f"{candidate} leaves major {running.major}"
        if self.scope == "patch" and candidate.minor != running.minor:
            return f"{candidate} leaves {running.major}.{running.minor}"
        return None


_TAG_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")  # fullmatch, not `$`


def parse_policy(value: str | None) -> Policy:
    """Parse an ``autopilot:policy`` value, or raise ``MalformedTag``."""
    key = contract.TAG_POLICY
    raw = contract.DEFAULT_POLICY if value is None else value
    try:
        # glob64:/regex64: carry patterns ECS tag values cannot hold (contract module)
        text = contract.decode_policy_tag(raw.strip())
    except ValueError as exc:
        raise MalformedTag(key, raw, str(exc)) from exc
    head, _, rest = text.partition(":")
    if text == "semver" or text.startswith(("semver:", "semver+")):
        body, plus, modifier = text.partition("+")
        if plus and modifier != "pre":
            raise MalformedTag(key, raw, "the only semver modifier is +pre")
        scopes: dict[str, SemverScope] = {"": "any", ":minor": "minor", ":patch": "patch"}
        scope_text = body[len("semver") :]
        if scope_text not in scopes:
            raise MalformedTag(key, raw, "semver scope is :minor or :patch")
        return Policy("semver", raw, scope=scopes[scope_text], prerelease=bool(plus))
    if head == "glob":
        return Policy("glob", raw, pattern=patterns.check_glob(rest, key))
    if head == "regex":
        patterns.compile_safe_regex(rest, key)
        return Policy("regex", raw, pattern=rest)
    if head == "tag":
        if not _TAG_NAME.fullmatch(rest):
            raise MalformedTag(key, raw, "tag:<name> needs a valid image tag")
        return Policy("tag", raw, pattern=rest)
    return _bad(raw)


def _bad(raw: str) -> Policy:
    raise MalformedTag(
        contract.TAG_POLICY, raw, "expected semver[:minor|:patch][+pre], glob:, regex: or tag:"
    )


def parse_scan_gate(value: str | None) -> ScanGate:
    raw = contract.DEFAULT_SCAN if value is None else value.strip()
    if raw not in ("critical", "high", "off"):
        raise MalformedTag(contract.TAG_SCAN, raw, "expected critical, high or off")
    return raw  # type: ignore[return-value]


def parse_approval(value: str | None) -> Approval:
    raw = contract.DEFAULT_APPROVAL if value is None else value.strip()
    if raw not in ("auto", "manual", "manual-traffic"):
        raise MalformedTag(
            contract.TAG_APPROVAL, raw[:32], "expected auto, manual or manual-traffic"
        )
    return raw  # type: ignore[return-value]


def parse_admission(value: str | None) -> bool:
    """``autopilot:admission`` (``on`` | ``off``, default on): the admission hook checks the
    service's deployments; raises ``MalformedTag``."""
    raw = (contract.DEFAULT_ADMISSION if value is None else value).strip().lower()
    if raw not in ("on", "off"):
        raise MalformedTag(contract.TAG_ADMISSION, raw[:32], "expected on or off")
    return raw == "on"


def parse_rebalance(value: str | None) -> bool:
    """``autopilot:rebalance`` (``on`` | ``off``, default on), or raise ``MalformedTag``."""
    raw = (contract.DEFAULT_REBALANCE if value is None else value).strip().lower()
    if raw not in ("on", "off"):
        raise MalformedTag(contract.TAG_REBALANCE, raw[:32], "expected on or off")
    return raw == "on"


#: how much each scan gate blocks: ``high`` (HIGH or worse) is stricter than ``critical``
SCAN_STRICTNESS: dict[ScanGate, int] = {"off": 0, "critical": 1, "high": 2}


class ServiceConfig(NamedTuple):
    """A service's image-automation tags, parsed; ``scan`` and ``approval`` are the effective
    values (``with_floors``)."""

    repository: str
    container: str | None
    policy: Policy
    scan: ScanGate
    approval: Approval
    #: what ``autopilot:scan`` says, when the config's floor overrode it (else None)
    scan_tag: ScanGate | None = None
    #: what ``autopilot:approval`` says, when the config's cluster rule overrode it (else None)
    approval_tag: Approval | None = None
    #: ``autopilot:strategy`` (None: no tag, the service keeps its strategy)
    rollout: Rollout | None = None
    #: ``autopilot:alarms``: the deployment alarms each deploy sets, with rollback
    alarms: tuple[str, ...] = ()
    #: ``autopilot:admission``: the admission hook checks its deployments (off: opted out)
    admission: bool = True
    #: the admission hook a deploy adds when the service has none (``Floors.admission_hook``;
    #: None: opted out, or the control plane has no admission function)
    admission_hook: AdmissionHook | None = None

    @property
    def scan_note(self) -> str:
        """Why the gate is not the tag's ("" when it is)."""
        if self.scan_tag is None:
            return ""
        return f"scan gate {self.scan} (the config's floor; the tag says {self.scan_tag})"

    @property
    def approval_note(self) -> str:
        """Why approval is not the tag's ("" when it is)."""
        if self.approval_tag is None:
            return ""
        return (
            f"approval {self.approval} (the config requires it in this cluster; "
            f"the tag says {self.approval_tag})"
        )


class Floors(NamedTuple):
    """The config's guardrails, which no tag loosens: the loosest scan gate a service may
    have (``off``: no floor), the clusters (ARNs) whose services always need a manual
    approval, and the admission hook a deploy puts on a service that has none (None: the
    control plane has no admission function)."""

    min_scan: ScanGate = "off"
    manual_approval_clusters: frozenset[str] = frozenset()
    #: how long autopilot's PAUSE hook waits for an answer under ``manual-traffic`` before
    #: ECS rolls the deployment back (the config's setting, not a floor)
    pause_timeout_minutes: int = contract.DEFAULT_PAUSE_TIMEOUT_MINUTES
    admission_hook: AdmissionHook | None = None


NO_FLOORS = Floors()


def with_floors(cfg: ServiceConfig, cluster_arn: str, floors: Floors) -> ServiceConfig:
    """``cfg`` with its effective scan gate (the stricter of the tag's and the floor) and
    approval (manual in a cluster that requires it, unless the tag says manual-traffic);
    what a floor overrode is kept in ``scan_tag`` / ``approval_tag``."""
    if SCAN_STRICTNESS[floors.min_scan] > SCAN_STRICTNESS[cfg.scan]:
        cfg = cfg._replace(scan=floors.min_scan, scan_tag=cfg.scan)
    # manual-traffic is a manual approval too (before production traffic): the floor holds
    if cfg.approval == "auto" and cluster_arn in floors.manual_approval_clusters:
        cfg = cfg._replace(approval="manual", approval_tag=cfg.approval)
    if cfg.admission and floors.admission_hook is not None:
        cfg = cfg._replace(admission_hook=floors.admission_hook)
    return cfg


def service_config(tags: dict[str, str], cluster_arn: str, floors: Floors) -> ServiceConfig | None:
    """The effective config of a service in ``cluster_arn``: its tags (``parse_service_config``)
    under the config's ``floors``. Every reader of the scan gate or approval goes through
    here. None when the service tracks no repository; raises ``MalformedTag``."""
    cfg = parse_service_config(tags)
    return None if cfg is None else with_floors(cfg, cluster_arn, floors)


def parse_service_config(tags: dict[str, str]) -> ServiceConfig | None:
    """The tags alone, no floor applied (``service_config`` applies them). None when the
    service tracks no repository; raises ``MalformedTag``."""
    repository = tags.get(contract.TAG_REPOSITORY)
    if repository is None:
        return None
    container = tags.get(contract.TAG_CONTAINER)
    return ServiceConfig(
        repository=repository.strip(),
        container=container.strip() if container else None,
        policy=parse_policy(tags.get(contract.TAG_POLICY)),
        scan=parse_scan_gate(tags.get(contract.TAG_SCAN)),
        approval=parse_approval(tags.get(contract.TAG_APPROVAL)),
        rollout=parse_rollout(tags.get(contract.TAG_STRATEGY)),
        alarms=parse_alarms(tags.get(contract.TAG_ALARMS)),
        admission=parse_admission(tags.get(contract.TAG_ADMISSION)),
    )
