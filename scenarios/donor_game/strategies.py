"""Rule policies for the Donor Game: the classic indirect-reciprocity strategies as brains.

These are the baselines the LLM societies are compared against. Each policy reads only the
observation a rule brain gets (see "Donor Game observation" in docs/design.md) and answers with a
`Donation`. Each can also describe itself in the first person, because its text is stored like an
LLM agent's strategy and shown to new LLM agents during cultural transmission, so a mixed
population passes on rule strategies and LLM strategies alike.

The recipient's trace is a chain: ``trace[0]`` is the recipient's latest act as donor,
``trace[1]`` the act of ``trace[0]``'s recipient just before it, and so on. An empty trace means a
newcomer with no record. Gifts here are continuous shares of the donor's current resources, so
the binary "gave / refused" of the classic models becomes "gave at least a cutoff share".

Parameters are floats with fixed valid ranges, so evolution by `mutate` is a clipped random walk
inside those ranges, and `params` can be stored as JSON and fed back to `make_policy`.
"""

from __future__ import annotations

import math
from abc import abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any, ClassVar

from sim.rules import RuleFamilies, RulePolicy
from sim.store import to_json

ACTIONS = ("donate", "punish", "refuse")


@dataclass(frozen=True)
class Donation:
    """One donor's decision.

    ``fraction`` is a share of the donor's *current* resources; ``("donate", 0.0)`` gives
    nothing. With ``"punish"`` the fraction is what the donor pays to make the recipient lose a
    multiple of it. ``"refuse"`` (partner choice) declines to play with the recipient at all:
    nothing changes hands, and the trace says so. ``units``, when set, is the amount an LLM
    donor named in units (the study's way of asking); it is kept exactly rather than recomputed
    from the fraction, so the store holds what the donor said.
    """

    action: str
    fraction: float
    units: float | None = None

    def __post_init__(self) -> None:
        if self.action not in ACTIONS:
            raise ValueError(f"action must be one of {ACTIONS}, got {self.action!r}")
        if not 0.0 <= self.fraction <= 1.0:  # also rejects NaN
            raise ValueError(f"fraction must be in [0, 1], got {self.fraction!r}")
        if self.action == "refuse" and self.fraction:
            raise ValueError("a refusal gives nothing: its fraction must be 0")
        if self.units is not None and not (math.isfinite(self.units) and self.units >= 0):
            raise ValueError(f"units must be a finite number >= 0, got {self.units!r}")
        object.__setattr__(self, "fraction", float(self.fraction))  # plain float for JSON

    def record(self) -> dict[str, Any]:
        """The decision as the store records it (`decisions.decision`)."""
        encoded: dict[str, Any] = {"action": self.action, "fraction": self.fraction}
        if self.units is not None:
            encoded["units"] = self.units
        return encoded

    @cached_property
    def json(self) -> str:
        """`record()` as the store's JSON, encoded once: a rule's donation is the same object
        decision after decision (see `DonorRule`)."""
        return to_json(self.record())


GIVE_NOTHING = Donation("donate", 0.0)
REFUSE = Donation("refuse", 0.0)


def _pct(x: float) -> str:
    """A share as a whole percentage, the way a person writing a strategy would put it."""
    return f"{x:.0%}"


def _cooperative(act: Mapping[str, Any], cutoff: float) -> bool:
    """Whether a traced act counts as helping: a donation of at least ``cutoff``.

    Punishing never counts, whatever its fraction: it costs the partner instead of helping.
    """
    return act["action"] == "donate" and float(act["fraction"]) >= cutoff


