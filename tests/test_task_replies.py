"""Every task that asks for JSON: its schema, its prompt and its parser agree.

Each task's reply is declared once (`sim.llm.reply_format`); these tests hold every converted
task to that: the prompt shows the declared JSON, a reply built from the schema alone parses,
and a reply breaking each bound is refused with a repair message naming the field. (The Donor
Game asks for JSON with `reasoning_format = "json"`; its default prose answers are tested in
tests/test_donor_game_prompts.py.)
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from scenarios.donor_game.config import DonorGameConfig
from scenarios.donor_game.strategies import Donation
from scenarios.donor_game.tasks import Donate, GameContext, WriteStrategy
from sim.llm.reply_format import ReplyFormat
from sim.memory import MemoryRecord
from sim.memory.tasks import (
    FocalQuestions,
    MemoryContext,
    RateImportance,
    WriteHeirSummary,
    WriteInsights,
)
from sim.tasks import ParseError, Task

RECORDS = [
    MemoryRecord(10, "a0", "a1 gave nothing to me", "observation", 5, 0.0),
    MemoryRecord(11, "a0", "a2 donated half to me", "observation", 3, 1.0),
    MemoryRecord(12, "a0", "a1 punished a3", "observation", 8, 2.0),
]


def _facts(resources: float = 12.5) -> dict[str, Any]:
    return {"generation": 0, "game": 0, "round": 1, "donor": "g0-a01", "recipient": "g0-a02",
            "donor_resources": resources, "recipient_resources": 9.0, "trace": []}


def _donate(answer_unit: str, punishment: str, resources: float = 12.5) -> Donate:
    config = DonorGameConfig(agents=4, answer_unit=answer_unit, punishment=punishment,
                             reasoning_format="json")
    return Donate(GameContext.from_config(config), _facts(resources), "be kind")


def _tasks() -> list[tuple[str, Task]]:
    tasks: list[tuple[str, Task]] = []
    for unit in ("units", "percent"):
        for punishment in ("none", "costly", "partner_choice"):
            tasks.append((f"donate-{unit}-{punishment}", _donate(unit, punishment)))
    for fmt in ("reasoned", "json"):
        context = GameContext.from_config(DonorGameConfig(agents=4, strategy_format=fmt,
                                                          reasoning_format="json"))
        tasks.append((f"strategy-{fmt}", WriteStrategy(context, "g0-a00", 0)))
    memory = MemoryContext()
    tasks += [
        ("importance", RateImportance(memory, "a0", "a1 punished me")),
        ("questions", FocalQuestions(memory, "a0", RECORDS, n=2)),
        ("insights", WriteInsights(memory, "a0", "Whom can I trust?", RECORDS, n=2)),
        ("summary", WriteHeirSummary(memory, "a0", "b0", RECORDS)),
    ]
    return tasks


TASKS = _tasks()


def _format(task: Task) -> ReplyFormat:
    assert task.reply_format is not None
    return task.reply_format


@pytest.mark.parametrize(("name", "task"), TASKS, ids=[name for name, _ in TASKS])
def test_schema_prompt_and_parser_come_from_one_declaration(name: str, task: Task) -> None:
    fmt = _format(task)
    assert task.response_format() == fmt.response_format()
    prompt = task.messages()[-1]["content"]
    shown = fmt.describe() if name.startswith("strategy") else fmt.example()
    assert shown in prompt  # the prompt shows exactly the declared reply
    assert "$" not in prompt
    schema = fmt.response_format()["json_schema"]["schema"]
    assert all(f'"{key}"' in prompt for key in schema["properties"])
    # what a model following the schema literally sends is read
    sample = json.dumps(fmt.sample())
    decision = task.parse(sample)
    assert decision is not None
    assert task.encode(decision)  # and can be stored


DONATION_BOUNDS = [
    ("units", '{"units": 12.6}', r'"units" is outside the allowed range 0 to 12.5'),
    ("units", '{"units": -1}', r'"units" is outside the allowed range 0 to 12.5'),
    ("percent", '{"percent": 101}', r'"percent" is outside the allowed range 0 to 100'),
    ("percent", '{"percent": "a lot"}', r'"percent" must be a number'),
]


@pytest.mark.parametrize(("unit", "reply", "message"), DONATION_BOUNDS)
def test_donation_bounds_are_refused_naming_the_field(unit: str, reply: str,
                                                      message: str) -> None:
    with pytest.raises(ParseError, match=message):
        _donate(unit, "costly").parse(reply)


def test_donation_choices_and_their_repair_message() -> None:
    task = _donate("units", "costly")
    with pytest.raises(ParseError, match=r'"action" must be "give" or "punish" \(got "refuse"\)'):
        task.parse('{"action": "refuse", "units": 1}')
    assert task.parse('{"action": "Donate", "units": 1}') == Donation("donate", 0.08, units=1.0)
    assert task.parse('{"action": "PUNISH", "units": "2.5"}') == Donation("punish", 0.2,
                                                                           units=2.5)
    refusing = _donate("units", "partner_choice")
    assert refusing.parse('{"action": "refuse"}') == Donation("refuse", 0.0)  # no amount needed
    assert refusing.parse("I refuse to play with them.") == Donation("refuse", 0.0)
    with pytest.raises(ParseError, match='"units" is missing'):
        task.parse('{"action": "punish"}')


def test_the_donors_resources_bound_each_decision() -> None:
    poor, rich = _donate("units", "none", 3.0), _donate("units", "none", 40.0)
    assert poor.response_format()["json_schema"]["schema"]["properties"]["units"]["maximum"] == 3
    assert '"units": <number from 0 to 40>' in rich.messages()[-1]["content"]
    assert rich.parse('{"units": 20}').fraction == 0.5
    with pytest.raises(ParseError, match="outside the allowed range 0 to 3"):
        poor.parse('{"units": 20}')
    # prose replies meet the same bound and the game's own verbs mark the answer
    assert poor.parse("They gave 40% before, so I will donate 2.") .units == 2
    with pytest.raises(ParseError, match="outside the allowed range 0 to 3"):
        poor.parse("I will donate 20.")


def test_percent_is_asked_whole_but_read_with_decimals() -> None:
    task = _donate("percent", "none")
    schema = task.response_format()["json_schema"]["schema"]["properties"]["percent"]
    assert schema == {"type": "integer", "minimum": 0, "maximum": 100}
    assert task.parse('{"percent": 33.5}').fraction == pytest.approx(0.335)
    assert task.parse('{"percentage": "40%"}').fraction == pytest.approx(0.4)


def test_strategy_describes_its_values_in_words_not_placeholders() -> None:
    _, reasoned = TASKS[6]
    prompt = reasoned.messages()[-1]["content"]
    assert ('Reply with only a JSON object with two keys: "reasoning", whose value is your '
            'step-by-step thinking, and then "strategy", whose value is that one sentence.'
            ) in prompt
    assert "<" not in prompt.split("Reply with only")[-1]
    with pytest.raises(ParseError, match='"strategy" repeats the prompt'):
        reasoned.parse('{"reasoning": "ok", "strategy": "that one sentence"}')
    with pytest.raises(ParseError, match='"strategy" is missing'):
        reasoned.parse('{"reasoning": "Gifts are doubled, so I should give."}')
    too_long = "My strategy will be to give " + "half " * 300
    assert len(reasoned.parse(json.dumps({"strategy": too_long}))) <= \
        DonorGameConfig(agents=4).strategy_max_chars  # cut, not refused


def test_memory_replies_refuse_what_breaks_their_bounds() -> None:
    _, importance = TASKS[8]
    with pytest.raises(ParseError, match=r'"importance" is outside the allowed range 1 to 10'):
        importance.parse('{"importance": 11}')
    assert importance.parse('{"rating": "7"}') == 7
    _, questions = TASKS[9]
    with pytest.raises(ParseError, match=r'"questions" must hold at least one question'):
        questions.parse('{"questions": ["a1 is mean."]}')
    with pytest.raises(ParseError, match=r'"questions" must have at least 1 item'):
        questions.parse('{"questions": []}')
    _, insights = TASKS[10]
    with pytest.raises(ParseError, match=r'"insights\[0\].evidence\[0\]" is outside the allowed '
                                         r'range 1 to 3 \(got 4\)'):
        insights.parse('{"insights": [{"insight": "a1 is harsh", "evidence": [4]}]}')
    with pytest.raises(ParseError, match=r'"insights\[0\].evidence" must have at least 1 item'):
        insights.parse('{"insights": [{"insight": "a1 is harsh", "evidence": []}]}')
    _, summary = TASKS[11]
    with pytest.raises(ParseError, match=r'"summary" must be text'):
        summary.parse('{"summary": 3}')
    with pytest.raises(ParseError, match=r'"summary" repeats the prompt'):
        summary.parse('{"summary": "<your lessons and advice>"}')


def test_a_reply_over_the_donors_resources_is_repaired_through_the_gateway(
    tmp_path: Path,
) -> None:
    """Over real HTTP: the schema sent carries the donor's bound, an answer over it gets the
    reply format's repair message, and the repaired answer is stored."""
    from scenarios.donor_game.scripted_player import is_strategy_request, scripted_player
    from sim.config import load_config
    from sim.registry import get_scenario
    from sim.runs.runner import run_scenario
    from sim.testing.scripted_server import ChatRequest, ScriptedLLMServer

    def greedy_then_modest(request: ChatRequest) -> str:
        if is_strategy_request(request):
            return scripted_player(request)
        if len(request.messages) > 2:  # the repair prompt
            return '{"reasoning": "fine", "units": 1}'
        return '{"reasoning": "all in", "units": 1000}'

    scenario = get_scenario("donor-game")
    with ScriptedLLMServer(greedy_then_modest) as server:
        config = load_config(scenario.config_type, values={
            "model": "openai/scripted", "api_base": server.url, "agents": 4,
            "generations": 1, "rounds": 1, "games": 1, "seed": 3, "timeout_s": 5.0,
            "reasoning_format": "json"})
        result = run_scenario(scenario, config, run_dir=tmp_path / "run", progress=False,
                              figures=False)
        requests = [r for r in server.requests if not is_strategy_request(r)]
    assert result.status == "finished"
    first = next(r for r in requests if len(r.messages) == 2)
    repair = next(r for r in requests if len(r.messages) > 2)
    schema = first.body["response_format"]["json_schema"]["schema"]
    assert schema["properties"]["units"]["maximum"] == config.endowment
    assert '"units" is outside the allowed range 0 to' in repair.messages[-1]["content"]
    assert "(got 1000" in repair.messages[-1]["content"]
    db = sqlite3.connect(result.run_dir / "run.sqlite")
    try:
        rows = db.execute("SELECT source, decision FROM decisions WHERE task = 'donate'").fetchall()
    finally:
        db.close()
    assert rows and all(source == "repaired" for source, _ in rows)
    assert all(json.loads(decision)["units"] == 1 for _, decision in rows)


