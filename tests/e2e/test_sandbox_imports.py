"""sandbox/'s import graph, read from the source (imports inside functions included): no
module reaches back to one that imports it, and the simulator's concerns import one way."""

from __future__ import annotations

import ast
from pathlib import Path

from sandbox.synth import REPO_ROOT

#: sandbox/cli.py and sandbox/redrive.py import each other (redrive takes the CLI's exit
#: codes and printer; the CLI registers redrive's commands); both move to a CLI package
KNOWN_CIRCLES = [{"sandbox.cli", "sandbox.redrive"}]


def import_graph() -> dict[str, set[str]]:
    files: dict[str, Path] = {}
    for f in (REPO_ROOT / "sandbox").rglob("*.py"):
        parts = f.relative_to(REPO_ROOT).with_suffix("").parts
        files[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = f
    graph: dict[str, set[str]] = {m: set() for m in files}
    for module, f in files.items():
        for node in ast.walk(ast.parse(f.read_text())):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
            else:
                continue
            graph[module] |= {n for n in names if n in files and n != module}
    return graph


def circles(graph: dict[str, set[str]]) -> list[set[str]]:
    """The strongly connected groups of more than one module."""
    reach = {m: set(graph[m]) for m in graph}
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


def test_no_import_circles_in_sandbox() -> None:
    assert [c for c in circles(import_graph()) if c not in KNOWN_CIRCLES] == []


def test_the_simulators_concerns_import_one_way() -> None:
    graph = import_graph()
    sim = "sandbox.simulator."

    def concerns(module: str) -> set[str]:
        return {m.removeprefix(sim) for m in graph[sim + module] if m.startswith(sim)}

    below = {"state", "bus", "presentation"}
    assert concerns("presentation") == set()
    assert concerns("bus") == {"presentation"}
    assert concerns("state") <= {"bus"}
    for leaf in ("capacity", "registry", "alarms"):
        assert concerns(leaf) <= below, leaf
    assert concerns("tasks") <= below | {"capacity"}
    assert concerns("deployments") <= below | {"tasks"}
