"""Tasks: one question put to an agent, answerable by any kind of brain.

A task carries both the structured observation (what a rule brain reads) and the means to
render a chat prompt and parse a reply (what an LLM brain needs). Keeping both in one object is
what lets rule and LLM agents share a population and be logged alike.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from sim.errors import ParseError  # raised by sim.llm's parsers too; still importable here
from sim.store import to_json

if TYPE_CHECKING:
    from sim.llm.reply_format import ReplyFormat

class Task(ABC):
    """A question for one agent. Subclasses are scenario-specific (e.g. `Donate`)."""

    #: Short stable name, stored with every decision ("donate", "write_strategy").
    kind: ClassVar[str] = "task"

    @abstractmethod
    def observation(self) -> dict[str, Any]:
        """The structured, JSON-serialisable facts the agent decides from."""

    @abstractmethod
    def messages(self) -> list[dict[str, str]]:
        """The chat prompt for an LLM brain. Rendered lazily: rule brains never pay for it."""

    @abstractmethod
    def parse(self, reply: str) -> Any:
        """Turn a model reply into a decision, or raise `ParseError` saying what was wrong."""

    @abstractmethod
    def fallback(self) -> Any:
        """The decision used when no usable reply could be had; always recorded as a fallback."""

    @abstractmethod
    def encode(self, decision: Any) -> dict[str, Any]:
        """A JSON-serialisable record of a decision, for the run store."""

    def answer_with_rule(self, policy: Any) -> Any:
        """How a rule brain answers: by default its policy decides from the observation.

        Tasks whose answer is not a function of the observation (e.g. writing a strategy,
        which a rule brain does by describing its own rule) override this.
        """
        return policy.decide(self.observation())

    @classmethod
    def answer_with_rules(cls, tasks: Sequence[Task], policies: Sequence[Any]) -> list[Any]:
        """How rule brains answer many tasks of this type pending at one instant: `tasks[i]`
        with `policies[i]`. By default one `answer_with_rule` after another; a task type may
        compute them together (vectorised where its rules allow), never differently."""
        return [task.answer_with_rule(policy)
                for task, policy in zip(tasks, policies, strict=True)]

    def observation_json(self) -> str:
        """The observation as the store logs it: `sim.store.to_json(self.observation())`. A
        task type logged by the thousand may build the same text faster (from parts it
        encoded once); tests hold it to exactly this."""
        return to_json(self.observation())

    def decision_json(self, decision: Any) -> str:
        """A decision as the store logs it: `sim.store.to_json(self.encode(decision))`, or the
        same text built faster."""
        return to_json(self.encode(decision))

    def repair_message(self, error: ParseError) -> str:
        """The follow-up user message asking the model to fix an unparseable reply."""
        return (
            f"Your reply could not be used: {error}. "
            "Answer again, following the requested format exactly."
        )

    @property
    def reply_format(self) -> ReplyFormat | None:
        """The reply as a `ReplyFormat` when the task asks for JSON: declared once, it gives the
        response format below, the JSON the prompt shows and the validation in `parse`."""
        return None

    def response_format(self) -> dict[str, Any] | None:
        """An optional JSON-schema response format for models that support constrained output
        (by default the one `reply_format` gives)."""
        reply_format = self.reply_format
        return None if reply_format is None else reply_format.response_format()
