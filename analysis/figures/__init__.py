"""Figures every scenario's runs share: each function returns a matplotlib Figure.

Every function takes the frames the metrics produce (or that `load_many` pools across runs)
and an optional `ax` to draw into, so figures compose into panels and notebooks. Titles, axis
labels and legends are written to be read without a caption. Strategy colours come from one
`Palette` (`analysis.scenario.Palette`), so a label keeps its colour in every figure.
"""

from analysis.figures.headline import across_seeds, plot_headline
from analysis.figures.lineage import plot_lineage
from analysis.figures.strategies import (
    plot_cluster_shares,
    plot_strategy_shares,
    plot_text_similarity,
)

__all__ = [
    "across_seeds",
    "plot_cluster_shares",
    "plot_headline",
    "plot_lineage",
    "plot_strategy_shares",
    "plot_text_similarity",
]
