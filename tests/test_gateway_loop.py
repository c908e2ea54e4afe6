"""The gateway's event loop lives in a thread of its own.

So a run works from code that already runs an asyncio loop on its thread (a Jupyter kernel
does: see tests/test_notebooks.py for the real thing), Ctrl-C still stops a run whose calls are
in flight, and closing the gateway leaves no thread or loop behind.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from scenarios.donor_game.scripted_player import scripted_player
from sim.config import load_config
from sim.llm.event_loop import LoopThread
from sim.registry import get_scenario
from sim.runs.runner import RunOptions, run_scenario
from sim.store import snapshot
from sim.testing.scripted_server import ScriptedLLMServer

SCENARIO = get_scenario("donor-game")
SETTINGS = {"agents": 4, "generations": 2, "rounds": 3, "games": 1, "seed": 5,
            "model": "openai/scripted", "timeout_s": 10.0}
QUIET = RunOptions(use_cache=False, progress=False, figures=False)


def gateway_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "societas-gateway" and t.is_alive()]


def test_a_run_inside_a_running_event_loop_matches_a_plain_run(tmp_path: Path) -> None:
    with ScriptedLLMServer(scripted_player) as server:
        config = load_config(SCENARIO.config_type, values={**SETTINGS, "api_base": server.url})
        plain = run_scenario(SCENARIO, config, run_dir=tmp_path / "plain", options=QUIET)

        async def like_a_notebook_cell():  # synchronous code on a thread whose loop runs
            return run_scenario(SCENARIO, config, run_dir=tmp_path / "nested", options=QUIET)

        nested = asyncio.run(like_a_notebook_cell())
    assert plain.status == nested.status == "finished"
    assert nested.stats.calls == plain.stats.calls > 0
    assert snapshot(nested.run_dir / "run.sqlite") == snapshot(plain.run_dir / "run.sqlite")
    assert gateway_threads() == []  # each run closed its loop and its thread


def test_ctrl_c_with_calls_in_flight_stops_at_once(tmp_path: Path) -> None:
    """SIGINT while the main thread waits on the gateway's loop: the calls in flight are
    cancelled (no reply waited for, no request sent afterwards), the run is interrupted."""
    run_parent = tmp_path / "runs"
    delay = 5.0  # each reply: far longer than the run may take to stop
    with ScriptedLLMServer(scripted_player, delay=delay) as server:
        args = [sys.executable, "-m", "sim.cli", "run", "donor-game", "--quiet",
                "--no-figures", "--no-cache", "--out", str(run_parent),
                "--model", "openai/scripted", "--set", f'api_base="{server.url}"']
        for key, value in SETTINGS.items():
            if key != "model":
                args += ["--set", f"{key}={value}"]
        process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   text=True, env={**os.environ})
        deadline = time.monotonic() + 60
        while server.request_count < SETTINGS["agents"]:  # the first batch is in flight
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "the run never sent its first batch"
            time.sleep(0.01)
        process.send_signal(signal.SIGINT)
        interrupted = time.monotonic()
        assert process.stderr is not None
        stderr = ""
        while "societas: interrupted" not in stderr:  # the run's last word, before the
            line = process.stderr.readline()          # interpreter's (slow) teardown
            assert line, stderr
            stderr += line
        stopped_after = time.monotonic() - interrupted
        stderr += process.communicate(timeout=60)[1]
        requests = server.request_count
        time.sleep(0.2)
        assert server.request_count == requests, "requests were sent after the run stopped"
    assert process.returncode == 130, stderr
    assert stopped_after < delay - 1, "the run waited for the replies in flight"
    assert "Traceback" not in stderr
    (run_dir,) = run_parent.iterdir()
    assert f"societas resume {run_dir}" in stderr
    db = sqlite3.connect(run_dir / "run.sqlite")
    try:
        status = db.execute("SELECT value FROM meta WHERE key = 'status'").fetchone()[0]
    finally:
        db.close()
    assert status == "interrupted"


def test_a_dead_loop_thread_raises_instead_of_hanging() -> None:
    loop_thread = LoopThread()

    async def stops_its_loop() -> None:
        asyncio.get_running_loop().stop()  # the thread's run_forever returns: it ends
        await asyncio.sleep(30)

    started = time.monotonic()
    with pytest.raises(RuntimeError, match="died"):
        loop_thread.run(stops_its_loop())
    assert time.monotonic() - started < 10
    with pytest.raises(RuntimeError, match="stopped"):
        loop_thread.run(asyncio.sleep(0))
    loop_thread.close()
    loop_thread.close()  # twice is harmless
    assert loop_thread.closed and gateway_threads() == []
