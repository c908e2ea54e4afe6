"""The tournament's one question: cooperate or defect in this turn of this match.

A rule brain answers from the observation (its own and its opponent's moves so far); an LLM
brain reads the same history in its prompt (`prompts/move.txt`, the game's rules in
`prompts/rules.txt`) and answers with a JSON object declared once as `MoveReply`. The history is
rendered by the game from its own record of 'C' and 'D', never from text a player wrote, and
the system prompt tells the model it is data. A reply that cannot be read is sent back once in
a repair re-prompt (`max_repairs`); if that fails too the move is the fallback, a defection
(the move that risks nothing, as the public goods game's fallback contributes nothing), marked
as such in the `moves` table.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import AliasChoices, BeforeValidator, Field

from sim import ParseError, PromptLibrary, Task, approx_tokens
from sim.llm import Reply, ReplyFormat, parse_choice, schema_only

REASONING_MAX_CHARS = 300
_WORDS = {"c": "C", "cooperate": "C", "cooperation": "C", "d": "D", "defect": "D",
          "defection": "D"}


def _move_word(value: Any) -> Any:
    """'cooperate', 'c' and the like name a move as surely as 'C' does."""
    if isinstance(value, str):
        return _WORDS.get(value.strip().strip(".!").lower(), value)
    return value


class MoveReply(Reply):
    """A move: a sentence of reasoning, then C or D."""

    reasoning: str = Field("", description="one sentence",
                           json_schema_extra=schema_only(maxLength=REASONING_MAX_CHARS))
    move: Annotated[Literal["C", "D"], BeforeValidator(_move_word)] = Field(
        validation_alias=AliasChoices("move", "choice", "action", "decision"))


MOVE = ReplyFormat(MoveReply, name="move")


class Chosen(str):
    """A move as the game receives it; `fallback` tells a move the model never made."""

    fallback = False


class FallbackMove(Chosen):
    fallback = True


@dataclass
class GameRules:
    """What every prompt of a run states about the game; built once from the config."""

    prompts: PromptLibrary
    system: str

    @classmethod
    def from_config(cls, config: Any) -> GameRules:
        prompts = PromptLibrary("scenarios.ipd", config.prompts_dir)
        pay = config.payoffs
        noise_rule = ""
        if config.noise > 0:
            noise_rule = " " + prompts.render("parts/noise_rule.txt",
                                              noise_percent=f"{100 * config.noise:g}")
        system = prompts.render("rules.txt", R=f"{pay.R:g}", S=f"{pay.S:g}", T=f"{pay.T:g}",
                                P=f"{pay.P:g}", noise_rule=noise_rule)
        return cls(prompts, system)

    def messages(self, template: str, **values: Any) -> list[dict[str, str]]:
        return [{"role": "system", "content": self.system},
                {"role": "user", "content": self.prompts.render(template, **values)}]


def render_history(own: str, opponent: str) -> str:
    """The match so far, one line a round, from the game's own record of moves."""
    if not own:
        return "This is the first round: no moves have been made yet."
    lines = [f"round {i + 1}: you {mine}, opponent {theirs}"
             for i, (mine, theirs) in enumerate(zip(own, opponent, strict=True))]
    return ("The match so far (C: cooperate, D: defect):\n" + "\n".join(lines)
            + f"\nSo far the opponent cooperated {opponent.count('C')} times and defected "
            f"{opponent.count('D')} times.")


@dataclass
class Move(Task):
    """One player's move in one turn of one match."""

    rules: GameRules
    facts: dict[str, Any]  # the observation; see `observation`

    kind = "move"

    def observation(self) -> dict[str, Any]:
        """player (its own name), match (its id), turn (0-based), own and opponent: the moves
        so far as played, e.g. "CCD"; chance: a uniform number in [0, 1) for strategies that
        play at random (only theirs carry it)."""
        return self.facts

    def messages(self) -> list[dict[str, str]]:
        facts = self.facts
        return self.rules.messages(
            "move.txt", name=facts["player"], round=facts["turn"] + 1,
            history=render_history(facts["own"], facts["opponent"]),
            reply_format=MOVE.example())

    @property
    def reply_format(self) -> ReplyFormat:
        return MOVE

    def parse(self, reply: str) -> Chosen:
        return Chosen(MOVE.parse(reply, prose=_read_prose).move)

    def fallback(self) -> Chosen:
        return FallbackMove("D")

    def answer_with_rule(self, policy: Any) -> Chosen:
        return Chosen(policy.decide(self.facts))

    def encode(self, decision: str) -> dict[str, Any]:
        return {"move": str(decision)}


def _read_prose(reply: str) -> dict[str, Any]:
    """A reply without JSON: "I cooperate", "Decision: defect", or a lone "C"."""
    try:
        word = parse_choice(reply, ("cooperate", "defect"))
    except ParseError:
        try:
            word = parse_choice(reply, ("C", "D"))
        except ParseError:
            raise ParseError(f"no move found; reply with a JSON object like "
                             f"{MOVE.example()}") from None
    return {"move": _move_word(word)}


def sample_prompt_tokens(config: Any) -> tuple[int, int]:
    """Approximate prompt tokens of a match's first and last turn, from the real templates."""
    rules = GameRules.from_config(config)
    last = config.turns - 1
    first = Move(rules, {"player": "llm", "match": 0, "turn": 0, "own": "",
                         "opponent": ""}).messages()
    final = Move(rules, {"player": "llm", "match": 0, "turn": last, "own": "C" * last,
                         "opponent": "D" * last}).messages()
    return approx_tokens(first), approx_tokens(final)
