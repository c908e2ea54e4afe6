"""Reproduction schemes: who keeps a place after a generation, and whom newcomers descend from.

A generation has played and every member has a score. A scheme answers two questions, in this
order, with the world's seeded generator (so a run is a function of its seed):

1. `survivors(pool)`: which members keep their place into the next generation; the others
   leave, and each empty place gets a newcomer;
2. `parents(pool, candidates, count)`: for one newcomer, which `count` members of the
   generation that played it descends from, drawn among `candidates` (the members who could
   fill its place: a rule-brained place needs a rule-brained parent to inherit a rule from).

The second question is asked once per newcomer, in place order, when the next generation is
populated; a newcomer's rule is mutated right after its parents are drawn. The schemes work
on a `Pool` of plain arrays, so they can be checked without a world (fixation probabilities
in `tests/test_evolution.py`).

- `truncation`: `survivors` members stay: the best (`top`), drawn ∝ fitness (`proportional`)
  or at random; a newcomer's parent is a survivor drawn uniformly;
- `wright_fisher`: nobody stays; every parent is drawn ∝ fitness, with replacement;
- `moran`: everyone stays but one, drawn uniformly (one death); the one newcomer's parent is
  drawn ∝ fitness, the dying one included (one birth);
- `tournament`: nobody stays; every parent is the best of `tournament_size` members drawn
  uniformly.

A scheme of your own is any object with these two methods, registered by name with
`register_reproduction` (see `docs/evolution.md`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

from sim.evolution.registry import RegistrationError, Registry


@dataclass
class Pool:
    """The generation that just played, as a reproduction scheme sees it (index = member)."""

    scores: np.ndarray  # what selection ranks on
    fitness: np.ndarray  # the scores mapped by the config's fitness (non-negative)
    rng: np.random.Generator
    ranking: Sequence[int]  # members best first; ties fall to the generation's shuffled order
    survivors: int = 1  # how many truncation keeps
    method: str = "top"  # truncation's draw: 'top', 'proportional' or 'random'
    tournament_size: int = 2
    config: Any = None  # the run's config, for schemes of your own
    #: Who kept a place (set once `survivors` has answered); truncation draws parents here.
    kept: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    #: Work done once per list of candidates, not once per newcomer (a turnover of N
    #: newcomers stays linear in N): keyed by the list's identity, which it keeps alive.
    _memo: dict[tuple[str, int], tuple[Sequence[int], Any]] = field(default_factory=dict,
                                                                    repr=False)

    @classmethod
    def of(cls, scores: Sequence[float], rng: np.random.Generator, *,
           fitness: Sequence[float] | None = None, order: Sequence[int] | None = None,
           **settings: Any) -> Pool:
        """A pool from scores alone: fitness defaults to the scores clipped at 0, ties in the
        ranking fall to `order` (default: index order)."""
        values = np.asarray(scores, dtype=float)
        position = {member: place for place, member in enumerate(order or range(len(values)))}
        ranking = sorted(range(len(values)), key=lambda i: (-values[i], position[i]))
        weights = np.clip(values, 0.0, None) if fitness is None else np.asarray(fitness, float)
        return cls(values, weights, rng, ranking, **settings)

    @property
    def size(self) -> int:
        return len(self.scores)

    def memo(self, what: str, candidates: Sequence[int], make: Any) -> Any:
        """`make(candidates)`, computed once for this list of candidates (the same object is
        passed for every newcomer of a kind)."""
        key = (what, id(candidates))
        found = self._memo.get(key)
        if found is None or found[0] is not candidates:
            found = self._memo[key] = (candidates, make(candidates))
        return found[1]

    def rank_of(self) -> dict[int, int]:
        """Member -> its place in the ranking (0: best)."""
        return self.memo("rank", self.ranking,
                         lambda ranking: {member: place for place, member in enumerate(ranking)})

    def uniform(self, candidates: Sequence[int]) -> int:
        """One of `candidates`, uniformly."""
        return int(candidates[int(self.rng.integers(len(candidates)))])

    def weighted(self, candidates: Sequence[int]) -> int:
        """One of `candidates`, with probability proportional to fitness (uniformly when none
        has any). One uniform draw, inverted through the cumulative weights."""
        cumulative = self.memo("cumulative", candidates,
                               lambda found: np.cumsum(self.fitness[list(found)]))
        if not cumulative.size or cumulative[-1] <= 0:
            return self.uniform(candidates)
        place = int(np.searchsorted(cumulative, self.rng.random() * cumulative[-1],
                                    side="right"))
        return int(candidates[min(place, len(candidates) - 1)])


@runtime_checkable
class ReproductionScheme(Protocol):
    """What `reproduction = NAME` selects; see the module doc."""

    def survivors(self, pool: Pool) -> Sequence[int]:
        """The members (pool indices) who keep their place into the next generation."""
        ...

    def parents(self, pool: Pool, candidates: Sequence[int], count: int) -> list[int]:
        """The parents (pool indices, at most `count`, no repeats) of one newcomer, among
        `candidates` (never empty)."""
        ...


def _distinct(draws: list[int]) -> list[int]:
    return list(dict.fromkeys(draws))


class Truncation:
    """The best share stays (or a share drawn ∝ fitness, or at random); newcomers descend
    from survivors drawn uniformly."""

    def newcomers(self, config: Any) -> int:
        return int(config.agents - config.survivors)

    def survivors(self, pool: Pool) -> Sequence[int]:
        k, rng = pool.survivors, pool.rng
        if pool.method == "top":
            return list(pool.ranking[:k])
        if pool.method == "random":
            return [int(i) for i in rng.permutation(pool.size)[:k]]
        if pool.method == "proportional":
            return _proportional(pool.fitness, k, rng)
        raise ValueError(f"unknown selection method {pool.method!r}")

    def parents(self, pool: Pool, candidates: Sequence[int], count: int) -> list[int]:
        kept = pool.memo("kept", candidates,
                         lambda found: [i for i in found if pool.kept[i]])
        if not kept:
            return []
        if count == 1:
            return [pool.uniform(kept)]
        drawn = pool.rng.choice(len(kept), size=min(count, len(kept)), replace=False)
        return [kept[int(j)] for j in drawn]


def _proportional(weights: np.ndarray, k: int, rng: np.random.Generator) -> list[int]:
    """k distinct members drawn with probability proportional to their weights; when fewer
    than k have a positive weight, all of those survive and the rest are drawn uniformly
    from the others (a fitness of 0 gives no claim, but places must be filled)."""
    positive = np.flatnonzero(weights > 0)
    if positive.size >= k:
        p = weights / weights.sum()
        return [int(i) for i in rng.choice(weights.size, size=k, replace=False, p=p)]
    rest = np.flatnonzero(weights <= 0)
    return [int(i) for i in positive] + [
        int(i) for i in rng.choice(rest, size=k - positive.size, replace=False)]


class WrightFisher:
    """The whole generation is replaced; every newcomer's parent is drawn ∝ fitness, with
    replacement (a fit member may have many offspring, an unfit one none)."""

    def survivors(self, pool: Pool) -> Sequence[int]:
        return []

    def parents(self, pool: Pool, candidates: Sequence[int], count: int) -> list[int]:
        return _distinct([pool.weighted(candidates) for _ in range(count)])


class Moran:
    """One death and one birth: a member drawn uniformly leaves, and its place goes to the
    offspring of a member drawn ∝ fitness among all who played (the one leaving included, as
    in the birth–death Moran process). A generation is one step of the process, so a run
    of N steps replaces about as many members as one Wright–Fisher generation of N."""

    def newcomers(self, config: Any) -> int:
        return 1

    def survivors(self, pool: Pool) -> Sequence[int]:
        dead = int(pool.rng.integers(pool.size))
        return [i for i in range(pool.size) if i != dead]

    def parents(self, pool: Pool, candidates: Sequence[int], count: int) -> list[int]:
        return _distinct([pool.weighted(candidates) for _ in range(count)])


class Tournament:
    """The whole generation is replaced; every newcomer's parent is the best-ranked of
    `tournament_size` members drawn uniformly without replacement (ties by the generation's
    shuffled order, as in the ranking)."""

    def survivors(self, pool: Pool) -> Sequence[int]:
        return []

    def parents(self, pool: Pool, candidates: Sequence[int], count: int) -> list[int]:
        rank = pool.rank_of()
        size = min(pool.tournament_size, len(candidates))
        winners = []
        for _ in range(count):
            entrants = pool.rng.choice(len(candidates), size=size, replace=False)
            winners.append(min((int(candidates[int(j)]) for j in entrants), key=rank.__getitem__))
        return _distinct(winners)


REPRODUCTION: Registry[ReproductionScheme] = Registry("reproduction scheme", {
    "truncation": Truncation(),
    "wright_fisher": WrightFisher(),
    "moran": Moran(),
    "tournament": Tournament(),
})


def newcomers_per_generation(config: Any) -> int:
    """How many newcomers each generation after the first gets under `config`'s scheme (for
    estimates of model calls): a scheme's own `newcomers(config)`, else everyone."""
    count = getattr(REPRODUCTION.get(config.reproduction), "newcomers", None)
    return int(config.agents) if count is None else int(count(config))


def register_reproduction(name: str, scheme: ReproductionScheme) -> ReproductionScheme:
    """Make `scheme` selectable as `reproduction = name` in every population scenario."""
    if not isinstance(scheme, ReproductionScheme):
        raise RegistrationError("a reproduction scheme needs survivors(pool) and "
                                "parents(pool, candidates, count) methods")
    return REPRODUCTION.register(name, scheme)
