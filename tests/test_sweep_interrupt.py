"""A `societas sweep` stopped from outside (Ctrl-C to the whole process group of a pool sweep,
as a terminal sends it; SIGTERM to an inline sweep's process) exits 130 or 143, and the same
command then completes it without redoing a finished run, to the stores of an uninterrupted
sweep."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sim.store import snapshot
from sim.sweeps.plan import sweep

ARGS = ["--seeds", "0..3", "--set", "agents=12", "--set", "generations=6"]


def sweep_command(out: Path, executor: str) -> list[str]:
    return [sys.executable, "-m", "sim.cli", "sweep", "donor-game", *ARGS, "--out", str(out),
            "--executor", executor, "--workers", "2"]


def statuses(out: Path) -> list[str]:
    try:
        return [run["status"] for run in json.loads((out / "sweep.json").read_text())["runs"]]
    except (OSError, ValueError):
        return []


@pytest.mark.slow
@pytest.mark.parametrize(("executor", "signum", "whole_group", "code"), [
    ("pool", signal.SIGINT, True, 130), ("inline", signal.SIGTERM, False, 143)])
def test_a_stopped_sweep_exits_cleanly_and_the_same_command_completes_it(
        tmp_path: Path, executor: str, signum: int, whole_group: bool, code: int) -> None:
    out = tmp_path / "s"
    process = subprocess.Popen(sweep_command(out, executor), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while "finished" not in statuses(out):
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "no run finished in time"
            time.sleep(0.05)
        if whole_group:
            os.killpg(process.pid, signum)
        else:
            process.send_signal(signum)
        _, stderr = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    assert process.returncode == code, stderr
    assert "Traceback" not in stderr
    assert f"societas: the sweep in {out} stopped; run the same command again to resume it" \
        in stderr  # once only "societas: interrupted"
    stopped = statuses(out)
    assert "finished" in stopped and set(stopped) != {"finished"}, stopped
    index = json.loads((out / "sweep.json").read_text())
    finished = [out / run["dir"] / "run.sqlite" for run in index["runs"]
                if run["status"] == "finished"]
    before = {path: (path.stat().st_mtime_ns, path.read_bytes()) for path in finished}

    completed = subprocess.run([*sweep_command(out, executor), "--quiet"], capture_output=True,
                               text=True, timeout=300)
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.count("finished (before)") == len(finished)
    assert statuses(out) == ["finished"] * 4
    assert {path: (path.stat().st_mtime_ns, path.read_bytes()) for path in finished} == before
    reference = sweep("donor-game", seeds=range(4), fixed={"agents": 12, "generations": 6},
                      out=tmp_path / "reference", executor="inline")
    for row in reference.itertuples():
        assert snapshot(out / row.run / "run.sqlite") == snapshot(Path(row.run_dir) /
                                                                  "run.sqlite"), row.run
