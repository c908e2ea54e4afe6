"""Costly punishment: how often donors punish, and whom.

Punishment sustains a norm only if it lands on those who broke it. Splitting punishments by
the target's record (stingy, generous, or unknown) separates norm enforcement from spite or
noise: a generous recipient being punished is antisocial punishment.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from scenarios.donor_game.analysis.reputation import TARGET_CLASSES, target_class

COLUMNS = ["acts", "punishments", "rate", "share"]


def punishment_use(
    pairs: pd.DataFrame, cutoff: float = 0.25, *, per_generation: bool = True
) -> pd.DataFrame:
    """Per generation and target class: acts, punishments, rate and share of punishments.

    `pairs` are `gift_pairs` rows (each with the recipient's last share and the donor's
    action). Target classes follow `target_class(cutoff)`; an extra class 'all' sums them.
    `rate` is punishments / acts toward that class; `share` is that class's part of the
    generation's punishments (NaN when there were none). Rows are indexed by
    (generation, target) in the order no record, stingy, generous, all. With
    `per_generation=False` all generations are pooled and the index is the target alone.
    """
    frame = pd.DataFrame({
        "generation": (pairs["generation"].astype(int).to_numpy() if per_generation
                       else np.zeros(len(pairs), dtype=int)),
        "target": target_class(pairs["recipient_last"], cutoff).astype(str).to_numpy(),
        "punished": (pairs["action"] == "punish").astype(int).to_numpy(),
    })
    classes = [*TARGET_CLASSES, "all"]
    rows = []
    for generation, group in frame.groupby("generation"):
        total = int(group["punished"].sum())
        for target in classes:
            part = group if target == "all" else group[group["target"] == target]
            acts, punished = len(part), int(part["punished"].sum())
            rows.append({
                "generation": generation, "target": target, "acts": acts,
                "punishments": punished,
                "rate": punished / acts if acts else float("nan"),
                "share": punished / total if total else float("nan"),
            })
    result = pd.DataFrame(rows, columns=["generation", "target", *COLUMNS])
    if not per_generation:
        return result.drop(columns="generation").set_index("target")
    return result.set_index(["generation", "target"])
