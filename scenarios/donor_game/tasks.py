"""The Donor Game's two questions: write a strategy, and decide a donation.

Prompts come from the editable files under `prompts/` (optional sentences under
`prompts/parts/`); which sentences a prompt carries follows the protocol keys of the config
(`show_horizon`, `show_round`, `show_recipient_resources`, `own_strategy`, `answer_unit`,
`strategy_format`, `punishment`). Everything another player wrote (a strategy) is quoted as
data; a donor's own strategy is its plan (`own_strategy = "plan"`, as in the study) unless
configured otherwise. What a reply looks like is declared once in `replies.py`, which gives
the schema, the prompt's JSON and the validation; replies are read leniently (JSON, fenced JSON
or prose) because models from frontier APIs down to SmolLM2 answer in every shape.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from scenarios.donor_game.replies import (
    DONATION_MARKERS,
    REASONING_MAX_CHARS,
    STRATEGY_REASONING_MAX_CHARS,
    donation_format,
    strategy_format,
)
from scenarios.donor_game.strategies import GIVE_NOTHING, Donation
from sim.llm.parsing import clean_free_text, parse_choice
from sim.llm.reply_format import ReplyFormat
from sim.prompting import PromptLibrary, escape_markup, quote_agent_text
from sim.tasks import ParseError, Task

FALLBACK_STRATEGY = "(no strategy: the model gave no usable reply)"
#: The sentence a reasoned strategy ends with; only it is kept (as in the study).
STRATEGY_OPENING = "My strategy will be"
_OPENING_RE = re.compile(re.escape(STRATEGY_OPENING), re.IGNORECASE)
#: `{"strategy": "...` / `{"reasoning": "...` with no closing quote and brace: a reply cut off
#: by max_tokens.
_UNFINISHED_RE = re.compile(r'^\s*\{\s*"(strategy|reasoning)"\s*:\s*"(.*)$', re.DOTALL)
#: The prompt's own placeholders, which small models copy back.
_PLACEHOLDER_RE = re.compile(
    r"<\s*your strategy\s*>|^\s*my strategy will be\s*(?:\.\.\.|…)?\s*[.\"]?\s*$", re.IGNORECASE
)
__all__ = ["FALLBACK_STRATEGY", "REASONING_MAX_CHARS", "STRATEGY_OPENING",
           "STRATEGY_REASONING_MAX_CHARS", "Donate", "GameContext", "WriteStrategy",
           "describe_trace", "sample_prompt_tokens"]

_SELECTION_RULES = {
    "top": "parts/rule_selection_top.txt",
    "random": "parts/rule_selection_random.txt",
    "reputation": "parts/rule_selection_reputation.txt",
}
_SANCTION_RULES = {
    "costly": "parts/rule_costly.txt",
    "partner_choice": "parts/rule_partner_choice.txt",
}
_SANCTION_OPTIONS = {
    "costly": ("punish", "option_costly.txt"),
    "partner_choice": ("refuse", "option_partner_choice.txt"),
}


@dataclass
class GameContext:
    """The facts and protocol choices every prompt follows; built once per run from the config."""

    prompts: PromptLibrary
    rules_values: dict[str, Any]
    multiplier: float
    punishment: str  # 'none' | 'costly' | 'partner_choice'
    punishment_multiplier: float
    strategy_max_chars: int
    trace_depth: int = 3
    trace_scope: str = "game"  # when traces start empty again: 'game' | 'generation'
    show_horizon: bool = False
    show_round: bool = True
    show_recipient_resources: bool = True
    own_strategy: str = "plan"
    answer_unit: str = "units"
    strategy_format: str = "reasoned"
    games: int = 2
    rounds: int = 12

    @classmethod
    def from_config(cls, config: Any) -> GameContext:
        """The facts every prompt states, from a `DonorGameConfig`."""
        prompts = PromptLibrary("scenarios.donor_game", config.prompts_dir)
        multiplier = f"{config.punishment_multiplier:g}"
        sanction = config.punishment
        survivor_percent = f"{100 * config.survivors / config.agents:g}"
        return cls(
            prompts=prompts,
            rules_values={
                "endowment": f"{config.endowment:g}",
                "multiplier": f"{config.multiplier:g}",
                "sanction_rule": (
                    " " + prompts.render(_SANCTION_RULES[sanction],
                                         punishment_multiplier=multiplier)
                    if sanction in _SANCTION_RULES else ""
                ),
                "trace_depth": config.trace_depth,
                "horizon_rule": (
                    "\n" + prompts.render("parts/rule_horizon.txt", games=config.games,
                                          rounds=config.rounds_per_game)
                    if config.show_horizon else ""
                ),
                "selection_rule": prompts.render(
                    _SELECTION_RULES[config.selection], survivor_percent=survivor_percent
                ),
            },
            multiplier=config.multiplier,
            punishment=sanction,
            punishment_multiplier=config.punishment_multiplier,
            strategy_max_chars=config.strategy_max_chars,
            trace_depth=config.trace_depth,
            trace_scope=config.trace_reset,
            show_horizon=config.show_horizon,
            show_round=config.show_round,
            show_recipient_resources=config.show_recipient_resources,
            own_strategy=config.own_strategy,
            answer_unit=config.answer_unit,
            strategy_format=config.strategy_format,
            games=config.games,
            rounds=config.rounds_per_game,
        )

    def system_message(self) -> dict[str, str]:
        return {"role": "system", "content": self.prompts.render("rules.txt", **self.rules_values)}

    def render_part(self, name: str, **values: Any) -> str:
        return self.prompts.render(f"parts/{name}", **values)


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
        context = self.context
        reply = context.render_part(f"strategy_{context.strategy_format}.txt",
                                    reply_format=self.reply_format.describe())
        if self.survivor_strategies:
            quoted = "\n\n".join(
                quote_agent_text(text, author=author) for author, text in self.survivor_strategies
            )
            user = context.prompts.render(
                "strategy_inherit_memory.txt" if self.shows_memories else "strategy_inherit.txt",
                name=self.agent_id,
                generation=self.generation + 1,
                survivor_strategies=quoted,
                reply_instructions=reply,
            )
        else:
            user = context.prompts.render(
                "strategy_first.txt", name=self.agent_id, generation=self.generation + 1,
                reply_instructions=reply,
            )
        return [context.system_message(), {"role": "user", "content": user}]

    @property
    def reply_format(self) -> ReplyFormat:
        return strategy_format(self.context.strategy_format, self.context.strategy_max_chars)

    def parse(self, reply: str) -> str:
        max_chars = self.context.strategy_max_chars
        found = self.reply_format.read(reply)
        if found is not None:
            text = found.strategy
        else:
            text = clean_free_text(reply, max_chars=max(max_chars, len(reply)))
            unfinished = _UNFINISHED_RE.match(text)
            if unfinished:  # the reply was cut off (max_tokens) inside a JSON string
                key, rest = unfinished.groups()
                if key == "reasoning" and not _OPENING_RE.search(rest):
                    raise ParseError(
                        "your reply was cut off before your strategy; keep the reasoning short "
                        f'and end with the sentence that starts "{STRATEGY_OPENING}"'
                    )
                text = rest.replace('\\"', '"').rstrip('"} \n')
        if self.context.strategy_format == "reasoned":
            # keep only the strategy sentence, as the study does; the last one, since a model
            # may quote the phrase while reasoning
            openings = list(_OPENING_RE.finditer(text))
            if openings:
                text = text[openings[-1].start():]
        text = clean_free_text(text, max_chars=max_chars, extracted=True)
        if _PLACEHOLDER_RE.search(text):
            raise ParseError(
                "you repeated the placeholder instead of writing a strategy; describe your "
                "own strategy in one sentence"
            )
        return text

    def fallback(self) -> str:
        return FALLBACK_STRATEGY

    def answer_with_rule(self, policy: Any) -> str:
        return policy.describe()

    def encode(self, decision: str) -> dict[str, Any]:
        return {"text": decision}


@dataclass
class Donate(Task):
    """A donor decides how much of its resources to give (or spend punishing, or to refuse)."""

    context: GameContext
    facts: dict[str, Any]  # the observation: see "Donor Game observation" in docs/design.md
    strategy: str
    memories: str = ""  # retrieved memories, already quoted (memory runs, LLM donors only)

    kind = "donate"

    def observation(self) -> dict[str, Any]:
        return self.facts

    def messages(self) -> list[dict[str, str]]:
        facts, context = self.facts, self.context
        donor, recipient = facts["donor"], facts["recipient"]
        if context.own_strategy == "plan":
            # the donor's own plan, not someone else's data; escaped all the same, so a stray
            # tag in it cannot close a quoted block elsewhere in the prompt
            own = context.render_part("own_strategy_plan.txt",
                                      strategy=escape_markup(self.strategy))
        else:
            own = context.render_part("own_strategy_quoted.txt",
                                      strategy=quote_agent_text(self.strategy, author=donor))
        when = f"This is generation {facts['generation'] + 1}."
        if context.show_round:
            when += " " + context.render_part("when_round.txt", round=facts["round"] + 1)
        if context.show_horizon:
            when += " " + context.render_part(
                "when_horizon.txt", game=facts["game"] + 1, games=context.games,
                rounds=context.rounds,
            )
        paired = f"In this round you are the donor, paired with {recipient}."
        if context.show_recipient_resources:
            paired += " " + context.render_part(
                "recipient_resources.txt", recipient=recipient,
                recipient_resources=_units(facts["recipient_resources"]),
            )
        user = context.prompts.render(
            "donate.txt",
            name=donor,
            own_strategy=own,
            when=when,
            paired=paired,
            trace=describe_trace(recipient, facts["trace"], context),
            memories=f"{self.memories}\n\n" if self.memories else "",
            resources=_units(facts["donor_resources"]),
            question=self._question(),
        )
        return [context.system_message(), {"role": "user", "content": user}]

    def _question(self) -> str:
        context, facts = self.context, self.facts
        recipient, resources = facts["recipient"], _units(facts["donor_resources"])
        option = ""
        if context.punishment in _SANCTION_OPTIONS:
            option = " " + context.render_part(
                _SANCTION_OPTIONS[context.punishment][1], recipient=recipient,
                punishment_multiplier=f"{context.punishment_multiplier:g}",
            )
        return context.render_part(
            f"question_{context.answer_unit}.txt", recipient=recipient, resources=resources,
            option=option, reply_format=self.reply_format.example(),
        )

    @cached_property
    def reply_format(self) -> ReplyFormat:
        """The donation reply for this protocol, bounded by what this donor holds."""
        sanction = _SANCTION_OPTIONS.get(self.context.punishment)
        base = donation_format(self.context.answer_unit, sanction[0] if sanction else None)
        if self.context.answer_unit == "units":
            return base.within(units={"maximum": float(self.facts["donor_resources"])})
        return base

    def parse(self, reply: str) -> Donation:
        answer = self.reply_format.parse(reply, prose=self._read_prose)
        choice = getattr(answer, "action", "give")
        if choice == "refuse":
            return Donation("refuse", 0.0)
        action = "punish" if choice == "punish" else "donate"
        if self.context.answer_unit == "percent":
            return Donation(action, answer.percent / 100.0)
        held = float(self.facts["donor_resources"])
        units = answer.units
        return Donation(action, min(1.0, units / held) if held > 0 else 0.0, units=units)

    def _read_prose(self, reply: str) -> dict[str, Any]:
        """A reply with no JSON object: the action (when there is a choice) and the amount
        from its words ("I will punish them: Answer: 3")."""
        values: dict[str, Any] = {}
        sanction = _SANCTION_OPTIONS.get(self.context.punishment)
        if sanction is not None:
            alternative = sanction[0]
            try:
                choice = parse_choice(reply, ("give", "donate", alternative),
                                      json_keys=("action",))
            except ParseError:
                if alternative in reply.lower():
                    raise ParseError(
                        f'unclear whether you give or {alternative}; set "action" to "give" '
                        f'or "{alternative}"'
                    ) from None
                choice = "give"
            values["action"] = "give" if choice == "donate" else choice
            if choice == "refuse":
                return values
        unit = self.context.answer_unit
        values[unit] = self.reply_format.prose_number(reply, unit, markers=DONATION_MARKERS)
        return values

    def fallback(self) -> Donation:
        return GIVE_NOTHING

    def encode(self, decision: Donation) -> dict[str, Any]:
        encoded: dict[str, Any] = {"action": decision.action, "fraction": decision.fraction}
        if decision.units is not None:
            encoded["units"] = decision.units
        return encoded


def _units(value: float) -> str:
    """Resources as the prompts show them: two decimals, as a person would read an account."""
    return f"{value:.2f}"


def describe_trace(recipient: str, trace: list[dict[str, Any]], context: GameContext) -> str:
    """The recipient's behavioural trace in plain words, most recent first.

    With `show_round`, each act is dated by its round (as the study's traces are); an act of an
    earlier game (traces kept across games) says which game. A chain that ends before the
    trace depth says that its last partner had not been a donor before.
    """
    scope = context.trace_scope
    if not trace:
        return f"{recipient} has not been a donor yet in this {scope}: there is no record."
    game = trace[0].get("game")
    lines = []
    for depth, act in enumerate(trace):
        what = _describe_act(act)
        if context.show_round and "round" in act:
            when = f"In round {act['round'] + 1}"
            if act.get("game") != game or scope == "generation":
                when += f" of game {act.get('game', 0) + 1}"
            lines.append(f"{when}, {act['donor']} {what}.")
        elif depth == 0:
            lines.append(f"The last time {act['donor']} was a donor, they {what}.")
        else:
            lines.append(f"Before that, {act['donor']} {what}.")
    if len(trace) < context.trace_depth:
        lines.append(f"{trace[-1]['recipient']} had not been a donor before that in this "
                     f"{scope}.")
    header = f"What {recipient} and their earlier partners did, most recent first:"
    return header + "\n" + "\n".join(f"- {line}" for line in lines)


def _describe_act(act: dict[str, Any]) -> str:
    if act["action"] == "punish":
        return f"spent {act['fraction']:.0%} of their resources to punish {act['recipient']}"
    if act["action"] == "refuse":
        return f"refused to play with {act['recipient']}"
    return f"gave {act['fraction']:.0%} of their resources to {act['recipient']}"


def sample_prompt_tokens(config: Any) -> tuple[int, int]:
    """Approximate prompt tokens of a typical donation and an inheriting strategy prompt.

    Renders the real templates with a full-depth trace and survivors' strategies of the
    maximum length, so budgets are estimated from what will actually be sent.
    """
    from sim.registry import approx_tokens

    context = GameContext.from_config(config)  # no game: no world, no memory, no embedder
    trace = [
        {"donor": f"g0-a{i:02d}", "recipient": f"g0-a{i + 1:02d}", "action": "donate",
         "fraction": 0.5, "step": 0, "game": 0, "round": 0}
        for i in range(config.trace_depth)
    ]
    facts = {"generation": 0, "game": 0, "round": 0, "donor": "g0-a00", "recipient": "g0-a01",
             "donor_resources": config.endowment, "recipient_resources": config.endowment,
             "trace": trace}
    strategy = "x" * min(config.strategy_max_chars, 400)
    donate = Donate(context, facts, strategy).messages()
    survivors = [(f"g0-a{i:02d}", strategy) for i in range(config.survivors)]
    inherit = WriteStrategy(context, "g1-a00", 1, survivors).messages()
    return approx_tokens(donate), approx_tokens(inherit)
