"""The public goods game's figures, drawn from a run's `contributions` table.

- `contribution_per_round.png`: the mean contribution in every round of the run, overall and
  by strategy (rule family, or 'llm'), with the generations marked;
- `per_generation.png`: each strategy's mean total payoff per generation, and how many members
  of each strategy the population held (selection at work).

Figures are drawn on an Agg canvas without pyplot, so a run, a test or a notebook can draw
them with no display and no global state.
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from analysis.counting import shown
from analysis.palette import Palette

FIGURE_FILES = ("contribution_per_round.png", "per_generation.png")


def _colours(kinds: list[str], colour: Callable[[str], str] | None) -> Callable[[str], str]:
    """A report's colours (`colour`, its palette's), else a palette of the strategies drawn."""
    return colour if colour is not None else Palette(kinds).color


def _figure(ncols: int) -> tuple[Figure, list]:
    fig = Figure(figsize=(8.0 if ncols == 1 else 11.0, 4.5), layout="constrained")
    FigureCanvasAgg(fig)
    return fig, list(fig.subplots(1, ncols, squeeze=False)[0])


def plot_contribution_per_round(frame: pd.DataFrame, endowment: float,
                                colour: Callable[[str], str] | None = None) -> Figure:
    """Mean contribution per round (counted from 1 across the run), overall and by strategy,
    generations marked; `colour` maps a strategy to its colour (a report's palette), else a
    palette of the strategies drawn."""
    fig, (ax,) = _figure(1)
    kinds = Palette(frame["kind"].astype(str)).labels
    shade = _colours(kinds, colour)
    for kind in kinds:
        series = frame[frame["kind"] == kind].groupby("step")["contribution"].mean()
        ax.plot(shown(series.index), series.values, marker=".", lw=1.2, label=kind,
                color=shade(kind))
    overall = frame.groupby("step")["contribution"].mean()
    ax.plot(shown(overall.index), overall.values, color="black", lw=2.2, label="all members")
    starts = frame.groupby("generation")["step"].min()
    for step in starts.iloc[1:]:
        ax.axvline(shown(step) - 0.5, color="0.6", lw=0.8, ls="--")
    ax.set_ylim(0, endowment * 1.02)
    ax.set_xlabel("round (counted from 1 across generations; dashed lines: new generation)")
    ax.set_ylabel("mean contribution (units)")
    ax.set_title("Contributions per round, by strategy")
    ax.legend(fontsize="small", loc="best")
    return fig


def plot_per_generation(frame: pd.DataFrame,
                        colour: Callable[[str], str] | None = None) -> Figure:
    """Each strategy's mean total payoff per generation, and its members per generation."""
    fig, (payoff_ax, count_ax) = _figure(2)
    kinds = Palette(frame["kind"].astype(str)).labels
    shade_of = _colours(kinds, colour)
    totals = frame.groupby(["generation", "agent_id", "kind"], as_index=False)["payoff"].sum()
    generations = sorted(totals["generation"].unique())
    x = [shown(g) for g in generations]
    bottom = [0] * len(generations)
    for kind in kinds:
        of_kind = totals[totals["kind"] == kind].groupby("generation")
        shade = shade_of(kind)
        mean = of_kind["payoff"].mean().reindex(generations)
        payoff_ax.plot(x, mean.values, marker="o", color=shade, label=kind)
        counts = of_kind["agent_id"].count().reindex(generations, fill_value=0)
        count_ax.bar(x, counts.values, bottom=bottom, color=shade, label=kind)
        bottom = [b + c for b, c in zip(bottom, counts.values, strict=True)]
    overall = totals.groupby("generation")["payoff"].mean()
    payoff_ax.plot(x, overall.values, color="black", lw=2.2, label="all members")
    payoff_ax.set_xlabel("generation")
    payoff_ax.set_ylabel("mean total payoff of the generation")
    payoff_ax.set_title("Payoffs by strategy")
    payoff_ax.legend(fontsize="small")
    count_ax.set_xlabel("generation")
    count_ax.set_ylabel("members")
    count_ax.set_title("Population by strategy")
    count_ax.legend(fontsize="small")
    for ax in (payoff_ax, count_ax):
        ax.set_xticks(x)
    return fig
