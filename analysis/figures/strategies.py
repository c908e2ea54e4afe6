"""Strategy populations over generations: families, text clusters, text similarity."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from analysis import _plotting as plot
from analysis.counting import shown


def _stacked(ax: Axes, shares: pd.DataFrame, names: Sequence[str], colors: Sequence) -> None:
    """Stacked bars, one per generation (counted from 1), with one segment per column of
    `shares` (indexed by generation as stored)."""
    bottom = np.zeros(len(shares))
    x = shown(shares.index.to_numpy(int))
    for column, name, color in zip(shares.columns, names, colors, strict=True):
        values = shares[column].fillna(0).to_numpy(float)
        ax.bar(x, values, bottom=bottom, color=color, label=name, width=0.8,
               edgecolor="white", linewidth=0.5)
        bottom += values
    ax.set_ylim(0, 1)
    ax.set_xlabel("generation")
    ax.set_ylabel("share of the population")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def _reversed_legend(ax: Axes) -> None:
    """Legend entries top to bottom in the order the segments are stacked."""
    handles, labels = ax.get_legend_handles_labels()
    ax.legend(handles[::-1], labels[::-1], loc="upper left", bbox_to_anchor=(1.01, 1.0),
              fontsize=8, frameon=False)


def plot_strategy_shares(survival: pd.DataFrame, ax: Axes | None = None,
                         palette: plot.Palette | None = None) -> Figure:
    """Share of the population held by each strategy type per generation (stacked bars).

    `survival` is `strategy_survival(generation_scores)` (indexed by generation and type);
    `palette` colours the types (a report passes its own, so colours agree across figures).
    """
    fig, ax = plot.axes_or_new(ax)
    ax.set_title("Which strategies survive: population share per generation")
    if survival.empty:
        plot.no_data(ax)
        return fig
    shares = survival["share"].unstack(fill_value=0.0)
    shares.columns = [str(k) for k in shares.columns]
    palette = palette or plot.Palette(shares.columns)
    kinds = palette.order(shares.columns)  # stacked and listed in the palette's order
    _stacked(ax, shares[kinds], kinds, [palette.color(k) for k in kinds])
    _reversed_legend(ax)
    return fig


def plot_cluster_shares(
    shares: pd.DataFrame, names: Sequence[str], ax: Axes | None = None
) -> Figure:
    """Share of each generation's strategy texts in each text cluster (stacked bars).

    `shares` is `cluster_shares(...)`; `names` are `Clusters.names()`, the clusters' telling
    words, so the legend says what each norm is about.
    """
    fig, ax = plot.axes_or_new(ax)
    ax.set_title("Strategy-text clusters (named by their telling words) per generation")
    if shares.empty:
        plot.no_data(ax)
        return fig
    columns = list(shares.columns)
    labels = [names[int(c)] for c in columns]
    _stacked(ax, shares, labels, plot.series_colors(max(len(names), 1))[:len(columns)])
    ax.set_ylabel("share of strategy texts in force")
    _reversed_legend(ax)
    return fig


def plot_text_similarity(convergence: pd.DataFrame, ax: Axes | None = None) -> Figure:
    """TF-IDF cosine similarity of strategy texts within and between generations.

    `convergence` is `text_convergence(...)`, or a frame pooled over runs with a `run` column
    (then the lines are means across runs). Rising lines mean the texts converge on a norm.
    """
    fig, ax = plot.axes_or_new(ax)
    ax.set_title("Do strategy texts converge? TF-IDF cosine similarity")
    if convergence.empty:
        plot.no_data(ax)
        return fig
    frame = convergence.reset_index() if "generation" not in convergence else convergence
    mean = frame.groupby("generation")[["within", "to_previous", "to_first"]].mean()
    styles = {
        "within": ("within the generation", "tab:blue", "-"),
        "to_previous": ("with the previous generation", "tab:orange", "--"),
        "to_first": ("with the first generation", "0.4", ":"),
    }
    for column, (label, color, style) in styles.items():
        series = mean[column].dropna()
        if not series.empty:
            ax.plot(shown(series.index), series, color=color, linestyle=style, marker="o",
                    markersize=3, label=label)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("generation")
    ax.set_ylabel("mean cosine similarity")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    plot.outside_legend(ax)
    return fig
