"""The prisoner's dilemma tournament's configuration: who plays, the payoffs, the matches, and
the optional evolutionary variant (a Moran process)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from scenarios.ipd.strategies import FAMILIES
from sim import RunConfig

#: The nine classics of Axelrod's tournaments that a default run plays (plus any LLM player).
CLASSICS = (
    "tit_for_tat", "grudger", "alternator", "cooperator", "defector", "random",
    "tit_for_two_tats", "suspicious_tit_for_tat", "win_stay_lose_shift",
)


class Payoffs(BaseModel):
    """What one player earns in one turn, by the pair of moves (its own first)."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    R: float = Field(3.0, description="Reward: both cooperate.")
    S: float = Field(0.0, description="Sucker's payoff: I cooperate, the opponent defects.")
    T: float = Field(5.0, description="Temptation: I defect, the opponent cooperates.")
    P: float = Field(1.0, description="Punishment: both defect.")

    @model_validator(mode="after")
    def _a_dilemma(self) -> Payoffs:
        if not self.T > self.R > self.P > self.S:
            raise ValueError(
                f"payoffs must satisfy T > R > P > S for a prisoner's dilemma, got T={self.T:g} "
                f"R={self.R:g} P={self.P:g} S={self.S:g}"
            )
        if not 2 * self.R > self.T + self.S:
            raise ValueError(
                f"payoffs must satisfy 2R > T + S (else taking turns to exploit each other "
                f"beats cooperating), got 2R={2 * self.R:g}, T+S={self.T + self.S:g}"
            )
        return self

    def of(self, own: str, other: str) -> float:
        """The payoff of playing `own` against `other` ('C' or 'D')."""
        if own == "C":
            return self.R if other == "C" else self.S
        return self.T if other == "C" else self.P


class IPDConfig(RunConfig):
    """An iterated prisoner's dilemma round robin (Axelrod 1980), or a Moran process over it."""

    strategies: list[str] = Field(
        default_factory=lambda: list(CLASSICS),
        description="The players, one per entry: a rule strategy by name "
        f"({', '.join(FAMILIES.names)}) or 'llm' (a player of `model`). A name may repeat; "
        "with evolution = 'moran' the list is the initial population. Left out with a `model` "
        "set: the nine classics and one 'llm' player.",
    )
    payoffs: Payoffs = Field(
        default_factory=Payoffs,
        description="Payoffs of one turn (T > R > P > S and 2R > T + S).",
    )
    turns: int = Field(200, ge=1, description="Turns of every match (Axelrod's default: 200).")
    repetitions: int = Field(
        10, ge=1, description="How many times every pair plays its match (Axelrod's default: "
        "10). Ignored with evolution = 'moran', where every generation plays each pair once.",
    )
    noise: float = Field(
        0.0, ge=0, le=1, description="Probability that a move is flipped after it is chosen; "
        "both players then see the flipped move (as in Axelrod's library).",
    )
    self_play: bool = Field(
        True, description="Whether each player also plays a copy of itself, as Axelrod's "
        "tournaments do. Like Axelrod's, the ranking leaves these matches out; they show on "
        "the diagonal of the payoff heatmap. Ignored with evolution = 'moran' (no self-play, as in "
        "Axelrod's MoranProcess).",
    )
    evolution: Literal["none", "moran"] = Field(
        "none", description="'moran': instead of one tournament, a Moran process: every "
        "generation each pair of the population plays one match, one player reproduces with "
        "probability proportional to its total score and its copy replaces a player drawn "
        "uniformly (possibly the parent), until one strategy remains or `generations` ran.",
    )
    generations: int = Field(
        100, ge=1, description="With evolution = 'moran': the most generations to run before "
        "stopping without fixation.",
    )
    record_moves: bool = Field(
        True, description="Whether every move goes into the `moves` table (one row per player "
        "and turn); match totals are always recorded.",
    )
    log_decisions: Literal["all", "llm", "none"] = Field(
        "llm", description="Which decisions go into the engine's `decisions` table. Here "
        "'llm' by default: every move is in `moves` already, and a rule decision's "
        "observation (the match so far) would repeat the history at every turn.",
    )

    @model_validator(mode="before")
    @classmethod
    def _llm_joins_the_classics(cls, data: Any) -> Any:
        # `--model X` alone should add a model player to the default field, not be ignored.
        if isinstance(data, dict) and data.get("model") and "strategies" not in data:
            data = {**data, "strategies": [*CLASSICS, "llm"]}
        return data

    @model_validator(mode="after")
    def _check_players(self) -> IPDConfig:
        known = ("llm", *FAMILIES.names)
        unknown = sorted(set(self.strategies) - set(known))
        if unknown:
            raise ValueError(f"unknown strategy(s) {unknown} in strategies "
                             f"(known: {', '.join(known)})")
        if len(self.strategies) < 2:
            raise ValueError("strategies must name at least 2 players")
        if "llm" in self.strategies and not self.model:
            raise ValueError("strategies include 'llm' but no model is set (use --model)")
        return self

    @property
    def moran(self) -> bool:
        return self.evolution == "moran"
