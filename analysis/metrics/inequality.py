"""Inequality: the Gini coefficient, of any score, within each generation.

A generation can reach a high mean score with a few rich defectors living off many
cooperators; the Gini tells that apart from broad prosperity.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd


def gini(values: Iterable[float]) -> float:
    """Gini coefficient: mean absolute difference over all ordered pairs / (2 × mean).

    0 when everyone holds the same, (n − 1) / n when one agent holds everything. NaN for no
    values; 0 when everyone holds 0 (equal, if poor). Meant for non-negative values (payoffs,
    resources).
    """
    x = np.asarray(list(values), dtype=float)
    if x.size == 0:
        return float("nan")
    total = x.sum()
    if total == 0:
        return 0.0
    # sum_i sum_j |x_i - x_j| computed in O(n log n) from the sorted values
    x = np.sort(x)
    n = x.size
    ranks = np.arange(1, n + 1)
    pair_sum = 2.0 * np.sum((2 * ranks - n - 1) * x)
    return float(pair_sum / (2.0 * n * total))


def gini_by_generation(generation_scores: pd.DataFrame, column: str = "score") -> pd.Series:
    """Gini of the agents' `column` (by default the score selection ranked on) within each
    generation."""
    scores = pd.to_numeric(generation_scores[column]).astype(float)
    generation = generation_scores["generation"].astype(int)
    return scores.groupby(generation).agg(gini).rename("gini")
