"""Donor Game summaries and figures, recomputed from the raw per-round tables.

Everything here is derived from `agent_rounds`, `donations` and `generation_scores`, never
from the scenario's own `metrics` rows, so the figures double as an independent check of the
stored metrics (the summary columns use the same names as the metric rows to make that
comparison a one-liner).

Cooperation is measured by the donation fraction: a 'donate' act counts its fraction, a
'punish' act counts as 0 (the donor gave nothing to the recipient). An agent's fraction in a
round or a generation is the mean over its acts as a donor; min/max are across agents.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from analysis import _plotting as plot
from analysis.counting import shown
from analysis.run import Run, load
from scenarios.donor_game.analysis.cooperation import final_resources_of
from scenarios.donor_game.analysis.tables import game_table

ROUND_KEYS = ["generation", "game", "round"]
ROUND_COLUMNS = [
    *ROUND_KEYS,
    "mean_resources", "min_resources", "max_resources",
    "mean_fraction", "min_fraction", "max_fraction",
    "punishments",
]
GENERATION_COLUMNS = [
    "mean_score", "min_score", "max_score",
    "mean_final", "min_final", "max_final",
    "mean_fraction", "min_fraction", "max_fraction",
]
FIGURE_FILES = ("resources_per_round.png", "donation_per_round.png", "per_generation.png")

RESOURCES_LABEL = "resources (units)"
FRACTION_LABEL = "share of resources given"
STEP_LABEL = "round (counted from 1 across games and generations)"


# -- summaries -----------------------------------------------------------------------------
def cooperation(donations: pd.DataFrame) -> pd.DataFrame:
    """Donation rows with a `coop` column: the fraction given, 0 for a punishment."""
    frame = donations.copy()
    is_donation = frame["action"] == "donate"
    frame["coop"] = np.where(is_donation, pd.to_numeric(frame["fraction"]), 0.0)
    frame["punished"] = (frame["action"] == "punish").astype(int)
    return frame


def _across_agents(frame: pd.DataFrame, by: str, agent: str, value: str, name: str) -> pd.DataFrame:
    """Mean per agent within each `by` group, then mean/min/max of those across agents."""
    per_agent = frame.groupby([by, agent])[value].mean()
    stats = per_agent.groupby(level=by).agg(["mean", "min", "max"])
    return stats.rename(columns=lambda stat: f"{stat}_{name}")


def round_summary(run: Run) -> pd.DataFrame:
    """One row per global round step: resources after the round and cooperation in it.

    Resources come from `agent_rounds`; fractions and the punishment count from the step's
    `donations`. A step present in only one of the two tables keeps NaN for the other's columns.
    """
    rounds = game_table(run, "agent_rounds")
    acts = cooperation(game_table(run, "donations"))
    parts = [frame[["step", *ROUND_KEYS]] for frame in (rounds, acts) if not frame.empty]
    if not parts:
        return pd.DataFrame(columns=ROUND_COLUMNS, index=pd.Index([], name="step"))
    summary = pd.concat(parts).drop_duplicates("step").set_index("step").sort_index()
    resources = rounds.groupby("step")["resources"].agg(["mean", "min", "max"])
    summary = summary.join(resources.rename(columns=lambda stat: f"{stat}_resources"))
    summary = summary.join(_across_agents(acts, "step", "donor", "coop", "fraction"))
    summary = summary.join(acts.groupby("step")["punished"].sum().rename("punishments"))
    summary = summary.reindex(columns=ROUND_COLUMNS)
    summary["punishments"] = summary["punishments"].fillna(0).astype(int)
    return summary.astype({key: int for key in ROUND_KEYS})


def generation_summary(run: Run) -> pd.DataFrame:
    """One row per generation: selection scores and final resources (averaged over the games)
    across agents, and agents' mean donation fractions."""
    scores = run.generation_scores.assign(final=lambda s: final_resources_of(s))
    acts = cooperation(game_table(run, "donations"))
    score_stats = [
        scores.groupby("generation")[column].agg(["mean", "min", "max"])
        .rename(columns=lambda stat, name=name: f"{stat}_{name}")
        for column, name in (("score", "score"), ("final", "final"))
    ]
    fraction_stats = _across_agents(acts, "generation", "donor", "coop", "fraction")
    summary = score_stats[0].join(score_stats[1]).join(fraction_stats, how="outer")
    summary = summary.reindex(columns=GENERATION_COLUMNS)
    summary.index = summary.index.astype(int)
    summary.index.name = "generation"
    return summary.sort_index()


