"""Figures of viba's module graph (issue 24's measure): modules, import arrows, circles, levels,
and imports of viba hidden inside function bodies.

    python bench/layout.py [FOLDER]     # FOLDER holds a viba/ package (default: this checkout)

A circle is a set of modules that import one another round (a strongly connected component
of more than one module); levels are the longest chain of imports once each circle is taken
as one node. The imports are read by grimp (import-linter's graph), without running the code.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(sys.argv[1]).resolve() if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT)]

import grimp


def function_imports(module: ast.Module) -> int:
    """How many imports of viba stand inside function bodies (tests/test_layout.py asserts
    none do; this counts them in any checkout)."""
    return sum(
        1
        for fn in ast.walk(module)
        if isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef)
        for node in ast.walk(fn)
        if (isinstance(node, ast.ImportFrom) and (node.module or "").startswith("viba"))
        or (isinstance(node, ast.Import) and any(a.name.startswith("viba") for a in node.names))
    )


def circles(graph: dict[str, set[str]]) -> list[set[str]]:
    """Tarjan's strongly connected components (iterative), those of more than one module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[set[str]] = []
    counter = 0
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = set()
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.add(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(component)
    return found


def levels(graph: dict[str, set[str]], rings: list[set[str]]) -> int:
    """The longest import chain, each circle counted as one module."""
    rep = {m: min(ring) for ring in rings for m in ring}
    dag: dict[str, set[str]] = {}
    for m, targets in graph.items():
        a = rep.get(m, m)
        dag.setdefault(a, set())
        dag[a] |= {rep.get(t, t) for t in targets if rep.get(t, t) != a}
    depth: dict[str, int] = {}

    def deep(node: str) -> int:
        if node not in depth:
            depth[node] = 0  # a placeholder; the condensed graph has no cycles
            depth[node] = 1 + max((deep(t) for t in dag.get(node, ())), default=0)
        return depth[node]

    sys.setrecursionlimit(10_000)
    return max((deep(n) for n in dag), default=0)


def main() -> None:
    g = grimp.build_graph("viba", cache_dir=None)
    modules = sorted(g.modules)
    graph = {m: set(g.find_modules_directly_imported_by(m)) for m in modules}
    arrows = sum(len(t) for t in graph.values())
    rings = circles(graph)
    hidden = 0
    for path in sorted((ROOT / "viba").rglob("*.py")):
        hidden += function_imports(ast.parse(path.read_text(encoding="utf-8")))
    print(f"viba at {ROOT}")
    print(f"modules: {len(modules)} (packages counted as their __init__)")
    print(f"import arrows between them: {arrows}")
    print(f"levels (longest import chain): {levels(graph, rings)}")
    print(f"circles: {len(rings)}")
    for ring in rings:
        print("  " + " <-> ".join(sorted(ring)))
    print(f"imports of viba inside function bodies: {hidden}")


if __name__ == "__main__":
    main()
