"""What a scenario tells `analysis`, `societas report` and `societas view` about its runs.

The engine's tables are the same in every scenario; everything else a run holds is the
scenario's business. A scenario declares it once, in a `ScenarioAnalysis` on its
`ScenarioSpec`, so that loading, grouping, colouring and reporting work for any scenario
without `analysis` knowing its name. Every field is optional: a scenario that declares nothing
still loads and reports (the generic sections), and the report says in one sentence what the
scenario does not provide.

This module lives in the engine and imports neither pandas nor matplotlib, so declaring an
analysis costs a scenario nothing at import time; the callables it names run only when a
reader loads or reports a run (and may import what they need then). A `ScenarioSpec` may also
name its analysis as "module:attribute", loaded on first use (`ScenarioSpec.analysis_spec`).

The callables receive what `analysis` hands them: a loaded run (`analysis.Run`), the report's
context (`analysis.scenario.ReportContext`) or the view's selected step
(`analysis.viewer.StepView`). `analysis` reads runs back and imports the engine, never the
reverse, so this module names those types without importing them (`AnalysisRun`,
`ReportContext`, `StepView` below are `Any` to a type checker).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

type AnalysisRun = Any  # analysis.Run: one run as `analysis.load` reads it
type ReportContext = Any  # analysis.scenario.ReportContext: the report's run groups and colours
type StepView = Any  # analysis.viewer.StepView: the step the view's user selected


@dataclass(frozen=True)
class HeadlineSeries:
    """One of the scenario's headline numbers, per generation (or per step) of a run.

    `compute(run)` returns a tidy frame with the column `x` (e.g. 'generation') and a column
    'value'; the report plots it per group of runs with a confidence band across seeds.
    """

    name: str  # a short identifier, e.g. 'donation_fraction'
    label: str  # what the y axis says, e.g. 'share of resources donated'
    compute: Callable[[AnalysisRun], pd.DataFrame]
    x: str = "generation"
    #: (low, high) limits of the y axis where the value has natural bounds (a share: (0, 1)).
    bounds: tuple[float, float] | None = None


@dataclass(frozen=True)
class RunFigure:
    """A figure of one run, drawn into `run_dir/figures/<file>` by `societas run` (when the run
    finishes) and `societas report`, and shown in the report: the one way a scenario declares
    its figures. `draw(run)` returns a matplotlib `Figure`, or None when the run has nothing
    for it (a tournament's ranking in a Moran run), which leaves the figure out."""

    file: str  # e.g. 'per_generation.png'
    caption: str
    draw: Callable[[AnalysisRun], Figure | None]


@dataclass(frozen=True)
class ReportSection:
    """A section of the scenario's own in the report.

    `render(runs, context)` returns the section's body as a list of parts, each a string (a
    sentence, shown escaped), a pandas DataFrame (a table), a matplotlib Figure (embedded as a
    PNG) or `analysis.scenario.Html` (markup the scenario built and escaped itself). An empty
    list means "no data": the report says so in one sentence. `context` gives the run groups
    and the report's strategy colours (`analysis.scenario.ReportContext`).
    """

    key: str  # the HTML anchor, e.g. 'reciprocity'
    title: str
    render: Callable[[Sequence[AnalysisRun], ReportContext], list[Any]]


@dataclass(frozen=True)
class AgentSection:
    """A part of `societas inspect RUN --agent ID` that only the scenario can write (a town
    resident's day plans and conversations), shown after the agent's strategy and scores and
    before its memories.

    `render(run, agent_id, limit)` returns the section's lines (indent them yourself; `limit`
    is the user's `--limit`, the most items of one kind to show); no lines: the section is left
    out. The title is printed above them.
    """

    title: str
    render: Callable[[AnalysisRun, str, int], list[str]]


@dataclass(frozen=True)
class ViewPanel:
    """A panel of the scenario's own in `societas view` (and `analysis.viewer.view(run)`),
    declared as figures are: the view calls `render(step)` for the step the user selected.

    `step` (`analysis.viewer.StepView`) holds the selected step (`step.step`), the agent the user
    clicked (`step.selected`), read-only queries on the run's store as it was at that moment
    (`step.frame(sql, params)`, `step.rows(...)`), and `step.memo(key, compute)` for what does
    not change while the run grows. `render` returns the panel's parts, as report sections do:
    strings (shown as text, never as markup), pandas DataFrames (tables) and the drawings of
    `analysis.viewer.parts` (`Series`, `Network`, `TownMap`, `Choices`). An empty list hides the
    panel. It must answer in well under 200 ms on a large run: read only what the step needs.
    """

    key: str
    title: str
    render: Callable[[StepView], list[Any]]


@dataclass(frozen=True)
class ViewTimeline:
    """How the view's time slider counts a run of the scenario: what one step is, how a person
    reads it and which moments are worth jumping to. Every field is optional; the default
    counts the engine's simulated time (`decisions.sim_time`) as 'step 1, step 2, ...'.
    """

    #: What one step of the slider is, in words ('round', 'minute').
    unit: str = "step"
    #: Steps one tick of 'play' advances (a town plays 5 minutes at a time).
    stride: int = 1
    #: The first and last step the store holds so far (read again as a live run grows).
    extent: Callable[[StepView], tuple[int, int]] | None = None
    #: The selected step as a person reads it ('generation 3, game 1, round 4').
    describe: Callable[[StepView], str] | None = None
    #: The selected step on the x axes of the headline series, e.g. {'generation': 2}.
    position: Callable[[StepView], Mapping[str, float]] | None = None
    #: What a person typed in 'go to' ('generation 3', 'day 2 14:05') as a step; None: not
    #: understood. The default reads a number counted from 1.
    parse: Callable[[str, StepView], int | None] | None = None
    #: Moments to jump to, as (label, step), e.g. the end of each generation.
    marks: Callable[[StepView], Sequence[tuple[str, int]]] | None = None


@dataclass(frozen=True)
class ScenarioAnalysis:
    """A scenario's declared analysis; see the module doc. Every field is optional."""

    #: The scenario's own tables: name -> columns (a list of names, or name -> SQLite type as
    #: given to `RunStore.define_table`), so that a table a run never created still loads as
    #: an empty frame of the right shape.
    tables: Mapping[str, Sequence[str] | Mapping[str, str]] = field(default_factory=dict)
    #: The scenario's headline numbers (e.g. the Donor Game's donation fraction and final
    #: resources per generation).
    headline: Sequence[HeadlineSeries] = ()
    #: agent id -> strategy label (a rule family, 'llm', ...), used to colour and group; None:
    #: the `kind` column of the `agents` table (the rule family or 'llm').
    strategy_labels: Callable[[AnalysisRun], Mapping[str, str]] | None = None
    #: The scenario's own report sections, shown after the generic ones.
    sections: Sequence[ReportSection] = ()
    #: The figures of one run (`societas run` and `societas report` draw them).
    figures: Sequence[RunFigure] = ()
    #: What `societas inspect` adds to the view of one agent.
    inspect: Sequence[AgentSection] = ()
    #: The scenario's own panels in `societas view`, after the generic ones.
    panels: Sequence[ViewPanel] = ()
    #: How the view's slider counts the scenario's time; None: the engine's simulated time.
    timeline: ViewTimeline | None = None

    def columns(self) -> dict[str, tuple[str, ...]]:
        """The declared tables as name -> column names."""
        return {name: tuple(columns) for name, columns in self.tables.items()}


#: What a scenario that declares nothing has.
NO_ANALYSIS = ScenarioAnalysis()
