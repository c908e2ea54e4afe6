"""A sweep survives its workers, and its workers do not survive it.

A pool worker killed in the middle of a run (as the out-of-memory killer does) is reported, its
run is resumed on a new worker, and the sweep ends by itself with the stores of a sweep nobody
interrupted; with no retries left the run is reported failed and a re-run resumes it. A sweep
whose own process is SIGKILLed takes its workers with it within seconds, and running it again
simply resumes. Runs are tiny rule-brain Donor Games; the pool's bookkeeping is checked on jobs
that kill their own worker.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from run_helpers import committed

from sim.store import snapshot
from sim.sweeps.executors import PoolExecutor, execute_spec
from sim.sweeps.plan import plan_sweep, run_sweep, sweep
from sim.sweeps.worker_pool import Finished, Lost, WorkerPool

SEEDS = range(8)
FIXED = {"agents": 8, "generations": 8}


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    """The stores of the same sweep, run in this process with nothing interrupting it."""
    frame = sweep("donor-game", seeds=SEEDS, fixed=FIXED, executor="inline", progress=False,
                  out=tmp_path_factory.mktemp("reference") / "s")
    return {row.run: snapshot(Path(row.run_dir) / "run.sqlite") for row in frame.itertuples()}


def reference_of(out: Path, reference: dict[str, dict]) -> dict[str, dict]:
    """The reference's stores of the runs this sweep planned (a sweep of fewer seeds)."""
    return {name: reference[name] for name in stores(out)}


def stores(out: Path) -> dict[str, dict]:
    runs = json.loads((out / "sweep.json").read_text())["runs"]
    return {run["name"]: snapshot(out / run["dir"] / "run.sqlite") for run in runs}


def statuses(out: Path) -> list[str]:
    return [run["status"] for run in json.loads((out / "sweep.json").read_text())["runs"]]


def run_in_progress(out: Path, deadline_s: float = 60.0) -> tuple[str, int]:
    """(name, pid of its worker) of a run that has committed rounds and is still going."""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        for lock in out.glob("*/run.lock"):
            holder = lock.read_text().strip()
            if holder.isdigit() and committed(lock.parent / "run.sqlite", 0.1) >= 2:
                return lock.parent.name, int(holder)
        time.sleep(0.005)
    raise AssertionError("no run was caught in progress")


def sweep_process(out: Path, seeds: str = "0..7") -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "sim.cli", "sweep", "donor-game", "--seeds",
                             seeds, "--set", f"agents={FIXED['agents']}", "--set",
                             f"generations={FIXED['generations']}", "--out", str(out),
                             "--workers", "2", "--quiet"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(process: subprocess.Popen) -> tuple[str, str]:
    try:
        return process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


@pytest.mark.slow
def test_a_worker_killed_mid_run_is_reported_and_the_sweep_ends_with_every_store(
        tmp_path: Path, reference: dict[str, dict]) -> None:
    out = tmp_path / "s"
    process = sweep_process(out)
    try:
        victim, pid = run_in_progress(out)
        os.kill(pid, signal.SIGKILL)
    finally:
        stdout, stderr = finish(process)
    assert process.returncode == 0, stderr
    assert (f"societas: the worker running {victim} was killed by SIGKILL" in stderr
            and "retry 1 of 1" in stderr), stderr
    assert "Traceback" not in stderr
    row = next(line for line in stdout.splitlines() if line.split()[:1] == [victim])
    assert "finished" in row and "resumed after its worker was killed" in row
    assert statuses(out) == ["finished"] * 8
    assert stores(out) == reference


def kill_the_first_worker_caught_in_a_run(out: Path) -> threading.Thread:
    def kill() -> None:
        os.kill(run_in_progress(out)[1], signal.SIGKILL)

    thread = threading.Thread(target=kill, daemon=True)
    thread.start()
    return thread


