"""The package's shape: no import cycles (lazy imports inside functions count too), every module's first
line says its job, and the README's module table lists exactly the modules there are."""

from __future__ import annotations

import ast
import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "nststudy"
README = PACKAGE.parent / "README.md"


def modules() -> dict[str, Path]:
    return {p.stem: p for p in sorted(PACKAGE.glob("*.py")) if p.stem not in ("__init__", "__main__")}


def imports_of(path: Path) -> set[str]:
    """Modules of the package that ``path`` imports anywhere (top level or inside a function)."""
    names = set(modules())
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level == 1 and node.module:  # from .x import y
                found.add(node.module.split(".")[0])
            elif node.level == 1:  # from . import x, y
                found.update(a.name for a in node.names)
            elif node.module and node.module.startswith("nststudy."):
                found.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            found.update(a.name.split(".")[1] for a in node.names if a.name.startswith("nststudy."))
    return (found & names) - {path.stem}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """A cycle in ``graph`` as a list of names (first == last), or None (depth-first search)."""
    state, stack = {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                cycle = visit(nxt)
                if cycle:
                    return cycle
        state[node] = "done"
        stack.pop()
        return None

    for node in sorted(graph):
        if node not in state:
            cycle = visit(node)
            if cycle:
                return cycle
    return None


def test_find_cycle_finds_a_known_cycle_and_accepts_a_tree():
    """The checker itself: the cycle the package once had (sweeps -> report -> study_text -> sweeps) is
    found; a one-way chain is not a cycle."""
    assert find_cycle({"sweeps": {"report"}, "report": {"study_text"}, "study_text": {"sweeps"}}) == [
        "report", "study_text", "sweeps", "report"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


def test_the_package_has_no_import_cycle():
    graph = {name: imports_of(path) for name, path in modules().items()}
    assert graph["report"] >= {"sweeps", "runs"}  # the walk sees real imports
    cycle = find_cycle(graph)
    assert cycle is None, f"import cycle: {' -> '.join(cycle)}"


def test_every_module_states_its_job_in_its_first_line():
    for name, path in modules().items():
        doc = ast.get_docstring(ast.parse(path.read_text()))
        assert doc and len(doc.splitlines()[0]) > 10, f"nststudy/{name}.py has no one-line docstring"


def test_readme_module_table_lists_exactly_the_modules():
    text = README.read_text()
    table = text.split("## The pieces", 1)[1].split("| module | holds |", 1)[1].split("\n\n", 1)[0]
    listed = set()
    for line in table.splitlines():
        if line.startswith("| `"):
            listed.update(re.findall(r"`(\w+)`", line.split("|")[1]))
    assert listed == set(modules()), (f"README 'The pieces' lists {sorted(listed - set(modules()))} that do not "
                                      f"exist and misses {sorted(set(modules()) - listed)}")
