"""Every figure function draws from real run data, on its own figure or on the caller's axes,
and survives a run with nothing in it."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from matplotlib.figure import Figure

from analysis import figures as fig
from analysis import load, load_many
from analysis import metrics as m
from scenarios.donor_game import analysis as dg
from scenarios.donor_game.analysis import pairs_from_run
from sim.config import load_config
from sim.registry import get_scenario
from sim.runs.runner import run_scenario
from sim.store import STORE_FILENAME, RunStore

SCENARIO = get_scenario("donor-game")


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> list[Path]:
    root = tmp_path_factory.mktemp("figs")
    dirs = []
    for seed, punishment in ((0, False), (1, False), (2, True)):
        config = load_config(SCENARIO.config_type, values={
            "agents": 6, "generations": 3, "rounds": 6, "games": 1, "seed": seed,
            "punishment": punishment})
        dirs.append(run_scenario(SCENARIO, config, run_dir=root / f"s{seed}", progress=False,
                                 figures=False).run_dir)
    return dirs


def _texts(figure: Figure) -> str:
    parts = [figure.get_suptitle()] if figure.get_suptitle() else []
    for ax in figure.axes:
        parts += [ax.get_title(), ax.get_xlabel(), ax.get_ylabel()]
        if ax.get_legend() is not None:
            parts += [t.get_text() for t in ax.get_legend().get_texts()]
    return " | ".join(parts)


def _on_axes(draw) -> None:
    host = Figure()
    ax = host.add_subplot()
    assert draw(ax) is host
    assert ax.get_title()


def test_cooperation_across_seeds_and_side_by_side(runs):
    frame = load_many(runs, dg.per_generation)
    across = dg.plot_cooperation_across_seeds(frame, by="punishment")
    text = _texts(across)
    assert "across seeds" in text and "punishment = none: range across 2 seeds" in text
    assert "share of resources given" in text
    _on_axes(lambda ax: dg.plot_cooperation_across_seeds(frame, "final_resources", ax=ax))
    side = dg.plot_comparison(frame, by="punishment")
    assert len(side.axes) == 2
    assert "punishment = costly (1 seeds)" in _texts(side)
    host = Figure()
    axes = list(host.subplots(1, 2))
    assert dg.plot_comparison(frame, by="punishment", axes=axes) is host


def test_heatmap_of_gifts_by_reputation(runs):
    run = load(runs[0])
    pairs = dg.with_donor(pairs_from_run(run), run.agents)
    heat = dg.plot_gift_heatmap(pairs)
    text = _texts(heat)
    assert "recipient's last share given" in text and "donor's strategy" in text
    assert heat.axes[0].get_yticklabels()  # one row per donor strategy
    _on_axes(lambda ax: dg.plot_gift_heatmap(pairs, by="generation", ax=ax))


def test_strategy_figures_and_lineage(runs):
    run = load(runs[2])
    survival = m.strategy_survival(run.generation_scores)
    assert "survive" in _texts(fig.plot_strategy_shares(survival))
    force = m.strategies_in_force(run.strategies, run.generation_scores)
    clusters = m.strategy_clusters(force["text"].tolist())
    shares = m.cluster_shares(force["generation"], clusters.labels)
    legend = _texts(fig.plot_cluster_shares(shares, clusters.names()))
    assert clusters.names()[0] in legend
    assert "within the generation" in _texts(fig.plot_text_similarity(m.text_convergence(force)))
    tree = fig.plot_lineage(run.agents, run.generation_scores)
    assert "inherited from" in _texts(tree)
    assert len(tree.axes[0].get_yticklabels()) == len(run.agents)
    _on_axes(lambda ax: fig.plot_lineage(run.agents, run.generation_scores, ax=ax))
    _on_axes(lambda ax: fig.plot_strategy_shares(survival, ax=ax))


def test_figures_of_an_empty_run_say_no_data(tmp_path):
    RunStore(tmp_path / STORE_FILENAME).close()
    run = load(tmp_path)
    pairs = pairs_from_run(run)
    empty = pd.DataFrame(columns=["run", "seed", "generation", "donation_fraction", "model"])
    drawn = [
        dg.plot_cooperation_across_seeds(empty),
        dg.plot_gift_heatmap(pairs),
        fig.plot_strategy_shares(m.strategy_survival(run.generation_scores)),
        fig.plot_text_similarity(pd.DataFrame()),
        fig.plot_lineage(run.agents, run.generation_scores),
    ]
    for figure in drawn:
        assert "no data recorded" in [t.get_text() for t in figure.axes[0].texts]
