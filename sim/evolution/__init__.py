"""Evolution: how one generation of a population gives way to the next.

Three choices, each a key of every population scenario's config (`sim.PopulationConfig`) and
each open to your own registered by name:

- `reproduction` (`schemes`): who keeps a place and whom each newcomer descends from:
  `truncation`, `wright_fisher`, `moran`, `tournament`; `register_reproduction`;
- `fitness` (`fitness`): scores into chances of reproducing: `payoff`, `exponential`
  (selection strength `selection_strength`); `register_fitness`;
- `mutation` (`mutation`): how a rule newcomer's rule differs from its parent's: `gaussian`,
  `jump`, `none`; `register_mutation`.

`describe.turnover_rule` says it in words for LLM members' prompts; `checks` holds a user's
registered choices to their contracts (one error line, not a traceback or a wrong lineage).
`sim.population.Population` applies the choices; `docs/evolution.md` explains them with
examples.
"""

from sim.evolution.describe import turnover_rule
from sim.evolution.fitness import FITNESS, exponential_fitness, payoff_fitness, register_fitness
from sim.evolution.mutation import (
    MUTATION,
    gaussian_mutation,
    jump_mutation,
    no_mutation,
    register_mutation,
)
from sim.evolution.schemes import (
    REPRODUCTION,
    Moran,
    Pool,
    ReproductionScheme,
    Tournament,
    Truncation,
    WrightFisher,
    newcomers_per_generation,
    register_reproduction,
)

__all__ = [
    "FITNESS", "MUTATION", "REPRODUCTION", "Moran", "Pool", "ReproductionScheme", "Tournament",
    "Truncation", "WrightFisher", "exponential_fitness", "gaussian_mutation", "jump_mutation",
    "newcomers_per_generation", "no_mutation", "payoff_fitness", "register_fitness",
    "register_mutation", "register_reproduction", "turnover_rule",
]
