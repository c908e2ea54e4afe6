"""Memory: the Generative Agents memory stream (Park et al. 2023) for any scenario's agents.

How the package reads, from the data to the behaviour:

- `records`: what a memory is (`MemoryRecord`, `NewMemory`) and the store tables it lives in;
- `config`: `MemoryConfig`, every retrieval, reflection and inheritance setting, with presets;
- `retrieval`: the score (recency + importance + relevance) as whole-array numpy;
- `stream`: one owner's records in numpy arrays; `bank`: every owner's, with ids, embedding,
  the store and resuming (`MemoryBank.load`);
- `embeddings` (with `minilm` and `embedding_probe`): turning text into vectors;
- `tasks`: the questions memory asks an agent's brain (importance, focal questions, insights,
  heir summaries), and `MemoryRules` so rule brains can answer them offline;
- `reflection` and `inheritance`: `remember`, `reflect`, `maybe_reflect` and `inherit`, the
  SimPy sub-processes a scenario's rules `yield from`.

Everything below is importable from `sim.memory` directly; see `docs/memory.md`.
"""

from sim._exports import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(globals(), {
    "sim.memory.records": (
        "MEMORY_KINDS", "MEMORY_TABLES", "MemoryRecord", "NewMemory", "decode_embedding",
        "encode_embedding",
    ),
    "sim.memory.config": ("MEMORY_PRESETS", "MemoryConfig"),
    "sim.memory.retrieval": ("RetrievalWeights",),
    "sim.memory.stream": ("MemoryStream", "Retrieved"),
    "sim.memory.bank": ("MemoryBank",),
    "sim.memory.embeddings": (
        "Embedder", "EmbeddingError", "HashingEmbedder", "LiteLLMEmbedder", "MiniLMEmbedder",
        "get_embedder",
    ),
    "sim.memory.tasks": (
        "FocalQuestions", "KeywordImportance", "MemoryContext", "MemoryRules", "RateImportance",
        "RateImportances",
        "WriteHeirSummary", "WriteInsights", "describe_memories",
    ),
    "sim.memory.reflection": ("maybe_reflect", "reflect", "remember"),
    "sim.memory.inheritance": ("INHERITANCE_POLICIES", "inherit"),
})
