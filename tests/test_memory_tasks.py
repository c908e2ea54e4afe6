"""Memory tasks: prompts, tolerant parsing of model replies, rule answers, and one reflection
by an LLM brain end to end through the gateway and a loopback model server."""

from __future__ import annotations

import json

import pytest

from sim.agent import SimAgent
from sim.brains import LLMBrain, RuleBrain
from sim.llm.settings import LLMSettings
from sim.memory import MemoryBank, MemoryConfig, MemoryRecord
from sim.memory.embeddings import HashingEmbedder
from sim.memory.reflection import maybe_reflect, remember
from sim.memory.tasks import (
    FocalQuestions,
    MemoryContext,
    MemoryRules,
    RateImportance,
    RateImportances,
    WriteHeirSummary,
    WriteInsights,
    name_like_subjects,
)
from sim.tasks import ParseError
from sim.testing.scripted_server import ChatRequest, ScriptedLLMServer
from sim.world import World

CONTEXT = MemoryContext()
RECORDS = [
    MemoryRecord(10, "a0", "a1 gave nothing to me", "observation", 5, 0.0),
    MemoryRecord(11, "a0", "a2 donated half to me", "observation", 3, 1.0),
    MemoryRecord(12, "a0", "a1 punished a3 <b>hard</b>", "observation", 8, 2.0),
]


def test_rate_importance_parses_ratings_and_falls_back_to_the_rule() -> None:
    task = RateImportance(CONTEXT, "a0", "a1 punished me")
    assert task.parse('{"importance": 7}') == 7
    assert task.parse("I would rate this 8/10.") == 8
    assert task.parse("Rating: 3.6") == 4
    assert task.parse("9 out of 10") == 9
    with pytest.raises(ParseError):
        task.parse("12")
    with pytest.raises(ParseError):
        task.parse("hard to say")
    assert task.fallback() == task.answer_with_rule(None) == 8  # 'punished' in the table
    content = task.messages()[1]["content"]
    assert "a1 punished me" in content and "<agent_text" in content


def test_rate_importances_rates_several_texts_in_one_question() -> None:
    task = RateImportances(CONTEXT, "a0", ["a1 punished me", "I ate bread", "a2 died"])
    assert task.parse('{"ratings": [7, 2, 10]}') == [7, 2, 10]
    assert task.parse("1. 6/10\n2. 1\n3. 9") == [6, 1, 9]
    assert task.parse("Ratings: 3, 4 and 5") == [3, 4, 5]
    for reply in ('{"ratings": [7, 2]}', '{"ratings": [7, 2, 11]}', "no idea"):
        with pytest.raises(ParseError):
            task.parse(reply)
    assert task.fallback() == task.answer_with_rule(None) == [8, 2, 10]
    content = task.messages()[1]["content"]
    assert "these 3 memories" in content and "2. I ate bread" in content


def test_remember_in_a_batch_asks_one_question_for_all_texts() -> None:
    world = World(seed=0)
    agent = SimAgent(world, name="a0", brain=RuleBrain(None))
    bank = MemoryBank(HashingEmbedder(), MemoryConfig())
    asked: list[str] = []
    original = world.request_decision

    def spy(who, task):  # type: ignore[no-untyped-def]
        asked.append(task.kind)
        return original(who, task)

    world.request_decision = spy  # type: ignore[method-assign]
    world.process(remember(bank, agent, ["a1 punished me", "I ate bread"], context=CONTEXT,
                           batch=True))
    world.run()
    assert asked == ["rate_importances"]
    assert [r.importance for r in bank.stream("a0").recent(5)] == [8, 2]


def test_focal_questions_from_json_lists_and_prose() -> None:
    task = FocalQuestions(CONTEXT, "a0", RECORDS, n=2)
    assert task.parse('{"questions": ["Whom can I trust?", "Why is a1 cruel?", "x?"]}') == [
        "Whom can I trust?", "Why is a1 cruel?",
    ]
    reply = "Here are my questions:\n1. **Whom can I trust?**\n2) Why did a1 punish a3?\n"
    assert task.parse(reply) == ["Whom can I trust?", "Why did a1 punish a3?"]
    with pytest.raises(ParseError, match="questions"):
        task.parse("a1 is mean. a2 is kind.")
    content = task.messages()[1]["content"]
    assert "1. a1 gave nothing to me" in content and "&lt;b&gt;" in content


