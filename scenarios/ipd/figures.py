"""The tournament's figures, drawn from a run's `ranking`, `matches` and `population` tables.

- `ranking.png`: every player's mean score per turn, best first (a tournament);
- `payoff_matrix.png`: the mean payoff per turn of each row player against each column player,
  self-play on the diagonal (a tournament);
- `population.png`: how many members of each strategy the Moran population held, generation
  by generation.

Drawn on an Agg canvas without pyplot (no display, no global state).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from analysis.counting import shown
from analysis.palette import Palette

TOURNAMENT_FIGURES = ("ranking.png", "payoff_matrix.png")
MORAN_FIGURES = ("population.png",)


def _colour(strategies: list[str], colour: Callable[[str], str] | None) -> dict[str, str]:
    """Each strategy's colour: a report's (`colour`), else a palette of the strategies drawn."""
    palette = Palette(strategies)
    shade = colour if colour is not None else palette.color
    return {s: shade(s) for s in palette.labels}


def _figure(width: float, height: float) -> tuple[Figure, object]:
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig, fig.subplots()


def plot_ranking(ranking: pd.DataFrame, colour: Callable[[str], str] | None = None) -> Figure:
    """Mean score per turn of every player, best at the top, wins beside each bar."""
    rows = ranking.sort_values("rank", ascending=False)
    fig, ax = _figure(8.0, 0.45 * len(rows) + 1.5)
    shades = _colour(rows["strategy"].tolist(), colour)
    bars = ax.barh(rows["player"], rows["score_per_turn"],
                   color=[shades[s] for s in rows["strategy"]])
    for bar, wins in zip(bars, rows["wins"], strict=True):
        ax.text(bar.get_width(), bar.get_y() + bar.get_height() / 2, f" {int(wins)} wins",
                va="center", fontsize="small")
    ax.set_xlabel("mean score per turn (self-play left out)")
    ax.set_title("Tournament ranking")
    ax.set_xlim(0, max(rows["score_per_turn"].max() * 1.25, 1e-9))
    return fig


def payoff_matrix(matches: pd.DataFrame) -> pd.DataFrame:
    """Mean payoff per turn of each row player against each column player, over repetitions
    (a self-play match counts both of its sides on the diagonal)."""
    forward = matches.assign(row=matches["player"], col=matches["opponent"],
                             value=matches["score"] / matches["turns"])
    backward = matches.assign(row=matches["opponent"], col=matches["player"],
                              value=matches["opponent_score"] / matches["turns"])
    both = pd.concat([forward, backward])[["row", "col", "value"]]
    order = list(dict.fromkeys([*matches["player"], *matches["opponent"]]))
    return both.pivot_table(index="row", columns="col", values="value",
                            aggfunc="mean").reindex(index=order, columns=order)


def plot_payoff_matrix(matches: pd.DataFrame) -> Figure:
    """The pairwise payoff heatmap: how well each row player did against each column player."""
    table = payoff_matrix(matches)
    n = len(table)
    fig, ax = _figure(1.0 + 0.7 * n, 0.6 + 0.6 * n)
    image = ax.imshow(table.to_numpy(dtype=float), cmap="viridis")
    ax.set_xticks(range(n), table.columns, rotation=45, ha="right", fontsize="small")
    ax.set_yticks(range(n), table.index, fontsize="small")
    values = table.to_numpy(dtype=float)
    middle = np.nanmean(values) if n else 0.0
    for i in range(n):
        for j in range(n):
            if not np.isnan(values[i, j]):
                ax.text(j, i, f"{values[i, j]:.2f}", ha="center", va="center",
                        fontsize="x-small", color="white" if values[i, j] < middle else "black")
    ax.set_title("Mean payoff per turn of the row player against the column player")
    fig.colorbar(image, ax=ax, shrink=0.8)
    return fig


def plot_population(population: pd.DataFrame,
                    colour: Callable[[str], str] | None = None) -> Figure:
    """Members of each strategy at the start of each generation (counted from 1; the last
    point is the population the last generation left), a Moran process."""
    counts = population.pivot_table(index="generation", columns="strategy", values="count",
                                    aggfunc="sum", fill_value=0).sort_index()
    fig, ax = _figure(8.0, 4.5)
    shades = _colour(list(counts.columns), colour)
    counts = counts[list(shades)]  # stacked in the palette's order
    ax.stackplot(shown(counts.index), counts.to_numpy().T, labels=list(counts.columns),
                 colors=[shades[s] for s in counts.columns], step="post")
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.set_xlabel("generation")
    ax.set_ylabel("members")
    ax.set_ylim(0, counts.sum(axis=1).max())
    ax.set_title("Moran process: population by strategy")
    ax.legend(fontsize="small", loc="upper left")
    return fig
