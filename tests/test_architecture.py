"""The floor plan of docs/architecture.md, read from the source: every first-party import counts,
those inside functions too. (`lint-imports` in `make test` checks the layers themselves.)"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("base", "people", "access", "audit", "learning", "credentials", "bulk", "api", "web", "certdesk")
MAX_LOCAL_IMPORTS = 8


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


MODULES = _modules()


def _owner(name: str) -> str | None:
    """The first-party module an imported name lives in (``bulk.kinds.x.Y`` -> ``bulk.kinds.x``)."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _imports() -> tuple[dict[str, set[str]], list[tuple[str, int, str]]]:
    """module -> the first-party modules it imports; and the imports made inside a function."""
    graph: dict[str, set[str]] = defaultdict(set)
    local: list[tuple[str, int, str]] = []
    for module, path in MODULES.items():
        source = path.read_text()
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]

        def visit(node: ast.AST, in_function: bool, module: str = module, package: str = package) -> None:
            for child in ast.iter_child_nodes(node):
                names: list[str] = []
                if isinstance(child, ast.Import):
                    names = [alias.name for alias in child.names]
                elif isinstance(child, ast.ImportFrom):
                    if child.level:
                        base = package.split(".")[: len(package.split(".")) - child.level + 1]
                        prefix = ".".join(base + ([child.module] if child.module else []))
                    else:
                        prefix = child.module or ""
                    names = [prefix] + [f"{prefix}.{alias.name}" for alias in child.names]
                targets = {owner for owner in map(_owner, names) if owner and owner != module}
                graph[module] |= targets
                if targets and in_function:
                    local.append((module, child.lineno, ", ".join(sorted(targets))))
                visit(child, in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef))

        visit(ast.parse(source), False)
    return graph, local


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one node (Tarjan, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    nodes = set(graph) | {n for targets in graph.values() for n in targets}
    for start in sorted(nodes):
        if start in index:
            continue
        work = [(start, iter(sorted(graph.get(start, ()))))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


GRAPH, LOCAL = _imports()


def test_no_module_imports_itself_round_a_cycle():
    assert _cycles(GRAPH) == []


def test_no_two_apps_depend_on_each_other():
    apps: dict[str, set[str]] = defaultdict(set)
    for module, targets in GRAPH.items():
        for target in targets:
            if module.split(".")[0] != target.split(".")[0]:
                apps[module.split(".")[0]].add(target.split(".")[0])
    assert _cycles(apps) == []


def test_imports_inside_functions_are_few_and_each_says_why():
    assert len(LOCAL) <= MAX_LOCAL_IMPORTS, LOCAL
    for module, line, target in LOCAL:
        lines = MODULES[module].read_text().splitlines()
        above = lines[max(0, line - 4) : line - 1]
        assert any(text.strip().startswith("#") for text in above), (
            f"{module}:{line} imports {target} inside a function without a comment saying why"
        )


def test_the_checker_sees_a_cycle():
    """The checks above can fail: a made-up ring of three modules is one cycle."""
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []
