"""The town's interviews while it runs: what each resident would say it knows, checked against
what it remembers (Park et al. 2023 measured diffusion and relationships this way).

- **Knowledge**, at the end of every day (at the run's cut on a short last day): every resident
  in town is asked whether it knows of each seeded intention (`AskKnowledge`). Its answer is
  checked against its whole memory stream: `in_memory` when a record it holds (or its
  summary) names the intention's keywords. Saying yes without such a memory is a
  hallucination; having one and saying no is counted too (`unrecalled`). Beside it, whether
  the keyword measure (`knowledge`) had it knowing by then.
- **Acquaintance**, at the start of the run and at its end: every resident is asked whether it
  knows of each other resident in town (`AskAcquaintance`, `names_per_question` names to a
  question), checked the same way against records naming them. A pair counts for the
  network's density when both say yes, as in the paper.

Questions are decisions like any other, asked of every resident at one simulated instant, so
they go out in one batch. Retrieval for them does not refresh what it finds (an interview does
not change what a resident recalls later), and nothing else in the run depends on an answer.
"""

from __future__ import annotations

import math
from collections.abc import Generator
from typing import TYPE_CHECKING, Any

from scenarios.town.config import Intention
from scenarios.town.interview_summary import current_summary
from scenarios.town.interview_tasks import (
    AskAcquaintance,
    AskKnowledge,
    Interviewee,
    Recalled,
    names_words,
    word_pattern,
)
from sim.memory import MemoryBank

if TYPE_CHECKING:
    from scenarios.town.model import Town
    from scenarios.town.resident import Resident

Steps = Generator[Any, Any, Any]
MINUTES_PER_DAY = 1440


def knowledge_question(intention: Intention, questions: dict[str, str]) -> str:
    """The question about an intention: `interviews.questions[topic]`, else one naming it."""
    if intention.topic in questions:
        return questions[intention.topic]
    if intention.kind == "event":
        return f"Have you heard of a {intention.topic}?"
    words = " or ".join(f"the {w}" for w in intention.words())
    return f"Have you heard any news about {words}?"


def recall(bank: MemoryBank, owner: str, query: Any, now: float, k: int) -> Recalled:
    """The owner's k best memories for `query` at `now`, looked at without recalling them."""
    return [(hit.record.memory_id, hit.record.text)
            for hit in bank.retrieve(owner, query, now=now, k=k, touch=False)]


def naming(bank: MemoryBank, owner: str, words: list[str]) -> list[int]:
    """Ids of the owner's memories (any kind, retrievable or not) that name any of `words`."""
    pattern = word_pattern(words)
    stream = bank.streams.get(owner)
    if pattern is None or stream is None:
        return []
    return [r.memory_id for r in stream.records if pattern.search(r.text)]


def named_in(bank: MemoryBank, owner: str, people: dict[str, str], summary: str) -> set[str]:
    """Which of `people` (id -> name) the owner's memories or summary name."""
    by_word = {w.lower(): agent for agent, name in people.items() for w in names_words(name)}
    pattern = word_pattern(by_word)
    if pattern is None:
        return set()
    stream = bank.streams.get(owner)
    texts = [summary, *(r.text for r in (stream.records if stream else []))]
    return {by_word[m.group(0).lower()] for text in texts for m in pattern.finditer(text)}


class TownInterviewer:
    """Asks the town's measuring questions at the start, at every day's end and at the end."""

    def __init__(self, town: Town) -> None:
        self.town = town
        self.settings = town.config.interviews

    def interviewee(self, resident: Resident) -> Interviewee:
        summary, _ = current_summary(resident)
        p = resident.person
        return Interviewee(p.agent_id, p.name, p.occupation, self.town.townmap.name, summary)

    def start(self) -> Steps:
        if self.settings.acquaintance:
            yield from self.acquaintance("start")

    def end_of_day(self, day: int, *, final: bool) -> Steps:
        if self.settings.knowledge and self.town.config.intentions:
            yield from self.knowledge(day)
        if final and self.settings.acquaintance:
            yield from self.acquaintance("end")

    def knowledge(self, day: int) -> Steps:
        town, settings = self.town, self.settings
        now = int(town.env.now)
        intentions = list(town.config.intentions)
        questions = [knowledge_question(i, settings.questions)
                     for i in intentions]
        vectors = town.bank.embed_queries(questions)
        asked = []
        for resident in list(town.living):
            who = self.interviewee(resident)
            for intention, question, vector in zip(intentions, questions, vectors, strict=True):
                task = AskKnowledge(town.ctx.prompts, who, question,
                                    recall(town.bank, resident.name, vector, now,
                                           settings.memories),
                                    topic=intention.topic, keywords=intention.words())
                asked.append((resident, who, intention, task, resident.decide(task)))
        if not asked:
            return
        yield town.env.all_of([event for *_, event in asked])
        rows = []
        for resident, who, intention, task, event in asked:
            says, reply = event.value
            evidence = naming(town.bank, resident.name, intention.words())
            pattern = word_pattern(intention.words())
            remembers = bool(evidence) or bool(pattern and pattern.search(who.summary))
            learnt = town.knows[intention.topic].get(resident.name)
            rows.append({
                "day": day, "minute": now - day * MINUTES_PER_DAY, "clock": now,
                "agent_id": resident.name, "topic": intention.topic, "answer": int(says),
                "in_memory": int(remembers), "knows": int(says and remembers),
                "hallucinated": int(says and not remembers),
                "unrecalled": int(not says and remembers),
                "keyword": int(learnt is not None and learnt <= now), "reply": reply,
                "source": task.source, "evidence": evidence})
        town.record("interview_knowledge", rows)

    def acquaintance(self, moment: str) -> Steps:
        town, settings = self.town, self.settings
        now = int(town.env.now)
        living = list(town.living)
        if len(living) < 2:
            return
        names = {r.name: r.person.name for r in living}
        queries = {r.name: r.person.name for r in living}  # what comes to mind at a name
        vectors = dict(zip(queries, town.bank.embed_queries(list(queries.values())),
                           strict=True))
        asked = []
        for resident in living:
            who = self.interviewee(resident)
            others = [r.name for r in living if r is not resident]
            per = settings.names_per_question
            for chunk in range(math.ceil(len(others) / per)):
                group = [(o, names[o], recall(town.bank, resident.name, vectors[o], now,
                                              settings.memories_per_name))
                         for o in others[chunk * per:(chunk + 1) * per]]
                task = AskAcquaintance(town.ctx.prompts, who, "Do you know of these people?",
                                       [], others=group)
                asked.append((resident, who, task, resident.decide(task)))
        yield town.env.all_of([event for *_, event in asked])
        day = min(now // MINUTES_PER_DAY, town.config.days - 1) if moment == "end" else 0
        rows, remembered = [], {}
        for resident, who, task, event in asked:
            if resident.name not in remembered:  # each resident's memories read once
                remembered[resident.name] = named_in(town.bank, resident.name, names,
                                                     who.summary)
            known = remembered[resident.name]
            rows += [{"moment": moment, "day": day, "minute": now - day * MINUTES_PER_DAY,
                      "clock": now, "agent_id": resident.name, "other_id": other,
                      "answer": int(event.value[other]), "in_memory": int(other in known),
                      "source": task.source} for other, _, _ in task.others]
        town.record("interview_acquaintance", rows)
