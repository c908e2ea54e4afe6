"""The town's store per logged decision: compact embeddings against base64 text.

One simulated day of an LLM town (the residents and scripted model of `town_day.py`, no
latency) is run twice with the same seed and replies: as Societas writes it now, each memory's
embedding a compact BLOB (`sim.memory.records.encode_embedding`), and with the base64 text of
its float32 values that runs were written with before. The figure is the run's `run.sqlite`
(closed: one file) over its logged decisions; the script checks that both runs decided the
same and that their memories hold the same vectors.

Last lines: bytes per logged decision now (target < 2,048) and its ratio to base64 text.

    python benchmarks/town_store.py [--residents 10]
"""

from __future__ import annotations

import argparse
import sqlite3
import tempfile
from pathlib import Path

import numpy as np
from town_day import resident_model, town_file

import sim.memory.bank as bank
from sim.config import load_config
from sim.memory.records import decode_embedding, encode_embedding_as_text
from sim.registry import get_scenario
from sim.runs.runner import RunOptions, run_scenario
from sim.testing import ScriptedLLMServer


def day(tmp: Path, residents: int, server: ScriptedLLMServer, name: str) -> Path:
    scenario = get_scenario("town")
    config = load_config(scenario.config_type, values={
        "model": "openai/scripted", "api_base": server.url, "days": 1, "seed": 0,
        "town_file": str(town_file(tmp / "town.toml", residents)),
        "max_concurrency": residents,
        "intentions": [{"agent": "p00", "topic": "party", "kind": "announcement",
                        "description": "is planning a party"}]})
    result = run_scenario(scenario, config, run_dir=tmp / name,
                          options=RunOptions(use_cache=False, progress=False, figures=False))
    assert result.status == "finished", result.message
    return result.run_dir / "run.sqlite"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--residents", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, ScriptedLLMServer(resident_model) as server:
        compact = day(Path(tmp), args.residents, server, "compact")
        original = bank.encode_embedding
        bank.encode_embedding = encode_embedding_as_text  # what runs were written with before
        try:
            text = day(Path(tmp), args.residents, server, "text")
        finally:
            bank.encode_embedding = original
        figures = {}
        vectors = {}
        for name, path in (("compact", compact), ("text", text)):
            with sqlite3.connect(path) as db:
                decisions = db.execute("SELECT COUNT(*) FROM decisions").fetchone()[0]
                vectors[name] = [decode_embedding(e) for (e,) in db.execute(
                    "SELECT embedding FROM memories ORDER BY memory_id")]
                kinds = {k for (k,) in db.execute("SELECT typeof(embedding) FROM memories")}
            figures[name] = (path.stat().st_size, decisions, kinds)
    assert figures["compact"][1] == figures["text"][1], "the two days decided differently"
    assert len(vectors["compact"]) == len(vectors["text"]) and all(
        np.array_equal(a, b) for a, b in zip(vectors["compact"], vectors["text"], strict=True))
    per = {name: size / decisions for name, (size, decisions, _) in figures.items()}
    print(f"{args.residents} residents, one day: {figures['compact'][1]} logged decisions, "
          f"{len(vectors['compact'])} memories")
    for name, (size, _, kinds) in figures.items():
        print(f"embeddings as {name} ({', '.join(sorted(kinds))}): {size / 1e6:.2f} MB, "
              f"{per[name]:,.0f} bytes per logged decision")
    print(f"town_store_bytes_per_decision {per['compact']:.0f}")
    print(f"town_store_vs_base64 {per['compact'] / per['text']:.2f}")


if __name__ == "__main__":
    main()