def test_without_retries_the_run_is_reported_failed_and_a_rerun_resumes_it(
        tmp_path: Path, reference: dict[str, dict], capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "s"
    plan = plan_sweep("donor-game", seeds=[0, 1], fixed=FIXED, out=out)
    killer = kill_the_first_worker_caught_in_a_run(out)
    outcomes = run_sweep(plan, PoolExecutor(2, retries=0))
    killer.join(timeout=5)
    failed = [o for o in outcomes if o.status != "finished"]
    assert len(failed) == 1 and failed[0].status == "failed", outcomes
    assert failed[0].message.startswith("its worker was killed by SIGKILL")
    assert "giving up on it after 1 attempt" in capsys.readouterr().err
    assert statuses(out).count("failed") == 1
    again = run_sweep(plan_sweep("donor-game", seeds=[0, 1], fixed=FIXED, out=out), "inline")
    assert [o.status for o in again].count("skipped") == 1
    assert next(o for o in again if o.name == failed[0].name).resumed
    assert stores(out) == reference_of(out, reference)


@pytest.mark.slow
def test_a_killed_sweep_takes_its_workers_with_it_and_a_rerun_resumes(
        tmp_path: Path, reference: dict[str, dict]) -> None:
    out = tmp_path / "s"
    process = sweep_process(out, "0..3")
    try:
        run_in_progress(out)
        workers = [int(pid) for pid in
                   Path(f"/proc/{process.pid}/task/{process.pid}/children").read_text().split()]
        process.kill()
    finally:
        finish(process)
    assert workers
    deadline = time.monotonic() + 15
    while any(alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(alive(pid) for pid in workers), "workers outlived their sweep"
    again = sweep_process(out, "0..3")
    _, stderr = finish(again)
    assert again.returncode == 0, stderr
    assert statuses(out) == ["finished"] * 4
    assert stores(out) == reference_of(out, reference)


# -- the pool itself, on jobs that kill their own worker ----------------------------------------


def die_unless_marked(marker: str) -> str:
    """Kill this worker unless `marker` exists (and create it first: the retry survives)."""
    path = Path(marker)
    if not path.exists():
        path.write_text("died once")
        os.kill(os.getpid(), signal.SIGKILL)
    return f"done {path.name}"


def always_die(_: str) -> str:
    os.kill(os.getpid(), signal.SIGKILL)
    return "never"


def test_the_pool_retries_the_job_of_a_dead_worker_and_reports_it(tmp_path: Path) -> None:
    notices: list[str] = []
    jobs = [str(tmp_path / f"job{i}") for i in range(4)]
    (tmp_path / "job0").write_text("")  # job0 and job2 survive at once; job1 and job3 die once
    (tmp_path / "job2").write_text("")
    pool = WorkerPool(die_unless_marked, 2, retries=1, notice=notices.append)
    events = list(pool.run(jobs, [f"job{i}" for i in range(4)]))
    assert sorted(e.index for e in events) == [0, 1, 2, 3]
    assert all(isinstance(e, Finished) for e in events)
    died = {e.index: e.deaths for e in events if e.deaths}
    assert set(died) == {1, 3} and all(d == ["was killed by SIGKILL (as the out-of-memory "
                                             "killer does)"] for d in died.values())
    assert sorted(n.split()[3] for n in notices) == ["job1", "job3"]
    assert all("retry 1 of 1" in n for n in notices)


def test_the_pool_gives_up_after_its_retries_and_goes_on(tmp_path: Path) -> None:
    marked = tmp_path / "fine"
    marked.write_text("")
    pool = WorkerPool(always_die, 1, retries=2)
    events = list(WorkerPool(die_unless_marked, 1, retries=0).run([str(marked)])) + list(
        pool.run(["x"]))
    assert isinstance(events[0], Finished) and events[0].result == "done fine"
    assert isinstance(events[1], Lost) and len(events[1].deaths) == 3


class FinishedBeforeItsWorkerDied:
    """An executor whose every run finishes, then its worker dies before saying so: the retry
    finds the store finished (as a `kill -9` between the last commit and the report does)."""

    def map(self, specs):  # type: ignore[no-untyped-def]
        for spec in specs:
            assert execute_spec(spec).status == "finished"
            yield execute_spec(spec)  # the retry: 'skipped', the store says finished


def test_a_run_that_finished_before_its_worker_died_is_finished_in_the_index(
        tmp_path: Path) -> None:
    """Such a run was once listed 'finished (before)', 0.00 s, and 'skipped' in sweep.json (a
    status the index does not have)."""
    out = tmp_path / "s"
    plan = plan_sweep("donor-game", seeds=[0], fixed={"agents": 4, "generations": 1}, out=out)
    [outcome] = run_sweep(plan, FinishedBeforeItsWorkerDied())
    assert outcome.status == "finished" and outcome.wall_s >= 0
    assert statuses(out) == ["finished"]

