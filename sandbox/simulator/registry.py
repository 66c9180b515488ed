"""The registry: a push is ``PutImage`` with a generated manifest (a new digest), then
``ECR Image Action``; its scan result follows as ``Inspector2 Scan`` or ``ECR Image Scan``,
whichever the registry's scanning configuration and the repository's scan-on-push
setting make AWS send (or none).

The scan result is also what ECR holds for the digest (``hold_scan``): moto's
DescribeImageScanFindings answers ScanNotFoundException for an image never scanned and a
fixed HIGH finding for one scanned through StartImageScan, so the simulator sets the
result moto answers (its documented custom-result hook) to the findings the scan event
announces: image-events reads the verdict from ECR, not from the event.

A push with ``platforms`` is an image index (``application/vnd.oci.image.index.v1+json``),
as buildx pushes one: an image manifest per platform, pushed first and untagged, then,
with ``attestation``, buildx's provenance attestation manifest (platform unknown/unknown),
then the tagged index. ECR cannot scan an index: only the platform manifests get a scan
result. moto gives a manifest without layers a digest from a random number below 101, so
the index is pushed with its real digest (sha256 of its bytes) as ``imageDigest``.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sandbox.router import RouteResult
from sandbox.server import Clients
from sandbox.simulator.bus import Event, EventQueue, make_event
from sandbox.simulator.presentation import counts_label
from sandbox.simulator.state import SimState, SimulatorError

SEVERITIES = ("CRITICAL", "HIGH", "MEDIUM", "LOW", "INFORMATIONAL", "UNDEFINED")


@dataclass
class PushResult:
    repository: str
    tag: str | None
    digest: str
    scan: str | None
    routes: list[RouteResult]
    events: list[dict[str, Any]]
    #: for an image index: platform (``os/arch``) -> its manifest's digest
    children: dict[str, str] = field(default_factory=dict)


OCI_INDEX = "application/vnd.oci.image.index.v1+json"


class Registry:
    def __init__(self, clients: Clients, state: SimState, queue: EventQueue) -> None:
        self.clients = clients
        self.state = state
        self.queue = queue
        #: image index digest -> its platform manifests' digests (what gets scanned)
        self._children: dict[str, dict[str, str]] = {}

    def put_image(
        self,
        repository: str,
        tag: str | None,
        *,
        crashing: bool = False,
        platforms: tuple[str, ...] = (),
        attestation: bool = False,
    ) -> tuple[dict[str, Any], str, dict[str, str]]:
        """``PutImage`` of a new image (a generated manifest); the repository as
        ``DescribeRepositories`` describes it, the image's digest, and for an image index
        (``platforms``, e.g. ``("linux/amd64", "linux/arm64")``) each platform's manifest
        digest. A crashing image's digests are remembered: its tasks will exit."""
        ecr = self.clients("ecr")
        try:
            repo: dict[str, Any] = ecr.describe_repositories(repositoryNames=[repository])[
                "repositories"
            ][0]
        except ecr.exceptions.RepositoryNotFoundException as exc:
            raise SimulatorError(f"no repository {repository!r} in the sandbox") from exc
        seed = f"{repository}:{tag}:{secrets.token_hex(8)}"
        children: dict[str, str] = {}
        entries: list[dict[str, Any]] = []
        for platform in platforms:
            os_name, _, arch = platform.partition("/")
            if not os_name or not arch:
                raise SimulatorError(f"platform {platform!r} is not OS/ARCHITECTURE")
            manifest = image_manifest(f"{seed}:{platform}")
            digest = self._put(ecr, repository, manifest, None)
            children[platform] = digest
            entries.append(_entry(manifest, digest, {"os": os_name, "architecture": arch}))
        if attestation and entries:
            manifest = image_manifest(f"{seed}:attestation")
            digest = self._put(ecr, repository, manifest, None)
            entry = _entry(manifest, digest, {"os": "unknown", "architecture": "unknown"})
            entry["annotations"] = {
                "vnd.docker.reference.digest": entries[0]["digest"],
                "vnd.docker.reference.type": "attestation-manifest",
            }
            entries.append(entry)
        if entries:
            index = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries})
            digest = self._put(ecr, repository, index, tag, media_type=OCI_INDEX)
        else:
            manifest = image_manifest(seed)
            digest = self._put(ecr, repository, manifest, tag)
        if crashing:
            self.state.crashing.update({digest, *children.values()})
        self._children[digest] = children
        return repo, digest, children

    @staticmethod
    def _put(
        ecr: Any,
        repository: str,
        manifest: str,
        tag: str | None,
        *,
        media_type: str = "application/vnd.docker.distribution.manifest.v2+json",
    ) -> str:
        kwargs: dict[str, Any] = {
            "repositoryName": repository,
            "imageManifest": manifest,
            "imageManifestMediaType": media_type,
        }
        if media_type == OCI_INDEX:  # moto computes no digest for a manifest without layers
            kwargs["imageDigest"] = "sha256:" + hashlib.sha256(manifest.encode()).hexdigest()
        if tag:
            kwargs["imageTag"] = tag
        try:
            return str(ecr.put_image(**kwargs)["image"]["imageId"]["imageDigest"])
        except ecr.exceptions.ClientError as exc:  # e.g. a tag of an IMMUTABLE repository
            message = exc.response["Error"]["Message"]
            raise SimulatorError(f"ECR refused the push: {message}") from exc

    def announce_push(
        self,
        repository: str,
        tag: str | None,
        digest: str,
        *,
        crashing: bool = False,
        drop: bool = False,
    ) -> Event:
        """Queue the push's ``ECR Image Action`` (no ``image-tag`` on a push by digest); it is
        lost with ``drop``, or at the queue's drop rate."""
        detail: dict[str, Any] = {
            "result": "SUCCESS",
            "repository-name": repository,
            "image-digest": digest,
            "action-type": "PUSH",
        }
        if tag:
            detail["image-tag"] = tag
        event = make_event("aws.ecr", "ECR Image Action", detail, [])
        self.queue.put(
            event,
            label=f"push {repository}:{tag or '<digest>'} -> {digest[:19]}..."
            + (" (crashing image)" if crashing else ""),
            droppable=True,
            drop=drop,
        )
        return event

    def announce_scan(
        self,
        repo: dict[str, Any],
        digest: str,
        tag: str | None,
        findings: dict[str, int],
        kind: str,
        *,
        drop: bool = False,
    ) -> Event:
        """Queue the image's scan result (``kind``: see :func:`scan_event`), after ECR
        holds it (``hold_scan``). For an image index, each platform manifest is scanned (an
        event each, the same findings); the index itself cannot be. An event is lost with
        ``drop``, or at the queue's drop rate (ECR holds the result all the same)."""
        scanned = list(self._children.get(digest, {}).values()) or [digest]
        event: Event | None = None
        for one in scanned:
            hold_scan(repo, one, findings, kind)
            event = scan_event(repo, one, [tag] if tag and one == digest else [], findings, kind)
            self.queue.put(
                event,
                label=f"{event['detail-type']} of {repo['repositoryName']}@{one[:19]}...: "
                f"{counts_label(findings)}",
                droppable=True,
                drop=drop,
            )
        assert event is not None
        return event

    def scanner_for(self, repo: dict[str, Any]) -> str:
        """``inspector2``, ``basic`` or ``none``, as the registry and repository are
        configured."""
        cfg = (
            self.clients("ecr")
            .get_registry_scanning_configuration()
            .get("scanningConfiguration", {})
        )
        name = repo["repositoryName"]

        def rule_matches(rule: dict[str, Any]) -> bool:
            return any(
                fnmatch.fnmatchcase(name, f.get("filter", "*"))
                for f in rule.get("repositoryFilters", [])
            )

        if cfg.get("scanType") == "ENHANCED":
            return "inspector2" if any(rule_matches(r) for r in cfg.get("rules", [])) else "none"
        if (repo.get("imageScanningConfiguration") or {}).get("scanOnPush"):
            return "basic"
        if any(
            r.get("scanFrequency") == "SCAN_ON_PUSH" and rule_matches(r)
            for r in cfg.get("rules", [])
        ):
            return "basic"
        return "none"


