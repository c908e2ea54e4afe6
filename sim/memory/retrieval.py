"""Retrieval scores of the Generative Agents memory stream, as whole-array numpy operations.

An agent with 100,000 memories must pick the ten worth putting in a prompt in milliseconds, so
nothing here loops over memories in Python. Kept apart from the stream's bookkeeping so the
formula can be read, tested and benchmarked on its own:

    score = w_rec * norm(recency) + w_imp * norm(importance) + w_rel * norm(relevance)
    recency    = decay ** hours since the record was last accessed
    relevance  = cosine(record embedding, query embedding)  (unit vectors: a dot product)
    norm(x)    = (x - min x) / (max x - min x) over the candidates; 0.5 for all when max = min

A component that is equal for every candidate cannot rank them; giving it the middle value
0.5 (rather than 0 or 1) keeps totals comparable without favouring anyone.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: The value a component takes for every candidate when it does not vary among them.
FLAT_COMPONENT = 0.5


@dataclass(frozen=True)
class RetrievalWeights:
    """Weights of the three components and the recency decay (the paper: all 1, 0.995/hour)."""

    recency: float = 1.0
    importance: float = 1.0
    relevance: float = 1.0
    decay_per_hour: float = 0.995

    def __post_init__(self) -> None:
        if not 0.0 < self.decay_per_hour <= 1.0:
            raise ValueError("decay_per_hour must be in (0, 1]")
        if min(self.recency, self.importance, self.relevance) < 0:
            raise ValueError("retrieval weights must not be negative")


@dataclass(frozen=True)
class Scores:
    """Per-candidate components (normalised) and their weighted total."""

    total: np.ndarray
    recency: np.ndarray
    importance: np.ndarray
    relevance: np.ndarray


def min_max(values: np.ndarray) -> np.ndarray:
    """Rescale to [0, 1] over the array; `FLAT_COMPONENT` everywhere when it is constant."""
    values = np.asarray(values)
    if values.size == 0:
        return values.astype(np.float64)
    low, high = float(values.min()), float(values.max())
    if high > low:
        # one float64 result array, filled in place: at 100,000 candidates every temporary
        # array costs about as much as the arithmetic (fresh pages)
        out = np.subtract(values, low, dtype=np.float64)
        out *= 1.0 / (high - low)
        return out
    return np.full(values.shape, FLAT_COMPONENT)


def recency(hours_since_access: np.ndarray, decay_per_hour: float) -> np.ndarray:
    """Exponential decay: 1 for a record accessed just now, decay**h after h hours."""
    hours = np.asarray(hours_since_access, dtype=np.float64)
    exponent = hours * np.log(decay_per_hour)
    return np.exp(exponent, out=exponent)  # = decay**hours, 4x faster than np.power


def access_rank_recency(
    last_access: np.ndarray, ids: np.ndarray, decay: float, *, newest_first: bool
) -> np.ndarray:
    """Recency as the Generative Agents code computes it: ``decay ** rank``, ranks 1..n over
    the candidates ordered by last access (ties by id), ignoring how much time has passed.

    `newest_first` gives the most recently accessed record rank 1 (the evident intent); the
    released code sorts oldest first, so its least recently accessed record scores highest.
    """
    n = last_access.shape[0]
    order = np.lexsort((ids, last_access))  # oldest access first
    if newest_first:
        order = order[::-1]
    rank = np.empty(n, dtype=np.float64)
    rank[order] = np.arange(1, n + 1)
    exponent = rank * np.log(decay)
    return np.exp(exponent, out=exponent)


def score(
    hours_since_access: np.ndarray,
    importance: np.ndarray,
    relevance: np.ndarray | None,
    weights: RetrievalWeights,
) -> Scores:
    """Score every candidate. `relevance` None (no query) makes that component flat."""
    return weigh(recency(hours_since_access, weights.decay_per_hour), importance, relevance,
                 weights)


def weigh(
    raw_recency: np.ndarray,
    importance: np.ndarray,
    relevance: np.ndarray | None,
    weights: RetrievalWeights,
) -> Scores:
    """Normalise the three components over the candidates and add them up, weighted."""
    rec = min_max(raw_recency)
    imp = min_max(importance)
    rel = np.full_like(rec, FLAT_COMPONENT) if relevance is None else min_max(relevance)
    total = np.multiply(rec, weights.recency)
    for component, weight in ((imp, weights.importance), (rel, weights.relevance)):
        if weight == 1.0:
            total += component
        elif weight:
            total += weight * component
    return Scores(total, rec, imp, rel)


def top_k(total: np.ndarray, ids: np.ndarray, k: int) -> np.ndarray:
    """Positions of the k best candidates, best first; equal scores go to the smaller id.

    `argpartition` finds the k-th best score in linear time; every candidate scoring at least
    that much is then sorted by (score desc, id asc), so ties at the cut are broken by id and
    the result never depends on the order candidates happen to be stored in.
    """
    n = total.shape[0]
    if k <= 0 or n == 0:
        return np.empty(0, dtype=np.int64)
    if k < n:
        cut = total[np.argpartition(total, n - k)[n - k:]].min()
        candidates = np.flatnonzero(total >= cut)
    else:
        candidates = np.arange(n)
    order = np.lexsort((ids[candidates], -total[candidates]))
    return candidates[order[:k]]
