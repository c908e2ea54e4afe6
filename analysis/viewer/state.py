"""One step of a run as the page shows it: `step_state(source, step, selected)` reads the
store once (one read transaction), asks every panel, generic and the scenario's, for its parts
and returns them with the time axis around the step. This is what the page draws and what
`benchmarks/view_step.py` times.
"""

from __future__ import annotations

import time
import traceback
from dataclasses import dataclass, field
from typing import Any

from analysis.viewer import timeline
from analysis.viewer.generic import PANELS
from analysis.viewer.source import Progress, RunSource
from analysis.viewer.step import StepView
from sim.scenario_analysis import ViewTimeline


@dataclass
class PanelState:
    key: str
    title: str
    parts: list[Any]
    ms: float = 0.0
    error: str = ""


@dataclass
class StepState:
    """Everything the page shows for one step."""

    step: int
    first: int
    last: int
    label: str
    unit: str
    stride: int
    progress: Progress
    marks: list[tuple[str, int]] = field(default_factory=list)
    panels: list[PanelState] = field(default_factory=list)
    ms: float = 0.0

    def panel(self, key: str) -> PanelState | None:
        return next((p for p in self.panels if p.key == key), None)


def spec_of(source: RunSource) -> ViewTimeline:
    return source.run.analysis_spec.timeline or timeline.DEFAULT


def step_state(source: RunSource, step: int | None, selected: str | None = None,
               *, last: bool = False) -> StepState:
    """The state at `step` (clamped to what the store holds; None or `last`: the latest)."""
    started = time.perf_counter()
    spec = spec_of(source)
    progress = source.progress()
    with source.snapshot() as snap:
        view = StepView(0, selected, source, snap, progress)
        view.first, view.last = timeline.extent(spec, view)
        wanted = view.last if step is None or last else step
        view.step = min(max(int(wanted), view.first), view.last)
        view.position = timeline.position(spec, view)
        state = StepState(view.step, view.first, view.last, timeline.describe(spec, view),
                          spec.unit, max(1, spec.stride), progress,
                          list(timeline.marks(spec, view)))
        # the scenario's own panels first (the town's map, the Donor Game's gifts), then the
        # generic ones
        panels = (*source.run.analysis_spec.panels, *PANELS)
        for panel in panels:
            began = time.perf_counter()
            try:
                parts, error = list(panel.render(view)), ""
            except Exception as failure:  # one panel's bug must not blank the page
                parts = []
                error = f"{type(failure).__name__}: {failure}"
                traceback.print_exc()
            if parts or error:
                state.panels.append(PanelState(panel.key, panel.title, parts,
                                               (time.perf_counter() - began) * 1000, error))
    state.ms = (time.perf_counter() - started) * 1000
    return state


def parse_step(source: RunSource, text: str, current: int) -> int | None:
    """The step a person typed in 'go to' ('generation 3', 'day 2 14:05', '12')."""
    spec = spec_of(source)
    with source.snapshot() as snap:
        view = StepView(current, None, source, snap, source.progress())
        view.first, view.last = timeline.extent(spec, view)
        return timeline.parse(spec, text, view)
