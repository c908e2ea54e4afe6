"""The network norms scenario's figures, drawn from its tables.

- `strategy_share.png`: the share of each strategy over the steps of a run, or the deviant's
  share in each of several runs (a group's seeds) with their mean;
- `graph.png`: the graph, each node coloured by the strategy it ends the run with (the seeded
  deviants ringed).

Figures are drawn on an Agg canvas without pyplot (no display, no global state). A run that
fixed early has its share carried on to the last step, since nothing can change after
fixation, so runs of one group line up step by step.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import networkx as nx
import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure

from analysis.palette import Palette

#: Most nodes drawn in the graph figure (a larger graph is shown around its seeded deviants).
MAX_GRAPH_NODES = 400
#: A strategy's colour when no palette is given (a report's, or a run's, gives its own).
STRATEGY_COLOURS = {"cooperate": "tab:blue", "defect": "tab:red", "A": "tab:grey",
                    "B": "tab:green"}


def palette_colour(palette: Palette) -> Callable[[str], str]:
    """A strategy's colour from a report's (or run's) palette; a strategy no node ended with
    is not in the palette and keeps its own colour (`STRATEGY_COLOURS`), in every figure."""
    return lambda name: palette.colors.get(name) or STRATEGY_COLOURS.get(name, "tab:purple")


def _colour(name: str, colour: Callable[[str], str] | None) -> str:
    return colour(name) if colour is not None else STRATEGY_COLOURS.get(name, "tab:purple")


def _figure(width: float = 8.0, height: float = 4.5) -> Figure:
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def filled_shares(shares: pd.DataFrame, last_step: int, record_every: int = 1) -> pd.DataFrame:
    """One row per strategy and recorded step from 0 to `last_step`, a run that ended early
    (at fixation) carrying its last shares on: columns step, strategy, share."""
    if shares.empty:
        return pd.DataFrame(columns=["step", "strategy", "share"])
    wide = shares.pivot_table(index="step", columns="strategy", values="share")
    grid = sorted(set(wide.index) | set(range(0, last_step + 1, record_every)) | {last_step})
    wide = wide.reindex(grid).ffill()
    return wide.reset_index().melt(id_vars="step", var_name="strategy", value_name="share")


def plot_shares(frame: pd.DataFrame, strategies: Sequence[str],
                colour: Callable[[str], str] | None = None) -> Figure:
    """One run's strategy shares per step (`frame`: step, strategy, share)."""
    fig = _figure()
    ax = fig.add_subplot()
    for name in strategies:
        rows = frame[frame["strategy"] == name].sort_values("step")
        ax.plot(rows["step"], rows["share"], lw=1.8, label=name, color=_colour(name, colour))
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("step")
    ax.set_ylabel("share of nodes")
    ax.set_title("Strategy shares")
    ax.legend(fontsize="small")
    return fig


def plot_deviant_runs(frame: pd.DataFrame, deviant: str, *, title: str = "",
                      colour: Callable[[str], str] | None = None) -> Figure:
    """The deviant's share per step in each run (`frame`: run, step, share), thin, and their
    mean, thick: how often and how fast it spread or died."""
    fig = _figure()
    ax = fig.add_subplot()
    shade = _colour(deviant, colour)
    for _, rows in frame.groupby("run"):
        rows = rows.sort_values("step")
        ax.plot(rows["step"], rows["share"], lw=0.8, alpha=0.45, color=shade)
    mean = frame.groupby("step")["share"].mean()
    runs = frame["run"].nunique()
    ax.plot(mean.index, mean.values, lw=2.4, color="black",
            label=f"mean of {runs} run{'s' if runs != 1 else ''}")
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("step")
    ax.set_ylabel(f"share playing {deviant}")
    ax.set_title(title or f"Share of {deviant}, run by run")
    ax.legend(fontsize="small")
    return fig


def graph_layout(nodes: pd.DataFrame, edges: pd.DataFrame, kind: str) -> dict[int, np.ndarray]:
    """Node positions: a circle for a ring (its structure is the circle), else a spring layout
    with a fixed seed (the same picture every time)."""
    graph = nx.Graph()
    graph.add_nodes_from(int(n) for n in nodes["node"])
    graph.add_edges_from(zip(edges["source"].astype(int), edges["target"].astype(int),
                             strict=True))
    if kind == "ring":
        return nx.circular_layout(graph)
    return nx.spring_layout(graph, seed=1, iterations=100)


def neighbourhood(nodes: pd.DataFrame, edges: pd.DataFrame, start: list[int],
                  limit: int) -> list[int]:
    """Up to `limit` nodes nearest to `start` (breadth-first, neighbours in node order; the
    lowest-numbered node when `start` is empty), in the order they were reached."""
    neighbours: dict[int, list[int]] = {}
    for s, t in zip(edges["source"].astype(int).tolist(), edges["target"].astype(int).tolist(),
                    strict=True):
        neighbours.setdefault(s, []).append(t)
        neighbours.setdefault(t, []).append(s)
    queue = list(dict.fromkeys(start or [int(nodes["node"].astype(int).min())]))[:limit]
    reached = set(queue)
    for node in queue:  # the list grows while it is read: breadth-first
        if len(queue) >= limit:
            break
        for other in sorted(neighbours.get(node, [])):
            if other not in reached and len(queue) < limit:
                reached.add(other)
                queue.append(other)
    return queue


def plot_graph(nodes: pd.DataFrame, edges: pd.DataFrame, final: pd.DataFrame, *, kind: str,
               deviant: str, title: str = "",
               colour: Callable[[str], str] | None = None,
               max_nodes: int = MAX_GRAPH_NODES) -> Figure:
    """The graph, nodes coloured by their final strategy; the initially seeded deviants are
    ringed in black, so one sees whether the deviant spread from its seed or died there.

    A graph of more than `max_nodes` nodes is neither readable nor quick to lay out, so only
    the `max_nodes` nodes nearest to the seeded deviants are drawn (`neighbourhood`), and the
    title says so.
    """
    fig = _figure(6.5, 6.5)
    ax = fig.add_subplot()
    seeded = nodes[nodes["initial"] == deviant]["node"].astype(int).tolist()
    part = ""
    if len(nodes) > max_nodes:
        kept = neighbourhood(nodes, edges, seeded, max_nodes)
        where = set(kept)
        part = (f"\n(the {len(kept)} nodes nearest to the seeded deviants, breadth-first, of "
                f"{len(nodes)})")
        nodes = nodes[nodes["node"].astype(int).isin(where)]
        edges = edges[edges["source"].astype(int).isin(where)
                      & edges["target"].astype(int).isin(where)]
        seeded = [n for n in seeded if n in where]
    position = graph_layout(nodes, edges, kind)
    segments = [(position[int(s)], position[int(t)])
                for s, t in zip(edges["source"], edges["target"], strict=True)]
    ax.add_collection(LineCollection(segments, colors="0.75", linewidths=0.6, zorder=1))
    strategy = dict(zip(final["node"].astype(int), final["strategy"], strict=True))
    size = max(8.0, 160.0 / np.sqrt(max(len(nodes), 1)) * 3)
    order = nodes["node"].astype(int).sort_values()
    for name in sorted(set(strategy.get(n) for n in order) - {None}):
        members = [n for n in order if strategy.get(n) == name]
        xy = np.array([position[n] for n in members])
        ax.scatter(xy[:, 0], xy[:, 1], s=size, color=_colour(name, colour), zorder=2,
                   label=f"{name} ({len(members)})")
    if seeded:
        xy = np.array([position[n] for n in seeded])
        ax.scatter(xy[:, 0], xy[:, 1], s=size * 2.2, facecolors="none", edgecolors="black",
                   linewidths=1.2, zorder=3, label="seeded deviant")
    ax.set_aspect("equal")
    ax.set_axis_off()
    ax.set_title((title or "The graph at the end of the run") + part)
    ax.legend(fontsize="small", loc="best")
    return fig
