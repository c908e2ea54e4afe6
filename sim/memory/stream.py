"""The memory stream of Generative Agents (Park et al., 2023), kept in numpy and in the run.

Every agent owns a stream of natural-language records: what it observed, did and said, the
reflections it drew, its plans, and what it inherited from its parents. A `MemoryBank` holds all
streams of a run. It gives records run-wide ids (so a reflection or an inherited record can point
at records of any owner), embeds each record once when written (a batch per call of
`add_many`), writes it to the run store, and keeps each owner's importance, times and vectors in
numpy arrays so that retrieval (`sim.memory.retrieval`) scores all of them in one pass.

Store tables (defined on the run's `RunStore`):

- `memories`: one row per record, written on creation, with its embedding as base64 text of
  little-endian float32 (`decode_embedding` reads it); text rather than a BLOB because the
  store digests every row as JSON for its resume checks.
- `memory_evidence`: the links of a record: `evidence` for a reflection's supporting records,
  `inherited_from` for the parent records an inherited record came from.
- `memory_access`: one row per record returned by a retrieval, at the simulated time it was
  returned. A record's last-access time is the latest of its creation and these rows; keeping
  them append-only fits the store's one-transaction-per-round design and leaves the whole
  history of what each agent recalled, and when, for analysis.
- `memory_reflections`: one row per reflection an owner made: when, through which record id it
  consumed the importance counter, and how much importance that was.

`MemoryBank.load(store, ...)` rebuilds every stream from these tables, bit for bit (vectors are
read back, never recomputed), which is what a resumed run needs.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from sim.memory.embeddings import Embedder, EmbedderName
from sim.memory.retrieval import (
    RetrievalWeights,
    Scores,
    access_rank_recency,
    recency,
    top_k,
    weigh,
)
from sim.store import RunStore

MemoryKind = Literal["observation", "action", "conversation", "reflection", "plan", "inherited"]
MEMORY_KINDS: tuple[str, ...] = (
    "observation", "action", "conversation", "reflection", "plan", "inherited",
)
#: Kinds whose importance counts towards the next reflection: what the agent lived through.
#: Its own reflections do not (they would trigger reflections on reflections without end),
#: nor do inherited records (they are where it starts, not what happened to it).
COUNTED_KINDS = frozenset({"observation", "action", "conversation", "plan"})

MEMORY_TABLES: dict[str, dict[str, str]] = {
    "memories": {
        "memory_id": "INTEGER PRIMARY KEY",
        "owner": "TEXT",
        "generation": "INTEGER",
        "kind": "TEXT",
        "text": "TEXT",
        "importance": "INTEGER",  # 1-10
        "created": "REAL",  # simulated time
        "origin": "TEXT",  # inherited records: the parent agent id; else NULL
        "embedding": "TEXT",  # base64 of little-endian float32, the embedder's `dim` values
    },
    "memory_evidence": {
        "memory_id": "INTEGER",
        "evidence_id": "INTEGER",
        "relation": "TEXT",  # 'evidence' | 'inherited_from'
        "position": "INTEGER",  # order of the links of one record
    },
    "memory_access": {
        "memory_id": "INTEGER",
        "sim_time": "REAL",
    },
    "memory_reflections": {
        "owner": "TEXT",
        "sim_time": "REAL",
        "through_memory_id": "INTEGER",  # counted records up to this id were consumed
        "importance": "REAL",  # summed importance consumed
        "insights": "INTEGER",  # reflection records written
    },
}
EMBEDDER_META_KEY = "memory_embedder"

#: The settings each preset fills in when a config leaves them unset. "paper" is the
#: Generative Agents paper (UIST version); "released_code" is the authors' released code as it
#: ran the 25-agent town (see docs/memory.md for each value's source).
MEMORY_PRESETS: dict[str, dict[str, Any]] = {
    "paper": {
        "recency": "hours",
        "recency_weight": 1.0,
        "importance_weight": 1.0,
        "relevance_weight": 1.0,
        "recency_decay": 0.995,
        "reflection_threshold": 150,
        "evidence_per_question": 10,
        "focal_records": "recent",
        "reflection_counts": ["observation", "action", "conversation", "plan"],
        "retrieval_excludes": [],
    },
    "released_code": {
        "recency": "access_rank_as_released",
        "recency_weight": 0.5,
        "importance_weight": 2.0,
        "relevance_weight": 3.0,
        "recency_decay": 0.995,
        "reflection_threshold": 250,
        "evidence_per_question": 30,
        "focal_records": "since_reflection",
        "reflection_counts": ["observation"],
        "retrieval_excludes": ["conversation"],
    },
}
_EMBEDDING_DTYPE = np.dtype("<f4")


class MemoryConfig(BaseModel):
    """How memory retrieves, reflects and passes between generations.

    `preset` fills every setting the config leaves unset: "paper" (the default) follows the
    Generative Agents paper, "released_code" the authors' released code; a setting given
    explicitly wins, so one factor can be changed at a time.
    """

    model_config = ConfigDict(extra="forbid")  # a misspelt setting is an error, not a no-op

    preset: Literal["paper", "released_code"] = Field(
        "paper",
        description="Defaults for the retrieval and reflection settings: 'paper' (Park et al. "
        "2023) or 'released_code' (the authors' code, 25-agent run).",
    )
    embedder: EmbedderName = Field(
        "hashing",
        description="'hashing' (fast, lexical), 'minilm' (semantic; needs the 'memory' extra) "
        "or a litellm embedding model string.",
    )
    recency: Literal["hours", "access_rank", "access_rank_as_released"] = Field(
        "hours",
        description="Recency: decay ** hours since last access (the paper); decay ** rank "
        "by last access, most recent first ('access_rank'); or the released code's ranking as "
        "written, which gives the least recently accessed record the highest recency.",
    )
    recency_weight: float = Field(1.0, ge=0, description="Weight of recency in retrieval.")
    importance_weight: float = Field(1.0, ge=0, description="Weight of importance in retrieval.")
    relevance_weight: float = Field(1.0, ge=0, description="Weight of relevance in retrieval.")
    recency_decay: float = Field(
        0.995, gt=0, le=1,
        description="Recency factor per simulated hour since last access (or per rank).",
    )
    hours_per_time_unit: float = Field(
        1.0, gt=0, description="Simulated hours in one unit of the SimPy clock."
    )
    retrieve_k: int = Field(10, ge=1, description="Records returned by a retrieval.")
    retrieval_excludes: list[str] = Field(
        default_factory=list,
        description="Record kinds never retrieved (the released code skips conversations).",
    )
    reflection_threshold: float = Field(
        150, gt=0, description="Reflect once the importance of new records reaches this sum."
    )
    reflection_counts: list[str] = Field(
        default_factory=lambda: ["observation", "action", "conversation", "plan"],
        description="Record kinds whose importance counts towards the next reflection (the "
        "released code counts only perceived events: observations).",
    )
    focal_records: Literal["recent", "since_reflection"] = Field(
        "recent",
        description="What focal questions are drawn from: the `reflection_window` most recent "
        "records (the paper: 100), or the records since the last reflection (the code).",
    )
    reflection_window: int = Field(
        100, ge=1, description="Most recent records the focal questions are drawn from."
    )
    focal_questions: int = Field(3, ge=1, description="Questions asked per reflection.")
    evidence_per_question: int = Field(
        10, ge=1, description="Records retrieved for each focal question."
    )
    insights_per_question: int = Field(5, ge=1, description="Insights asked for per question.")
    inheritance: Literal["none", "strategy", "reflections", "summary"] = Field(
        "none",
        description="What a new agent starts with: nothing; its parents' strategy texts; their "
        "top reflections; or a summary each parent's brain writes for it.",
    )
    inherit_top_k: int = Field(
        3, ge=1, description="Reflections per parent inherited or shown to a summarising parent."
    )
    inherited_importance: int = Field(
        8, ge=1, le=10, description="Importance of an inherited strategy or summary record."
    )
    summary_max_chars: int = Field(600, ge=20, description="Longest heir summary kept.")

    @model_validator(mode="before")
    @classmethod
    def _apply_preset(cls, data: Any) -> Any:
        if isinstance(data, dict):
            preset = MEMORY_PRESETS.get(data.get("preset", "paper"))
            if preset is not None:  # an unknown preset is reported by its own field
                data = {**preset, **data}
        return data

    @model_validator(mode="after")
    def _known_kinds(self) -> MemoryConfig:
        for key in ("retrieval_excludes", "reflection_counts"):
            unknown = sorted(set(getattr(self, key)) - set(MEMORY_KINDS))
            if unknown:
                raise ValueError(f"{key}: unknown record kind(s) {unknown} (known: "
                                 f"{', '.join(MEMORY_KINDS)})")
        return self

    def weights(self) -> RetrievalWeights:
        return RetrievalWeights(
            self.recency_weight, self.importance_weight, self.relevance_weight,
            self.recency_decay,
        )

    def retrievable_kinds(self) -> tuple[str, ...] | None:
        """The kinds retrieval considers (None: all)."""
        if not self.retrieval_excludes:
            return None
        return tuple(kind for kind in MEMORY_KINDS if kind not in self.retrieval_excludes)


@dataclass(frozen=True)
class MemoryRecord:
    """One memory. `evidence`: ids it rests on (reflections) or came from (inherited)."""

    memory_id: int
    owner: str
    text: str
    kind: str
    importance: int
    created: float
    generation: int = 0
    evidence: tuple[int, ...] = ()
    origin: str | None = None

    @property
    def relation(self) -> str:
        """How this record's `evidence` links are named in the store."""
        return "inherited_from" if self.kind == "inherited" else "evidence"


