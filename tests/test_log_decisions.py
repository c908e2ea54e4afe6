"""`log_decisions`: the store holds what each setting promises, and analysis copes.

'all' (the default) logs every decision; 'llm' only those of LLM brains; 'none' none. Model
calls are logged in `llm_calls` whatever the setting, and the game itself is the same run.
"""

from __future__ import annotations

import sqlite3
import warnings
from pathlib import Path

import pytest

import analysis
from analysis.metrics import call_statistics
from analysis.report import build_report
from scenarios.donor_game.analysis.reciprocity import (
    DecisionsNotLogged,
    missing_decisions,
    pairs_from_run,
)
from scenarios.donor_game.scripted_player import is_strategy_request, scripted_player
from sim.config import ConfigError, load_config
from sim.registry import get_scenario
from sim.runs.runner import RunOptions, run_scenario
from sim.store import snapshot
from sim.testing.scripted_server import ChatRequest, ScriptedLLMServer

SCENARIO = get_scenario("donor-game")
QUIET = RunOptions(use_cache=False, progress=False, figures=False)
SETTINGS = ("all", "llm", "none")


def rows(run_dir: Path, sql: str) -> list[tuple]:
    db = sqlite3.connect(run_dir / "run.sqlite")
    try:
        return db.execute(sql).fetchall()
    finally:
        db.close()


def player_with_fallbacks(request: ChatRequest) -> str:
    """The scripted player, except that g0-a01's donations are garbage (fallbacks)."""
    if not is_strategy_request(request) and "Your name is g0-a01." in request.messages[1][
            "content"]:
        return "no idea"
    return scripted_player(request)


@pytest.fixture(scope="module")
def mixed_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The same mixed LLM + rule Donor Game, once per setting."""
    out = tmp_path_factory.mktemp("mixed")
    runs = {}
    with ScriptedLLMServer(player_with_fallbacks) as server:
        for setting in SETTINGS:
            config = load_config(SCENARIO.config_type, values={
                "model": "openai/scripted", "api_base": server.url, "agents": 6,
                "generations": 2, "rounds": 4, "seed": 3, "max_repairs": 0,
                "brains": {"llm": 0.5, "rule": 0.5}, "log_decisions": setting})
            result = run_scenario(SCENARIO, config, run_dir=out / setting, options=QUIET)
            assert result.status == "finished"
            runs[setting] = result.run_dir
    return runs


def test_the_default_logs_every_decision() -> None:
    config = load_config(SCENARIO.config_type, values={})
    assert config.log_decisions == "all"
    with pytest.raises(ConfigError, match="log_decisions"):
        load_config(SCENARIO.config_type, values={"log_decisions": "some"})


def test_each_setting_logs_what_it_promises(mixed_runs: dict[str, Path]) -> None:
    llm_agents = {a for (a,) in rows(mixed_runs["all"],
                                     "SELECT agent_id FROM agents WHERE brain = 'llm'")}
    assert llm_agents and len(llm_agents) < len(rows(mixed_runs["all"], "SELECT * FROM agents"))
    logged = {s: rows(p, "SELECT * FROM decisions ORDER BY request_id")
              for s, p in mixed_runs.items()}
    everyone = logged["all"]
    assert {r[6] for r in everyone} >= {"rule", "llm", "fallback"}
    # 'llm': exactly the LLM brains' rows of 'all', byte for byte
    assert logged["llm"] == [r for r in everyone if r[2] in llm_agents]
    assert 0 < len(logged["llm"]) < len(everyone)
    assert logged["none"] == []
    # the calls, and the game itself, are the same whatever is logged
    snapshots = {s: snapshot(p / "run.sqlite") for s, p in mixed_runs.items()}
    for setting in ("llm", "none"):
        for table in snapshots["all"]:
            if table not in ("decisions", "checkpoints"):  # checkpoints hash what was written
                assert snapshots[setting][table] == snapshots["all"][table], (setting, table)


def test_call_statistics_are_the_same_without_decision_rows(
        mixed_runs: dict[str, Path]) -> None:
    stats = {s: call_statistics(analysis.load(p).llm_calls, analysis.load(p).decisions)
             for s, p in mixed_runs.items()}
    assert stats["all"]["fallbacks"] > 0 and stats["all"]["decisions"] > stats["all"]["fallbacks"]
    for setting in ("llm", "none"):
        for name in ("calls", "decisions", "fallbacks", "fallback_rate", "cost_usd"):
            assert stats[setting][name] == stats["all"][name], (setting, name)


def test_analysis_says_what_a_partial_log_leaves_out(mixed_runs: dict[str, Path]) -> None:
    full = analysis.load(mixed_runs["all"])
    with warnings.catch_warnings():
        warnings.simplefilter("error", DecisionsNotLogged)
        complete_pairs = pairs_from_run(full)  # no warning for a full log
    llm_only = analysis.load(mixed_runs["llm"])
    with pytest.warns(DecisionsNotLogged, match="LLM donors only"):
        pairs = pairs_from_run(llm_only)
    llm_agents = set(llm_only.agents.loc[llm_only.agents["brain"] == "llm", "agent_id"])
    assert 0 < len(pairs) < len(complete_pairs) and set(pairs["donor"]) <= llm_agents
    with pytest.warns(DecisionsNotLogged, match="cannot be computed"):
        assert pairs_from_run(analysis.load(mixed_runs["none"])).empty
    for setting, sentence in (("llm", "cover LLM donors only"),
                              ("none", "cannot be computed")):
        html = build_report([mixed_runs[setting]])
        assert sentence in html and "LLM calls and cost" in html
    assert missing_decisions(full) is None


def test_a_rule_sweep_logs_nothing_with_none_and_still_reports(tmp_path: Path) -> None:
    sizes = {}
    for setting in ("all", "none"):
        config = load_config(SCENARIO.config_type, values={
            "agents": 16, "generations": 2, "seed": 1, "punishment": True,
            "log_decisions": setting})
        result = run_scenario(SCENARIO, config, run_dir=tmp_path / setting, options=QUIET)
        assert result.status == "finished"
        sizes[setting] = (result.run_dir / "run.sqlite").stat().st_size
    assert rows(tmp_path / "none", "SELECT COUNT(*) FROM decisions") == [(0,)]
    donations = rows(tmp_path / "all", "SELECT COUNT(*) FROM donations")[0][0]
    assert rows(tmp_path / "all", "SELECT COUNT(*) FROM decisions")[0][0] >= donations > 0
    assert sizes["none"] < sizes["all"] / 2
    assert "cannot be computed" in build_report([tmp_path / "none"])
