"""The units of ``restorelab`` (subpackages and top-level modules) import each other as a DAG.

Every ``import`` statement counts, at module level or inside a function: a lazy import is still a
dependency. A file ``restorelab/<pkg>/...`` belongs to unit ``<pkg>``, a file ``restorelab/<mod>.py``
to unit ``<mod>`` (the package's own ``__init__.py`` to ``restorelab``, which may import anything
and is left out of the graph).
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from typing import Dict, List, Set, Tuple

PKG = "restorelab"
ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", PKG))

# unit -> {unit: [(file, line), ...]}
Graph = Dict[str, Dict[str, List[Tuple[str, int]]]]


def _unit_of_file(rel: str) -> str:
    """``data/folders.py`` -> ``data``; ``cli.py`` -> ``cli``; ``__init__.py`` -> ``restorelab``."""
    parts = rel.replace(os.sep, "/").split("/")
    if len(parts) > 1:
        return parts[0]
    mod = parts[0][: -len(".py")]
    return PKG if mod == "__init__" else mod


def _package_of_file(rel: str) -> List[str]:
    """Dotted package a file's relative imports are resolved against."""
    parts = [PKG] + rel.replace(os.sep, "/").split("/")
    return parts[:-1]


def _unit_of_module(dotted: str) -> str | None:
    """``restorelab.data.folders`` -> ``data``; ``restorelab`` -> ``restorelab``; else None."""
    parts = dotted.split(".")
    if parts[0] != PKG:
        return None
    return parts[1] if len(parts) > 1 else PKG


def _targets(node: ast.AST, rel: str) -> List[str]:
    """Units one import statement depends on."""
    out: List[str] = []
    if isinstance(node, ast.Import):
        for alias in node.names:
            u = _unit_of_module(alias.name)
            if u is not None:
                out.append(u)
    elif isinstance(node, ast.ImportFrom):
        if node.level:
            base = _package_of_file(rel)
            base = base[: len(base) - (node.level - 1)]
            module = ".".join(base + ([node.module] if node.module else []))
        else:
            module = node.module or ""
        u = _unit_of_module(module)
        if u == PKG:  # ``from restorelab import io, data`` -> the named units
            out.extend(alias.name for alias in node.names)
        elif u is not None:
            out.append(u)
    return out


def import_graph(root: str = ROOT) -> Graph:
    """Unit -> unit edges of the package at ``root``, each with the (file, line) it comes from."""
    graph: Graph = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
        for name in sorted(filenames):
            if not name.endswith(".py"):
                continue
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, root)
            src = _unit_of_file(rel)
            with open(path, encoding="utf-8") as f:
                tree = ast.parse(f.read(), filename=path)
            graph.setdefault(src, {})
            for node in ast.walk(tree):
                for dst in _targets(node, rel):
                    if dst in (src, PKG) or src == PKG:
                        continue
                    graph[src].setdefault(dst, []).append((f"{PKG}/{rel}", node.lineno))
    return graph


def find_cycles(graph: Graph) -> List[List[str]]:
    """The non-trivial strongly connected components of ``graph``, each as a sorted unit list
    (Tarjan). Empty iff the graph is a DAG."""
    nodes: Set[str] = set(graph) | {d for edges in graph.values() for d in edges}
    index: Dict[str, int] = {}
    low: Dict[str, int] = {}
    stack: List[str] = []
    on_stack: Set[str] = set()
    sccs: List[List[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, {})):
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
            if len(comp) > 1 or v in graph.get(v, {}):
                sccs.append(sorted(comp))

    for v in sorted(nodes):
        if v not in index:
            visit(v)
    return sorted(sccs)


def describe_cycles(graph: Graph, cycles: List[List[str]]) -> str:
    """Readable report: each cycle's units and every edge inside it with file:line."""
    lines = []
    for comp in cycles:
        members = set(comp)
        lines.append("cycle among: " + ", ".join(comp))
        for src in comp:
            for dst in sorted(graph.get(src, {})):
                if dst in members:
                    where = ", ".join(f"{f}:{n}" for f, n in graph[src][dst])
                    lines.append(f"  {src} -> {dst}: {where}")
    return "\n".join(lines)


def test_units_form_a_dag():
    graph = import_graph()
    assert {"data", "degradations", "inference", "lottery", "training", "grids", "cli"} <= set(graph)
    assert "degradations" in graph["data"]  # the scan really sees imports (also lazy ones)
    cycles = find_cycles(graph)
    assert not cycles, "restorelab's packages import each other in a cycle:\n" + describe_cycles(graph, cycles)


def test_cycle_detection_is_not_vacuous():
    fake: Graph = {
        "a": {"b": [("restorelab/a/x.py", 3)]},
        "b": {"c": [("restorelab/b/y.py", 7)]},
        "c": {"a": [("restorelab/c/z.py", 11)], "d": [("restorelab/c/z.py", 12)]},
        "d": {},
        "e": {"e": [("restorelab/e.py", 1)]},
    }
    cycles = find_cycles(fake)
    assert cycles == [["a", "b", "c"], ["e"]]
    text = describe_cycles(fake, cycles)
    assert "a -> b: restorelab/a/x.py:3" in text and "c -> a: restorelab/c/z.py:11" in text
    assert "c -> d" not in text
    del fake["c"]["a"]
    del fake["e"]["e"]
    assert find_cycles(fake) == []


def test_import_forms_are_all_seen(tmp_path):
    pkg = tmp_path / PKG
    (pkg / "a").mkdir(parents=True)
    (pkg / "__init__.py").write_text("from restorelab import a\n")
    (pkg / "a" / "__init__.py").write_text("import restorelab.b.x\n")
    (pkg / "a" / "m.py").write_text("def f():\n    from restorelab import c, d\n    from ..e import y\n")
    (pkg / "b").mkdir()
    (pkg / "b" / "__init__.py").write_text("from restorelab.a.m import f\n")
    (pkg / "c.py").write_text("import numpy\n")
    (pkg / "d.py").write_text("from . import c\n")
    (pkg / "e").mkdir()
    (pkg / "e" / "y.py").write_text("")
    g = import_graph(str(pkg))
    assert {k: sorted(v) for k, v in g.items() if v} == {"a": ["b", "c", "d", "e"], "b": ["a"], "d": ["c"]}
    assert g["a"]["c"] == [(f"{PKG}/a/m.py", 2)]
    assert find_cycles(g) == [["a", "b"]]


def test_degradation_registry_does_not_depend_on_import_order():
    """``degradations.names()`` is the full set whether or not ``restorelab.grids`` was imported."""
    code = (
        "import sys\n"
        "from restorelab import degradations as D\n"
        "before = D.names()\n"
        "import restorelab.grids\n"
        "after = D.names()\n"
        "assert before == after, (before, after)\n"
        "print(','.join(before))\n"
    )
    root = os.path.dirname(ROOT)
    env = dict(os.environ, PYTHONPATH=root + os.pathsep + os.environ.get("PYTHONPATH", ""))
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=root, env=env,
                       timeout=300)
    assert r.returncode == 0, r.stderr
    names = set(r.stdout.strip().split(","))
    grids_names = {"gaussian_blur", "motion_blur", "richardson_lucy", "sr", "ringing", "defocus_blur",
                   "poisson_noise", "inpainting", "salt_pepper"}
    core = {"camera_noise", "color_noise", "downpour", "gaussian_noise", "haze", "heavy_rain", "jpeg", "mild",
            "noise_jpeg", "rain", "web_jpeg"}
    assert names == core | grids_names
