"""A sweep's runs read back as one: its runs, and a frame with the swept keys as columns.

`sim.sweeps.plan` names each run's directory after its swept values and lists them in `sweep.json`;
this reads that index, so a sweep's conditions are columns even for nested config keys
(`memory_settings.preset`), which the per-run config tags of `load_many` leave out.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from analysis.many import Extract, load_many
from analysis.run import Run, load

INDEX_FILENAME = "sweep.json"  # sim.sweeps.plan writes it


@dataclass
class Sweep:
    """A sweep directory, read: `frame` has one row per planned run, `runs` the runs that
    have a store (in plan order)."""

    path: Path
    swept: list[str]
    frame: pd.DataFrame
    runs: list[Run]

    def load_many(self, what: Extract = "generation_scores") -> pd.DataFrame:
        """`analysis.load_many` of the sweep's runs, with every swept key as a column."""
        frame = load_many(self.runs, what)
        values = self.frame.set_index("run")
        for key in self.swept:
            if key not in frame.columns:
                frame[key] = frame["run"].map(values[key])
        return frame


def is_sweep(path: str | Path) -> bool:
    return (Path(path) / INDEX_FILENAME).is_file()


def read_index(path: str | Path) -> dict[str, Any]:
    index_path = Path(path) / INDEX_FILENAME
    try:
        return json.loads(index_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FileNotFoundError(f"{path} is not a sweep directory (no {INDEX_FILENAME})"
                                ) from None


def sweep_run_dirs(path: str | Path) -> list[Path]:
    """The sweep's run directories that hold a store, in plan order."""
    path = Path(path)
    dirs = [path / run["dir"] for run in read_index(path)["runs"]]
    return [d for d in dirs if (d / "run.sqlite").is_file()]


def expand_sweeps(paths: Iterable[str | Path]) -> list[Path]:
    """Run directories, with each sweep directory among them replaced by its runs."""
    found: list[Path] = []
    for path in paths:
        found += sweep_run_dirs(path) if is_sweep(path) else [Path(path)]
    return found


def load_sweep(path: str | Path) -> Sweep:
    """Read a sweep directory: its index as a frame (run, swept keys..., run_dir, status,
    wall_s, message) and its runs."""
    path = Path(path)
    index = read_index(path)
    swept = list(index.get("swept", []))
    rows = [{"run": run["name"], **{key: run["values"].get(key) for key in swept},
             "run_dir": str(path / run["dir"]), "status": run.get("status", ""),
             "wall_s": run.get("wall_s", 0.0), "message": run.get("message", "")}
            for run in index["runs"]]
    frame = pd.DataFrame(rows, columns=["run", *swept, "run_dir", "status", "wall_s",
                                        "message"])
    return Sweep(path, swept, frame, [load(d) for d in sweep_run_dirs(path)])
