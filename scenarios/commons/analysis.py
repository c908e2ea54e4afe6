"""The commons' analysis: what `analysis.load` and `societas report` know about its runs
(tables, headline series, strategy labels, figures, a sustainability section).

Declared on the `ScenarioSpec` as "scenarios.commons.analysis:ANALYSIS", so running the game
never imports the reporting code; see docs/analysis.md for the interface.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd

from analysis.scenario import run_palette
from scenarios.commons.figures import plot_catches, plot_stock
from scenarios.commons.tables import SCORE_COLUMNS, TABLES
from sim import (
    POPULATION_TABLES,
    HeadlineSeries,
    ReportSection,
    RunFigure,
    ScenarioAnalysis,
    ViewTimeline,
)

if TYPE_CHECKING:
    from analysis.run import Run
    from analysis.scenario import ReportContext

#: The generation metrics a run records, in the order the section's table shows them.
SUSTAINABILITY = ("seasons_survived", "collapsed", "total_harvest", "mean_stock", "gini",
                  "over_usage")


def generation_metrics(run: Run) -> pd.DataFrame:
    """One row per generation: seasons survived, collapsed (0/1), total harvest, mean stock,
    Gini of total catches and over-usage, from the run's `metrics` rows."""
    metrics = run.metrics
    rows = metrics[metrics["scope"] == "generation"]
    if rows.empty:
        return pd.DataFrame(columns=["generation", *SUSTAINABILITY])
    table = rows.pivot_table(index="generation", columns="name", values="value")
    return table.reindex(columns=list(SUSTAINABILITY)).reset_index()


def _series(name: str):
    def compute(run: Run) -> pd.DataFrame:
        table = generation_metrics(run)
        return table[["generation", name]].rename(columns={name: "value"})
    compute.__doc__ = f"{name} per generation"
    return compute


def strategy_labels(run: Run) -> dict[str, str]:
    """A fisher's strategy: its rule family ('greedy', ...) or 'llm'."""
    agents = run.agents
    return dict(zip(agents["agent_id"].astype(str), agents["kind"].astype(str), strict=True))


def _stock_figure(run: Run):
    return plot_stock(run.table("seasons"), capacity=float(run.config.get("capacity", 100.0)),
                      threshold=float(run.config.get("collapse_threshold", 5.0)))


def _catches_figure(run: Run):
    return plot_catches(run.table("catches"), colour=run_palette(run).color)


def sustainability_section(runs: Sequence[Run], context: ReportContext) -> list[Any]:
    """Per group of runs: the sustainability metrics per generation (means over the group's
    seeds, and the share of runs that collapsed), then every group's stock over seasons."""
    parts: list[Any] = []
    curves = []
    for group in sorted(set(context.groups.values())):
        members = [run for run in runs if context.groups[run.path.name] == group]
        frames = [generation_metrics(run).assign(run=run.path.name) for run in members]
        frames = [frame for frame in frames if not frame.empty]
        if not frames:
            continue
        rows = pd.concat(frames, ignore_index=True)
        table = rows.groupby("generation")[list(SUSTAINABILITY)].mean().reset_index()
        table["generation"] += 1
        table = table.rename(columns={"collapsed": "share collapsed"})
        parts.append(f"{group} ({len(members)} run{'s' if len(members) > 1 else ''}): means "
                     "over the runs' seeds; over-usage is the share of catch requests above "
                     "the sustainable share.")
        parts.append(table.round(3))
        for run in members:
            seasons = run.table("seasons")
            if not seasons.empty:
                curves.append(seasons[seasons["generation"] == 0].assign(group=group))
    if curves:
        first = runs[0].config
        parts.append("Stock at the start of each season of the first generation, mean over "
                     "each group's runs (a collapsed run counts until it collapsed).")
        parts.append(plot_stock(pd.concat(curves, ignore_index=True),
                                capacity=float(first.get("capacity", 100.0)),
                                threshold=float(first.get("collapse_threshold", 5.0))))
    return parts


ANALYSIS = ScenarioAnalysis(
    tables={**TABLES, "strategies": POPULATION_TABLES["strategies"],
            "generation_scores": {**POPULATION_TABLES["generation_scores"], **SCORE_COLUMNS}},
    headline=(
        HeadlineSeries("seasons_survived", "seasons the fishery survived",
                       _series("seasons_survived")),
        HeadlineSeries("total_harvest", "total harvest of a generation (tons)",
                       _series("total_harvest")),
        HeadlineSeries("gini", "inequality of total catches (Gini)", _series("gini"),
                       bounds=(0.0, 1.0)),
    ),
    strategy_labels=strategy_labels,
    sections=(ReportSection("sustainability", "Sustainability of the commons",
                            sustainability_section),),
    figures=(
        RunFigure("stock_over_seasons.png",
                  "fish in the lake at the start of each season, with the collapse threshold",
                  _stock_figure),
        RunFigure("catches_per_agent.png", "each fisher's catch per season and in total",
                  _catches_figure),
    ),
    timeline=ViewTimeline(unit="season"),  # how societas view counts steps
)
