"""Watching a run: `societas view RUN_DIR` in the browser, `view(run)` in a notebook.

Built on Solara (the stack of Mesa's SolaraViz; the optional `view` extra). A finished run
replays, a run still being written is followed as its store grows; every read is read-only
and brief, so watching never blocks or slows the run. The modules, from the store up:

- `source`: read-only, momentary looks at a run's store (`RunSource`, `Snapshot`);
- `step`: `StepView`, what a panel sees of the selected step;
- `timeline`: the time axis (a scenario's `sim.ViewTimeline`, with defaults);
- `parts`, `drawing`: what panels return (text, tables, `Series`, `Network`, `TownMap`,
  `Choices`) and their SVG shapes;
- `generic`: the panels every scenario gets from its `ScenarioAnalysis`;
- `state`: one step of the run, every panel asked (`step_state`: what a benchmark times);
- `widgets`, `page`, `app`: the Solara components, the page, the served app;
- `server`, `__main__`: serving it on 127.0.0.1, offline.

Only `widgets`, `page`, `app` and `server` import Solara; the rest, which scenarios use to
declare their panels, needs nothing beyond `analysis`. See docs/view.md.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from analysis.viewer.parts import Choices, Edge, Network, Node, Place, Series, TownMap, Walker
from analysis.viewer.step import StepView

if TYPE_CHECKING:
    from analysis.run import Run

__all__ = ["Choices", "Edge", "Network", "Node", "Place", "Series", "StepView", "TownMap",
           "Walker", "view"]


def view(run: Run | str | Path) -> Any:
    """The view of a run as a Solara element: the last expression of a notebook cell shows
    it inline (a run still being written is followed live). Needs the `view` extra."""
    try:
        from analysis.viewer.page import RunPage
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise ImportError("the view needs the 'view' extra: pip install 'societas[view]'"
                          ) from error
    from analysis.viewer.source import RunSource

    path = run.path if hasattr(run, "path") else Path(run)
    return RunPage(RunSource(path))
