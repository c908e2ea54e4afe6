"""A run never finishes on fallbacks alone, whatever the provider fails at.

The outage probe asks a tiny question without a response format, so a server that answers it
but fails every real request (500 on structured output, on long prompts) once gave a
"finished" run of fallbacks and exit status 0. Now a structured request that failed is asked
again as plain text, and a run whose real decisions all fall back on failed calls stops,
resumably, as when the provider is down. Through litellm against the scripted server.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from run_helpers import quiet

from scenarios.donor_game.scripted_player import scripted_player
from sim.cli import EXIT_PROVIDER_DOWN, main
from sim.config import load_config
from sim.llm.fallback_guard import FallbackGuard
from sim.llm.outcomes import ProviderDown
from sim.registry import get_scenario
from sim.runs.runner import run_scenario
from sim.store import snapshot
from sim.testing.scripted_server import (
    ScriptedLLMServer,
    failing_long_prompts,
    failing_structured_output,
)

SCENARIO = get_scenario("donor-game")
#: The legacy protocol's tasks ask for JSON with a response format (structured output).
SETTINGS = {"agents": 4, "generations": 2, "rounds": 2, "games": 1, "seed": 5,
            "protocol": "legacy", "model": "openai/scripted", "timeout_s": 10.0,
            "max_retries": 0}


def config_for(url: str):  # type: ignore[no-untyped-def]
    return load_config(SCENARIO.config_type, values={**SETTINGS, "api_base": url})


def test_a_server_without_structured_output_is_asked_in_plain_text(tmp_path: Path) -> None:
    with ScriptedLLMServer(failing_structured_output(scripted_player)) as server:
        result = run_scenario(SCENARIO, config_for(server.url), run_dir=tmp_path / "run",
                              options=quiet(use_cache=False))
        structured = [r for r in server.requests if r.body.get("response_format")]
        plain = [r for r in server.requests if not r.body.get("response_format")]
    assert structured, "the run's tasks ask for structured output: nothing was tested"
    assert result.status == "finished" and result.stats.fallbacks == 0
    # once the provider had answered a request only in plain text, the rest went plain
    assert len(structured) <= SETTINGS["agents"] < len(plain)
    with ScriptedLLMServer(scripted_player) as server:
        reference = run_scenario(SCENARIO, config_for(server.url), run_dir=tmp_path / "ref",
                                 options=quiet(use_cache=False))
    ours, theirs = (snapshot(r.run_dir / "run.sqlite") for r in (result, reference))
    ours.pop("llm_calls"), theirs.pop("llm_calls")  # (attempts differ; checkpoints hash them)
    ours.pop("checkpoints"), theirs.pop("checkpoints")
    assert ours == theirs  # the same replies, the same run


def test_a_server_failing_every_real_request_stops_the_run_resumably(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run_parent = tmp_path / "runs"
    failing = failing_long_prompts(200, scripted_player)  # the probe is short; prompts are not
    with ScriptedLLMServer(failing) as server:
        args = ["run", "donor-game", "--quiet", "--no-figures", "--out", str(run_parent),
                "--set", f'api_base="{server.url}"']
        for key, value in SETTINGS.items():
            args += ["--model", str(value)] if key == "model" else ["--set", f"{key}={value}"]
        assert main(args) == EXIT_PROVIDER_DOWN
        probes = sum(r.messages == [{"role": "user", "content": "Reply with OK."}]
                     for r in server.requests)
        assert probes > 0  # the provider "answered": the old outage check passed
        err = capsys.readouterr().err
        (run_dir,) = run_parent.iterdir()
        assert "answers a trivial probe but failed the run's real requests" in err
        assert "every one so far" in err and "prompt too long" in err
        assert f"societas resume {run_dir}" in err
        db = sqlite3.connect(run_dir / "run.sqlite")
        try:
            status = db.execute("SELECT value FROM meta WHERE key = 'status'").fetchone()[0]
            decided = db.execute("SELECT COUNT(*) FROM decisions").fetchone()[0]
        finally:
            db.close()
        assert status == "provider_down" and decided == 0  # no round of fallbacks committed
        server._state.responder = scripted_player  # the server fixed: the resume finishes
        assert main(["resume", str(run_dir), "--quiet", "--no-figures"]) == 0
        reference = run_scenario(SCENARIO, config_for(server.url), run_dir=tmp_path / "ref",
                                 options=quiet(use_cache=False))
    resumed, expected = (snapshot(d / "run.sqlite") for d in (run_dir, reference.run_dir))
    assert resumed == expected


def test_the_guard_stops_a_streak_of_failures_but_not_unreadable_replies() -> None:
    guard = FallbackGuard(streak_limit=3)
    name = lambda: "model 'm'"  # noqa: E731
    guard.observe([("llm", None), ("fallback", "500")], replaying=False, describe=name)
    guard.observe([("fallback", None)] * 5, replaying=False, describe=name)  # unparsed: answers
    guard.observe([("fallback", "500")] * 2, replaying=False, describe=name)
    guard.observe([("fallback", "500")] * 4, replaying=True, describe=name)  # committed rounds
    with pytest.raises(ProviderDown, match="the last 7 in a row of 14 decisions"):
        guard.observe([("fallback", "HTTP 500")], replaying=False, describe=name)
    with pytest.raises(ProviderDown, match="every one so far of 2 decisions"):
        FallbackGuard().observe([("fallback", "x")] * 2, replaying=False, describe=name)
