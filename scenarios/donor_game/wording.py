"""What the Donor Game's prompts say, sentence by sentence, as the protocol keys choose.

The main templates (`rules.txt`, `donate.txt`, `strategy_first.txt`, `strategy_inherit.txt`,
`strategy_inherit_memory.txt`) are skeletons; every sentence on which the study and Societas 0.1
differ is a file under `prompts/parts/`, picked by one key (`framing`, `trace_explanation`,
`tell_successors`, `first_round_note`, `donation_question`, `reasoning_format`,
`tell_selection_rule`, `sanction_framing`, ...), so one factor can be switched at a time and a
user can replace any sentence with `prompts_dir`. `docs/donor_game.md` says which file is which.
`GameContext` is built once per run and puts the pieces together.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

from scenarios.donor_game.answers import answer_line
from scenarios.donor_game.traces import TraceStyle, describe_trace, example_lines
from sim.evolution import turnover_rule
from sim.prompting import PromptLibrary

#: What a sanction lets the donor do instead of giving: the reply's action and its part files.
SANCTIONS = {"costly": "punish", "partner_choice": "refuse"}


def shown_units(value: float) -> str:
    """Resources as the prompts show them, two decimals, as a person reads an account; the
    bound a donor's answer is checked against is this same number (`shown_bound`)."""
    return f"{value:.2f}"


def shown_bound(value: float) -> float:
    """The most a donor may name: what its prompt shows it holds. A donor shown 14.52 units may
    answer 14.52 ("everything") although it holds 14.516; the game pays what it holds."""
    return float(shown_units(value))


