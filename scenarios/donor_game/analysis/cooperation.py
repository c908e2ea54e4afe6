"""How much agents gave and how well they ended, per generation.

These are the paper's two headline curves: the mean share of resources donated and the mean
final resources of a generation. A punishment counts as giving 0 (the donor paid to harm, not
to help), as everywhere in `analysis`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.metrics.inequality import gini_by_generation
from analysis.run import Run
from scenarios.donor_game.analysis.tables import game_table


def gift_share(donations: pd.DataFrame) -> pd.Series:
    """Each act's share given: its `fraction` for a 'donate', 0 for a 'punish'."""
    fraction = pd.to_numeric(donations["fraction"], errors="coerce").astype(float)
    return pd.Series(np.where(donations["action"] == "donate", fraction, 0.0),
                     index=donations.index, name="given")


def donation_fraction(donations: pd.DataFrame) -> pd.Series:
    """Mean share given over every act of each generation (punishment = 0).

    Every agent donates equally often within a generation under both pairings, so this equals
    the mean over agents of each agent's mean share (`generation_summary`'s `mean_fraction`).
    """
    given = gift_share(donations)
    generation = donations["generation"].astype(int)
    return given.groupby(generation).mean().rename("donation_fraction")


def final_resources_of(generation_scores: pd.DataFrame) -> pd.Series:
    """Each agent's final resources averaged over its generation's games (the study's headline
    measure). Runs written before the `final_mean` column had it as their `score`."""
    score = pd.to_numeric(generation_scores["score"]).astype(float)
    if "final_mean" not in generation_scores:
        return score
    return pd.to_numeric(generation_scores["final_mean"]).astype(float).fillna(score)


def final_resources(generation_scores: pd.DataFrame) -> pd.Series:
    """Mean over a generation's agents of their final resources, averaged over games."""
    generation = generation_scores["generation"].astype(int)
    return final_resources_of(generation_scores).groupby(generation).mean().rename(
        "final_resources"
    )


def per_generation(run: Run) -> pd.DataFrame:
    """Donation fraction, final resources and their Gini, one row per generation."""
    donations, scores = game_table(run, "donations"), run.generation_scores
    parts = [
        donation_fraction(donations) if not donations.empty else None,
        final_resources(scores) if not scores.empty else None,
        gini_by_generation(scores.assign(final=final_resources_of(scores)), "final")
        if not scores.empty else None,
    ]
    frame = pd.concat([p for p in parts if p is not None], axis=1)
    frame = frame.reindex(columns=["donation_fraction", "final_resources", "gini"])
    frame.index = frame.index.astype(int)
    frame.index.name = "generation"
    return frame.sort_index()
