"""The module paths from before `sim/` was grouped into layers still import, with a warning.

Code written against them (`from sim.runner import run_scenario`, as the notebooks once had it)
keeps working: each old path is the very module at its new home, and says where that is.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest

import sim
from sim._moved import MOVED

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("old", sorted(MOVED))
def test_an_old_path_is_the_moved_module_and_warns(old: str,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    new = importlib.import_module(MOVED[old])
    spec = new.__spec__
    monkeypatch.delitem(sys.modules, old, raising=False)
    with pytest.warns(DeprecationWarning, match=rf"{old} has moved to {MOVED[old]}") as caught:
        aliased = __import__(old, fromlist=["*"])  # as an import statement does
    assert aliased is new
    assert new.__spec__ is spec and new.__name__ == MOVED[old]  # its own identity is kept
    assert caught[0].filename == __file__  # the warning names the line that imported it
    assert not (ROOT / (old.replace(".", "/") + ".py")).exists()  # nothing left behind


def test_names_from_an_old_path_are_the_public_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(sys.modules, "sim.runner", raising=False)
    with pytest.warns(DeprecationWarning):
        from sim.runner import RunOptions, run_scenario
    assert run_scenario is sim.run_scenario and RunOptions is sim.RunOptions
    monkeypatch.delitem(sys.modules, "sim.interview", raising=False)
    with pytest.warns(DeprecationWarning):
        from sim.interview import Interviews, interview_run  # declarations and sessions
    assert Interviews is sim.Interviews and interview_run is sim.interview_run


def test_unknown_paths_are_still_errors() -> None:
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("sim.no_such_module")
