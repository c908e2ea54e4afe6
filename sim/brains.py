"""Brains: where an agent's decisions come from.

Both kinds answer the same `Task`s and are logged alike, so rule and LLM agents can share one
population. A `RuleBrain` answers inline from the task's observation. An `LLMBrain` only names
the model and its settings: the gateway does the calling, because it batches the calls of every
agent that thinks at the same simulated time.
"""

from __future__ import annotations

from typing import Any, ClassVar

from sim.llm.settings import LLMSettings
from sim.tasks import Task


class Brain:
    """Base of all brains. `brain_type` is 'rule' or 'llm'; `kind` names the family or model."""

    brain_type: ClassVar[str] = "brain"
    kind: str = "brain"

    def describe(self) -> dict[str, Any]:
        """Parameters worth recording in the store's agents table."""
        return {}


class RuleBrain(Brain):
    """A classic strategy: decides from the observation, no model involved.

    `policy` is any object with the methods the scenario's tasks use (for the Donor Game:
    `decide(observation)`, `describe()`, `params()`, `mutate(rng, sd)`, and `family`).
    """

    brain_type = "rule"

    def __init__(self, policy: Any) -> None:
        self.policy = policy
        self.kind = getattr(policy, "family", type(policy).__name__)

    def answer(self, task: Task) -> Any:
        return task.answer_with_rule(self.policy)

    def describe(self) -> dict[str, Any]:
        params = getattr(self.policy, "params", None)
        return dict(params()) if callable(params) else {}


class LLMBrain(Brain):
    """A brain backed by any model litellm can reach; the gateway makes the calls."""

    brain_type = "llm"
    kind = "llm"

    def __init__(self, settings: LLMSettings) -> None:
        self.settings = settings

    @property
    def model(self) -> str:
        return self.settings.model

    def describe(self) -> dict[str, Any]:
        return {"temperature": self.settings.temperature, "max_tokens": self.settings.max_tokens}
