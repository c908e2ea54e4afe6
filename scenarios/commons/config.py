"""The commons' configuration: the fishery (GovSim's by default), the discussion between
seasons, and the population keys every population scenario shares (`sim.PopulationConfig`)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from scenarios.commons.rules import FAMILIES
from sim import PopulationConfig


class CommonsConfig(PopulationConfig):
    """A shared fishery harvested season by season, with an optional discussion between."""

    RULE_FAMILIES = FAMILIES.names

    agents: int = Field(5, ge=2, description="Fishers sharing the lake (GovSim: 5).")
    generations: int = Field(
        1, ge=1, description="Generations: each fishes a fresh lake for `seasons` seasons; "
        "after one, the fishers with the largest total catch survive (`selection`) and "
        "newcomers take the other places. 1 (the default) is GovSim's single run.")
    seasons: int = Field(12, ge=1, description="Seasons per generation (GovSim: 12 months).")
    capacity: float = Field(
        100.0, gt=0, description="Tons the lake holds at most; every generation starts full.")
    growth: float = Field(
        2.0, gt=1, description="Regrowth rule: what is left after a season is multiplied by "
        "this, up to `capacity` (GovSim: the fish double).")
    regrowth_sd: float = Field(
        0.0, ge=0, le=1, description="Environmental noise: each season's growth factor is also "
        "multiplied by exp(N(0, regrowth_sd)) drawn from the run's seeded generator; 0 is "
        "GovSim's deterministic lake.")
    collapse_threshold: float = Field(
        5.0, ge=0, description="The fishery collapses, ending the generation, when fewer tons "
        "than this are left after a season's catch (GovSim: 5).")
    rationing: Literal["equal", "proportional"] = Field(
        "equal", description="When the requests exceed the stock: 'equal' gives everyone the "
        "same amount up to what each asked (asking for more gets no more than an equal "
        "part); 'proportional' shares the stock in proportion to the requests.")
    discussion: bool = Field(
        True, description="Between seasons the fishers talk, each in turn; what is said "
        "enters every fisher's memory stream and the next season's decision prompt.")
    utterances: int = Field(
        1, ge=1, le=10, description="Utterances per fisher in each discussion, in turns.")
    recall: int = Field(
        8, ge=1, description="Memories an LLM fisher recalls for each decision and utterance "
        "(most relevant, important and recent first).")
    utterance_max_chars: int = Field(
        300, gt=0, description="Utterances longer than this are cut.")
    selection: Literal["top", "proportional", "random"] = Field(
        "top", description="Who survives a generation, by total catch (with generations > 1).")
    strategy_max_chars: int = Field(
        600, gt=0, description="Strategy texts (written with generations > 1) longer than "
        "this are cut.")

    @model_validator(mode="after")
    def _check_fishery(self) -> CommonsConfig:
        if self.collapse_threshold >= self.capacity / self.growth:
            raise ValueError(
                f"collapse_threshold ({self.collapse_threshold:g}) must be below capacity / "
                f"growth ({self.capacity / self.growth:g}): otherwise even a sustainable catch "
                "collapses the fishery")
        return self
