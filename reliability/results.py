"""What every phase's result shares."""

from __future__ import annotations

from typing import Any


class Summarized:
    """A result whose ``summary()`` is its fields, lists replaced by their length (the
    lists themselves go to the report's details)."""

    def summary(self) -> dict[str, Any]:
        return {k: (len(v) if isinstance(v, list) else v) for k, v in self.__dict__.items()}
