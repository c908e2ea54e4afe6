"""Sweeps on Ray: a local Ray instance (started once for the module, on loopback, offline)
runs the same 2×2×2 sweep as the pool to identical stores, resumes a stopped sweep without
redoing finished runs, and shares its rate limit through the limiter actor.

Skipped where Ray is not installed (`pip install 'societas[ray]'`).
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ray = pytest.importorskip("ray", reason="Ray is not installed (pip install 'societas[ray]')")

from scenarios.donor_game.scripted_player import scripted_player  # noqa: E402
from sim.executors import RunOutcome  # noqa: E402
from sim.ray_executor import RayExecutor  # noqa: E402
from sim.store import snapshot  # noqa: E402
from sim.sweeps import plan_sweep, run_sweep, sweep  # noqa: E402
from sim.testing.scripted_server import ChatRequest, ScriptedLLMServer  # noqa: E402

GRID = {"punishment": ["none", "costly"], "generations": [1, 2]}
FIXED = {"agents": 4}


@pytest.fixture(scope="module", autouse=True)
def local_ray() -> Iterator[None]:
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    ray.init(num_cpus=2, include_dashboard=False, configure_logging=False,
             log_to_driver=False, _node_ip_address="127.0.0.1")
    yield
    ray.shutdown()


def stores(frame: Any) -> dict[str, dict]:
    return {row.run: snapshot(Path(row.run_dir) / "run.sqlite") for row in frame.itertuples()}


def test_a_sweep_on_ray_writes_the_pools_stores(tmp_path: Path) -> None:
    pooled = sweep("donor-game", seeds=[0, 1], grid=GRID, fixed=FIXED, out=tmp_path / "pool",
                   executor="pool", workers=2, progress=False)
    on_ray = sweep("donor-game", seeds=[0, 1], grid=GRID, fixed=FIXED, out=tmp_path / "ray",
                   executor="ray", progress=False)
    assert (on_ray.status == "finished").all() and list(on_ray.run) == list(pooled.run)
    assert list(on_ray.run_dir) == [str(tmp_path / "ray" / name) for name in on_ray.run]
    assert stores(on_ray) == stores(pooled)
    index = json.loads((tmp_path / "ray" / "sweep.json").read_text())
    assert [run["status"] for run in index["runs"]] == ["finished"] * 8


def test_a_stopped_ray_sweep_resumes_without_redoing_finished_runs(tmp_path: Path) -> None:
    plan = plan_sweep("donor-game", seeds=[0, 1], grid=GRID, fixed=FIXED, out=tmp_path / "s")

    def stop(outcome: RunOutcome, done: int, total: int) -> None:
        raise KeyboardInterrupt  # Ctrl-C as the first run ends

    with pytest.raises(KeyboardInterrupt):
        run_sweep(plan, RayExecutor(), on_outcome=stop)
    index = json.loads((tmp_path / "s" / "sweep.json").read_text())
    finished = [run["name"] for run in index["runs"] if run["status"] == "finished"]
    assert 1 <= len(finished) < 8
    before = {name: (tmp_path / "s" / name / "run.sqlite").stat().st_mtime_ns
              for name in finished}
    again = plan_sweep("donor-game", seeds=[0, 1], grid=GRID, fixed=FIXED, out=tmp_path / "s")
    outcomes = run_sweep(again, RayExecutor())
    assert {o.name for o in outcomes if o.status == "skipped"} >= set(finished)
    assert all(o.status in ("finished", "skipped") for o in outcomes)
    assert {name: (tmp_path / "s" / name / "run.sqlite").stat().st_mtime_ns
            for name in finished} == before
    reference = sweep("donor-game", seeds=[0, 1], grid=GRID, fixed=FIXED,
                      out=tmp_path / "reference", executor="inline", progress=False)
    assert {s.name: snapshot(Path(s.run_dir) / "run.sqlite") for s in again.specs} == \
        stores(reference)


@pytest.mark.slow  # each Ray worker imports litellm (seconds)
def test_the_limiter_actor_holds_the_limit_for_runs_on_ray(tmp_path: Path) -> None:
    lock, state = threading.Lock(), {"in_flight": 0, "peak": 0}

    def one_at_a_time(request: ChatRequest) -> str:
        with lock:
            state["in_flight"] += 1
            state["peak"] = max(state["peak"], state["in_flight"])
        time.sleep(0.02)
        with lock:
            state["in_flight"] -= 1
        return scripted_player(request)

    fixed = {"agents": 4, "generations": 1, "rounds": 1, "games": 1, "timeout_s": 10.0}
    with ScriptedLLMServer(one_at_a_time) as server:
        fixed["api_base"] = server.url
        on_ray = sweep("donor-game", seeds=[0, 1], models=["openai/scripted"], fixed=fixed,
                       out=tmp_path / "ray", executor="ray", rate_limit="concurrent=1",
                       progress=False)
        assert state["peak"] == 1
        inline = sweep("donor-game", seeds=[0, 1], models=["openai/scripted"], fixed=fixed,
                       out=tmp_path / "inline", executor="inline", progress=False)
        assert state["peak"] > 1  # without the limit, a run's calls go out together
    assert (on_ray.status == "finished").all()
    assert stores(on_ray) == stores(inline)
