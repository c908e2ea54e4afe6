"""Interviewing a finished town run (`societas interview RUN_DIR`, `sim.interview_run`).

Residents answer as of the end of the run, or as of a moment of it (`--at DAY HH:MM`, days
counted from 1): from their summary at that moment (`interview_summary`) and the memories
retrieval finds for the question among those they held then (`MemoryBank.load(until=...)`,
looked at without refreshing them). Rule brains answer from the top memories; a model (the
run's, or `--model` for the session) from `prompts/interview_question.txt`. `--battery` asks
every resident the believability questions of `prompts/interview_battery.toml` (five
categories, after Park et al. 2023). Answers go to the `interviews` table; the engine keeps
the session replayable (`sim.runs.interview`).
"""

from __future__ import annotations

import re
import string
import tomllib
from collections.abc import Generator
from typing import TYPE_CHECKING, Any

from scenarios.town.interview_config import INTERVIEW_TABLES
from scenarios.town.interview_daily import recall
from scenarios.town.interview_summary import persona_summary, summary_at
from scenarios.town.interview_tasks import AnswerQuestion, Interviewee
from sim import LLMBrain, PromptLibrary, RuleBrain, SimAgent, UserError
from sim.interviews import Answer, InterviewAsk, InterviewRequest, Interviews, Question
from sim.memory import MemoryBank, get_embedder

if TYPE_CHECKING:
    from scenarios.town.config import TownConfig
    from sim import RunStore
    from sim.interviews import InterviewWorld

MINUTES_PER_DAY = 1440
BATTERY_FILE = "interview_battery.toml"
CATEGORIES = ("self_knowledge", "memory", "plans", "reactions", "reflections")
_HHMM = re.compile(r"^(\d{1,2}):(\d{2})$")


def moment_text(clock: float) -> str:
    """'day 2 09:30'; a midnight that ends a day reads as that day's 24:00 (days from 1)."""
    clock = int(clock)
    if clock > 0 and clock % MINUTES_PER_DAY == 0:
        return f"day {clock // MINUTES_PER_DAY} 24:00"
    day, minute = divmod(clock, MINUTES_PER_DAY)
    return f"day {day + 1} {minute // 60:02d}:{minute % 60:02d}"


def parse_moment(day: int, hhmm: str, end: int) -> int:
    """`--at DAY HH:MM` (day counted from 1; 24:00 ends a day) as the clock, within the run."""
    match = _HHMM.match(hhmm.strip())
    hour, minute = (int(match.group(1)), int(match.group(2))) if match else (-1, -1)
    if not (0 <= hour <= 24 and 0 <= minute < 60) or (hour == 24 and minute):
        raise UserError(f"--at {day} {hhmm}: the time must be HH:MM, from 00:00 to 24:00")
    clock = (day - 1) * MINUTES_PER_DAY + hour * 60 + minute
    if day < 1 or clock > end:
        raise UserError(f"--at {day} {hhmm} is outside the run, which lasted from day 1 00:00 "
                        f"to {moment_text(end)}")
    return clock


class InterviewRule:
    """A rule resident's brain in an interview: the questions answer by their own rule."""

    family = "town_rule"

    def params(self) -> dict[str, float]:
        return {}


