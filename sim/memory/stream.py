"""One owner's memory stream (Generative Agents, Park et al. 2023), kept in numpy arrays.

Every agent owns a stream of natural-language records: what it observed, did and said, the
reflections it drew, its plans, and what it inherited from its parents. The stream keeps each
record's importance, last-access time, kind and embedding in growable numpy arrays, so that
retrieval (`sim.memory.retrieval`) scores all of an owner's records in one pass: an agent with
100,000 memories still picks the ten worth a prompt in milliseconds. Ids, embedding and the
store are the bank's business (`sim.memory.bank`); the stream only keeps and scores.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from sim.memory.records import COUNTED_KINDS, MEMORY_KINDS, MemoryRecord
from sim.memory.retrieval import (
    RetrievalWeights,
    Scores,
    access_rank_recency,
    recency,
    top_k,
    weigh,
)

__all__ = ["MemoryStream", "Retrieved"]


@dataclass(frozen=True)
class Retrieved:
    """A retrieved record, its rank (0 = best), total score and normalised components."""

    record: MemoryRecord
    rank: int
    score: float
    recency: float
    importance: float
    relevance: float


class MemoryStream:
    """One owner's records, with their numbers in growable numpy arrays for retrieval."""

    def __init__(self, owner: str, dim: int, counted: frozenset[str] = COUNTED_KINDS) -> None:
        self.owner = owner
        self.dim = dim
        #: Kinds whose importance counts towards the next reflection.
        self.counted = counted
        self.records: list[MemoryRecord] = []
        self._row: dict[int, int] = {}
        capacity = 16
        self._ids = np.zeros(capacity, dtype=np.int64)
        self._importance = np.zeros(capacity, dtype=np.float64)
        self._last_access = np.zeros(capacity, dtype=np.float64)
        self._counted = np.zeros(capacity, dtype=bool)
        self._kind = np.zeros(capacity, dtype=np.int8)  # index into MEMORY_KINDS
        self._vectors = np.zeros((capacity, dim), dtype=np.float32)
        #: Summed importance of counted records not yet consumed by a reflection.
        self.importance_since_reflection = 0.0
        #: True while a reflection of this owner is under way (no second one starts).
        self.reflecting = False
        #: The last record id a finished reflection consumed (-1: none yet).
        self.reflected_through = -1

    def __len__(self) -> int:
        return len(self.records)

    def __contains__(self, memory_id: int) -> bool:
        return memory_id in self._row

    def get(self, memory_id: int) -> MemoryRecord:
        return self.records[self._row[memory_id]]

    def last_access(self, memory_id: int) -> float:
        return float(self._last_access[self._row[memory_id]])

    def vector(self, memory_id: int) -> np.ndarray:
        return self._vectors[self._row[memory_id]].copy()

    def recent(self, n: int) -> list[MemoryRecord]:
        """The n most recently written records, oldest first."""
        return self.records[-n:] if n > 0 else []

    def since_reflection(self) -> list[MemoryRecord]:
        """Records written after what the last reflection consumed (inherited ones aside):
        what the released code asks its focal questions about."""
        return [record for record in self.records
                if record.memory_id > self.reflected_through and record.kind != "inherited"]

    def of_kind(self, *kinds: str) -> list[MemoryRecord]:
        return [record for record in self.records if record.kind in kinds]

    def needs_reflection(self, threshold: float) -> bool:
        """True when the unconsumed importance has reached `threshold`."""
        return not self.reflecting and self.importance_since_reflection >= threshold

    def last_counted_id(self) -> int:
        """The id of the newest record that counts towards reflection (-1: none)."""
        counted = np.flatnonzero(self._counted[: len(self.records)])
        return int(self._ids[counted[-1]]) if counted.size else -1

    def counted_importance_through(self, memory_id: int) -> float:
        """Summed importance of the counted records with ids up to `memory_id`."""
        n = len(self.records)
        done = self._counted[:n] & (self._ids[:n] <= memory_id)
        return float(self._importance[:n][done].sum())

    # -- arrays -------------------------------------------------------------------------
    def append(self, record: MemoryRecord, vector: np.ndarray, last_access: float) -> None:
        """Keep a record the bank has numbered (and stored); only the bank calls this."""
        n = len(self.records)
        if n == self._ids.shape[0]:
            self._grow(2 * n)
        self._ids[n] = record.memory_id
        self._importance[n] = record.importance
        self._last_access[n] = last_access
        self._counted[n] = record.kind in self.counted
        self._kind[n] = MEMORY_KINDS.index(record.kind)
        self._vectors[n] = vector
        self._row[record.memory_id] = n
        self.records.append(record)
        if record.kind in self.counted:
            self.importance_since_reflection += record.importance

    def _grow(self, capacity: int) -> None:
        def grown(array: np.ndarray) -> np.ndarray:
            bigger = np.zeros((capacity, *array.shape[1:]), dtype=array.dtype)
            bigger[: array.shape[0]] = array
            return bigger

        self._ids, self._importance = grown(self._ids), grown(self._importance)
        self._last_access, self._counted = grown(self._last_access), grown(self._counted)
        self._kind, self._vectors = grown(self._kind), grown(self._vectors)

    def scores(
        self,
        query: np.ndarray | None,
        now: float,
        weights: RetrievalWeights,
        hours_per_time_unit: float = 1.0,
        kinds: Iterable[str] | None = None,
        recency_mode: str = "hours",
    ) -> tuple[np.ndarray, Scores]:
        """(candidate rows, their scores) for a query vector at simulated time `now`.

        `recency_mode` is `MemoryConfig.recency`: hours since last access, or a rank by it.
        """
        n = len(self.records)
        rows = None
        if kinds is not None:
            codes = [MEMORY_KINDS.index(kind) for kind in kinds]
            rows = np.flatnonzero(np.isin(self._kind[:n], codes))
        last_access = self._last_access[:n] if rows is None else self._last_access[rows]
        importance = self._importance[:n] if rows is None else self._importance[rows]
        if recency_mode == "hours":
            raw_recency = recency((now - last_access) * hours_per_time_unit,
                                  weights.decay_per_hour)
        else:
            ids = self._ids[:n] if rows is None else self._ids[rows]
            raw_recency = access_rank_recency(
                last_access, ids, weights.decay_per_hour,
                newest_first=recency_mode == "access_rank",
            )
        relevance = None
        if query is not None:
            vectors = self._vectors[:n] if rows is None else self._vectors[rows]
            # numpy's own single-threaded dot kernel: as fast as BLAS gemv here (both are bound
            # by reading the vectors) and immune to BLAS threads fighting over busy cores.
            relevance = np.einsum("ij,j->i", vectors, np.asarray(query, dtype=np.float32))
        return (np.arange(n) if rows is None else rows), weigh(
            raw_recency, importance, relevance, weights
        )

    def best(
        self,
        query: np.ndarray | None,
        now: float,
        k: int,
        weights: RetrievalWeights,
        hours_per_time_unit: float = 1.0,
        kinds: Iterable[str] | None = None,
        recency_mode: str = "hours",
    ) -> list[Retrieved]:
        """The k best records for the query, best first, without touching access times."""
        rows, s = self.scores(query, now, weights, hours_per_time_unit, kinds, recency_mode)
        chosen = top_k(s.total, self._ids[rows], k)
        return [
            Retrieved(self.records[rows[i]], rank, float(s.total[i]), float(s.recency[i]),
                      float(s.importance[i]), float(s.relevance[i]))
            for rank, i in enumerate(chosen)
        ]

    def touch(self, memory_ids: Sequence[int], now: float) -> None:
        """Set the last-access time of these records to `now`."""
        for memory_id in memory_ids:
            row = self._row[memory_id]
            self._last_access[row] = max(self._last_access[row], now)
