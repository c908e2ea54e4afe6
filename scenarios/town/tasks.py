"""The town's planning questions to a resident: plan the day, plan its hours, decompose an
hour into actions (the social ones, reacting, speaking, attending, are in `social`).

Each is a `sim.Task`: rule brains answer from the observation (`scenarios.town.plans` and
`scenarios.town.speech`), models from the prompts in `prompts/`. What another resident said or
planned reaches a prompt only inside `sim.quote_agent_text`. Replies are read leniently; one
that cannot be used raises `ParseError` (repair re-prompt, then the rule answer as fallback).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from scenarios.town.plans import ACTIVITIES, Action, Block, broad_strokes, rule_actions, rule_day
from scenarios.town.replies import ACTIONS, DAY_PLAN, hour_plan_format
from scenarios.town.townmap import Person, TownMap, clock_text
from sim import ParseError, PromptLibrary, Task, quote_agent_text
from sim.llm import ReplyFormat, clean_free_text

_CLOCK_RE = re.compile(r"^\s*(\d{1,2})(?::(\d{2}))?\s*(am|pm)?\s*$", re.IGNORECASE)


@dataclass
class TownContext:
    """What every town prompt needs: the prompt files, the map and the run's settings."""

    prompts: PromptLibrary
    townmap: TownMap
    max_turns: int
    chat_probability: float
    share_probability: float
    attend_probability: float

    def messages(self, person: Person, template: str, **values: Any) -> list[dict[str, str]]:
        system = self.prompts.render("system.txt", name=person.name, persona=person.persona,
                                     town=self.townmap.name, occupation=person.occupation)
        return [{"role": "system", "content": system},
                {"role": "user", "content": self.prompts.render(template, **values)}]

    def place_list(self) -> str:
        return "\n".join(f"- {p.short_id}: {p.name} ({p.kind})" for p in self.townmap.spots())


class TownTask(Task):
    """A town task remembers where its answer came from ('rule', 'llm' or 'fallback'), so the
    activities and plans it produces can say so (`source` columns)."""

    source = "rule"

    def parse(self, reply: str) -> Any:
        decision = self.read(reply)
        self.source = "llm"
        return decision

    def fallback(self) -> Any:
        self.source = "fallback"
        return self.default()

    def answer_with_rule(self, policy: Any) -> Any:
        self.source = "rule"
        return self.rule()

    def read(self, reply: str) -> Any:
        raise NotImplementedError

    def default(self) -> Any:
        raise NotImplementedError

    def rule(self) -> Any:
        raise NotImplementedError


def _minute(text: str, what: str) -> int:
    match = _CLOCK_RE.match(str(text))
    if match is None:
        raise ParseError(f"{what} {text!r} is not a time like \"07:30\"")
    hour, minute = int(match.group(1)), int(match.group(2) or 0)
    if match.group(3):
        hour = hour % 12 + (12 if match.group(3).lower() == "pm" else 0)
    if not (0 <= hour <= 24 and 0 <= minute < 60):
        raise ParseError(f"{what} {text!r} is not a time of day")
    return min(1440, hour * 60 + minute)


def memories_or_nothing(text: str) -> str:
    return text or "(nothing comes to mind)"


@dataclass
class PlanDay(TownTask):
    """Morning: the day in broad strokes, from who they are and what they remember."""

    ctx: TownContext
    person: Person
    day: int
    rolls: list[float]
    events: list[tuple[int, int, str, str]] = field(default_factory=list)
    memories: str = ""

    kind = "plan_day"

    def observation(self) -> dict[str, Any]:
        return {"agent": self.person.agent_id, "day": self.day, "rolls": self.rolls,
                "events": [list(e) for e in self.events]}

    def messages(self) -> list[dict[str, str]]:
        p = self.person
        return self.ctx.messages(
            p, "plan_day.txt", name=p.name, day=self.day + 1, wake=clock_text(p.wake),
            bedtime=clock_text(p.bedtime), memories=memories_or_nothing(self.memories),
            reply_format=DAY_PLAN.example())

    @property
    def reply_format(self) -> ReplyFormat:
        return DAY_PLAN

    def read(self, reply: str) -> list[Block]:
        plan = DAY_PLAN.parse(reply).plan
        chunks = []
        for chunk in plan:
            start, end = _minute(chunk.start, "start"), _minute(chunk.end, "end")
            text = clean_free_text(chunk.description, max_chars=200, extracted=True)
            if end > start and text:
                chunks.append(Block(start, end, "other", None, text))
        if not chunks:
            raise ParseError(f"no chunk with an end after its start; reply like "
                             f"{DAY_PLAN.example()}")
        return sorted(chunks, key=lambda b: b.start)

    def default(self) -> list[Block]:
        return self.rule()

    def rule(self) -> list[Block]:
        return broad_strokes(rule_day(self.person, self.ctx.townmap, self.rolls, self.events))

    def encode(self, decision: list[Block]) -> dict[str, Any]:
        return {"plan": [[b.start, b.end, b.description] for b in decision]}


