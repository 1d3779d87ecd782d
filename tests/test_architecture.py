"""The house's one-way flow: each room of granary/ imports only from itself and the rooms below it,
and no import cycle exists between modules (docs/architecture.md draws the same picture).

An AST walk over every module, function-level (lazy) imports included: a lazy import still makes
the room depend on the one it names.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "granary"
# Top to bottom: a room may import from the rooms after it, never from one before it.
ROOMS = (
    "cli",
    "admin",
    "stack",
    "superset",
    "generate",
    "pipeline",
    "serving",
    "province",
    "alerts",
    "lake",
    "catalog",
    "core",
)


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imports_of(path: Path, known: set[str]) -> set[str]:
    """The granary modules `path` imports (a `from pkg import name` of a submodule counts as it)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("granary")}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("granary"):
            subs = {f"{node.module}.{a.name}" for a in node.names}
            found |= (subs & known) or {node.module}
    return {m for m in found if m in known}


def room(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "granary"


def graph() -> dict[str, set[str]]:
    mods = modules()
    return {name: imports_of(path, set(mods)) for name, path in mods.items()}


def test_every_module_lives_in_a_room():
    homeless = [m for m in modules() if m != "granary" and room(m) not in ROOMS]
    assert homeless == [], f"modules outside the rooms {ROOMS}: {homeless}"


def test_imports_flow_down_only():
    rank = {name: i for i, name in enumerate(ROOMS)}
    against = sorted(
        f"{src} imports {dst}"
        for src, targets in graph().items()
        for dst in targets
        if room(src) in rank and room(dst) in rank and rank[room(dst)] < rank[room(src)]
    )
    assert against == [], "imports against the flow (" + " > ".join(ROOMS) + "):\n" + "\n".join(against)


def test_no_import_cycles():
    edges = graph()
    cycles: list[list[str]] = []
    state: dict[str, int] = {}  # 1 on the stack, 2 done
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append([*stack[stack.index(nxt) :], nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            visit(node)
    assert cycles == [], "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


@pytest.mark.parametrize("entry", ["granary.cli.launch", "granary.stack.wire"])
def test_the_entry_point_stays_standard_library_only(entry: str):
    """`granary` hands a task's command to the worker before importing anything heavy."""
    path = modules()[entry]
    heavy = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import | ast.ImportFrom) and node.col_offset == 0:
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            heavy |= {n for n in names if n.split(".")[0] not in ("__future__", "granary", *STDLIB)}
    assert heavy == set()


STDLIB = ("contextlib", "json", "os", "signal", "socket", "struct", "sys", "collections")
