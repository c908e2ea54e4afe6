"""Sweeps: planning, executors (same stores in-process and on the pool), the index, resuming.

Runs are tiny rule-brain Donor Games (4 agents, 1-2 generations), so a 2×2×2 sweep takes
seconds; LLM runs go through litellm to the scripted server on 127.0.0.1.
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest

import sim
from scenarios.donor_game.scripted_player import scripted_player
from sim.cli import main
from sim.config import ConfigError
from sim.errors import UserError
from sim.store import snapshot
from sim.sweeps.executors import RunSpec
from sim.sweeps.plan import parse_grid, parse_seeds, plan_sweep, run_sweep, sweep
from sim.testing.scripted_server import ScriptedLLMServer

GRID = {"punishment": ["none", "costly"], "generations": [1, 2]}
FIXED = {"agents": 4}


def stores(frame) -> dict[str, dict]:  # type: ignore[no-untyped-def]
    return {row.run: snapshot(Path(row.run_dir) / "run.sqlite") for row in frame.itertuples()}


def test_seeds_and_grid_values_are_read_like_a_researcher_writes_them() -> None:
    assert parse_seeds("0..3") == [0, 1, 2, 3]
    assert parse_seeds("0,3,5") == [0, 3, 5]
    assert parse_seeds("5,0..2,1") == [5, 0, 1, 2]
    for bad in ("a..b", "3..1", "-1", ""):
        with pytest.raises(UserError):
            parse_seeds(bad)
    assert parse_grid("punishment=none,costly") == ("punishment", ["none", "costly"])
    assert parse_grid("cost_benefit_ratio=0.5,2") == ("cost_benefit_ratio", [0.5, 2])
    assert parse_grid('x="a,b","c"') == ("x", ["a,b", "c"])
    with pytest.raises(UserError):
        parse_grid("punishment")


def test_a_plan_names_each_run_after_its_swept_values_and_travels_as_plain_data(
        tmp_path: Path) -> None:
    plan = plan_sweep("donor-game", seeds=[0, 1], grid=GRID, fixed=FIXED, out=tmp_path)
    assert len(plan.specs) == 8 and plan.swept == ["punishment", "generations", "seed"]
    assert plan_sweep("donor-game", seeds="0..1", grid=GRID, fixed=FIXED,
                      out=tmp_path).specs == plan.specs
    names = [spec.name for spec in plan.specs]
    assert len(set(names)) == 8 and "punishment-costly__generations-2__seed-1" in names
    spec = plan.specs[-1]
    assert spec.config["agents"] == 4 and spec.config["punishment"] == "costly"
    assert pickle.loads(pickle.dumps(spec)) == spec
    assert RunSpec.from_dict(json.loads(json.dumps(spec.to_dict()))) == spec
    # A model swept in derives the model-dependent defaults (LLM brains) per run.
    llm = plan_sweep("donor-game", models=["openai/a"], fixed=FIXED, out=tmp_path / "m")
    assert llm.specs[0].config["brains"] == {"llm": 1.0}


def test_an_invalid_grid_value_is_refused_before_any_run_starts(tmp_path: Path, capsys) -> None:
    with pytest.raises(ConfigError, match="punishment"):
        plan_sweep("donor-game", seeds=[0], grid={"punishment": ["none", "bogus"]},
                   out=tmp_path / "s")
    code = main(["sweep", "donor-game", "--seeds", "0..1", "--grid", "punishment=none,bogus",
                 "--set", "agents=4", "--out", str(tmp_path / "s"), "--quiet"])
    error = capsys.readouterr().err
    assert code == 2 and error.count("\n") == 1 and error.startswith("societas: error: ")
    assert "punishment-bogus" in error
    assert not (tmp_path / "s").exists()


def test_a_run_directory_as_out_is_refused_and_left_as_it_was(tmp_path: Path, capsys) -> None:
    """`--out runs/donor-game-...` (a run's directory, or one run of another sweep) once wrote
    a sweep index and run directories inside that run's."""
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "run.sqlite").write_bytes(b"")
    code = main(["sweep", "donor-game", "--set", "agents=4", "--set", "generations=1",
                 "--executor", "inline", "--out", str(run_dir), "--quiet"])
    assert code == 2
    assert capsys.readouterr().err == (f"societas: error: {run_dir} is a run directory, not a "
                                       "sweep directory; choose another --out\n")
    assert [p.name for p in run_dir.iterdir()] == ["run.sqlite"]


