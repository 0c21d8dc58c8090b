"""The import rules of docs/architecture.md, checked on the source: layers and no cycles.

Every ``import`` in ``src/minewatch`` is read from the syntax tree (module level and inside
functions alike; imports under ``if TYPE_CHECKING:`` only name types and are left out).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = "minewatch"

#: Leaf modules every layer may import; they import nothing of minewatch but each other.
LEAVES = {"minewatch", "minewatch.errors", "minewatch.atomic", "minewatch.dates", "minewatch.jsonable",
          "minewatch.geotiff"}
#: For each layer (a package prefix), the layers it must never import.
FORBIDDEN = {
    "minewatch.imagery": ("run", "cli", "api", "web", "registry", "reports", "evidence", "demo", "testing",
                          "evaluation", "warmup", "analysis", "notify", "monitor"),
    "minewatch.analysis": ("run", "cli", "api", "web", "registry", "reports", "evidence", "demo", "testing",
                           "evaluation", "warmup", "notify", "monitor"),
    "minewatch.reports": ("run", "cli", "api", "web", "registry", "evidence", "demo", "testing", "warmup"),
    "minewatch.evidence": ("run", "cli", "api", "web", "registry", "demo", "testing", "warmup"),
    "minewatch.registry": ("run", "cli", "api", "web", "reports", "evidence", "imagery", "demo", "testing",
                           "warmup"),
    "minewatch.notify": ("run", "cli", "api", "web", "reports", "evidence", "imagery", "analysis",
                         "demo", "testing", "evaluation", "warmup", "monitor"),
    "minewatch.run": ("cli", "api", "web", "demo", "testing"),
    "minewatch.demo": ("run", "cli", "api", "web", "registry", "evidence", "reports"),
}


def _modules() -> dict[str, Path]:
    out = {}
    for path in (SRC / PACKAGE).rglob("*.py"):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            for alias in node.names:
                found.add(alias.name)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parent + ([base] if base else []))
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                found.add(sub if sub in modules else base)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return {m for m in found if m == PACKAGE or m.startswith(PACKAGE + ".")}


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    modules = _modules()
    g = {}
    for name, path in modules.items():
        targets = set()
        for imp in _imports(name, path, modules):
            while imp not in modules and "." in imp:  # `import minewatch.x.y` of a name in a module
                imp = imp.rpartition(".")[0]
            if imp != name:
                targets.add(imp)
        g[name] = targets
    return g


def test_layers_import_only_what_they_may(graph):
    broken = []
    for name, targets in sorted(graph.items()):
        for layer, forbidden in FORBIDDEN.items():
            if name != layer and not name.startswith(layer + "."):
                continue
            for target in sorted(targets):
                for f in forbidden:
                    if target == f"{PACKAGE}.{f}" or target.startswith(f"{PACKAGE}.{f}."):
                        broken.append(f"{name} imports {target}")
    assert not broken, "layer rules broken (docs/architecture.md):\n" + "\n".join(broken)


def test_leaves_import_only_leaves(graph):
    broken = [f"{name} imports {t}" for name in LEAVES - {PACKAGE} for t in graph.get(name, ()) if t not in LEAVES]
    assert not broken, "\n".join(broken)


def test_no_import_cycles(graph):
    """Tarjan's strongly connected components: any component of more than one module is a cycle."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    counter = [0]

    def strongconnect(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                strongconnect(w)
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
                cycles.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            strongconnect(v)
    assert not cycles, "import cycles: " + "; ".join(" <-> ".join(c) for c in cycles)


def test_no_private_names_imported_across_packages():
    modules = _modules()
    broken = []
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(PACKAGE) \
                    and not node.level:
                source_pkg = node.module if node.module not in modules or \
                    modules[node.module].name == "__init__.py" else node.module.rpartition(".")[0]
                for alias in node.names:
                    private = alias.name.startswith("_") and not alias.name.startswith("__")
                    if private and source_pkg != package:
                        broken.append(f"{name}: from {node.module} import {alias.name}")
                    if node.module.rpartition(".")[2].startswith("_") and source_pkg != package \
                            and not node.module.rpartition(".")[2].startswith("__"):
                        broken.append(f"{name}: from {node.module} import {alias.name} (private module)")
    assert not broken, "\n".join(sorted(set(broken)))
