"""The shape of the code, as a newcomer meets it: the import picture and the longest functions.

    .venv/bin/python benchmarks/code_shape.py [--json]

*Rooms* are the package's top-level modules and packages; an *arrow* is one room importing another
(function-level imports count, as for import-linter). Rooms that import each other, directly or
through others, form a knot: its arrows that close the loop are *upward arrows* (a lower floor
reaching back up). *Floors* are the levels of the room graph with knots collapsed: a room's floor
is one above the highest room it imports. A module is *outside the contract* when no layer of the
`[tool.importlinter]` layers contract in pyproject.toml names it or a package above it.
"""

from __future__ import annotations

import ast
import json
import re
import sys
from pathlib import Path

import grimp

REPO = Path(__file__).resolve().parents[1]
PACKAGE = "prefstudy"


def _room(module: str) -> str:
    parts = module.split(".")
    return ".".join(parts[:2]) if len(parts) > 1 else module


def _contract_layers() -> list[str]:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["importlinter"]
    layers = next(c for c in config["contracts"] if c["type"] == "layers")["layers"]
    return [name.strip() for layer in layers for name in re.split(r"[|:]", layer) if name.strip()]


def _strongly_connected(nodes: list[str], edges: dict[str, set[str]]) -> list[set[str]]:
    """Tarjan's algorithm (iterative enough for a few dozen rooms)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in sorted(edges.get(node, ())):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.add(member)
                if member == node:
                    break
            components.append(component)

    sys.setrecursionlimit(10_000)
    for node in nodes:
        if node not in index:
            visit(node)
    return components


def import_picture() -> dict:
    graph = grimp.build_graph(PACKAGE)
    modules = sorted(m for m in graph.modules if m != PACKAGE)
    rooms = sorted({_room(m) for m in modules})
    edges: dict[str, set[str]] = {r: set() for r in rooms}
    for module in modules:
        for imported in graph.find_modules_directly_imported_by(module):
            if imported.startswith(PACKAGE + ".") and _room(imported) != _room(module):
                edges[_room(module)].add(_room(imported))
    arrows = sum(len(v) for v in edges.values())
    components = _strongly_connected(rooms, edges)
    knot_of = {room: i for i, c in enumerate(components) for room in c}
    upward = sorted(f"{a} -> {b}" for a in rooms for b in edges[a] if knot_of[a] == knot_of[b])
    # Floors of the condensed graph: Tarjan lists components so that a component's imports come before it.
    floor: dict[int, int] = {}
    for i, component in enumerate(components):
        below = [floor[knot_of[b]] for a in component for b in edges[a] if knot_of[b] != i]
        floor[i] = 1 + max(below, default=0)
    layers = _contract_layers()
    outside = [m for m in modules if not any(m == name or m.startswith(name + ".") for name in layers)]
    return {
        "modules": len(modules),
        "rooms": len(rooms),
        "top_level_modules": sum(1 for r in rooms if not graph.find_children(r)),
        "arrows": arrows,
        "floors": max(floor.values(), default=0),
        "knots": [sorted(c) for c in components if len(c) > 1],
        "upward_arrows": upward,
        "contract_entries": len(layers),
        "outside_contract": outside,
    }


def longest_functions(top: int = 15) -> list[tuple[int, str]]:
    found = []
    for path in sorted((REPO / PACKAGE).rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = node.end_lineno - node.lineno + 1
                found.append((lines, f"{path.relative_to(REPO).as_posix()}:{node.lineno} {node.name}"))
    return sorted(found, reverse=True)[:top]


def main() -> None:
    picture = import_picture()
    functions = longest_functions()
    if "--json" in sys.argv:
        print(json.dumps({"imports": picture, "longest_functions": functions}, indent=2))
        return
    print(
        f"{picture['modules']} modules in {picture['rooms']} rooms ({picture['top_level_modules']} loose modules), "
        f"{picture['floors']} floors, {picture['arrows']} arrows, {len(picture['upward_arrows'])} upward arrows, "
        f"{len(picture['knots'])} knots"
    )
    for arrow in picture["upward_arrows"]:
        print(f"  upward: {arrow}")
    print(
        f"contract: {picture['contract_entries']} entries; "
        f"{len(picture['outside_contract'])} of {picture['modules']} modules outside it"
    )
    for module in picture["outside_contract"]:
        print(f"  outside: {module}")
    print("longest functions:")
    for lines, where in functions:
        print(f"  {lines:4d}  {where}")


if __name__ == "__main__":
    main()
