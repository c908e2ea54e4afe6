"""The analysis package against a tiny hand-made Donor Game run.

Two generations of four agents play one game of two rounds each; every value asserted below
was worked out by hand from the rows in `_ROUNDS`, so a summary that drifts from the documented
definitions (punishment counts as 0, per-agent means before min/max) fails loudly.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest
from matplotlib.figure import Figure

from analysis import Run, load
from scenarios.donor_game.analysis import (
    draw_donor_game_figures,
    generation_summary,
    plot_donation_per_round,
    plot_per_generation,
    plot_resources_per_round,
    round_summary,
)
from scenarios.donor_game.tables import RUN_TABLES as TABLES
from sim.store import STORE_FILENAME, RunStore

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"



# step -> (generation, round, [(action, fraction) per donor i], [resources of agent i after])
# Donor i gives to agent (i + 1) % 4 of the same generation.
_ROUNDS = {
    0: (0, 0, [("donate", 0.5), ("donate", 0.0), ("donate", 0.25), ("donate", 1.0)],
        [12, 15, 9, 6]),
    1: (0, 1, [("donate", 0.5), ("punish", 0.2), ("donate", 0.75), ("donate", 0.25)],
        [14, 13, 8, 5]),
    2: (1, 0, [("donate", 0.5), ("donate", 0.5), ("donate", 0.5), ("donate", 0.5)],
        [10, 10, 10, 10]),
    3: (1, 1, [("donate", 0.0), ("donate", 0.5), ("donate", 1.0), ("donate", 0.5)],
        [13, 8, 11, 9]),
}
CONFIG = {"scenario": "donor-game", "seed": 7, "generations": 2, "rounds": 2}


def _agent(generation: int, i: int) -> str:
    return f"a{generation}-{i}"


def _write_run(path, *, with_strategies: bool = True) -> RunStore:
    """Fill a store with the hand-made run; the caller decides whether to close it."""
    store = RunStore(path / STORE_FILENAME)
    for name, columns in TABLES.items():
        if name != "strategies" or with_strategies:
            store.define_table(name, columns)
    store.set_meta("config", CONFIG)
    store.set_meta("started_at", "2024-01-01T00:00:00Z")
    for generation in (0, 1):
        store.insert("agents", [
            {"agent_id": _agent(generation, i), "generation": generation, "brain": "rule",
             "kind": "image_scoring", "params": {"threshold": i}, "parents": []}
            for i in range(4)
        ])
    for step, (generation, rnd, acts, resources) in _ROUNDS.items():
        where = {"step": step, "generation": generation, "game": 0, "round": rnd}
        store.insert("donations", [
            {**where, "donor": _agent(generation, i), "recipient": _agent(generation, (i + 1) % 4),
             "action": action, "fraction": fraction, "amount": 10 * fraction,
             "effect": (2 if action == "donate" else -2) * 10 * fraction,
             "donor_before": 10.0, "recipient_before": 10.0, "source": "rule"}
            for i, (action, fraction) in enumerate(acts)
        ])
        store.insert("agent_rounds", [
            {**where, "agent_id": _agent(generation, i), "resources": float(value)}
            for i, value in enumerate(resources)
        ])
        if rnd == 1:  # end of the generation: score = final resources
            store.insert("generation_scores", [
                {"generation": generation, "agent_id": _agent(generation, i), "brain": "rule",
                 "kind": "image_scoring", "score": float(value), "rank": rank, "survived": 1}
                for rank, (i, value) in enumerate(
                    sorted(enumerate(resources), key=lambda pair: -pair[1])
                )
            ])
        store.commit()
    return store


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("run")
    _write_run(path).close()
    (path / "config.json").write_text(json.dumps(CONFIG))
    return path


@pytest.fixture(scope="module")
def run(run_dir) -> Run:
    return load(run_dir)


def test_load_reads_config_meta_and_tables(run, run_dir):
    assert run.path == run_dir
    assert run.config == CONFIG
    assert run.meta["started_at"] == "2024-01-01T00:00:00Z"
    assert {"meta", "agents", "donations", "agent_rounds", "generation_scores"} <= set(
        run.tables()
    )
    assert len(run.agents) == 8
    assert len(run.donations) == 16
    assert len(run.agent_rounds) == 16
    assert len(run.generation_scores) == 8
    # JSON columns stay text for the caller to decode.
    assert run.agents.loc[0, "params"] == '{"threshold":0}'
    assert run.agents.loc[0, "parents"] == "[]"


def test_missing_tables_read_as_empty_frames_with_columns(tmp_path):
    _write_run(tmp_path, with_strategies=False).close()
    run = load(tmp_path)
    assert "strategies" not in run.tables()
    assert run.strategies.empty
    assert list(run.strategies.columns) == list(TABLES["strategies"])
    assert run.llm_calls.empty and "latency_s" in run.llm_calls.columns
    with pytest.raises(KeyError, match="no_such_table"):
        run.table("no_such_table")


def test_config_falls_back_to_meta_and_store_can_still_be_open(tmp_path):
    store = _write_run(tmp_path)  # still open, as during a run
    try:
        run = load(tmp_path)
        assert not (tmp_path / "config.json").exists()
        assert run.config == CONFIG
        assert len(run.agent_rounds) == 16
    finally:
        store.close()


def test_missing_run_dir_raises_clear_error(tmp_path):
    missing = tmp_path / "nowhere"
    with pytest.raises(FileNotFoundError, match="nowhere") as excinfo:
        load(missing)
    assert STORE_FILENAME in str(excinfo.value)


def test_round_summary_matches_hand_computed_values(run):
    expected = pd.DataFrame(
        {
            "generation": [0, 0, 1, 1],
            "game": [0, 0, 0, 0],
            "round": [0, 1, 0, 1],
            "mean_resources": [10.5, 10.0, 10.0, 10.25],
            "min_resources": [6.0, 5.0, 10.0, 8.0],
            "max_resources": [15.0, 14.0, 10.0, 13.0],
            # step 1: the punisher's 0.2 counts as 0 -> (0.5 + 0 + 0.75 + 0.25) / 4
            "mean_fraction": [0.4375, 0.375, 0.5, 0.5],
            "min_fraction": [0.0, 0.0, 0.5, 0.0],
            "max_fraction": [1.0, 0.75, 0.5, 1.0],
            "punishments": [0, 1, 0, 0],
        },
        index=pd.Index([0, 1, 2, 3], name="step"),
    )
    pd.testing.assert_frame_equal(round_summary(run), expected, check_dtype=False)


def test_generation_summary_matches_hand_computed_values(run):
    # Per-agent mean fractions: gen 0 -> 0.5, 0, 0.5, 0.625; gen 1 -> 0.25, 0.5, 0.75, 0.5.
    expected = pd.DataFrame(
        {
            "mean_score": [10.0, 10.25],
            "min_score": [5.0, 8.0],
            "max_score": [14.0, 13.0],
            # no final_mean in this synthetic run (as in runs written before it): score is
            # the final resources
            "mean_final": [10.0, 10.25],
            "min_final": [5.0, 8.0],
            "max_final": [14.0, 13.0],
            "mean_fraction": [0.40625, 0.5],
            "min_fraction": [0.0, 0.25],
            "max_fraction": [0.625, 0.75],
        },
        index=pd.Index([0, 1], name="generation"),
    )
    pd.testing.assert_frame_equal(generation_summary(run), expected, check_dtype=False)


def test_draw_figures_writes_pngs(run_dir, tmp_path):
    paths = draw_donor_game_figures(run_dir)
    assert [p.name for p in paths] == [
        "resources_per_round.png", "donation_per_round.png", "per_generation.png",
    ]
    assert all(p.parent == run_dir / "figures" for p in paths)
    elsewhere = draw_donor_game_figures(run_dir, out_dir=tmp_path / "out")
    for path in [*paths, *elsewhere]:
        data = path.read_bytes()
        assert data.startswith(PNG_MAGIC)
        assert len(data) > 1000


def test_figure_functions_accept_run_summary_and_axes(run):
    for draw in (plot_resources_per_round, plot_donation_per_round):
        assert isinstance(draw(run), Figure)
        host = Figure()
        ax = host.add_subplot()
        assert draw(round_summary(run), ax=ax) is host
        assert ax.get_ylabel()
    host = Figure()
    axes = list(host.subplots(1, 2))
    assert plot_per_generation(run, axes=axes) is host
    assert axes[1].get_ylabel() == "share of resources given"


def test_figures_survive_a_run_without_rounds(tmp_path):
    RunStore(tmp_path / STORE_FILENAME).close()  # engine tables only, nothing played
    run = load(tmp_path)
    assert run.config == {}
    assert round_summary(run).empty
    assert generation_summary(run).empty
    paths = draw_donor_game_figures(tmp_path)
    assert all(p.read_bytes().startswith(PNG_MAGIC) for p in paths)
