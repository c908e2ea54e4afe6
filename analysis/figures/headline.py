"""A scenario's headline series across runs: one line per group, a confidence band across seeds.

Groups are conditions (runs whose results-relevant config differs); the runs within a group
are seeds of one condition, so the band is a 95% t interval of the mean across them: it says
how well the seeds pin the condition's curve down, and is absent for a group of one run.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from scipy import stats

from analysis import _plotting as plot
from analysis.counting import ORDINALS, shown


def across_seeds(frame: pd.DataFrame, x: str = "generation", by: str = "group") -> pd.DataFrame:
    """Per group and `x`: runs, mean of `value` across them, and the 95% t interval
    (`low`, `high`; NaN with fewer than two runs). `frame` has columns `by`, `run`, `x`,
    `value` (one value per run and x)."""
    columns = [by, x, "runs", "mean", "low", "high"]
    if frame.empty:
        return pd.DataFrame(columns=columns)
    values = frame.assign(value=pd.to_numeric(frame["value"], errors="coerce"))
    per_run = values.groupby([by, x, "run"])["value"].mean().dropna()
    grouped = per_run.groupby(level=[by, x])
    table = grouped.agg(runs="count", mean="mean", sd="std").reset_index()
    n = table["runs"].to_numpy(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        half = stats.t.ppf(0.975, np.maximum(n - 1, 1)) * table["sd"].to_numpy(float) / np.sqrt(n)
    half = np.where(n >= 2, half, np.nan)
    table["low"], table["high"] = table["mean"] - half, table["mean"] + half
    return table[columns]


def plot_headline(frame: pd.DataFrame, label: str, *, x: str = "generation",
                  by: str = "group", bounds: tuple[float, float] | None = None,
                  ax: Axes | None = None) -> Figure:
    """Mean of `value` across each group's runs per `x`, with its 95% confidence band.

    `frame` has columns `by`, `run`, `x` and `value`; `label` names the value on the y axis.
    An `x` the store counts from 0 (a generation, day, ...: `analysis.counting.ORDINALS`) is
    shown from 1.
    """
    fig, ax = plot.axes_or_new(ax)
    ax.set_title(f"{label}: mean across seeds, 95% CI")
    ax.set_xlabel(x)
    ax.set_ylabel(label)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    table = across_seeds(frame, x, by)
    if table.empty:
        plot.no_data(ax)
        return fig
    groups = list(dict.fromkeys(table[by]))
    for color, group in zip(plot.series_colors(len(groups)), groups, strict=True):
        rows = table[table[by] == group].sort_values(x)
        runs = int(rows["runs"].max())
        xs = rows[x].to_numpy(float)
        xs = shown(xs) if x in ORDINALS else xs
        ax.plot(xs, rows["mean"].to_numpy(float), color=color, marker="o", markersize=4,
                linewidth=2, label=f"{group} ({runs} run{'s' if runs != 1 else ''})")
        if rows["low"].notna().any():
            ax.fill_between(xs, rows["low"].to_numpy(float), rows["high"].to_numpy(float),
                            color=color, alpha=0.18, linewidth=0)
    if bounds is not None:
        low, high = bounds
        pad = 0.03 * (high - low)
        ax.set_ylim(low - pad, high + pad)
    plot.outside_legend(ax)
    return fig
