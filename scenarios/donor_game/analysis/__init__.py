"""The Donor Game's analysis: its tables, headline series, figures and report sections.

`ANALYSIS` is what the scenario declares on its `ScenarioSpec` (as
"scenarios.donor_game.analysis:ANALYSIS", so that running the game never imports this
plotting code); `analysis.load` and `societas report` read it. See docs/analysis.md.
"""

from __future__ import annotations

import pandas as pd

from analysis.run import Run
from scenarios.donor_game.tables import RUN_TABLES
from sim.scenario_analysis import HeadlineSeries, RunFigure, ScenarioAnalysis


def _donation_fraction(run: Run) -> pd.DataFrame:
    from analysis.metrics.cooperation import donation_fraction

    donations = run.table("donations")
    if donations.empty:
        return pd.DataFrame(columns=["generation", "value"])
    return donation_fraction(donations).rename("value").rename_axis("generation").reset_index()


def _final_resources(run: Run) -> pd.DataFrame:
    from analysis.metrics.cooperation import final_resources

    scores = run.generation_scores
    if scores.empty:
        return pd.DataFrame(columns=["generation", "value"])
    return final_resources(scores).rename("value").rename_axis("generation").reset_index()


def _figure(name: str):
    def draw(run: Run):
        from analysis import donor_game

        if name == "resources":
            return donor_game.plot_resources_per_round(run)
        if name == "donation":
            return donor_game.plot_donation_per_round(run)
        return donor_game.plot_per_generation(run)

    return draw


ANALYSIS = ScenarioAnalysis(
    tables=RUN_TABLES,
    headline=(
        HeadlineSeries("donation_fraction", "share of resources donated (punishment = 0)",
                       _donation_fraction, bounds=(0.0, 1.0)),
        HeadlineSeries("final_resources", "final resources (mean over the games)",
                       _final_resources),
    ),
    figures=(
        RunFigure("resources_per_round.png", "resources after each round", _figure("resources")),
        RunFigure("donation_per_round.png", "donation fraction in each round",
                  _figure("donation")),
        RunFigure("per_generation.png", "final resources and donation fraction per generation",
                  _figure("generation")),
    ),
)
