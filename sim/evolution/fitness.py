"""Fitness: how a generation's scores become its members' chances of reproducing.

Schemes that draw in proportion to fitness (Wright–Fisher, Moran, truncation's
`proportional` survivors) read it; `top` truncation and tournaments rank on the scores
themselves. A mapping is a function `(scores, config) -> fitness` of numpy arrays, fitness
non-negative; `register_fitness` adds one of your own under a name `fitness = NAME` selects.

- `payoff`: the score itself, a negative one counted as 0 (a member who lost has no claim);
- `exponential`: exp(w × score) with w = `selection_strength`, the usual way to tune selection
  from neutral (w = 0: every member alike) to strong, and defined for negative scores too.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from sim.evolution.registry import RegistrationError, Registry

FitnessMapping = Callable[[np.ndarray, Any], np.ndarray]


def payoff_fitness(scores: np.ndarray, config: Any = None) -> np.ndarray:
    """The scores, clipped at 0."""
    return np.clip(np.asarray(scores, dtype=float), 0.0, None)


def exponential_fitness(scores: np.ndarray, config: Any = None) -> np.ndarray:
    """exp(w × score), w from `config.selection_strength` (1 without a config). Computed
    relative to the best score, which leaves every ratio unchanged and never overflows."""
    values = np.asarray(scores, dtype=float)
    strength = float(getattr(config, "selection_strength", 1.0))
    if not values.size:
        return values
    return np.exp(strength * (values - values.max()))


FITNESS: Registry[FitnessMapping] = Registry("fitness mapping", {
    "payoff": payoff_fitness,
    "exponential": exponential_fitness,
})


def register_fitness(name: str, mapping: FitnessMapping) -> FitnessMapping:
    """Make `mapping` selectable as `fitness = name` in every population scenario."""
    if not callable(mapping):
        raise RegistrationError("a fitness mapping is a function (scores, config) -> fitness")
    return FITNESS.register(name, mapping)
