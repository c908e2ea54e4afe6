"""What a day of LLM residents asks of the model, before it runs (`societas run` shows it).

Counted per resident and day from the structure of a day and the architecture's keys, not
guessed from a past run (each term an upper-end assumption, below): the morning's summary of
oneself, day plan, hourly plan and the plan's rating; for each waking hour one decomposition
and one rating of its actions; perceiving something new costs a rating (about twice an hour
with the paper's perception, whose events change with every action; once without), and a
reaction (about once an hour) with, by default, its summary of the person noticed; a
conversation (two a resident a day, of `max_turns` utterances) costs the resident's half of
the utterances, its summaries of the listener, what it keeps afterwards and the re-plan of its
hour; a reflection costs a focal question call and one insight call per question (two
reflections a day, the paper's rate). The interviews
that measure the run (`interviews`) add a question per resident and seeded intention at every
day's end, and the acquaintance questions at the start and the end.
"""

from __future__ import annotations

from scenarios.town.config import TownConfig
from scenarios.town.townmap import load_town
from sim import UsageEstimate

PROMPT_TOKENS_PER_CALL = 900


def calls_per_resident_day(config: TownConfig, waking_hours: float) -> int:
    arch = config.architecture
    morning = (arch.agent_summary == "daily") + 2 + 1  # summary, two plans, plan's rating
    hours = 2 * waking_hours  # decomposition and action ratings
    new_events = 2 if arch.retention is not None else 1  # observation ratings an hour
    reacting = 1 + (arch.reaction_context == "summary")  # a reaction, its summary
    perceiving = (new_events + reacting) * waking_hours
    own_turns = config.max_turns / 2
    listener = {"turn": own_turns, "conversation": 1, "memories": 0}[arch.dialogue_context]
    after = 1 + 2 * arch.replan_after_conversation  # kept; the hour re-planned and rated
    conversations = 2 * (own_turns + listener + after)
    reflections = 2 * (1 + config.memory_settings.focal_questions)
    return round(morning + hours + perceiving + conversations + reflections)


def estimate_usage(config: TownConfig) -> UsageEstimate:
    """Whole days at the residents' mean waking hours; a short last day (`hours`) counts the
    hours they are awake before its end."""
    townmap = load_town(config.town_file)
    people = townmap.residents[: config.residents or None]
    if not config.llm or not people:
        return UsageEstimate(0, 0, 0)
    waking = sum(p.bedtime - p.wake for p in people) / len(people) / 60
    calls = len(people) * (config.days - 1) * calls_per_resident_day(config, waking)
    if config.hours in (None, 24):
        calls += len(people) * calls_per_resident_day(config, waking)
    else:
        cut = config.hours * 60
        calls += sum(calls_per_resident_day(config, (min(p.bedtime, cut) - p.wake) / 60)
                     for p in people if p.wake < cut)
    if config.architecture.persona_memories:
        calls += len(people)  # the persona's clauses rated once, on arrival
    interviews = config.interviews
    if interviews.knowledge:
        calls += len(people) * len(config.intentions) * config.days
    calls += 2 * interviews.acquaintance_calls(len(people))
    return UsageEstimate(calls=calls, prompt_tokens=calls * PROMPT_TOKENS_PER_CALL,
                         max_completion_tokens=calls * config.max_tokens)
