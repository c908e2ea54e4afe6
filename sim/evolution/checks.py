"""A user's reproduction scheme, fitness mapping or mutation operator, held to its contract.

The built-ins keep their contracts by construction (and sit on the hot path of a 10,000-member
turnover), so they are used as they are. One registered by a user is wrapped: every answer is
checked, so a mistake (more parents than asked for, a member index out of range, fitness of the
wrong length, a mutant that is not a rule) is one `societas: error:` line naming it, not a
traceback from deep inside the turnover nor a run with a silently wrong lineage. `probe` asks a
user's scheme and fitness once, on a made-up generation, when the config is validated, so the
usual mistakes are refused before a run directory exists.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from typing import Any

import numpy as np

from sim.errors import UserError
from sim.evolution.describe import turnover_rule
from sim.evolution.fitness import FITNESS, FitnessMapping
from sim.evolution.mutation import MUTATION, MutationOperator
from sim.evolution.schemes import REPRODUCTION, Pool, ReproductionScheme
from sim.prompting import PromptError
from sim.rules import RuleFamilies, RulePolicy


class EvolutionError(UserError, ValueError):
    """A user's scheme, fitness mapping or mutation operator broke its contract. A ValueError
    too, so that found while a config is validated it becomes that config's error line."""


def _indices(what: str, answer: Any) -> list[int]:
    try:
        return [operator.index(i) for i in answer]
    except TypeError:
        raise EvolutionError(f"{what} must return a list of member indices (ints), got "
                             f"{answer!r}") from None


class CheckedScheme:
    """A user's reproduction scheme whose every answer is checked."""

    def __init__(self, name: str, scheme: ReproductionScheme) -> None:
        self.name, self.scheme = name, scheme

    def survivors(self, pool: Pool) -> list[int]:
        what = f"reproduction scheme {self.name!r}: survivors(pool)"
        kept = _indices(what, self.scheme.survivors(pool))
        for member in kept:
            if not 0 <= member < pool.size:
                raise EvolutionError(f"{what} returned {member}, which is not a member index "
                                     f"(0 to {pool.size - 1})")
        if len(set(kept)) != len(kept):
            raise EvolutionError(f"{what} returned a member twice: {kept}")
        return kept

    def parents(self, pool: Pool, candidates: Sequence[int], count: int) -> list[int]:
        what = f"reproduction scheme {self.name!r}: parents(pool, candidates, count)"
        drawn = _indices(what, self.scheme.parents(pool, candidates, count))
        if len(drawn) > count:
            raise EvolutionError(f"{what} returned {len(drawn)} parents {drawn} for a newcomer "
                                 f"that takes at most {count} (count)")
        if len(set(drawn)) != len(drawn):
            raise EvolutionError(f"{what} returned a parent twice: {drawn}")
        allowed = pool.memo("candidate_set", candidates, set)
        for member in drawn:
            if member not in allowed:
                raise EvolutionError(f"{what} returned {member}, which is not among the "
                                     "candidates it was given (the members that can fill "
                                     "this place)")
        return drawn


def checked_fitness(name: str, mapping: FitnessMapping) -> FitnessMapping:
    """`mapping`, its result checked: one finite, non-negative fitness per score."""

    def fitness(scores: np.ndarray, config: Any) -> np.ndarray:
        values = np.asarray(mapping(scores, config), dtype=float)
        what = f"fitness mapping {name!r}"
        if values.shape != np.shape(scores):
            raise EvolutionError(f"{what} returned {values.size} values for {np.size(scores)} "
                                 "scores (one fitness per member)")
        bad = values[~np.isfinite(values) | (values < 0)]
        if bad.size:
            raise EvolutionError(f"{what} returned {bad[0]:g}: fitness must be finite and "
                                 "non-negative")
        return values

    return fitness


def checked_mutation(name: str, mutate: MutationOperator) -> MutationOperator:
    """`mutate`, its result checked: a rule policy of one of the scenario's families."""

    def mutation(policy: RulePolicy, rng: np.random.Generator, config: Any,
                 families: RuleFamilies) -> RulePolicy:
        mutant = mutate(policy, rng, config, families)
        if not isinstance(mutant, RulePolicy):
            raise EvolutionError(f"mutation operator {name!r} returned {mutant!r}, not a rule "
                                 "policy (a RulePolicy, such as policy.mutate(rng, sd))")
        return mutant

    return mutation


def reproduction_of(config: Any) -> ReproductionScheme:
    name = config.reproduction
    scheme = REPRODUCTION.get(name)
    return scheme if REPRODUCTION.is_builtin(name) else CheckedScheme(name, scheme)


def fitness_of(config: Any) -> FitnessMapping:
    name = config.fitness
    mapping = FITNESS.get(name)
    return mapping if FITNESS.is_builtin(name) else checked_fitness(name, mapping)


def mutation_of(config: Any) -> MutationOperator:
    name = config.mutation
    mutate = MUTATION.get(name)
    return mutate if MUTATION.is_builtin(name) else checked_mutation(name, mutate)


def probe(config: Any) -> None:
    """Ask a user's scheme and fitness mapping once, on a made-up generation of
    `config.agents` members (scores from -1 to 1, its own seeded generator), and raise
    `EvolutionError` on a broken answer, or on a scheme without the words that tell members
    how it turns generations over (every population scenario's rules include them). Built-ins
    are not asked; the run's draws are untouched.
    """
    custom_scheme = not REPRODUCTION.is_builtin(config.reproduction)
    if not custom_scheme and FITNESS.is_builtin(config.fitness):
        return
    size = int(config.agents)
    scores = np.linspace(-1.0, 1.0, size)
    fitness = fitness_of(config)(scores, config)
    if not custom_scheme:
        return
    try:
        turnover_rule(config, players="players", score="scores")
    except PromptError as error:
        raise EvolutionError(error.args[0] if error.args else str(error)) from None
    scheme = reproduction_of(config)
    pool = Pool(scores, fitness, np.random.default_rng(0), list(range(size - 1, -1, -1)),
                survivors=int(getattr(config, "survivors", 1)),
                tournament_size=int(config.tournament_size), config=config)
    pool.kept = np.zeros(size, dtype=bool)
    pool.kept[scheme.survivors(pool)] = True
    everyone = list(range(size))
    # rule places ask for one parent; LLM places, where the mix has any, for llm_parents
    llm_places = dict(getattr(config, "brains", {}) or {}).get("llm", 0) > 0
    for count in sorted({1, int(config.llm_parents) if llm_places else 1}):
        scheme.parents(pool, everyone, count)
