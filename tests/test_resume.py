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
from typing import ClassVar

import pytest
from run_helpers import checkpoints, quiet

from scenarios.donor_game.scripted_player import scripted_player
from sim.cli import EXIT_PROVIDER_DOWN, main
from sim.config import load_config
from sim.llm.cache import CacheMiss
from sim.llm.gateway import Budget
from sim.registry import get_scenario
from sim.runs.replay import NotReplayable, replay_run
from sim.runs.runner import resume_run, run_scenario
from sim.store import ResumeDiverged, snapshot
from sim.store_files import peek_meta
from sim.testing.scripted_server import ChatRequest, Fault, ScriptedLLMServer

SCENARIO = get_scenario("donor-game")
CLOSED_PORT_URL = "http://127.0.0.1:9/v1"  # nothing listens: any real call would fail
SETTINGS = {"agents": 4, "generations": 3, "rounds": 4, "games": 1, "seed": 11,
            "model": "openai/scripted", "timeout_s": 10.0}


def config_for(url: str, **values: object):
    return load_config(SCENARIO.config_type, values={**SETTINGS, "api_base": url, **values})


def reference_snapshot(tmp_path: Path, responder=scripted_player, **values: object) -> dict:
    """The same run, uninterrupted and without any cache."""
    with ScriptedLLMServer(responder) as server:
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
        config = config_for(server.url)
        original = run_scenario(SCENARIO, config, run_dir=tmp_path / "orig", options=quiet())
        made = server.request_count
        assert made > 0
        # a new run directory, answered from the original run's own cache
        replay = run_scenario(
            SCENARIO, config, run_dir=tmp_path / "replay",
            options=quiet(cache_path=original.run_dir / "responses.sqlite", replay_only=True),
        )
        assert server.request_count == made
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


# -- failures are not cached: a resume replays them from the store -----------------------

#: Both donors of this round get HTTP 500 on every attempt: two committed fallbacks.
FAILING_ROUND = "This is generation 1. It is now round 2."


def failing_round_player(request: ChatRequest) -> str | Fault:
    if FAILING_ROUND in request.messages[-1]["content"]:
        return Fault("status", 500, message="scripted outage of one round")
    return scripted_player(request)


def test_resume_reproduces_committed_fallbacks_after_the_server_recovered(
    tmp_path: Path,
) -> None:
    values = {"max_retries": 1}
    expected = reference_snapshot(tmp_path, failing_round_player, **values)
    fallbacks = [row for row in expected["decisions"] if row[6] == "fallback"]
    assert len(fallbacks) == 2  # the run really contains what must be reproduced
    with ScriptedLLMServer(failing_round_player) as server:
        stopped = run_scenario(SCENARIO, config_for(server.url, **values),
                               run_dir=tmp_path / "run",
                               options=quiet(budget=Budget(max_calls=13)))
        assert stopped.status == "budget"  # stopped in generation 2, after the failing round
        # the server recovers before the resume: asking again would now get real answers
        server._state.responder = scripted_player
        before = server.request_count
        resumed = resume_run(stopped.run_dir, quiet())
        asked_again = server.requests[before:]
    assert resumed.status == "finished"
    assert resumed.stats.replayed_calls == 12  # generation 1: 4 strategies + 4 rounds x 2
    assert not any(FAILING_ROUND in r.messages[-1]["content"] for r in asked_again)
    assert_same_store(snapshot(resumed.run_dir / "run.sqlite"), expected)


def test_replay_command_reproduces_a_finished_run_without_calls_or_writes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    with ScriptedLLMServer(failing_round_player) as server:
        result = run_scenario(SCENARIO, config_for(server.url, max_retries=1),
                              run_dir=tmp_path / "run", options=quiet())
        made = server.request_count
        before = {p.name: p.read_bytes() for p in result.run_dir.iterdir() if p.is_file()}
        (result.run_dir / "responses.sqlite").unlink()  # the store alone suffices
        assert main(["replay", str(result.run_dir)]) == 0
        assert server.request_count == made
    out = capsys.readouterr().out
    checkpoints = len(snapshot(result.run_dir / "run.sqlite")["checkpoints"])
    assert f"reproduced all {checkpoints} checkpoints" in out
    after = {p.name: p.read_bytes() for p in result.run_dir.iterdir() if p.is_file()}
    assert after == {k: v for k, v in before.items() if k != "responses.sqlite"}


def test_replay_detects_a_tampered_store(tmp_path: Path, capsys) -> None:
    with ScriptedLLMServer(scripted_player) as server:
        result = run_scenario(SCENARIO, config_for(server.url), run_dir=tmp_path / "run",
                              options=quiet())
    db = sqlite3.connect(result.run_dir / "run.sqlite")
    db.execute("UPDATE llm_calls SET reply = '0' WHERE call_id = 7")  # a reply rewritten
    db.commit()
    db.close()
    with pytest.raises(ResumeDiverged, match="checkpoint"):
        replay_run(result.run_dir)
    assert main(["replay", str(result.run_dir)]) == 1
    assert "societas: not reproduced:" in capsys.readouterr().err


