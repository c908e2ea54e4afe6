"""Reproducible, resumable, affordable: replay from the cache, resume after kills, budgets.

Runs here talk to a real HTTP server on 127.0.0.1 (scripted replies, fixed latency) that counts
its requests. "Identical store" means equal `sim.store.snapshot`s: every table, every row, minus
wall-clock columns.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import pytest

from scenarios.donor_game.scripted_player import scripted_player
from sim.cache import CacheMiss
from sim.cli import main
from sim.config import load_config
from sim.gateway import Budget
from sim.registry import get_scenario
from sim.runner import RunOptions, resume_run, run_scenario
from sim.scripted_llm import ScriptedLLMServer
from sim.store import ResumeDiverged, snapshot

SCENARIO = get_scenario("donor-game")
CLOSED_PORT_URL = "http://127.0.0.1:9/v1"  # nothing listens: any real call would fail
SETTINGS = {"agents": 4, "generations": 3, "rounds": 4, "games": 1, "seed": 11,
            "model": "openai/scripted", "timeout_s": 10.0}


def config_for(url: str, **values: object):
    return load_config(SCENARIO.config_type, values={**SETTINGS, "api_base": url, **values})


def quiet(**kwargs: object) -> RunOptions:
    return RunOptions(progress=False, figures=False, **kwargs)  # type: ignore[arg-type]


def reference_snapshot(tmp_path: Path, **values: object) -> dict:
    """The same run, uninterrupted and without any cache."""
    with ScriptedLLMServer(scripted_player) as server:
        result = run_scenario(SCENARIO, config_for(server.url, **values),
                              run_dir=tmp_path / "reference", options=quiet(use_cache=False))
    assert result.status == "finished"
    return snapshot(result.run_dir / "run.sqlite")


def assert_same_store(actual: dict, expected: dict) -> None:
    assert actual.keys() == expected.keys()
    for table in expected:
        assert actual[table] == expected[table], f"table {table} differs"


def test_replay_makes_no_requests_and_reproduces_every_table(tmp_path: Path) -> None:
    with ScriptedLLMServer(scripted_player) as server:
        original = run_scenario(SCENARIO, config_for(server.url), run_dir=tmp_path / "orig",
                                options=quiet())
        assert server.request_count > 0
    # the replay is pointed at a fresh server that counts what reaches it
    with ScriptedLLMServer(scripted_player) as counting:
        replay = run_scenario(SCENARIO, config_for(counting.url), run_dir=tmp_path / "replay",
                              options=quiet(replay_only=True))
        assert counting.request_count == 0
    assert replay.status == "finished"
    assert replay.stats.cache_hits == replay.stats.calls > 0
    assert_same_store(snapshot(replay.run_dir / "run.sqlite"),
                      snapshot(original.run_dir / "run.sqlite"))


def test_replay_only_fails_loudly_at_the_first_miss(tmp_path: Path) -> None:
    with pytest.raises(CacheMiss, match="replay-only run: no cached reply for g0-a0"):
        run_scenario(SCENARIO, config_for(CLOSED_PORT_URL), run_dir=tmp_path / "r",
                     options=quiet(replay_only=True))


def test_a_different_seed_is_not_served_from_the_cache(tmp_path: Path) -> None:
    with ScriptedLLMServer(scripted_player) as server:
        run_scenario(SCENARIO, config_for(server.url), run_dir=tmp_path / "a", options=quiet())
        before = server.request_count
        run_scenario(SCENARIO, config_for(server.url, seed=12), run_dir=tmp_path / "b",
                     options=quiet())
        assert server.request_count - before == before  # every call made afresh


def test_budget_stops_at_a_round_boundary_and_resumes(tmp_path: Path) -> None:
    expected = reference_snapshot(tmp_path)
    with ScriptedLLMServer(scripted_player) as server:
        config = config_for(server.url)
        stopped = run_scenario(SCENARIO, config, run_dir=tmp_path / "run",
                               options=quiet(budget=Budget(max_calls=13)))
        assert stopped.status == "budget"
        assert "call budget reached" in stopped.message
        assert stopped.stats.calls <= 13
        partial = snapshot(stopped.run_dir / "run.sqlite")
        # only whole rounds were kept: 4 strategies + 2 rounds of 2 donations + ...
        rounds_kept = {row[0] for row in partial["donations"]}
        assert all(len([r for r in partial["donations"] if r[0] == step]) == 2
                   for step in rounds_kept)
        assert len(partial["donations"]) < len(expected["donations"])
        again = resume_run(stopped.run_dir, quiet(budget=Budget(max_calls=13)))
        assert again.status == "budget"  # the budget covers the whole run, replay included
        resumed = resume_run(stopped.run_dir, quiet(budget=Budget(max_calls=1000)))
    assert resumed.status == "finished"
    assert resumed.replayed_checkpoints > 0
    assert_same_store(snapshot(resumed.run_dir / "run.sqlite"), expected)


def test_resume_refuses_a_run_that_diverges(tmp_path: Path) -> None:
    with ScriptedLLMServer(scripted_player) as server:
        stopped = run_scenario(SCENARIO, config_for(server.url), run_dir=tmp_path / "run",
                               options=quiet(budget=Budget(max_calls=13)))
        db = sqlite3.connect(stopped.run_dir / "run.sqlite")
        db.execute("UPDATE checkpoints SET digest = 'tampered' WHERE seq = 2")
        db.commit()
        db.close()
        with pytest.raises(ResumeDiverged, match="checkpoint 2"):
            resume_run(stopped.run_dir, quiet())


# -- killed runs --------------------------------------------------------------------------

#: Long enough (about 40 batches of calls at 0.15 s) that the kill lands mid-run even on a
#: loaded machine.
KILLED_RUN = {"generations": 8}


def start_cli_run(run_parent: Path, url: str) -> subprocess.Popen:
    args = [sys.executable, "-m", "sim.cli", "run", "donor-game", "--quiet", "--no-figures",
            "--out", str(run_parent), "--model", "openai/scripted", "--set", f'api_base="{url}"']
    for key, value in {**SETTINGS, **KILLED_RUN}.items():
        if key != "model":
            args += ["--set", f"{key}={value}"]
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ})


def checkpoints(run_parent: Path) -> int:
    stores = list(run_parent.glob("*/run.sqlite"))
    if not stores:
        return 0
    try:
        db = sqlite3.connect(f"file:{stores[0]}?mode=ro", uri=True, timeout=1)
        try:
            return db.execute("SELECT COUNT(*) FROM checkpoints").fetchone()[0]
        finally:
            db.close()
    except sqlite3.Error:
        return 0


def wait_for(condition, timeout: float = 60.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for the run to get there")
        time.sleep(0.01)


@pytest.mark.slow
@pytest.mark.parametrize("moment", ["between_rounds", "calls_in_flight"])
def test_sigkilled_run_resumes_to_the_same_store(tmp_path: Path, moment: str) -> None:
    expected = reference_snapshot(tmp_path, **KILLED_RUN)
    run_parent = tmp_path / "runs"
    with ScriptedLLMServer(scripted_player, delay=0.15) as server:
        process = start_cli_run(run_parent, server.url)
        try:
            if moment == "between_rounds":
                wait_for(lambda: checkpoints(run_parent) >= 4)
            else:
                # strategies (4 calls) + 3 rounds (2 calls each) answered, the next in flight
                wait_for(lambda: server.request_count >= 4 + 3 * 2 + 1)
                time.sleep(0.05)
            assert process.poll() is None, "the run ended before it could be killed"
            process.send_signal(signal.SIGKILL)
        finally:
            process.kill()
            process.wait(timeout=30)
        assert process.returncode == -signal.SIGKILL
        (run_dir,) = run_parent.iterdir()
        committed = checkpoints(run_parent)
        assert 0 < committed < len(expected["checkpoints"])
        completed = subprocess.run(
            [sys.executable, "-m", "sim.cli", "resume", str(run_dir), "--quiet", "--no-figures"],
            capture_output=True, text=True, timeout=300,
        )
    assert completed.returncode == 0, completed.stderr
    assert "resumed after" in completed.stdout
    assert_same_store(snapshot(run_dir / "run.sqlite"), expected)


@pytest.mark.slow
def test_ctrl_c_commits_and_says_how_to_resume(tmp_path: Path) -> None:
    run_parent = tmp_path / "runs"
    with ScriptedLLMServer(scripted_player, delay=0.15) as server:
        process = start_cli_run(run_parent, server.url)
        wait_for(lambda: checkpoints(run_parent) >= 3)
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=30)
    assert process.returncode == 130
    (run_dir,) = run_parent.iterdir()
    assert f"societas resume {run_dir}" in stderr
    assert "Traceback" not in stderr and "never retrieved" not in stderr
    db = sqlite3.connect(run_dir / "run.sqlite")
    status = db.execute("SELECT value FROM meta WHERE key = 'status'").fetchone()[0]
    db.close()
    assert status == "interrupted"


@pytest.mark.slow
def test_sigterm_stops_like_ctrl_c_and_the_run_resumes_to_the_same_store(
    tmp_path: Path,
) -> None:
    expected = reference_snapshot(tmp_path, **KILLED_RUN)
    run_parent = tmp_path / "runs"
    resume = [sys.executable, "-m", "sim.cli", "resume", "--quiet", "--no-figures"]
    with ScriptedLLMServer(scripted_player, delay=0.3) as server:
        process = start_cli_run(run_parent, server.url)
        try:
            wait_for(lambda: checkpoints(run_parent) >= 3)
            (run_dir,) = run_parent.iterdir()
            # a second writer of the same run is turned away while the first holds it
            second = subprocess.run([*resume, str(run_dir)], capture_output=True, text=True,
                                    timeout=120)
            assert process.poll() is None, "the run ended before it could be stopped"
            process.send_signal(signal.SIGTERM)
            _, stderr = process.communicate(timeout=60)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=30)
        assert second.returncode == 2
        assert second.stderr.strip().splitlines() == [
            f"societas: error: the run {run_dir} is in use by another societas process "
            f"(process {process.pid}); wait for it to finish or stop it, then try again"
        ]
        assert process.returncode == 143
        assert "Traceback" not in stderr and "never retrieved" not in stderr
        assert (f"societas: terminated (SIGTERM); finished rounds are saved; continue with: "
                f"societas resume {run_dir}") in stderr
        with closing(sqlite3.connect(run_dir / "run.sqlite")) as db:
            status = db.execute("SELECT value FROM meta WHERE key = 'status'").fetchone()[0]
        assert status == "interrupted"
        assert 0 < checkpoints(run_parent) < len(expected["checkpoints"])
        completed = subprocess.run([*resume, str(run_dir)], capture_output=True, text=True,
                                   timeout=300)
    assert completed.returncode == 0, completed.stderr
    assert "resumed after" in completed.stdout
    assert_same_store(snapshot(run_dir / "run.sqlite"), expected)


def every_row(store: Path) -> dict[str, list[tuple]]:
    with closing(sqlite3.connect(store)) as db:
        tables = [n for (n,) in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return {t: db.execute(f"SELECT * FROM {t} ORDER BY rowid").fetchall() for t in tables}


def one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    lines = [line for line in captured.err.splitlines() if line]
    assert len(lines) == 1 and lines[0].startswith("societas: error: "), captured.err
    return lines[0]


@pytest.mark.parametrize("name", ["config.toml", "config.json"])
def test_resume_refuses_an_edited_config_copy(
    tmp_path: Path, name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    expected = reference_snapshot(tmp_path)
    with ScriptedLLMServer(scripted_player) as server:
        stopped = run_scenario(SCENARIO, config_for(server.url), run_dir=tmp_path / "run",
                               options=quiet(budget=Budget(max_calls=13)))
        assert stopped.status == "budget"
        copy, store = stopped.run_dir / name, stopped.run_dir / "run.sqlite"
        original = copy.read_text()
        edit = ("rounds = 4", "rounds = 5") if name == "config.toml" else ('"rounds": 4',
                                                                          '"rounds": 5')
        assert edit[0] in original
        copy.write_text(original.replace(*edit))
        before = every_row(store)
        assert main(["resume", str(stopped.run_dir), "--quiet", "--no-figures"]) == 2
        line = one_error_line(capsys)
        assert f"{copy} was edited after the run started" in line
        assert f"delete {copy}" in line and "societas run donor-game --config" in line
        assert every_row(store) == before  # meta included: not even marked as resumed
        if name == "config.toml":
            # what counts is the config a copy means, not its formatting
            copy.write_text("# my notes\n" + original.replace(" = ", "="))
        else:
            copy.unlink()  # as the message says: it is written again from the store
        assert main(["resume", str(stopped.run_dir), "--quiet", "--no-figures"]) == 0
        if name == "config.json":
            assert copy.read_text() == original
    assert_same_store(snapshot(store), expected)
