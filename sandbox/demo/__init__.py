"""`autopilot demo`: the whole event loop offline, told as a timeline of scenes.

The scene framework (:class:`Check`, :class:`DemoContext`, the route helpers) is in
``framework.py``; the scenes are in one module per theme, each with its ``SCENES`` in story
order: ``images`` (deploy, block, roll back, duplicates), ``zones`` (zone balance),
``capacity`` (alarms, Fargate Spot), ``approval`` (the operator's manual approval),
``delivery`` (ECS's own delivery on a staged service the theme makes: a canary rolled back
by its alarm, a manual-traffic approval at a pause hook, a deploy outside autopilot refused
by the admission hook) and ``brownfield`` (a cluster made outside the app, adopted: told
when the sandbox holds one and the control plane manages it, else skipped with the reason).
:data:`SCENES` is the whole story; :func:`run_scenes` tells it.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from sandbox.demo import approval, brownfield, capacity, delivery, images, zones
from sandbox.demo.framework import Check, DemoContext, Scene, SceneResult, Skipped, outcomes

#: the story, in order: each theme's scenes, themes in this order
SCENES: list[type[Scene]] = [
    *images.SCENES,
    *zones.SCENES,
    *capacity.SCENES,
    *approval.SCENES,
    *delivery.SCENES,
    *brownfield.SCENES,
]


def run_scenes(
    ctx: DemoContext,
    scenes: list[type[Scene]] | None = None,
    on_scene: Callable[[str], None] | None = None,
) -> list[SceneResult]:
    results = []
    for i, cls in enumerate(scenes or SCENES, 1):
        scene = cls()
        ctx.sandbox.timeline.add("scene", f"Scene {i}: {scene.title}")
        if on_scene:
            on_scene(scene.title)
        t0 = time.perf_counter()
        skipped = None
        try:
            checks = scene.run(ctx)
            error = None
        except Skipped as why:
            checks, error, skipped = [], None, str(why)
            ctx.sandbox.timeline.add("note", f"skipped: {skipped}")
        except Exception as exc:
            checks, error = [], f"{type(exc).__name__}: {exc}"
        result = SceneResult(scene.title, checks, time.perf_counter() - t0, error, skipped)
        for c in checks:
            ctx.sandbox.timeline.add(
                "check" if c.ok else "miss",
                c.what + ("" if c.ok or not c.detail else f" ({c.detail})"),
            )
        if error:
            ctx.sandbox.timeline.add("miss", f"the scene broke: {error}")
        results.append(result)
    return results


__all__ = ["SCENES", "Check", "DemoContext", "SceneResult", "Skipped", "outcomes", "run_scenes"]
