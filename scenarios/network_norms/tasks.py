"""The scenario's one question for an LLM-brained node: which strategy to play from now on,
having seen its neighbours' strategies and payoffs.

Rule-brained nodes are never asked: the update rule changes their strategies in bulk
(`dynamics.Populations.advance`), thousands of elementary updates a second, which per-node
tasks through the gateway could not do. The neighbourhood is shown as data (names the
scenario gave, strategies, payoffs), not as text another agent wrote, so nothing needs quoting.
The reply is declared once as a pydantic model whose `strategy` is one of the game's two.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pydantic import Field

from sim import PromptLibrary, Task, approx_tokens
from sim.llm import ReplyFormat, reply_model, schema_only

REASONING_MAX_CHARS = 300


def _number(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


@dataclass
class GameRules:
    """What every prompt of a run says about the game; built once from the config."""

    prompts: PromptLibrary
    names: tuple[str, str]
    reply: ReplyFormat
    system: str

    @classmethod
    def from_config(cls, config: Any) -> GameRules:
        prompts = PromptLibrary("scenarios.network_norms", config.prompts_dir)
        m = config.payoff_matrix()
        if config.game == "donation":
            game_rule = prompts.render(
                "parts/donation.txt", benefit=_number(config.benefit), cost=_number(config.cost),
                cc=_number(m[1, 1]), cd=_number(m[1, 0]), dc=_number(m[0, 1]),
                dd=_number(m[0, 0]))
        else:
            game_rule = prompts.render(
                "parts/coordination.txt", aa=_number(m[0, 0]), ab=_number(m[0, 1]),
                ba=_number(m[1, 0]), bb=_number(m[1, 1]))
        payoff_rule = "the sum" if config.payoff == "accumulated" else "the average"
        system = prompts.render("rules.txt", game_rule=game_rule, payoff_rule=payoff_rule)
        names = config.strategy_names()
        model = reply_model(
            "StrategyChoice",
            reasoning=(str, Field("", description="one or two sentences",
                                  json_schema_extra=schema_only(maxLength=REASONING_MAX_CHARS))),
            strategy=(Literal[names], Field(description="your strategy")),  # type: ignore[valid-type]
        )
        return cls(prompts, names, ReplyFormat(model, name="strategy_choice"), system)

    def messages(self, template: str, **values: Any) -> list[dict[str, str]]:
        return [{"role": "system", "content": self.system},
                {"role": "user", "content": self.prompts.render(template, **values)}]


@dataclass
class ChooseStrategy(Task):
    """An LLM-brained node picks the strategy it plays from now on."""

    rules: GameRules
    facts: dict[str, Any]  # the observation; see `observation`

    kind = "choose_strategy"

    def observation(self) -> dict[str, Any]:
        """step (1-based), agent, node, strategy and payoff (its own, now), and `neighbours`:
        for each, in node order, its `name`, `strategy` and `payoff`."""
        return self.facts

    def messages(self) -> list[dict[str, str]]:
        facts = self.facts
        lines = [f"- {n['name']}: plays {n['strategy']}, payoff {_number(n['payoff'])}"
                 for n in facts["neighbours"]]
        options = " or ".join(f'"{name}"' for name in self.rules.names)
        return self.rules.messages(
            "choose.txt", name=facts["agent"], step=facts["step"], strategy=facts["strategy"],
            payoff=_number(facts["payoff"]), count=len(lines), neighbours="\n".join(lines),
            options=options, reply_format=self.reply_format.example())

    @property
    def reply_format(self) -> ReplyFormat:
        return self.rules.reply

    def parse(self, reply: str) -> str:
        return self.reply_format.parse(reply, prose=self._read_prose).strategy

    def _read_prose(self, reply: str) -> dict[str, Any]:
        """A reply without JSON: the strategy it names ("I will cooperate")."""
        return {"strategy": self.reply_format.prose_choice(reply, "strategy")}

    def fallback(self) -> str:
        """No usable reply: the node keeps the strategy it plays."""
        return self.facts["strategy"]

    def answer_with_rule(self, policy: Any) -> str:
        raise TypeError("rule-brained nodes follow the update rule (dynamics.Populations); "
                        "they are never asked to choose")

    def encode(self, decision: str) -> dict[str, Any]:
        return {"strategy": decision}


def sample_prompt_tokens(config: Any) -> int:
    """Approximate prompt tokens of one choice, from the real templates (a node with
    `degree` neighbours)."""
    rules = GameRules.from_config(config)
    names = rules.names
    neighbours = [{"name": f"n{i:03d}", "strategy": names[i % 2], "payoff": 10.0}
                  for i in range(config.degree)]
    task = ChooseStrategy(rules, {"step": 1, "agent": "n000", "node": 0,
                                  "strategy": names[0], "payoff": 10.0,
                                  "neighbours": neighbours})
    return approx_tokens(task.messages())
