"""Rule brains for the public goods game: free riders, conditional cooperators, punishers.

They answer two questions. `contribute(observation)` returns the units put into the pot, from
what a member saw of its group in the previous round (see `Contribute.observation`);
`punish(observation)` returns punishment points for each member of the current group, from
the round's contributions (see `Punish.observation`). Their parameters are the heritable part:
a newcomer inherits a survivor's rule with every parameter mutated (`sim.RulePolicy`).

The families follow the types experiments find (Fischbacher, Gächter & Fehr 2001): people who
never contribute, people who contribute as much as the others did, and people who, when they
can, pay to punish those who contributed less than the group (Fehr & Gächter 2000).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from sim import RuleFamilies, RulePolicy


def _pct(x: float) -> str:
    return f"{x:.0%}"


class PublicGoodsRule(RulePolicy):
    """A public goods rule: contributes, and never punishes unless a family says otherwise."""

    def decide(self, observation: Mapping[str, Any]) -> float:
        return self.contribute(observation)

    def contribute(self, observation: Mapping[str, Any]) -> float:
        """Units to contribute this round (0..endowment)."""
        return 0.0

    def punish(self, observation: Mapping[str, Any]) -> tuple[float, ...]:
        """Points for each member of the group, in group order (0 for oneself)."""
        return (0.0,) * len(observation["contributions"])


@dataclass(frozen=True)
class FreeRider(PublicGoodsRule):
    """Keeps everything, whatever the others do, and never pays to punish: the individually
    best reply in every round of a linear public goods game with multiplier < group size."""

    family: ClassVar[str] = "free_rider"

    def describe(self) -> str:
        return (
            "I contribute nothing to the group project, whatever the others do, and I never "
            "spend anything on punishing. Every unit I keep is worth more to me than my share "
            "of what it would return."
        )


@dataclass(frozen=True)
class ConditionalCooperator(PublicGoodsRule):
    """Starts with `initial` of the endowment, then contributes `slope` × what the other
    members of its last group contributed on average.

    A slope below 1 is the self-serving bias experiments find, and with free riders in the
    groups it is why contributions decay over the rounds.
    """

    family: ClassVar[str] = "conditional_cooperator"
    bounds: ClassVar[dict[str, tuple[float, float]]] = {
        "initial": (0.0, 1.0), "slope": (0.0, 1.5),
    }

    initial: float = 0.6
    slope: float = 1.0

    def contribute(self, observation: Mapping[str, Any]) -> float:
        endowment = float(observation["endowment"])
        previous = observation.get("previous")
        if previous is None:
            return self.initial * endowment
        return min(endowment, max(0.0, self.slope * float(previous["others_mean"])))

    def describe(self) -> str:
        return (
            f"In my first round I contribute {_pct(self.initial)} of my endowment. After that "
            f"I contribute {round(self.slope, 2)} times what the other members of my last "
            "group contributed on average, never more than my endowment. I never spend "
            "anything on punishing."
        )


@dataclass(frozen=True)
class Punisher(ConditionalCooperator):
    """Contributes like a conditional cooperator and, when punishment is possible, assigns
    `severity` points per unit by which a member fell short of the group's mean contribution
    (at most the game's maximum per member)."""

    family: ClassVar[str] = "punisher"
    bounds: ClassVar[dict[str, tuple[float, float]]] = {
        "initial": (0.0, 1.0), "slope": (0.0, 1.5), "severity": (0.0, 4.0),
    }

    initial: float = 0.6
    slope: float = 1.0
    severity: float = 2.0

    def punish(self, observation: Mapping[str, Any]) -> tuple[float, ...]:
        contributions: Sequence[float] = observation["contributions"]
        mean = sum(contributions) / len(contributions)
        cap = float(observation["max_points"])
        return tuple(
            0.0 if j == observation["me"] or c >= mean else min(cap, self.severity * (mean - c))
            for j, c in enumerate(contributions)
        )

    def describe(self) -> str:
        return (
            f"In my first round I contribute {_pct(self.initial)} of my endowment; after that "
            f"{round(self.slope, 2)} times what the others in my last group contributed on "
            "average. When punishment is possible, I punish every member who contributed less "
            f"than the group's average, with {round(self.severity, 2)} points for each unit "
            "they fell short."
        )


FAMILIES = RuleFamilies([FreeRider, ConditionalCooperator, Punisher])
