"""People count from 1: generations, rounds, turns and days read from 1 wherever a person reads
them (figures, the report, the terminal's summary table, `societas inspect`), while the store
keeps counting from 0. Each check reads what a reader sees: a figure's plotted data and visible
ticks, the report's HTML tables, the printed lines."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure
from run_helpers import query, quiet

from analysis import figures as fig
from analysis import load
from analysis import metrics as m
from analysis.counting import shown_columns
from analysis.figures.headline import across_seeds
from scenarios.donor_game import analysis as dg
from sim import get_scenario, load_config
from sim.cli import main
from sim.runs.runner import run_scenario

GENERATIONS = 3


@pytest.fixture(scope="module")
def donor_run(tmp_path_factory) -> Path:
    scenario = get_scenario("donor-game")
    config = load_config(scenario.config_type, values={
        "agents": 6, "generations": GENERATIONS, "rounds": 2, "games": 1, "seed": 0})
    result = run_scenario(scenario, config, run_dir=tmp_path_factory.mktemp("dg") / "run",
                          options=quiet())
    assert query(result.run_dir, "SELECT MIN(generation) FROM generation_scores") == [(0,)]
    return result.run_dir


def visible_xticks(figure: Figure, ax_index: int = 0) -> list[float]:
    figure.canvas.draw()
    ax = figure.axes[ax_index]
    low, high = sorted(ax.get_xlim())
    return [t for t in ax.get_xticks() if low <= t <= high]


def line_x(figure: Figure, label: str, ax_index: int = 0) -> list[float]:
    (line,) = [line for line in figure.axes[ax_index].get_lines() if line.get_label() == label]
    return [float(x) for x in line.get_xdata()]


def test_donor_game_figures_count_generations_and_rounds_from_1(donor_run: Path) -> None:
    run = load(donor_run)
    per_generation = dg.plot_per_generation(run)
    for i in range(2):
        assert line_x(per_generation, "mean", i) == [1.0, 2.0, 3.0]
        assert min(visible_xticks(per_generation, i)) >= 1
    rounds = dg.plot_resources_per_round(run)
    assert line_x(rounds, "mean") == [float(x) for x in range(1, 2 * GENERATIONS + 1)]
    labels = [t.get_text() for t in rounds.axes[0].texts]
    assert labels == ["gen 1", "gen 2", "gen 3"]
    assert min(visible_xticks(rounds)) >= 1


def test_the_generic_figures_count_generations_from_1(donor_run: Path) -> None:
    run = load(donor_run)
    survival = m.strategy_survival(run.generation_scores)
    shares = fig.plot_strategy_shares(survival)
    centres = {round(p.get_x() + p.get_width() / 2, 6) for p in shares.axes[0].patches}
    assert centres == {1.0, 2.0, 3.0}
    force = m.strategies_in_force(run.strategies, run.generation_scores)
    similarity = fig.plot_text_similarity(m.text_convergence(force))
    assert line_x(similarity, "within the generation") == [1.0, 2.0, 3.0]
    tree = fig.plot_lineage(run.agents, run.generation_scores)
    starts = tree.axes[0].collections[1].get_offsets()[:, 0]  # each agent's first generation
    assert set(np.asarray(starts).tolist()) == {1.0, 2.0, 3.0}
    frame = pd.DataFrame({"group": "g", "run": "r", "generation": [0, 1, 2],
                          "value": [0.1, 0.2, 0.3]})
    headline = fig.plot_headline(frame, "share")
    assert [float(x) for x in headline.axes[0].get_lines()[0].get_xdata()] == [1.0, 2.0, 3.0]


def test_inspect_counts_generations_and_ranks_from_1(donor_run: Path,
                                                     capsys: pytest.CaptureFixture) -> None:
    assert main(["inspect", str(donor_run), "--agent", "g0-a00"]) == 0
    out = capsys.readouterr().out
    assert "created in generation 1," in out and "generation 1: score" in out
    assert "generation 0" not in out and "rank 0" not in out


def test_ipd_moran_summary_figure_and_headline_count_from_1(tmp_path: Path) -> None:
    import analysis

    scenario = get_scenario("ipd-tournament")
    config = load_config(scenario.config_type, values={
        "seed": 1, "turns": 3, "evolution": "moran", "generations": 3,
        "strategies": ["defector", "cooperator", "tit_for_tat"]})
    result = run_scenario(scenario, config, run_dir=tmp_path / "moran",
                          options=quiet())
    headers, rows = result.summary
    stored = sorted({g for (g,) in query(result.run_dir, "SELECT generation FROM population")})
    assert headers[0] == "generation" and [row[0] for row in rows] == [g + 1 for g in stored]
    run = analysis.load(result.run_dir)
    spec = run.analysis_spec
    population = next(f for f in spec.figures if f.file == "population.png").draw(run)
    assert min(visible_xticks(population)) >= 1
    (series,) = spec.headline
    assert series.x == "turn" and series.compute(run)["turn"].min() == 0  # stored from 0
    cooperation = series.compute(run).assign(group="g", run="r")
    assert shown_columns(across_seeds(cooperation, "turn"))["turn"].min() == 1  # as reported


def test_public_goods_rounds_count_from_1(tmp_path: Path) -> None:
    import analysis

    scenario = get_scenario("public-goods")
    config = load_config(scenario.config_type, values={"seed": 0, "generations": 2, "rounds": 3})
    result = run_scenario(scenario, config, run_dir=tmp_path / "pg", options=quiet())
    run = analysis.load(result.run_dir)
    contributions = run.analysis_spec.figures[0].draw(run)
    assert line_x(contributions, "all members") == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
    # the dashed line between the generations sits between rounds 3 and 4
    dashed = [line for line in contributions.axes[0].get_lines() if line.get_linestyle() == "--"]
    assert [float(line.get_xdata()[0]) for line in dashed] == [3.5]
