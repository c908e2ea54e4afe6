"""A resident's summary description (Park et al. 2023, the agent summary): who it is, what it
does all day, how it feels about its recent progress, what it is up to today and what it
carries over from yesterday, synthesised each morning from three retrievals and prefixed to
its plan, react and speak prompts.

The paper asks the model three questions, one retrieval each; here one call answers all three
with the released code's morning additions ("currently" and what to carry over), from the same
retrievals. Rule brains answer from the best retrieved memories, so every resident has a
summary and a run's `summaries` table has a row per resident and morning.

Public for other code that needs a resident's summary (an interview, say):
`summary_queries(name)` are the three retrieval questions; `DescribeSelf` is the task, built
from what each retrieval returned; `summary_task(...)` retrieves and builds it in one go;
`render_summary(statements)` is the paragraph the prompts show.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from scenarios.town.replies import SUMMARY
from scenarios.town.tasks import TownContext, TownTask, clean
from scenarios.town.townmap import Person
from sim import ParseError, quote_agent_text
from sim.llm import ReplyFormat

if TYPE_CHECKING:
    from sim.memory import MemoryBank, MemoryRecord

__all__ = ["DescribeSelf", "Statements", "render_summary", "summary_queries", "summary_task"]

#: Records retrieved for each of the three questions.
EVIDENCE_PER_QUERY = 5


@dataclass(frozen=True)
class Statements:
    """The summary's parts, each a sentence in the third person."""

    core: str
    occupation: str
    progress: str
    currently: str
    carry_over: str


def summary_queries(name: str) -> list[str]:
    """The paper's three questions, as retrieval queries."""
    return [f"{name}'s core characteristics", f"{name}'s current daily occupation",
            f"{name}'s feeling about their recent progress in life"]


def render_summary(statements: Statements) -> str:
    """The paragraph prefixed to the resident's prompts."""
    return (f"Core characteristics: {statements.core}\n"
            f"Daily occupation: {statements.occupation}\n"
            f"Recent progress: {statements.progress}\n"
            f"Currently: {statements.currently}\n"
            f"Carried over from yesterday: {statements.carry_over}")


def _evidence(records: Sequence[MemoryRecord]) -> list[dict[str, Any]]:
    return [{"text": r.text, "importance": r.importance, "created": r.created, "kind": r.kind}
            for r in records]


@dataclass
class DescribeSelf(TownTask):
    """Describe yourself this morning from what three retrievals brought back."""

    ctx: TownContext
    person: Person
    day: int
    now: int  # the clock when it is asked
    evidence: list[list[dict[str, Any]]]  # per query: text, importance, created, kind
    previous: str = ""  # yesterday's summary
    yesterday: str = ""  # what the resident did yesterday
    events_today: list[str] = field(default_factory=list)  # events it knows of today

    kind = "agent_summary"

    def observation(self) -> dict[str, Any]:
        return {"agent": self.person.agent_id, "day": self.day, "now": self.now,
                "evidence": self.evidence, "events_today": self.events_today}

    def messages(self) -> list[dict[str, str]]:
        p = self.person

        def listed(records: list[dict[str, Any]]) -> str:
            lines = "\n".join(f"- {r['text']}" for r in records)
            return quote_agent_text(lines, author=p.agent_id) if lines else "(nothing yet)"

        core, occupation, progress = (listed(e) for e in self.evidence)
        return self.ctx.messages(
            p, "agent_summary.txt", name=p.name, today=self.ctx.config.day_text(self.day),
            core=core, occupation=occupation, progress=progress,
            previous=quote_agent_text(self.previous, author=p.agent_id) if self.previous
            else "(none: this is the first morning)",
            yesterday=quote_agent_text(self.yesterday, author=p.agent_id) if self.yesterday
            else "(nothing yet)", reply_format=SUMMARY.describe())

    @property
    def reply_format(self) -> ReplyFormat:
        return SUMMARY

    def read(self, reply: str) -> Statements:
        answer = SUMMARY.parse(reply)
        parts = [clean(getattr(answer, key), 300)
                 for key in ("core", "occupation", "progress", "currently", "carry_over")]
        if not any(parts[:3]):
            raise ParseError(f"the summary says nothing; reply like {SUMMARY.example()}")
        return Statements(*(part or "-" for part in parts))

    def default(self) -> Statements:
        return self.rule()

    def rule(self) -> Statements:
        """Who it is from the best-retrieved seed memory (its persona), what it does from the
        town file, its progress from the best-retrieved thing it lived, today's known events,
        and the most important thing of the last day carried over; no memory twice."""
        p = self.person
        used: set[str] = set()

        def best(records: list[dict[str, Any]], seed: bool) -> str | None:
            for r in records:
                if (r.get("kind") == "thought") == seed and r["text"] not in used:
                    used.add(r["text"])
                    return _sentence(r["text"])
            return None

        core = best(self.evidence[0], True) or _sentence(p.persona.split(". ")[0]) or p.name
        occupation = f"{p.name} works as {_article(p.occupation)}."
        progress = best(self.evidence[2], False) or \
            "Nothing out of the ordinary has happened lately."
        currently = (f"{p.name} is looking forward to the {', the '.join(self.events_today)} "
                     "today." if self.events_today else f"{p.name} is starting an ordinary day.")
        recent = [r for records in self.evidence for r in records
                  if r["created"] >= self.now - 1440 and r["importance"] >= 4
                  and r.get("kind") != "thought" and r["text"] not in used]
        recent.sort(key=lambda r: (-r["importance"], -r["created"]))
        carry = _sentence(recent[0]["text"]) if recent else "Nothing in particular."
        return Statements(core, occupation, progress, currently, carry)

    def encode(self, decision: Statements) -> dict[str, Any]:
        return {"summary": render_summary(decision)}


def summary_task(ctx: TownContext, person: Person, bank: MemoryBank, *, day: int, now: int,
                 previous: str = "", yesterday: str = "",
                 events_today: Sequence[str] = ()) -> DescribeSelf:
    """Retrieve for the three questions (their records' access time becomes `now`) and build
    the task that asks the resident to describe itself."""
    vectors = bank.embed_queries(summary_queries(person.name))
    evidence = [_evidence([hit.record for hit in bank.retrieve(
        person.agent_id, vector, now=now, k=EVIDENCE_PER_QUERY)]) for vector in vectors]
    return DescribeSelf(ctx, person, day, now, evidence, previous, yesterday,
                        list(events_today))


def _sentence(text: str) -> str:
    text = " ".join(text.split()).strip()
    return text if not text or text[-1] in ".!?" else text + "."


def _article(noun: str) -> str:
    return ("an " if noun[:1].lower() in "aeiou" else "a ") + noun