@dataclass
class GameContext:
    """The prompts of one run: its config's wording choices and the template library."""

    prompts: PromptLibrary
    config: Any  # a DonorGameConfig (not imported: the config module is imported before this)

    @classmethod
    def from_config(cls, config: Any) -> GameContext:
        """The wording of a `DonorGameConfig`'s prompts; its templates are read lazily."""
        return cls(PromptLibrary("scenarios.donor_game", config.prompts_dir), config)

    # -- facts every question needs -----------------------------------------------------------
    @property
    def alternative(self) -> str | None:
        """What a donor may do instead of giving: 'punish', 'refuse' or None."""
        return SANCTIONS.get(self.config.punishment)

    @property
    def answers_in_text(self) -> bool:
        return self.config.reasoning_format == "text"

    @cached_property
    def trace_style(self) -> TraceStyle:
        config = self.config
        return TraceStyle(config.trace_depth, config.trace_reset, config.show_round,
                          config.trace_format)

    def render_part(self, name: str, **values: Any) -> str:
        return self.prompts.render(f"parts/{name}", **values)

    def describe_trace(self, recipient: str, trace: list[dict[str, Any]]) -> str:
        return describe_trace(recipient, trace, self.trace_style)

    # -- the system message ---------------------------------------------------------------
    def system_message(self) -> dict[str, str]:
        return {"role": "system", "content": self._rules}

    @cached_property
    def _rules(self) -> str:
        config = self.config
        return self.prompts.render(
            "rules.txt",
            framing=self.render_part(f"framing_{config.framing}.txt"),
            endowment=f"{config.endowment:g}",
            multiplier=f"{config.multiplier:g}",
            sanction_rule=self._sanction_rule(),
            trace_rules=self._trace_rules(),
            horizon_rule=(
                "\n" + self.render_part("rule_horizon.txt", games=config.games,
                                        rounds=config.rounds_per_game)
                if config.show_horizon else ""
            ),
            selection_rule=self._selection_rule(),
        )

    def _sanction_rule(self) -> str:
        punishment = self.config.punishment
        if punishment not in SANCTIONS:
            return ""
        values = {"punishment_multiplier": f"{self.config.punishment_multiplier:g}"}
        if self.config.sanction_framing == "symmetric":  # a choice of its own, beside giving
            return "\n- " + self.render_part(f"rule_{punishment}_symmetric.txt", **values)
        return " " + self.render_part(f"rule_{punishment}.txt", **values)

    def _trace_rules(self) -> str:
        depth = self.config.trace_depth
        if depth == 0:  # whatever the explanation: not "up to 0 steps back"
            return self.render_part("trace_rules_none.txt")
        if self.config.trace_explanation == "brief":
            return self.render_part("trace_rules_brief.txt", trace_depth=depth)
        example = "\n".join(f"  {line}" for line in example_lines(self.trace_style))
        return self.render_part("trace_rules_example.txt", trace_depth=depth, example=example)

    def _selection_rule(self) -> str:
        config = self.config
        if config.reproduction != "truncation" or config.advice != "survivors":
            # another turnover than the study's: the engine's words for the run's scheme
            return turnover_rule(config, players="players", score="final resources")
        told = config.tell_selection_rule != "never"
        rule = config.selection if told else "top"  # the study: "the best-performing survive"
        kind = "selection" if config.tell_successors else "survival"
        percent = f"{100 * config.survivors / config.agents:g}"
        return self.render_part(f"rule_{kind}_{rule}.txt", survivor_percent=percent)

    # -- the strategy questions -------------------------------------------------------------
    def newcomer(self, *, first: bool, generation: int) -> str:
        """Who the newcomer is; with `tell_successors`, that it replaces a player."""
        told = "_told" if self.config.tell_successors else ""
        name = f"newcomer_{'first' if first else 'inherit'}{told}.txt"
        return self.render_part(name, generation=generation)

    def reminders(self, *, first: bool) -> str:
        """What a strategy prompt recalls of the rules: how much a donor knows, the first
        round, the sanction. For the first generation the block itself; for newcomers after it
        the block as paragraphs to append ("" when there is nothing to add)."""
        config = self.config
        brief = config.trace_explanation == "brief"
        trace = ""
        if brief and first and config.trace_depth > 0:  # (later newcomers: `improve_brief.txt`)
            trace = self.render_part("reminder_trace_brief.txt")
        elif not brief and config.trace_depth > 0:
            trace = self.render_part("reminder_trace_example.txt",
                                     trace_depth=config.trace_depth,
                                     example="\n".join(example_lines(self.trace_style)))
        note = ""  # without a trace no round has a record: the rules say so already
        if config.trace_depth == 0:
            pass
        elif config.first_round_note == "no_information":
            note = self.render_part("first_round_no_information.txt", scope=config.trace_reset)
        elif first:
            note = self.render_part("first_round_donor_turn.txt")
        knows = " ".join(p for p in (trace, note) if p) if brief else \
            "\n\n".join(p for p in (trace, note) if p)
        sanction = ""
        if config.sanction_framing == "symmetric" and self.alternative is not None:
            sanction = self.render_part(
                f"reminder_{config.punishment}.txt",
                punishment_multiplier=f"{config.punishment_multiplier:g}")
        block = "\n\n".join(p for p in (knows, sanction) if p)
        if first:
            return block
        return f"\n\n{block}" if block else ""

    def improve(self) -> str:
        """The ask to improve on the advice; the brief one also recalls what a donor is told
        of the recipient, which is nothing without a trace."""
        brief = self.config.trace_explanation == "brief" and self.config.trace_depth > 0
        return self.render_part("improve_brief.txt" if brief else "improve.txt")

    def advice_heading(self) -> str:
        """How the survivors' advice is introduced: as the best-performing players' unless the
        prompts state a selection rule that is not a ranking on performance."""
        config = self.config
        truthful = config.tell_selection_rule == "always" and config.selection != "top"
        return self.render_part("advice_survivors.txt" if truthful else "advice_best.txt")

    def strategy_instructions(self, reply_format: str) -> str:
        """How to state the strategy: in prose, or as the JSON `reply_format` describes."""
        if self.answers_in_text:
            return self.render_part(f"strategy_{self.config.strategy_format}_text.txt")
        return self.render_part(f"strategy_{self.config.strategy_format}.txt",
                                reply_format=reply_format)

    # -- the donation question ----------------------------------------------------------------
    def question(self, recipient: str, resources: float, reply_example: str) -> str:
        """The question a donor answers, sentence by sentence: what is asked, the allowed
        range, the sanction on offer, how to answer."""
        config = self.config
        unit = config.answer_unit
        sentences = [self.render_part(f"ask_{config.donation_question}_{unit}.txt",
                                      recipient=recipient)]
        if unit == "units":
            sentences.append(self.render_part("range_units.txt",
                                              resources=shown_units(resources)))
        if self.alternative is not None:
            symmetric = "_symmetric" if config.sanction_framing == "symmetric" else ""
            sentences.append(self.render_part(
                f"option_{config.punishment}{symmetric}.txt", recipient=recipient,
                multiplier=f"{config.multiplier:g}",
                punishment_multiplier=f"{config.punishment_multiplier:g}"))
        if self.answers_in_text:
            bound = shown_bound(resources) if unit == "units" else 100.0
            sentences.append(self.render_part(
                "answer_text.txt", answer_line=answer_line(unit, bound, self.alternative)))
        else:
            sentences.append(self.render_part(f"answer_json_{unit}.txt",
                                              reply_format=reply_example))
        return " ".join(sentences)
