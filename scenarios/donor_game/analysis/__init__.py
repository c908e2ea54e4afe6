"""The Donor Game's analysis: its tables, headline series, figures and report sections, and
the metrics behind them (cooperation, reciprocity, reputation, punishment, per-round summaries).

`ANALYSIS` is what the scenario declares on its `ScenarioSpec` (as
"scenarios.donor_game.analysis:ANALYSIS", so that running the game never imports this
plotting code); `analysis.load` and `societas report` read it. See docs/analysis.md.
"""

from __future__ import annotations

import pandas as pd

from analysis.run import Run
from scenarios.donor_game.analysis.comparison import plot_comparison, plot_cooperation_across_seeds
from scenarios.donor_game.analysis.cooperation import (
    donation_fraction,
    final_resources,
    final_resources_of,
    per_generation,
)
from scenarios.donor_game.analysis.heatmap import plot_gift_heatmap
from scenarios.donor_game.analysis.punishment import punishment_use
from scenarios.donor_game.analysis.reciprocity import (
    DecisionsNotLogged,
    Reciprocity,
    gift_pairs,
    missing_decisions,
    pairs_from_run,
    reciprocity,
    reciprocity_by_generation,
    with_donor,
)
from scenarios.donor_game.analysis.report import (
    cooperation_section,
    punishment_section,
    reciprocity_section,
)
from scenarios.donor_game.analysis.reputation import (
    gift_by_reputation,
    reputation_bin,
    target_class,
)
from scenarios.donor_game.analysis.rounds import (
    draw_donor_game_figures,
    generation_summary,
    plot_donation_per_round,
    plot_per_generation,
    plot_resources_per_round,
    round_summary,
)
from scenarios.donor_game.analysis.tables import game_table
from scenarios.donor_game.analysis.view import PANELS, TIMELINE
from scenarios.donor_game.tables import RUN_TABLES
from sim.scenario_analysis import HeadlineSeries, ReportSection, RunFigure, ScenarioAnalysis

__all__ = [
    "ANALYSIS", "DecisionsNotLogged", "Reciprocity", "donation_fraction",
    "draw_donor_game_figures", "final_resources", "final_resources_of", "game_table",
    "generation_summary", "gift_by_reputation", "gift_pairs", "missing_decisions",
    "pairs_from_run", "per_generation", "plot_comparison", "plot_cooperation_across_seeds",
    "plot_donation_per_round", "plot_gift_heatmap", "plot_per_generation",
    "plot_resources_per_round", "punishment_use", "reciprocity", "reciprocity_by_generation",
    "reputation_bin", "round_summary", "target_class", "with_donor",
]


def _donation_fraction(run: Run) -> pd.DataFrame:
    donations = game_table(run, "donations")
    if donations.empty:
        return pd.DataFrame(columns=["generation", "value"])
    return donation_fraction(donations).rename("value").rename_axis("generation").reset_index()


def _final_resources(run: Run) -> pd.DataFrame:
    scores = run.generation_scores
    if scores.empty:
        return pd.DataFrame(columns=["generation", "value"])
    return final_resources(scores).rename("value").rename_axis("generation").reset_index()


ANALYSIS = ScenarioAnalysis(
    tables=RUN_TABLES,
    headline=(
        HeadlineSeries("donation_fraction", "share of resources donated (punishment = 0)",
                       _donation_fraction, bounds=(0.0, 1.0)),
        HeadlineSeries("final_resources", "final resources (mean over the games)",
                       _final_resources),
    ),
    figures=(
        RunFigure("resources_per_round.png", "resources after each round",
                  plot_resources_per_round),
        RunFigure("donation_per_round.png", "donation fraction in each round",
                  plot_donation_per_round),
        RunFigure("per_generation.png", "final resources and donation fraction per generation",
                  plot_per_generation),
    ),
    sections=(
        ReportSection("cooperation", "Cooperation", cooperation_section),
        ReportSection("reciprocity", "Reciprocity", reciprocity_section),
        ReportSection("punishment", "Punishment", punishment_section),
    ),
    panels=PANELS,
    timeline=TIMELINE,
)