@dataclass(frozen=True)
class NewMemory:
    """A record to write. `embedding` reuses a known vector (an inherited copy) instead of
    embedding the text again."""

    owner: str
    text: str
    kind: str
    importance: int
    generation: int = 0
    evidence: tuple[int, ...] = ()
    origin: str | None = None
    embedding: np.ndarray | None = None


@dataclass(frozen=True)
class Retrieved:
    """A retrieved record, its rank (0 = best), total score and normalised components."""

    record: MemoryRecord
    rank: int
    score: float
    recency: float
    importance: float
    relevance: float


@dataclass(frozen=True)
class ReflectionMark:
    """What a reflection in progress will consume from its owner's importance counter."""

    owner: str
    through_memory_id: int
    importance: float


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

    # -- arrays -------------------------------------------------------------------------
    def _append(self, record: MemoryRecord, vector: np.ndarray, last_access: float) -> None:
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


class MemoryBank:
    """Every agent's memory stream in one run; see the module docstring."""

    def __init__(
        self,
        embedder: Embedder,
        config: MemoryConfig | None = None,
        store: RunStore | None = None,
    ) -> None:
        self.embedder = embedder
        self.config = config or MemoryConfig()
        self.store = store
        self.weights = self.config.weights()
        self.streams: dict[str, MemoryStream] = {}
        self._owner_of: dict[int, str] = {}
        self._next_id = 0
        if store is not None:
            for name, columns in MEMORY_TABLES.items():
                store.define_table(name, columns)
            recorded = store.get_meta(EMBEDDER_META_KEY)
            if recorded is None:
                if not isinstance(embedder, _StoredVectors):  # reading writes nothing
                    store.set_meta(EMBEDDER_META_KEY, embedder.name)
            elif recorded != embedder.name:
                raise ValueError(
                    f"this run's memories were embedded with {recorded!r}, not "
                    f"{embedder.name!r}: vectors of different embedders cannot be compared"
                )

    # -- reading --------------------------------------------------------------------------
    def stream(self, owner: str) -> MemoryStream:
        """The owner's stream (an empty one for an owner with no memories yet)."""
        stream = self.streams.get(owner)
        if stream is None:
            stream = self.streams[owner] = MemoryStream(
                owner, self.embedder.dim, frozenset(self.config.reflection_counts)
            )
        return stream

    def get(self, memory_id: int) -> MemoryRecord:
        return self.streams[self._owner_of[memory_id]].get(memory_id)

    def __contains__(self, memory_id: int) -> bool:
        return memory_id in self._owner_of

    def vector(self, memory_id: int) -> np.ndarray:
        return self.streams[self._owner_of[memory_id]].vector(memory_id)

    def last_access(self, memory_id: int) -> float:
        return self.streams[self._owner_of[memory_id]].last_access(memory_id)

    def __len__(self) -> int:
        return self._next_id

    # -- writing --------------------------------------------------------------------------
    def add(
        self,
        owner: str,
        text: str,
        *,
        kind: str,
        importance: int,
        now: float,
        generation: int = 0,
        evidence: Sequence[int] = (),
        origin: str | None = None,
    ) -> MemoryRecord:
        """Write one record; prefer `add_many` for several (one embedding batch)."""
        item = NewMemory(owner, text, kind, importance, generation, tuple(evidence), origin)
        return self.add_many([item], now=now)[0]

    def add_many(self, items: Sequence[NewMemory], *, now: float) -> list[MemoryRecord]:
        """Write records created at simulated time `now`, embedding their texts in one batch.

        Ids are given in the order of `items`. Evidence must name existing records (or
        earlier items of the same call), so every stored link resolves.
        """
        for item in items:
            _check(item)
        to_embed = [i for i, item in enumerate(items) if item.embedding is None]
        vectors = np.empty((len(items), self.embedder.dim), dtype=np.float32)
        if to_embed:
            vectors[to_embed] = self.embedder.embed([items[i].text for i in to_embed])
        for i, item in enumerate(items):
            if item.embedding is not None:
                vectors[i] = np.asarray(item.embedding, dtype=np.float32)
        records = []
        for item, vector in zip(items, vectors, strict=True):
            missing = [e for e in item.evidence if e not in self._owner_of]
            if missing:
                raise ValueError(f"evidence {missing} does not name existing memories")
            record = MemoryRecord(
                self._next_id, item.owner, item.text, item.kind, int(item.importance),
                float(now), item.generation, tuple(int(e) for e in item.evidence), item.origin,
            )
            self._next_id += 1
            self._owner_of[record.memory_id] = record.owner
            self.stream(record.owner)._append(record, vector, record.created)
            records.append(record)
        self._write(records, vectors)
        return records

    def _write(self, records: list[MemoryRecord], vectors: np.ndarray) -> None:
        if self.store is None or not records:
            return
        self.store.insert("memories", [
            {
                "memory_id": r.memory_id, "owner": r.owner, "generation": r.generation,
                "kind": r.kind, "text": r.text, "importance": r.importance,
                "created": r.created, "origin": r.origin,
                "embedding": encode_embedding(v),
            }
            for r, v in zip(records, vectors, strict=True)
        ])
        self.store.insert("memory_evidence", [
            {"memory_id": r.memory_id, "evidence_id": e, "relation": r.relation,
             "position": position}
            for r in records for position, e in enumerate(r.evidence)
        ])

    # -- retrieval ------------------------------------------------------------------------
    def embed_queries(self, queries: Sequence[str]) -> np.ndarray:
        """Embed several query texts in one batch (for `retrieve(query=vector)`)."""
        return self.embedder.embed(list(queries))

    def retrieve(
        self,
        owner: str,
        query: str | np.ndarray | None,
        *,
        now: float,
        k: int | None = None,
        kinds: Iterable[str] | None = None,
    ) -> list[Retrieved]:
        """The owner's k best records for `query` (text, vector, or None for no relevance) at
        simulated time `now`, best first; their last-access time becomes `now` (persisted)."""
        stream = self.streams.get(owner)
        if stream is None or len(stream) == 0:
            return []
        if isinstance(query, str):
            query = self.embedder.embed([query])[0]
        config = self.config
        found = stream.best(
            query, now, config.retrieve_k if k is None else k, self.weights,
            config.hours_per_time_unit,
            config.retrievable_kinds() if kinds is None else kinds, config.recency,
        )
        ids = [hit.record.memory_id for hit in found]
        stream.touch(ids, now)
        if self.store is not None and ids:
            self.store.insert(
                "memory_access", [{"memory_id": i, "sim_time": float(now)} for i in ids]
            )
        return found

    def top_reflections(self, owner: str, k: int) -> list[MemoryRecord]:
        """The owner's k reflections of highest importance, then most recently accessed,
        then newest (what the `reflections` inheritance policy passes on)."""
        stream = self.streams.get(owner)
        if stream is None:
            return []
        reflections = stream.of_kind("reflection")
        reflections.sort(key=lambda r: (-r.importance, -stream.last_access(r.memory_id),
                                        -r.memory_id))
        return reflections[:k]

    # -- reflection bookkeeping -------------------------------------------------------------
    def begin_reflection(self, owner: str) -> ReflectionMark:
        """Note what a reflection starting now will consume; blocks a second one meanwhile."""
        stream = self.stream(owner)
        stream.reflecting = True
        counted = np.flatnonzero(stream._counted[: len(stream)])
        through = int(stream._ids[counted[-1]]) if counted.size else -1
        return ReflectionMark(owner, through, stream.importance_since_reflection)

    def finish_reflection(self, mark: ReflectionMark, *, now: float, insights: int) -> None:
        """Consume the importance counted up to the mark (records written while reflecting
        keep counting towards the next reflection) and record the reflection."""
        stream = self.stream(mark.owner)
        stream.importance_since_reflection -= mark.importance
        stream.reflecting = False
        stream.reflected_through = max(stream.reflected_through, mark.through_memory_id)
        if self.store is not None:
            self.store.insert("memory_reflections", [{
                "owner": mark.owner, "sim_time": float(now),
                "through_memory_id": mark.through_memory_id, "importance": mark.importance,
                "insights": insights,
            }])

    # -- resume ---------------------------------------------------------------------------
    @classmethod
    def load(
        cls,
        store: RunStore,
        embedder: Embedder | None = None,
        config: MemoryConfig | None = None,
    ) -> MemoryBank:
        """Rebuild every stream from a run's store: records, vectors, links, access times and
        reflection counters, exactly as they were at the store's last commit.

        Without an embedder the bank is for reading (inspecting a run): everything works but
        embedding new text, so no embedder package is needed to look at a MiniLM run.
        """
        if embedder is None:
            embedder = _StoredVectors.of(store)
        bank = cls(embedder, config, store)
        links: dict[int, list[int]] = {}
        for memory_id, evidence_id in store.rows(
            "SELECT memory_id, evidence_id FROM memory_evidence ORDER BY memory_id, position"
        ):
            links.setdefault(memory_id, []).append(evidence_id)
        accessed = dict(store.rows(
            "SELECT memory_id, MAX(sim_time) FROM memory_access GROUP BY memory_id"
        ))
        consumed = dict(store.rows(
            "SELECT owner, MAX(through_memory_id) FROM memory_reflections GROUP BY owner"
        ))
        for row in store.rows(
            "SELECT memory_id, owner, generation, kind, text, importance, created, origin, "
            "embedding FROM memories ORDER BY memory_id"
        ):
            memory_id, owner, generation, kind, text, importance, created, origin, blob = row
            vector = decode_embedding(blob)
            if vector.shape[0] != embedder.dim:
                raise ValueError(
                    f"stored memory {memory_id} has {vector.shape[0]} dimensions, "
                    f"the embedder {embedder.dim}"
                )
            record = MemoryRecord(memory_id, owner, text, kind, importance, created,
                                  generation, tuple(links.get(memory_id, ())), origin)
            stream = bank.stream(owner)
            stream._append(record, vector, max(created, accessed.get(memory_id, created)))
            bank._owner_of[memory_id] = owner
            bank._next_id = memory_id + 1
        for owner, stream in bank.streams.items():
            through = consumed.get(owner)
            if through is not None:
                stream.reflected_through = through
                n = len(stream)
                done = stream._counted[:n] & (stream._ids[:n] <= through)
                stream.importance_since_reflection -= float(stream._importance[:n][done].sum())
        return bank


