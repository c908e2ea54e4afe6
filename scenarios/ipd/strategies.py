"""The classic strategies of Axelrod's tournaments, as rule families.

Each decides its next move ('C' or 'D') from what it observes of the current match: its own
moves and its opponent's so far (as played, i.e. after any noise flipped them), as strings
such as "CCD". The definitions follow the Axelrod library's, which `tests/test_ipd.py` plays
against them turn by turn. `Random` is the one chance strategy: the world draws its uniform
number (`chance` in the observation) from the run's seeded generator, so the policy itself
stays a pure function of what it observes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from sim import RuleFamilies, RulePolicy

C, D = "C", "D"


class IPDStrategy(RulePolicy):
    """A strategy of the iterated prisoner's dilemma; `move(own, opponent)` is the rule."""

    #: Whether the rule needs a uniform random number in its observation (`chance`).
    uses_chance: ClassVar[bool] = False
    summary: ClassVar[str] = ""

    def decide(self, observation: Mapping[str, Any]) -> str:
        return self.move(observation["own"], observation["opponent"],
                         observation.get("chance"))

    def move(self, own: str, opponent: str, chance: float | None = None) -> str:
        raise NotImplementedError

    def describe(self) -> str:
        return self.summary


@dataclass(frozen=True)
class TitForTat(IPDStrategy):
    family: ClassVar[str] = "tit_for_tat"
    summary: ClassVar[str] = ("I cooperate in the first round, then do whatever my opponent "
                              "did in the previous round.")

    def move(self, own: str, opponent: str, chance: float | None = None) -> str:
        return opponent[-1] if opponent else C


@dataclass(frozen=True)
class Grudger(IPDStrategy):
    family: ClassVar[str] = "grudger"
    summary: ClassVar[str] = ("I cooperate until my opponent defects once; from then on I "
                              "always defect.")

    def move(self, own: str, opponent: str, chance: float | None = None) -> str:
        return D if D in opponent else C


@dataclass(frozen=True)
class Alternator(IPDStrategy):
    family: ClassVar[str] = "alternator"
    summary: ClassVar[str] = ("I cooperate in the first round, then do the opposite of my own "
                              "previous move.")

    def move(self, own: str, opponent: str, chance: float | None = None) -> str:
        return D if own[-1:] == C else C


@dataclass(frozen=True)
class Cooperator(IPDStrategy):
    family: ClassVar[str] = "cooperator"
    summary: ClassVar[str] = "I always cooperate."

    def move(self, own: str, opponent: str, chance: float | None = None) -> str:
        return C


@dataclass(frozen=True)
class Defector(IPDStrategy):
    family: ClassVar[str] = "defector"
    summary: ClassVar[str] = "I always defect."

    def move(self, own: str, opponent: str, chance: float | None = None) -> str:
        return D


@dataclass(frozen=True)
class Random(IPDStrategy):
    family: ClassVar[str] = "random"
    bounds: ClassVar[dict[str, tuple[float, float]]] = {"p": (0.0, 1.0)}
    uses_chance: ClassVar[bool] = True

    p: float = 0.5

    def move(self, own: str, opponent: str, chance: float | None = None) -> str:
        if chance is None:
            raise ValueError("the random strategy needs `chance` in its observation")
        return C if chance < self.p else D

    def describe(self) -> str:
        return f"I cooperate at random with probability {self.p:.0%}, whatever happens."


@dataclass(frozen=True)
class TitForTwoTats(IPDStrategy):
    family: ClassVar[str] = "tit_for_two_tats"
    summary: ClassVar[str] = ("I defect only after my opponent defected in both of the last two "
                              "rounds; otherwise I cooperate.")

    def move(self, own: str, opponent: str, chance: float | None = None) -> str:
        return D if opponent[-2:] == D + D else C


@dataclass(frozen=True)
class SuspiciousTitForTat(IPDStrategy):
    family: ClassVar[str] = "suspicious_tit_for_tat"
    summary: ClassVar[str] = ("I defect in the first round, then do whatever my opponent did in "
                              "the previous round.")

    def move(self, own: str, opponent: str, chance: float | None = None) -> str:
        return C if opponent[-1:] == C else D


@dataclass(frozen=True)
class WinStayLoseShift(IPDStrategy):
    family: ClassVar[str] = "win_stay_lose_shift"
    summary: ClassVar[str] = ("I cooperate in the first round. Then, if my opponent cooperated "
                              "last round, I repeat my move; if it defected, I switch (so I "
                              "cooperate after we both made the same move).")

    def move(self, own: str, opponent: str, chance: float | None = None) -> str:
        if not own:
            return C
        return C if own[-1] == opponent[-1] else D


FAMILIES = RuleFamilies([
    TitForTat, Grudger, Alternator, Cooperator, Defector, Random, TitForTwoTats,
    SuspiciousTitForTat, WinStayLoseShift,
])
