"""Reading a sweep back: `analysis.load_sweep` and `societas report SWEEP_DIR`."""

from __future__ import annotations

from pathlib import Path

import pytest

from analysis import load_sweep
from sim.cli import main
from sim.sweeps.plan import sweep


@pytest.fixture(scope="module")
def sweep_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sweep") / "s"
    sweep("donor-game", seeds=[0, 1], grid={"punishment": ["none", "costly"]},
          fixed={"agents": 4, "generations": 2}, out=out, executor="inline")
    return out


def test_load_sweep_gives_the_runs_and_one_frame_with_the_swept_keys(sweep_dir: Path) -> None:
    loaded = load_sweep(sweep_dir)
    assert loaded.swept == ["punishment", "seed"]
    assert list(loaded.frame.columns[:3]) == ["run", "punishment", "seed"]
    assert sorted(zip(loaded.frame.punishment, loaded.frame.seed, strict=True)) == [
        ("costly", 0), ("costly", 1), ("none", 0), ("none", 1)]
    assert set(loaded.frame.status) == {"finished"}
    assert [run.path.name for run in loaded.runs] == list(loaded.frame.run)
    scores = loaded.load_many("generation_scores")
    assert {"punishment", "seed", "run"} <= set(scores.columns)
    assert set(scores.run) == set(loaded.frame.run) and len(scores) >= 4
    # Each row carries its own run's condition, not another run's.
    by_run = loaded.frame.set_index("run").punishment
    assert (scores.punishment == scores.run.map(by_run)).all()


@pytest.mark.slow  # figures of four runs and the report
def test_report_of_a_sweep_directory_groups_its_runs_by_the_swept_keys(
        sweep_dir: Path, capsys) -> None:
    assert main(["report", str(sweep_dir)]) == 0
    out = capsys.readouterr().out
    report = sweep_dir / "report.html"
    assert f"report: {report}" in out
    html = report.read_text()
    assert "2 groups of runs" in html and "punishment" in html
    for run in load_sweep(sweep_dir).frame.run:
        assert run in html


def test_report_of_a_sweep_with_no_run_yet_is_one_line(tmp_path: Path, capsys) -> None:
    (tmp_path / "sweep.json").write_text('{"scenario": "donor-game", "swept": ["seed"], '
                                         '"runs": [{"name": "seed-0", "dir": "seed-0", '
                                         '"values": {"seed": 0}, "status": "pending"}]}')
    assert main(["report", str(tmp_path)]) == 2
    assert capsys.readouterr().err.startswith("societas: error: no runs to report")
