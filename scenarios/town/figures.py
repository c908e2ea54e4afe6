"""The town's figures, drawn from a run's tables (`scenarios.town.readers`):

- `diffusion.png`: share of residents who know each topic, per simulated hour, events marked;
- `relationships.png`: who talked with whom, edge width by conversations held;
- `network_density.png`: the network's density at the end of each day;
- `time_use.png`: hours per resident spent on each activity, per day;
- `map.png`: where everyone was at one moment (the first event's start, else noon of the first
  day);
- `knowledge_by_interview.png`: who knows each seeded intention by interview
  (`scenarios.town.interview_report`).

Days are counted from 1 wherever a figure shows them (the store counts from 0): on the
diffusion figure's time axis, day 1 runs from 1.0 to 2.0.

Drawn on an Agg canvas without pyplot, so a run, a test or a notebook can draw them with no
display and no global state. With no data a figure says so rather than failing.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure

from analysis import _plotting as plot
from scenarios.town.measures import (
    MINUTES_PER_DAY,
    clock_text,
    default_map_time,
    events,
    locator,
    relationship_graph,
)
from scenarios.town.readers import Town, load_town

#: Beyond these sizes the relationship figure leaves out edge counts and names, which would
#: cover each other (and cost seconds of text layout) in a town of a hundred.
MAX_LABELLED_EDGES = 80
MAX_NAMED_RESIDENTS = 40
FIGURE_FILES = ("diffusion.png", "relationships.png", "network_density.png", "time_use.png",
                "map.png", "knowledge_by_interview.png")


def plot_diffusion(curve: pd.DataFrame, event_rows: pd.DataFrame | None = None,
                   ax: Axes | None = None) -> Figure:
    """One line per topic: the share of residents in town who know it at the end of each
    simulated hour; each event's start a dashed line in its topic's colour."""
    fig, ax = plot.axes_or_new(ax)
    if curve.empty:
        plot.no_data(ax)
        return fig
    topics = list(dict.fromkeys(curve["topic"]))
    colours = dict(zip(topics, plot.series_colors(len(topics)), strict=True))
    for topic in topics:
        mine = curve[curve["topic"] == topic]
        # at the end of each hour, from the first day's 00:00 at 1.0 (days counted from 1)
        x = [1.0, *(1 + (mine["hour"] + 1) / 24)]
        first = mine["share"].iloc[0] if mine["hour"].iloc[0] == 0 else math.nan
        ax.step(x, [first, *mine["share"]], where="pre", color=colours[topic], lw=1.8,
                label=topic)
    for event in (event_rows if event_rows is not None else pd.DataFrame()).itertuples():
        ax.axvline(1 + event.start / MINUTES_PER_DAY, color=colours.get(event.topic, "0.3"),
                   ls="--", lw=1.0, label=f"{event.topic} starts ({clock_text(event.start)})")
    days = math.ceil(curve["hour"].max() / 24 + 1e-9) if len(curve) else 1
    for day in range(1, days + 1):
        ax.axvline(1 + day, color="0.85", lw=0.8, zorder=0)
    ax.set_ylim(0, 1.02)
    ax.set_xlim(1, 1 + (curve["hour"].max() + 1) / 24)
    ax.set_xlabel("simulated day, counted from 1 (grey lines: midnight)")
    ax.set_ylabel("share of residents who know")
    ax.set_title("Information diffusion")
    ax.legend(fontsize="small", loc="upper left")
    return fig


def _circle(nodes: list[str]) -> dict[str, tuple[float, float]]:
    n = max(len(nodes), 1)
    return {node: (math.cos(math.pi / 2 - 2 * math.pi * i / n),
                   math.sin(math.pi / 2 - 2 * math.pi * i / n)) for i, node in enumerate(nodes)}


def plot_relationships(edges: pd.DataFrame, names: dict[str, str],
                       homes: dict[str, tuple[float, float]] | None = None,
                       ax: Axes | None = None) -> Figure:
    """The relationship network: residents on a circle (or at `homes`, their homes' map
    coordinates, when every resident has distinct ones), an edge for every pair who talked,
    its width by the conversations they held and labelled with that number (up to
    `MAX_LABELLED_EDGES` edges; residents named up to `MAX_NAMED_RESIDENTS`)."""
    fig, ax = plot.axes_or_new(ax)
    if not names:
        plot.no_data(ax)
        return fig
    graph = relationship_graph(edges, list(names))
    nodes = list(graph.nodes)
    at_homes = homes is not None and all(n in homes for n in nodes) and len(
        {homes[n] for n in nodes}) == len(nodes)
    where = {n: homes[n] for n in nodes} if at_homes else _circle(nodes)
    heaviest = max((d["conversations"] for *_, d in graph.edges(data=True)), default=1)
    pairs = list(graph.edges(data=True))
    ax.add_collection(LineCollection(  # one artist for every edge: a town of 100 has thousands
        [(where[a], where[b]) for a, b, _ in pairs], colors="tab:blue", alpha=0.55, zorder=1,
        linewidths=[1.0 + 5.0 * d["conversations"] / heaviest for *_, d in pairs]))
    labelled = len(pairs) <= MAX_LABELLED_EDGES
    for a, b, data in pairs if labelled else []:
        (xa, ya), (xb, yb) = where[a], where[b]
        ax.text((xa + xb) / 2, (ya + yb) / 2, str(data["conversations"]), fontsize=7,
                color="tab:blue", ha="center", va="center",
                bbox={"boxstyle": "round,pad=0.1", "fc": "white", "ec": "none", "alpha": 0.7})
    xy = [where[node] for node in nodes]
    ax.scatter([x for x, _ in xy], [y for _, y in xy], s=160 if len(nodes) <= 40 else 40,
               zorder=2, edgecolor="black", linewidth=0.6,
               color=["tab:orange" if graph.degree[node] > 0 else "0.7" for node in nodes])
    named = len(nodes) <= MAX_NAMED_RESIDENTS
    for node in nodes if named else []:
        ax.annotate(names.get(node, node), where[node], xytext=(0, 9),
                    textcoords="offset points", ha="center", fontsize=8, zorder=3)
    ax.set_aspect("equal", adjustable="datalim")
    ax.margins(0.15)
    ax.set_xticks([])
    ax.set_yticks([])
    layout = "at their homes" if at_homes else "on a circle"
    width = "edge width and label" if labelled else "edge width"
    ax.set_title(f"Who talked with whom ({graph.number_of_edges()} pairs; residents {layout}"
                 f"{'' if named else ', unnamed'};\n{width}: conversations held)", fontsize=10)
    return fig


def plot_density(density: pd.DataFrame, ax: Axes | None = None) -> Figure:
    """Network density at the end of each day (pairs who have talked / all pairs)."""
    fig, ax = plot.axes_or_new(ax)
    rows = density.dropna(subset=["density"])
    if rows.empty:
        plot.no_data(ax)
        return fig
    ax.bar(rows["day"] + 1, rows["density"], color="tab:blue", width=0.6)  # days from 1
    for row in rows.itertuples():  # pair counts only for one run (a mean has none)
        counts = "" if pd.isna(row.talked) else f"\n({int(row.talked)}/{int(row.pairs)})"
        ax.text(row.day + 1, row.density + 0.02, f"{row.density:.3f}{counts}", ha="center",
                va="bottom", fontsize=8)
    ax.set_ylim(0, 1.15)
    ax.set_xticks(list(rows["day"] + 1))
    ax.set_xlabel("day (end of)")
    ax.set_ylabel("network density")
    ax.set_title("Relationships: share of pairs who have talked at least once")
    return fig


def plot_time_use(use: pd.DataFrame, ax: Axes | None = None) -> Figure:
    """Stacked bars per day: hours per resident spent on each activity label."""
    fig, ax = plot.axes_or_new(ax)
    if use.empty:
        plot.no_data(ax)
        return fig
    table = use.pivot_table(index="day", columns="activity", values="per_resident",
                            aggfunc="sum", fill_value=0.0) / 60
    table.index = table.index + 1  # days counted from 1, as the run's progress line does
    order = table.sum().sort_values(ascending=False).index
    colours = plot.series_colors(len(order))
    bottom = pd.Series(0.0, index=table.index)
    for colour, activity in zip(colours, order, strict=True):
        ax.bar(table.index, table[activity], bottom=bottom, color=colour, label=activity,
               width=0.6)
        bottom += table[activity]
    ax.set_xticks(list(table.index))
    ax.set_ylim(0, max(24.5, float(bottom.max()) * 1.02))
    ax.set_xlabel("day")
    ax.set_ylabel("hours per resident")
    ax.set_title("Time use per activity")
    plot.outside_legend(ax)
    return fig


def plot_map(places: pd.DataFrame, positions: pd.DataFrame, clock: int,
             ax: Axes | None = None) -> Figure:
    """Places at their map coordinates (areas as large squares, places as small ones), and
    at each place where someone was at `clock` a red dot (larger for more people; hollow when
    all of them are on the way) with their names beside it (walking residents are shown at
    their destination, marked '(walking)')."""
    fig, ax = plot.axes_or_new(ax)
    locate = locator(places)
    shown = places[places["level"].isin(["area", "place"])]
    for row in shown.itertuples():
        spot = locate(row.place_id)
        if spot is None:
            continue
        area = row.level == "area"
        ax.scatter([spot[0]], [spot[1]], marker="s", s=900 if area else 260, zorder=1,
                   color="0.9" if area else "0.8", edgecolor="0.5")
        ax.annotate(str(row.name), spot, xytext=(0, -16 if area else -12),
                    textcoords="offset points", ha="center", va="top", fontsize=7, color="0.3")
    at: dict[tuple[float, float], list] = {}
    for row in positions.itertuples():
        spot = locate(row.place_id)
        if spot is not None:
            at.setdefault(spot, []).append(row)
    for (x, y), people in at.items():  # one dot per place, its people listed beside it
        walking = sum(p.activity == "walk" for p in people)
        ax.scatter([x], [y], s=50 + 30 * len(people), zorder=3, edgecolor="tab:red",
                   color="white" if walking == len(people) else "tab:red")
        names = [str(p.name) + (" (walking)" if p.activity == "walk" else "") for p in people]
        ax.annotate("\n".join(names), (x, y), xytext=(8, 0), textcoords="offset points",
                    fontsize=7, va="center", zorder=4,
                    bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": "tab:red",
                          "lw": 0.5, "alpha": 0.85})
    nowhere = [str(p.name) for p in positions.itertuples() if locate(p.place_id) is None]
    if not at and shown.empty:
        plot.no_data(ax)
    if nowhere:
        ax.text(0.01, 0.01, "not placed: " + ", ".join(nowhere), transform=ax.transAxes,
                fontsize=7, color="0.4")
    ax.margins(0.12)
    ax.set_aspect("equal", adjustable="datalim")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(f"Where everyone is at {clock_text(clock)}")
    return fig


def homes_of(town: Town) -> dict[str, tuple[float, float]]:
    """Resident -> map coordinates of their home, where the places give them."""
    locate = locator(town.places)
    spots = {str(a): locate(h) for a, h in zip(town.residents["agent_id"],
                                               town.residents["home"], strict=True)}
    return {a: s for a, s in spots.items() if s is not None}


def diffusion_figure(town: Town) -> Figure:
    return plot_diffusion(town.diffusion(), events(town.intentions))


def relationships_figure(town: Town, at_homes: bool = False) -> Figure:
    """The network with residents on a circle (homes in a row would hide the edges), or at
    their homes' map coordinates."""
    return plot_relationships(town.relationships(), town.names(),
                              homes_of(town) if at_homes else None)


