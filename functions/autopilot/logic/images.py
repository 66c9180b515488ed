"""Image references: parse ``registry/repo:tag`` and ``registry/repo@sha256:...``; build pins."""

from __future__ import annotations

import re
from typing import NamedTuple

_REF = re.compile(
    r"^(?:(?P<registry>[^/]+\.[^/]+|localhost(?::\d+)?)/)?(?P<repo>[^:@]+?)"
    r"(?::(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}))?(?:@(?P<digest>[a-z0-9]+:[a-f0-9]{32,128}))?$"
)


class ImageRef(NamedTuple):
    registry: str | None
    repository: str
    tag: str | None = None
    digest: str | None = None

    def pinned(self, digest: str) -> str:
        """The same image pinned to ``digest`` (any tag dropped)."""
        prefix = f"{self.registry}/" if self.registry else ""
        return f"{prefix}{self.repository}@{digest}"


def parse_image(image: str) -> ImageRef | None:
    match = _REF.match(image.strip())
    if match is None:
        return None
    return ImageRef(
        match.group("registry"), match.group("repo"), match.group("tag"), match.group("digest")
    )


def ecr_registry(account: str, region: str) -> str:
    suffix = "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
    return f"{account}.dkr.ecr.{region}.{suffix}"
