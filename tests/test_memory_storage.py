"""Embeddings are stored as compact BLOBs, exactly; runs written with base64 text still load,
replay and resume as they were written."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from run_helpers import query, quiet

import sim.memory.bank as bank
import sim.runs.progress
from sim import get_scenario, load_config, snapshot
from sim.cli import main
from sim.memory.embeddings import HashingEmbedder
from sim.memory.records import decode_embedding, encode_embedding, encode_embedding_as_text
from sim.runs.replay import replay_run
from sim.runs.runner import resume_run, run_scenario

SCENARIO = get_scenario("donor-game")
VALUES = {"agents": 4, "generations": 2, "rounds": 3, "games": 1, "memory": True, "seed": 2}


def same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    return a.dtype == b.dtype and a.tobytes() == b.tobytes()


def test_embeddings_are_compact_and_read_back_bit_for_bit() -> None:
    hashed = HashingEmbedder().embed(["Ann saw Ben at the cafe and talked about the party"])[0]
    dense = np.random.default_rng(0).standard_normal(384).astype(np.float32)
    dense[3] = -0.0
    wide = np.zeros(70_000, dtype=np.float32)
    wide[[1, 69_999]] = [-0.0, 2.5]
    for vector in (hashed, dense, wide, np.zeros(8, dtype=np.float32)):
        stored = encode_embedding(vector)
        assert isinstance(stored, bytes) and same_bits(decode_embedding(stored), vector)
        assert same_bits(decode_embedding(encode_embedding_as_text(vector)), vector)
    assert len(encode_embedding(hashed)) < len(encode_embedding_as_text(hashed)) / 10
    assert len(encode_embedding(dense)) == 1 + 4 * 384  # dense: no bigger than float32
    with pytest.raises(ValueError, match="not a stored embedding"):
        decode_embedding(b"\x07abc")


def run(path: Path, **changes: object):
    config = load_config(SCENARIO.config_type, values={**VALUES, **changes})
    return run_scenario(SCENARIO, config, run_dir=path, options=quiet())


def test_new_runs_store_blobs(tmp_path: Path) -> None:
    run(tmp_path / "r")
    kinds = {k for (k,) in query(tmp_path / "r", "SELECT typeof(embedding) FROM memories")}
    assert kinds == {"blob"}


def test_a_run_with_base64_embeddings_loads_replays_and_resumes(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    with monkeypatch.context() as old_code:  # what runs were written with before
        old_code.setattr(bank, "encode_embedding", encode_embedding_as_text)
        whole = run(tmp_path / "whole").run_dir
        calls = {"n": 0}
        update = sim.runs.progress.Progress.update

        def interrupted(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            calls["n"] += 1
            if calls["n"] == 4:
                raise KeyboardInterrupt
            return update(self, *args, **kwargs)

        old_code.setattr(sim.runs.progress.Progress, "update", interrupted)
        cut = run(tmp_path / "cut")
    assert cut.status == "interrupted"
    assert {k for (k,) in query(whole, "SELECT typeof(embedding) FROM memories")} == {"text"}
    # today's code: replays the old run, resumes the cut one to the same store, inspects both
    assert replay_run(whole).checkpoints > 0
    resumed = resume_run(cut.run_dir, quiet())
    assert resumed.status == "finished" and resumed.replayed_checkpoints > 0
    assert snapshot(cut.run_dir / "run.sqlite") == snapshot(whole / "run.sqlite")
    (agent,) = query(whole, "SELECT owner FROM memories LIMIT 1")[0]
    assert main(["inspect", str(whole), "--agent", agent]) == 0
    assert "observation" in capsys.readouterr().out
