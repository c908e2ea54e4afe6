"""The town's interview questions to a resident: any question (`AnswerQuestion`), whether it
knows of a seeded intention (`AskKnowledge`), and which of some residents it knows of
(`AskAcquaintance`).

Each answers from the resident's summary and the memories retrieved for the question, as
interviewed agents do in Park et al. (2023). Rule brains answer from those memories alone (an
answer quoting the top ones; "knows" when one of them names the topic or the person), models
from the prompts `interview_*.txt`. Memories reach a prompt only inside `quote_agent_text`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from pydantic import AliasChoices, Field

from scenarios.town.tasks import TownTask
from sim import PromptLibrary, quote_agent_text
from sim.llm import Reply, ReplyFormat, clean_free_text, reply_model, schema_only

#: Memories an interview question is shown: (memory id, text), most relevant first.
Recalled = list[tuple[int, str]]
#: How many retrieved memories a rule answer quotes, and how much of each.
QUOTED = 3
QUOTED_CHARS = 160


class AnswerReply(Reply):
    answer: str = Field(description="your answer, in the first person",
                        validation_alias=AliasChoices("answer", "reply", "text"),
                        json_schema_extra=schema_only(maxLength=800))


class KnowledgeReply(Reply):
    answer: str = Field(description="what you know about it, in a sentence or two",
                        validation_alias=AliasChoices("answer", "reply", "text"),
                        json_schema_extra=schema_only(maxLength=400))
    # shown as `true or false`: an example value would suggest the answer
    knows: bool = Field(description="whether you know of it",
                        validation_alias=AliasChoices("knows", "known", "heard"),
                        json_schema_extra=schema_only(enum=[True, False]))


#: Their prompts describe them in words: SmolLM2 copied the example's placeholder back as its
#: answer ("<what you know about it, ...>").
ANSWER = ReplyFormat(AnswerReply, name="interview_answer")
KNOWLEDGE = ReplyFormat(KnowledgeReply, name="interview_knowledge")


@lru_cache(maxsize=1024)
def acquaintance_format(people: tuple[tuple[str, str], ...]) -> ReplyFormat:
    """One key per resident asked about, its id, with true or false: a grammar-constrained
    model then answers for each of them, and for no one else (asked as a list, SmolLM2
    answered for one of two)."""
    fields = {f"person_{i}": (bool, Field(alias=agent, description=f"whether you know of {name}",
                                          json_schema_extra=schema_only(enum=[True, False])))
              for i, (agent, name) in enumerate(people)}
    return ReplyFormat(reply_model("AcquaintanceReply", **fields),
                       name="interview_acquaintance")


def word_pattern(words: Iterable[str]) -> re.Pattern[str] | None:
    """A case-insensitive pattern matching any of `words` as whole words (None: no words)."""
    alternatives = sorted({w.strip().lower() for w in words if w.strip()}, key=len, reverse=True)
    if not alternatives:
        return None
    return re.compile(r"\b(?:" + "|".join(re.escape(w) for w in alternatives) + r")\b",
                      re.IGNORECASE)


def names_words(name: str) -> list[str]:
    """How a resident is named in memories: the full name and the first name."""
    return [name, name.split()[0]] if name.split() else [name]


def _shortened(text: str) -> str:
    text = " ".join(text.split()).rstrip(".")
    if len(text) <= QUOTED_CHARS:
        return text
    return text[: QUOTED_CHARS - 1].rsplit(" ", 1)[0] + "…"


def memory_list(memories: Recalled, author: str) -> str:
    lines = "\n".join(f"{i}. {text.strip()}" for i, (_, text) in enumerate(memories, start=1))
    return quote_agent_text(lines or "(nothing comes to mind)", author=author)


@dataclass
class Interviewee:
    """Who answers: id, name, occupation, the town's name and its summary."""

    agent_id: str
    name: str
    occupation: str
    town: str
    summary: str


@dataclass
class InterviewTask(TownTask):
    """What every interview question shares: the prompts, who answers and what it recalls."""

    prompts: PromptLibrary
    who: Interviewee
    question: str
    memories: Recalled

    def messages(self) -> list[dict[str, str]]:
        w = self.who
        system = self.prompts.render(
            "interview_system.txt", name=w.name, town=w.town, occupation=w.occupation,
            summary=quote_agent_text(w.summary, author=w.agent_id))
        return [{"role": "system", "content": system},
                {"role": "user", "content": self.user_prompt()}]

    def user_prompt(self) -> str:
        raise NotImplementedError

    def base_observation(self) -> dict[str, Any]:
        return {"agent": self.who.agent_id, "summary": self.who.summary,
                "question": self.question, "memories": [list(m) for m in self.memories]}

    def default(self) -> Any:
        return self.rule()


