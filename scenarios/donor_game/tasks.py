"""The Donor Game's two questions: write a strategy, and decide a donation.

Prompts come from the editable files under `prompts/`; everything another player wrote (a
strategy) is quoted as data. Replies are parsed leniently (JSON, fenced JSON or prose) because
models from frontier APIs down to SmolLM2 answer in every shape.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from scenarios.donor_game.strategies import REFUSE, Donation
from sim.parsing import clean_free_text, parse_choice, parse_number
from sim.prompting import PromptLibrary, quote_agent_text
from sim.response_formats import integer, json_object_format, string
from sim.tasks import ParseError, Task

FALLBACK_STRATEGY = "(no strategy: the model gave no usable reply)"
#: `{"strategy": "...` with no closing quote and brace: a reply cut off by max_tokens.
_UNFINISHED_STRATEGY_RE = re.compile(r'^\s*\{\s*"strategy"\s*:\s*"(.*)$', re.DOTALL)
#: The prompt's own placeholder, which small models copy back.
_PLACEHOLDER_RE = re.compile(r"<\s*your strategy\s*>", re.IGNORECASE)
#: The "one or two sentences" of reasoning a donation prompt asks for, as a bound that models
#: with constrained output honour (it keeps small models from rambling into the token limit).
REASONING_MAX_CHARS = 300


@dataclass
class GameContext:
    """The facts of the game every prompt states; built once per run from the config."""

    prompts: PromptLibrary
    rules_values: dict[str, Any]
    multiplier: float
    punishment: bool
    punishment_multiplier: float
    strategy_max_chars: int

    @classmethod
    def from_config(cls, config: Any) -> GameContext:
        """The facts every prompt states, from a `DonorGameConfig`."""
        return cls(
            prompts=PromptLibrary("scenarios.donor_game", config.prompts_dir),
            rules_values={
                "endowment": f"{config.endowment:g}",
                "multiplier": f"{config.multiplier:g}",
                "punishment_rule": (
                    f" Instead of giving, the donor may punish: it pays a share of its "
                    f"resources and the recipient loses {config.punishment_multiplier:g} times "
                    f"that amount." if config.punishment else ""
                ),
                "trace_depth": config.trace_depth,
                "games": config.games,
                "rounds": config.rounds_per_game,
                "survivor_percent": f"{100 * config.survivors / config.agents:g}",
            },
            multiplier=config.multiplier,
            punishment=config.punishment,
            punishment_multiplier=config.punishment_multiplier,
            strategy_max_chars=config.strategy_max_chars,
        )

    def system_message(self) -> dict[str, str]:
        return {"role": "system", "content": self.prompts.render("rules.txt", **self.rules_values)}


@dataclass
class WriteStrategy(Task):
    """A new agent writes its strategy, in the first generation from the rules alone, later
    after reading the survivors' strategies (the cultural transmission step)."""

    context: GameContext
    agent_id: str
    generation: int
    survivor_strategies: list[tuple[str, str]] = field(default_factory=list)
    #: What was shown is not strategies but inherited memories (reflections, summaries).
    shows_memories: bool = False

    kind = "write_strategy"

    def observation(self) -> dict[str, Any]:
        # The texts shown are all survivors' strategies (generation_scores.survived of the
        # previous generation, texts in `strategies`); copying them, or even their authors,
        # into every newcomer's row would grow with the population squared.
        return {
            "agent": self.agent_id,
            "generation": self.generation,
            "survivor_strategies_shown": len(self.survivor_strategies),
        }

    def messages(self) -> list[dict[str, str]]:
        if self.survivor_strategies:
            quoted = "\n\n".join(
                quote_agent_text(text, author=author) for author, text in self.survivor_strategies
            )
            user = self.context.prompts.render(
                "strategy_inherit_memory.txt" if self.shows_memories else "strategy_inherit.txt",
                name=self.agent_id,
                generation=self.generation + 1,
                survivor_strategies=quoted,
            )
        else:
            user = self.context.prompts.render(
                "strategy_first.txt", name=self.agent_id, generation=self.generation + 1
            )
        return [self.context.system_message(), {"role": "user", "content": user}]

    def parse(self, reply: str) -> str:
        text = clean_free_text(
            reply, max_chars=self.context.strategy_max_chars, json_keys=("strategy",)
        )
        unfinished = _UNFINISHED_STRATEGY_RE.match(text)
        if unfinished:  # the reply was cut off (max_tokens) inside the JSON string
            text = clean_free_text(unfinished.group(1).replace('\\"', '"'),
                                   max_chars=self.context.strategy_max_chars)
        if _PLACEHOLDER_RE.search(text):
            raise ParseError(
                "you repeated the placeholder instead of writing a strategy; describe your "
                "own strategy in one to three sentences"
            )
        return text

    def fallback(self) -> str:
        return FALLBACK_STRATEGY

    def response_format(self) -> dict[str, Any]:
        return json_object_format(
            "strategy", {"strategy": string(max_length=self.context.strategy_max_chars)}
        )

    def answer_with_rule(self, policy: Any) -> str:
        return policy.describe()

    def encode(self, decision: str) -> dict[str, Any]:
        return {"text": decision}