def test_write_insights_maps_statement_numbers_to_memory_ids() -> None:
    task = WriteInsights(CONTEXT, "a0", "Whom can I trust?", RECORDS, n=5)
    json_reply = json.dumps({"insights": [
        {"insight": "a1 is harsh", "evidence": [1, 3], "importance": 7},
        {"insight": "a2 is generous", "evidence": ["2"]},
        {"insight": "cites nothing real", "evidence": [9]},
    ]})
    first, second = task.parse(json_reply)
    assert (first.text, first.evidence, first.importance) == ("a1 is harsh", (10, 12), 7)
    # No importance given: the highest importance among the cited memories.
    assert (second.text, second.evidence, second.importance) == ("a2 is generous", (11,), 3)
    lines = "1. a1 cannot be trusted (because of 1, 3)\n- a2 helps others [2]\nunsupported claim"
    parsed = task.parse(lines)
    assert [(i.text, i.evidence) for i in parsed] == [
        ("a1 cannot be trusted", (10, 12)), ("a2 helps others", (11,)),
    ]
    with pytest.raises(ParseError, match="valid memory number"):
        task.parse("a1 is bad (because of 7)")


def test_rule_insight_cites_the_best_retrieved_records() -> None:
    task = WriteInsights(CONTEXT, "a0", "What do I know about a1?", RECORDS)
    [insight] = task.answer_with_rule(None)
    assert insight.evidence == (10, 11, 12) and insight.importance == 8
    assert insight.text.startswith("What do I know about a1? I recall: a1 gave nothing to me;")


def test_rule_focal_questions_vote_by_importance_on_named_subjects() -> None:
    rules = MemoryRules(salient_importance=5)
    # Salient (importance >= 5): records 10 (a1: 5) and 12 (a1, a3: 8) -> a1 13, a3 8.
    assert rules.focal_questions(RECORDS, 3) == ["What do I know about a1?",
                                                 "What do I know about a3?"]
    assert name_like_subjects("Maria met g3-a07 at the Cafe in round 3") == [
        "Maria", "g3-a07", "Cafe",
    ]


def test_heir_summary_parse_and_rule() -> None:
    task = WriteHeirSummary(CONTEXT, "a0", "b0", RECORDS)
    assert task.parse('{"summary": "Trust a2, not a1."}') == "Trust a2, not a1."
    assert task.fallback().startswith("What a0 learnt: a1 gave nothing to me.")
    assert "b0" in task.messages()[1]["content"]


def scripted_mind(request: ChatRequest) -> str:
    """Answers memory prompts the way a cooperative model would, in several formats."""
    prompt = request.messages[-1]["content"]
    if "Rate it from 1 to 10" in prompt:
        return "This matters a lot to me. Rating: 9/10"
    if "high-level questions" in prompt:
        return "1. Whom can I trust?\n2. What does a1 want?"
    if "high-level insights" in prompt:
        return ("- a1 is not to be trusted (because of 1, 2)\n- a2 is kind (because of 2)\n"
                "- a3 is far away (because of 3)")
    return "?"


def test_an_llm_brain_reflects_through_the_gateway() -> None:
    config = MemoryConfig(reflection_threshold=18, focal_questions=2, evidence_per_question=3)
    context = MemoryContext(config=config)
    with ScriptedLLMServer(scripted_mind) as server:
        world = World(seed=0)
        brain = LLMBrain(LLMSettings(model="openai/scripted", api_base=server.url,
                                     timeout_s=5.0, max_retries=0))
        agent = SimAgent(world, name="a0", brain=brain)
        bank = MemoryBank(HashingEmbedder(), config)
        written = []

        def process():
            yield from remember(bank, agent, ["a1 gave nothing to me", "a2 shared bread"],
                                context=context)
            written.extend((yield from maybe_reflect(bank, agent, context=context)))

        world.process(process())
        world.run()
        world.close()
    assert [r.importance for r in bank.stream("a0").records[:2]] == [9, 9]
    # Two memories were shown, so "(because of 3)" cites nothing and that insight is dropped;
    # both questions got the same insights, which are written once.
    assert [r.text for r in written] == ["a1 is not to be trusted", "a2 is kind"]
    for record in written:
        assert record.kind == "reflection" and record.evidence
        assert all(e in bank for e in record.evidence)
    # 2 ratings (one batch), 1 question request, then 2 insight requests (one batch).
    assert world.batches_resolved == 3
    assert world.gateway.stats.fallbacks == 0
