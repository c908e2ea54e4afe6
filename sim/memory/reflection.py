"""Remembering and reflecting as SimPy sub-processes: `yield from` them in a scenario's rules.

Every judgement here (how important a memory is, which questions to ask, what to conclude) is
a decision of the agent's brain, asked through `agent.decide(task)`. Each helper first asks all
of its questions and only then waits for the answers, so the questions of one agent, and of
every agent doing the same at that simulated instant, go to the gateway as one batch.

    def day(world, bank, agent, context):
        yield from remember(bank, agent, ["Ann gave me half her bread"], context=context)
        yield from maybe_reflect(bank, agent, context=context)   # reflects at the threshold
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from typing import TYPE_CHECKING, Any

from sim.memory.bank import MemoryBank
from sim.memory.records import MemoryRecord, NewMemory
from sim.memory.tasks import (
    FocalQuestions,
    Insight,
    MemoryContext,
    RateImportance,
    RateImportances,
    WriteInsights,
)

if TYPE_CHECKING:
    from sim.agent import SimAgent

Steps = Generator[Any, Any, list[MemoryRecord]]


def remember(
    bank: MemoryBank,
    agent: SimAgent,
    texts: Sequence[str],
    *,
    context: MemoryContext,
    kind: str = "observation",
    generation: int = 0,
    batch: bool = False,
) -> Steps:
    """Have the agent's brain rate each text's importance, then write them (one embedding
    batch) at the current simulated time. Returns the new records.

    With `batch`, several texts are rated in one question (`RateImportances`: one model call
    for all of them) instead of one question per text."""
    importances: list[int] = []
    if batch and len(texts) > 1:
        importances = list((yield agent.decide(
            RateImportances(context, agent.name, list(texts), kind, agent.persona))))
    else:
        pending = [
            agent.decide(RateImportance(context, agent.name, text, kind, agent.persona))
            for text in texts
        ]
        for event in pending:
            importances.append((yield event))
    items = [NewMemory(agent.name, text, kind, rating, generation)
             for text, rating in zip(texts, importances, strict=True)]
    return bank.add_many(items, now=agent.model.env.now)


def reflect(
    bank: MemoryBank, agent: SimAgent, *, context: MemoryContext, generation: int = 0
) -> Steps:
    """One reflection of the agent, whatever its importance counter says:

    1. its brain asks `focal_questions` questions about its `reflection_window` latest records
       (or, with `focal_records = "since_reflection"`, those since its last reflection);
    2. for each question the `evidence_per_question` best records are retrieved (refreshing
       their access time) and its brain writes up to `insights_per_question` insights citing
       them;
    3. the insights become `reflection` records whose evidence links are the cited records.

    The importance counted until the reflection began is consumed even when no insight
    results, so a reflection that finds nothing to say is not retried at once.
    """
    config, name = context.config, agent.name
    now = agent.model.env.now
    mark = bank.begin_reflection(name)
    records: list[MemoryRecord] = []
    stream = bank.stream(name)
    if config.focal_records == "since_reflection":
        recent = stream.since_reflection()
    else:
        recent = stream.recent(config.reflection_window)
    if recent:
        questions = yield agent.decide(
            FocalQuestions(context, name, recent, config.focal_questions, agent.persona)
        )
        records = yield from _write_insights(bank, agent, questions, context, generation)
    # Not in a `finally`: a run that stops mid-reflection abandons this generator, and its
    # half-done round is rolled back; nothing may be written for it afterwards.
    bank.finish_reflection(mark, now=now, insights=len(records))
    return records


def _write_insights(
    bank: MemoryBank,
    agent: SimAgent,
    questions: Sequence[str],
    context: MemoryContext,
    generation: int,
) -> Steps:
    config, name, now = context.config, agent.name, agent.model.env.now
    vectors = bank.embed_queries(questions) if questions else []
    pending = []
    for question, vector in zip(questions, vectors, strict=True):
        found = bank.retrieve(name, vector, now=now, k=config.evidence_per_question)
        task = WriteInsights(context, name, question, [hit.record for hit in found],
                             config.insights_per_question, agent.persona)
        pending.append(agent.decide(task))
    insights: list[Insight] = []
    for event in pending:
        insights.extend((yield event))
    seen: set[str] = set()
    unique = [i for i in insights if not (i.text in seen or seen.add(i.text))]
    return bank.add_many(
        [NewMemory(name, i.text, "reflection", i.importance, generation, i.evidence)
         for i in unique],
        now=now,
    )


def maybe_reflect(
    bank: MemoryBank, agent: SimAgent, *, context: MemoryContext, generation: int = 0
) -> Steps:
    """Reflect if the agent's unconsumed importance has reached the threshold; else nothing."""
    if bank.stream(agent.name).needs_reflection(context.config.reflection_threshold):
        return (yield from reflect(bank, agent, context=context, generation=generation))
    return []
