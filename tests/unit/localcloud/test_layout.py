"""`localcloud/` is laid out by idea: documented subpackages, and imports that go one way."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
PACKAGE = ROOT / "localcloud"
SUBPACKAGES = ("alarms", "deploy", "gateway", "insights", "metrics", "moto", "runtime", "sources")


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _runtime_imports(tree: ast.Module, module: str) -> Iterator[str]:
    """Every localcloud module imported when the code runs (not under `if TYPE_CHECKING:`)."""
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip.update(id(child) for child in ast.walk(node))
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [f"{node.module}.{alias.name}" for alias in node.names] + [node.module]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        yield from (name for name in names if name.split(".")[0] == "localcloud")


def _graph() -> dict[str, set[str]]:
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(), str(path))
        graph[name] = {dep for dep in _runtime_imports(tree, name) if dep in modules} - {name}
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for dep in sorted(graph.get(node, ())):
            if state.get(dep) == 1:
                return [*stack[stack.index(dep) :], dep]
            if dep not in state and (found := visit(dep)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def _package(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in SUBPACKAGES else "localcloud"


def test_no_module_import_cycle() -> None:
    assert _cycle(_graph()) is None


def test_no_subpackage_import_cycle() -> None:
    # The top level assembles the subpackages; they may use only its leaf modules.
    leaves = {"localcloud", "localcloud.errors", "localcloud.faults", "localcloud.interpreter"}
    packages: dict[str, set[str]] = {}
    for module, deps in _graph().items():
        if _package(module) == "localcloud":
            continue
        assembly = {dep for dep in deps if _package(dep) == "localcloud" and dep not in leaves}
        assert not assembly, f"{module} imports the top-level assembly: {sorted(assembly)}"
        edges = packages.setdefault(_package(module), set())
        edges.update(_package(dep) for dep in deps if _package(dep) not in {"localcloud"})
        edges.discard(_package(module))
    assert _cycle(packages) is None, packages


def test_the_cycle_finder_finds_one() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


@pytest.mark.parametrize("name", SUBPACKAGES)
def test_each_subpackage_says_what_it_is(name: str) -> None:
    init = PACKAGE / name / "__init__.py"
    docstring = ast.get_docstring(ast.parse(init.read_text()))
    assert docstring, f"{init} has no docstring"
    assert len(docstring.splitlines()) >= 2


def test_the_top_level_holds_only_the_assembly() -> None:
    top = sorted(p.stem for p in PACKAGE.glob("*.py"))
    assert top == [
        "__init__",
        "__main__",
        "cli",
        "cloud",
        "demo",
        "errors",
        "faults",
        "interpreter",
        "launcher",
    ]
    assert sorted(p.name for p in PACKAGE.iterdir() if p.is_dir() and p.name != "__pycache__") == (
        sorted(SUBPACKAGES)
    )
