"""Rule brains for the commons: greedy, sustainable and conditional fishers.

Each answers `harvest(observation)` (the tons it asks for this season, see
`Harvest.observation`) and describes itself in the first person. Their parameters are the
heritable part: across generations a newcomer inherits a survivor's rule mutated
(`sim.RulePolicy`).

- A greedy fisher ignores regrowth: it asks for `appetite` times an equal split of the whole
  current stock (with the default 1, greedy fishers together would empty the lake).
- A sustainable fisher takes `restraint` times its share of the surplus, the most that lets
  the stock regrow to where it is (`harvest.sustainable_share`).
- A conditional fisher starts sustainable (`initial` times the share), then takes `slope`
  times the mean catch of the other fishers in the last season: it follows the others, down
  the path the greedy lead.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from sim import RuleFamilies, RulePolicy


def _times(x: float) -> str:
    return f"{round(x, 2):g}"


class CommonsRule(RulePolicy):
    """A harvesting rule; `decide` is the season's request in tons."""

    def decide(self, observation: Mapping[str, Any]) -> float:
        return self.harvest(observation)

    def harvest(self, observation: Mapping[str, Any]) -> float:
        return 0.0


@dataclass(frozen=True)
class Greedy(CommonsRule):
    family: ClassVar[str] = "greedy"
    bounds: ClassVar[dict[str, tuple[float, float]]] = {"appetite": (0.0, 1.0)}

    appetite: float = 1.0

    def harvest(self, observation: Mapping[str, Any]) -> float:
        return self.appetite * float(observation["stock"]) / int(observation["fishers"])

    def describe(self) -> str:
        return (f"I take {_times(self.appetite)} times an equal split of all the fish in the "
                "lake each season, whatever that leaves to regrow: fish I leave, someone else "
                "catches.")


@dataclass(frozen=True)
class Sustainable(CommonsRule):
    family: ClassVar[str] = "sustainable"
    bounds: ClassVar[dict[str, tuple[float, float]]] = {"restraint": (0.0, 1.0)}

    restraint: float = 1.0

    def harvest(self, observation: Mapping[str, Any]) -> float:
        return self.restraint * float(observation["sustainable_share"])

    def describe(self) -> str:
        return (f"I take {_times(self.restraint)} times my equal share of the surplus each "
                "season: if everyone does the same, what is left regrows to what the lake "
                "holds now.")


@dataclass(frozen=True)
class Conditional(CommonsRule):
    family: ClassVar[str] = "conditional"
    bounds: ClassVar[dict[str, tuple[float, float]]] = {
        "initial": (0.0, 2.0), "slope": (0.0, 1.5)}

    initial: float = 1.0
    slope: float = 1.0

    def harvest(self, observation: Mapping[str, Any]) -> float:
        previous = observation.get("previous")
        if previous is None:
            return self.initial * float(observation["sustainable_share"])
        return self.slope * float(previous["others_mean"])

    def describe(self) -> str:
        return (f"In my first season I take {_times(self.initial)} times my equal share of the "
                f"surplus; after that, {_times(self.slope)} times what the other fishers caught "
                "on average in the last season.")


FAMILIES = RuleFamilies([Greedy, Sustainable, Conditional])
