"""Fast paths are the same decisions: the prisoner's dilemma's rule matches played in one loop
each, and a network's single run advanced in plain Python, write the stores the asked and
vectorised paths write, table by table (checkpoint digests included)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from run_helpers import quiet

from scenarios.ipd.game import IPDTournament
from scenarios.network_norms.dynamics import Populations
from sim import World, get_scenario, load_config, snapshot
from sim.runs.runner import run_scenario
from sim.testing import ChatRequest, ScriptedLLMServer


def stores_of(scenario: str, values: dict[str, Any], tmp_path: Path,
              monkeypatch: pytest.MonkeyPatch, slow: list[tuple[Any, str]]
              ) -> tuple[dict, dict]:
    """The store of a run with the fast paths, and of the same run with `slow` switched off
    (and rule decisions asked one at a time)."""
    spec = get_scenario(scenario)
    config = load_config(spec.config_type, values=values)
    stores = []
    for fast in (True, False):
        for owner, switch in [*slow, (World, "bulk_decisions")]:
            monkeypatch.setattr(owner, switch, fast)
        result = run_scenario(spec, config, run_dir=tmp_path / str(fast), options=quiet())
        assert result.status == "finished", result.message
        stores.append(snapshot(result.run_dir / "run.sqlite"))
    return stores[0], stores[1]


IPD_RUNS = [
    {"turns": 12, "repetitions": 2, "noise": 0.1, "seed": 1},  # Random's chance, noise
    {"turns": 8, "evolution": "moran", "generations": 3, "noise": 0.05, "seed": 2},
    {"turns": 6, "repetitions": 1, "self_play": False, "record_moves": False, "seed": 3,
     "payoffs": {"R": 4, "S": -1, "T": 6, "P": 0.5}},
    {"turns": 5, "repetitions": 1, "noise": 0.2, "seed": 4, "log_decisions": "all"},
]


@pytest.mark.parametrize("values", IPD_RUNS)
def test_ipd_rule_matches_in_one_loop_store_what_asking_every_move_stores(
        values: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fast, asked = stores_of("ipd-tournament", values, tmp_path, monkeypatch,
                            [(IPDTournament, "fast_matches")])
    assert fast == asked
    assert fast["matches"] and fast["checkpoints"]
    assert bool(fast.get("decisions")) == (values.get("log_decisions") == "all")


def move_player(request: ChatRequest) -> str:
    """Tit for tat from the history in the prompt."""
    rounds = [line for line in request.messages[1]["content"].splitlines()
              if line.startswith("round ")]
    move = rounds[-1].rsplit(" ", 1)[-1] if rounds else "C"
    return json.dumps({"reasoning": "as it did", "move": move})


def test_ipd_with_llm_players_keeps_their_request_ids_and_draws(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with ScriptedLLMServer(move_player) as server:
        fast, asked = stores_of("ipd-tournament", {
            "model": "openai/scripted", "api_base": server.url, "timeout_s": 5.0,
            "strategies": ["random", "llm", "tit_for_tat", "defector"], "turns": 4,
            "repetitions": 1, "noise": 0.2, "seed": 5}, tmp_path, monkeypatch,
            [(IPDTournament, "fast_matches")])
    assert fast == asked
    assert {row[1] for row in fast["decisions"]} and fast["llm_calls"]


def test_an_ipd_model_in_memory_plays_the_same_with_the_fast_path(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from scenarios.ipd.config import IPDConfig

    results = []
    for fast in (True, False):
        monkeypatch.setattr(IPDTournament, "fast_matches", fast)
        model = IPDTournament(IPDConfig(turns=10, repetitions=2, noise=0.1, seed=9))
        model.run_model()
        frame = model.datacollector.get_model_vars_dataframe()
        results.append((model.ranking, frame.to_dict(), model.steps))
    assert results[0] == results[1]


NETWORK_RUNS = [
    {"seed": 0},
    {"seed": 1, "steps": 15, "stop_at_fixation": False, "record_every": 4},
    {"seed": 2, "game": "coordination", "graph": "small_world", "degree": 4, "nodes": 20,
     "selection": 0.5, "initial": "share", "initial_share": 0.3, "steps": 12},
    {"seed": 3, "update_rule": "imitation", "graph": "scale_free", "degree": 2,
     "steps": 12, "payoff": "average"},
    {"seed": 4, "update_rule": "copy_better", "steps": 12, "updates_per_step": 7},
]


@pytest.mark.parametrize("values", NETWORK_RUNS)
def test_a_network_run_advanced_in_plain_python_stores_what_numpy_stores(
        values: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fast, vectorised = stores_of("network-norms", values, tmp_path, monkeypatch,
                                 [(Populations, "one_at_a_time")])
    assert fast == vectorised
    assert fast["shares"] and fast["outcome"]