def scan_event(
    repo: dict[str, Any], digest: str, tags: list[str], findings: dict[str, int], kind: str
) -> Event:
    """The scan result of an image: ``Inspector2 Scan`` (``kind`` inspector2: the
    repository's ARN as its name, CRITICAL/HIGH/MEDIUM/TOTAL always present) or
    ``ECR Image Scan`` (the bare name, zero counts omitted)."""
    arn = repo["repositoryArn"]
    if kind == "inspector2":
        counts = {"CRITICAL": 0, "HIGH": 0, "MEDIUM": 0, **dict(findings.items())}
        counts["TOTAL"] = sum(v for k, v in counts.items() if k != "TOTAL")
        return make_event(
            "aws.inspector2",
            "Inspector2 Scan",
            {
                "scan-status": "INITIAL_SCAN_COMPLETE",
                "repository-name": arn,
                "finding-severity-counts": counts,
                "image-digest": digest,
                "image-tags": tags,
                "version": "1.0",
            },
            [arn],
        )
    return make_event(
        "aws.ecr",
        "ECR Image Scan",
        {
            "scan-status": "COMPLETE",
            "repository-name": repo["repositoryName"],
            # zero counts omitted
            "finding-severity-counts": {k: v for k, v in findings.items() if v},
            "image-digest": digest,
            "image-tags": tags,
        },
        [arn],
    )


