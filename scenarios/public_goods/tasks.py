"""The public goods game's three questions: write a strategy (the engine's `sim.WriteStrategy`
with this game's prompts), contribute, punish.

Prompts are the editable files under `prompts/` (`sim.PromptLibrary`; a run's `prompts_dir`
overrides any of them). What other players wrote (the survivors' strategies) is quoted as data
with `sim.quote_agent_text`. The contribution reply is declared once as a pydantic
models (`sim.llm.Reply`), which give the response format, the example the prompt shows and the
validation; punishment, whose keys depend on the group, has a parser of its own. Replies are
read leniently (JSON, fenced JSON or prose); a reply that cannot be read raises `ParseError`,
whose message goes back to the model in a repair re-prompt and, if that fails too, is recorded
in `llm_calls.error` beside the fallback.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from pydantic import AliasChoices, Field

from sim import (
    ParseError,
    PromptLibrary,
    Task,
    WriteStrategy,
    approx_tokens,
    quote_agent_text,
    turnover_rule,
)
from sim.llm import (
    DEFAULT_NUMBER_MARKERS,
    Reply,
    ReplyFormat,
    find_json_object,
    json_object_format,
    schema_only,
)

REASONING_MAX_CHARS = 300
REASONING_SCHEMA = {"type": "string", "maxLength": REASONING_MAX_CHARS}


class ContributionReply(Reply):
    """A contribution, declared once: the response format, the example the prompt shows, the
    validation and the repair message all come from it (`sim.llm.ReplyFormat`)."""

    reasoning: str = Field("", description="one or two sentences",
                           json_schema_extra=schema_only(maxLength=REASONING_MAX_CHARS))
    contribution: float = Field(ge=0, validation_alias=AliasChoices(
        "contribution", "contribute", "units", "amount"))


CONTRIBUTION = ReplyFormat(ContributionReply, name="contribution")
_MEMBER_KEY = re.compile(r"^\s*(?:member\s*[_ ]?)?(\d+)\s*$", re.IGNORECASE)
_PROSE_POINTS = re.compile(
    r"member\s*(\d+)\s*(?:\(you\))?\s*[:=\-–]\s*(\d+(?:\.\d+)?)\s*(?:points?)?", re.IGNORECASE
)
_NO_ONE = re.compile(
    r"\b(no one|nobody|none of them|no punishment|not punish|don't punish|do not punish|"
    r"won't punish|will not punish)\b", re.IGNORECASE,
)


@dataclass
class GameRules:
    """What every prompt of a run states about the game; built once from the config."""

    prompts: PromptLibrary
    endowment: float
    group_size: int
    rounds: int
    punishment: bool
    punishment_cost: float
    punishment_fine: float
    max_points: float
    strategy_max_chars: int
    system: str = ""

    @classmethod
    def from_config(cls, config: Any) -> GameRules:
        prompts = PromptLibrary("scenarios.public_goods", config.prompts_dir)
        punishment_values = {"punishment_cost": f"{config.punishment_cost:g}",
                             "punishment_fine": f"{config.punishment_fine:g}",
                             "max_points": f"{config.max_points:g}"}
        system = prompts.render(
            "rules.txt",
            group_size=config.group_size, endowment=f"{config.endowment:g}",
            multiplier=f"{config.multiplier:g}",
            return_per_unit=f"{config.multiplier / config.group_size:.2f}",
            rounds=config.rounds,
            punishment_rule=(" " + prompts.render("parts/punishment_rule.txt",
                                                  **punishment_values)
                             if config.costly_punishment else ""),
            selection_rule=turnover_rule(config, players="players", score="total payoffs",
                                         method=config.selection),
        )
        return cls(prompts, config.endowment, config.group_size, config.rounds,
                   config.costly_punishment, config.punishment_cost, config.punishment_fine,
                   config.max_points, config.strategy_max_chars, system)

    def messages(self, template: str, **values: Any) -> list[dict[str, str]]:
        return [{"role": "system", "content": self.system},
                {"role": "user", "content": self.prompts.render(template, **values)}]

    def own_strategy(self, name: str, strategy: str) -> str:
        if not strategy:
            return ""
        return "The strategy you decided to follow:\n" + quote_agent_text(strategy, author=name)


def _units(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


def write_strategy(rules: GameRules, agent_id: str, generation: int,
                   survivor_strategies: list[tuple[str, str]]) -> WriteStrategy:
    """A newcomer's strategy task (`sim.WriteStrategy`) with this game's prompts; its
    templates also say whether the strategy covers punishment."""
    return WriteStrategy(
        rules.messages, agent_id, generation, survivor_strategies,
        max_chars=rules.strategy_max_chars,
        values={"punish_clause": ", and whom you punish" if rules.punishment else ""})


@dataclass
class Contribute(Task):
    """How many units of its endowment a member puts into its group's pot this round."""

    rules: GameRules
    facts: dict[str, Any]  # the observation; see `observation`
    strategy: str = ""

    kind = "contribute"

    def observation(self) -> dict[str, Any]:
        """generation, round (0-based), agent, endowment, group_size, and `previous`: None in a
        member's first round, else what it saw of its last group: `own` (its contribution),
        `others` (the others' contributions, in a random order) and `others_mean`."""
        return self.facts

    def messages(self) -> list[dict[str, str]]:
        facts, previous = self.facts, self.facts["previous"]
        if previous is None:
            seen = "This is your first round: you have not seen any contributions yet."
        else:
            others = ", ".join(_units(c) for c in previous["others"])
            seen = (f"In the last round you contributed {_units(previous['own'])} units and the "
                    f"others in your group contributed {others} (on average "
                    f"{_units(previous['others_mean'])}).")
        return self.rules.messages(
            "contribute.txt", name=facts["agent"],
            own_strategy=self.rules.own_strategy(facts["agent"], self.strategy),
            round=facts["round"] + 1, rounds=self.rules.rounds,
            generation=facts["generation"] + 1, others=self.rules.group_size - 1,
            previous=seen, endowment=_units(self.rules.endowment),
            reply_format=self.reply_format.example(),
        )

    @cached_property
    def reply_format(self) -> ReplyFormat:
        """The contribution reply, bounded by the endowment."""
        return CONTRIBUTION.within(contribution={"maximum": self.rules.endowment})

    def parse(self, reply: str) -> float:
        return self.reply_format.parse(reply, prose=self._read_prose).contribution

    def _read_prose(self, reply: str) -> dict[str, Any]:
        """A reply without JSON: the number it gives ("I contribute 12", or just "12")."""
        return {"contribution": self.reply_format.prose_number(
            reply, "contribution", markers=(*DEFAULT_NUMBER_MARKERS, "contribute"))}

    def fallback(self) -> float:
        return 0.0

    def answer_with_rule(self, policy: Any) -> float:
        return float(policy.contribute(self.facts))

    def encode(self, decision: float) -> dict[str, Any]:
        return {"contribution": decision}



