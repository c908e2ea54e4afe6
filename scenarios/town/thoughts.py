"""What a resident thinks to itself around a conversation: a summary of what it knows of the
other person before reacting or speaking (`SummariseContext`, the paper's summarised
retrieval), and afterwards the conversation in one sentence with its importance, a planning
thought and a memo (`AfterConversation`, as the released code writes them).

Rule brains never summarise context (they read no prompts: the town does not ask them); their
after-conversation thoughts are written by rule from what was said, so their memories hold
the news they heard.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from scenarios.town.replies import AFTERMATH, CONTEXT
from scenarios.town.tasks import TownContext, TownTask, clean
from scenarios.town.townmap import Person
from sim import ParseError, quote_agent_text
from sim.llm import ReplyFormat


@dataclass
class SummariseContext(TownTask):
    """Before reacting to someone or saying the next thing to them: what do I know and feel
    about them, and what bears on the moment?"""

    ctx: TownContext
    person: Person
    other: Person
    memories: str  # retrieved records, quoted
    last_line: str = ""  # the last utterance of the conversation, if any

    kind = "summarise_context"

    def observation(self) -> dict[str, Any]:
        return {"agent": self.person.agent_id, "other": self.other.agent_id}

    def messages(self) -> list[dict[str, str]]:
        p = self.person
        line = (f" {self.other.name} has just said:\n"
                f"{quote_agent_text(self.last_line, author=self.other.agent_id)}"
                if self.last_line else "")
        return self.ctx.messages(p, "context_summary.txt", name=p.name, other=self.other.name,
                                 last_line=line, memories=self.memories or "(nothing)",
                                 reply_format=CONTEXT.describe())

    @property
    def reply_format(self) -> ReplyFormat:
        return CONTEXT

    def read(self, reply: str) -> str:
        text = clean(CONTEXT.parse(reply).summary, 400)
        if not text:
            raise ParseError(f"the summary is empty; reply like {CONTEXT.example()}")
        return text

    def default(self) -> str:
        return self.rule()

    def rule(self) -> str:
        return f"{self.person.name} knows {self.other.name} as a neighbour in town."

    def encode(self, decision: str) -> dict[str, Any]:
        return {"summary": decision}


@dataclass(frozen=True)
class Aftermath:
    """What one participant keeps of a conversation."""

    summary: str
    importance: int
    planning_thought: str
    memo: str


@dataclass
class AfterConversation(TownTask):
    """Just after a conversation: sum it up, rate it, and note what matters for plans and
    about the other person."""

    ctx: TownContext
    person: Person
    other: Person
    place_name: str
    time: str
    dialogue: list[tuple[str, str, str]]  # speaker id, speaker name, text
    heard: list[str] = field(default_factory=list)  # news the other told them, as sentences
    told: list[str] = field(default_factory=list)  # news they told the other
    other_doing: str = ""

    kind = "after_conversation"

    def observation(self) -> dict[str, Any]:
        return {"agent": self.person.agent_id, "other": self.other.agent_id,
                "place": self.place_name, "heard": self.heard, "told": self.told,
                "other_doing": self.other_doing, "turns": len(self.dialogue)}

    def messages(self) -> list[dict[str, str]]:
        p = self.person
        lines = "\n".join(f"{name}: {quote_agent_text(text, author=who)}"
                          for who, name, text in self.dialogue)
        return self.ctx.messages(p, "after_conversation.txt", name=p.name, time=self.time,
                                 other=self.other.name, place=self.place_name,
                                 dialogue=lines or "(nothing was said)",
                                 reply_format=AFTERMATH.describe())

    @property
    def reply_format(self) -> ReplyFormat:
        return AFTERMATH

    def read(self, reply: str) -> Aftermath:
        answer = AFTERMATH.parse(reply)
        summary = clean(answer.summary, 300)
        if not summary:
            raise ParseError(f"the summary is empty; reply like {AFTERMATH.example()}")
        p = self.person.name
        return Aftermath(summary, answer.importance,
                         f"For {p}'s planning: "
                         f"{clean(answer.planning_thought, 300) or '-'}",
                         f"{p}'s memo: {clean(answer.memo, 300) or '-'}")

    def default(self) -> Aftermath:
        return self.rule()

    def rule(self) -> Aftermath:
        """Who talked where, and the news that changed hands: what retrieval must find."""
        me, other = self.person.name, self.other.name
        news = [*self.heard, *self.told]
        summary = (f"{me} talked with {other} at {self.place_name}"
                   + (f" about this news: {'; '.join(news)}." if news
                      else ", making small talk."))
        importance = max(1, min(10, int(self.ctx.importance(summary, "conversation"))))
        planning = (f"For {me}'s planning: {other} said that {self.heard[0]}."
                    if self.heard else f"For {me}'s planning: nothing {other} said changes it.")
        memo = (f"{me}'s memo: {other} passed on news ({'; '.join(self.heard)})."
                if self.heard else f"{me}'s memo: {other} was "
                f"{self.other_doing or 'out and about'} when we talked.")
        return Aftermath(summary, importance, planning, memo)

    def encode(self, decision: Aftermath) -> dict[str, Any]:
        return {"summary": decision.summary, "importance": decision.importance,
                "planning_thought": decision.planning_thought, "memo": decision.memo}
