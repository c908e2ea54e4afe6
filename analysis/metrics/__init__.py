"""Metrics every scenario's runs share, each a plain function over pandas frames.

Every function takes the tables it needs (not a `Run`), so it can be checked against a small
hand-made table and applied to a frame pooled from many runs alike. They read the engine's
tables only (agents, llm_calls, decisions, strategies, generation_scores); a scenario's own
metrics live with it (the Donor Game's in `scenarios.donor_game.analysis`). `docs/analysis.md`
defines each.
"""

from analysis.metrics.calls import call_statistics
from analysis.metrics.inequality import gini, gini_by_generation
from analysis.metrics.lineage import founder_shares, lineage_edges, lineage_graph
from analysis.metrics.survival import strategy_survival
from analysis.metrics.texts import (
    Clusters,
    cluster_shares,
    similarity_matrix,
    strategies_in_force,
    strategy_clusters,
    text_convergence,
)

__all__ = [
    "Clusters",
    "call_statistics",
    "cluster_shares",
    "founder_shares",
    "gini",
    "gini_by_generation",
    "lineage_edges",
    "lineage_graph",
    "similarity_matrix",
    "strategies_in_force",
    "strategy_clusters",
    "strategy_survival",
    "text_convergence",
]
