"""The questions memory puts to an agent's brain: how much does this matter, what should I ask
myself, what do I conclude, what do I pass on.

They are ordinary `Task`s, so they go through the same batched gateway as every other decision
and are logged alike. An LLM brain answers from editable prompts (`sim/prompts/`); a rule brain
answers with `MemoryRules`, a deterministic, documented rule, so memory runs offline too. The
rules are also every task's fallback, so a model that cannot answer never stops a reflection.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sim.llm.parsing import clean_free_text
from sim.llm.reply_format import ReplyFormat
from sim.memory.config import MemoryConfig
from sim.memory.embeddings import STOP_WORDS
from sim.memory.records import MemoryRecord
from sim.memory.replies import (
    IMPORTANCE,
    IMPORTANCE_MARKERS,
    importances_format,
    insights_format,
    questions_format,
    summary_format,
)
from sim.prompting import PromptLibrary, quote_agent_text
from sim.tasks import ParseError, Task

#: Importance a rule brain gives to words of a memory's text; the highest match wins.
DEFAULT_IMPORTANCE_KEYWORDS: dict[str, int] = {
    "died": 10, "born": 9, "married": 9, "betrayed": 9, "cheated": 8, "punished": 8,
    "attacked": 8, "elected": 8, "punish": 7, "fight": 7, "argued": 6, "refused": 6,
    "lost": 6, "won": 6, "nothing": 5, "party": 5, "helped": 4, "gave": 3, "donated": 3,
    "shared": 3, "thanked": 3, "met": 3,
}
DEFAULT_IMPORTANCE = 2

_WORD_RE = re.compile(r"[a-z0-9]+(?:['’\-][a-z0-9]+)*")
_OUT_OF_TEN_RE = re.compile(r"\b(\d+(?:\.\d+)?)\s*(?:/|out of)\s*10\b", re.IGNORECASE)


class KeywordImportance:
    """Importance from a keyword table: the highest value of any keyword in the text (whole
    words, case-insensitive; multi-word keywords allowed), else `default`."""

    def __init__(self, table: Mapping[str, int] | None = None, default: int = DEFAULT_IMPORTANCE):
        self.table = {k.lower(): int(v) for k, v in (table or DEFAULT_IMPORTANCE_KEYWORDS).items()}
        self.default = default
        self._memo: dict[str, int] = {}
        words = sorted(self.table, key=len, reverse=True)
        self._pattern = re.compile(
            r"\b(?:" + "|".join(re.escape(w) for w in words) + r")\b", re.IGNORECASE
        ) if words else None

    def __call__(self, text: str, kind: str = "observation") -> int:
        if self._pattern is None:
            return self.default
        value = self._memo.get(text)  # simulations repeat their texts
        if value is None:
            found = [self.table[m.group(0).lower()] for m in self._pattern.finditer(text)]
            value = max(found) if found else self.default
            if len(self._memo) >= 100_000:
                self._memo.clear()
            self._memo[text] = value
        return value


_NAME_RE = re.compile(r"(?<![\w'’-])([A-Z][a-z]+|[A-Za-z]*\d[\w-]*)(?:['’]s)?(?![\w'’])")


def name_like_subjects(text: str) -> list[str]:
    """Default subjects of a text: the people and things it names (agent ids such as `a0-7`,
    capitalised words other than 'I'), in order of first appearance; its content words when
    it names nothing. Reflection is mostly about others, so names make the best subjects."""
    names = [m.group(1) for m in _NAME_RE.finditer(text)
             if any(c.isalpha() for c in m.group(1))  # '00-12' of '09:00-12:30' names nothing
             and m.group(1).lower() not in STOP_WORDS]
    return list(dict.fromkeys(names)) or content_words(text)


def content_words(text: str) -> list[str]:
    """Default subjects of a text: its lower-cased words of 3+ characters that are not
    function words or plain numbers, in order of first appearance."""
    words = [w for w in _WORD_RE.findall(text.lower())
             if len(w) >= 3 and w not in STOP_WORDS and not w.isdigit()]
    return list(dict.fromkeys(words))


@dataclass(frozen=True)
class Insight:
    """A conclusion and the ids of the memories it rests on."""

    text: str
    evidence: tuple[int, ...]
    importance: int


@dataclass
class MemoryRules:
    """How a rule brain rates, questions, concludes and passes on (also every fallback).

    - importance: `importance(text, kind)`; default `KeywordImportance()`.
    - focal questions: among the recent records, the salient ones (importance at least
      `salient_importance`; all of them when none is) vote for their subjects
      (`subjects(text)`, default `name_like_subjects`) with their importance; the `n`
      subjects with most votes (ties by name) become `question_template` questions.
    - insights: one per question, quoting the `cite` best-retrieved records and citing them.
    - heir summary: the parent's shown records, joined, within the length limit.
    """

    importance: Callable[[str, str], int] = field(default_factory=KeywordImportance)
    subjects: Callable[[str], Sequence[str]] = name_like_subjects
    salient_importance: int = 5
    question_template: str = "What do I know about {subject}?"
    cite: int = 3

    def focal_questions(self, records: Sequence[MemoryRecord], n: int) -> list[str]:
        salient = [r for r in records if r.importance >= self.salient_importance] or records
        votes: Counter[str] = Counter()
        for record in salient:
            for subject in dict.fromkeys(self.subjects(record.text)):
                votes[subject] += record.importance
        ranked = sorted(votes, key=lambda subject: (-votes[subject], subject))
        return [self.question_template.format(subject=s) for s in ranked[:n]]

    def insights(self, question: str, records: Sequence[MemoryRecord]) -> list[Insight]:
        cited = list(records[: self.cite])
        if not cited:
            return []
        quoted = "; ".join(_gist(r.text) for r in cited)
        return [Insight(f"{question} I recall: {quoted}.",
                        tuple(r.memory_id for r in cited), max(r.importance for r in cited))]

    def heir_summary(self, parent: str, records: Sequence[MemoryRecord], max_chars: int) -> str:
        if not records:
            return f"{parent} had nothing to pass on."
        text = f"What {parent} learnt: " + " ".join(
            r.text.strip() if r.text.strip()[-1:] in ".!?" else r.text.strip() + "."
            for r in records
        )
        return clean_free_text(text, max_chars=max_chars, extracted=True)


def _gist(text: str) -> str:
    """A record as a rule insight quotes it: a rule reflection by its question only, so that
    reflections resting on reflections do not nest their texts ever longer."""
    text = text.strip()
    question, marker, _ = text.partition(" I recall: ")
    return (question if marker else text).rstrip(".!?;")


@dataclass
class MemoryContext:
    """What every memory task needs: prompts, rules, settings, and how prompts name each
    agent (`names`: agent id -> the name a person would use, e.g. "Mara Quill" for `mara`;
    an agent not in it is named by its id)."""

    prompts: PromptLibrary = field(default_factory=lambda: PromptLibrary("sim.memory"))
    rules: MemoryRules = field(default_factory=MemoryRules)
    config: MemoryConfig = field(default_factory=MemoryConfig)
    names: Mapping[str, str] = field(default_factory=dict)

    def name_of(self, agent_id: str) -> str:
        return self.names.get(agent_id, agent_id)

    def system_message(self, name: str, persona: str = "") -> dict[str, str]:
        persona = f" {persona.strip()}" if persona.strip() else ""
        return {"role": "system",
                "content": self.prompts.render("memory_system.txt", name=name, persona=persona)}


def describe_memories(records: Sequence[MemoryRecord], *, author: str) -> str:
    """Records as a numbered list (1-based: what insights cite), quoted as agent text."""
    lines = "\n".join(f"{i}. {r.text.strip()}" for i, r in enumerate(records, start=1))
    return quote_agent_text(lines or "(no memories)", author=author)


@dataclass
class RateImportance(Task):
    """How poignant is this memory to its owner, from 1 (mundane) to 10 (life-changing)?"""

    context: MemoryContext
    agent_id: str
    text: str
    memory_kind: str = "observation"
    persona: str = ""

    kind = "rate_importance"

    @property
    def reply_format(self) -> ReplyFormat:
        return IMPORTANCE

    def observation(self) -> dict[str, Any]:
        return {"agent": self.agent_id, "text": self.text, "memory_kind": self.memory_kind}

    def messages(self) -> list[dict[str, str]]:
        user = self.context.prompts.render(
            "importance.txt", name=self.context.name_of(self.agent_id),
            memory=quote_agent_text(self.text, author=self.agent_id),
            reply_format=self.reply_format.example(),
        )
        return [self.context.system_message(self.context.name_of(self.agent_id), self.persona),
                {"role": "user", "content": user}]

    def parse(self, reply: str) -> int:
        reply = _OUT_OF_TEN_RE.sub(r"\1", reply)  # "8/10" is a rating, not a fraction
        reading = self.reply_format
        answer = reading.parse(reply, prose=lambda text: {"importance": reading.prose_number(
            text, "importance", markers=IMPORTANCE_MARKERS)})
        return round(answer.importance)

    def fallback(self) -> int:
        return self._rule()

    def answer_with_rule(self, policy: Any) -> int:
        return self._rule()

    def _rule(self) -> int:
        return min(10, max(1, int(self.context.rules.importance(self.text, self.memory_kind))))

    def encode(self, decision: int) -> dict[str, Any]:
        return {"importance": decision}


@dataclass
class RateImportances(Task):
    """`RateImportance` for several memories of one owner in one question: an agent that
    perceives or says several things at one instant pays one model call, not one per text."""

    context: MemoryContext
    agent_id: str
    texts: list[str]
    memory_kind: str = "observation"
    persona: str = ""

    kind = "rate_importances"

    @property
    def reply_format(self) -> ReplyFormat:
        return importances_format(len(self.texts))

    def observation(self) -> dict[str, Any]:
        return {"agent": self.agent_id, "texts": self.texts, "memory_kind": self.memory_kind}

    def messages(self) -> list[dict[str, str]]:
        listed = "\n".join(f"{i}. {text.strip()}" for i, text in enumerate(self.texts, 1))
        user = self.context.prompts.render(
            "importance_batch.txt", name=self.context.name_of(self.agent_id), n=len(self.texts),
            memories=quote_agent_text(listed, author=self.agent_id),
            reply_format=self.reply_format.example(),
        )
        return [self.context.system_message(self.context.name_of(self.agent_id), self.persona),
                {"role": "user", "content": user}]

    def parse(self, reply: str) -> list[int]:
        reply = _OUT_OF_TEN_RE.sub(r"\1", reply)
        answer = self.reply_format.parse(reply, prose=self._read_prose)
        return [round(value) for value in answer.ratings]

    def _read_prose(self, reply: str) -> dict[str, Any]:
        """Prose: one rating per line ("1. 3", "2: 7") or exactly n numbers in order."""
        per_line = [m.group(2) for m in _NUMBERED_RATING_RE.finditer(reply)]
        found = per_line if len(per_line) == len(self.texts) else _NUMBER_RE.findall(reply)
        return {"ratings": [float(n) for n in found]}

    def fallback(self) -> list[int]:
        return self._rule()

    def answer_with_rule(self, policy: Any) -> list[int]:
        return self._rule()

    def _rule(self) -> list[int]:
        rate = self.context.rules.importance
        return [min(10, max(1, int(rate(text, self.memory_kind)))) for text in self.texts]

    def encode(self, decision: list[int]) -> dict[str, Any]:
        return {"importances": decision}


_NUMBERED_RATING_RE = re.compile(r"^\s*(\d+)\s*[.):\-]\s*(\d+(?:\.\d+)?)\b", re.MULTILINE)
_NUMBER_RE = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?)(?![\w.])")


@dataclass
class FocalQuestions(Task):
    """Which few high-level questions do my recent memories raise?"""

    context: MemoryContext
    agent_id: str
    records: list[MemoryRecord]
    n: int = 3
    persona: str = ""

    kind = "focal_questions"

    @property
    def reply_format(self) -> ReplyFormat:
        return questions_format(self.n)

    def observation(self) -> dict[str, Any]:
        return {"agent": self.agent_id, "n": self.n,
                "memories": [{"memory_id": r.memory_id, "text": r.text,
                              "importance": r.importance} for r in self.records]}

    def messages(self) -> list[dict[str, str]]:
        user = self.context.prompts.render(
            "focal_questions.txt", name=self.context.name_of(self.agent_id), n=self.n,
            memories=describe_memories(self.records, author=self.agent_id),
            reply_format=self.reply_format.example(),
        )
        return [self.context.system_message(self.context.name_of(self.agent_id), self.persona),
                {"role": "user", "content": user}]

    def parse(self, reply: str) -> list[str]:
        answer = self.reply_format.parse(
            reply, prose=lambda text: {"questions": clean_free_text(text, max_chars=8000)})
        return list(answer.questions[: self.n])


    def fallback(self) -> list[str]:
        return self.context.rules.focal_questions(self.records, self.n)

    def answer_with_rule(self, policy: Any) -> list[str]:
        return self.fallback()

    def encode(self, decision: list[str]) -> dict[str, Any]:
        return {"questions": decision}


@dataclass
class WriteInsights(Task):
    """What do I conclude about a question from these memories, citing which of them?"""

    context: MemoryContext
    agent_id: str
    question: str
    records: list[MemoryRecord]  # ranked by retrieval; shown numbered from 1
    n: int = 5
    persona: str = ""

    kind = "write_insights"

    def observation(self) -> dict[str, Any]:
        return {"agent": self.agent_id, "question": self.question, "n": self.n,
                "memories": [{"memory_id": r.memory_id, "text": r.text,
                              "importance": r.importance} for r in self.records]}

    def messages(self) -> list[dict[str, str]]:
        user = self.context.prompts.render(
            "insights.txt", name=self.context.name_of(self.agent_id), n=self.n,
            question=quote_agent_text(self.question, author=self.agent_id),
            memories=describe_memories(self.records, author=self.agent_id),
            reply_format=self.reply_format.example(),
        )
        return [self.context.system_message(self.context.name_of(self.agent_id), self.persona),
                {"role": "user", "content": user}]

    @property
    def reply_format(self) -> ReplyFormat:
        return insights_format(max(1, len(self.records)), self.n)

    def parse(self, reply: str) -> list[Insight]:
        try:
            answer = self.reply_format.parse(
                reply, prose=lambda text: {"insights": [
                    line for line in clean_free_text(text, max_chars=8000).splitlines()
                    if line.strip()]})
        except ParseError as error:
            raise ParseError(f"no insight citing a valid memory number: {error}") from None
        insights = []
        for item in answer.insights:
            text = item.insight.strip().strip("*_").strip()
            ids = tuple(dict.fromkeys(self.records[k - 1].memory_id for k in item.evidence))
            if not text:
                continue
            cited = [r for r in self.records if r.memory_id in ids]
            importance = item.importance
            rating = (round(importance)
                      if isinstance(importance, int | float) and 1 <= importance <= 10
                      else max(r.importance for r in cited))
            insights.append(Insight(text, ids, rating))
        if not insights:
            raise ParseError("no insight citing a valid memory number has words of its own; "
                             f"reply with a JSON object like {self.reply_format.example()}")
        return insights[: self.n]

    def fallback(self) -> list[Insight]:
        return self.context.rules.insights(self.question, self.records)

    def answer_with_rule(self, policy: Any) -> list[Insight]:
        return self.fallback()

    def encode(self, decision: list[Insight]) -> dict[str, Any]:
        return {"insights": [{"text": i.text, "evidence": list(i.evidence),
                              "importance": i.importance} for i in decision]}


@dataclass
class WriteHeirSummary(Task):
    """A parent tells its heir, in a few sentences, what it has learnt."""

    context: MemoryContext
    agent_id: str  # the parent, who writes
    heir: str
    records: list[MemoryRecord]
    persona: str = ""

    kind = "write_heir_summary"

    def observation(self) -> dict[str, Any]:
        return {"agent": self.agent_id, "heir": self.heir,
                "memories": [{"memory_id": r.memory_id, "text": r.text} for r in self.records]}

    def messages(self) -> list[dict[str, str]]:
        max_words = max(10, self.context.config.summary_max_chars // 6)
        user = self.context.prompts.render(
            "heir_summary.txt", name=self.context.name_of(self.agent_id),
            heir=self.context.name_of(self.heir), max_words=max_words,
            memories=describe_memories(self.records, author=self.agent_id),
            reply_format=self.reply_format.example(),
        )
        return [self.context.system_message(self.context.name_of(self.agent_id), self.persona),
                {"role": "user", "content": user}]

    @property
    def reply_format(self) -> ReplyFormat:
        return summary_format(self.context.config.summary_max_chars)

    def parse(self, reply: str) -> str:
        answer = self.reply_format.parse(reply, prose=lambda text: {"summary": text})
        return clean_free_text(answer.summary, max_chars=self.context.config.summary_max_chars)


    def fallback(self) -> str:
        return self.context.rules.heir_summary(
            self.agent_id, self.records, self.context.config.summary_max_chars
        )

    def answer_with_rule(self, policy: Any) -> str:
        return self.fallback()

    def encode(self, decision: str) -> dict[str, Any]:
        return {"summary": decision}
