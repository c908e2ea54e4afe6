"""Heat map of giving by donor type × the recipient's reputation.

A discriminating norm shows as a gradient along each row (more for better reputations); an
unconditional one as a flat row. Each cell says how many decisions it averages, so a bright
cell resting on three decisions is not over-read.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from analysis import _plotting as plot
from analysis.counting import ORDINALS, shown
from analysis.palette import strategy_order_key
from scenarios.donor_game.analysis.reputation import BIN_LABELS, gift_by_reputation


def plot_gift_heatmap(
    pairs: pd.DataFrame, by: str = "donor_kind", ax: Axes | None = None
) -> Figure:
    """Mean share given (colour, number) and decision count per donor group × reputation bin.

    `pairs` are `gift_pairs` rows, with `with_donor` applied when `by` is 'donor_kind' or
    'donor_brain'; `by` may also be 'generation' or any other column of `pairs`.
    """
    if ax is None:
        fig, (ax,) = plot.new_figure(width=8.5, height=4.2)
    else:
        fig = ax.figure.figure
    ax.set_title("Share given by donor type and recipient's last share given")
    ax.set_xlabel("recipient's last share given (its reputation)")
    ax.set_ylabel({"donor_kind": "donor's strategy", "donor_brain": "donor's brain"}.get(by, by))
    if pairs.empty:
        plot.no_data(ax)
        return fig
    table = gift_by_reputation(pairs, by)
    if by in ORDINALS:  # a generation counted from 1, as everywhere a person reads it
        table = table.assign(group=shown(pd.to_numeric(table["group"])).astype(int))
    groups = sorted(set(table["group"].astype(str)), key=strategy_order_key)
    means = np.full((len(groups), len(BIN_LABELS)), np.nan)
    counts = np.zeros_like(means, dtype=int)
    for row in table.itertuples(index=False):
        i, j = groups.index(str(row.group)), BIN_LABELS.index(str(row.reputation))
        means[i, j], counts[i, j] = row.given, row.n
    cmap = colormaps["viridis"].with_extremes(bad="0.93")  # light grey: nobody met that bin
    image = ax.imshow(np.ma.masked_invalid(means), cmap=cmap, vmin=0, vmax=1, aspect="auto")
    for i in range(len(groups)):
        for j in range(len(BIN_LABELS)):
            if counts[i, j]:
                dark = means[i, j] < 0.6
                ax.text(j, i, f"{means[i, j]:.2f}\nn={counts[i, j]}", ha="center",
                        va="center", fontsize=7, color="white" if dark else "black")
    ax.set_xticks(range(len(BIN_LABELS)), BIN_LABELS)
    ax.set_yticks(range(len(groups)), groups)
    fig.colorbar(image, ax=ax, label="mean share given", shrink=0.9)
    return fig
