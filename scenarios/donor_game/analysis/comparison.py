"""Cooperation per generation across seeds, and groups (models, brain mixes) side by side.

Single runs of the Donor Game vary a lot between seeds (the paper stresses this), so these
figures always show every seed, not only the mean: a band or thin lines per run.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence

import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from analysis import _plotting as plot
from analysis.counting import shown

LABELS = {
    "donation_fraction": "share of resources given",
    "final_resources": "mean final resources (units)",
    "gini": "Gini of final resources",
}
TITLES = {
    "donation_fraction": "Donation fraction",
    "final_resources": "Final resources",
    "gini": "Inequality (Gini)",
}


def _by_generation(frame: pd.DataFrame, value: str) -> pd.DataFrame:
    """generation × run table of `value` (one column per run), generations counted from 1 as
    the figures show them."""
    table = frame.pivot_table(index="generation", columns="run", values=value, aggfunc="mean")
    table.index = shown(table.index)
    return table


def _group_values(frame: pd.DataFrame, by: str | None) -> list:
    if by is None:
        return [None]
    return list(dict.fromkeys(frame[by].tolist()))  # first-seen order, stable


#: Keys whose values name themselves (a model, a brain mix); other values need their key.
SELF_NAMING_KEYS = frozenset({"model", "brains", "group"})  # a report's group names its keys


def group_label(by: str | None, group: object) -> str:
    """'punishment = costly' for settings (a bare 'costly' or 'True' says little); model names
    and brain mixes as they are."""
    if by is None:
        return "all runs"
    if by in SELF_NAMING_KEYS and isinstance(group, str) and group:
        return group
    return f"{by} = {group}"


def _limits(ax: Axes, value: str) -> None:
    if value == "donation_fraction":
        ax.set_ylim(-0.02, 1.02)
    elif value == "gini":
        ax.set_ylim(0, 1)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("generation")
    ax.set_ylabel(LABELS.get(value, value))


def plot_cooperation_across_seeds(
    frame: pd.DataFrame, value: str = "donation_fraction", by: str | None = None,
    ax: Axes | None = None,
) -> Figure:
    """Mean across runs per generation, with a min–max band across seeds, per group.

    `frame` is `load_many(runs, per_generation)`: columns run, generation, `value` and the
    grouping column `by` (e.g. 'model' or 'brains'); without `by` all runs form one group.
    """
    fig, ax = plot.axes_or_new(ax)
    groups = _group_values(frame, by)
    colors = plot.series_colors(len(groups))
    for color, group in zip(colors, groups, strict=True):
        rows = frame if group is None else frame[frame[by] == group]
        table = _by_generation(rows, value)
        if table.empty:
            continue
        n = table.shape[1]
        name = "all runs" if group is None else group_label(by, group)
        x = table.index.to_numpy(float)
        if n > 1:
            ax.fill_between(x, table.min(axis=1), table.max(axis=1), color=color, alpha=0.18,
                            linewidth=0, label=f"{name}: range across {n} seeds")
        ax.plot(x, table.mean(axis=1), color=color, marker="o", markersize=4, linewidth=2,
                label=f"{name}: mean of {n} seed{'s' if n > 1 else ''}")
    title = f"{TITLES.get(value, value)} per generation"
    ax.set_title(title + (" across seeds" if frame["run"].nunique() > 1 else ""))
    _limits(ax, value)
    if ax.has_data():
        _legend_below(ax)
    else:
        plot.no_data(ax)
    return fig


def _legend_below(ax: Axes) -> None:
    """Legend under the axes: group labels (brain mixes) can be long, and beside the axes
    they would squeeze the plot to nothing."""
    handles, labels = ax.get_legend_handles_labels()
    ax.legend(handles, [textwrap.fill(label, 60) for label in labels], loc="upper center",
              bbox_to_anchor=(0.5, -0.13), ncol=2 if len(labels) > 2 else 1, fontsize=8,
              frameon=False)


def plot_comparison(
    frame: pd.DataFrame, by: str = "model", value: str = "final_resources",
    axes: Sequence[Axes] | None = None,
) -> Figure:
    """One panel per group (model or brain mix), side by side on a shared y axis.

    In the style of Vallinder & Hughes' figures: each seed's curve as a thin line, the mean
    across seeds in bold, so both the typical course and the spread between seeds show.
    `axes`, if given, must hold one axes per group.
    """
    groups = _group_values(frame, by) or [None]
    if axes is None:
        fig, axes = plot.new_figure(ncols=len(groups), width=3.6 * len(groups) + 1.0,
                                    height=3.8)
    else:
        fig = axes[0].figure.figure
    axes = list(axes)
    top = pd.to_numeric(frame[value], errors="coerce").max() if not frame.empty else 1.0
    for ax, group in zip(axes, groups, strict=True):
        rows = frame[frame[by] == group] if group is not None else frame
        table = _by_generation(rows, value) if not rows.empty else pd.DataFrame()
        seeds = rows.drop_duplicates("run").set_index("run")["seed"] if not rows.empty else {}
        for run in table.columns:
            ax.plot(table.index, table[run], color="0.6", linewidth=1,
                    label="one seed" if run == table.columns[0] else None)
            last = table[run].dropna()
            if not last.empty:
                ax.annotate(f"s{seeds[run]}", (last.index[-1], last.iloc[-1]), fontsize=7,
                            color="0.45", xytext=(3, 0), textcoords="offset points",
                            va="center")
        if not table.empty:
            ax.plot(table.index, table.mean(axis=1), color="black", linewidth=2.2, marker="o",
                    markersize=3, label="mean across seeds")
        title = f"{group_label(by, group)} ({table.shape[1]} seeds)"
        ax.set_title(textwrap.fill(title, 34), fontsize=9)
        _limits(ax, value)
        if value not in ("donation_fraction", "gini") and pd.notna(top):
            ax.set_ylim(0, float(top) * 1.08 or 1.0)
        if not table.empty:
            ax.margins(x=0.08)
    for ax in axes[1:]:
        ax.set_ylabel("")
    fig.suptitle(f"{TITLES.get(value, value)} per generation, by {by}")
    if axes and axes[0].has_data():
        axes[0].legend(loc="best", fontsize=7, frameon=False)
    return fig
