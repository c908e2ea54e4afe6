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

from scenarios.donor_game.strategies import FAMILIES
from sim.memory import MemoryConfig
from sim.population import PopulationConfig

RULE_FAMILIES = FAMILIES.names

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
        "framing": "neutral",
        "trace_explanation": "worked_example",
        "trace_format": "plain",
        "tell_successors": False,
        "first_round_note": "no_information",
        "survivor_order": "best_first",
        "show_survivor_names": False,
        "reasoning_format": "text",
        "donation_question": "give_up",
        "tell_selection_rule": "never",
        "sanction_framing": "symmetric",
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
        "framing": "giving",
        "trace_explanation": "brief",
        "trace_format": "bulleted",
        "tell_successors": True,
        "first_round_note": "first_donor_turn",
        "survivor_order": "slot",
        "show_survivor_names": True,
        "reasoning_format": "json",
        "donation_question": "give_to",
        "tell_selection_rule": "rules_only",
        "sanction_framing": "optional",
    },
}


class DonorGameConfig(PopulationConfig):
    """Vallinder & Hughes (2024): the iterated Donor Game across generations."""

    RULE_FAMILIES = RULE_FAMILIES

    protocol: Literal["vh2024", "legacy"] = Field(
        "vh2024",
        description="Defaults for the protocol keys below: 'vh2024' is the study's released "
        "code, 'legacy' Societas 0.1's earlier choices. Keys set explicitly win.",
    )
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
    selection: Literal["top", "proportional", "random", "reputation", "generosity"] = Field(
        "top",
        description="Who survives a generation: 'top', the best `survivor_fraction` by "
        "`selection_score`; 'proportional', drawn with probability proportional to it; "
        "'random', a random subset; 'reputation', the best by the study's reputation score (how "
        "closely each gift tracked the recipient's own score, discounted by 0.5 per gift back, "
        "averaged over the games: it rewards discriminating givers); 'generosity', the best by "
        "the mean share given (what 'reputation' meant before).",
    )
    advice: Literal["parents", "survivors"] = Field(
        "survivors",
        description="What an LLM newcomer reads before writing its strategy: every survivor's "
        "strategy (the study), or only its parents'. Where nobody survives (wright_fisher, "
        "tournament reproduction), its parents'.",
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
    framing: Literal["neutral", "giving"] = Field(
        "neutral",
        description="Who the system prompt says the model is: 'neutral', a game-playing agent "
        "helping a study of how agents interact (the study); 'giving', a player in a game about "
        "giving (Societas 0.1: a possible prosocial prime).",
    )
    trace_explanation: Literal["worked_example", "brief"] = Field(
        "worked_example",
        description="How the trace is explained in the rules and the strategy prompts: "
        "'worked_example', the chain spelled out with an example going several rounds back and "
        "a warning that the donor sees only that chain (the study); 'brief', one sentence.",
    )
    trace_format: Literal["plain", "bulleted"] = Field(
        "plain",
        description="How the recipient's trace reads in the donation prompt: 'plain', one line "
        "per act with shares to two decimals and a punishment's units and fine, no heading "
        "(the study); 'bulleted', a heading, then bullets with whole percentages.",
    )
    tell_successors: bool = Field(
        False,
        description="Tell players that newcomers replace the others and are shown the "
        "survivors' strategies (Societas 0.1); false: survivors simply continue playing (the "
        "study), so players do not learn they write for successors.",
    )
    first_round_note: Literal["no_information", "first_donor_turn"] = Field(
        "no_information",
        description="What the strategy prompts say about the first round: 'no_information', "
        "that nobody has a record yet then (the study; both strategy prompts); "
        "'first_donor_turn', that a player's first round as donor has no record (Societas 0.1; "
        "false for half the players, whose recipients have acted by then).",
    )
    survivor_order: Literal["best_first", "slot"] = Field(
        "best_first",
        description="Order of the survivors' strategies a newcomer reads: 'best_first', by the "
        "generation's ranking (the study); 'slot', population order.",
    )
    show_survivor_names: bool = Field(
        False,
        description="Name the author of each survivor's strategy a newcomer reads (Societas "
        "0.1); the study shows the advice without names.",
    )
    reasoning_format: Literal["text", "json"] = Field(
        "text",
        description="How LLM agents answer both questions: 'text', reasoning step by step in "
        "prose and then the answer on a final 'Answer:' line (a strategy: its 'My strategy "
        "will be' sentence), as in the study; 'json', a JSON object (reasoning first), which "
        "also sends a schema to models with constrained output (small local models need it).",
    )
    donation_question: Literal["give_up", "give_to"] = Field(
        "give_up",
        description="How the donation is asked: 'give_up', how many units the donor gives up "
        "(the study's cost framing); 'give_to', how many it gives to the recipient.",
    )
    tell_selection_rule: Literal["never", "rules_only", "always"] = Field(
        "never",
        description="Whether prompts state the selection rule in force: 'never', the rules say "
        "the best-performing survive whatever the rule (the study); 'rules_only', the rules "
        "state it but the newcomer prompt still calls survivors best-performing (Societas "
        "0.1); 'always', both state it.",
    )
    sanction_framing: Literal["symmetric", "optional"] = Field(
        "symmetric",
        description="How a sanction is offered: 'symmetric', as the donor's other choice beside "
        "giving, repeated in the strategy prompts, a refusal presented as a way to punish "
        "(the study); 'optional', one sentence of the rules and 'you may instead' in the "
        "question, a refusal as refusing to play (Societas 0.1).",
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

    @model_validator(mode="before")
    @classmethod
    def _apply_protocol(cls, data: Any) -> Any:
        """Fill the keys the user left unset from the protocol."""
        if not isinstance(data, dict):
            return data
        preset = PROTOCOLS.get(data.get("protocol", "vh2024"))
        if preset is not None:  # an unknown protocol is reported by its own field
            data = {**preset, **data}
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
        if self.pairing != "random" and self.agents % 2:
            raise ValueError(f"pairing {self.pairing!r} needs an even number of agents")
        return self

    @property
    def rounds_per_game(self) -> int:
        return self.rounds if self.rounds is not None else self.agents

    @property
    def costly_punishment(self) -> bool:
        return self.punishment == "costly"

    @property
    def partner_choice(self) -> bool:
        return self.punishment == "partner_choice"
