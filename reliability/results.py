"""What every phase's result shares."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


class Summarized:
    """A result whose ``summary()`` is its fields, lists replaced by their length (the
    lists themselves go to the report's details)."""

    def summary(self) -> dict[str, Any]:
        return {k: (len(v) if isinstance(v, list) else v) for k, v in self.__dict__.items()}


@dataclass
class DeployChecks(Summarized):
    """The findings a stream phase (replay, lost events) makes of what was deployed, each
    a list of readable lines; ``ok`` when there are none."""

    backward: list[str] = field(default_factory=list)
    blocked_deploys: list[str] = field(default_factory=list)
    duplicate_deploys: list[str] = field(default_factory=list)
    wrong_final: list[str] = field(default_factory=list)
    failed_routes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (
            self.backward
            or self.blocked_deploys
            or self.duplicate_deploys
            or self.wrong_final
            or self.failed_routes
        )