@dataclass
class AnswerQuestion(InterviewTask):
    """Any question, answered in a few sentences."""

    category: str = "question"

    kind = "interview"

    def observation(self) -> dict[str, Any]:
        return {**self.base_observation(), "category": self.category}

    def user_prompt(self) -> str:
        return self.prompts.render(
            "interview_question.txt", name=self.who.name, question=self.question,
            memories=memory_list(self.memories, self.who.agent_id),
            reply_format=ANSWER.describe())

    @property
    def reply_format(self) -> ReplyFormat:
        return ANSWER

    def read(self, reply: str) -> str:
        return clean_free_text(ANSWER.parse(reply).answer, max_chars=800, extracted=True)

    def rule(self) -> str:
        """What the top memories say; the summary when nothing comes to mind."""
        if not self.memories:
            return self.who.summary
        quoted = "; ".join(_shortened(text) for _, text in self.memories[:QUOTED])
        return f"What comes to mind: {quoted}."

    def encode(self, decision: str) -> dict[str, Any]:
        return {"answer": decision}


@dataclass
class AskKnowledge(InterviewTask):
    """Does it know of a seeded intention? (yes/no, and what it knows)."""

    topic: str = ""
    keywords: Sequence[str] = ()

    kind = "interview_knowledge"

    def observation(self) -> dict[str, Any]:
        return {**self.base_observation(), "topic": self.topic, "keywords": list(self.keywords)}

    def user_prompt(self) -> str:
        return self.prompts.render(
            "interview_knowledge.txt", name=self.who.name, question=self.question,
            memories=memory_list(self.memories, self.who.agent_id),
            reply_format=KNOWLEDGE.describe())

    @property
    def reply_format(self) -> ReplyFormat:
        return KNOWLEDGE

    def read(self, reply: str) -> tuple[bool, str]:
        answer = KNOWLEDGE.parse(reply)
        text = (clean_free_text(answer.answer, max_chars=400, extracted=True)
                if answer.answer.strip() else "")
        return bool(answer.knows), text

    def rule(self) -> tuple[bool, str]:
        """Yes when its summary or a retrieved memory names the topic, quoting it."""
        pattern = word_pattern(self.keywords)
        texts = [self.who.summary, *(text for _, text in self.memories)]
        naming = [text for text in texts if pattern and pattern.search(text)]
        if naming:
            return True, f"Yes: {naming[0].strip()}"
        return False, "No, I have not heard of that."

    def encode(self, decision: tuple[bool, str]) -> dict[str, Any]:
        return {"knows": decision[0], "answer": decision[1]}


@dataclass
class AskAcquaintance(InterviewTask):
    """Which of these residents does it know of? `others`: (id, name, memories for them)."""

    others: Sequence[tuple[str, str, Recalled]] = ()

    kind = "interview_acquaintance"

    def observation(self) -> dict[str, Any]:
        return {"agent": self.who.agent_id, "summary": self.who.summary,
                "others": [[i, name, [list(m) for m in recalled]]
                           for i, name, recalled in self.others]}

    def user_prompt(self) -> str:
        people = "\n".join(f"- {i}: {name}. What you remember about them:\n"
                           f"{memory_list(recalled, self.who.agent_id)}"
                           for i, name, recalled in self.others)
        return self.prompts.render("interview_acquaintance.txt", name=self.who.name,
                                   people=people, reply_format=self.reply_format.example())

    @property
    def reply_format(self) -> ReplyFormat:
        return acquaintance_format(tuple((i, name) for i, name, _ in self.others))

    def read(self, reply: str) -> dict[str, bool]:
        answers = self.reply_format.parse(reply).model_dump(by_alias=True)
        return {i: bool(answers[i]) for i, _, _ in self.others}

    def rule(self) -> dict[str, bool]:
        """Knows of someone when its summary or a memory retrieved for them names them."""
        known = {}
        for i, name, recalled in self.others:
            pattern = word_pattern(names_words(name))
            texts = [self.who.summary, *(text for _, text in recalled)]
            known[i] = any(pattern is not None and pattern.search(text) for text in texts)
        return known

    def encode(self, decision: dict[str, bool]) -> dict[str, Any]:
        return {"known": decision}
