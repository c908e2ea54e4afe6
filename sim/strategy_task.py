"""`WriteStrategy`: a newcomer writes the strategy it will follow, for any scenario with
generations and cultural transmission.

Why in the engine: every evolutionary scenario asks the same question the same way (from the
rules alone in the first generation, later after reading the survivors' strategies, quoted as
data), and reads the reply the same way; only the prompts differ. A scenario gives its own
prompt renderer, template names, length limit and any extra template values, so its prompts
and its stores stay its own.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import Field

from sim.llm.parsing.free_text import clean_free_text
from sim.llm.reply_format import Reply, ReplyFormat
from sim.prompting import quote_agent_text
from sim.tasks import ParseError, Task

FALLBACK_STRATEGY = "(no strategy: the model gave no usable reply)"


class StrategyReply(Reply):
    """A newcomer's strategy (its length is asked of the model; a longer one is cut)."""

    strategy: str = Field(description="your strategy in one to three sentences")


STRATEGY = ReplyFormat(StrategyReply, name="strategy")

#: Renders a template with its values into a chat prompt, e.g. a scenario's `rules.messages`
#: (its system prompt plus the rendered user message).
Render = Callable[..., list[dict[str, str]]]


@dataclass
class WriteStrategy(Task):
    """A newcomer writes its strategy: from the rules alone in the first generation
    (`first_template`), later after reading the survivors' strategies (`inherit_template`,
    which gets them quoted as `$survivor_strategies`). Every template also gets `$name`,
    `$generation` (1-based), `$reply_format` and the scenario's `values`.

    A rule brain answers with its policy's `describe()`; a reply with no usable text is
    repaired, then falls back to `fallback_text`. The decision is stored as `{"text": ...}`.
    """

    render: Render
    agent_id: str
    generation: int
    survivor_strategies: list[tuple[str, str]] = field(default_factory=list)
    max_chars: int = 600
    first_template: str = "strategy_first.txt"
    inherit_template: str = "strategy_inherit.txt"
    values: dict[str, Any] = field(default_factory=dict)
    fallback_text: str = FALLBACK_STRATEGY

    kind = "write_strategy"

    def observation(self) -> dict[str, Any]:
        return {"agent": self.agent_id, "generation": self.generation,
                "survivor_strategies_shown": len(self.survivor_strategies)}

    def messages(self) -> list[dict[str, str]]:
        values = {"name": self.agent_id, "generation": self.generation + 1,
                  "reply_format": STRATEGY.describe(), **self.values}
        if not self.survivor_strategies:
            return self.render(self.first_template, **values)
        quoted = "\n\n".join(quote_agent_text(text, author=author)
                             for author, text in self.survivor_strategies)
        return self.render(self.inherit_template, survivor_strategies=quoted, **values)

    @property
    def reply_format(self) -> ReplyFormat:
        return STRATEGY

    def parse(self, reply: str) -> str:
        found = STRATEGY.read(reply)  # a JSON object, else the reply's prose is the strategy
        text = clean_free_text(found.strategy if found is not None else reply,
                               max_chars=self.max_chars, extracted=found is not None)
        if not text:
            raise ParseError(f"no strategy found; reply with {STRATEGY.describe()}")
        return text

    def fallback(self) -> str:
        return self.fallback_text

    def answer_with_rule(self, policy: Any) -> str:
        return policy.describe()

    def encode(self, decision: str) -> dict[str, Any]:
        return {"text": decision}
