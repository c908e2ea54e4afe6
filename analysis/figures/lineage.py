"""The lineage tree: every agent's life span and whom it inherited from, or, for a large
population, the same in aggregate.

Each agent is a horizontal bar from the generation it was created to the last it lived in;
a newcomer's bar starts with a connector from its primary parent, other parents (an LLM
newcomer reads every survivor) are drawn faint. Agents are ordered depth-first along primary
lines, so a family that takes over the population shows as one thick bundle.

A tree of thousands of bars is neither readable nor cheap, so beyond `FULL_TREE_MAX` agents
the figure shows the population in aggregate: the largest family lines (descendants of one
founder along primary parents) as shares of each generation, beside the tree of a sample of
lines, drawn deterministically (`sample_lines`) and described on the figure. Everything here
takes time linear in the number of agents.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator

from analysis import _plotting as plot
from analysis.counting import shown
from analysis.metrics.lineage import founder_shares, lineage_edges, primary_parents

MAX_LABELLED = 40  # beyond this many agents the y tick labels would overlap
FULL_TREE_MAX = 300  # beyond this many agents the lineage is drawn in aggregate
SAMPLE_LINES = 40  # lines of the last generation drawn in the aggregate view's tree
TOP_FAMILIES = 12  # family lines shown by name in the aggregate view


def _ids(agents: pd.DataFrame) -> list[str]:
    """The agent ids as a plain list (iterating a pandas string column item by item is slow)."""
    return [str(a) for a in agents["agent_id"].tolist()]


def _created(agents: pd.DataFrame) -> dict[str, int]:
    return dict(zip(_ids(agents), agents["generation"].astype(int).tolist(), strict=True))


def family_order(agents: pd.DataFrame) -> list[str]:
    """Depth-first order of agents along primary parent links, roots by creation (linear)."""
    primary = primary_parents(agents).to_dict()
    created = _created(agents)
    children: dict[str, list[str]] = {}
    roots = []
    for agent in sorted(created, key=lambda a: (created[a], a)):
        parent = primary.get(agent)
        if parent is not None and parent in created and parent != agent:
            children.setdefault(parent, []).append(agent)
        else:
            roots.append(agent)
    order: list[str] = []
    seen: set[str] = set()
    stack = list(reversed(roots))
    while stack:
        agent = stack.pop()
        if agent in seen:
            continue
        seen.add(agent)
        order.append(agent)
        stack.extend(reversed(children.get(agent, [])))  # already by creation, then id
    order += [a for a in created if a not in seen]  # a cycle of parents (never written) stays
    return order


def _labels_of(agents: pd.DataFrame, labels: Mapping[str, str] | None) -> dict[str, str]:
    kind = dict(zip(_ids(agents), [str(k) for k in agents["kind"].tolist()], strict=True))
    if labels is not None:
        kind.update({a: str(labels[a]) for a in kind if a in labels})
    return kind


def _last_lived(agents: pd.DataFrame, generation_scores: pd.DataFrame) -> dict[str, int]:
    created = _created(agents)
    if generation_scores.empty:
        return created
    lived = generation_scores.groupby("agent_id")["generation"].max().astype(int)
    last = dict(zip([str(a) for a in lived.index.tolist()], lived.tolist(), strict=True))
    return {a: last.get(a, g) for a, g in created.items()}


def _draw_tree(ax: Axes, agents: pd.DataFrame, order: list[str], kind: dict[str, str],
               last: dict[str, int], palette: plot.Palette, *, other_parents: bool) -> bool:
    """Bars, start markers and parent connectors of the agents in `order` (rows top down);
    returns whether faint "also read" links were drawn."""
    y = {agent: i for i, agent in enumerate(order)}
    created = _created(agents)
    starts = np.array([shown(created[a]) for a in order], dtype=float)
    ends = np.array([shown(last[a]) + 0.6 for a in order], dtype=float)
    rows = np.arange(len(order), dtype=float)
    colors = [palette.color(kind[a]) for a in order]
    ax.add_collection(LineCollection(
        np.stack([np.column_stack([starts, rows]), np.column_stack([ends, rows])], axis=1),
        colors=colors, linewidths=3, capstyle="butt"))
    ax.scatter(starts, rows, s=12, c=colors, zorder=3, linewidths=0)
    drawn = agents[[a in y for a in _ids(agents)]]
    edges = lineage_edges(drawn)
    edges = edges[edges["parent"].isin(y) & edges["child"].isin(y)]
    primary, faint = [], []
    for parent, child, is_primary in edges[["parent", "child", "primary"]].itertuples(
            index=False):
        x1 = shown(created[child])
        x0 = x1 - 0.35
        if is_primary:
            primary.append([(x0, y[parent]), (x0, y[child]), (x1, y[child])])
        elif other_parents:
            faint.append([(x0, y[parent]), (x1, y[child])])
    if primary:
        ax.add_collection(LineCollection(primary, colors="0.25", linewidths=0.9))
    if faint:
        ax.add_collection(LineCollection(faint, colors="0.6", linewidths=0.4, alpha=0.5))
    ax.set_xlim(min(starts.min(), 1.0) - 0.5, ends.max() + 0.1)  # no tick past the last
    ax.set_ylim(len(order) - 0.5, -0.5)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("generation")
    return bool(faint)


def _legend(ax: Axes, kinds: list[str], palette: plot.Palette, extra: list) -> None:
    handles = [Line2D([], [], color=palette.color(k), linewidth=3, label=k)
               for k in palette.order(kinds)]
    ax.legend(handles=handles + extra, loc="upper left", bbox_to_anchor=(1.01, 1.0),
              fontsize=8, frameon=False)


def plot_lineage(
    agents: pd.DataFrame, generation_scores: pd.DataFrame, ax: Axes | None = None,
    labels: Mapping[str, str] | None = None, palette: plot.Palette | None = None,
    *, full_tree_max: int = FULL_TREE_MAX,
) -> Figure:
    """Lineage of one run: life spans coloured by strategy type, inheritance links.

    `labels` maps agent ids to strategy labels (default: the `kind` column); `palette`
    colours them (default: a palette of the labels present). A run of more than
    `full_tree_max` agents is drawn in aggregate (`plot_lineage_aggregate`; on a caller's
    `ax`, only its sample of lines).
    """
    if len(agents) > full_tree_max:
        if ax is not None:
            return plot_lineage_sample(agents, generation_scores, ax, labels, palette)
        return plot_lineage_aggregate(agents, generation_scores, labels, palette)
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
    order = family_order(agents)
    kind = _labels_of(agents, labels)
    palette = palette or plot.Palette(set(kind.values()))
    faint = _draw_tree(ax, agents, order, kind, _last_lived(agents, generation_scores),
                       palette, other_parents=True)
    if len(order) <= MAX_LABELLED:
        ax.set_yticks(range(len(order)), order, fontsize=6)
    else:
        ax.set_yticks([])
        ax.set_ylabel(f"{len(order)} agents, grouped by family line")
    extra = [Line2D([], [], color="0.25", linewidth=0.9, label="inherited from")]
    if faint:
        extra.append(Line2D([], [], color="0.6", linewidth=0.6, label="also read"))
    _legend(ax, list(set(kind.values())), palette, extra)
    return fig


def sample_lines(agents: pd.DataFrame, generation_scores: pd.DataFrame,
                 lines: int = SAMPLE_LINES) -> tuple[list[str], str]:
    """A deterministic sample of lines and its description: `lines` agents alive in the last
    generation, evenly spaced in family order (positions ⌊i·m/lines⌋ of the m alive, so large
    families get proportionally more lines), with every ancestor along primary parents.

    Returns the sampled agents and their ancestors in family order, and the description.
    """
    order = family_order(agents)
    if generation_scores.empty:
        last_generation, alive = None, set(order)
    else:
        last_generation = int(generation_scores["generation"].max())
        alive = {str(a) for a in generation_scores.loc[
            generation_scores["generation"] == last_generation, "agent_id"].tolist()}
    candidates = [a for a in order if a in alive] or order
    m = len(candidates)
    picked = [candidates[(i * m) // lines] for i in range(min(lines, m))]
    primary = primary_parents(agents).to_dict()
    keep: set[str] = set()
    for agent in picked:
        while agent is not None and agent not in keep:
            keep.add(agent)
            parent = primary.get(agent)
            agent = parent if parent in primary else None
    where = ("alive in generation " + str(shown(last_generation))
             if last_generation is not None else "")
    text = (f"a sample of {len(picked)} lines: the agents at evenly spaced positions among "
            f"the {m} {where} in family order, with their ancestors along primary parents "
            f"({len(keep)} of {len(agents)} agents drawn)")
    return [a for a in order if a in keep], text


def plot_lineage_sample(
    agents: pd.DataFrame, generation_scores: pd.DataFrame, ax: Axes | None = None,
    labels: Mapping[str, str] | None = None, palette: plot.Palette | None = None,
    lines: int = SAMPLE_LINES,
) -> Figure:
    """The lineage tree of a sample of lines (`sample_lines`), described in its title."""
    fig, ax = plot.axes_or_new(ax)
    if agents.empty:
        ax.set_title("Lineage: a sample of lines")
        plot.no_data(ax)
        return fig
    kind = _labels_of(agents, labels)
    palette = palette or plot.Palette(set(kind.values()))
    order, text = sample_lines(agents, generation_scores, lines)
    _draw_tree(ax, agents, order, kind, _last_lived(agents, generation_scores), palette,
               other_parents=False)
    ax.set_title(f"Lineage, {text}", fontsize=9, wrap=True)
    ax.set_yticks([])
    ax.set_ylabel("sampled lines, grouped by family")
    inherited = Line2D([], [], color="0.25", linewidth=0.9, label="inherited from (primary)")
    _legend(ax, sorted({kind[a] for a in order}), palette, [inherited])
    return fig


def family_shares(agents: pd.DataFrame, generation_scores: pd.DataFrame) -> pd.DataFrame:
    """`founder_shares`, its columns (founders) ranked: largest line in the last generation
    first, then the largest over all generations, then by id."""
    shares = founder_shares(agents, generation_scores)
    last, total = shares.iloc[-1].to_dict(), shares.sum().to_dict()
    return shares[sorted(shares.columns, key=lambda f: (-last[f], -total[f], str(f)))]


def plot_families(agents: pd.DataFrame, generation_scores: pd.DataFrame, ax: Axes | None = None,
                  labels: Mapping[str, str] | None = None,
                  palette: plot.Palette | None = None, top: int = TOP_FAMILIES) -> Figure:
    """Family lines over generations: each generation's population stacked by its founders'
    strategies (a pale block per strategy), the `top` largest lines drawn solid inside their
    block, and above each bar how many lines are still alive."""
    fig, ax = plot.axes_or_new(ax)
    ax.set_xlabel("generation")
    ax.set_ylabel("share of the population")
    if agents.empty or generation_scores.empty:
        ax.set_title("Family lines")
        plot.no_data(ax)
        return fig
    kind = _labels_of(agents, labels)
    palette = palette or plot.Palette(set(kind.values()))
    shares = family_shares(agents, generation_scores)
    largest = set(shares.columns[:top])
    x = shown(shares.index.to_numpy(int))
    bottom = np.zeros(len(shares))
    origin = pd.Series({f: kind.get(str(f), "") for f in shares.columns})
    for strategy in palette.order(origin.unique()):
        members = [f for f in shares.columns if origin[f] == strategy]
        color = palette.color(strategy)
        for founder in [f for f in members if f in largest]:
            values = shares[founder].to_numpy(float)
            ax.bar(x, values, bottom=bottom, width=0.8, color=color, edgecolor="white",
                   linewidth=0.6)
            bottom += values
        rest = shares[[f for f in members if f not in largest]].sum(axis=1).to_numpy(float)
        ax.bar(x, rest, bottom=bottom, width=0.8, color=color, alpha=0.4, linewidth=0)
        bottom += rest
    alive = (shares > 0).sum(axis=1).to_numpy(int)
    for xi, count in zip(x, alive, strict=True):
        ax.text(xi, 1.01, f"{count} lines", ha="center", va="bottom", fontsize=7)
    ax.set_ylim(0, 1.08)
    ax.set_xticks(x)
    ax.set_title(f"Family lines (each founder's descendants along primary parents): by the "
                 f"founder's strategy, the {min(top, shares.shape[1])} largest lines solid",
                 fontsize=9, wrap=True)
    handles = [Patch(color=palette.color(k), label=f"descends from a {k} founder")
               for k in palette.order(origin.unique())]
    handles.append(Patch(color="0.5", alpha=0.4, label="(pale: the smaller lines)"))
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8,
              frameon=False)
    return fig


def plot_lineage_aggregate(
    agents: pd.DataFrame, generation_scores: pd.DataFrame,
    labels: Mapping[str, str] | None = None, palette: plot.Palette | None = None,
) -> Figure:
    """A large population's lineage: family lines over generations, and a sample of lines."""
    kind = _labels_of(agents, labels)
    palette = palette or plot.Palette(set(kind.values()))
    fig, axes = plot.new_figure(ncols=2, width=14.0, height=6.0)
    fig.suptitle(f"Lineage of strategies in aggregate ({len(agents)} agents: too many for one "
                 "bar each)")
    plot_families(agents, generation_scores, axes[0], labels, palette)
    plot_lineage_sample(agents, generation_scores, axes[1], labels, palette)
    return fig
