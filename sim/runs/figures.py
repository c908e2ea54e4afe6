"""The figures drawn when a run finishes, by whatever is registered to draw them.

`analysis` draws the `RunFigure`s a scenario declares (`analysis.draw_run_figures`), and
registers that under the entry point group `societas.run_figures` (see `pyproject.toml`): the
engine never imports `analysis`, which reads runs and imports the engine. Each entry point
names a callable `draw(run_dir) -> list[Path]` returning the files it wrote; they are called in
the order of their names. A scenario written before `RunFigure`s may still draw its own
(`ScenarioSpec.draw_figures`, deprecated), in their place.
"""

from __future__ import annotations

from importlib.metadata import entry_points
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sim.registry import ScenarioSpec

GROUP = "societas.run_figures"


def draw_figures(scenario: ScenarioSpec, run_dir: Path) -> list[Path]:
    """Draw a finished run's figures; the files written (none for a scenario without any)."""
    if scenario.draw_figures is not None:
        return scenario.draw_figures(run_dir)
    if scenario.analysis is None:  # declares no figures
        return []
    drawn: list[Path] = []
    for entry in sorted(entry_points(group=GROUP), key=lambda entry: entry.name):
        drawn += entry.load()(run_dir)
    return drawn
