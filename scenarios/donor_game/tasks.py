"""The Donor Game's two questions: write a strategy, and decide a donation.

Prompts come from the editable files under `prompts/`, their sentences chosen by the protocol
keys of the config (`wording.GameContext` puts them together). Everything another player wrote
(a strategy) is quoted as data; a donor's own strategy is its plan (`own_strategy = "plan"`, as
in the study) unless configured otherwise. With `reasoning_format = "text"` (the study's) models
reason in prose and answer on a final "Answer:" line (`answers.py`); with "json" the reply is a
JSON object declared once in `replies.py`, which gives the schema, the prompt's JSON and the
validation. Replies are read leniently either way (an answer line, JSON, fenced JSON or prose)
because models from frontier APIs down to SmolLM2 answer in every shape.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from scenarios.donor_game.answers import answer_line, read_answer
from scenarios.donor_game.observation import observation_json
from scenarios.donor_game.replies import (
    DONATION_MARKERS,
    REASONING_MAX_CHARS,
    STRATEGY_REASONING_MAX_CHARS,
    donation_format,
    strategy_format,
)
from scenarios.donor_game.strategies import GIVE_NOTHING, Donation
from scenarios.donor_game.traces import describe_trace
from scenarios.donor_game.wording import GameContext, shown_bound, shown_units
from sim.llm.parsing import clean_free_text, keyed_value, parse_choice
from sim.llm.reply_format import ReplyFormat
from sim.prompting import escape_markup, quote_agent_text
from sim.store import to_json
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


#: An "action" that names a sanction, in a game that offers none (`Donate._parsed`).
SANCTIONS_NOT_OFFERED = ("punish", "punishment", "refuse", "refusal")


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
        generation = self.generation + 1
        reply = context.strategy_instructions(self.reply_format.describe())
        if self.survivor_strategies:
            names = context.config.show_survivor_names
            quoted = "\n\n".join(
                quote_agent_text(text, author=author if names else None)
                for author, text in self.survivor_strategies
            )
            user = context.prompts.render(
                "strategy_inherit_memory.txt" if self.shows_memories else "strategy_inherit.txt",
                name=self.agent_id,
                newcomer=context.newcomer(first=False, generation=generation),
                advice_heading=context.advice_heading(),
                survivor_strategies=quoted,
                improve=context.improve(),
                reminders=context.reminders(first=False),
                reply_instructions=reply,
            )
        else:
            user = context.prompts.render(
                "strategy_first.txt", name=self.agent_id,
                newcomer=context.newcomer(first=True, generation=generation),
                reminders=context.reminders(first=True), reply_instructions=reply,
            )
        return [context.system_message(), {"role": "user", "content": user}]

    def response_format(self) -> dict[str, Any] | None:
        """A schema only when the answer is JSON: a schema forces JSON on constrained models,
        which the study's prose answer is not."""
        return None if self.context.answers_in_text else super().response_format()

    @property
    def reply_format(self) -> ReplyFormat:
        config = self.context.config
        return strategy_format(config.strategy_format, config.strategy_max_chars)

    def parse(self, reply: str) -> str:
        max_chars = self.context.config.strategy_max_chars
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
        if self.context.config.strategy_format == "reasoned":
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
        config = context.config
        donor, recipient = facts["donor"], facts["recipient"]
        if config.own_strategy == "plan":
            # the donor's own plan, not someone else's data; escaped all the same, so a stray
            # tag in it cannot close a quoted block elsewhere in the prompt
            own = context.render_part("own_strategy_plan.txt",
                                      strategy=escape_markup(self.strategy))
        else:
            own = context.render_part("own_strategy_quoted.txt",
                                      strategy=quote_agent_text(self.strategy, author=donor))
        when = f"This is generation {facts['generation'] + 1}."
        if config.show_round:
            when += " " + context.render_part("when_round.txt", round=facts["round"] + 1)
        if config.show_horizon:
            when += " " + context.render_part(
                "when_horizon.txt", game=facts["game"] + 1, games=config.games,
                rounds=config.rounds_per_game,
            )
        paired = f"In this round you are the donor, paired with {recipient}."
        if config.show_recipient_resources:
            paired += " " + context.render_part(
                "recipient_resources.txt", recipient=recipient,
                recipient_resources=shown_units(facts["recipient_resources"]),
            )
        user = context.prompts.render(
            "donate.txt",
            name=donor,
            own_strategy=own,
            when=when,
            paired=paired,
            trace=context.describe_trace(recipient, facts["trace"]),
            memories=f"{self.memories}\n\n" if self.memories else "",
            resources=shown_units(facts["donor_resources"]),
            question=context.question(  # the JSON example only where the answer is JSON
                recipient, float(facts["donor_resources"]),
                "" if context.answers_in_text else self.reply_format.example()),
        )
        return [context.system_message(), {"role": "user", "content": user}]

    @cached_property
    def reply_format(self) -> ReplyFormat:
        """The donation reply for this protocol, bounded by what this donor is shown to hold."""
        config = self.context.config
        base = donation_format(config.answer_unit, self.context.alternative)
        if config.answer_unit == "units":
            return base.within(units={"maximum": self._most})
        return base

    @property
    def _most(self) -> float:
        """The largest answer allowed: units as shown in the prompt, or 100 percent."""
        if self.context.config.answer_unit == "units":
            return shown_bound(float(self.facts["donor_resources"]))
        return 100.0

    def response_format(self) -> dict[str, Any] | None:
        """A schema only when the answer is JSON (see `WriteStrategy.response_format`)."""
        return None if self.context.answers_in_text else super().response_format()

    def parse(self, reply: str) -> Donation:
        answer = self._answer(reply)
        choice = getattr(answer, "action", "give")
        if choice == "refuse":
            return Donation("refuse", 0.0)
        action = "punish" if choice == "punish" else "donate"
        if self.context.config.answer_unit == "percent":
            return Donation(action, answer.percent / 100.0)
        held = float(self.facts["donor_resources"])
        units = answer.units
        return Donation(action, min(1.0, units / held) if held > 0 else 0.0, units=units)

    def _answer(self, reply: str) -> Any:
        """The reply validated: from its answer line when answers are asked in text, else (or
        when it has none) from its JSON object, else from its prose."""
        if not self.context.answers_in_text:
            return self._parsed(reply)
        unit, alternative = self.context.config.answer_unit, self.context.alternative
        found = read_answer(reply, unit=unit, high=self._most, alternative=alternative)
        if found is not None:
            return self.reply_format.validate(found)
        try:
            return self._parsed(reply)
        except ParseError as error:  # say how the answer line reads, not how JSON would
            problem = str(error).split("; ")[0]
            raise ParseError(f"{problem}; end your reply with "
                             f"{answer_line(unit, self._most, alternative)}") from None

    def _parsed(self, reply: str) -> Any:
        """The reply read as JSON or prose. Where the game offers no sanction, the format has
        no "action" and would drop one: an action that punishes or refuses meant the opposite
        of the amount beside it, so it is asked again, as an answer line naming one is."""
        answer = self.reply_format.parse(reply, prose=self._read_prose)
        if self.context.alternative is None:
            hit = keyed_value(reply, ("action",))
            named = str(hit[1]).strip().lower() if hit is not None else ""
            if named in SANCTIONS_NOT_OFFERED:
                raise ParseError(f'there is no choice to {named} in this game: the only choice '
                                 f"is how much to give (0 gives nothing); reply with a JSON "
                                 f"object like {self.reply_format.example()}")
        return answer

    def _read_prose(self, reply: str) -> dict[str, Any]:
        """A reply with no JSON object: the action (when there is a choice) and the amount
        from its words ("I will punish them: Answer: 3")."""
        values: dict[str, Any] = {}
        alternative = self.context.alternative
        if alternative is not None:
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
        unit = self.context.config.answer_unit
        values[unit] = self.reply_format.prose_number(reply, unit, markers=DONATION_MARKERS)
        return values

    def fallback(self) -> Donation:
        return GIVE_NOTHING

    def observation_json(self) -> str:
        return observation_json(self.facts)

    @classmethod
    def answer_with_rules(cls, tasks: Sequence[Task], policies: Sequence[Any]) -> list[Any]:
        """Every rule donor of a round: each policy decides from its task's facts."""
        return [policy.decide(task.facts)  # type: ignore[attr-defined]
                for task, policy in zip(tasks, policies, strict=True)]

    def decision_json(self, decision: Donation) -> str:
        return decision.json if type(decision) is Donation else to_json(self.encode(decision))

    def encode(self, decision: Donation) -> dict[str, Any]:
        return decision.record()


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
