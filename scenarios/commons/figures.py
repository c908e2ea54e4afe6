"""The commons' figures, drawn from a run's `seasons` and `catches` tables.

- `stock_over_seasons.png`: the fish in the lake at the start of every season, one line per
  generation, with the capacity and the collapse threshold; a collapse is marked where the
  stock fell below the threshold;
- `catches_per_agent.png`: each fisher's catch in every season beside the sustainable share,
  and each fisher's total catch, coloured by strategy (rule family or 'llm').

Drawn on an Agg canvas without pyplot, so a run, a test or a notebook can draw them with no
display and no global state.
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

FIGURE_FILES = ("stock_over_seasons.png", "catches_per_agent.png")
STRATEGY_COLOURS = {"greedy": "tab:red", "sustainable": "tab:green",
                    "conditional": "tab:blue", "llm": "tab:purple"}
_SPARE = ("tab:orange", "tab:brown", "tab:pink", "tab:olive", "tab:cyan")


def strategy_colour(kind: str, known: list[str]) -> str:
    """A strategy's colour: its own if it has one, else a spare one by its place in `known`."""
    if kind in STRATEGY_COLOURS:
        return STRATEGY_COLOURS[kind]
    spares = [k for k in known if k not in STRATEGY_COLOURS]
    return _SPARE[spares.index(kind) % len(_SPARE)]


def _figure(ncols: int) -> tuple[Figure, list]:
    fig = Figure(figsize=(8.0 if ncols == 1 else 12.0, 4.5), layout="constrained")
    FigureCanvasAgg(fig)
    return fig, list(fig.subplots(1, ncols, squeeze=False)[0])


def plot_stock(seasons: pd.DataFrame, *, capacity: float, threshold: float,
               label: Callable[[object], str] | None = None, ax=None) -> Figure:
    """Stock at the start of each season per generation (or per `group` column, when the
    frame has one: mean over its runs), with capacity and collapse threshold."""
    fig, (ax,) = _figure(1) if ax is None else (ax.figure, [ax])
    by = "group" if "group" in seasons.columns else "generation"
    for key, rows in seasons.groupby(by, sort=True):
        line = rows.groupby("season")["stock"].mean()
        x = line.index + 1
        name = label(key) if label else (f"generation {int(key) + 1}" if by == "generation"
                                         else str(key))
        (drawn,) = ax.plot(x, line.values, marker="o", lw=1.6, label=name)
        fell = rows[rows["collapsed"] == 1]
        if by == "generation" and not fell.empty:
            last = fell.iloc[-1]
            ax.plot([last["season"] + 1, last["season"] + 1.5],
                    [last["stock"], last["remaining"]], color=drawn.get_color(), ls=":")
            ax.plot(last["season"] + 1.5, last["remaining"], marker="X", ms=11,
                    color=drawn.get_color(), ls="none")
    ax.axhline(capacity, color="0.5", lw=0.9, ls="--", label=f"capacity ({capacity:g})")
    ax.axhline(threshold, color="tab:red", lw=1.2, ls="--",
               label=f"collapse threshold ({threshold:g})")
    ax.set_ylim(0, capacity * 1.08)
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.set_xlabel("season (X: collapse, the stock left after that season's catch)")
    ax.set_ylabel("fish in the lake at the season's start (tons)")
    ax.set_title("Stock over seasons")
    ax.legend(fontsize="small", loc="best")
    return fig


def plot_catches(catches: pd.DataFrame,
                 colour: Callable[[str], str] | None = None) -> Figure:
    """Left: each fisher's catch per season (across the run) and the sustainable share;
    right: each fisher's total catch. Colours by strategy."""
    fig, (season_ax, total_ax) = _figure(2)
    kinds = sorted(catches["kind"].unique())

    def shade(kind: str) -> str:
        return colour(kind) if colour else strategy_colour(kind, kinds)

    seen: set[str] = set()
    for _, rows in catches.groupby("agent_id", sort=True):
        kind = rows["kind"].iloc[0]
        season_ax.plot(rows["step"] + 1, rows["caught"], marker=".", lw=1.0, color=shade(kind),
                       label=None if kind in seen else kind, alpha=0.85)
        seen.add(kind)
    share = catches.groupby("step")["sustainable_share"].first()
    season_ax.plot(share.index + 1, share.values, color="black", lw=2.0, ls="--",
                   label="sustainable share")
    season_ax.set_ylim(bottom=0)
    season_ax.xaxis.get_major_locator().set_params(integer=True)
    season_ax.set_xlabel("season (across generations)")
    season_ax.set_ylabel("catch (tons)")
    season_ax.set_title("Catch per fisher and season")
    season_ax.legend(fontsize="small")
    totals = catches.groupby(["agent_id", "kind"], as_index=False)["caught"].sum()
    total_ax.bar(totals["agent_id"], totals["caught"],
                 color=[shade(k) for k in totals["kind"]])
    total_ax.set_xlabel("fisher")
    total_ax.set_ylabel("total catch (tons)")
    total_ax.set_title("Total catch per fisher")
    total_ax.tick_params(axis="x", labelrotation=60, labelsize="small")
    return fig
