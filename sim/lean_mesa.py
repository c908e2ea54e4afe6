"""Mesa, imported without the libraries only its optional parts use until they are used.

The engine needs Mesa's `Model`, `Agent` and `AgentSet`. `import mesa` also imports its
spaces (`mesa.discrete_space`, which imports SciPy's spatial module and networkx; the legacy
`mesa.space`, networkx again), its continuous space (SciPy again) and pandas (imported at the
top of `mesa.agent` and of Mesa's experimental data recorders, used only by the methods that
build DataFrames): about a second here of every command that builds a world (half of a
12-agent rule run's two seconds), though a rule run never touches them.

So while Mesa's package is imported, those four modules are stood in for by placeholders
(`_Deferred`); as soon as Mesa is in, the placeholders leave `sys.modules`, so every later
import of pandas or of a Mesa space (`from mesa.discrete_space import Network`, the network
norms' graph) is the ordinary import of the real module. The only references to a
placeholder are the names Mesa's own modules bound while it was imported (`mesa.agent.pd`,
`mesa.discrete_space` until the real one is imported): the first attribute read through one
imports the real module and from then on the placeholder carries its namespace, so Mesa's
DataFrame methods and spaces behave exactly as before, a moment later.

Where Mesa was imported already (a notebook, a scenario that imported it first), or where the
placeholders do not fit the installed Mesa (any error while importing it so), Mesa is imported
the ordinary way: what this saves is time, never behaviour.
"""

from __future__ import annotations

import importlib
import sys
import threading
import types

__all__ = ["DEFERRED", "mesa"]

#: Modules Mesa imports at its top that no part of it the engine uses needs at import time.
DEFERRED = ("pandas", "mesa.discrete_space", "mesa.experimental.continuous_space", "mesa.space")

_lock = threading.RLock()


class _Deferred(types.ModuleType):
    """A module that imports the real one on the first read of one of its attributes."""

    def __getattr__(self, name: str) -> object:
        if name.startswith("__"):  # module machinery probing (inspect, pickle): not a use
            raise AttributeError(name)
        with _lock:
            if sys.modules.get(self.__name__) is self:
                del sys.modules[self.__name__]
            real = importlib.import_module(self.__name__)
            self.__dict__.update(real.__dict__)
        return getattr(real, name)


def _import_mesa() -> types.ModuleType:
    if "mesa" in sys.modules:
        return importlib.import_module("mesa")
    stand_ins = {name: _Deferred(name) for name in DEFERRED if name not in sys.modules}
    sys.modules.update(stand_ins)
    try:
        return importlib.import_module("mesa")
    except Exception:
        for name in [name for name in sys.modules if name == "mesa" or name.startswith("mesa.")]:
            del sys.modules[name]
        _forget(stand_ins)
        return importlib.import_module("mesa")  # the ordinary way (module docstring)
    finally:
        _forget(stand_ins)


def _forget(stand_ins: dict[str, types.ModuleType]) -> None:
    for name, module in stand_ins.items():
        if sys.modules.get(name) is module:
            del sys.modules[name]


mesa = _import_mesa()
