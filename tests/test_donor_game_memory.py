"""The Donor Game with memory: donors remember, reflect, recall and inherit through memory."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from scenarios.donor_game.memory import describe_act, donor_game_importance
from scenarios.donor_game.scripted_player import scripted_player
from sim.cli import main
from sim.config import load_config
from sim.llm.gateway import Budget
from sim.registry import get_scenario
from sim.runs.runner import RunOptions, resume_run, run_scenario
from sim.store import snapshot
from sim.testing.scripted_server import ChatRequest, ScriptedLLMServer

SCENARIO = get_scenario("donor-game")
QUIET = {"progress": False, "figures": False}


def play(run_dir: Path, options: RunOptions | None = None, **values: object) -> Path:
    config = load_config(SCENARIO.config_type, values={
        "agents": 6, "generations": 3, "rounds": 6, "memory": True, **values})
    result = run_scenario(SCENARIO, config, run_dir=run_dir,
                          options=options or RunOptions(**QUIET))
    assert result.status == "finished"
    return run_dir / "run.sqlite"


def rows(db_path: Path, sql: str) -> list[tuple]:
    db = sqlite3.connect(db_path)
    try:
        return db.execute(sql).fetchall()
    finally:
        db.close()


def test_memory_does_not_change_what_rule_agents_do(tmp_path: Path) -> None:
    with_memory = snapshot(play(tmp_path / "on"))
    without = snapshot(play(tmp_path / "off", memory=False))
    for table in ("donations", "agent_rounds", "generation_scores", "strategies", "agents"):
        assert with_memory[table] == without[table], table
    assert "memories" not in without or not without["memories"]


def test_every_act_is_remembered_by_both_sides(tmp_path: Path) -> None:
    db = play(tmp_path / "run")
    donations = rows(db, "SELECT step, donor, recipient FROM donations")
    memories = rows(db, "SELECT owner, created, text FROM memories WHERE kind = 'observation'")
    assert len(memories) == 2 * len(donations)
    by_owner_and_time = {(owner, created): text for owner, created, text in memories}
    # round `step` is played at simulated time `step` (one unit per round)
    step, donor, recipient = donations[0]
    assert recipient in by_owner_and_time[(donor, float(step))]
    assert donor in by_owner_and_time[(recipient, float(step))]


def test_reflections_cite_evidence_that_exists(tmp_path: Path) -> None:
    db = play(tmp_path / "run", memory_settings={"inheritance": "strategy",
                                                 "reflection_threshold": 30})
    reflections = rows(db, "SELECT memory_id, owner FROM memories WHERE kind = 'reflection'")
    assert reflections
    owners = dict(rows(db, "SELECT memory_id, owner FROM memories"))
    for memory_id, owner in reflections:
        evidence = rows(db, f"SELECT evidence_id FROM memory_evidence WHERE memory_id = "
                            f"{memory_id} AND relation = 'evidence'")
        assert evidence
        assert all(owners[e] == owner for (e,) in evidence)  # an agent reflects on its own


def test_newcomers_inherit_survivors_strategies_through_memory(tmp_path: Path) -> None:
    db = play(tmp_path / "run")
    inherited = rows(db, "SELECT owner, origin, text, generation FROM memories "
                         "WHERE kind = 'inherited'")
    assert inherited
    strategies = {agent: text for agent, text in rows(db, "SELECT agent_id, text FROM strategies")}
    parents = {a: json.loads(p) for a, p in rows(db, "SELECT agent_id, parents FROM agents")}
    for owner, origin, text, generation in inherited:
        assert origin in parents[owner]
        assert text == strategies[origin]
        assert generation >= 1


def test_llm_donors_see_their_memories_quoted(tmp_path: Path) -> None:
    def player(request: ChatRequest) -> str:
        if "Rate it from 1 to 10" in request.messages[-1]["content"]:
            return '{"importance": 4}'
        return scripted_player(request)

    with ScriptedLLMServer(player) as server:
        play(tmp_path / "run", model="openai/scripted", api_base=server.url, generations=1,
             agents=4, rounds=4, games=1)
        prompts = [r.messages[-1]["content"] for r in server.requests]
    donate = [p for p in prompts if "you are the donor" in p]
    assert any("What you remember" in p for p in donate[2:])  # from the second round on
    for prompt in donate:
        if "What you remember" in prompt:
            memories = prompt.split("What you remember")[1]
            assert "<agent_text" in memories and "</agent_text>" in memories


def test_resumed_memory_run_ends_with_the_same_memories(tmp_path: Path) -> None:
    def memory_player(request: ChatRequest) -> str:
        text = request.messages[-1]["content"]
        if "Rate it from 1 to 10" in text:
            return "Importance: 5"
        return scripted_player(request)

    with ScriptedLLMServer(memory_player) as server:
        values = {"model": "openai/scripted", "api_base": server.url, "agents": 4,
                  "generations": 2, "rounds": 4, "games": 1,
                  "memory_settings": {"inheritance": "strategy", "reflection_threshold": 20}}
        expected = snapshot(play(tmp_path / "whole", RunOptions(use_cache=False, **QUIET),
                                 **values))
        stopped = run_scenario(
            SCENARIO, load_config(SCENARIO.config_type, values={**values, "memory": True}),
            run_dir=tmp_path / "cut", options=RunOptions(budget=Budget(max_calls=30), **QUIET))
        assert stopped.status == "budget"
        resumed = resume_run(tmp_path / "cut", RunOptions(**QUIET))
    assert resumed.status == "finished"
    actual = snapshot(tmp_path / "cut" / "run.sqlite")
    for table in ("memories", "memory_evidence", "memory_access", "memory_reflections"):
        assert actual[table] == expected[table], table
    assert expected["memories"]


def test_inspect_shows_memories_and_ancestry(tmp_path: Path, capsys) -> None:
    db = play(tmp_path / "run")
    (agent,) = rows(db, "SELECT owner FROM memories WHERE kind = 'inherited' LIMIT 1")[0]
    assert main(["inspect", str(tmp_path / "run"), "--agent", agent]) == 0
    out = capsys.readouterr().out
    assert f"agent {agent}" in out and "ancestry:" in out and "parents: g" in out
    assert "inherited:" in out and "observation" in out


def test_rule_importance_and_memory_texts() -> None:
    act = {"donor": "g0-a01", "recipient": "g0-a02", "action": "donate", "fraction": 0.6,
           "step": 3}
    given = describe_act(act, 6.0, 12.0, as_donor=True)
    received = describe_act(act, 6.0, 12.0, as_donor=False)
    assert given == "I gave g0-a02 6.0 units (60% of my resources)."
    assert received.startswith("g0-a01 gave me 12.0 units")
    assert donor_game_importance(given) == 5
    refused = describe_act({**act, "fraction": 0.0}, 0.0, 0.0, as_donor=False)
    assert refused == "g0-a01 gave me nothing." and donor_game_importance(refused) == 6
    punished = describe_act({**act, "action": "punish", "fraction": 0.1}, 1.0, -2.0,
                            as_donor=False)
    assert "punished me" in punished and donor_game_importance(punished) == 8
    assert donor_game_importance(describe_act({**act, "fraction": 0.2}, 2.0, 4.0,
                                              as_donor=True)) == 3
