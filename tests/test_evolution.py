"""Reproduction schemes, fitness mappings and mutation operators (`sim.evolution`), checked on a
bare population of two types, where population genetics says what must happen.

A mutant of relative fitness r, one among N residents, takes over the population (fixation)
with a known probability: 1/N when it is neutral; (1 - 1/r) / (1 - 1/r^N) in the Moran
process; in the Wright-Fisher process the absorption probability of its binomial Markov chain,
computed exactly here. Each estimate comes from many seeded runs of the engine's own scheme
objects, and must lie within four binomial standard errors of the truth: a correct scheme
fails such a check about once in 16,000 sets of seeds, while one that ignored fitness would
miss the advantageous cases by ten or more (0.125 against 0.42 and 0.35).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pytest

from sim.evolution import (
    FITNESS,
    MUTATION,
    REPRODUCTION,
    Pool,
    exponential_fitness,
    jump_mutation,
    register_reproduction,
)
from sim.population import Population, PopulationConfig
from sim.rules import RuleFamilies, RulePolicy
from sim.world import World


def fixation_share(scheme_name: str, n: int, r: float, runs: int) -> float:
    """Share of `runs` seeded runs in which one mutant of fitness r among n - 1 residents of
    fitness 1 takes over, each generation turned over by the scheme (parents of every empty
    place drawn among all members, as for a population of one brain kind)."""
    scheme, fixed = REPRODUCTION.get(scheme_name), 0
    everyone = list(range(n))
    for seed in range(runs):
        rng = np.random.default_rng(seed)
        mutant = np.zeros(n, dtype=bool)
        mutant[0] = True
        while 0 < mutant.sum() < n:
            pool = Pool.of(np.where(mutant, r, 1.0), rng)
            pool.kept = np.zeros(n, dtype=bool)
            pool.kept[list(scheme.survivors(pool))] = True
            offspring = mutant.copy()
            for place in np.flatnonzero(~pool.kept):
                (parent,) = scheme.parents(pool, everyone, 1)
                offspring[place] = mutant[parent]
            mutant = offspring
        fixed += bool(mutant.all())
    return fixed / runs


def wright_fisher_fixation(n: int, r: float) -> float:
    """Exact: absorption at n of the chain i -> Binomial(n, i r / (i r + n - i)), from 1."""
    transient = np.arange(1, n)
    p = transient * r / (transient * r + n - transient)
    to = np.array([[math.comb(n, j) * q**j * (1 - q) ** (n - j) for j in range(n + 1)]
                   for q in p])
    fixed = np.linalg.solve(np.eye(n - 1) - to[:, 1:n], to[:, n])
    return float(fixed[0])


def moran_fixation(n: int, r: float) -> float:
    return 1 / n if r == 1 else (1 - 1 / r) / (1 - r ** -n)


def within_four_standard_errors(estimate: float, truth: float, runs: int) -> None:
    error = math.sqrt(truth * (1 - truth) / runs)
    assert abs(estimate - truth) <= 4 * error, (estimate, truth, error)


@pytest.mark.parametrize(("scheme", "r", "runs"), [
    ("wright_fisher", 1.0, 1000), ("wright_fisher", 1.3, 600),
    ("moran", 1.0, 700), ("moran", 1.5, 500),
])
def test_fixation_probabilities_match_population_genetics(scheme: str, r: float,
                                                          runs: int) -> None:
    n = 8
    truth = (wright_fisher_fixation if scheme == "wright_fisher" else moran_fixation)(n, r)
    if r == 1.0:
        assert truth == pytest.approx(1 / n)
    within_four_standard_errors(fixation_share(scheme, n, r, runs), truth, runs)


def test_wright_fisher_replaces_everyone_and_moran_exactly_one() -> None:
    rng = np.random.default_rng(0)
    pool = Pool.of([3.0, 1.0, 2.0, 0.0], rng)
    assert REPRODUCTION.get("wright_fisher").survivors(pool) == []
    for _ in range(20):
        stays = REPRODUCTION.get("moran").survivors(pool)
        assert len(stays) == 3 and set(stays) < {0, 1, 2, 3}
    # a member of fitness 0 never reproduces; its candidates' weights are all that count
    drawn = {REPRODUCTION.get("wright_fisher").parents(pool, [1, 3], 1)[0] for _ in range(50)}
    assert drawn == {1}


def test_a_tournament_parent_is_the_best_of_those_drawn() -> None:
    scheme = REPRODUCTION.get("tournament")
    pool = Pool.of([1.0, 5.0, 5.0, 2.0], np.random.default_rng(1), order=[2, 0, 1, 3],
                   tournament_size=4)
    assert scheme.survivors(pool) == []
    assert {scheme.parents(pool, [0, 1, 2, 3], 1)[0] for _ in range(10)} == {2}  # tie: order
    pool.tournament_size = 1  # no selection: any member, uniformly
    assert {scheme.parents(pool, [0, 1, 2, 3], 1)[0] for _ in range(60)} == {0, 1, 2, 3}
    assert len(scheme.parents(pool, [0, 1, 2, 3], 3)) <= 3  # distinct parents


def test_exponential_fitness_tunes_selection_from_neutral_to_strong() -> None:
    @dataclass
    class Strength:
        selection_strength: float

    scores = np.array([-2.0, 0.0, 1.0])
    assert exponential_fitness(scores, Strength(0.0)).tolist() == [1.0, 1.0, 1.0]
    fitness = exponential_fitness(scores, Strength(0.5))
    assert fitness[2] / fitness[1] == pytest.approx(math.exp(0.5))
    assert fitness[1] / fitness[0] == pytest.approx(math.exp(1.0))
    assert np.isfinite(exponential_fitness(np.array([1e6, 0.0]), Strength(10))).all()
    assert FITNESS.get("payoff")(scores, None).tolist() == [0.0, 0.0, 1.0]


@dataclass(frozen=True)
class Give(RulePolicy):
    family: ClassVar[str] = "give"
    bounds: ClassVar[dict[str, tuple[float, float]]] = {"share": (0.0, 1.0)}
    share: float = 0.5

    def decide(self, observation: dict[str, Any]) -> float:
        return self.share

    def describe(self) -> str:
        return f"I give {self.share:.2f}."


@dataclass(frozen=True)
class Keep(RulePolicy):
    family: ClassVar[str] = "keep"

    def decide(self, observation: dict[str, Any]) -> float:
        return 0.0

    def describe(self) -> str:
        return "I keep everything."


@dataclass(frozen=True)
class Steal(Keep):
    family: ClassVar[str] = "steal"


FAMILIES = RuleFamilies([Give, Keep, Steal])


class ToyConfig(PopulationConfig):
    RULE_FAMILIES = FAMILIES.names


def test_jump_mutation_lands_on_a_random_rule_of_the_mix_with_probability_mu() -> None:
    families = RuleFamilies([Give, Keep])
    parent = Give(0.5)
    never = ToyConfig(mutation_rate=0.0)
    rng = np.random.default_rng(3)
    assert all(jump_mutation(parent, rng, never, families) is parent for _ in range(20))
    always = ToyConfig(mutation_rate=1.0)
    mutants = [jump_mutation(parent, rng, always, families) for _ in range(200)]
    assert {m.family for m in mutants} == {"give", "keep"}
    shares = [m.share for m in mutants if isinstance(m, Give)]
    assert min(shares) < 0.2 and max(shares) > 0.8  # uniform in the parameter's range
    half = ToyConfig(mutation_rate=0.3)
    jumped = sum(jump_mutation(parent, rng, half, families) is not parent for _ in range(2000))
    within_four_standard_errors(jumped / 2000, 0.3, 2000)
    assert MUTATION.get("none")(parent, rng, half, families) is parent


def test_a_population_mutates_only_into_the_families_its_mix_names() -> None:
    config = ToyConfig(agents=6, brains={"give": 1, "keep": 1}, mutation="jump",
                       mutation_rate=1.0, reproduction="wright_fisher", generations=8)
    population = Population(World(config), config, FAMILIES)
    population.populate(0)
    for generation in range(1, 8):
        population.select(generation - 1, [1.0] * 6, list(range(6)))
        population.populate(generation)
        assert {a.brain.kind for a in population.members} <= {"give", "keep"}


def test_a_scheme_of_your_own_is_registered_by_name_and_chosen_by_the_config() -> None:
    class Cloning:
        """Everyone but the worst stays; the newcomer is the best one's offspring."""

        turnover_text = "The worst of the $players leaves; the best has its place. $advice"

        def survivors(self, pool: Pool) -> list[int]:
            return list(pool.ranking[:-1])

        def parents(self, pool: Pool, candidates: Any, count: int) -> list[int]:
            return [min(candidates, key=list(pool.ranking).index)]

    register_reproduction("cloning", Cloning())
    with pytest.raises(ValueError, match=r"unknown reproduction scheme 'clonning'.*cloning"):
        ToyConfig(reproduction="clonning")
    with pytest.raises(TypeError):
        register_reproduction("broken", object())  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="built-in"):
        register_reproduction("moran", Cloning())
    config = ToyConfig(agents=4, brains={"give": 1}, reproduction="cloning", mutation="none")
    population = Population(World(config), config, FAMILIES)
    population.populate(0)
    population.select(0, [4.0, 3.0, 2.0, 1.0], [0, 1, 2, 3])
    (newcomer,) = population.populate(1)
    assert newcomer.name == "g1-a03" and newcomer.parents == ["g0-a00"]


def test_newcomers_per_generation_follow_the_scheme_for_call_estimates() -> None:
    from sim.evolution import newcomers_per_generation

    counts = {scheme: newcomers_per_generation(ToyConfig(agents=10, reproduction=scheme))
              for scheme in ("truncation", "wright_fisher", "moran", "tournament")}
    assert counts == {"truncation": 5, "wright_fisher": 10, "moran": 1, "tournament": 10}