def density_figure(town: Town) -> Figure:
    return plot_density(town.density())


def time_use_figure(town: Town) -> Figure:
    fig = plot.new_figure(width=9.0)[0]
    return plot_time_use(town.time_use(), ax=fig.axes[0])


def map_figure(town: Town, clock: int | None = None) -> Figure:
    positions = town.positions(clock)
    when = default_map_time(town.intentions) if clock is None else clock
    fig = plot.new_figure(width=8.0, height=6.5)[0]
    return plot_map(town.places, positions, when, ax=fig.axes[0])


#: file -> how it is drawn from a town's tables, in the order the report shows them.
DRAWINGS = {
    "diffusion.png": diffusion_figure,
    "relationships.png": relationships_figure,
    "network_density.png": density_figure,
    "time_use.png": time_use_figure,
    "map.png": map_figure,
}


def draw_town_figures(run_dir: str | Path) -> list[Path]:
    """Draw every figure of the town run in `run_dir` into `run_dir/figures`; returns the
    files written."""
    from analysis.run import load
    from scenarios.town.interview_report import FIGURE, knowledge_figure

    run = load(run_dir)
    town = load_town(run)
    out = Path(run_dir) / "figures"
    drawn = [plot.save(draw(town), out / name) for name, draw in DRAWINGS.items()]
    return [*drawn, plot.save(knowledge_figure(run), out / FIGURE)]
