"""The Donor Game's configuration: every knob of the protocol, with the paper's defaults."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from sim.config import RunConfig
from sim.memory import MemoryConfig

RULE_FAMILIES = ("always_cooperate", "always_defect", "image_scoring", "standing", "generous")
BRAIN_KINDS = ("llm", "rule", *RULE_FAMILIES)


class DonorGameConfig(RunConfig):
    """Vallinder & Hughes (2024): the iterated Donor Game across generations."""

    agents: int = Field(12, ge=2, description="Population size of every generation.")
    generations: int = Field(10, ge=1, description="Generations per run.")
    rounds: int | None = Field(
        None,
        ge=1,
        description="Rounds per game. None: the full schedule (with round_robin, every agent "
        "meets every agent of the other half once as donor and once as recipient: `agents` "
        "rounds).",
    )
    games: int = Field(
        2,
        ge=1,
        description="Games per generation; resources reset before each, and each later game "
        "reverses the previous game's pairings (the released code plays two).",
    )
    pairing: Literal["round_robin", "random"] = Field(
        "round_robin",
        description="round_robin: bipartite round-robin of two random halves (the paper's "
        "code); random: every agent donates once per round to a uniformly random other agent.",
    )
    endowment: float = Field(10.0, gt=0, description="Resources each agent starts a game with.")
    multiplier: float = Field(2.0, ge=0, description="The recipient receives gift × multiplier.")
    trace_depth: int = Field(
        3, ge=0, description="Links of the recipient's behavioural trace shown to the donor."
    )
    punishment: bool = Field(
        False, description="Costly-punishment variant: a donor may punish instead of giving."
    )
    punishment_multiplier: float = Field(
        2.0, ge=0, description="A punished recipient loses this × what the punisher pays."
    )
    survivor_fraction: float = Field(
        0.5, gt=0, lt=1, description="Share of the population (top by resources) that survives."
    )
    brains: dict[str, float] = Field(
        default_factory=dict,
        description="The population's mix: brain kind → share (normalised). Kinds: 'llm', "
        "'rule' (an even mix of the classic rules) or one rule family: "
        + ", ".join(RULE_FAMILIES)
        + ". Empty: all 'llm' when a model is set, else all 'rule'.",
    )
    mutation_sd: float = Field(
        0.05, ge=0, description="SD of the Gaussian mutation of an inherited rule's parameters."
    )
    strategy_max_chars: int = Field(
        1200, gt=0, description="Strategy texts longer than this are truncated."
    )
    memory: bool = Field(
        False,
        description="Give every agent a Generative Agents memory stream (remember, reflect, "
        "retrieve, inherit through memory); false is the paper's memoryless setting.",
    )
    memory_settings: MemoryConfig = Field(
        default_factory=lambda: MemoryConfig(inheritance="strategy"),
        description="Retrieval weights, reflection threshold, embedder and inheritance policy "
        "(see docs/memory.md); used when memory is true.",
    )
    prompts_dir: str | None = Field(
        None, description="Directory whose prompt files replace the built-in ones of that name."
    )

    @model_validator(mode="before")
    @classmethod
    def _default_brains(cls, data: Any) -> Any:
        if isinstance(data, dict) and not data.get("brains"):
            data = {**data, "brains": {"llm": 1.0} if data.get("model") else {"rule": 1.0}}
        return data

    @model_validator(mode="after")
    def _check(self) -> DonorGameConfig:
        unknown = sorted(set(self.brains) - set(BRAIN_KINDS))
        if unknown:
            raise ValueError(
                f"unknown brain kind(s) {unknown} in brains (known: {', '.join(BRAIN_KINDS)})"
            )
        if any(share < 0 for share in self.brains.values()) or sum(self.brains.values()) <= 0:
            raise ValueError("brains shares must be non-negative and not all zero")
        if self.brains.get("llm", 0) > 0 and not self.model:
            raise ValueError("brains include 'llm' but no model is set (use --model)")
        if self.pairing == "round_robin" and self.agents % 2:
            raise ValueError("pairing 'round_robin' needs an even number of agents")
        if not 1 <= self.survivors < self.agents:
            raise ValueError("survivor_fraction leaves no survivors or no newcomers")
        return self

    @property
    def survivors(self) -> int:
        return round(self.agents * self.survivor_fraction)

    @property
    def rounds_per_game(self) -> int:
        return self.rounds if self.rounds is not None else self.agents
