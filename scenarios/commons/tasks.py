"""The commons' three questions: how much to catch, what to say, and (across generations)
which strategy to follow (the engine's `sim.WriteStrategy` with the fishery's prompts).

Prompts are the editable files under `prompts/` (`sim.PromptLibrary`; a run's `prompts_dir`
overrides any). Everything another fisher said, and a fisher's own memories, reach a model
only quoted as data (`sim.quote_agent_text`), which the system prompt says is information,
never instructions. Replies are declared once as `sim.llm.Reply` models and read leniently
(JSON, fenced JSON or prose); what cannot be read raises `ParseError`, whose message goes back
in a repair re-prompt and, if that fails too, is recorded beside the fallback: a fisher with
no usable answer stays home (catches nothing) or says nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

from pydantic import AliasChoices, Field

from sim import (
    PromptLibrary,
    Task,
    WriteStrategy,
    approx_tokens,
    quote_agent_text,
    turnover_rule,
)
from sim.llm import DEFAULT_NUMBER_MARKERS, Reply, ReplyFormat, clean_free_text, schema_only

REASONING_MAX_CHARS = 300


class CatchReply(Reply):
    """A season's catch request, in tons."""

    reasoning: str = Field("", description="one or two sentences",
                           json_schema_extra=schema_only(maxLength=REASONING_MAX_CHARS))
    catch: float = Field(ge=0, validation_alias=AliasChoices(
        "catch", "tons", "harvest", "fish", "amount"))


class UtteranceReply(Reply):
    """What a fisher says to the others."""

    utterance: str = Field(description="what you say, one or two sentences")


CATCH = ReplyFormat(CatchReply, name="catch")
UTTERANCE = ReplyFormat(UtteranceReply, name="utterance")


def tons(value: float) -> str:
    """A catch or stock as a prompt shows it: at most two decimals, no trailing zeros."""
    return f"{value:.2f}".rstrip("0").rstrip(".")


@dataclass
class FisheryRules:
    """What every prompt of a run states about the fishery; built once from the config."""

    prompts: PromptLibrary
    seasons: int
    utterance_max_chars: int
    strategy_max_chars: int
    system: str = ""

    @classmethod
    def from_config(cls, config: Any) -> FisheryRules:
        prompts = PromptLibrary("scenarios.commons", config.prompts_dir)

        def part(name: str, **values: Any) -> str:
            return " " + prompts.render(f"parts/{name}.txt", **values)

        system = prompts.render(
            "rules.txt", fishers=config.agents, capacity=tons(config.capacity),
            threshold=tons(config.collapse_threshold), growth=f"{config.growth:g}",
            seasons=config.seasons,
            rationing_rule=prompts.render(f"parts/rationing_{config.rationing}.txt"),
            noise_rule=part("noise") if config.regrowth_sd > 0 else "",
            generation_rule=(part("generations", turnover=turnover_rule(
                config, players="fishers", score="total catch", method=config.selection))
                             if config.generations > 1 else ""),
            discussion_rule=part("discussion") if config.discussion else "",
        )
        return cls(prompts, config.seasons, config.utterance_max_chars,
                   config.strategy_max_chars, system)

    def messages(self, template: str, **values: Any) -> list[dict[str, str]]:
        return [{"role": "system", "content": self.system},
                {"role": "user", "content": self.prompts.render(template, **values)}]

    def own_strategy(self, name: str, strategy: str) -> str:
        if not strategy:
            return ""
        return "The strategy you decided to follow:\n" + quote_agent_text(strategy, author=name)

    def rule_utterance(self, catch: float) -> str:
        return self.prompts.render("parts/rule_utterance.txt", catch=tons(catch))


def describe_previous(previous: dict[str, Any] | None) -> str:
    """Last season as a fisher saw it: its own request and catch, the others' catches."""
    if previous is None:
        return "This is the first season: nobody has caught anything yet."
    mean = f"on average {tons(previous['others_mean'])}"
    others = (f"{others_caught_text(previous)} tons ({mean})" if "others_caught" in previous
              else f"{mean} tons")
    return (f"Last season you asked for {tons(previous['requested'])} tons and caught "
            f"{tons(previous['caught'])}; the other fishers caught {others}.")


#: Up to this many fishers, each sees the others' catches one by one; beyond, only their mean.
OTHERS_LISTED = 12


def others_caught_text(previous: dict[str, Any]) -> str:
    """'10, 12, 8' (each other fisher's catch), or 'on average 9.5' in a large fishery."""
    if "others_caught" in previous:
        return ", ".join(tons(c) for c in previous["others_caught"])
    return f"on average {tons(previous['others_mean'])}"


