"""Speed and quality of the offline embedders: texts per second on memory-like sentences, and
how many of 8 reworded queries find their own document (`sim.memory.embedding_probe`).

Texts are distinct (no cache hits). The last line printed is hashing texts/s, MiniLM texts/s and
both probe hit counts; MiniLM is skipped when its weights package is not installed.

    python benchmarks/embedders.py [--hashing-texts 100000] [--minilm-texts 300]
"""

from __future__ import annotations

import argparse
import os
import random
import time

from sim.memory.embedding_probe import probe_hits
from sim.memory.embeddings import HashingEmbedder, MiniLMEmbedder

NAMES = [f"g{g}-a{i:02d}" for g in range(10) for i in range(12)]
TEMPLATES = [
    "In round {round}, {a} gave {p}% of their resources to {b}.",
    "{a} refused to give anything to {b} after {b} had punished someone.",
    "I was the recipient and {a} gave me {p}% of what they had.",
    "{a} spent {p}% of their resources punishing {b} in game {game}.",
]


def memory_texts(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return [
        rng.choice(TEMPLATES).format(a=rng.choice(NAMES), b=rng.choice(NAMES),
                                     p=rng.randint(0, 100), round=rng.randint(1, 12),
                                     game=rng.randint(1, 2)) + f" ({i})"
        for i in range(n)
    ]


def rate(embedder, texts: list[str], chunk: int) -> tuple[float, float]:
    """(texts per wall second, texts per CPU second of this process)."""
    started, started_cpu = time.perf_counter(), time.process_time()
    for start in range(0, len(texts), chunk):
        embedder.embed(texts[start : start + chunk])
    wall, cpu = time.perf_counter() - started, time.process_time() - started_cpu
    return len(texts) / wall, len(texts) / cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hashing-texts", type=int, default=100_000)
    parser.add_argument("--minilm-texts", type=int, default=300)
    args = parser.parse_args()

    hashing = HashingEmbedder()
    hashing.embed(memory_texts(1000, seed=1))  # warm the feature cache, as a run would
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    hashing_rate, hashing_cpu = rate(hashing, memory_texts(args.hashing_texts, seed=2), 1000)
    hashing_hits = probe_hits(hashing)
    print(f"{hashing.name}: {hashing_rate:,.0f} texts/s ({hashing_cpu:,.0f} per CPU second; "
          f"batches of 1000), probe {hashing_hits}/8")
    try:
        minilm = MiniLMEmbedder(cache_size=0)
    except ImportError as error:
        print(f"minilm: skipped ({error})")
        print(f"hashing_texts_per_s {hashing_rate:.0f} minilm_texts_per_s nan "
              f"hashing_probe {hashing_hits}/8 minilm_probe nan")
        return
    minilm.embed(memory_texts(5, seed=3))
    minilm_rate, minilm_cpu = rate(minilm, memory_texts(args.minilm_texts, seed=4), chunk=50)
    minilm_hits = probe_hits(minilm)
    print(f"minilm: {minilm_rate:,.1f} texts/s ({minilm_cpu:,.1f} per CPU second), "
          f"probe {minilm_hits}/8")
    print(f"hashing_texts_per_s {hashing_rate:.0f} minilm_texts_per_s {minilm_rate:.1f} "
          f"hashing_probe {hashing_hits}/8 minilm_probe {minilm_hits}/8")


if __name__ == "__main__":
    main()
