"""The import graph of every package, read from the source (imports inside functions
included): no circles, and arrows only go down.

- ``functions/`` (the Lambda asset) imports nothing of ``infra``, ``sandbox``, ``cli``,
  ``bench``, ``reliability`` or ``tests``; ``sandbox`` never imports the command line
  (``cli``), which drives it.
- Inside ``autopilot``: handlers -> flows -> the actor and the record (``execute``,
  ``record``) -> planners (``logic``) | stores (``store``) -> adapters (``aws``) -> value
  types (``domain``) and event models (``events``), and the models' validator
  (``schema``). A planner never imports a store or an adapter, an adapter or a store never
  imports a planner, and no handler imports another.
- The simulator's concerns import one way (deployments -> tasks -> capacity; the rest only
  the shared state, the event bus and the presentation).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = {
    "autopilot": ROOT / "functions" / "autopilot",
    "infra": ROOT / "infra",
    "sandbox": ROOT / "sandbox",
    "cli": ROOT / "cli",
    "bench": ROOT / "bench",
    "reliability": ROOT / "reliability",
}
#: autopilot's floors, top to bottom; a module imports only from its floor or below
FLOORS = {
    "handlers": 5,
    "flows": 4,
    "execute": 3,
    "record": 3,
    "logic": 2,
    "store": 2,
    "aws": 1,
    "domain": 0,
    "events": 0,
    "contract": 0,
    "errors": 0,
    "settings": 0,
    "schema": 0,
    "observability": 0,
}
#: pairs of autopilot parts on one floor that must not import each other
APART = {("logic", "store"), ("logic", "aws"), ("store", "logic"), ("aws", "logic")}


def _modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for package, base in PACKAGES.items():
        for path in base.rglob("*.py"):
            parts = path.relative_to(base).with_suffix("").parts
            inner = parts[:-1] if parts[-1] == "__init__" else parts
            found[".".join((package, *inner))] = path
    return found


MODULES = _modules()


def _resolve(name: str) -> str | None:
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def import_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {m: set() for m in MODULES}
    for module, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
            else:
                continue
            for name in names:
                if name.split(".")[0] not in (*PACKAGES, "tests"):
                    continue
                target = _resolve(name) or name
                if target != module and not module.startswith(target + "."):
                    graph[module].add(target)
    return graph


GRAPH = import_graph()


def circles(graph: dict[str, set[str]]) -> list[set[str]]:
    """The strongly connected groups of more than one module."""
    reach = {m: {n for n in graph[m] if n in graph} for m in graph}
    changed = True
    while changed:
        changed = False
        for reached in reach.values():
            more = set().union(*(reach[n] for n in reached)) - reached
            if more:
                reached.update(more)
                changed = True
    found: list[set[str]] = []
    for m in sorted(graph):
        group = {m} | {n for n in reach[m] if m in reach[n]}
        if len(group) > 1 and group not in found:
            found.append(group)
    return found


def _part(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == "autopilot" and len(parts) > 1 else None


def test_the_graph_is_read() -> None:
    assert "autopilot.flows.image" in GRAPH["autopilot.handlers.image_events"]
    assert "autopilot.domain.report" in GRAPH["autopilot.flows.image"]
    assert "sandbox.simulator.tasks" in GRAPH["sandbox.simulator.deployments"]


def test_no_import_circles() -> None:
    assert circles(GRAPH) == []


def test_a_circle_would_be_found() -> None:
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [{"a", "b", "c"}]


def test_the_lambda_asset_imports_only_itself() -> None:
    outside = {
        (module, target)
        for module, targets in GRAPH.items()
        if module.startswith("autopilot")
        for target in targets
        if not target.startswith("autopilot")
    }
    assert outside == set()


def test_the_sandbox_never_imports_the_command_line() -> None:
    upward = {
        (module, target)
        for module, targets in GRAPH.items()
        if module.startswith("sandbox")
        for target in targets
        if target.startswith("cli")
    }
    assert upward == set()


@pytest.mark.parametrize("module", sorted(m for m in GRAPH if _part(m)))
def test_arrows_only_go_down(module: str) -> None:
    part = _part(module)
    assert part in FLOORS, f"{module}: a part of autopilot with no floor"
    wrong = []
    for target in GRAPH[module]:
        other = _part(target)
        if other is None:
            continue
        upward = FLOORS[other] > FLOORS[part] or (part, other) in APART
        if upward or (part == other == "handlers" and target != "autopilot.handlers"):
            wrong.append(target)
    assert wrong == []


def test_the_simulators_concerns_import_one_way() -> None:
    sim = "sandbox.simulator."

    def concerns(module: str) -> set[str]:
        return {m.removeprefix(sim) for m in GRAPH[sim + module] if m.startswith(sim)}

    below = {"state", "bus", "presentation"}
    assert concerns("presentation") == set()
    assert concerns("bus") == {"presentation"}
    assert concerns("state") <= {"bus"}
    for leaf in ("capacity", "registry", "alarms"):
        assert concerns(leaf) <= below, leaf
    assert concerns("tasks") <= below | {"capacity"}
    assert concerns("deployments") <= below | {"tasks"}
    assert concerns("delivery") <= below | {"deployments", "tasks"}