# -- figures -------------------------------------------------------------------------------
def _round_data(data: Run | pd.DataFrame) -> pd.DataFrame:
    return round_summary(data) if isinstance(data, Run) else data


def _per_round(
    summary: pd.DataFrame, ax: Axes | None, name: str, ylabel: str, title: str
) -> Figure:
    fig, ax = plot.axes_or_new(ax)
    rows = summary.dropna(subset=[f"mean_{name}"])
    ax.set_title(title)
    ax.set_xlabel(STEP_LABEL)
    ax.set_ylabel(ylabel)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if rows.empty:
        plot.no_data(ax)
        return fig
    plot.mean_band(ax, shown(rows.index), rows[f"mean_{name}"], rows[f"min_{name}"],
                   rows[f"max_{name}"], "across agents")
    spans = summary.reset_index().groupby("generation")["step"].agg(first="min", last="max")
    plot.generation_boundaries(ax, spans)
    ax.margins(x=0.02)
    plot.outside_legend(ax)
    return fig


def plot_resources_per_round(data: Run | pd.DataFrame, ax: Axes | None = None) -> Figure:
    """Agents' resources after every round: mean line, min–max band, generation boundaries.

    `data` is a run or its `round_summary`; with `ax` the plot goes on the caller's axes.
    """
    return _per_round(_round_data(data), ax, "resources", RESOURCES_LABEL,
                      "Resources after each round")


def plot_donation_per_round(data: Run | pd.DataFrame, ax: Axes | None = None) -> Figure:
    """Share of resources donated in every round (punishment counts as 0)."""
    fig = _per_round(_round_data(data), ax, "fraction", FRACTION_LABEL,
                     "Donation fraction in each round (punishment = 0)")
    fig_ax = ax if ax is not None else fig.axes[0]
    fig_ax.set_ylim(-0.03, 1.08)  # headroom for the "gen N" labels
    return fig


def _generation_panel(
    ax: Axes, summary: pd.DataFrame, name: str, ylabel: str, title: str
) -> None:
    rows = summary.dropna(subset=[f"mean_{name}"])
    ax.set_title(title)
    ax.set_xlabel("generation")
    ax.set_ylabel(ylabel)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if rows.empty:
        plot.no_data(ax)
        return
    mean = rows[f"mean_{name}"]
    x = shown(rows.index)  # generations counted from 1
    plot.mean_band(ax, x, mean, rows[f"min_{name}"], rows[f"max_{name}"], "across agents")
    spread = [mean - rows[f"min_{name}"], rows[f"max_{name}"] - mean]
    ax.errorbar(x, mean, yerr=spread, fmt="none", ecolor=plot.LINE_COLOR,
                elinewidth=1, capsize=4)


def plot_per_generation(data: Run | pd.DataFrame, axes: list[Axes] | None = None) -> Figure:
    """Two panels per generation: final resources (averaged over the generation's games, the
    study's headline) and donation fraction.

    `data` is a run or its `generation_summary`; `axes` are two caller-owned axes, if given.
    """
    summary = generation_summary(data) if isinstance(data, Run) else data
    if axes is None:
        fig, axes = plot.new_figure(ncols=2, width=10.0)
    else:
        fig = axes[0].figure.figure
    left, right = axes
    _generation_panel(left, summary, "final", f"final {RESOURCES_LABEL}",
                      "Final resources per generation")
    _generation_panel(right, summary, "fraction", FRACTION_LABEL,
                      "Mean donation fraction per generation")
    right.set_ylim(-0.03, 1.03)
    if right.has_data():
        plot.outside_legend(right)  # one legend: both panels use the same encoding
    return fig


def draw_donor_game_figures(
    run_dir: str | Path, out_dir: str | Path | None = None
) -> list[Path]:
    """Write the three standard Donor Game figures; return their paths.

    They go to `<run_dir>/figures/` unless `out_dir` is given.
    """
    run = load(run_dir)
    target = Path(out_dir) if out_dir is not None else run.path / "figures"
    rounds = round_summary(run)
    figures = (
        plot_resources_per_round(rounds),
        plot_donation_per_round(rounds),
        plot_per_generation(generation_summary(run)),
    )
    return [plot.save(fig, target / name) for fig, name in zip(figures, FIGURE_FILES, strict=True)]
