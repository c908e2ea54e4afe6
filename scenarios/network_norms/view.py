"""Network norms in `societas view`: the graph, each node coloured by its strategy.

The run records every node's strategy at the start (`nodes.initial`) and at the end
(`final_states`), and the share of each strategy at every step (`shares`, shown by the generic
per-step panel); rule nodes' changes in between are played in bulk and not stored one by one.
So the graph shows the starting strategies up to the last step and the final ones there, and
says so. The layout is computed once (networkx, seeded); graphs above `MAX_NODES` nodes are
drawn as one node per strategy, sized by how many play it.
"""

from __future__ import annotations

from typing import Any

from analysis._plotting import Palette
from analysis.viewer.parts import Edge, Network, Node
from analysis.viewer.step import StepView
from sim.scenario_analysis import ViewPanel

MAX_NODES = 150


def _layout(view: StepView) -> dict[str, tuple[float, float]]:
    import networkx as nx

    graph = nx.Graph()
    graph.add_nodes_from(str(n) for (n,) in view.rows("SELECT node FROM nodes"))
    graph.add_edges_from((str(a), str(b)) for a, b in view.rows("SELECT source, target FROM "
                                                                "edges"))
    where = nx.spring_layout(graph, seed=0)
    xs = [p[0] for p in where.values()] or [0.0]
    ys = [p[1] for p in where.values()] or [0.0]
    span_x, span_y = (max(xs) - min(xs)) or 1.0, (max(ys) - min(ys)) or 1.0
    return {n: ((x - min(xs)) / span_x, (y - min(ys)) / span_y) for n, (x, y) in where.items()}


def graph(view: StepView) -> list[Any]:
    if not view.has("nodes"):
        return []
    nodes = view.rows("SELECT node, agent_id, initial, brain FROM nodes ORDER BY node")
    final = dict(view.rows("SELECT node, strategy FROM final_states")) if view.has(
        "final_states") else {}
    at_end = bool(final) and not view.progress.live and view.step >= view.last
    strategy = {n: (final.get(n, s) if at_end else s) for n, _, s, _ in nodes}
    palette = view.memo("norms:palette", lambda: Palette(sorted(
        {str(s) for (s,) in view.rows("SELECT DISTINCT strategy FROM shares")}
        | {str(s) for s in strategy.values()})))
    when = ("at the end of the run" if at_end else
            "at the start (nodes' strategies between the first and the last step are not "
            "recorded one by one; the per-step shares are)")
    if len(nodes) > MAX_NODES:
        counts: dict[str, int] = {}
        for value in strategy.values():
            counts[str(value)] = counts.get(str(value), 0) + 1
        return [Network([Node(s, f"{s} ({n:,})", palette.color(s), size=float(n))
                         for s, n in sorted(counts.items())], (),
                        f"{len(nodes):,} nodes by strategy, {when}", name="graph")]
    where = view.memo("norms:layout", lambda: _layout(view))
    drawn = [Node(str(n), str(agent), palette.color(str(strategy[n])), marked=brain == "llm",
                  title=f"{agent}: {strategy[n]}" + (" (LLM)" if brain == "llm" else ""),
                  pick=str(agent), at=where.get(str(n)))
             for n, agent, _, brain in nodes]
    edges = [Edge(str(a), str(b), 0.1) for a, b in view.rows("SELECT source, target FROM edges")]
    legend = {str(s): palette.color(str(s)) for s in sorted(set(map(str, strategy.values())))}
    return [Network(drawn, edges, f"Strategies {when}. Ringed: LLM-brained nodes.", legend,
                    name="graph", directed=False)]


PANELS = (ViewPanel("graph", "The graph by strategy", graph),)
