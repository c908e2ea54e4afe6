"""Mutation: how a rule newcomer's rule differs from the parent's it inherits.

An operator is a function `(policy, rng, config, families) -> policy`: the parent's policy, the
world's seeded generator, the run's config and the rule families a mutant may become (those the
population's `brains` mix names; all of them for `rule`). `register_mutation` adds one of your
own under a name `mutation = NAME` selects. LLM newcomers do not mutate: they write their own
strategy after reading their parents'.

- `gaussian`: every parameter jittered by Normal(0, `mutation_sd`), clipped to its range;
- `jump`: with probability `mutation_rate` (μ) the rule is replaced by a random one, its family
  drawn uniformly and every parameter uniformly in its range; otherwise an exact copy;
- `none`: an exact copy (selection alone).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from sim.evolution.registry import RegistrationError, Registry
from sim.rules import RuleFamilies, RulePolicy

MutationOperator = Callable[[RulePolicy, np.random.Generator, Any, RuleFamilies], RulePolicy]


def gaussian_mutation(policy: RulePolicy, rng: np.random.Generator, config: Any,
                      families: RuleFamilies) -> RulePolicy:
    """`RulePolicy.mutate` with the config's `mutation_sd`."""
    return policy.mutate(rng, config.mutation_sd)


def jump_mutation(policy: RulePolicy, rng: np.random.Generator, config: Any,
                  families: RuleFamilies) -> RulePolicy:
    """A random rule with probability `mutation_rate`, else the parent's. One uniform draw
    decides, then (on a jump) one for the family and one per parameter, in that order."""
    if rng.random() >= config.mutation_rate:
        return policy
    names = families.names
    return families[names[int(rng.integers(len(names)))]].random(rng)


def no_mutation(policy: RulePolicy, rng: np.random.Generator, config: Any,
                families: RuleFamilies) -> RulePolicy:
    """The parent's rule, unchanged (policies are frozen, so it can be shared)."""
    return policy


MUTATION: Registry[MutationOperator] = Registry("mutation operator", {
    "gaussian": gaussian_mutation,
    "jump": jump_mutation,
    "none": no_mutation,
})


def register_mutation(name: str, operator: MutationOperator) -> MutationOperator:
    """Make `operator` selectable as `mutation = name` in every population scenario."""
    if not callable(operator):
        raise RegistrationError("a mutation operator is a function (policy, rng, config, "
                                "families) -> policy")
    return MUTATION.register(name, operator)
