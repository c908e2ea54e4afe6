"""The town's store per logged decision: prompts' paragraphs kept once and compact embeddings,
against the stores written before each.

One simulated day of an LLM town (the residents and scripted model of `town_day.py`, no
latency) is run three times with the same seed and replies: as Societas writes it now (each
paragraph of a logged prompt once, `sim.message_texts`; each memory's embedding a compact BLOB,
`sim.memory.records.encode_embedding`), with the prompts written out in every call as runs
stored them before (`llm_calls.messages`), and with that and embeddings as base64 text, as
runs were written before issue 24. The figure is the run's `run.sqlite` (closed: one file)
over its logged decisions; the script checks that the runs decided the same, that their
memories hold the same vectors and that the messages read back from the store now are exactly
the inline column.

Last lines: bytes per logged decision now (target < 2,048) and its ratio to each store before.

    python benchmarks/town_store.py [--residents 10]
"""

from __future__ import annotations

import argparse
import sqlite3
import tempfile
from contextlib import closing
from pathlib import Path

import numpy as np
from town_day import resident_model, town_file

import sim.memory.bank as bank
import sim.message_texts as message_texts
from sim.config import load_config
from sim.memory.records import decode_embedding, encode_embedding_as_text
from sim.registry import get_scenario
from sim.runs.runner import RunOptions, run_scenario
from sim.testing import ScriptedLLMServer

#: name -> (messages inline, embeddings as base64 text)
STORES = {"now": (False, False), "messages inline": (True, False),
          "before issue 24": (True, True)}


def day(tmp: Path, residents: int, server: ScriptedLLMServer, name: str) -> Path:
    scenario = get_scenario("town")
    config = load_config(scenario.config_type, values={
        "model": "openai/scripted", "api_base": server.url, "days": 1, "seed": 0,
        "town_file": str(town_file(tmp / "town.toml", residents)),
        "max_concurrency": residents,
        "intentions": [{"agent": "p00", "topic": "party", "kind": "announcement",
                        "description": "is planning a party"}]})
    inline, as_text = STORES[name]
    original = bank.encode_embedding
    message_texts.NEW_STORES_INLINE = inline
    if as_text:
        bank.encode_embedding = encode_embedding_as_text
    try:
        result = run_scenario(scenario, config, run_dir=tmp / name.replace(" ", "-"),
                              options=RunOptions(use_cache=False, progress=False,
                                                 figures=False))
    finally:
        bank.encode_embedding = original
        message_texts.NEW_STORES_INLINE = False
    assert result.status == "finished", result.message
    return result.run_dir / "run.sqlite"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--residents", type=int, default=10)
    args = parser.parse_args()
    figures, vectors, messages = {}, {}, {}
    with tempfile.TemporaryDirectory() as tmp, ScriptedLLMServer(resident_model) as server:
        for name in STORES:
            path = day(Path(tmp), args.residents, server, name)
            with closing(sqlite3.connect(path)) as db:
                decisions = db.execute("SELECT COUNT(*) FROM decisions").fetchone()[0]
                vectors[name] = [decode_embedding(e) for (e,) in db.execute(
                    "SELECT embedding FROM memories ORDER BY memory_id")]
                messages[name] = message_texts.read_calls(db, ["messages"], "ORDER BY call_id")
            figures[name] = (path.stat().st_size, decisions)
    first = next(iter(STORES))
    for name in STORES:
        assert figures[name][1] == figures[first][1], "the days decided differently"
        assert messages[name] == messages[first], "the messages read back differ"
        assert len(vectors[name]) == len(vectors[first]) and all(
            np.array_equal(a, b) for a, b in zip(vectors[name], vectors[first], strict=True))
    per = {name: size / decisions for name, (size, decisions) in figures.items()}
    print(f"{args.residents} residents, one day: {figures[first][1]} logged decisions, "
          f"{len(vectors[first])} memories, {len(messages[first])} model calls")
    for name, (size, _) in figures.items():
        print(f"{name}: {size / 1e6:.2f} MB, {per[name]:,.0f} bytes per logged decision")
    print(f"town_store_bytes_per_decision {per['now']:.0f}")
    print(f"town_store_vs_inline_messages {per['now'] / per['messages inline']:.2f}")
    print(f"town_store_vs_before_issue_24 {per['now'] / per['before issue 24']:.2f}")


if __name__ == "__main__":
    main()
