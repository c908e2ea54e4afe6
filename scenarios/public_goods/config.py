"""The public goods game's configuration: the game's economics, on top of the population keys
every cultural-evolution scenario shares (`sim.PopulationConfig`)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from scenarios.public_goods.rules import FAMILIES
from sim import PopulationConfig


class PublicGoodsConfig(PopulationConfig):
    """A linear public goods game in shuffled groups, with optional costly punishment."""

    RULE_FAMILIES = FAMILIES.names

    group_size: int = Field(
        4, ge=2, description="Members of each group; groups are drawn anew every round."
    )
    endowment: float = Field(
        20.0, gt=0, description="Units every member receives each round, to keep or contribute."
    )
    multiplier: float = Field(
        1.6,
        description="The pot is multiplied by this and shared equally within the group. It must "
        "lie strictly between 1 and group_size: then the group gains from every unit "
        "contributed while each member gains most by keeping its own (a social dilemma).",
    )
    rounds: int = Field(10, ge=1, description="Rounds per generation; payoffs add up over them.")
    selection: Literal["top", "proportional", "random"] = Field(
        "top",
        description="Who survives a generation, by total payoff: the top `survivor_fraction`, "
        "drawn with probability proportional to payoff, or a random subset.",
    )
    punishment: Literal["none", "costly"] = Field(
        "none",
        description="'costly': after the contributions of a round are shown, each member may "
        "assign punishment points to the others in its group (Fehr & Gächter 2000).",
    )
    punishment_cost: float = Field(
        1.0, ge=0, description="What one punishment point costs the member who assigns it."
    )
    punishment_fine: float = Field(
        3.0, ge=0, description="What one punishment point takes from the member it targets."
    )
    max_points: float = Field(
        10.0, gt=0, description="Most punishment points a member may assign to one other member "
        "in one round."
    )
    strategy_max_chars: int = Field(
        600, gt=0, description="Strategy texts longer than this are truncated."
    )

    @model_validator(mode="after")
    def _check_game(self) -> PublicGoodsConfig:
        if self.group_size > self.agents:
            raise ValueError(
                f"group_size ({self.group_size}) is larger than the population "
                f"(agents = {self.agents})"
            )
        if self.agents % self.group_size:
            raise ValueError(
                f"agents ({self.agents}) must be a multiple of group_size ({self.group_size}), "
                "so that every round splits the population into full groups"
            )
        if not 1 < self.multiplier < self.group_size:
            raise ValueError(
                f"multiplier must lie strictly between 1 and group_size ({self.group_size}), "
                f"got {self.multiplier:g}: otherwise contributing is not a social dilemma"
            )
        return self

    @property
    def costly_punishment(self) -> bool:
        return self.punishment == "costly"
