"""Metrics of cooperation and norm emergence, each a plain function over pandas frames.

Every function takes the tables it needs (not a `Run`), so it can be checked against a small
hand-made table and applied to a frame pooled from many runs alike; `from_run` helpers in each
module do the table plumbing for the common case of one run. `docs/analysis.md` defines each.
"""

from analysis.metrics.calls import call_statistics
from analysis.metrics.cooperation import donation_fraction, final_resources, per_generation
from analysis.metrics.inequality import gini, gini_by_generation
from analysis.metrics.lineage import founder_shares, lineage_edges, lineage_graph
from analysis.metrics.punishment import punishment_use
from analysis.metrics.reciprocity import (
    Reciprocity,
    gift_pairs,
    reciprocity,
    reciprocity_by_generation,
    with_donor,
)
from analysis.metrics.reputation import gift_by_reputation, reputation_bin, target_class
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
    "Reciprocity",
    "call_statistics",
    "cluster_shares",
    "donation_fraction",
    "final_resources",
    "founder_shares",
    "gift_by_reputation",
    "gift_pairs",
    "gini",
    "gini_by_generation",
    "lineage_edges",
    "lineage_graph",
    "per_generation",
    "punishment_use",
    "reciprocity",
    "reciprocity_by_generation",
    "reputation_bin",
    "similarity_matrix",
    "strategies_in_force",
    "strategy_clusters",
    "strategy_survival",
    "target_class",
    "text_convergence",
    "with_donor",
]