def test_replay_refuses_an_unfinished_run(tmp_path: Path) -> None:
    with ScriptedLLMServer(scripted_player) as server:
        stopped = run_scenario(SCENARIO, config_for(server.url), run_dir=tmp_path / "run",
                               options=quiet(budget=Budget(max_calls=13)))
    with pytest.raises(NotReplayable, match="status: budget"):
        replay_run(stopped.run_dir)


# -- a provider that stays down stops the run resumably ----------------------------------


class Outage:
    """The scripted player, with every request from the `down_from`-th on answered by 503
    (probes included) until `recover()`."""

    def __init__(self, down_from: int) -> None:
        self.down_from = down_from
        self.recovered = False

    def recover(self) -> None:
        self.recovered = True

    def __call__(self, request: ChatRequest) -> str | Fault:
        if not self.recovered and request.index >= self.down_from:
            return Fault("status", 503, message="scripted outage")
        return scripted_player(request)


def test_provider_down_from_the_start_stops_before_anything_is_committed(
    tmp_path: Path,
) -> None:
    outage = Outage(down_from=0)
    with ScriptedLLMServer(outage) as server:
        config = config_for(server.url, max_retries=1, outage_patience_s=1.0)
        stopped = run_scenario(SCENARIO, config, run_dir=tmp_path / "run", options=quiet())
        assert stopped.status == "provider_down"
        assert "503" in stopped.message and "outage_patience_s" in stopped.message
        partial = snapshot(stopped.run_dir / "run.sqlite")
        assert partial["checkpoints"] == [] and partial["decisions"] == []
        outage.recover()
        resumed = resume_run(stopped.run_dir, quiet())
    assert resumed.status == "finished"
    assert_same_store(snapshot(resumed.run_dir / "run.sqlite"), reference_snapshot(tmp_path))


def test_provider_down_mid_run_exits_4_and_resumes_to_the_same_store(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    expected = reference_snapshot(tmp_path)
    outage = Outage(down_from=9)  # strategies (4) and two rounds (4) answered, then down
    run_parent = tmp_path / "runs"
    with ScriptedLLMServer(outage) as server:
        args = ["run", "donor-game", "--quiet", "--no-figures", "--out", str(run_parent),
                "--model", "openai/scripted", "--set", f'api_base="{server.url}"',
                "--set", "max_retries=1", "--set", "outage_patience_s=1"]
        for key, value in SETTINGS.items():
            if key != "model":
                args += ["--set", f"{key}={value}"]
        assert main(args) == EXIT_PROVIDER_DOWN
        (run_dir,) = run_parent.iterdir()
        out, err = capsys.readouterr()
        assert f"societas resume {run_dir}" in err and "503" in err
        assert "probe requests asked whether it answered at all" in out
        db = sqlite3.connect(run_dir / "run.sqlite")
        status = db.execute("SELECT value FROM meta WHERE key = 'status'").fetchone()[0]
        sources = {s for (s,) in db.execute("SELECT source FROM decisions")}
        db.close()
        assert status == "provider_down"
        assert checkpoints(run_parent) > 0 and "fallback" not in sources  # no 100% fallbacks
        outage.recover()
        assert main(["resume", str(run_dir), "--quiet", "--no-figures"]) == 0
    assert_same_store(snapshot(run_dir / "run.sqlite"), expected)


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
        server.delay = 0  # the resumed run need not wait
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
        server.delay = 0  # the resumed run need not wait
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


class ReaderAtFirstStep:
    """Stands in for the runner's progress display: at the run's first step another connection
    (a notebook, a viewer) opens a read transaction on the store and keeps it open."""

    readers: ClassVar[list[sqlite3.Connection]] = []
    run_parent: ClassVar[str] = ""

    def __init__(self, total: int, **_: object) -> None:
        pass

    def update(self, done: int, label: str, detail: str = "") -> None:
        if done >= 1 and not self.readers:
            (store,) = Path(self.run_parent).glob("run.sqlite")
            reader = sqlite3.connect(store, isolation_level=None)
            reader.execute("BEGIN")
            reader.execute("SELECT COUNT(*) FROM meta").fetchone()  # holds a read snapshot
            self.readers.append(reader)

    def finish(self) -> None:
        pass


def test_a_reader_holding_a_transaction_cannot_fail_a_finished_run(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Closing the store switched its journal mode, which needs the file to itself: a reader's
    open transaction made a run that had committed `finished` exit 1 with a traceback."""
    monkeypatch.setattr(ReaderAtFirstStep, "run_parent", str(tmp_path / "run"))
    monkeypatch.setattr(ReaderAtFirstStep, "readers", [])
    monkeypatch.setattr("sim.runs.runner.Progress", ReaderAtFirstStep)
    config = load_config(get_scenario("donor-game").config_type,
                         values={"agents": 4, "generations": 2})
    result = run_scenario(get_scenario("donor-game"), config, run_dir=tmp_path / "run",
                          options=quiet())
    (reader,) = ReaderAtFirstStep.readers
    monkeypatch.undo()
    assert result.status == "finished"
    assert reader.execute("SELECT value FROM meta WHERE key = 'status'").fetchone() == (
        "running",)  # the reader still sees its own snapshot
    reader.execute("COMMIT")
    reader.close()
    assert peek_meta(tmp_path / "run" / "run.sqlite", "status") == "finished"
    assert replay_run(tmp_path / "run").checkpoints > 0
