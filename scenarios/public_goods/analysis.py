"""The public goods game's analysis: what `analysis.load` and `societas report` know about its
runs (tables, headline series, strategy labels, figures, a report section).

Declared on the `ScenarioSpec` as "scenarios.public_goods.analysis:ANALYSIS", so running the
game never imports pandas-heavy reporting code; see docs/analysis.md for the interface.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd

from analysis.scenario import run_palette
from scenarios.public_goods.figures import plot_contribution_per_round, plot_per_generation
from scenarios.public_goods.tables import SCORE_COLUMNS, TABLES
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


def contribution_share(run: Run) -> pd.DataFrame:
    """Mean contribution, as a share of the endowment, per generation (the headline)."""
    rows = run.table("contributions")
    if rows.empty:
        return pd.DataFrame(columns=["generation", "value"])
    return (rows.groupby("generation")["share"].mean().rename("value")
            .rename_axis("generation").reset_index())


def total_payoff(run: Run) -> pd.DataFrame:
    """Mean total payoff of a generation's members."""
    scores = run.generation_scores
    if scores.empty:
        return pd.DataFrame(columns=["generation", "value"])
    return (scores.groupby("generation")["score"].mean().rename("value")
            .rename_axis("generation").reset_index())


def strategy_labels(run: Run) -> dict[str, str]:
    """A member's strategy: its rule family ('free_rider', ...) or 'llm'."""
    agents = run.agents
    return dict(zip(agents["agent_id"].astype(str), agents["kind"].astype(str), strict=True))


def _contributions_figure(run: Run):
    return plot_contribution_per_round(run.table("contributions"),
                                       float(run.config.get("endowment", 20.0)),
                                       colour=run_palette(run).color)


def _generation_figure(run: Run):
    return plot_per_generation(run.table("contributions"), colour=run_palette(run).color)


def cooperation_section(runs: Sequence[Run], context: ReportContext) -> list[Any]:
    """Per group of runs: contribution share, payoff and punishment per generation (means over
    the group's seeds), and the contributions of each strategy."""
    parts: list[Any] = []
    for group in sorted(set(context.groups.values())):
        members = [run for run in runs if context.groups[run.path.name] == group]
        frames = [run.table("contributions").assign(run=run.path.name) for run in members]
        frames = [frame for frame in frames if not frame.empty]
        if not frames:
            continue
        rows = pd.concat(frames, ignore_index=True)
        table = rows.groupby("generation").agg(
            contribution_share=("share", "mean"), payoff_per_round=("payoff", "mean"),
            punishment_points=("punished", "mean")).reset_index()
        table["generation"] += 1
        parts.append(f"{group} ({len(members)} run{'s' if len(members) > 1 else ''}): mean per "
                     "member and round, over the runs' seeds.")
        parts.append(table.round(3))
        endowment = float(members[0].config.get("endowment", 20.0))
        by_round = rows.groupby(["step", "generation", "kind"], as_index=False).agg(
            contribution=("contribution", "mean"))
        parts.append(plot_contribution_per_round(by_round, endowment, colour=context.color))
    return parts


ANALYSIS = ScenarioAnalysis(
    tables={**TABLES, "strategies": POPULATION_TABLES["strategies"],
            "generation_scores": {**POPULATION_TABLES["generation_scores"], **SCORE_COLUMNS}},
    headline=(
        HeadlineSeries("contribution_share", "mean contribution (share of the endowment)",
                       contribution_share, bounds=(0.0, 1.0)),
        HeadlineSeries("total_payoff", "mean total payoff of a generation", total_payoff),
    ),
    strategy_labels=strategy_labels,
    sections=(ReportSection("contributions", "Contributions and punishment",
                            cooperation_section),),
    figures=(
        RunFigure("contribution_per_round.png",
                  "mean contribution in each round, by strategy", _contributions_figure),
        RunFigure("per_generation.png",
                  "payoffs and population by strategy, per generation", _generation_figure),
    ),
    timeline=ViewTimeline(unit="round"),  # how societas view counts steps
)
