"""Several real (small, rule-brained) runs loaded into one tagged frame."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from analysis import load, load_many, runs_table
from analysis.many import brains_label, run_info
from scenarios.donor_game.analysis import per_generation
from sim.config import load_config
from sim.registry import get_scenario
from sim.runs.runner import run_scenario

SCENARIO = get_scenario("donor-game")


def small_run(where: Path, seed: int, **values: object) -> Path:
    config = load_config(SCENARIO.config_type, values={
        "agents": 6, "generations": 3, "rounds": 6, "games": 1, "seed": seed, **values})
    return run_scenario(SCENARIO, config, run_dir=where / f"s{seed}", progress=False,
                        figures=False).run_dir


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> list[Path]:
    root = tmp_path_factory.mktemp("many")
    return [small_run(root, 0), small_run(root, 1, punishment=True,
                                          brains={"standing": 1, "always_defect": 1})]


def test_load_many_tags_every_row_with_its_run(runs):
    frame = load_many(runs, "generation_scores")
    assert list(frame.columns[:6]) == ["run", "scenario", "seed", "model", "brains", "status"]
    assert len(frame) == 2 * 3 * 6  # runs × generations × agents
    by_run = frame.groupby("run").first()
    assert by_run.loc["s0", "seed"] == 0 and by_run.loc["s1", "seed"] == 1
    assert set(frame["model"]) == {"rules"}
    assert by_run.loc["s1", "brains"] == "always_defect 50% + standing 50%"
    assert by_run.loc["s0", "punishment"] == "none" and by_run.loc["s1", "punishment"] == "costly"
    assert set(frame["generations"]) == {3}  # config parameters become columns


def test_load_many_with_a_function_keeps_its_index_and_own_columns(runs):
    frame = load_many(runs, per_generation)
    assert frame["generation"].tolist() == [0, 1, 2, 0, 1, 2]
    assert {"donation_fraction", "final_resources", "gini"} <= set(frame.columns)
    agents = load_many(runs, "agents")
    assert agents["model"].isna().all()  # the table's own column wins over the run's tag


def test_runs_table_and_labels(runs):
    table = runs_table(runs)
    assert table["run"].tolist() == ["s0", "s1"]
    assert run_info(load(runs[0]))["brains"] == "rule"
    assert brains_label({"llm": 2, "rule": 2}) == "llm 50% + rule 50%"
    assert load_many([], "agents").empty


def test_tables_not_recorded_yet_read_as_empty_frames(runs):
    run = load(runs[0])
    assert isinstance(run.messages, pd.DataFrame) and run.messages.empty
    assert run.memories.empty
    assert run.generations.equals(run.generation_scores)
