"""Sweeps on a Ray cluster whose nodes do not share the sweep's disk.

One local cluster for the module (`ray.cluster_utils.Cluster`, on loopback, offline): two nodes
of one CPU each (the head and one more), each with a scratch directory of its own
(`SOCIETAS_SCRATCH`, set in the node's environment, not the driver's), so each run is written
on its node's scratch and its directory comes back to the sweep directory on the driver. On
it, the same 2×2×2 sweep as the pool writes identical stores, a stopped sweep resumes from the
partial directories that came back without redoing finished runs, and the rate limit holds
through the limiter actor.

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

# Keep every address on loopback: without this, Ray rewrites 127.0.0.1 in a cluster's address
# to the machine's network address, where a head started on loopback does not listen.
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
ray = pytest.importorskip("ray", reason="Ray is not installed (pip install 'societas[ray]')")

from ray.cluster_utils import Cluster  # noqa: E402

from scenarios.donor_game.scripted_player import scripted_player  # noqa: E402
from sim.store import snapshot  # noqa: E402
from sim.sweeps.executors import RunOutcome  # noqa: E402
from sim.sweeps.plan import plan_sweep, run_sweep, sweep  # noqa: E402
from sim.sweeps.ray_executor import RayExecutor  # noqa: E402
from sim.sweeps.run_transfer import SCRATCH_ENV  # noqa: E402
from sim.testing.scripted_server import ChatRequest, ScriptedLLMServer  # noqa: E402

GRID = {"punishment": ["none", "costly"], "generations": [1, 2]}
FIXED = {"agents": 4}  # 2×2×2 runs of under a second each: the cluster's start is the cost


@pytest.fixture(scope="module", autouse=True)
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Path]]:
    """The cluster, and each worker node's scratch directory."""
    nodes = {name: tmp_path_factory.mktemp(f"scratch-{name}") for name in ("a", "b")}
    loopback = {"node_ip_address": "127.0.0.1", "num_cpus": 1}
    cluster = Cluster(initialize_head=True, head_node_args={
        "include_dashboard": False, "env_vars": {SCRATCH_ENV: str(nodes["a"])}, **loopback})
    cluster.add_node(env_vars={SCRATCH_ENV: str(nodes["b"])}, **loopback)
    ray.init(address=cluster.address, log_to_driver=False, configure_logging=False)
    yield nodes
    ray.shutdown()
    cluster.shutdown()


class ScratchWatch:
    """Notes which runs appear in which node's scratch while a sweep goes."""

    def __init__(self, nodes: dict[str, Path]) -> None:
        self.nodes, self.seen = nodes, {name: set() for name in nodes}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self) -> None:
        while not self._stop.wait(0.005):
            for name, path in self.nodes.items():
                self.seen[name] |= {p.name for p in path.glob("*/*")}

    def __enter__(self) -> ScratchWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


def stores(frame: Any) -> dict[str, dict]:
    return {row.run: snapshot(Path(row.run_dir) / "run.sqlite") for row in frame.itertuples()}


@pytest.fixture(scope="module")
def pooled(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The same sweep on the local process pool."""
    return sweep("donor-game", seeds=[0, 1], grid=GRID, fixed=FIXED, executor="pool",
                 out=tmp_path_factory.mktemp("pool") / "s", workers=2, progress=False)


def test_runs_on_nodes_scratch_come_back_with_the_pools_stores(
        tmp_path: Path, scratch: dict[str, Path], pooled: Any) -> None:
    with ScratchWatch(scratch) as watch:
        on_ray = sweep("donor-game", seeds=[0, 1], grid=GRID, fixed=FIXED,
                       out=tmp_path / "ray", executor="ray", progress=False)
    # every run was written on a node's own scratch, each node ran some, none kept a copy
    assert watch.seen["a"] | watch.seen["b"] == set(on_ray.run), watch.seen
    assert watch.seen["a"] and watch.seen["b"] and not watch.seen["a"] & watch.seen["b"]
    assert not [p for path in scratch.values() for p in path.rglob("*")]
    assert (on_ray.status == "finished").all() and list(on_ray.run) == list(pooled.run)
    assert list(on_ray.run_dir) == [str(tmp_path / "ray" / name) for name in on_ray.run]
    assert stores(on_ray) == stores(pooled)
    index = json.loads((tmp_path / "ray" / "sweep.json").read_text())
    assert [run["status"] for run in index["runs"]] == ["finished"] * 8


def test_a_stopped_ray_sweep_resumes_without_redoing_finished_runs(tmp_path: Path,
                                                                    pooled: Any) -> None:
    plan = plan_sweep("donor-game", seeds=[0, 1], grid=GRID, fixed=FIXED, out=tmp_path / "s")

    def stop(outcome: RunOutcome, done: int, total: int) -> None:
        raise KeyboardInterrupt  # Ctrl-C as the first run ends

    with pytest.raises(KeyboardInterrupt):
        run_sweep(plan, RayExecutor(), on_outcome=stop)
    index = json.loads((tmp_path / "s" / "sweep.json").read_text())
    finished = [run["name"] for run in index["runs"] if run["status"] == "finished"]
    assert 1 <= len(finished) < 8
    for run in index["runs"]:  # whatever a node wrote came back: the index goes by it
        stored = (tmp_path / "s" / run["dir"] / "run.sqlite").is_file()
        assert stored == (run["status"] != "pending"), run
    before = {name: (tmp_path / "s" / name / "run.sqlite").stat().st_mtime_ns
              for name in finished}
    again = plan_sweep("donor-game", seeds=[0, 1], grid=GRID, fixed=FIXED, out=tmp_path / "s")
    outcomes = run_sweep(again, RayExecutor())
    assert {o.name for o in outcomes if o.status == "skipped"} >= set(finished)
    assert all(o.status in ("finished", "skipped") for o in outcomes)
    assert {name: (tmp_path / "s" / name / "run.sqlite").stat().st_mtime_ns
            for name in finished} == before
    assert {s.name: snapshot(Path(s.run_dir) / "run.sqlite") for s in again.specs} == \
        stores(pooled)


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