@dataclass
class PlanHours(TownTask):
    """The day plan decomposed into blocks of at most an hour, each at one place."""

    ctx: TownContext
    person: Person
    day: int
    rolls: list[float]
    day_plan: list[Block]
    start: int  # first minute to plan (wake, or now for a replan)
    events: list[tuple[int, int, str, str]] = field(default_factory=list)
    note: str = ""  # a replan's reason, in the resident's own words

    kind = "plan_hours"

    def observation(self) -> dict[str, Any]:
        return {"agent": self.person.agent_id, "day": self.day, "start": self.start,
                "rolls": self.rolls, "events": [list(e) for e in self.events]}

    def messages(self) -> list[dict[str, str]]:
        p = self.person
        plan = "\n".join(b.text(self.ctx.townmap) for b in self.day_plan)
        return self.ctx.messages(
            p, "plan_hours.txt", name=p.name, day=self.day + 1,
            day_plan=quote_agent_text(plan, author=p.agent_id),
            note=quote_agent_text(self.note, author=p.agent_id) if self.note else "(none)",
            start=clock_text(self.start), bedtime=clock_text(p.bedtime),
            home=self.ctx.townmap.places[p.home].short_id,
            places=self.ctx.place_list(), activities=", ".join(ACTIVITIES[:-2]),
            reply_format=self.reply_format.example())

    @property
    def reply_format(self) -> ReplyFormat:
        return hour_plan_format(tuple(x.short_id for x in self.ctx.townmap.spots()))

    def read(self, reply: str) -> list[Block]:
        townmap, p = self.ctx.townmap, self.person
        blocks = []
        for item in self.reply_format.parse(reply).blocks:
            place = townmap.resolve(item.place.strip())
            if place is None or townmap.places[place].level != "place":
                known = ", ".join(x.short_id for x in townmap.spots())
                raise ParseError(f"unknown place {item.place!r}; use one of: {known}")
            start, end = _minute(item.start, "start"), _minute(item.end, "end")
            activity = item.activity.strip().lower()
            activity = activity if activity in ACTIVITIES else "other"
            text = clean_free_text(item.description or activity, max_chars=200,
                                   extracted=True) or activity
            blocks.append(Block(start, end, activity, place, text))
        return fill_day(blocks, self.start, p.bedtime, p.home)

    def default(self) -> list[Block]:
        return self.rule()

    def rule(self) -> list[Block]:
        blocks = rule_day(self.person, self.ctx.townmap, self.rolls, self.events)
        return [b for b in _cut(blocks, self.start) if b.end > self.start]

    def encode(self, decision: list[Block]) -> dict[str, Any]:
        return {"blocks": [[b.start, b.end, b.activity, b.place, b.description]
                           for b in decision]}


def _cut(blocks: list[Block], start: int) -> list[Block]:
    return [Block(max(b.start, start), b.end, b.activity, b.place, b.description)
            for b in blocks if b.end > start]


def fill_day(blocks: list[Block], start: int, bedtime: int, home: str) -> list[Block]:
    """A model's blocks made into a plan the clock can follow: within [start, bedtime), in time
    order, later blocks winning overlaps, gaps spent at home, cut at every whole hour."""
    slots: list[tuple[str, str, str] | None] = [None] * 1440
    for block in blocks:
        for minute in range(max(block.start, start), min(block.end, bedtime)):
            slots[minute] = (block.activity, block.place or home, block.description)
    if not any(slots[start:bedtime]):
        raise ParseError("no block falls between now and bedtime")
    result: list[Block] = []
    minute = start
    while minute < bedtime:
        current = slots[minute] or ("home", home, "at home")
        end = minute + 1
        while end < bedtime and (slots[end] or ("home", home, "at home")) == current and end % 60:
            end += 1
        result.append(Block(minute, end, current[0], current[1], current[2]))
        minute = end
    return result


@dataclass
class Decompose(TownTask):
    """An hourly block cut into 5-15 minute actions, when the block begins."""

    ctx: TownContext
    person: Person
    day: int
    block: Block
    start: int
    rolls: list[float]

    kind = "decompose"

    def observation(self) -> dict[str, Any]:
        b = self.block
        return {"agent": self.person.agent_id, "day": self.day, "start": self.start,
                "block": [b.start, b.end, b.activity, b.place, b.description],
                "rolls": self.rolls}

    def messages(self) -> list[dict[str, str]]:
        townmap, p, b = self.ctx.townmap, self.person, self.block
        objects = ", ".join(o.name for o in townmap.objects(b.place or "")) or "(none)"
        return self.ctx.messages(
            p, "decompose.txt", name=p.name,
            block=quote_agent_text(b.description, author=p.agent_id),
            place=townmap.name_of(b.place), objects=objects, start=clock_text(self.start),
            end=clock_text(b.end), minutes=b.end - self.start, reply_format=ACTIONS.example())

    @property
    def reply_format(self) -> ReplyFormat:
        return ACTIONS

    def read(self, reply: str) -> list[Action]:
        townmap, b = self.ctx.townmap, self.block
        objects = {o.name.lower(): o.place_id for o in townmap.objects(b.place or "")}
        actions: list[Action] = []
        minute = self.start
        steps = ACTIONS.parse(reply).actions
        for step in steps:
            if minute >= b.end:
                break
            text = clean_free_text(step.description, max_chars=200, extracted=True)
            if not text:
                continue
            minutes = min(b.end - minute, max(1, step.minutes))
            actions.append(Action(minute, minutes, b.activity, text,
                                  objects.get(step.object.strip().lower())))
            minute += minutes
        if not actions:
            raise ParseError(f"no action with a description; reply like {ACTIONS.example()}")
        if minute < b.end:  # the last action lasts until the block ends
            last = actions[-1]
            actions[-1] = Action(last.start, b.end - last.start, last.activity,
                                 last.description, last.object_id)
        return actions

    def default(self) -> list[Action]:
        return self.rule()

    def rule(self) -> list[Action]:
        return rule_actions(self.block, self.start, self.ctx.townmap, self.rolls)

    def encode(self, decision: list[Action]) -> dict[str, Any]:
        return {"actions": [[a.start, a.minutes, a.description] for a in decision]}