class _StoredVectors:
    """Stands in for the embedder a run used, when only its stored vectors are needed."""

    def __init__(self, name: str, dim: int) -> None:
        self.name, self.dim = name, dim

    @classmethod
    def of(cls, store: RunStore) -> _StoredVectors:
        for name, columns in MEMORY_TABLES.items():
            store.define_table(name, columns)
        row = store.rows("SELECT embedding FROM memories LIMIT 1")
        dim = decode_embedding(row[0][0]).shape[0] if row else 0
        return cls(store.get_meta(EMBEDDER_META_KEY) or "none", dim)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        raise RuntimeError(
            f"this memory bank was loaded for reading; embedding text needs the run's "
            f"embedder ({self.name})"
        )


def encode_embedding(vector: np.ndarray) -> str:
    """A vector as stored in `memories.embedding`: base64 of little-endian float32."""
    return base64.b64encode(np.asarray(vector, dtype=_EMBEDDING_DTYPE).tobytes()).decode("ascii")


def decode_embedding(text: str) -> np.ndarray:
    """The float32 vector of a `memories.embedding` cell."""
    return np.frombuffer(base64.b64decode(text), dtype=_EMBEDDING_DTYPE).astype(np.float32)


def _check(item: NewMemory) -> None:
    if item.kind not in MEMORY_KINDS:
        raise ValueError(f"unknown memory kind {item.kind!r}; expected one of {MEMORY_KINDS}")
    if not 1 <= int(item.importance) <= 10 or int(item.importance) != item.importance:
        raise ValueError(f"importance must be an integer from 1 to 10, got {item.importance!r}")
