"""The shape of the code (docs/ARCHITECTURE.md, "Rules of the house"), checked from the source.

The import graph of the hfcli package is built with `ast` from every .py file under hfcli/,
without importing anything: module-level and function-level imports, absolute and relative,
with `from . import x` resolving to the submodule x where there is one. Imports under
`if TYPE_CHECKING:` are left out: they never run, so they cannot close a cycle.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "hfcli"
MAX_LINES = 400


def module_files() -> dict[str, Path]:
    """Dotted module name → source file, for every module of the package."""
    modules = {}
    for path in sorted((ROOT / PACKAGE).rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def _is_package(name: str, modules: dict[str, Path]) -> bool:
    return modules[name].name == "__init__.py"


def _type_checking_only(tree: ast.AST) -> set[int]:
    """ids of import nodes inside `if TYPE_CHECKING:` (or `if typing.TYPE_CHECKING:`) blocks."""
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If):
            test = node.test
            name = test.id if isinstance(test, ast.Name) else test.attr if isinstance(test, ast.Attribute) else None
            if name == "TYPE_CHECKING":
                for child in node.body:
                    skipped.update(id(n) for n in ast.walk(child))
    return skipped


def _resolve(importer: str, node: ast.ImportFrom, modules: dict[str, Path]) -> str | None:
    """The absolute module a `from X import …` statement reads X from."""
    if node.level == 0:
        return node.module
    package = importer if _is_package(importer, modules) else importer.rpartition(".")[0]
    parts = package.split(".")
    if node.level - 1 > len(parts) - 1:
        return None  # beyond the top-level package: not ours
    base = parts[: len(parts) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _ours(name: str, modules: dict[str, Path]) -> str | None:
    """The innermost module of the package that `name` names (or lies in), else None."""
    while name:
        if name in modules:
            return name
        name = name.rpartition(".")[0]
    return None


def import_graph() -> dict[str, set[str]]:
    """module → the hfcli modules it imports, anywhere in its body."""
    modules = module_files()
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(), filename=str(path))
        skipped = _type_checking_only(tree)
        for node in ast.walk(tree):
            if id(node) in skipped:
                continue
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                source = _resolve(name, node, modules)
                if source is None:
                    continue
                for alias in node.names:
                    submodule = f"{source}.{alias.name}"
                    targets.append(submodule if submodule in modules else source)
            for target in targets:
                ours = _ours(target, modules) if target.split(".")[0] == PACKAGE else None
                if ours is not None and ours != name:
                    graph[name].add(ours)
    return graph


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle (a → b → … → a) per strongly connected component with more than one module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[set[str]] = []

    def strongconnect(v: str) -> None:  # Tarjan; the package is small enough for recursion
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                strongconnect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.add(w)
                if w == v:
                    break
            if len(component) > 1:
                components.append(component)

    for v in sorted(graph):
        if v not in index:
            strongconnect(v)

    cycles = []
    for component in components:
        start = min(component)
        # Breadth-first from start, inside the component, back to start: a shortest cycle.
        parent: dict[str, str] = {}
        frontier = [start]
        found = None
        while frontier and found is None:
            nxt = []
            for v in frontier:
                for w in sorted(graph[v] & component):
                    if w == start:
                        found = v
                        break
                    if w not in parent:
                        parent[w] = v
                        nxt.append(w)
                if found is not None:
                    break
            frontier = nxt
        path = [found]
        while path[-1] != start:
            path.append(parent[path[-1]])
        cycles.append(path[::-1] + [start])
    return cycles


def test_the_graph_sees_every_kind_of_import():
    """The parser itself: absolute, relative, `from . import x`, and imports inside functions."""
    graph = import_graph()
    assert "hfcli.bundled" in graph["hfcli.checkpoint"]  # from .bundled import resolve_model
    assert "hfcli.render.backend" in graph["hfcli.render.renderer"]  # from . import backend
    assert "hfcli.checkpoint" in graph["hfcli.model"]  # from . import checkpoint as ckpt_io
    assert "hfcli.studio.shapes" in graph["hfcli.evaluate"]  # inside a function
    assert "hfcli.render.renderer" in graph["hfcli.guidance.base"]  # from ..render.renderer import …


def test_no_import_cycle_among_hfcli_modules():
    cycles = find_cycles(import_graph())
    assert not cycles, "import cycles in hfcli:\n" + "\n".join("  " + " → ".join(c) for c in cycles)


def test_the_core_never_imports_the_cli():
    """The CLI calls the core, never the reverse."""
    graph = import_graph()
    offenders = sorted(
        f"{m} imports {t}"
        for m, targets in graph.items()
        # hfcli.__main__ is `python -m hfcli` (torchrun's entry): the CLI's own, like hfcli.cli.__main__
        if not (m in ("hfcli.cli", "hfcli.__main__") or m.startswith("hfcli.cli."))
        for t in targets
        if t == "hfcli.cli" or t.startswith("hfcli.cli.")
    )
    assert not offenders, offenders


def test_cited_documents_and_sections_exist():
    """Docstrings cite `docs/ARCHITECTURE.md, "Section"`: the file and the heading must exist, and
    so must every other .md file the code names."""
    here = Path(__file__).resolve()
    sources = [
        p
        for d in ("hfcli", "benchmarks", "tests")
        for p in (ROOT / d).rglob("*")
        if p.suffix in (".py", ".sh") and p.resolve() != here
    ]
    sources.append(ROOT / "README.md")
    headings = {
        line[3:].strip()
        for line in (ROOT / "docs" / "ARCHITECTURE.md").read_text().splitlines()
        if line.startswith("## ")
    }
    documents = {p.name for p in ROOT.rglob("*.md") if ".venv" not in p.parts and "node_modules" not in p.parts}
    problems = []
    for path in sources:
        text = path.read_text()
        where = path.relative_to(ROOT)
        for name in set(re.findall(r"\b[\w-]+\.md\b", text)) - documents:
            problems.append(f"{where} cites {name}, which is not in the repository")
        for section in re.findall(r"ARCHITECTURE\.md, [\"'](.+?)[\"']", text):
            if section not in headings:
                problems.append(f"{where} cites ARCHITECTURE.md, {section!r}: no such section")
    assert not problems, "\n".join(problems)


def test_no_module_is_over_the_line_limit():
    offenders = {
        str(path.relative_to(ROOT)): n
        for path in module_files().values()
        if (n := len(path.read_text().splitlines())) > MAX_LINES
    }
    assert not offenders, f"modules over {MAX_LINES} lines: {offenders}"