class TownInterviews(Interviews):
    """The town's side of `sim.interviews`: who lives in town when, what they are asked, and
    how their answers are stored."""

    def adjust_config(self, data: dict[str, Any], model: str | None) -> dict[str, Any]:
        return {**data, "brains": "llm"} if model is not None else data

    def moment_text(self, at: float) -> str:
        return moment_text(at)

    def resolve(self, store: RunStore, config: TownConfig,  # type: ignore[override]
                ask: InterviewAsk) -> InterviewRequest:
        end = config.end_minute
        at = end if ask.at is None else parse_moment(ask.at[0], ask.at[1], end)
        stays = {agent: (first, last) for agent, first, last in store.rows(
            "SELECT agent_id, first_day, last_day FROM residents ORDER BY rowid")}
        there = [agent for agent, (first, last) in stays.items() if _in_town(first, last, at)]
        for agent in ask.agents:
            if agent not in stays:
                raise UserError(f"unknown resident {agent!r} (residents: "
                                f"{', '.join(stays)})")
            if agent not in there:
                first, last = stays[agent]
                lived = f"days {first + 1} to {last + 1}" if last is not None else \
                    f"from day {first + 1}"
                raise UserError(f"resident {agent!r} did not live in town at {moment_text(at)}"
                                f" (lived there {lived})")
        agents = tuple(dict.fromkeys(ask.agents)) or tuple(there)
        if not agents:
            raise UserError(f"no resident lived in town at {moment_text(at)}")
        if ask.battery:
            return InterviewRequest(agents, battery(config), at, "battery")
        return InterviewRequest(agents, (Question(ask.question or ""),), at, "questions")

    def conduct(self, world: InterviewWorld, request: InterviewRequest
                ) -> Generator[Any, Any, Any]:
        store, config = world.store, world.config
        assert store is not None
        for name, columns in INTERVIEW_TABLES.items():
            store.define_table(name, columns)
        settings = config.memory_settings
        bank = MemoryBank.load(store, get_embedder(settings.embedder), settings,
                               until=request.at)
        prompts = PromptLibrary("scenarios.town", config.prompts_dir)
        people, there = {}, []
        for agent, name, occupation, persona, first, last in store.rows(
                "SELECT agent_id, name, occupation, persona, first_day, last_day FROM "
                "residents ORDER BY rowid"):
            people[agent] = (name, occupation or "", persona or "")
            if _in_town(first, last, request.at):
                there.append(agent)
        town = next(iter(store.rows("SELECT name FROM places WHERE level = 'town'")),
                    ("the town",))[0]
        brain = LLMBrain(config.llm_settings()) if config.llm else RuleBrain(InterviewRule())
        asked = []
        for agent in request.agents:
            name, occupation, persona = people[agent]
            summary, source = summary_at(store, agent, request.at,
                                         persona_summary(name, occupation, persona, town))
            who = Interviewee(agent, name, occupation, town, summary)
            member = SimAgent(world, name=agent, brain=brain, persona=persona)
            other = people[there[(there.index(agent) + 1) % len(there)]][0]
            for question in request.questions:
                text = _render(question, name, town, other)
                task = AnswerQuestion(prompts, who, text, recall(
                    bank, agent, text, request.at, config.interviews.memories),
                    category=question.category)
                asked.append((agent, question, text, task, source, member.decide(task)))
        yield world.env.all_of([event for *_, event in asked])
        day = max(0, int(request.at) - 1) // MINUTES_PER_DAY
        rows = []
        for agent, question, text, task, source, event in asked:
            rows.append({"session": world.session, "day": day,
                         "minute": int(request.at) - day * MINUTES_PER_DAY,
                         "clock": int(request.at), "agent_id": agent,
                         "category": question.category, "question_key": question.key,
                         "question": text, "answer": event.value, "source": task.source,
                         "memories": [m for m, _ in task.memories], "summary_source": source})
            world.answers.append(Answer(agent, Question(text, question.category, question.key),
                                        event.value, task.source))
        world.record("interviews", rows)


def _in_town(first: int | None, last: int | None, clock: float) -> bool:
    """Living in town at `clock`: arrived by then, and not gone before (a resident who left
    at a midnight is still there at that midnight, the end of its last day)."""
    return (first or 0) * MINUTES_PER_DAY <= clock and (
        last is None or clock <= (last + 1) * MINUTES_PER_DAY)


def _render(question: Question, name: str, town: str, other: str) -> str:
    """A battery question for one resident ($name, $first_name, $town, $other,
    $other_first_name); a question asked by hand is asked as typed."""
    if question.category == "question":
        return question.text
    return string.Template(question.text).safe_substitute(
        name=name, first_name=name.split()[0], town=town, other=other,
        other_first_name=other.split()[0])


def battery(config: TownConfig) -> tuple[Question, ...]:
    """The believability questions (`prompts/interview_battery.toml`, overridable through
    the run's `prompts_dir`)."""
    library = PromptLibrary("scenarios.town", config.prompts_dir)
    try:
        entries = tomllib.loads(library.template(BATTERY_FILE).template).get("questions", [])
        questions = tuple(Question(str(e["text"]), str(e["category"]), str(e["key"]))
                          for e in entries)
    except (tomllib.TOMLDecodeError, KeyError, TypeError) as error:
        raise UserError(f"the interview battery {BATTERY_FILE} is malformed: {error!r}; each "
                        "[[questions]] needs category, key and text") from None
    if not questions:
        raise UserError(f"the interview battery {BATTERY_FILE} has no [[questions]]")
    return questions


INTERVIEWS = TownInterviews()
