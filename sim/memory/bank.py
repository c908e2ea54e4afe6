"""Every agent's memory stream in one run: ids, embedding, the store, and resuming.

A `MemoryBank` holds all streams of a run. It gives records run-wide ids (so a reflection or an
inherited record can point at records of any owner), embeds each record once when written (a
batch per call of `add_many`), writes it to the run store (tables in `sim.memory.records`), and
hands each owner's numbers to its `MemoryStream` for retrieval. It also keeps the reflection
counters that `sim.memory.reflection` consumes.

`MemoryBank.load(store, ...)` rebuilds every stream from the store's tables, bit for bit
(vectors are read back, never recomputed), which is what a resumed run needs.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from sim.memory.config import MemoryConfig
from sim.memory.embeddings import Embedder
from sim.memory.records import (
    EMBEDDER_META_KEY,
    MEMORY_TABLES,
    MemoryRecord,
    NewMemory,
    check_new,
    decode_embedding,
    encode_embedding,
    encode_embedding_as_text,
)
from sim.memory.stream import MemoryStream, Retrieved
from sim.store import RunStore

__all__ = ["MemoryBank", "ReflectionMark"]


@dataclass(frozen=True)
class ReflectionMark:
    """What a reflection in progress will consume from its owner's importance counter."""

    owner: str
    through_memory_id: int
    importance: float


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
        #: A store written before compact embeddings goes on as it was (base64 text), so it
        #: resumes and replays to the same digests.
        self._encode = encode_embedding
        if store is not None and store.rows(
                "SELECT typeof(embedding) FROM memories LIMIT 1") == [("text",)]:
            self._encode = encode_embedding_as_text

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
            check_new(item)
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
            self.stream(record.owner).append(record, vector, record.created)
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
                "embedding": self._encode(v),
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
        touch: bool = True,
    ) -> list[Retrieved]:
        """The owner's k best records for `query` (text, vector, or None for no relevance) at
        simulated time `now`, best first; their last-access time becomes `now` (persisted).

        `touch=False` looks without recalling: access times stay as they were and nothing is
        written, so measuring what an agent would say (an interview) leaves what it recalls
        later unchanged."""
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
        if not touch:
            return found
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
        return ReflectionMark(owner, stream.last_counted_id(), stream.importance_since_reflection)

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
        *,
        until: float | None = None,
    ) -> MemoryBank:
        """Rebuild every stream from a run's store: records, vectors, links, access times and
        reflection counters, exactly as they were at the store's last commit, or, with
        `until`, as they were at that simulated time (records created and retrievals made
        after it left out: what an agent could recall then).

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
        limit = float("inf") if until is None else float(until)
        accessed = dict(store.rows(
            "SELECT memory_id, MAX(sim_time) FROM memory_access WHERE sim_time <= ? "
            "GROUP BY memory_id", (limit,)
        ))
        consumed = dict(store.rows(
            "SELECT owner, MAX(through_memory_id) FROM memory_reflections WHERE sim_time <= ? "
            "GROUP BY owner", (limit,)
        ))
        for row in store.rows(
            "SELECT memory_id, owner, generation, kind, text, importance, created, origin, "
            "embedding FROM memories WHERE created <= ? ORDER BY memory_id", (limit,)
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
            stream.append(record, vector, max(created, accessed.get(memory_id, created)))
            bank._owner_of[memory_id] = owner
            bank._next_id = memory_id + 1
        for owner, stream in bank.streams.items():
            through = consumed.get(owner)
            if through is not None:
                stream.reflected_through = through
                stream.importance_since_reflection -= stream.counted_importance_through(through)
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
