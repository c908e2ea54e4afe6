"""What a memory is, and how it is written down in a run's store.

The record types and the store's memory tables are the contract between the memory stream
(which writes them), a resumed run (which reads them back bit for bit) and `analysis` (which
reads them into pandas). They are kept apart from the stream's numpy bookkeeping so that
contract can be read on its own, and so readers need none of the stream's machinery.

Store tables (defined on the run's `RunStore` by `MemoryBank`):

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
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Literal

import numpy as np

__all__ = [
    "COUNTED_KINDS", "EMBEDDER_META_KEY", "MEMORY_KINDS", "MEMORY_TABLES", "MemoryKind",
    "MemoryRecord", "NewMemory", "check_new", "decode_embedding", "encode_embedding",
]

MemoryKind = Literal["observation", "action", "conversation", "reflection", "plan", "inherited",
                     "thought"]
#: `thought`: what an agent holds without having lived it just now: the clauses of its persona
#: as seed memories, a note to itself after a conversation (never counted towards reflection).
MEMORY_KINDS: tuple[str, ...] = (
    "observation", "action", "conversation", "reflection", "plan", "inherited", "thought",
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
_EMBEDDING_DTYPE = np.dtype("<f4")


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


def encode_embedding(vector: np.ndarray) -> str:
    """A vector as stored in `memories.embedding`: base64 of little-endian float32."""
    return base64.b64encode(np.asarray(vector, dtype=_EMBEDDING_DTYPE).tobytes()).decode("ascii")


def decode_embedding(text: str) -> np.ndarray:
    """The float32 vector of a `memories.embedding` cell."""
    return np.frombuffer(base64.b64decode(text), dtype=_EMBEDDING_DTYPE).astype(np.float32)


def check_new(item: NewMemory) -> None:
    """Refuse a record no reader could make sense of: an unknown kind, or importance off the
    1-10 scale the retrieval formula and the reflection threshold assume."""
    if item.kind not in MEMORY_KINDS:
        raise ValueError(f"unknown memory kind {item.kind!r}; expected one of {MEMORY_KINDS}")
    if not 1 <= int(item.importance) <= 10 or int(item.importance) != item.importance:
        raise ValueError(f"importance must be an integer from 1 to 10, got {item.importance!r}")