@dataclass
class Donate(Task):
    """A donor decides what share of its resources to give (or spend punishing)."""

    context: GameContext
    facts: dict[str, Any]  # the observation: see "Donor Game observation" in docs/design.md
    strategy: str
    memories: str = ""  # retrieved memories, already quoted (memory runs, LLM donors only)

    kind = "donate"

    def observation(self) -> dict[str, Any]:
        return self.facts

    def messages(self) -> list[dict[str, str]]:
        facts, context = self.facts, self.context
        question = "question_punish.txt" if context.punishment else "question_give.txt"
        user = context.prompts.render(
            "donate.txt",
            name=facts["donor"],
            strategy=quote_agent_text(self.strategy, author=facts["donor"]),
            generation=facts["generation"] + 1,
            game=facts["game"] + 1,
            round=facts["round"] + 1,
            resources=f"{facts['donor_resources']:.2f}",
            recipient=facts["recipient"],
            trace=describe_trace(facts["recipient"], facts["trace"]),
            memories=f"{self.memories}\n" if self.memories else "",
            question=context.prompts.render(
                question,
                recipient=facts["recipient"],
                punishment_multiplier=f"{context.punishment_multiplier:g}",
            ),
        )
        return [context.system_message(), {"role": "user", "content": user}]

    def parse(self, reply: str) -> Donation:
        percent = parse_number(
            reply,
            low=0,
            high=100,
            json_keys=("percent", "percentage", "give_percent", "donation", "amount"),
        )
        action = "donate"
        if self.context.punishment:
            try:
                choice = parse_choice(reply, ("give", "donate", "punish"), json_keys=("action",))
            except ParseError:
                if "punish" in reply.lower():
                    raise ParseError(
                        'unclear whether you give or punish; set "action" to "give" or "punish"'
                    ) from None
                choice = "give"
            action = "punish" if choice == "punish" else "donate"
        return Donation(action, percent / 100.0)

    def fallback(self) -> Donation:
        return REFUSE

    def response_format(self) -> dict[str, Any]:
        # The order of the prompt's JSON: reasoning first, so the answer can follow from it.
        properties = {"reasoning": string(max_length=REASONING_MAX_CHARS)}
        if self.context.punishment:
            properties["action"] = string(choices=("give", "punish"))
        properties["percent"] = integer(0, 100)
        return json_object_format("donation", properties)

    def encode(self, decision: Donation) -> dict[str, Any]:
        return {"action": decision.action, "fraction": decision.fraction}


def describe_trace(recipient: str, trace: list[dict[str, Any]]) -> str:
    """The recipient's behavioural trace in plain words, most recent first."""
    if not trace:
        return f"{recipient} has not been a donor yet in this generation: there is no record."
    lines = []
    for depth, act in enumerate(trace):
        what = (
            f"spent {act['fraction']:.0%} of their resources to punish {act['recipient']}"
            if act["action"] == "punish"
            else f"gave {act['fraction']:.0%} of their resources to {act['recipient']}"
        )
        if depth == 0:
            lines.append(f"The last time {act['donor']} was a donor, they {what}.")
        else:
            lines.append(f"Before that, {act['donor']} {what}.")
    return "What is known about your recipient:\n" + "\n".join(f"- {line}" for line in lines)


def sample_prompt_tokens(config: Any) -> tuple[int, int]:
    """Approximate prompt tokens of a typical donation and an inheriting strategy prompt.

    Renders the real templates with a full-depth trace and survivors' strategies of the
    maximum length, so budgets are estimated from what will actually be sent.
    """
    from sim.registry import approx_tokens

    context = GameContext.from_config(config)  # no game: no world, no memory, no embedder
    trace = [
        {"donor": f"g0-a{i:02d}", "recipient": f"g0-a{i + 1:02d}", "action": "donate",
         "fraction": 0.5, "step": 0}
        for i in range(config.trace_depth)
    ]
    facts = {"generation": 0, "game": 0, "round": 0, "donor": "g0-a00", "recipient": "g0-a01",
             "donor_resources": config.endowment, "trace": trace}
    strategy = "x" * min(config.strategy_max_chars, 400)
    donate = Donate(context, facts, strategy).messages()
    survivors = [(f"g0-a{i:02d}", strategy) for i in range(config.survivors)]
    inherit = WriteStrategy(context, "g1-a00", 1, survivors).messages()
    return approx_tokens(donate), approx_tokens(inherit)
