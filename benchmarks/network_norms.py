"""Fixation runs of the network norms scenario against a plain numpy loop of the same update.

A fixation run is one run of the scenario's default (24 nodes, 3-regular random graph,
death-birth updating, b/c = 8, w = 0.05, one deviant) until the deviant fixes or dies out, as a
researcher runs it in a notebook: `NetworkNorms(config).run_model()`, config validation and
model construction included, in memory (no store). The baseline plays the same runs in a plain
numpy loop: the same graph built by networkx from the same seed, the same initial deviant, and
per update the focal node, its neighbours' fitness, their cumulative sum and the draw as numpy
operations on small arrays, with the same random numbers; the script checks that every run
ends the same way after the same number of updates, so both did the same work. Both are timed
in one process over the same seeds. `--vectorised` also times the scenario with its single
population advanced by the vectorised replicate code (`Populations.one_at_a_time = False`, the
path before the plain-Python one), which must end every run the same way.

Last line: the scenario's time over the numpy loop's (target <= 2).

    python benchmarks/network_norms.py [--runs 200] [--vectorised]
"""

from __future__ import annotations

import argparse
import time

import networkx as nx
import numpy as np

from scenarios.network_norms.config import NetworkNormsConfig
from scenarios.network_norms.dynamics import Populations
from scenarios.network_norms.game import NetworkNorms
from scenarios.network_norms.graphs import ATTEMPTS, _build, graph_seed
from sim.config import load_config


def scenario_runs(seeds: range) -> tuple[float, list[tuple[int, int]]]:
    _build.cache_clear()  # every run builds its graph, as the baseline does
    outcomes = []
    started = time.perf_counter()
    for seed in seeds:
        model = NetworkNorms(load_config(NetworkNormsConfig, values={"seed": seed}))
        model.run_model()
        outcomes.append((int(model.populations.deviants[0]), model.updates))
    return time.perf_counter() - started, outcomes


def numpy_run(seed: int, config: NetworkNormsConfig) -> tuple[int, int]:
    """One fixation run, plain numpy (see the module doc)."""
    n, k, w = config.nodes, config.degree, config.selection
    for attempt in range(ATTEMPTS):
        graph = nx.random_regular_graph(k, n, seed=graph_seed(seed, attempt))
        if nx.is_connected(graph):
            break
    table = np.array([sorted(graph.neighbors(i)) for i in range(n)])
    payoffs = config.payoff_matrix()
    rng = np.random.default_rng(seed)  # the world's generator, drawn from as the model does
    rng.choice(n, size=0, replace=False)  # which nodes have LLM brains: none
    state = np.zeros(n, dtype=np.int64)
    state[rng.choice(n, size=1, replace=False)] = 1
    deviant_neighbours = state[table].sum(axis=1)
    deviants, updates = 1, 0
    for _ in range(config.steps):
        for _ in range(n):  # a step: as many updates as nodes
            focal = rng.integers(n)
            neighbours = table[focal]
            own = state[neighbours]
            near = deviant_neighbours[neighbours]
            fitness = 1.0 - w + w * ((k - near) * payoffs[own, 0] + near * payoffs[own, 1])
            cumulative = np.cumsum(fitness)
            draw = rng.random() * cumulative[-1]
            chosen = neighbours[min(int((cumulative <= draw).sum()), k - 1)]
            change = state[chosen] - state[focal]
            if change:
                state[focal] = state[chosen]
                deviant_neighbours[neighbours] += change
                deviants += change
        updates += n
        if deviants in (0, n):
            break
    return deviants, updates


def numpy_runs(seeds: range) -> tuple[float, list[tuple[int, int]]]:
    config = NetworkNormsConfig()
    started = time.perf_counter()
    outcomes = [numpy_run(seed, config) for seed in seeds]
    return time.perf_counter() - started, outcomes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--vectorised", action="store_true",
                        help="also time the scenario advancing its run with the vectorised code")
    args = parser.parse_args()
    scenario_runs(range(1000, 1010))  # warm-up: imports, caches
    numpy_runs(range(1000, 1010))
    seeds = range(args.runs)
    ours, outcomes = scenario_runs(seeds)
    theirs, expected = numpy_runs(seeds)
    assert outcomes == expected, "the numpy loop ended some run differently"
    fixed = sum(deviants == 24 for deviants, _ in outcomes)
    updates = sum(u for _, u in outcomes)
    print(f"{args.runs} fixation runs (N=24, k=3, death-birth): {fixed} fixed, "
          f"{updates / args.runs:.0f} updates a run on average")
    if args.vectorised:
        Populations.one_at_a_time = False
        vectorised, again = scenario_runs(seeds)
        Populations.one_at_a_time = True
        assert again == outcomes
        print(f"scenario, its run advanced by the vectorised code: {vectorised:.2f} s, "
              f"{args.runs / vectorised:.0f} runs/s ({vectorised / theirs:.2f}x numpy)")
    print(f"scenario (NetworkNorms(config).run_model()): {ours:.2f} s, "
          f"{args.runs / ours:.0f} runs/s")
    print(f"plain numpy loop, the same runs: {theirs:.2f} s, {args.runs / theirs:.0f} runs/s")
    print(f"network_norms_vs_numpy {ours / theirs:.2f}")


if __name__ == "__main__":
    main()
