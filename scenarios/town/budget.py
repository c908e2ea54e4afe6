"""What a day of LLM residents asks of the model, before it runs (`societas run` shows it).

Counted per resident and day from the structure of a day, not guessed from a past run: one day
plan, one hourly plan, and for each waking hour one decomposition and one importance rating of
its actions; perceiving someone new costs a rating and a reaction (about one an hour); a
conversation costs its utterances and one rating per participant (assumed: two conversations
a resident a day of `max_turns` utterances, the upper end); a reflection costs a focal question
call and one insight call per question (two reflections a day, the paper's rate). The interviews
that measure the run (`interviews`) add a question per resident and seeded intention at every
day's end, and the acquaintance questions at the start and the end.
"""

from __future__ import annotations

from scenarios.town.config import TownConfig
from scenarios.town.townmap import load_town
from sim import UsageEstimate

PROMPT_TOKENS_PER_CALL = 700


def calls_per_resident_day(config: TownConfig, waking_hours: float) -> int:
    plans = 2 + 1  # day plan, hourly plan, and the plan's importance
    hours = 2 * waking_hours  # decomposition and action ratings
    perceiving = 2 * waking_hours  # an observation rating and a reaction, about hourly
    conversations = 2 * (config.max_turns / 2 + 1)  # own half of the utterances + a rating
    reflections = 2 * (1 + config.memory_settings.focal_questions)
    return round(plans + hours + perceiving + conversations + reflections)


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
    interviews = config.interviews
    if interviews.knowledge:
        calls += len(people) * len(config.intentions) * config.days
    calls += 2 * interviews.acquaintance_calls(len(people))
    return UsageEstimate(calls=calls, prompt_tokens=calls * PROMPT_TOKENS_PER_CALL,
                         max_completion_tokens=calls * config.max_tokens)
