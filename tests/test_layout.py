"""The layout stays readable: layers, no import cycles in `sim/`, no oversized modules, a cheap
public API, and an engine that never imports `analysis`.

The import graph is read from the source with `ast`. For cycles it counts the imports a module
makes at module level (also inside module-level `if`/`try`/`with` and class bodies), and those
under `if TYPE_CHECKING:` too: a type-only import is still a dependency a reader has to follow,
and a cycle of them is a tangle however Python resolves it. Imports inside functions (run on
use: how litellm and pandas stay lazy) are no cycle edges, but they must respect the layers
and must not reach `analysis`. Importing `a.b.c` runs `a/__init__` and `a/b/__init__` too, so
those count as edges, except towards the importing module's own parent packages, which are
always initialised first.
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
PUBLIC_PACKAGES = ("sim", "sim.llm", "sim.memory", "sim.testing", "sim.runs", "sim.sweeps",
                   "sim.cli")
#: The engine's layers, lowest first; a module imports from its own layer and those below it,
#: never above, not even inside a function. Everything of `sim` not named here is the core
#: (world, agents, brains, tasks, store, registry, ... and `sim.llm`, `sim.memory`,
#: `sim.evolution`, `sim.testing`).
LAYERS = ("sim.runs", "sim.sweeps", "sim.cli")


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


def _module_level_statements(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    """The statements outside functions: what runs when the module is imported, and what
    `if TYPE_CHECKING:` imports for a type checker."""
    for node in body:
        yield node
        if isinstance(node, ast.If):
            yield from _module_level_statements(node.body)
            yield from _module_level_statements(node.orelse)
        elif isinstance(node, ast.Try):
            for block in (node.body, node.orelse, node.finalbody,
                          *(handler.body for handler in node.handlers)):
                yield from _module_level_statements(block)
        elif isinstance(node, ast.With | ast.ClassDef):
            yield from _module_level_statements(node.body)


def imported_names(name: str, path: Path, *, in_functions: bool = False) -> set[str]:
    """Every dotted name an import of module `name` refers to: at module level (type-only
    imports included), and with `in_functions` inside its functions too."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    tree = ast.parse(path.read_text(encoding="utf-8"))
    nodes = ast.walk(tree) if in_functions else _module_level_statements(tree.body)
    for node in nodes:
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
        elif (in_functions and isinstance(node, ast.Call) and node.args
              and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)
              and _is_dynamic_import(node.func)):  # importlib.import_module("a.b"), __import__
            found.add(node.args[0].value)
    return found


def _is_dynamic_import(func: ast.expr) -> bool:
    return (isinstance(func, ast.Name) and func.id == "__import__") or (
        isinstance(func, ast.Attribute) and func.attr == "import_module")


def import_graph(modules: dict[str, Path], *, in_functions: bool = False
                 ) -> dict[str, set[str]]:
    """module -> the modules of `modules` it imports (see `imported_names`)."""
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        ancestors = {".".join(name.split(".")[:i]) for i in range(1, name.count(".") + 1)}
        edges = set()
        for target in imported_names(name, path, in_functions=in_functions):
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


def layer_of(module: str, layers: tuple[str, ...] = LAYERS) -> int:
    """0 for the core, then 1, 2, ... for each of `layers`."""
    for rank, package in enumerate(layers, start=1):
        if module == package or module.startswith(package + "."):
            return rank
    return 0


def upward_imports(graph: dict[str, set[str]], layers: tuple[str, ...] = LAYERS) -> list[str]:
    """Imports from a lower layer into a higher one, as 'a -> b'."""
    return sorted(f"{module} -> {target}" for module, targets in graph.items()
                  for target in targets if layer_of(target, layers) > layer_of(module, layers))


def imports_of(package: str, modules: dict[str, Path]) -> list[str]:
    """Imports of `package` (or its modules) anywhere in `modules`, functions and type-only
    imports included, as 'module -> target'."""
    return sorted(f"{name} -> {target}" for name, path in modules.items()
                  for target in imported_names(name, path, in_functions=True)
                  if target == package or target.startswith(package + "."))


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
    """Module-level imports, type-only ones included, across every module of `sim/`."""
    graph = import_graph(module_files("sim"))
    # The graph is really read: known dependencies are in it, type-only ones too.
    assert {"sim.world", "sim.store", "sim.llm.gateway"} <= graph["sim.runs.runner"]
    assert "sim.llm.parsing._common" in graph["sim.llm.parsing.numbers"]
    assert "sim.llm.settings" in graph["sim.brains"] and "sim.llm" in graph["sim.brains"]
    assert "sim.llm.reply_format" in graph["sim.tasks"]  # under TYPE_CHECKING
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_the_layers_import_only_downwards() -> None:
    """core <- sim.runs <- sim.sweeps <- sim.cli, counting imports inside functions too."""
    graph = import_graph(module_files("sim"), in_functions=True)
    assert "sim.runs.runner" in graph["sim.sweeps.run_spec"]  # inside a function: counted
    assert upward_imports(graph) == []


def test_the_engine_never_imports_analysis() -> None:
    """`analysis` reads runs and imports the engine; the engine finds what `analysis` adds
    (commands, end-of-run figures) through entry points. Imports at module level, under
    `TYPE_CHECKING`, inside functions and by name (`importlib.import_module`) all count."""
    assert imports_of("analysis", module_files("sim")) == []


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


def test_type_only_imports_make_cycles_and_function_imports_do_not(tmp_path: Path) -> None:
    _write(tmp_path, {
        "pkg/__init__.py": "from pkg import a\n",  # a parent package: already initialising
        "pkg/a.py": "def f():\n    from pkg.b import B\n    return B\n",
        "pkg/b.py": "from .a import f\nclass B:\n    pass\n",
    })
    graph = import_graph(module_files("pkg", tmp_path))
    assert graph["pkg.b"] == {"pkg.a"} and graph["pkg.a"] == set()
    assert find_cycle(graph) is None
    assert import_graph(module_files("pkg", tmp_path), in_functions=True)["pkg.a"] == {"pkg.b"}
    for imports_b in ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                      "    from pkg.b import B\n",
                      "try:\n    from pkg.b import B\nexcept ImportError:\n    B = None\n"):
        _write(tmp_path, {"pkg/a.py": imports_b})
        assert find_cycle(import_graph(module_files("pkg", tmp_path))) == [
            "pkg.a", "pkg.b", "pkg.a"]


def test_an_upward_import_and_an_analysis_import_are_reported(tmp_path: Path) -> None:
    _write(tmp_path, {
        "sim/__init__.py": "",
        "sim/world.py": "def f():\n    from sim.runs.runner import run\n",  # core -> runs
        "sim/runs/__init__.py": "",
        "sim/runs/runner.py": "import sim.world\ndef run():\n    pass\n",
        "sim/cli/__init__.py": "import importlib\nimportlib.import_module('sim.runs')\n",
        "sim/registry.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                           "    from analysis.run import Run\n",
        "sim/figures.py": "def draw():\n    __import__('analysis')\n",
    })
    modules = module_files("sim", tmp_path)
    assert upward_imports(import_graph(modules, in_functions=True)) == [
        "sim.world -> sim.runs", "sim.world -> sim.runs.runner"]
    assert imports_of("analysis", modules) == [
        "sim.figures -> analysis", "sim.registry -> analysis.run",
        "sim.registry -> analysis.run.Run"]


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
