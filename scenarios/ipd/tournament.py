"""The tournament's bookkeeping as pure functions: who meets whom, the ranking, and the Moran
process's birth and death, so tests can check each on hand-made input."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np


def round_robin(n: int, *, self_play: bool) -> list[tuple[int, int]]:
    """Every pair of the n players once (i <= j), in Axelrod's order: (0, 0), (0, 1), ...;
    with `self_play`, each player also meets itself."""
    return [(i, j) for i in range(n) for j in range(i, n) if self_play or i != j]


def ranking(players: Sequence[Mapping[str, str]], matches: Sequence[Mapping[str, Any]]
            ) -> list[dict[str, Any]]:
    """Rank the players on their mean score per turn over their matches, then wins.

    `players`: dicts with name, strategy and brain, in entry order (the last tie-break);
    `matches`: rows of the `matches` table. Self-play matches are left out, as in Axelrod's
    library, whose totals and wins this reproduces.
    """
    tally = {p["name"]: {"matches": 0, "score": 0.0, "turns": 0, "wins": 0, "cooperated": 0.0}
             for p in players}
    for match in matches:
        if match["player"] == match["opponent"]:
            continue
        sides = (("player", "score", "opponent_score", "cooperation"),
                 ("opponent", "opponent_score", "score", "opponent_cooperation"))
        for who, own, other, cooperation in sides:
            mine = tally[match[who]]
            mine["matches"] += 1
            mine["score"] += match[own]
            mine["turns"] += match["turns"]
            mine["wins"] += int(match[own] > match[other])
            mine["cooperated"] += match[cooperation] * match["turns"]
    order = {p["name"]: i for i, p in enumerate(players)}
    rows = []
    for p in players:
        t = tally[p["name"]]
        turns = t["turns"]
        rows.append({"player": p["name"], "strategy": p["strategy"], "brain": p["brain"],
                     "matches": t["matches"], "score": t["score"],
                     "score_per_turn": t["score"] / turns if turns else 0.0, "wins": t["wins"],
                     "cooperation": t["cooperated"] / turns if turns else 0.0})
    rows.sort(key=lambda r: (-r["score_per_turn"], -r["wins"], order[r["player"]]))
    for rank, row in enumerate(rows, start=1):
        row["rank"] = rank
    return rows


def moran_step(fitness: Sequence[float], rng: np.random.Generator) -> tuple[int, int]:
    """One birth-death step: (parent, dead) slot indices.

    The parent is drawn with probability proportional to its fitness (negative fitness counts
    as 0; if nobody has any, uniformly); the one who dies is drawn uniformly from the whole
    population, the parent included, as in Axelrod's `MoranProcess` (mode 'bd').
    """
    weights = np.clip(np.asarray(fitness, dtype=float), 0.0, None)
    n = weights.size
    if weights.sum() > 0:
        parent = int(rng.choice(n, p=weights / weights.sum()))
    else:
        parent = int(rng.integers(n))
    return parent, int(rng.integers(n))
