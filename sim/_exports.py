"""Lazy re-exports: a package's `__init__` names its public API, loaded on first use.

Why not plain imports in each `__init__`: the core and the subsystems lean on each other in
both directions (brains carry `sim.llm` settings, while the gateway in `sim.llm` resolves the
brains' decisions), so a `sim/llm/__init__.py` that imported the gateway eagerly would run
whenever anything imported a module of `sim.llm`, in the middle of importing `sim.brains`, and
fail on the half-imported module. Eager imports would also make `import sim` load numpy,
pydantic, mesa (and with it pandas) and sqlite before anything is used; lazily it costs nothing,
and litellm (seconds) is still only imported by the first model call.

`from sim import World` and `sim.World` work as with eager imports; `dir(sim)` and tab
completion list the exported names.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any


def lazy_exports(
    namespace: dict[str, Any], modules: Mapping[str, Sequence[str]]
) -> tuple[list[str], Callable[[str], Any], Callable[[], list[str]]]:
    """`(__all__, __getattr__, __dir__)` for a package exporting `modules`' names.

    `modules` maps each module to the names it contributes. A name is imported from its module
    on first access and then kept in the package's namespace, so later accesses are plain
    attribute lookups.
    """
    home: dict[str, str] = {}
    for module, names in modules.items():
        for name in names:
            if name in home:
                raise ValueError(f"{name!r} is exported from both {home[name]} and {module}")
            home[name] = module
    package = namespace["__name__"]

    def __getattr__(name: str) -> Any:
        module = home.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(home))

    return sorted(home), __getattr__, __dir__
