"""The Donor Game's configuration: every knob of the protocol, and the protocols they make up.

`protocol` names a coherent set of choices. `"vh2024"` (the default) is the protocol of the
study's released code (Vallinder & Hughes 2024); `"legacy"` is what Societas 0.1 did before it
was checked against that code. Every choice on which they differ is its own key, so a
researcher can switch one factor at a time: a key set explicitly wins over the protocol, and the
resolved config a run writes (config.toml, config.json, the store's meta) records every one.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from sim.config import RunConfig
from sim.memory import MemoryConfig

RULE_FAMILIES = ("always_cooperate", "always_defect", "image_scoring", "standing", "generous")
BRAIN_KINDS = ("llm", "rule", *RULE_FAMILIES)

#: The keys each protocol sets, and to what. See docs/donor_game.md for the evidence behind
#: every `vh2024` value.
PROTOCOLS: dict[str, dict[str, Any]] = {
    "vh2024": {
        "pairing": "round_robin",
        "show_horizon": False,
        "show_round": True,
        "show_recipient_resources": True,
        "own_strategy": "plan",
        "trace_reset": "game",
        "answer_unit": "units",
        "strategy_format": "reasoned",
        "selection_score": "last_game",
        "final_selection": False,
    },
    "legacy": {
        "pairing": "round_robin_alternating",
        "show_horizon": True,
        "show_round": True,
        "show_recipient_resources": False,
        "own_strategy": "quoted",
        "trace_reset": "generation",
        "answer_unit": "percent",
        "strategy_format": "json",
        "selection_score": "mean_games",
        "final_selection": True,
    },
}


class DonorGameConfig(RunConfig):
    """Vallinder & Hughes (2024): the iterated Donor Game across generations."""

    protocol: Literal["vh2024", "legacy"] = Field(
        "vh2024",
        description="Defaults for the protocol keys below: 'vh2024' is the study's released "
        "code, 'legacy' Societas 0.1's earlier choices. Keys set explicitly win.",
    )
    agents: int = Field(12, ge=2, description="Population size of every generation.")
    generations: int = Field(10, ge=1, description="Generations per run.")
    rounds: int | None = Field(
        None,
        ge=1,
        description="Rounds per game. None: the full schedule (with round-robin pairings, every "
        "agent meets every agent of the other half once as donor and once as recipient: "
        "`agents` rounds).",
    )
    games: int = Field(
        2,
        ge=1,
        description="Games per generation; resources reset before each, and each later game "
        "reverses the previous game's pairings (the released code plays two).",
    )
    pairing: Literal["round_robin", "round_robin_alternating", "random"] = Field(
        "round_robin",
        description="round_robin: the released code's bipartite schedule (no donor ever meets "
        "the agent that just gave to it); round_robin_alternating: Societas 0.1's order, in "
        "which donors often meet their last benefactor (partly direct reciprocity); random: "
        "every agent donates once per round to a uniformly random other agent.",
    )
    show_horizon: bool = Field(
        False,
        description="Tell agents how many games and rounds there are, and which game this is "
        "(the study never does).",
    )
    show_round: bool = Field(
        True,
        description="Tell the donor which round of the game it is, and date the trace's acts "
        "by round (the released code's donor prompt does).",
    )
    show_recipient_resources: bool = Field(
        True, description="Show the donor the recipient's current resources (the study does)."
    )
    own_strategy: Literal["plan", "quoted"] = Field(
        "plan",
        description="How a donor's own strategy appears in its prompt: 'plan' (the strategy it "
        "decided to follow, as in the study) or 'quoted' (delimited like another player's "
        "text).",
    )
    trace_reset: Literal["game", "generation"] = Field(
        "game", description="When the recipients' traces start empty again (the study: game)."
    )
    answer_unit: Literal["units", "percent"] = Field(
        "units",
        description="LLM donors answer in units (a number up to their resources, as in the "
        "study) or as a percentage of their resources.",
    )
    strategy_format: Literal["reasoned", "json"] = Field(
        "reasoned",
        description="'reasoned': think step by step, then one sentence 'My strategy will be "
        "...', of which only that sentence is kept (the study); 'json': at most three "
        "sentences, no reasoning.",
    )
    selection: Literal["top", "random", "reputation"] = Field(
        "top",
        description="Who survives a generation: the top `survivor_fraction` by "
        "`selection_score`; a random subset; or the top by reputation (the mean share an "
        "agent gave as donor that generation).",
    )
    selection_score: Literal["last_game", "mean_games"] = Field(
        "last_game",
        description="The score 'top' selection ranks on: final resources of the last game "
        "(the study) or their mean over the generation's games.",
    )
    final_selection: bool = Field(
        False,
        description="Select survivors after the last generation too (the study does not: its "
        "survivors would never play again).",
    )
    endowment: float = Field(10.0, gt=0, description="Resources each agent starts a game with.")
    multiplier: float = Field(2.0, ge=0, description="The recipient receives gift × multiplier.")
    trace_depth: int = Field(
        3, ge=0, description="Links of the recipient's behavioural trace shown to the donor."
    )
    punishment: Literal["none", "costly", "partner_choice"] = Field(
        "none",
        description="Sanction variant: 'costly' lets a donor pay x to make the recipient lose "
        "punishment_multiplier × x; 'partner_choice' lets it refuse to play with the "
        "recipient. true/false are read as 'costly'/'none'.",
    )
    punishment_multiplier: float = Field(
        2.0, ge=0, description="A punished recipient loses this × what the punisher pays."
    )
    survivor_fraction: float = Field(
        0.5, gt=0, lt=1, description="Share of the population that survives each generation."
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
    def _apply_protocol(cls, data: Any) -> Any:
        """Fill the keys the user left unset from the protocol, and the brain mix."""
        if not isinstance(data, dict):
            return data
        preset = PROTOCOLS.get(data.get("protocol", "vh2024"))
        if preset is not None:  # an unknown protocol is reported by its own field
            data = {**preset, **data}
        if not data.get("brains"):
            data = {**data, "brains": {"llm": 1.0} if data.get("model") else {"rule": 1.0}}
        return data

    @field_validator("memory_settings", mode="before")
    @classmethod
    def _inherit_strategies_by_default(cls, value: Any) -> Any:
        # The game passes culture on through strategies; a partial memory_settings table
        # (`--set memory_settings.preset=...`) must not silently turn that off.
        if isinstance(value, dict) and "inheritance" not in value:
            return {**value, "inheritance": "strategy"}
        return value

    @field_validator("punishment", mode="before")
    @classmethod
    def _punishment_from_bool(cls, value: Any) -> Any:
        if isinstance(value, bool):  # configs written before the variants had names
            return "costly" if value else "none"
        return value

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
        if self.pairing != "random" and self.agents % 2:
            raise ValueError(f"pairing {self.pairing!r} needs an even number of agents")
        if not 1 <= self.survivors < self.agents:
            raise ValueError("survivor_fraction leaves no survivors or no newcomers")
        return self

    @property
    def survivors(self) -> int:
        return round(self.agents * self.survivor_fraction)

    @property
    def rounds_per_game(self) -> int:
        return self.rounds if self.rounds is not None else self.agents

    @property
    def costly_punishment(self) -> bool:
        return self.punishment == "costly"

    @property
    def partner_choice(self) -> bool:
        return self.punishment == "partner_choice"