FENCED = "We could agree on this:\n```\ncatch = 5 if stock > 50 else 2\n```\nthen we all gain."


def test_strategies_and_utterances_keep_their_code_fences() -> None:
    """A fence inside an agent's text once replaced the text by the fence's content before
    it was stored and passed on to other agents."""
    from types import SimpleNamespace

    from scenarios.commons.tasks import Speak as CommonsSpeak
    from scenarios.town.social import Speak as TownSpeak

    as_json = GameContext.from_config(DonorGameConfig(agents=4, strategy_format="json"))
    assert WriteStrategy(as_json, "g0-a00", 0).parse(
        json.dumps({"reasoning": "r", "strategy": FENCED})) == FENCED
    reasoned = WriteStrategy(GameContext.from_config(DonorGameConfig(agents=4)), "g0-a00", 0)
    assert reasoned.parse(f"I weighed it. My strategy will be this. {FENCED}") == (
        f"My strategy will be this. {FENCED}")
    speak = CommonsSpeak(SimpleNamespace(utterance_max_chars=400), {})
    assert speak.parse(json.dumps({"utterance": FENCED})) == FENCED
    assert speak.parse(FENCED) == FENCED  # prose: a fence inside the reply is the text's own
    # (the town's reader uses nothing of its task but the reply)
    assert TownSpeak.read(None, json.dumps({"utterance": FENCED,  # type: ignore[arg-type]
                                            "end_conversation": False})) == (FENCED, False)
