"""Evolutionary dynamics on a graph, in numpy, for many independent populations at once.

One `Populations` object holds R replicate populations on the same graph (R = 1 for a run of
the scenario, thousands for a fixation-probability estimate): their strategies, and for every
node how many of its neighbours play the deviant strategy, which is all a payoff needs. An
elementary update is vectorised over the replicates, so estimating a fixation probability
from 2,000 runs costs about what one run costs in Python overhead. The scenario's World calls
the very same `advance` for its rule-brained nodes, so a test of the classic result checks the
scenario's own update code.

Strategies are 0 (the resident) and 1 (the deviant): for the donation game defect and
cooperate, for the coordination game norms A and B. A node's payoff is the sum (or mean) over
its neighbours of `payoffs[own, neighbour's]`; its fitness is `1 - w + w * payoff`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar, Literal

import numpy as np

UpdateRule = Literal["death_birth", "imitation", "copy_better"]


@dataclass(frozen=True)
class Neighbours:
    """A graph as arrays: row i of `table` lists node i's neighbours, padded with N (a node
    that does not exist, whose column every state array carries and ignores)."""

    table: np.ndarray  # (N, max degree) int
    degree: np.ndarray  # (N,) int

    @classmethod
    def from_lists(cls, neighbours: Sequence[Sequence[int]]) -> Neighbours:
        n = len(neighbours)
        width = max(len(row) for row in neighbours)
        table = np.full((n, width), n, dtype=np.int64)
        for i, row in enumerate(neighbours):
            table[i, :len(row)] = sorted(row)
        return cls(table, np.array([len(row) for row in neighbours], dtype=np.int64))

    @property
    def nodes(self) -> int:
        return len(self.degree)


def node_payoffs(strategy: np.ndarray, deviant_neighbours: np.ndarray, degree: np.ndarray,
                 payoffs: np.ndarray, *, average: bool) -> np.ndarray:
    """Payoffs of nodes playing `strategy` with `deviant_neighbours` of their `degree`
    neighbours playing 1 (arrays of one shape): the game against every neighbour, summed."""
    total = ((degree - deviant_neighbours) * payoffs[strategy, 0]
             + deviant_neighbours * payoffs[strategy, 1])
    return total / np.maximum(degree, 1) if average else total


class Populations:
    """R populations on one graph; `advance` plays elementary updates in all of them at once
    (a single population, the scenario's own run, one update at a time in plain Python:
    `one_at_a_time`, which tests switch off to compare with the vectorised code).

    `state[r, i]` is node i's strategy in replicate r and `deviant_neighbours[r, i]` how many
    of its neighbours play 1 (both with the padding column N). `deviants[r]` counts the nodes
    playing 1, so fixation is `deviants in (0, N)`.
    """

    #: A single population advances in plain Python (`_advance_one`); False: always numpy.
    one_at_a_time: ClassVar[bool] = True

    def __init__(self, graph: Neighbours, initial: np.ndarray, payoffs: np.ndarray, *,
                 rule: UpdateRule = "death_birth", w: float = 0.1, average: bool = False,
                 copy_probability: float = 1.0) -> None:
        initial = np.atleast_2d(np.asarray(initial, dtype=np.int8))
        runs, n = initial.shape
        if n != graph.nodes:
            raise ValueError(f"initial states have {n} nodes, the graph {graph.nodes}")
        self.graph, self.rule, self.w, self.average = graph, rule, w, average
        self.payoffs = np.asarray(payoffs, dtype=float)
        self.copy_probability = copy_probability
        self.state = np.zeros((runs, n + 1), dtype=np.int8)
        self.state[:, :n] = initial
        self.deviant_neighbours = np.zeros((runs, n + 1), dtype=np.int64)
        self.deviant_neighbours[:, :n] = self.state[:, graph.table].sum(axis=2)
        self.deviants = initial.sum(axis=1, dtype=np.int64)
        # the padding node: degree 1 (no division by zero), never chosen (fitness 0)
        self._degree = np.append(graph.degree, 1)
        self._table = np.vstack([graph.table, np.full(graph.table.shape[1], n)])
        self._as_lists: tuple[list[list[int]], list[int]] | None = None

    @property
    def runs(self) -> int:
        return len(self.deviants)

    @property
    def nodes(self) -> int:
        return self.graph.nodes

    def strategies(self) -> np.ndarray:
        """(R, N) strategies, without the padding column."""
        return self.state[:, :-1]

    def payoffs_now(self) -> np.ndarray:
        """(R, N) current payoffs of every node."""
        n = self.nodes
        return node_payoffs(self.state[:, :n].astype(np.int64), self.deviant_neighbours[:, :n],
                            self.graph.degree, self.payoffs, average=self.average)

    def fixed(self) -> np.ndarray:
        """(R,) bool: the replicate has one strategy left (absorbing for every update rule)."""
        return (self.deviants == 0) | (self.deviants == self.nodes)

    def fitness(self, strategy: np.ndarray, deviant_neighbours: np.ndarray,
                degree: np.ndarray) -> np.ndarray:
        payoff = node_payoffs(strategy, deviant_neighbours, degree, self.payoffs,
                              average=self.average)
        return 1.0 - self.w + self.w * payoff

    def advance(self, updates: int, rng: np.random.Generator,
                focal_nodes: np.ndarray | None = None) -> None:
        """Play `updates` elementary updates in every replicate. In each, a focal node is
        drawn uniformly from `focal_nodes` (all nodes by default; a run with LLM-brained nodes
        passes the rule-brained ones) and takes the strategy the update rule gives it."""
        if focal_nodes is None:
            focal_nodes = np.arange(self.nodes)
        if len(focal_nodes) == 0 or updates <= 0:
            return
        if self.runs == 1 and self.one_at_a_time:
            self._advance_one(updates, rng, focal_nodes)
            return
        rows = np.arange(self.runs)
        for _ in range(updates):
            focal = focal_nodes[rng.integers(len(focal_nodes), size=self.runs)]
            chosen = self._successor(rows, focal, rng)
            self._set_one_per_row(rows, focal, self.state[rows, chosen])

    def _successor(self, rows: np.ndarray, focal: np.ndarray,
                   rng: np.random.Generator) -> np.ndarray:
        """The node whose strategy the focal node takes (itself when it keeps its own)."""
        candidates = self._table[focal]  # (R, max degree)
        if self.rule == "copy_better":
            degree = self._degree[focal]
            pick = candidates[rows, (rng.random(len(rows)) * degree).astype(np.int64)]
            own = self._payoff_of(rows, focal)
            better = self._payoff_of(rows, pick) > own
            copies = better & (rng.random(len(rows)) < self.copy_probability)
            return np.where(copies, pick, focal)
        if self.rule == "imitation":  # the focal node competes with its neighbours
            candidates = np.hstack([candidates, focal[:, None]])
        strategy = self.state[rows[:, None], candidates].astype(np.int64)
        fitness = self.fitness(strategy, self.deviant_neighbours[rows[:, None], candidates],
                               self._degree[candidates])
        fitness[candidates == self.nodes] = 0.0
        cumulative = np.cumsum(fitness, axis=1)
        draw = rng.random(len(rows)) * cumulative[:, -1]
        index = (cumulative <= draw[:, None]).sum(axis=1)
        return candidates[rows, np.minimum(index, candidates.shape[1] - 1)]

    def _advance_one(self, updates: int, rng: np.random.Generator,
                     focal_nodes: np.ndarray) -> None:
        """`advance` for a single population (a scenario's run), in plain Python floats: the
        same draws from `rng` in the same order (numpy's scalar draws are its size-1 draws),
        the same arithmetic in the same order, so the same run, without numpy's cost per call
        on arrays of one row (several times the update itself)."""
        n, rule, w = self.nodes, self.rule, self.w
        table, degree = self._lists()
        state = self.state[0].tolist()
        deviant_neighbours = self.deviant_neighbours[0].tolist()
        payoffs = self.payoffs.tolist()
        average = self.average
        focal_list = focal_nodes.tolist()
        count = len(focal_list)
        deviants = int(self.deviants[0])

        def payoff(node: int) -> float:
            own, neighbours, links = state[node], deviant_neighbours[node], degree[node]
            total = (links - neighbours) * payoffs[own][0] + neighbours * payoffs[own][1]
            return total / max(links, 1) if average else total

        for _ in range(updates):
            focal = focal_list[rng.integers(count)]
            candidates = table[focal]
            if rule == "copy_better":
                pick = candidates[int(rng.random() * degree[focal])]
                better = payoff(pick) > payoff(focal)
                copies = rng.random() < self.copy_probability  # drawn whether better or not
                chosen = pick if better and copies else focal
            else:
                if rule == "imitation":
                    candidates = [*candidates, focal]
                cumulative, total = [], 0.0
                for node in candidates:
                    total += 0.0 if node == n else 1.0 - w + w * payoff(node)
                    cumulative.append(total)
                draw = rng.random() * total
                index = sum(1 for value in cumulative if value <= draw)
                chosen = candidates[min(index, len(candidates) - 1)]
            change = state[chosen] - state[focal]
            if change:
                state[focal] = state[chosen]
                deviants += change
                for node in set(table[focal]):  # the padding node once, like numpy's +=
                    deviant_neighbours[node] += change
        self.state[0] = state
        self.deviant_neighbours[0] = deviant_neighbours
        self.deviants[0] = deviants

    def _lists(self) -> tuple[list[list[int]], list[int]]:
        """The padded neighbour table and degrees as lists, for `_advance_one`."""
        if self._as_lists is None:
            self._as_lists = (self._table.tolist(), self._degree.tolist())
        return self._as_lists

    def _payoff_of(self, rows: np.ndarray, nodes: np.ndarray) -> np.ndarray:
        return node_payoffs(self.state[rows, nodes].astype(np.int64),
                            self.deviant_neighbours[rows, nodes], self._degree[nodes],
                            self.payoffs, average=self.average)

    def set_strategies(self, rows: np.ndarray, nodes: np.ndarray,
                       strategies: np.ndarray) -> None:
        """Node `nodes[j]` of replicate `rows[j]` now plays `strategies[j]`, any number of
        nodes per replicate (an LLM step's choices); the counts follow."""
        for row, node, strategy in zip(rows, nodes, strategies, strict=True):
            self._set_one_per_row(np.array([row]), np.array([node]), np.array([strategy]))

    def _set_one_per_row(self, rows: np.ndarray, nodes: np.ndarray,
                         strategies: np.ndarray) -> None:
        """As `set_strategies` with distinct `rows` (an elementary update in each replicate),
        so numpy's fancy-indexed `+=` adds every change exactly once."""
        change = strategies.astype(np.int64) - self.state[rows, nodes]
        if not change.any():
            return
        self.state[rows, nodes] = strategies
        self.deviants[rows] += change
        # a row's neighbours are distinct, except the padding column, which is never read
        self.deviant_neighbours[rows[:, None], self._table[nodes]] += change[:, None]

    def keep(self, rows: np.ndarray) -> None:
        """Drop every replicate but `rows` (those still running)."""
        self.state = self.state[rows]
        self.deviant_neighbours = self.deviant_neighbours[rows]
        self.deviants = self.deviants[rows]


@dataclass(frozen=True)
class FixationEstimate:
    """Outcomes of `runs` runs from a single deviant: how many fixed it, how many lost it, and
    the updates each took (`unfinished` runs reached the cap with both strategies left)."""

    runs: int
    fixed: int
    lost: int
    fixation_updates: np.ndarray  # (fixed,) updates to fixation of the runs that fixed

    @property
    def unfinished(self) -> int:
        return self.runs - self.fixed - self.lost

    @property
    def probability(self) -> float:
        return self.fixed / self.runs


def single_deviants(nodes: int, runs: int, rng: np.random.Generator) -> np.ndarray:
    """(runs, nodes) initial states: one deviant at a uniformly drawn node in each."""
    initial = np.zeros((runs, nodes), dtype=np.int8)
    initial[np.arange(runs), rng.integers(nodes, size=runs)] = 1
    return initial


def fixation_runs(graph: Neighbours, payoffs: np.ndarray, *, runs: int,
                  rng: np.random.Generator, rule: UpdateRule = "death_birth", w: float = 0.1,
                  average: bool = False, copy_probability: float = 1.0,
                  max_updates: int = 1_000_000, chunk: int | None = None,
                  initial: np.ndarray | None = None) -> FixationEstimate:
    """Run `runs` populations from a single deviant each (or from `initial`, (runs, N)
    states) until the deviant fixes or is lost (or `max_updates` pass), all at once; finished
    runs are dropped every `chunk` updates, which is also the resolution of the times."""
    if initial is None:
        initial = single_deviants(graph.nodes, runs, rng)
    population = Populations(graph, initial, payoffs,
                             rule=rule, w=w, average=average, copy_probability=copy_probability)
    chunk = chunk or graph.nodes
    fixed = lost = 0
    times: list[np.ndarray] = []
    done = 0
    while population.runs and done < max_updates:
        population.advance(min(chunk, max_updates - done), rng)
        done += min(chunk, max_updates - done)
        finished = population.fixed()
        if finished.any():
            won = population.deviants[finished] == graph.nodes
            fixed += int(won.sum())
            lost += int((~won).sum())
            times.append(np.full(int(won.sum()), done))
            population.keep(np.flatnonzero(~finished))
    return FixationEstimate(runs, fixed, lost,
                            np.concatenate(times) if times else np.zeros(0, dtype=np.int64))
