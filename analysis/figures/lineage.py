"""The lineage tree: every agent's life span and whom it inherited from.

Each agent is a horizontal bar from the generation it was created to the last it lived in;
a newcomer's bar starts with a connector from its primary parent, other parents (an LLM
newcomer reads every survivor) are drawn faint. Agents are ordered depth-first along primary
lines, so a family that takes over the population shows as one thick bundle.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from analysis import _plotting as plot
from analysis.metrics.lineage import lineage_edges

MAX_LABELLED = 40  # beyond this many agents the y tick labels would overlap


def _order(agents: pd.DataFrame, edges: pd.DataFrame) -> list[str]:
    """Depth-first order of agents along primary parent links, roots by creation."""
    primary = edges[edges["primary"]]
    children: dict[str, list[str]] = {}
    for parent, child in zip(primary["parent"], primary["child"], strict=True):
        children.setdefault(parent, []).append(child)
    known = set(agents["agent_id"])
    has_parent = {c for c, p in zip(primary["child"], primary["parent"], strict=True)
                  if p in known}
    created = dict(zip(agents["agent_id"], agents["generation"], strict=True))
    roots = [a for a in agents.sort_values(["generation", "agent_id"])["agent_id"]
             if a not in has_parent]
    order: list[str] = []
    stack = list(reversed(roots))
    while stack:
        agent = stack.pop()
        if agent in order:
            continue
        order.append(agent)
        kids = sorted(children.get(agent, []), key=lambda c: (created.get(c, 0), c))
        stack.extend(reversed(kids))
    return order


def plot_lineage(
    agents: pd.DataFrame, generation_scores: pd.DataFrame, ax: Axes | None = None,
    labels: Mapping[str, str] | None = None, palette: plot.Palette | None = None,
) -> Figure:
    """Lineage tree of one run: life spans coloured by strategy type, inheritance links.

    `labels` maps agent ids to strategy labels (default: the `kind` column); `palette`
    colours them (default: a palette of the labels present).
    """
    n = len(agents)
    if ax is None:
        fig, (ax,) = plot.new_figure(width=9.0, height=min(12.0, 2.0 + 0.16 * max(n, 10)))
    else:
        fig = ax.figure.figure
    ax.set_title("Lineage of strategies: who inherited from whom")
    ax.set_xlabel("generation")
    if agents.empty:
        plot.no_data(ax)
        return fig
    edges = lineage_edges(agents)
    order = _order(agents, edges)
    y = {agent: i for i, agent in enumerate(order)}
    created = dict(zip(agents["agent_id"], agents["generation"].astype(int), strict=True))
    kind = {str(a): str(k) for a, k in zip(agents["agent_id"], agents["kind"], strict=True)}
    if labels is not None:
        kind.update({a: str(labels[a]) for a in kind if a in labels})
    palette = palette or plot.Palette(set(kind.values()))
    lived = (generation_scores.groupby("agent_id")["generation"].max().astype(int)
             if not generation_scores.empty else pd.Series(dtype=int))
    for agent in order:
        start, end = created[agent], int(lived.get(agent, created[agent]))
        color = palette.color(kind[agent])
        ax.plot([start, end + 0.6], [y[agent], y[agent]], color=color, linewidth=3,
                solid_capstyle="butt")
        ax.plot(start, y[agent], marker="o", markersize=4, color=color)
    for row in edges.itertuples(index=False):
        if row.parent not in y or row.child not in y:
            continue
        x0, x1 = created[row.child] - 0.35, created[row.child]
        if row.primary:
            ax.plot([x0, x0, x1], [y[row.parent], y[row.child], y[row.child]], color="0.25",
                    linewidth=0.9)
        else:
            ax.plot([x0, x1], [y[row.parent], y[row.child]], color="0.6", linewidth=0.4,
                    alpha=0.5)
    ax.set_ylim(len(order) - 0.5, -0.5)
    if len(order) <= MAX_LABELLED:
        ax.set_yticks(range(len(order)), order, fontsize=6)
    else:
        ax.set_yticks([])
        ax.set_ylabel(f"{len(order)} agents, grouped by family line")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    kinds = list(dict.fromkeys(kind[a] for a in order))
    handles = [Line2D([], [], color=palette.color(k), linewidth=3, label=k) for k in kinds]
    handles.append(Line2D([], [], color="0.25", linewidth=0.9, label="inherited from"))
    if not edges["primary"].all():
        handles.append(Line2D([], [], color="0.6", linewidth=0.6, label="also read"))
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8,
              frameon=False)
    return fig
