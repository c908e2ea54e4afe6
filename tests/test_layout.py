"""The layout stays readable: no import cycles in `sim/`, no oversized modules, a cheap public API.

The import graph is read from the source with `ast`, counting what runs when a module is
imported: module-level imports (also inside module-level `if`/`try`/`with` and class bodies),
not imports inside functions (those run on use, and are how litellm stays lazy) nor under
`if TYPE_CHECKING:`. Importing `a.b.c` runs `a/__init__` and `a/b/__init__` too, so those
count as edges, except towards the importing module's own parent packages, which are always
initialised first.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: The most lines a module may have; past this, split it by responsibility.
MAX_LINES = 450
SIZED_PACKAGES = ("sim", "scenarios", "analysis")
PUBLIC_PACKAGES = ("sim", "sim.llm", "sim.memory", "sim.testing")


def module_files(package: str, root: Path = ROOT) -> dict[str, Path]:
    """Dotted module name -> source file, for every module of `package`."""
    modules = {}
    for path in sorted((root / package).rglob("*.py")):
        parts = path.relative_to(root).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join(parts)] = path
    return modules


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _import_time_statements(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    """The statements that run when the module is imported (function bodies do not)."""
    for node in body:
        yield node
        if isinstance(node, ast.If):
            if not _is_type_checking(node.test):
                yield from _import_time_statements(node.body)
            yield from _import_time_statements(node.orelse)
        elif isinstance(node, ast.Try):
            for block in (node.body, node.orelse, node.finalbody,
                          *(handler.body for handler in node.handlers)):
                yield from _import_time_statements(block)
        elif isinstance(node, ast.With | ast.ClassDef):
            yield from _import_time_statements(node.body)


def imported_names(name: str, path: Path) -> set[str]:
    """Every dotted name an import at import time of module `name` refers to."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in _import_time_statements(ast.parse(path.read_text(encoding="utf-8")).body):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            found.add(source)
            found.update(f"{source}.{alias.name}" for alias in node.names)  # submodules
    return found


def import_graph(modules: dict[str, Path]) -> dict[str, set[str]]:
    """module -> the modules of `modules` that importing it runs."""
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        ancestors = {".".join(name.split(".")[:i]) for i in range(1, name.count(".") + 1)}
        edges = set()
        for target in imported_names(name, path):
            parts = target.split(".")
            for i in range(1, len(parts) + 1):  # a.b.c runs a, a.b and a.b.c
                prefix = ".".join(parts[:i])
                if prefix in modules and prefix != name and prefix not in ancestors:
                    edges.add(prefix)
        graph[name] = edges
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as [a, b, ..., a], or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt):], nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def oversized(root: Path = ROOT) -> list[str]:
    found = []
    for package in SIZED_PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            lines = len(path.read_text(encoding="utf-8").splitlines())
            if lines > MAX_LINES:
                found.append(f"{path.relative_to(root)}: {lines} lines")
    return found


# -- the rules, on this repository ------------------------------------------------------------


def test_sim_has_no_import_cycles() -> None:
    graph = import_graph(module_files("sim"))
    # The graph is really read: known dependencies are in it.
    assert {"sim.world", "sim.store", "sim.llm.gateway"} <= graph["sim.runs.runner"]
    assert "sim.llm.parsing._common" in graph["sim.llm.parsing.numbers"]
    assert "sim.llm.settings" in graph["sim.brains"] and "sim.llm" in graph["sim.brains"]
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_no_module_is_oversized() -> None:
    found = oversized()
    assert not found, f"split these by responsibility (at most {MAX_LINES} lines): {found}"


# -- the checks themselves catch what they are for --------------------------------------------


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def test_a_cycle_through_a_package_init_is_found(tmp_path: Path) -> None:
    _write(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/core.py": "from pkg.sub.leaf import X\n",
        "pkg/sub/__init__.py": "from pkg.sub.top import Y\n",
        "pkg/sub/leaf.py": "X = 1\n",
        "pkg/sub/top.py": "import pkg.core\nY = 2\n",
    })
    cycle = find_cycle(import_graph(module_files("pkg", tmp_path)))
    assert cycle is not None and set(cycle) == {"pkg.core", "pkg.sub", "pkg.sub.top"}


def test_imports_that_do_not_run_at_import_time_are_no_cycle(tmp_path: Path) -> None:
    _write(tmp_path, {
        "pkg/__init__.py": "from pkg import a\n",  # a parent package: already initialising
        "pkg/a.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.b import B\n"
                    "def f():\n    from pkg.b import B\n    return B\n",
        "pkg/b.py": "from .a import f\nclass B:\n    pass\n",
    })
    graph = import_graph(module_files("pkg", tmp_path))
    assert graph["pkg.b"] == {"pkg.a"} and graph["pkg.a"] == set()
    assert find_cycle(graph) is None
    guarded = "try:\n    from pkg.b import B\nexcept ImportError:\n    B = None\n"
    _write(tmp_path, {"pkg/a.py": guarded})  # runs at import time: a cycle
    assert find_cycle(import_graph(module_files("pkg", tmp_path))) == ["pkg.a", "pkg.b", "pkg.a"]


def test_a_long_module_is_reported(tmp_path: Path) -> None:
    _write(tmp_path, {"analysis/long.py": "x = 1\n" * (MAX_LINES + 1),
                      "sim/fine.py": "x = 1\n" * MAX_LINES})
    assert oversized(tmp_path) == [f"analysis/long.py: {MAX_LINES + 1} lines"]


# -- the public API ---------------------------------------------------------------------------


def test_public_api_resolves_without_loading_litellm_or_mesa_early() -> None:
    """Importing the packages loads neither litellm (seconds) nor mesa; every exported name
    resolves, and even resolving all of them does not import litellm."""
    code = f"""
import importlib, sys
packages = [importlib.import_module(name) for name in {PUBLIC_PACKAGES!r}]
early = sorted({{"litellm", "mesa", "numpy"}} & set(sys.modules))
assert not early, f"imported by the packages alone: {{early}}"
for package in packages:
    assert package.__all__, package.__name__
    for name in package.__all__:
        assert getattr(package, name) is not None, (package.__name__, name)
        assert name in dir(package)
assert "litellm" not in sys.modules, "resolving the public API imported litellm"
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120, cwd=ROOT)
    assert result.returncode == 0, result.stderr


def test_unknown_names_are_attribute_errors_and_submodules_still_import() -> None:
    import sim
    import sim.llm

    with pytest.raises(AttributeError, match="no attribute 'Nonexistent'"):
        sim.Nonexistent  # noqa: B018
    from sim.llm import gateway

    assert gateway.Gateway is sim.llm.Gateway is sim.Gateway
