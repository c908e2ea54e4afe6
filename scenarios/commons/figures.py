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

from analysis.counting import shown
from analysis.palette import Palette

FIGURE_FILES = ("stock_over_seasons.png", "catches_per_agent.png")
#: Beyond this many fishers the catches figure shows strategies, not one line per fisher.
MAX_FISHERS_DRAWN = 40


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
        x = shown(line.index)  # seasons and generations counted from 1
        name = label(key) if label else (f"generation {shown(int(key))}" if by == "generation"
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
    right: each fisher's total catch. Colours by strategy.

    Beyond `MAX_FISHERS_DRAWN` fishers a line and a bar each would be unreadable (and slow),
    so the left panel shows each strategy's mean catch with the range across its fishers, and
    the right one how the fishers' total catches are distributed, per strategy.
    """
    fig, (season_ax, total_ax) = _figure(2)
    palette = Palette(catches["kind"].astype(str))
    shade = colour if colour is not None else palette.color
    kinds = palette.labels
    many = catches["agent_id"].nunique() > MAX_FISHERS_DRAWN
    if many:
        for kind in kinds:
            per_season = catches[catches["kind"] == kind].groupby("step")["caught"]
            low, mean, high = per_season.min(), per_season.mean(), per_season.max()
            x = shown(mean.index)
            season_ax.fill_between(x, low, high, color=shade(kind), alpha=0.2, linewidth=0)
            season_ax.plot(x, mean, marker=".", lw=1.4, color=shade(kind),
                           label=f"{kind}: mean and range")
    else:
        seen: set[str] = set()
        for _, rows in catches.groupby("agent_id", sort=True):
            kind = rows["kind"].iloc[0]
            season_ax.plot(shown(rows["step"]), rows["caught"], marker=".", lw=1.0,
                           color=shade(kind), label=None if kind in seen else kind, alpha=0.85)
            seen.add(kind)
    share = catches.groupby("step")["sustainable_share"].first()
    season_ax.plot(shown(share.index), share.values, color="black", lw=2.0, ls="--",
                   label="sustainable share")
    season_ax.set_ylim(bottom=0)
    season_ax.xaxis.get_major_locator().set_params(integer=True)
    season_ax.set_xlabel("season (across generations)")
    season_ax.set_ylabel("catch (tons)")
    season_ax.set_title("Catch per strategy and season" if many
                        else "Catch per fisher and season")
    season_ax.legend(fontsize="small", loc="upper right")
    totals = catches.groupby(["agent_id", "kind"], as_index=False)["caught"].sum()
    if many:
        total_ax.hist([totals.loc[totals["kind"] == k, "caught"] for k in kinds], bins=30,
                      stacked=True, color=[shade(k) for k in kinds], label=kinds)
        total_ax.set_xlabel("total catch (tons)")
        total_ax.set_ylabel("fishers")
        total_ax.set_title(f"Total catch of the {len(totals)} fishers")
        total_ax.legend(fontsize="small", loc="upper right")
        return fig
    total_ax.bar(totals["agent_id"], totals["caught"],
                 color=[shade(k) for k in totals["kind"]])
    total_ax.set_xlabel("fisher")
    total_ax.set_ylabel("total catch (tons)")
    total_ax.set_title("Total catch per fisher")
    total_ax.tick_params(axis="x", labelrotation=60, labelsize="small")
    return fig
