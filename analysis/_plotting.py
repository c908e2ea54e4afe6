"""Small matplotlib helpers shared by the scenario figures.

Figures are built with `matplotlib.figure.Figure` on an explicit Agg canvas and never through
pyplot, so drawing from a simulation run, a test or a notebook neither needs a display nor
leaks open figures or global state between calls.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from analysis.counting import shown
from analysis.palette import Palette  # noqa: F401  (figures use it as plot.Palette)

DPI = 120
LINE_COLOR = "tab:blue"
BOUNDARY_COLOR = "0.55"


def new_figure(ncols: int = 1, width: float = 8.0, height: float = 4.5) -> tuple[Figure, list]:
    """A fresh Agg-backed figure with `ncols` side-by-side axes."""
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, ncols, squeeze=False)[0]
    return fig, list(axes)


def axes_or_new(ax: Axes | None) -> tuple[Figure, Axes]:
    """Draw on the caller's axes when given (to compose panels), else on a new figure."""
    if ax is not None:
        return ax.figure.figure, ax  # `.figure` twice: the root figure even from a subfigure
    fig, (new_ax,) = new_figure()
    return fig, new_ax


def mean_band(
    ax: Axes, x: Sequence[float], mean: pd.Series, low: pd.Series, high: pd.Series, what: str
) -> None:
    """Mean as a line with markers, min..max across agents as a shaded band."""
    x = np.asarray(x, dtype=float)
    ax.fill_between(
        x, low.to_numpy(float), high.to_numpy(float),
        color=LINE_COLOR, alpha=0.2, linewidth=0, label=f"min–max {what}",
    )
    ax.plot(x, mean.to_numpy(float), color=LINE_COLOR, marker="o", markersize=3,
            linewidth=1.5, label="mean")


def generation_boundaries(ax: Axes, steps: pd.DataFrame) -> None:
    """Thin vertical lines where a new generation starts; "gen N" centred over each span.

    `steps` is indexed by generation with columns `first` and `last` (global round steps), both
    as stored (from 0); the axes show rounds and generations counted from 1, as a person reads
    them (`analysis.counting`). A line sits half a round before a generation's first round,
    between the two generations' points.
    """
    low, high = ax.get_ylim()
    ax.set_ylim(low, high + 0.1 * (high - low))  # headroom so the labels clear the data
    top = ax.get_xaxis_transform()  # x in data units, y in axes fraction
    for i, (generation, span) in enumerate(steps.iterrows()):
        first, last = shown(span["first"]), shown(span["last"])
        if i > 0:
            ax.axvline(first - 0.5, color=BOUNDARY_COLOR, linewidth=0.8,
                       linestyle="--", label="generation boundary" if i == 1 else None)
        ax.text((first + last) / 2, 0.98, f"gen {shown(int(generation))}", transform=top,
                fontsize=8, color="0.35", va="top", ha="center")


def outside_legend(ax: Axes) -> None:
    """Legend to the right of the axes, where it cannot hide the bands."""
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)


def no_data(ax: Axes) -> None:
    """Say so on the axes rather than fail: a run stopped early still gets its figures."""
    ax.text(0.5, 0.5, "no data recorded", transform=ax.transAxes, ha="center", va="center",
            color="0.4")


def save(fig: Figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=DPI)
    return path


def series_colors(n: int) -> list:
    """`n` distinguishable colours for clusters or groups (tab10, then tab20)."""
    from matplotlib import colormaps

    name = "tab10" if n <= 10 else "tab20"
    cmap = colormaps[name]
    return [cmap(i % cmap.N) for i in range(n)]