class DonorRule(RulePolicy):
    """A Donor Game rule: decides a `Donation` from the observation a rule brain gets (see
    "Donor Game observation" in docs/design.md); parameters and mutation come from the
    engine's `RulePolicy`."""

    @abstractmethod
    def decide(self, observation: Mapping[str, Any]) -> Donation:
        """The donation this policy makes given the observation."""

    def _withhold(self, observation: Mapping[str, Any], punish: float) -> Donation:
        """What a discriminator does to a recipient it will not help.

        It punishes only when the game allows it and the policy is willing to pay for it; where
        partners may be chosen it refuses to play; otherwise it simply gives nothing.
        """
        if punish > 0 and observation["punishment"]:
            return self._donation("punish", punish)
        if observation.get("partner_choice"):
            return REFUSE
        return GIVE_NOTHING

    def _donation(self, action: str, fraction: float) -> Donation:
        """`Donation(action, fraction)`, made once per policy and value: a rule answers
        thousands of donors a round with the same few decisions, and a decision is frozen, so
        one object serves them all (and keeps its JSON, `Donation.json`)."""
        made = self.__dict__.setdefault("_donations", {})
        donation = made.get((action, fraction))
        if donation is None:
            donation = made[action, fraction] = Donation(action, fraction)
        return donation

    @staticmethod
    def _punish_text(punish: float) -> str:
        if punish > 0:
            return (
                f" When punishment is allowed, I punish such a recipient instead, spending "
                f"{_pct(punish)} of my resources to make them lose resources."
            )
        return " I never pay to punish anyone."


@dataclass(frozen=True)
class AlwaysCooperate(DonorRule):
    """Unconditional cooperator: gives ``give`` to everyone.

    In image-scoring terms a discriminator with the lowest possible threshold; it is the
    baseline that indirect reciprocity must beat, since defectors exploit it freely.
    """

    family: ClassVar[str] = "always_cooperate"
    bounds: ClassVar[dict[str, tuple[float, float]]] = {"give": (0.0, 1.0)}

    give: float = 0.5

    def decide(self, observation: Mapping[str, Any]) -> Donation:
        return self._donation("donate", self.give)

    def describe(self) -> str:
        return (
            f"I give {_pct(self.give)} of my current resources to every recipient, whatever "
            "their history, and I never punish anyone. Every gift is doubled for the "
            "recipient, so I keep resources flowing through the group."
        )


@dataclass(frozen=True)
class AlwaysDefect(DonorRule):
    """Unconditional defector: never gives, never punishes.

    The strategy that wins any single encounter; cooperation has to be sustained against it.
    """

    family: ClassVar[str] = "always_defect"

    def decide(self, observation: Mapping[str, Any]) -> Donation:
        return GIVE_NOTHING

    def describe(self) -> str:
        return (
            "I never give anything to anyone, whatever their history, and I never pay to "
            "punish. Giving only costs me, so I keep all of my resources."
        )


@dataclass(frozen=True)
class ImageScoring(DonorRule):
    """First-order discriminator: helps those whose own last act was helpful.

    Nowak and Sigmund (1998) let every agent carry an image score that rises when it gives and
    falls when it refuses, and showed that discriminators who help only recipients with a good
    enough score can sustain cooperation. Here the score is the recipient's latest act alone: it
    is good when that act donated at least ``threshold``. Newcomers get the benefit of the doubt,
    as an initial score of zero would give them. The rule looks only at what the recipient did,
    never at whom it did it to, so it also condemns a justified refusal of a defector; the
    `Standing` policy repairs that.
    """

    family: ClassVar[str] = "image_scoring"
    bounds: ClassVar[dict[str, tuple[float, float]]] = {
        "give": (0.0, 1.0),
        "threshold": (0.0, 1.0),
        "punish": (0.0, 1.0),
    }

    give: float = 0.5
    threshold: float = 0.25
    punish: float = 0.0

    def decide(self, observation: Mapping[str, Any]) -> Donation:
        trace: Sequence[Mapping[str, Any]] = observation["trace"]
        if not trace or _cooperative(trace[0], self.threshold):
            return self._donation("donate", self.give)
        return self._withhold(observation, self.punish)

    def describe(self) -> str:
        return (
            "I look only at what the recipient did in their most recent donation. If they gave "
            f"at least {_pct(self.threshold)} of their resources, I give them "
            f"{_pct(self.give)} of mine. A newcomer with no history gets the benefit of the "
            f"doubt and also receives {_pct(self.give)}. If they gave less than "
            f"{_pct(self.threshold)}, or punished someone, I give them nothing."
            + self._punish_text(self.punish)
        )


