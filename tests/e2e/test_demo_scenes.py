"""The demo's scenes, as assertions: every reaction of the story happened."""

from __future__ import annotations

from typing import Any

import pytest

from sandbox.demo import SCENES


@pytest.mark.parametrize("index", range(len(SCENES)), ids=[s.title for s in SCENES])
def test_scene(demo_results: list[Any], index: int) -> None:
    result = demo_results[index]
    if result.skipped:
        pytest.skip(result.skipped)
    assert result.error is None, result.error
    missed = [f"{c.what} ({c.detail})" for c in result.checks if not c.ok]
    assert result.checks, "the scene checked nothing"
    assert not missed, missed


def test_timeline_tells_the_story(demo_results: list[Any], sandbox: Any) -> None:
    kinds = [e.kind for e in sandbox.timeline.entries]
    assert kinds.count("scene") >= len(SCENES)
    # Every scene's reaction is on the timeline: a handler ran for each stimulus
    assert "route" in kinds
    assert "miss" not in kinds
