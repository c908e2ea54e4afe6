"""How fast an agent recalls: the top 10 of 100,000 memories for one query, vectorised, against
a straightforward loop over the records computing the same scores.

The stream holds random unit vectors of MiniLM's dimension (384), importances 1-10 and creation
and last-access times spread over 1,000 simulated hours. The vectorised path is
`MemoryStream.best` (what `MemoryBank.retrieve` runs, minus writing access rows); the loop visits
every record in Python, computes recency, importance and relevance (a numpy dot per record, as
a plain implementation that keeps one vector per record would), min-max normalises, and sorts.
Both must return the same ten records with the same scores. The last line printed is the median
time of the vectorised retrieval in ms and its speed-up over the loop (targets: < 10 ms, >= 50x).

    python benchmarks/retrieval.py [--memories 100000] [--dim 384] [--repeats 30]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np

from sim.memory.bank import MemoryBank
from sim.memory.config import MemoryConfig
from sim.memory.records import NewMemory
from sim.memory.retrieval import FLAT_COMPONENT, RetrievalWeights
from sim.memory.stream import MemoryStream


class _NoEmbedder:
    """The benchmark supplies every vector itself."""

    name = "benchmark"

    def __init__(self, dim: int) -> None:
        self.dim = dim

    def embed(self, texts):  # pragma: no cover - never called
        raise AssertionError("the benchmark gives every vector")


def build_stream(n: int, dim: int, seed: int = 0) -> tuple[MemoryBank, MemoryStream]:
    rng = np.random.default_rng(seed)
    vectors = rng.standard_normal((n, dim), dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    importance = rng.integers(1, 11, n)
    created = np.sort(rng.uniform(0, 1000, n))
    bank = MemoryBank(_NoEmbedder(dim), MemoryConfig())
    # Written in chunks at their creation times (records are immutable; times are per call).
    for start in range(0, n, 1000):
        stop = min(start + 1000, n)
        bank.add_many(
            [NewMemory("agent", f"memory {i}", "observation", int(importance[i]),
                       embedding=vectors[i]) for i in range(start, stop)],
            now=float(created[stop - 1]),
        )
    stream = bank.stream("agent")
    touched = rng.choice(n, n // 10, replace=False)  # a tenth recalled recently
    stream.touch([int(stream.records[i].memory_id) for i in touched], 1000.0)
    return bank, stream


def loop_top_k(
    stream: MemoryStream, query: np.ndarray, now: float, k: int, w: RetrievalWeights
) -> list[tuple[int, float]]:
    """The per-record reference: one Python iteration per memory."""
    raw = []
    for record in stream.records:
        hours = now - stream.last_access(record.memory_id)
        vector = stream._vectors[stream._row[record.memory_id]]
        raw.append((record.memory_id, w.decay_per_hour ** hours, float(record.importance),
                    float(vector @ query)))

    def normalised(column: int) -> list[float]:
        values = [row[column] for row in raw]
        low, high = min(values), max(values)
        if high == low:
            return [FLAT_COMPONENT] * len(values)
        return [(v - low) / (high - low) for v in values]

    rec, imp, rel = normalised(1), normalised(2), normalised(3)
    scored = [(raw[i][0], w.recency * rec[i] + w.importance * imp[i] + w.relevance * rel[i])
              for i in range(len(raw))]
    scored.sort(key=lambda item: (-item[1], item[0]))
    return scored[:k]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--memories", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()

    bank, stream = build_stream(args.memories, args.dim)
    weights, k, now = bank.weights, 10, 1010.0
    query = np.random.default_rng(1).standard_normal(args.dim).astype(np.float32)
    query /= np.linalg.norm(query)

    for _ in range(3):  # warm caches and BLAS threads
        stream.best(query, now, k, weights)
    times, cpu = [], []
    for _ in range(args.repeats):
        started, started_cpu = time.perf_counter(), time.process_time()
        hits = stream.best(query, now, k, weights)
        times.append(time.perf_counter() - started)
        cpu.append(time.process_time() - started_cpu)
    vectorised = statistics.median(times)

    loop_times = []
    for _ in range(3):  # the baseline is noisy too: its median, like the vectorised one's
        started = time.perf_counter()
        reference = loop_top_k(stream, query, now, k, weights)
        loop_times.append(time.perf_counter() - started)
    looped = statistics.median(loop_times)

    assert [h.record.memory_id for h in hits] == [memory_id for memory_id, _ in reference]
    # Relevance is a float32 dot product either way, summed in a different order: scores agree
    # to float32 rounding, not to the last bit.
    gap = max(abs(h.score - s) for h, (_, s) in zip(hits, reference, strict=True))
    assert gap < 1e-6, gap
    print(f"memories={args.memories} dim={args.dim} k={k} repeats={args.repeats} "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"vectorised CPU time: median {statistics.median(cpu) * 1e3:.2f} ms "
          "(wall time above it means the cores were busy with other work)")
    print(f"vectorised: median {vectorised * 1e3:.2f} ms, best {min(times) * 1e3:.2f} ms; "
          f"per-record loop: {looped * 1e3:.0f} ms; same top {k}, scores within {gap:.1e}")
    print(f"top{k}_of_{args.memories}_ms {vectorised * 1e3:.2f} "
          f"speedup_vs_loop {looped / vectorised:.0f}")


if __name__ == "__main__":
    main()
