"""Figures of cooperation and norm emergence: each function returns a matplotlib Figure.

Every function takes the frames the metrics produce (or that `load_many` pools across runs)
and an optional `ax` (or `axes`) to draw into, so figures compose into panels and notebooks.
Titles, axis labels and legends are written to be read without a caption.
"""

from analysis.figures.cooperation import plot_comparison, plot_cooperation_across_seeds
from analysis.figures.lineage import plot_lineage
from analysis.figures.reputation import plot_gift_heatmap
from analysis.figures.strategies import (
    plot_cluster_shares,
    plot_strategy_shares,
    plot_text_similarity,
)

__all__ = [
    "plot_cluster_shares",
    "plot_comparison",
    "plot_cooperation_across_seeds",
    "plot_gift_heatmap",
    "plot_lineage",
    "plot_strategy_shares",
    "plot_text_similarity",
]
