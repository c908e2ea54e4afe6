"""Logged prompts keep each paragraph once (`sim.message_texts`): every reader gets back exactly
the `messages` column runs stored inline before, and runs stored inline still load, resume and
replay (inline, so their checkpoints verify)."""

from __future__ import annotations

import csv
import random
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from run_helpers import quiet

import sim.message_texts as message_texts
from analysis.run import load as load_run
from scenarios.donor_game.scripted_player import scripted_player
from sim import (
    Budget,
    RunStore,
    export_run,
    get_scenario,
    load_config,
    replay_run,
    resume_run,
    run_scenario,
    snapshot,
)
from sim.message_texts import read_calls, stores_inline
from sim.store import ENGINE_TABLES, to_json
from sim.testing import ScriptedLLMServer

SCENARIO = get_scenario("donor-game")
CALL_COLUMNS = [c for c in ENGINE_TABLES["llm_calls"] if c != "latency_s"]


def llm_run(tmp_path: Path, name: str, url: str, *, inline: bool, budget: int | None = None,
            monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(message_texts, "NEW_STORES_INLINE", inline)
    config = load_config(SCENARIO.config_type, values={
        "model": "openai/scripted", "api_base": url, "agents": 4, "generations": 2,
        "rounds": 2, "games": 1, "seed": 5, "timeout_s": 10.0})
    options = quiet(use_cache=False, budget=Budget(max_calls=budget) if budget else None)
    result = run_scenario(SCENARIO, config, run_dir=tmp_path / name, options=options)
    assert result.status == ("budget" if budget else "finished"), result.message
    return result.run_dir


def stored(run_dir: Path, sql: str) -> list[tuple]:
    with closing(sqlite3.connect(run_dir / "run.sqlite")) as db:
        return db.execute(sql).fetchall()


def logged(run_dir: Path) -> list[tuple]:
    with closing(sqlite3.connect(run_dir / "run.sqlite")) as db:
        return read_calls(db, CALL_COLUMNS, "ORDER BY call_id")


def test_expanding_the_references_gives_exactly_the_inline_messages_column(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with ScriptedLLMServer(scripted_player) as server:
        now = llm_run(tmp_path, "now", server.url, inline=False, monkeypatch=monkeypatch)
        before = llm_run(tmp_path, "before", server.url, inline=True, monkeypatch=monkeypatch)
    assert not stores_inline(sqlite3.connect(now / "run.sqlite"))
    inline = stored(before, "SELECT messages FROM llm_calls ORDER BY call_id")
    with closing(sqlite3.connect(now / "run.sqlite")) as db:
        expanded = read_calls(db, ["messages"], "ORDER BY call_id")
    assert expanded == inline and len(inline) > 10
    assert logged(now) == logged(before)  # every other column of every call, too
    # the rest of the store is as before; checkpoints hash the rows as stored
    now_tables, before_tables = snapshot(now / "run.sqlite"), snapshot(before / "run.sqlite")
    changed = {"llm_calls", "message_texts", "checkpoints"}
    assert {t: r for t, r in now_tables.items() if t not in changed} == {
        t: r for t, r in before_tables.items() if t not in changed}
    # stored once: fewer characters than the prompts written out in every call
    refs = stored(now, "SELECT SUM(LENGTH(message_refs)) FROM llm_calls")[0][0]
    texts = stored(now, "SELECT SUM(LENGTH(text)) FROM message_texts")[0][0]
    assert refs + texts < sum(len(m) for (m,) in inline) / 2
    # analysis and the export read the messages as sent
    frames = [load_run(run).llm_calls.drop(columns="latency_s") for run in (now, before)]
    assert frames[0].equals(frames[1]) and list(frames[0].columns) == CALL_COLUMNS
    files = [export_run(run, tmp_path / f"export-{run.name}") for run in (now, before)]
    assert [p.name for p in files[0]] == [p.name for p in files[1]]
    calls = [list(csv.DictReader((out / "llm_calls.csv").open(encoding="utf-8")))
             for out in (tmp_path / "export-now", tmp_path / "export-before")]
    for rows in calls:
        for row in rows:
            del row["latency_s"]
    assert calls[0] == calls[1]


def test_an_inline_run_resumes_and_replays_inline(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """A run stored before keeps its format when resumed by this code, and its checkpoints
    (digests of the inline rows) verify on resume and on replay."""
    with ScriptedLLMServer(scripted_player) as server:
        reference = llm_run(tmp_path, "reference", server.url, inline=True,
                            monkeypatch=monkeypatch)
        stopped = llm_run(tmp_path, "stopped", server.url, inline=True, budget=9,
                          monkeypatch=monkeypatch)
        monkeypatch.setattr(message_texts, "NEW_STORES_INLINE", False)
        resumed = resume_run(stopped, quiet(use_cache=False))
    assert resumed.status == "finished" and resumed.replayed_checkpoints > 0
    assert snapshot(stopped / "run.sqlite") == snapshot(reference / "run.sqlite")
    assert "message_texts" not in snapshot(stopped / "run.sqlite")
    replayed = replay_run(stopped)
    assert replayed.checkpoints > 0


def _call(call_id: int, messages: list[dict]) -> dict:
    return {"call_id": call_id, "request_id": call_id, "agent_id": "a", "sim_time": 0.0,
            "purpose": "decide", "messages": messages, "reply": "ok", "outcome": "ok"}


def test_ids_follow_committed_rounds_and_sessions_appended_later(tmp_path: Path) -> None:
    """A rolled-back round's paragraphs are forgotten (their rows never reach the file), and
    a session appended to a finished run numbers new paragraphs after the stored ones."""
    system = {"role": "system", "content": "You play a game.\n\nBe brief."}
    odd = {"role": "user", "content": "hi", "name": "someone"}  # not plain: kept whole
    with RunStore(tmp_path / "run.sqlite") as store:
        store.insert_calls([_call(0, [system, {"role": "user", "content": "Round 1."}])])
        store.commit()
        store.insert_calls([_call(1, [system, {"role": "user", "content": "Dropped."}])])
        store.rollback()
        store.insert_calls([_call(1, [system, {"role": "user", "content": "Round 2."}]),
                            _call(2, [system, odd])])
        store.commit()
    with RunStore(tmp_path / "run.sqlite") as store:
        store.append_after_last()
        store.insert_calls([_call(3, [system, {"role": "user", "content": "Asked."}])])
        store.commit()
    assert stored(tmp_path, "SELECT text_id, text FROM message_texts") == [
        (0, "You play a game."), (1, "Be brief."), (2, "Round 1."), (3, "Round 2."),
        (4, "Asked.")]
    assert [refs for (refs,) in stored(tmp_path, "SELECT message_refs FROM llm_calls")] == [
        '[["system",[0,1]],["user",[2]]]', '[["system",[0,1]],["user",[3]]]',
        '[["system",[0,1]],{"content":"hi","name":"someone","role":"user"}]',
        '[["system",[0,1]],["user",[4]]]']
    with closing(sqlite3.connect(tmp_path / "run.sqlite")) as db:
        assert [m for (m,) in read_calls(db, ["messages"], "ORDER BY call_id")] == [
            to_json([system, {"role": "user", "content": text}])
            for text in ("Round 1.", "Round 2.")] + [to_json([system, odd]), to_json(
                [system, {"role": "user", "content": "Asked."}])]


def test_remembered_whole_texts_give_the_ids_paragraphs_would(monkeypatch: pytest.MonkeyPatch
                                                               ) -> None:
    """`MessageTexts` remembers whole texts sent again once their paragraphs are committed;
    through commits and rollbacks it hands out exactly the ids it would without them."""
    rng = random.Random(0)
    paragraphs = [f"paragraph {i}" for i in range(20)]
    steps = []
    for _ in range(400):
        if rng.random() < 0.3:
            steps.append(rng.choice(["commit", "rollback"]))
        else:
            steps.append([{"role": rng.choice(["system", "user"]), "content": "\n\n".join(
                rng.sample(paragraphs, rng.randint(1, 3)))} for _ in range(rng.randint(1, 2))])

    def encoded(kept: int) -> list[Any]:
        monkeypatch.setattr(message_texts, "_REPEATED_KEPT", kept)
        texts, out = message_texts.MessageTexts(), []
        for step in steps:
            if step == "commit":
                texts.commit()
            elif step == "rollback":
                texts.rollback()
            else:
                out.append(texts.encode(step))
        return out

    assert encoded(4096) == encoded(0)
