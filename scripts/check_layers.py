"""Check that imports between Viora's packages point one way, and that there is no import cycle.

The layers, top to bottom (a module may import its own layer and the layers below it, never above)::

    app        viora/ (runtime wiring, CLI, server, load tester, client), bench/
    edges      edges/ (websocket request handlers and connection loop, HTTP routes)
    services   services/ (accounts, social, messaging, intelligence, durable streams)
    actors     actors/session, actors/feed, actors/media, actors/embedder
    foundation stores/, ml/, protocol/
    kernel     kernel/ (settings, errors, loop probe), supervisor.py, actors/actor.py

Every import counts — at module level, inside functions, and under ``if TYPE_CHECKING:`` — so a
type-only cycle is reported like a run-time one. Run ``python scripts/check_layers.py``; it prints
each offending import and exits 1, or prints a one-line summary and exits 0.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("app", ("viora", "bench")),
    ("edges", ("edges",)),
    ("services", ("services",)),
    ("actors", ("actors.session", "actors.feed", "actors.media", "actors.embedder")),
    ("foundation", ("stores", "ml", "protocol")),
    ("kernel", ("kernel", "supervisor", "actors.actor", "actors")),
)
"""Module prefixes of each layer, highest first; a module belongs to its longest matching prefix."""

SOURCES = ("viora", "bench", "edges", "services", "actors", "stores", "ml", "protocol", "kernel", "supervisor.py")


@dataclass(frozen=True)
class Import:
    source: str
    target: str
    line: int


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def source_files() -> Iterator[Path]:
    for entry in SOURCES:
        path = ROOT / entry
        if path.is_file():
            yield path
        else:
            yield from sorted(path.rglob("*.py"))


def layer_of(module: str) -> int | None:
    """Index of ``module``'s layer in :data:`LAYERS` (0 is the top), or None for outside code."""
    best: tuple[int, int] | None = None  # (prefix length, layer index)
    for index, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and (best is None or len(prefix) > best[0]):
                best = (len(prefix), index)
    return None if best is None else best[1]


def imports_of(path: Path, module: str, known: set[str]) -> Iterator[Import]:
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if layer_of(alias.name) is not None:
                    yield Import(module, alias.name, node.lineno)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = module.split(".") if is_package else module.split(".")[:-1]
                package = package[: len(package) - node.level + 1]
                base = ".".join([*package, base] if base else package)
            if layer_of(base) is None:
                continue
            for alias in node.names:  # ``from pkg import submodule`` depends on the submodule
                candidate = f"{base}.{alias.name}"
                yield Import(module, candidate if candidate in known else base, node.lineno)


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), each a cycle to report."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in edges.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1 or node in edges.get(node, ()):
                found.append(sorted(component))

    sys.setrecursionlimit(10_000)
    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def main() -> int:
    files = {module_name(path): path for path in source_files()}
    known = set(files)
    graph: dict[str, set[str]] = {}
    problems: list[str] = []
    count = 0
    for module, path in files.items():
        for imp in imports_of(path, module, known):
            target = imp.target if imp.target in known else imp.target.rsplit(".", 1)[0]
            if target == module:
                continue
            count += 1
            graph.setdefault(module, set()).add(target)
            source_layer, target_layer = layer_of(module), layer_of(target)
            assert source_layer is not None and target_layer is not None
            if target_layer < source_layer:
                problems.append(
                    f"{path.relative_to(ROOT)}:{imp.line}: {module} ({LAYERS[source_layer][0]}) imports"
                    f" {target} ({LAYERS[target_layer][0]}), a higher layer"
                )
    for component in cycles(graph):
        problems.append("import cycle: " + " <-> ".join(component))
    for problem in problems:
        print(problem)
    if problems:
        return 1
    print(f"layers: {count} imports among {len(files)} modules point downward; no cycles")
    return 0


if __name__ == "__main__":
    sys.exit(main())