@dataclass
class Harvest(Task):
    """How many tons a fisher asks for this season."""

    rules: FisheryRules
    facts: dict[str, Any]  # the observation; see `observation`
    strategy: str = ""
    memories: str = ""  # recalled memories, already quoted (LLM brains only)

    kind = "harvest"

    def observation(self) -> dict[str, Any]:
        """generation, season (0-based), agent, stock (tons now), capacity, fishers, growth,
        threshold, sustainable_share (one fisher's share of the surplus), and `previous`: None
        in a generation's first season, else `requested`, `caught`, `others_mean` and, with
        at most `OTHERS_LISTED` fishers, `others_caught` (the others' catches, in seat
        order)."""
        return self.facts

    def messages(self) -> list[dict[str, str]]:
        facts = self.facts
        return self.rules.messages(
            "harvest.txt", name=facts["agent"],
            own_strategy=self.rules.own_strategy(facts["agent"], self.strategy),
            season=facts["season"] + 1, seasons=self.rules.seasons,
            stock=tons(facts["stock"]), previous=describe_previous(facts["previous"]),
            memories=self.memories, reply_format=self.reply_format.example())

    @cached_property
    def reply_format(self) -> ReplyFormat:
        """The catch reply, bounded by the fish in the lake."""
        return CATCH.within(catch={"maximum": float(self.facts["stock"])})

    def parse(self, reply: str) -> float:
        return self.reply_format.parse(reply, prose=self._read_prose).catch

    def _read_prose(self, reply: str) -> dict[str, Any]:
        """A reply without JSON: the number it gives ("I will catch 12 tons", or just "12")."""
        return {"catch": self.reply_format.prose_number(
            reply, "catch", markers=(*DEFAULT_NUMBER_MARKERS, "catch", "take", "fish"))}

    def fallback(self) -> float:
        return 0.0

    def answer_with_rule(self, policy: Any) -> float:
        return float(policy.harvest(self.facts))

    def encode(self, decision: float) -> dict[str, Any]:
        return {"catch": decision}


@dataclass
class Speak(Task):
    """One utterance in the discussion between seasons. A rule brain states its intended
    catch for the next season (what its rule will ask for, from `next_season`)."""

    rules: FisheryRules
    facts: dict[str, Any]
    strategy: str = ""
    memories: str = ""

    kind = "speak"

    def observation(self) -> dict[str, Any]:
        """generation, season (the one just fished, 0-based), agent, turn, `outcome` (the
        season: stock, caught in all, left, next stock), `heard` (the utterances so far:
        speaker and text) and `next_season` (the fisher's `Harvest` observation for the
        season to come)."""
        return self.facts

    def messages(self) -> list[dict[str, str]]:
        facts, outcome = self.facts, self.facts["outcome"]
        heard = facts["heard"]
        transcript = ("Nobody has spoken yet." if not heard else "So far:\n" + "\n".join(
            quote_agent_text(h["text"], author=h["speaker"]) for h in heard))
        season_text = (f"The lake held {tons(outcome['stock'])} tons; the fishers caught "
                       f"{tons(outcome['caught'])} in all and left {tons(outcome['left'])}. ")
        season_text += describe_previous(facts["next_season"]["previous"])
        return self.rules.messages(
            "speak.txt", name=facts["agent"],
            own_strategy=self.rules.own_strategy(facts["agent"], self.strategy),
            season=facts["season"] + 1, seasons=self.rules.seasons, outcome=season_text,
            stock=tons(outcome["next_stock"]), memories=self.memories, transcript=transcript,
            reply_format=UTTERANCE.example())

    @property
    def reply_format(self) -> ReplyFormat:
        return UTTERANCE

    def parse(self, reply: str) -> str:
        found = UTTERANCE.read(reply)  # a JSON object, else the reply's prose is the utterance
        return clean_free_text(found.utterance if found is not None else reply,
                               max_chars=self.rules.utterance_max_chars,
                               json_keys=("utterance",), extracted=found is not None)

    def fallback(self) -> str:
        return ""  # says nothing

    def answer_with_rule(self, policy: Any) -> str:
        return self.rules.rule_utterance(float(policy.harvest(self.facts["next_season"])))

    def encode(self, decision: str) -> dict[str, Any]:
        return {"utterance": decision}


def write_strategy(rules: FisheryRules, agent_id: str, generation: int,
                   survivor_strategies: list[tuple[str, str]]) -> WriteStrategy:
    """A newcomer's strategy task (`sim.WriteStrategy`) with the fishery's prompts (asked only
    in runs of more than one generation)."""
    return WriteStrategy(rules.messages, agent_id, generation, survivor_strategies,
                         max_chars=rules.strategy_max_chars)


def sample_prompt_tokens(config: Any) -> tuple[int, int]:
    """Approximate prompt tokens of a typical harvest and utterance prompt, from the real
    templates with a full memory recall and a full conversation."""
    rules = FisheryRules.from_config(config)
    line = "x" * 120
    memories = quote_agent_text("\n".join([line] * config.recall), author="g0-a00")
    previous = {"requested": 10.0, "caught": 10.0, "others_caught": [10.0] * (config.agents - 1),
                "others_mean": 10.0}
    facts = {"generation": 0, "season": 1, "agent": "g0-a00", "stock": config.capacity,
             "previous": previous}
    harvest = Harvest(rules, facts, memories=memories).messages()
    heard = [{"speaker": f"g0-a{i:02d}", "text": "x" * config.utterance_max_chars}
             for i in range(config.agents * config.utterances - 1)]
    speak = Speak(rules, {"generation": 0, "season": 0, "agent": "g0-a00", "turn": 0,
                          "outcome": {"stock": config.capacity, "caught": 50.0, "left": 50.0,
                                      "next_stock": config.capacity},
                          "heard": heard, "next_season": facts}, memories=memories).messages()
    return approx_tokens(harvest), approx_tokens(speak)
