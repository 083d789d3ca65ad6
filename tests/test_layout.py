"""The shape of the code: llmkit's modules import each other without cycles, and only a method's own file
asks for that method by name."""

from __future__ import annotations

import ast
from pathlib import Path

import llmkit

PACKAGE = Path(llmkit.__file__).parent


def _modules() -> dict[str, Path]:
    modules = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def _imports(module: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """Every llmkit module `module` imports, at the top or inside a function (both are dependencies)."""

    def known(name: str) -> str | None:
        while name and name not in modules:  # `from llmkit.x import name`: name may be a function, not a module
            name = name.rpartition(".")[0]
        return name or None

    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str | None] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {known(a.name) for a in node.names if a.name.startswith("llmkit")}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parent + ([base] if base else []))
            if base.startswith("llmkit"):
                found |= {known(f"{base}.{a.name}") for a in node.names}
    return {m for m in found if m and m != module}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while not component or component[-1] != v:
                component.append(stack.pop())
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    return cycles


def test_no_import_cycles_between_llmkit_modules():
    modules = _modules()
    graph = {m: _imports(m, p, modules) for m, p in modules.items()}
    assert len(graph) > 100 and graph["llmkit.cli"]  # the scan sees the package
    assert _cycles(graph) == []


def test_the_cycle_check_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def _names_a_method(node: ast.AST) -> bool:
    """`method`, `cfg.method`, `manifest.method`, `method.name`: an expression that holds a method's name."""
    if isinstance(node, ast.Name):
        return node.id in ("method", "method_name")
    if isinstance(node, ast.Attribute):
        return node.attr == "method" or (node.attr == "name" and _names_a_method(node.value))
    return False


def test_only_a_method_file_compares_with_its_name():
    from llmkit.tuning.methods import METHODS

    offenders = []
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            operands = [node.left, *node.comparators] if isinstance(node, ast.Compare) else []
            if not any(_names_a_method(o) for o in operands):
                continue
            for operand in operands:
                values = list(operand.elts) if isinstance(operand, (ast.Tuple, ast.List, ast.Set)) else [operand]
                offenders += [f"{path.relative_to(PACKAGE)}:{node.lineno} compares a method with {v.value!r}"
                              for v in values if isinstance(v, ast.Constant) and v.value in METHODS
                              and path.stem != str(v.value).replace("-", "_")]
    assert offenders == []


def test_the_name_check_sees_a_comparison():
    tree = ast.parse('if cfg.method == "adalora": pass')
    assert _names_a_method(next(n for n in ast.walk(tree) if isinstance(n, ast.Compare)).left)