def hold_scan(
    repo: dict[str, Any],
    digest: str,
    findings: dict[str, int],
    kind: str,
    *,
    status: str | None = None,
) -> None:
    """Make ECR (moto, in this process) answer DescribeImageScanFindings for ``digest`` with
    ``findings``: basic scanning's ``findingSeverityCounts`` (status COMPLETE), or for
    ``kind`` inspector2 enhanced scanning's ``enhancedFindings``, one per finding (status
    ACTIVE). ``status`` overrides the status (FAILED, SCAN_ELIGIBILITY_EXPIRED, ...).
    ``repo`` is the repository as DescribeRepositories describes it. Nothing is held for
    an image ECR does not hold (ECR scans only what it has)."""
    from moto.ecr.models import ecr_backends  # noqa: PLC0415 - moto loads with the sandbox

    name = repo["repositoryName"]
    region = str(repo["repositoryArn"]).split(":")[3]
    repository = ecr_backends[repo["registryId"]][region].repositories.get(name)
    image = next(
        (i for i in (repository.images if repository else []) if i.image_digest == digest), None
    )
    if image is None:
        return
    counts = {k: v for k, v in findings.items() if v and k != "TOTAL"}
    scan: dict[str, Any] = {"findingSeverityCounts": counts}
    if kind == "inspector2":
        scan["enhancedFindings"] = [
            {
                "awsAccountId": repo["registryId"],
                "findingArn": f"{repo['repositoryArn']}/finding/{severity.lower()}-{i}",
                "severity": severity,
                "status": "ACTIVE",
                "title": f"CVE-2026-{i:05d}",
                "type": "PACKAGE_VULNERABILITY",
            }
            for severity, n in counts.items()
            for i in range(n)
        ]
    else:
        scan["findings"] = [
            {"name": f"CVE-2026-{i:05d}", "severity": severity}
            for severity, n in counts.items()
            for i in range(n)
        ]
    now = datetime.now(UTC)
    scan["imageScanCompletedAt"] = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    default = "ACTIVE" if kind == "inspector2" else "COMPLETE"
    result = {
        "registryId": repo["registryId"],
        "repositoryName": name,
        "imageId": {"imageDigest": digest},
        "imageScanStatus": {"status": status or default, "description": "sandbox scan"},
        "imageScanFindings": scan,
    }
    image.last_scan = now.replace(tzinfo=None)
    image.scan_finding_results_queue = []
    # moto answers the result stored under the call's imageId (as JSON): by digest here
    image.scan_finding_results = {json.dumps({"imageDigest": digest}): result}


def _entry(manifest: str, digest: str, platform: dict[str, str]) -> dict[str, Any]:
    """An image index's entry for one manifest."""
    return {
        "mediaType": json.loads(manifest)["mediaType"],
        "digest": digest,
        "size": len(manifest.encode()),
        "platform": platform,
    }


def image_manifest(seed: str) -> str:
    """A Docker image manifest whose config and layer digests derive from ``seed`` (so a
    new seed is a new image digest)."""

    def digest(kind: str) -> str:
        return "sha256:" + hashlib.sha256(f"{kind}:{seed}".encode()).hexdigest()

    return json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {
                "mediaType": "application/vnd.docker.container.image.v1+json",
                "size": 1469,
                "digest": digest("config"),
            },
            "layers": [
                {
                    "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                    "size": 3370628,
                    "digest": digest("layer"),
                }
            ],
        }
    )
