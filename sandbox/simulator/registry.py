"""The registry: a push is ``PutImage`` with a generated manifest (a new digest), then
``ECR Image Action``; its scan result follows as ``Inspector2 Scan`` or ``ECR Image Scan``,
whichever the registry's scanning configuration and the repository's scan-on-push
setting make AWS send (or none).
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import secrets
from dataclasses import dataclass
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


class Registry:
    def __init__(self, clients: Clients, state: SimState, queue: EventQueue) -> None:
        self.clients = clients
        self.state = state
        self.queue = queue

    def put_image(
        self, repository: str, tag: str | None, *, crashing: bool = False
    ) -> tuple[dict[str, Any], str]:
        """``PutImage`` of a new image (a generated manifest); the repository as
        ``DescribeRepositories`` describes it, and the image's digest. A crashing image's
        digest is remembered: its tasks will exit."""
        ecr = self.clients("ecr")
        try:
            repo: dict[str, Any] = ecr.describe_repositories(repositoryNames=[repository])[
                "repositories"
            ][0]
        except ecr.exceptions.RepositoryNotFoundException as exc:
            raise SimulatorError(f"no repository {repository!r} in the sandbox") from exc
        manifest = image_manifest(f"{repository}:{tag}:{secrets.token_hex(8)}")
        kwargs: dict[str, Any] = {
            "repositoryName": repository,
            "imageManifest": manifest,
            "imageManifestMediaType": "application/vnd.docker.distribution.manifest.v2+json",
        }
        if tag:
            kwargs["imageTag"] = tag
        try:
            digest = str(ecr.put_image(**kwargs)["image"]["imageId"]["imageDigest"])
        except ecr.exceptions.ClientError as exc:  # e.g. a tag of an IMMUTABLE repository
            message = exc.response["Error"]["Message"]
            raise SimulatorError(f"ECR refused the push: {message}") from exc
        if crashing:
            self.state.crashing.add(digest)
        return repo, digest

    def announce_push(
        self, repository: str, tag: str | None, digest: str, *, crashing: bool = False
    ) -> Event:
        """Queue the push's ``ECR Image Action`` (no ``image-tag`` on a push by digest)."""
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
        )
        return event

    def announce_scan(
        self,
        repo: dict[str, Any],
        digest: str,
        tag: str | None,
        findings: dict[str, int],
        kind: str,
    ) -> Event:
        """Queue the image's scan result (``kind``: see :func:`scan_event`)."""
        event = scan_event(repo, digest, [tag] if tag else [], findings, kind)
        self.queue.put(
            event,
            label=f"{event['detail-type']} of {repo['repositoryName']}@{digest[:19]}...: "
            f"{counts_label(findings)}",
        )
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
