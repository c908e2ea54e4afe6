"""The tournament's analysis: what `analysis.load` and `societas report` know about its runs
(tables, the headline series, figures, a report section).

Declared on the `ScenarioSpec` as "scenarios.ipd.analysis:ANALYSIS", so running a tournament
never imports this reporting code; see docs/analysis.md for the interface.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd

from analysis.scenario import run_palette
from scenarios.ipd.figures import (
    plot_payoff_matrix,
    plot_population,
    plot_ranking,
)
from scenarios.ipd.tables import TABLES
from sim import HeadlineSeries, ReportSection, RunFigure, ScenarioAnalysis

if TYPE_CHECKING:
    from analysis.run import Run
    from analysis.scenario import ReportContext


def cooperation_per_turn(run: Run) -> pd.DataFrame:
    """Share of the moves played that were cooperations, turn by turn across the run (`turn`
    as stored, from 0: the metrics rows' `step`)."""
    metrics = run.metrics
    rows = metrics[(metrics["scope"] == "step") & (metrics["name"] == "cooperation")]
    return pd.DataFrame({"turn": rows["step"].astype(int).to_numpy(),
                         "value": rows["value"].to_numpy()})


def strategy_labels(run: Run) -> dict[str, str]:
    """A player's strategy: its rule family or 'llm'."""
    agents = run.agents
    return dict(zip(agents["agent_id"].astype(str), agents["kind"].astype(str), strict=True))


def _runs_of(runs: Sequence[Run], context: ReportContext, group: str) -> list[Run]:
    return [run for run in runs if context.groups[run.path.name] == group]


def tournament_section(runs: Sequence[Run], context: ReportContext) -> list[Any]:
    """Per group of runs: the ranking averaged over the seeds (tournaments), or which strategy
    fixated and when (Moran processes), with a figure."""
    parts: list[Any] = []
    for group in sorted(set(context.groups.values())):
        members = _runs_of(runs, context, group)
        plural = "s" if len(members) > 1 else ""
        rankings = [run.table("ranking") for run in members]
        rankings = [frame for frame in rankings if not frame.empty]
        if rankings:
            table = (pd.concat(rankings).groupby(["player", "strategy"], as_index=False)
                     .agg(score_per_turn=("score_per_turn", "mean"), wins=("wins", "mean"),
                          cooperation=("cooperation", "mean"))
                     .sort_values("score_per_turn", ascending=False))
            table.insert(0, "rank", range(1, len(table) + 1))
            parts.append(f"{group} ({len(members)} run{plural}): the ranking, means over the "
                         "runs' seeds (self-play left out).")
            parts.append(table.round(3).reset_index(drop=True))
            parts.append(plot_ranking(table, colour=context.color))
        moran = [run for run in members if not run.table("population").empty]
        if moran:
            rows = []
            for run in moran:
                population = run.table("population")
                last = population[population["generation"] == population["generation"].max()]
                fixed = last["strategy"].iloc[0] if len(last) == 1 else "none (cap reached)"
                rows.append({"run": run.path.name, "fixated": fixed,
                             "generations": int(population["generation"].max())})
            parts.append(f"{group} ({len(moran)} Moran run{plural}): the strategy that took "
                         "over the population, and after how many generations.")
            parts.append(pd.DataFrame(rows))
            parts.append(plot_population(moran[0].table("population"), colour=context.color))
    return parts


# A tournament has a ranking and a payoff matrix, a Moran process a population: each figure
# is left out (None) of the runs it does not describe.
def _ranking_figure(run: Run):
    ranking = run.table("ranking")
    return plot_ranking(ranking, colour=run_palette(run).color) if not ranking.empty else None


def _matrix_figure(run: Run):
    matches = run.table("matches")
    return plot_payoff_matrix(matches) if not run.table("ranking").empty else None


def _population_figure(run: Run):
    population = run.table("population")
    return (plot_population(population, colour=run_palette(run).color)
            if not population.empty else None)


ANALYSIS = ScenarioAnalysis(
    tables=TABLES,
    headline=(HeadlineSeries("cooperation", "share of moves that cooperate",
                             cooperation_per_turn, x="turn", bounds=(0.0, 1.0)),),
    strategy_labels=strategy_labels,
    sections=(ReportSection("tournament", "Tournament", tournament_section),),
    figures=(
        RunFigure("ranking.png", "mean score per turn of every player", _ranking_figure),
        RunFigure("payoff_matrix.png", "mean payoff per turn of each pair", _matrix_figure),
        RunFigure("population.png", "Moran process: members of each strategy per generation",
                  _population_figure),
    ),
)