def test_inline_and_pool_sweeps_write_identical_stores(tmp_path: Path) -> None:
    assert sim.sweep is sweep  # the public name
    inline = sweep("donor-game", seeds=[0, 1], grid=GRID, fixed=FIXED, out=tmp_path / "inline",
                   executor="inline")
    pooled = sweep("donor-game", seeds=[0, 1], grid=GRID, fixed=FIXED, out=tmp_path / "pool",
                   executor="pool", workers=2)
    assert list(inline.columns[:4]) == ["run", "punishment", "generations", "seed"]
    assert {"run_dir", "status", "wall_s"} <= set(inline.columns)
    assert (inline.status == "finished").all() and (pooled.status == "finished").all()
    assert list(inline.run) == list(pooled.run)
    inline_stores, pooled_stores = stores(inline), stores(pooled)
    assert inline_stores == pooled_stores
    # The swept values reach the runs: the conditions really differ.
    assert inline_stores[inline.run[0]] != inline_stores[inline.run[1]]
    index = json.loads((tmp_path / "pool" / "sweep.json").read_text())
    assert index["swept"] == ["punishment", "generations", "seed"]
    assert [run["status"] for run in index["runs"]] == ["finished"] * 8
    assert all((tmp_path / "pool" / run["dir"] / "run.sqlite").is_file()
               for run in index["runs"])


@pytest.mark.slow  # each worker imports litellm (seconds); one worker runs both runs
def test_llm_runs_on_the_pool_reach_the_scripted_server_each_with_its_own_cache(
        tmp_path: Path) -> None:
    fixed = {"agents": 4, "generations": 2, "rounds": 2, "games": 1, "timeout_s": 10.0}
    with ScriptedLLMServer(scripted_player) as server:
        fixed["api_base"] = server.url
        inline = sweep("donor-game", seeds=[0, 1], models=["openai/scripted"], fixed=fixed,
                       out=tmp_path / "inline", executor="inline")
        calls = server.request_count
        pooled = sweep("donor-game", seeds=[0, 1], models=["openai/scripted"], fixed=fixed,
                       out=tmp_path / "pool", executor="pool", workers=1)
        assert server.request_count == 2 * calls > 0  # no run answered from another's cache
    assert (pooled.status == "finished").all()
    assert stores(inline) == stores(pooled)
    for run_dir in pooled.run_dir:
        assert (Path(run_dir) / "responses.sqlite").is_file()


class InterruptOnce:
    """Stands in for the runner's progress bar: Ctrl-C in the middle of the `victim`-th run."""

    started = 0

    def __init__(self, total: int, **_: object) -> None:
        type(self).started += 1
        self.mine = type(self).started

    def update(self, done: int, label: str, detail: str = "") -> None:
        if self.mine == 3 and done >= 1:
            raise KeyboardInterrupt

    def finish(self) -> None:
        pass


