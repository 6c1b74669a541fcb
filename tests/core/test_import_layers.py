"""Imports flow one way between patlink's subpackages: data -> (graph, retrieval, models, hydrate, ...) -> training
-> evaluation -> cli.

Every ``import`` / ``from ... import`` in src/patlink is read with :mod:`ast`, at module level AND inside functions
(a function-local import hides a dependency from import time, not from the design), and grouped by subpackage
(``patlink.data.registry`` -> ``data``; top-level modules such as ``patlink.config`` are their own group). The
tests fail on a package-level import cycle and on an import from a lower layer into a higher one.

Run it as a script to print the package graph and its cycles: ``python tests/core/test_import_layers.py``.
"""

from __future__ import annotations

import ast
import sys
from collections import defaultdict
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "patlink"

#: Layers, lowest first. A group may import groups of its own layer (if that makes no cycle) and of lower layers.
LAYERS: list[tuple[str, ...]] = [
    ("config", "io", "http", "devices"),                               # foundations: import nothing of patlink
    ("data",),                                                         # datasets, numbers, VPM parsing, BEIR
    ("graph", "retrieval", "models", "hydrate", "losses", "methods"),  # methods and models over data
    ("training", "classify", "pipeline", "export"),
    ("evaluation",),
    ("bench", "linking", "index"),                                     # linking files; saved indexes
    ("review",),                                                       # decisions, the review workbench
    ("serve",),                                                        # the workbench over HTTP
    ("cli", "patlink"),  # ``patlink`` = the package's own __init__, the public facade
]

#: Package-level cycles tolerated, each given by its upward edge (lower layer -> higher layer): none since the
#: method layer moved into patlink.methods (evaluation <-> retrieval) and EncoderConfig into the models layer
#: (models <-> training). Any cycle fails.
ALLOWED_CYCLES: dict[tuple[str, str], str] = {}

#: Known upward imports that make no cycle: none (the evaluation pools moved to patlink.data.pools, the trainer's
#: validation metrics to patlink.retrieval.measures). Any upward import fails.
KNOWN_UPWARD: set[tuple[str, str]] = set(ALLOWED_CYCLES)


def _module_name(path: Path, src: Path = SRC) -> str:
    parts = list(path.relative_to(src.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _group(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "patlink"


def import_edges(src: Path = SRC) -> dict[tuple[str, str], list[str]]:
    """``(group, imported group)`` -> ``["module:line", ...]`` for every import between different groups.

    Function-local imports are marked ``(local)``. Relative imports are resolved against the importing module.
    """
    edges: dict[tuple[str, str], list[str]] = defaultdict(list)
    for path in sorted(src.rglob("*.py")):
        module = _module_name(path, src)
        package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        top = {id(node) for node in tree.body}
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - node.level + 1]
                    target = ".".join(base + ([node.module] if node.module else []))
                else:
                    target = node.module or ""
                # ``from patlink import config`` imports patlink.config; ``from patlink.data import x`` is data
                targets = [f"{target}.{a.name}" for a in node.names] if target == "patlink" else [target]
            else:
                continue
            for target in targets:
                if target != "patlink" and not target.startswith("patlink."):
                    continue
                a, b = _group(module), _group(target)
                if a != b:
                    edges[(a, b)].append(f"{module}:{node.lineno}" + ("" if id(node) in top else " (local)"))
    return dict(edges)


def package_cycles(edges) -> list[list[str]]:
    """Strongly connected components with more than one group (Tarjan), each sorted."""
    graph: dict[str, set[str]] = defaultdict(set)
    for a, b in edges:
        graph[a].add(b)
        graph.setdefault(b, set())
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(out)


def _rank() -> dict[str, int]:
    return {g: i for i, layer in enumerate(LAYERS) for g in layer}


def test_every_group_has_a_layer():
    groups = {g for e in import_edges() for g in e} | {_group(_module_name(p, SRC)) for p in SRC.rglob("*.py")}
    missing = sorted(groups - set(_rank()))
    assert not missing, f"subpackages/modules without a layer: {missing}; add them to LAYERS in {__file__}"


def test_no_new_package_cycles():
    edges = import_edges()
    kept = {e: w for e, w in edges.items() if e not in ALLOWED_CYCLES}
    cycles = package_cycles(kept)
    detail = {" <-> ".join(c): {f"{a} -> {b}": kept[(a, b)] for (a, b) in kept if a in c and b in c}
              for c in cycles}
    assert not cycles, f"package-level import cycles: {detail}"


def test_imports_only_go_down_the_layers():
    rank, edges = _rank(), import_edges()
    upward = {(a, b): where for (a, b), where in edges.items()
              if a in rank and b in rank and rank[a] < rank[b] and (a, b) not in KNOWN_UPWARD}
    assert not upward, ("imports from a lower layer into a higher one (move the code to the layer it belongs to; "
                        f"layers: {LAYERS}): {upward}")


def test_config_data_and_hydrate_stay_below_their_users():
    """The cycles config <-> models and data <-> hydrate are gone and must not come back."""
    edges = import_edges()
    for a, b in [("config", "models"), ("data", "hydrate"), ("data", "graph")]:
        assert (a, b) not in edges, f"{a} imports {b}: {edges[(a, b)]}"
    assert not [b for (a, b) in edges if a == "config"], "patlink.config must import nothing of patlink"


def test_the_scanner_sees_local_relative_and_from_package_imports(tmp_path):
    pkg = tmp_path / "patlink"
    (pkg / "data").mkdir(parents=True)
    (pkg / "cli").mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "data" / "__init__.py").write_text("from .registry import x\n")
    (pkg / "data" / "registry.py").write_text("def f():\n    from patlink.hydrate.store import s\n")
    (pkg / "cli" / "__init__.py").write_text("from patlink import data\nfrom ..graph import split\n")
    edges = import_edges(pkg)
    assert edges[("data", "hydrate")] == ["patlink.data.registry:2 (local)"]
    assert edges[("cli", "data")] == ["patlink.cli:1"] and edges[("cli", "graph")] == ["patlink.cli:2"]
    assert ("data", "data") not in edges
    assert package_cycles({("a", "b"): [], ("b", "c"): [], ("c", "a"): [], ("c", "d"): []}) == [["a", "b", "c"]]


if __name__ == "__main__":  # print the package graph and its cycles
    found = import_edges()
    for cycle in package_cycles(found):
        print("CYCLE", " <-> ".join(cycle))
        for (a, b), where in sorted(found.items()):
            if a in cycle and b in cycle:
                print(f"    {a} -> {b}: {', '.join(where)}")
    if "-v" in sys.argv:
        for (a, b), where in sorted(found.items()):
            print(f"{a} -> {b} ({len(where)})")
