"""What a memory is, and how it is written down in a run's store.

The record types and the store's memory tables are the contract between the memory stream
(which writes them), a resumed run (which reads them back bit for bit) and `analysis` (which
reads them into pandas). They are kept apart from the stream's numpy bookkeeping so that
contract can be read on its own, and so readers need none of the stream's machinery.

Store tables (defined on the run's `RunStore` by `MemoryBank`):

- `memories`: one row per record, written on creation, with its embedding as a compact BLOB
  (`encode_embedding`): the vector's little-endian float32 values, or only its non-zero ones
  with their positions where that is smaller (a hashing embedder's vectors are mostly zeros),
  exactly either way, so a resumed run reads back the very vectors it wrote. Runs written
  before kept base64 text of the float32 values (about 3 KB a record, most of a town's
  store); `decode_embedding` reads both, and a bank that finds text in a store goes on
  writing text, so such a run resumes and replays as it was written.
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
import struct
from dataclasses import dataclass
from typing import Literal

import numpy as np

__all__ = [
    "COUNTED_KINDS", "EMBEDDER_META_KEY", "MEMORY_KINDS", "MEMORY_TABLES", "MemoryKind",
    "MemoryRecord", "NewMemory", "check_new", "decode_embedding", "encode_embedding",
    "encode_embedding_as_text",
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
        "embedding": "BLOB",  # the embedder's `dim` values as float32, see encode_embedding
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


#: The first byte of a stored embedding: every value, or the non-zero ones (with 16- or
#: 32-bit positions) after the dimension as a 32-bit count.
_DENSE, _SPARSE_16, _SPARSE_32 = b"\x00", b"\x01", b"\x02"


def encode_embedding(vector: np.ndarray) -> bytes:
    """A vector as stored in `memories.embedding`: a tag byte, then either every value as
    little-endian float32, or the dimension, the positions and the values of the non-zero
    ones, whichever is smaller. Lossless: `decode_embedding` gives back the same bits (a
    -0.0 is kept as a value)."""
    values = np.asarray(vector, dtype=_EMBEDDING_DTYPE).ravel()
    kept = np.flatnonzero(values.view("<u4"))  # by bits: -0.0 is not dropped
    wide = values.size > 0xFFFF
    if 5 + kept.size * (8 if wide else 6) < 4 * values.size:
        positions = kept.astype("<u4" if wide else "<u2")
        return ((_SPARSE_32 if wide else _SPARSE_16) + struct.pack("<I", values.size)
                + positions.tobytes() + values[kept].tobytes())
    return _DENSE + values.tobytes()


def encode_embedding_as_text(vector: np.ndarray) -> str:
    """A vector as runs written before compact embeddings stored it: base64 of its float32
    values (`MemoryBank` writes it only into a store that holds it already)."""
    return base64.b64encode(np.asarray(vector, dtype=_EMBEDDING_DTYPE).tobytes()).decode("ascii")


def decode_embedding(stored: bytes | str) -> np.ndarray:
    """The float32 vector of a `memories.embedding` cell, compact or (older runs) base64."""
    if isinstance(stored, str):
        return np.frombuffer(base64.b64decode(stored), dtype=_EMBEDDING_DTYPE).astype(np.float32)
    data = bytes(stored)
    tag, body = data[:1], data[1:]
    if tag == _DENSE:
        return np.frombuffer(body, dtype=_EMBEDDING_DTYPE).astype(np.float32)
    if tag not in (_SPARSE_16, _SPARSE_32) or len(body) < 4:
        raise ValueError(f"not a stored embedding (it starts with {tag!r})")
    (dim,) = struct.unpack("<I", body[:4])
    width = 2 if tag == _SPARSE_16 else 4
    count = (len(body) - 4) // (width + 4)
    positions = np.frombuffer(body, dtype="<u2" if width == 2 else "<u4", count=count,
                              offset=4)
    vector = np.zeros(dim, dtype=np.float32)
    vector[positions] = np.frombuffer(body, dtype=_EMBEDDING_DTYPE, count=count,
                                      offset=4 + width * count)
    return vector


def check_new(item: NewMemory) -> None:
    """Refuse a record no reader could make sense of: an unknown kind, or importance off the
    1-10 scale the retrieval formula and the reflection threshold assume."""
    if item.kind not in MEMORY_KINDS:
        raise ValueError(f"unknown memory kind {item.kind!r}; expected one of {MEMORY_KINDS}")
    if not 1 <= int(item.importance) <= 10 or int(item.importance) != item.importance:
        raise ValueError(f"importance must be an integer from 1 to 10, got {item.importance!r}")
