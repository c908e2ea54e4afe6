"""The scenario's graphs, built with networkx from the graph keys and the run seed.

The graph draws its randomness from a stream of its own derived from the seed, not from the
world's generator: two runs with the same seed and graph keys share their graph whatever else
differs (the update rule, the game, the brains), so conditions can be compared on one graph,
and the config validator can build the graph to check it before a run starts.

Every graph must be connected: on a graph in pieces no strategy can ever take over, and
fixation would mean nothing. A random regular graph of degree 2 is often several cycles, so
random graphs are drawn again (from the same stream) until one is connected.
"""

from __future__ import annotations

from functools import lru_cache

import networkx as nx
import numpy as np

from scenarios.network_norms.dynamics import Neighbours

#: Stream id mixed into the seed for the graph's randomness (an arbitrary constant).
GRAPH_STREAM = 0x6E6E
ATTEMPTS = 100


def graph_seed(seed: int, attempt: int = 0) -> int:
    """The networkx seed of a run's graph (its `attempt`-th draw)."""
    return int(np.random.SeedSequence([seed, GRAPH_STREAM, attempt]).generate_state(1)[0])


def check_graph_keys(kind: str, nodes: int, degree: int) -> None:
    """Refuse a graph that cannot exist, with one line naming the keys (a ValueError, which
    the config turns into a `ConfigError`)."""
    if kind == "scale_free":
        if degree < 2 or degree % 2:
            raise ValueError(f"scale_free needs an even degree of at least 2 (the mean degree, "
                             f"degree/2 links per new node), got degree {degree}")
        if degree // 2 >= nodes:
            raise ValueError(f"scale_free with degree {degree} needs more than {degree // 2} "
                             f"nodes, got {nodes}")
        return
    if degree >= nodes:
        raise ValueError(f"degree ({degree}) must be less than nodes ({nodes}): a node cannot "
                         "have more neighbours than there are other nodes")
    if kind in ("ring", "small_world") and (degree < 2 or degree % 2):
        raise ValueError(f"{kind} needs an even degree of at least 2 (degree/2 neighbours on "
                         f"each side), got degree {degree}")
    if kind == "random_regular":
        if degree < 2:
            raise ValueError(f"random_regular needs degree 2 or more to be connected, got "
                             f"degree {degree}")
        if nodes * degree % 2:
            raise ValueError(f"random_regular needs nodes × degree to be even (each link has "
                             f"two ends), got {nodes} × {degree}")


def build_graph(kind: str, nodes: int, degree: int, rewiring: float, seed: int) -> nx.Graph:
    """The run's graph: nodes 0..N-1, connected. Raises ValueError for impossible keys."""
    return _build(kind, nodes, degree, rewiring if kind == "small_world" else 0.0, seed).copy()


@lru_cache(maxsize=32)
def _build(kind: str, nodes: int, degree: int, rewiring: float, seed: int) -> nx.Graph:
    check_graph_keys(kind, nodes, degree)
    if kind == "ring":
        return nx.watts_strogatz_graph(nodes, degree, 0.0)
    if kind == "small_world":
        try:
            return nx.connected_watts_strogatz_graph(nodes, degree, rewiring, tries=ATTEMPTS,
                                                     seed=graph_seed(seed))
        except nx.NetworkXError:
            raise ValueError(f"no connected small_world graph with degree {degree} and "
                             f"rewiring {rewiring:g} on {nodes} nodes in {ATTEMPTS} draws; "
                             "lower rewiring or raise degree") from None
    if kind == "scale_free":
        return nx.barabasi_albert_graph(nodes, degree // 2, seed=graph_seed(seed))
    for attempt in range(ATTEMPTS):
        graph = nx.random_regular_graph(degree, nodes, seed=graph_seed(seed, attempt))
        if nx.is_connected(graph):
            return graph
    raise ValueError(f"no connected random_regular graph of degree {degree} on {nodes} nodes "
                     f"in {ATTEMPTS} draws; use degree 3 or more")


def neighbour_table(graph: nx.Graph) -> Neighbours:
    """The graph as the arrays the dynamics read."""
    return Neighbours.from_lists([list(graph.neighbors(i)) for i in range(graph.number_of_nodes())])
