"""Module paths of `sim` from before the engine was grouped into layers, kept working.

`from sim.runner import run_scenario`, as the notebooks and docs once wrote it, still imports:
the old path is an alias of the module's new home (the same module object) and warns once with
a `DeprecationWarning` naming it. New code imports the names `sim` exports (`from sim import
run_scenario`) or the new path. No file is left at an old path, so `sim/` shows only its layers.
"""

from __future__ import annotations

import importlib
import sys
import warnings
from importlib.machinery import ModuleSpec
from types import ModuleType

#: old dotted path -> where the module lives now
MOVED = {
    **{f"sim.{name}": f"sim.runs.{name}" for name in (
        "runner", "replay", "interview", "export", "progress", "live", "capacity", "runlock")},
    **{f"sim.{name}": f"sim.sweeps.{name}" for name in (
        "executors", "worker_pool", "lifeline", "ray_executor", "run_transfer")},
    "sim.sweep_cli": "sim.cli.sweep",
    "sim.interview_cli": "sim.cli.interview",
    "sim.view_cli": "sim.cli.view",
    **{f"sim.{name}": f"sim.cli.{name}" for name in (
        "view_process", "config_docs", "scaffold", "text_table")},
}
#: Frames the warning skips, so that it names the line that imported the old path.
_INTERNALS = (__file__, "<frozen importlib")


class _Alias:
    """Loads an old path as the module at its new one (an importlib loader; not derived from
    `importlib.abc.Loader`, whose import costs `import sim` 20 ms)."""

    def __init__(self, new: str) -> None:
        self.new = new
        self.spec: ModuleSpec | None = None

    def create_module(self, spec: ModuleSpec) -> ModuleType:
        warnings.warn(f"{spec.name} has moved to {self.new}: import from there, or the names "
                      "`sim` exports", DeprecationWarning, skip_file_prefixes=_INTERNALS)
        module = importlib.import_module(self.new)
        self.spec = module.__spec__
        return module

    def exec_module(self, module: ModuleType) -> None:
        """Nothing to run; give the module back its own spec (importing set the alias's)."""
        module.__spec__ = self.spec


class _MovedFinder:
    """A meta path finder for the old paths only."""

    def find_spec(self, fullname: str, path: object = None, target: object = None
                  ) -> ModuleSpec | None:
        new = MOVED.get(fullname)
        return None if new is None else ModuleSpec(fullname, _Alias(new))


def install() -> None:
    """Let the old paths import (once per interpreter)."""
    if not any(isinstance(finder, _MovedFinder) for finder in sys.meta_path):
        sys.meta_path.append(_MovedFinder())
