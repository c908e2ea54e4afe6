"""The response cache answers only what was really asked, and only with real answers.

Runs go through litellm to loopback servers that count their requests. The cache must never
stand in for a different endpoint, nor replay a failure as if it were the provider's answer, and
a run directory must carry its own cache so it can be replayed anywhere.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest
from run_helpers import query, quiet

from scenarios.donor_game.scripted_player import is_strategy_request, scripted_player
from sim.cli import main
from sim.config import load_config
from sim.llm.cache import ResponseCache, request_key
from sim.llm.outcomes import Completion
from sim.registry import get_scenario
from sim.runs.runner import run_scenario
from sim.store import snapshot
from sim.testing.scripted_server import ChatRequest, Fault, ScriptedLLMServer

SCENARIO = get_scenario("donor-game")
SETTINGS = {"agents": 4, "generations": 2, "rounds": 3, "games": 1, "seed": 3,
            "model": "openai/scripted", "timeout_s": 10.0, "max_retries": 1,
            "answer_unit": "percent"}  # fixed_player's answers are shares, whatever one holds
FAILING_ROUND = "This is generation 1. It is now round 2."


def config_for(url: str, **values: object):
    return load_config(SCENARIO.config_type, values={**SETTINGS, "api_base": url, **values})


def cached_texts(path: Path) -> list[str | None]:
    db = sqlite3.connect(path)
    try:
        return [json.loads(c)["text"] for (c,) in db.execute("SELECT completion FROM responses")]
    finally:
        db.close()


def fixed_player(percent: int):  # type: ignore[no-untyped-def]
    def reply(request: ChatRequest) -> str:
        if is_strategy_request(request):
            return '{"strategy": "Give what the server says."}'
        return f"Answer: {percent}%"
    return reply


def test_failures_are_not_cached_so_a_recovered_server_is_asked_again(tmp_path: Path) -> None:
    shared = tmp_path / "shared.sqlite"
    failing = True

    def player(request: ChatRequest) -> str | Fault:
        if failing and FAILING_ROUND in request.messages[-1]["content"]:
            return Fault("status", 500, message="scripted outage of one round")
        return scripted_player(request)

    with ScriptedLLMServer(player) as server:
        config = config_for(server.url)
        first = run_scenario(SCENARIO, config, run_dir=tmp_path / "first",
                             options=quiet(cache_path=shared))
        assert first.stats.fallbacks == 2  # both donors of the failing round
        assert None not in cached_texts(shared)
        failing = False  # the outage is over
        before = server.request_count
        second = run_scenario(SCENARIO, config, run_dir=tmp_path / "second",
                              options=quiet(cache_path=shared))
        asked = server.requests[before:]
    assert second.stats.fallbacks == 0
    assert second.stats.cache_hits > 0  # the successes of the first run were reused...
    assert any(FAILING_ROUND in r.messages[-1]["content"] for r in asked)  # ...not its failures
    sources = {s for (s,) in query(second.run_dir, "SELECT source FROM decisions")}
    assert "fallback" not in sources


def test_same_model_name_at_another_endpoint_is_asked_there(tmp_path: Path) -> None:
    shared = tmp_path / "shared.sqlite"
    with ScriptedLLMServer(fixed_player(10)) as x, ScriptedLLMServer(fixed_player(90)) as y:
        run_scenario(SCENARIO, config_for(x.url), run_dir=tmp_path / "x",
                     options=quiet(cache_path=shared))
        at_y = run_scenario(SCENARIO, config_for(y.url), run_dir=tmp_path / "y",
                            options=quiet(cache_path=shared))
        assert y.request_count == at_y.stats.calls > 0
    assert at_y.stats.cache_hits == 0
    fractions = [f for (f,) in query(at_y.run_dir, "SELECT fraction FROM donations")]
    assert fractions and fractions == pytest.approx([0.9] * len(fractions))


def test_a_changed_sampling_setting_is_asked_again(tmp_path: Path) -> None:
    shared = tmp_path / "shared.sqlite"
    with ScriptedLLMServer(scripted_player) as server:
        run_scenario(SCENARIO, config_for(server.url), run_dir=tmp_path / "a",
                     options=quiet(cache_path=shared))
        colder = run_scenario(SCENARIO, config_for(server.url, temperature=0.0),
                              run_dir=tmp_path / "b", options=quiet(cache_path=shared))
    assert colder.stats.cache_hits == 0


def test_a_run_directory_carries_its_own_cache(tmp_path: Path, monkeypatch) -> None:
    home = tmp_path / "home"
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))
    with ScriptedLLMServer(scripted_player) as server:
        config = config_for(server.url)
        original = run_scenario(SCENARIO, config, run_dir=tmp_path / "original",
                                options=quiet())
        made = server.request_count
        own = original.run_dir / "responses.sqlite"
        assert len(cached_texts(own)) == made
        assert not home.exists()  # nothing in a per-user cache
        assert not list(original.run_dir.glob("*-wal"))  # closed into single files
        # copied elsewhere, the directory replays from its own cache: no request
        copy = Path(shutil.copytree(original.run_dir, tmp_path / "elsewhere" / "copy"))
        assert main(["run", "donor-game", "--quiet", "--no-figures", "--out",
                     str(tmp_path / "replays"), "--config", str(copy / "config.toml"),
                     "--cache", str(copy / "responses.sqlite"), "--replay-only"]) == 0
        assert main(["replay", str(copy)]) == 0
        assert server.request_count == made
    (replayed,) = (tmp_path / "replays").iterdir()
    assert snapshot(replayed / "run.sqlite") == snapshot(original.run_dir / "run.sqlite")


def test_no_cache_writes_none(tmp_path: Path) -> None:
    with ScriptedLLMServer(scripted_player) as server:
        first = run_scenario(SCENARIO, config_for(server.url), run_dir=tmp_path / "a",
                             options=quiet(use_cache=False))
        made = server.request_count
        run_scenario(SCENARIO, config_for(server.url), run_dir=tmp_path / "a2",
                     options=quiet(use_cache=False))
        assert server.request_count == 2 * made
    assert not (first.run_dir / "responses.sqlite").exists()


def test_the_cache_never_answers_with_a_failure(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path / "c.sqlite")
    key = request_key(settings={"model": "m"}, messages=[], response_format=None, seed=0,
                      agent="a", ordinal="0.0")
    with pytest.raises(ValueError, match="only successful"):
        cache.put(key, "m", Completion(text=None, error="HTTP 500"))
    # a failure written by an older version of the cache is not an answer either
    failure = json.dumps({"text": None, "prompt_tokens": 0, "completion_tokens": 0,
                          "cost_usd": 0.0, "latency_s": 1.0, "attempts": 4, "error": "500"})
    cache._db.execute("INSERT INTO responses VALUES (?, ?, ?)", (key, "m", failure))
    assert cache.get(key) is None
    cache.put(key, "m", Completion(text="fine", attempts=1))
    assert cache.get(key) == Completion(text="fine", attempts=1)
    cache.close()


def test_a_rule_only_run_leaves_no_cache_file(tmp_path: Path) -> None:
    config = load_config(SCENARIO.config_type, values={"agents": 4, "generations": 1})
    result = run_scenario(SCENARIO, config, run_dir=tmp_path / "rules", options=quiet())
    assert result.status == "finished"
    assert not (result.run_dir / "responses.sqlite").exists()