def test_an_interrupted_sweep_resumes_without_touching_finished_runs(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    grid = {"punishment": ["none", "costly"]}
    fixed = {"agents": 4, "generations": 3}
    reference = sweep("donor-game", seeds=[0, 1], grid=grid, fixed=fixed,
                      out=tmp_path / "reference", executor="inline")
    plan = plan_sweep("donor-game", seeds=[0, 1], grid=grid, fixed=fixed, out=tmp_path / "s")
    monkeypatch.setattr("sim.runs.runner.Progress", InterruptOnce)
    with pytest.raises(KeyboardInterrupt):
        run_sweep(plan, "inline")
    monkeypatch.undo()
    index = json.loads((tmp_path / "s" / "sweep.json").read_text())
    assert [run["status"] for run in index["runs"]] == [
        "finished", "finished", "interrupted", "pending"]
    first, second = (tmp_path / "s" / spec.name / "run.sqlite" for spec in plan.specs[:2])
    before = {path: path.stat().st_mtime_ns for path in (first, second)}
    before_bytes = {path: path.read_bytes() for path in (first, second)}

    again = plan_sweep("donor-game", seeds=[0, 1], grid=grid, fixed=fixed, out=tmp_path / "s")
    outcomes = run_sweep(again, "inline")
    assert [o.status for o in outcomes] == ["skipped", "skipped", "finished", "finished"]
    assert outcomes[2].resumed and not outcomes[3].resumed
    assert {path: path.stat().st_mtime_ns for path in (first, second)} == before
    assert {path: path.read_bytes() for path in (first, second)} == before_bytes
    resumed = {spec.name: snapshot(Path(spec.run_dir) / "run.sqlite") for spec in again.specs}
    assert resumed == stores(reference)
    index = json.loads((tmp_path / "s" / "sweep.json").read_text())
    assert [run["status"] for run in index["runs"]] == ["finished"] * 4


def test_cli_sweep_from_a_sweep_file_reports_each_run_and_fails_if_one_failed(
        tmp_path: Path, capsys) -> None:
    sweep_file = tmp_path / "sweep.toml"
    sweep_file.write_text('scenario = "donor-game"\nseeds = "0..1"\n'
                          '[grid]\npunishment = ["none", "costly"]\n[fixed]\nagents = 4\n'
                          'generations = 1\n')
    out = tmp_path / "s"
    out.mkdir()
    (out / "punishment-costly__seed-1").write_text("a file where the run's directory goes")
    code = main(["sweep", "--sweep-file", str(sweep_file), "--out", str(out),
                 "--executor", "inline"])
    captured = capsys.readouterr()
    assert code == 1
    rows = {line.split()[0]: line.split()[1] for line in captured.out.splitlines()[2:6]}
    assert rows["punishment-none__seed-0"] == "finished"
    assert rows["punishment-costly__seed-1"] == "failed"
    assert "1 of 4 runs did not finish (punishment-costly__seed-1)" in captured.err
    assert "sweep 4/4 runs" in captured.err and "ETA" in captured.err
    index = json.loads((out / "sweep.json").read_text())
    statuses = {run["name"]: run["status"] for run in index["runs"]}
    assert statuses.pop("punishment-costly__seed-1") == "failed"
    assert set(statuses.values()) == {"finished"}
    # A different sweep may not take over the directory.
    code = main(["sweep", "donor-game", "--seeds", "0..2", "--out", str(out), "--quiet"])
    assert code == 2 and "holds a different sweep" in capsys.readouterr().err
    # Nor may the same runs with another config: finished runs would mix two conditions.
    code = main(["sweep", "--sweep-file", str(sweep_file), "--out", str(out), "--quiet",
                 "--set", "endowment=20"])
    assert code == 2 and "planned with another config" in capsys.readouterr().err
    # The same sweep, once the obstacle is gone, runs only what is missing.
    (out / "punishment-costly__seed-1").unlink()
    code = main(["sweep", "--sweep-file", str(sweep_file), "--out", str(out), "--quiet",
                 "--executor", "inline"])
    captured = capsys.readouterr()
    assert code == 0 and captured.err == ""
    assert captured.out.count("finished (before)") == 3


def test_a_run_on_a_node_without_the_sweep_directory_comes_back_whole(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """What a Ray task does on a node (sim.sweeps.run_transfer): in place where the node sees the
    sweep directory; else in the node's scratch, the directory returned as an archive."""
    from sim.sweeps.run_transfer import SCRATCH_ENV, pack, place_marker, run_on_this_node, unpack

    plan = plan_sweep("donor-game", seeds=[0, 1], fixed={"agents": 4, "generations": 3},
                      out=tmp_path / "s")
    (tmp_path / "s").mkdir()
    marker = place_marker(tmp_path / "s", "token")
    first, second = plan.specs
    outcome, archive = run_on_this_node(first, None, str(marker), "token")
    assert outcome.status == "finished" and archive is None  # it saw the sweep: in place
    assert (Path(first.run_dir) / "run.sqlite").is_file()

    scratch = tmp_path / "node-scratch"
    monkeypatch.setenv(SCRATCH_ENV, str(scratch))
    monkeypatch.setattr("sim.runs.runner.Progress", InterruptOnce)  # stopped mid-run on the node
    monkeypatch.setattr(InterruptOnce, "started", 2)  # (the next run it stands in for)
    outcome, archive = run_on_this_node(second, None, str(marker), "token")
    monkeypatch.undo()
    monkeypatch.setenv(SCRATCH_ENV, str(scratch))
    assert outcome.status == "interrupted" and archive is not None
    assert outcome.run_dir == second.run_dir and not Path(second.run_dir).exists()
    assert not any(scratch.rglob("*"))  # the node keeps nothing
    unpack(archive, Path(second.run_dir))  # the driver holds the partial run now
    outcome, archive = run_on_this_node(second, pack(Path(second.run_dir)), str(marker),
                                        "token")
    assert outcome.status == "finished" and outcome.resumed and archive is not None
    unpack(archive, Path(second.run_dir))
    reference = sweep("donor-game", seeds=[0, 1], fixed={"agents": 4, "generations": 3},
                      out=tmp_path / "reference", executor="inline", progress=False)
    assert {s.name: snapshot(Path(s.run_dir) / "run.sqlite") for s in plan.specs} == (
        stores(reference))
    assert sorted(p.name for p in (tmp_path / "s").iterdir()) == sorted(
        [".societas-sweep-marker", first.name, second.name])  # nothing half unpacked left


def test_a_brains_mix_in_another_order_is_another_sweep(tmp_path: Path) -> None:
    # Slots follow the order of `brains`, so the same mix in another order gives other stores:
    # resuming a sweep with it would mix two conditions under one directory.
    def planned(brains: dict[str, int]):
        return plan_sweep("donor-game", seeds=[0], out=tmp_path / "s", fixed={
            "agents": 4, "generations": 1, "brains": brains})

    run_sweep(planned({"standing": 1, "always_defect": 1}), "inline")
    with pytest.raises(UserError, match="planned with another config"):
        run_sweep(planned({"always_defect": 1, "standing": 1}), "inline")
    again = run_sweep(planned({"standing": 1, "always_defect": 1}), "inline")
    assert [outcome.status for outcome in again] == ["skipped"]