@dataclass
class Punish(Task):
    """Punishment points a member assigns to each other member of its group this round."""

    rules: GameRules
    facts: dict[str, Any]
    strategy: str = ""

    kind = "punish"

    def observation(self) -> dict[str, Any]:
        """generation, round, agent, `me` (own place in the group), `contributions` (this
        round's, in group order, anonymous), max_points, cost and fine of a point."""
        return self.facts

    def messages(self) -> list[dict[str, str]]:
        facts = self.facts
        lines = [f"- member {j + 1}{' (you)' if j == facts['me'] else ''}: {_units(c)} units"
                 for j, c in enumerate(facts["contributions"])]
        others = [j + 1 for j in range(len(facts["contributions"])) if j != facts["me"]]
        return self.rules.messages(
            "punish.txt", name=facts["agent"],
            own_strategy=self.rules.own_strategy(facts["agent"], self.strategy),
            round=facts["round"] + 1, rounds=self.rules.rounds,
            generation=facts["generation"] + 1, contributions="\n".join(lines),
            punishment_cost=f"{self.rules.punishment_cost:g}",
            punishment_fine=f"{self.rules.punishment_fine:g}",
            max_points=f"{self.rules.max_points:g}",
            points_example=", ".join(f'"{j}": <points>' for j in others),
        )

    def parse(self, reply: str) -> tuple[float, ...]:
        n, me = len(self.facts["contributions"]), self.facts["me"]
        found = find_json_object(reply)
        assigned: dict[int, Any] = {}
        if found is not None:
            points = found.get("points", found)
            if points in ({}, []):  # an explicit "points": {}: nobody punished
                return (0.0,) * n
            if isinstance(points, list) and len(points) == n:
                assigned = dict(enumerate(points))
            elif isinstance(points, dict):
                for key, value in points.items():
                    match = _MEMBER_KEY.match(str(key))
                    if match is None:
                        continue  # "reasoning" and the like
                    assigned[int(match.group(1)) - 1] = value
        if not assigned:
            assigned = {int(m) - 1: v for m, v in _PROSE_POINTS.findall(reply)}
        if not assigned:
            if _NO_ONE.search(reply):
                return (0.0,) * n
            raise ParseError(self._hint("no punishment points found"))
        result = [0.0] * n
        for index, value in assigned.items():
            try:
                points = float(value)
            except (TypeError, ValueError):
                raise ParseError(self._hint(f"{value!r} is not a number of points")) from None
            if not 0 <= index < n:
                raise ParseError(self._hint(f"there is no member {index + 1}"))
            if not 0 <= points <= self.rules.max_points:
                raise ParseError(self._hint(f"{points:g} points is outside 0 to "
                                            f"{self.rules.max_points:g}"))
            if index == me and points:
                raise ParseError(self._hint("you cannot punish yourself"))
            result[index] = points
        return tuple(result)

    def _hint(self, problem: str) -> str:
        others = [j + 1 for j in range(len(self.facts["contributions"])) if j != self.facts["me"]]
        example = ", ".join(f'"{j}": 0' for j in others)
        return (f"{problem}; reply with a JSON object such as {{\"points\": {{{example}}}}}, "
                f"each value from 0 to {self.rules.max_points:g}")

    def fallback(self) -> tuple[float, ...]:
        return (0.0,) * len(self.facts["contributions"])

    def answer_with_rule(self, policy: Any) -> tuple[float, ...]:
        return tuple(float(p) for p in policy.punish(self.facts))

    def encode(self, decision: tuple[float, ...]) -> dict[str, Any]:
        return {"points": list(decision)}

    def response_format(self) -> dict[str, Any]:
        others = [str(j + 1) for j in range(len(self.facts["contributions"]))
                  if j != self.facts["me"]]
        point = {"type": "number", "minimum": 0, "maximum": self.rules.max_points}
        return json_object_format("punishment", {
            "reasoning": REASONING_SCHEMA,
            "points": {"type": "object", "properties": dict.fromkeys(others, point),
                       "required": others, "additionalProperties": False}})


def sample_prompt_tokens(config: Any) -> tuple[int, int]:
    """Approximate prompt tokens of a typical contribution and an inheriting strategy prompt,
    from the real templates (a strategy of the maximum length)."""
    rules = GameRules.from_config(config)
    strategy = "x" * config.strategy_max_chars
    others = [config.endowment / 2] * (config.group_size - 1)
    contribute = Contribute(rules, {
        "generation": 0, "round": 1, "agent": "g0-a00", "endowment": config.endowment,
        "group_size": config.group_size,
        "previous": {"own": 0.0, "others": others, "others_mean": config.endowment / 2}},
        strategy).messages()
    survivors = [(f"g0-a{i:02d}", strategy) for i in range(config.survivors)]
    inherit = write_strategy(rules, "g1-a00", 1, survivors).messages()
    return approx_tokens(contribute), approx_tokens(inherit)
