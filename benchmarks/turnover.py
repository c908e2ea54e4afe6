"""How a generation's turnover scales with the population, under every reproduction scheme.

Times `Population.select` + `Population.populate` (ranking, who stays, every newcomer's parents
and mutation, the `agents` rows) for a rule-brained population of `--small` and `--large`
agents, in memory, and prints for each scheme the ratio of the large population's time per
agent to the small one's: about 1 when the turnover is linear in the population (the target),
about large/small when it is quadratic. The last line is the worst ratio over the schemes.

    python benchmarks/turnover.py [--small 1000] [--large 10000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from sim.population import Population, PopulationConfig
from sim.rules import RuleFamilies, RulePolicy
from sim.world import World

SCHEMES = ("truncation", "wright_fisher", "moran", "tournament")


@dataclass(frozen=True)
class Share(RulePolicy):
    family: ClassVar[str] = "share"
    bounds: ClassVar[dict[str, tuple[float, float]]] = {"share": (0.0, 1.0)}
    share: float = 0.5

    def decide(self, observation: Any) -> float:
        return self.share

    def describe(self) -> str:
        return f"I give {self.share:.2f}."


FAMILIES = RuleFamilies([Share])


class BenchConfig(PopulationConfig):
    RULE_FAMILIES = FAMILIES.names


def seconds_per_agent(scheme: str, agents: int, repeats: int) -> float:
    """Best time of one turnover, per agent."""
    config = BenchConfig(agents=agents, reproduction=scheme, generations=repeats + 1, seed=1)
    population = Population(World(config), config, FAMILIES)
    population.populate(0)
    rng = np.random.default_rng(0)
    best = float("inf")
    for generation in range(1, repeats + 1):
        scores = rng.random(agents)
        started = time.perf_counter()
        population.select(generation - 1, scores, list(range(agents)))
        population.populate(generation)
        best = min(best, time.perf_counter() - started)
    return best / agents


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=1000)
    parser.add_argument("--large", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    worst = 0.0
    for scheme in SCHEMES:
        small = seconds_per_agent(scheme, args.small, args.repeats)
        large = seconds_per_agent(scheme, args.large, args.repeats)
        ratio = large / small
        worst = max(worst, ratio)
        print(f"{scheme:>14}: {small * 1e6:6.1f} µs/agent at {args.small:,}, "
              f"{large * 1e6:6.1f} at {args.large:,}: ratio {ratio:.2f}")
    print(f"turnover_per_agent_ratio {worst:.2f}")


if __name__ == "__main__":
    main()