@dataclass(frozen=True)
class Standing(DonorRule):
    """Second-order discriminator: helps those in good standing, where refusing the bad is fine.

    Image scoring (Nowak & Sigmund 1998) cannot tell a stingy agent from one that refused a
    defector, so discriminators who rightly refuse defectors lose their own good image and get
    refused in turn. Judging by "standing" instead, an idea going back to Sugden (1986) and the
    usual fix for that weakness, keeps a justified refusal from costing reputation.

    A recipient is in good standing if it has no record, if its latest act donated at least
    ``cutoff``, or if it withheld (gave less, or punished) from a partner who was then in bad
    standing. The partner's standing at that time is judged the same way from the next link of
    the trace; beyond the visible trace everyone is assumed to be in good standing, so an
    unexplained refusal at the end of the trace counts against the refuser.
    """

    family: ClassVar[str] = "standing"
    bounds: ClassVar[dict[str, tuple[float, float]]] = {
        "give": (0.0, 1.0),
        "cutoff": (0.0, 1.0),
        "punish": (0.0, 1.0),
    }

    give: float = 0.5
    cutoff: float = 0.25
    punish: float = 0.0

    def good_standing(self, trace: Sequence[Mapping[str, Any]]) -> bool:
        """Whether the donor of ``trace[0]`` is in good standing (True for an empty trace).

        Evaluated from the oldest link back to the newest: each act's donor is good if the act
        was cooperative or if its recipient, judged by the following link, was bad.
        """
        good = True  # past the end of the visible trace
        for act in reversed(trace):
            good = _cooperative(act, self.cutoff) or not good
        return good

    def decide(self, observation: Mapping[str, Any]) -> Donation:
        if self.good_standing(observation["trace"]):
            return self._donation("donate", self.give)
        return self._withhold(observation, self.punish)

    def describe(self) -> str:
        return (
            "I give to recipients in good standing and not to those in bad standing. A newcomer "
            "with no history is in good standing, and so is anyone whose most recent donation "
            f"was at least {_pct(self.cutoff)} of their resources. Someone who gave less, or "
            "punished, is still in good standing if the partner they held back from was in bad "
            "standing at the time, because refusing a bad partner is justified; I judge that "
            "partner the same way from their own previous donation in the trace, and where the "
            "trace runs out I assume good standing. I give "
            f"{_pct(self.give)} of my resources to a recipient in good standing and nothing to "
            "one in bad standing." + self._punish_text(self.punish)
        )


@dataclass(frozen=True)
class Generous(DonorRule):
    """Generous reciprocator: returns what the recipient last gave, plus a margin.

    The gift is ``base + scale * f`` (clipped to [0, 1]), ``f`` being the share the recipient
    donated in its latest act; a punishment counts as ``f = 0``. The ``base`` margin keeps
    a population of these from ratcheting down to zero after one stingy act, the way generous
    tit-for-tat forgives in direct reciprocity. ``scale`` is capped at 2: at that level a
    recipient who gave half already receives everything, and the cap keeps mutation from
    drifting where it changes little.
    """

    family: ClassVar[str] = "generous"
    bounds: ClassVar[dict[str, tuple[float, float]]] = {
        "base": (0.0, 1.0),
        "scale": (0.0, 2.0),
        "newcomer": (0.0, 1.0),
    }

    base: float = 0.1
    scale: float = 1.0
    newcomer: float = 0.5

    def decide(self, observation: Mapping[str, Any]) -> Donation:
        trace: Sequence[Mapping[str, Any]] = observation["trace"]
        if not trace:
            return self._donation("donate", self.newcomer)
        last = trace[0]
        given = float(last["fraction"]) if last["action"] == "donate" else 0.0
        return Donation("donate", min(max(self.base + self.scale * given, 0.0), 1.0))

    def describe(self) -> str:
        scale = str(round(self.scale, 2))  # "1.0", "1.25": a multiplier, not a share
        return (
            f"I reciprocate generously. I give {_pct(self.base)} of my current resources plus "
            f"{scale} times the share of resources the recipient gave in their most recent "
            "donation, never more than everything I have. If their last act was to punish "
            f"someone, I count it as giving nothing, so they get just {_pct(self.base)}. "
            f"A newcomer with no history receives {_pct(self.newcomer)}. I never punish."
        )


FAMILIES = RuleFamilies([AlwaysCooperate, AlwaysDefect, ImageScoring, Standing, Generous])
#: Build a policy by family name, as configs and stored ``agents`` rows name them.
make_policy = FAMILIES.make
