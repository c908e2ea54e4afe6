"""The town's planning questions to a resident: plan the day, plan its hours, decompose an
hour into actions (the social ones, reacting, speaking, attending, are in `social`).

Each is a `sim.Task`: rule brains answer from the observation (`scenarios.town.plans` and
`scenarios.town.speech`), models from the prompts in `prompts/`. What another resident said or
planned reaches a prompt only inside `sim.quote_agent_text`. Replies are read leniently; one
that cannot be used raises `ParseError` (repair re-prompt, then the rule answer as fallback).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from scenarios.town.plans import ACTIVITIES, Action, Block, broad_strokes, rule_actions, rule_day
from scenarios.town.replies import (
    DAY_PLAN,
    actions_format,
    hour_plan_format,
    wake_day_plan_format,
)
from scenarios.town.townmap import Person, TownMap, clock_text
from sim import ParseError, PromptLibrary, Task, quote_agent_text
from sim.llm import ReplyFormat, clean_free_text

if TYPE_CHECKING:
    from scenarios.town.architecture import Architecture
    from scenarios.town.config import TownConfig

_CLOCK_RE = re.compile(r"^\s*(\d{1,2})(?::(\d{2}))?\s*(am|pm)?\s*$", re.IGNORECASE)


@dataclass
class TownContext:
    """What every town prompt needs: the prompt files, the map, the run's settings and the rule
    brains' importance rating (for the rule answers that rate what they write)."""

    prompts: PromptLibrary
    townmap: TownMap
    config: TownConfig
    importance: Callable[[str, str], int]

    @property
    def arch(self) -> Architecture:
        return self.config.architecture

    @property
    def max_turns(self) -> int:
        return self.config.max_turns

    @property
    def chat_probability(self) -> float:
        return self.config.chat_probability

    @property
    def share_probability(self) -> float:
        return self.config.share_probability

    @property
    def attend_probability(self) -> float:
        return self.config.attend_probability

    def messages(self, person: Person, template: str, **values: Any) -> list[dict[str, str]]:
        """The system prompt (persona) and the template; a `summary` value (the agent summary
        description, plan/react/speak prompts) is quoted as the resident's own text."""
        system = self.prompts.render("system.txt", name=person.name, persona=person.persona,
                                     town=self.townmap.name, occupation=person.occupation)
        if "summary" in values:
            summary = values["summary"]
            values["summary"] = (f"Your summary of yourself this morning:\n"
                                 f"{quote_agent_text(summary, author=person.agent_id)}\n"
                                 if summary else "")
        user = self.prompts.render(template, **values).lstrip()
        return [{"role": "system", "content": system}, {"role": "user", "content": user}]

    def place_list(self, known: tuple[str, ...] | None = None) -> str:
        return "\n".join(f"- {p.short_id}: {p.name} ({p.kind})" for p in self.spots(known))

    def spots(self, known: tuple[str, ...] | None = None) -> list[Any]:
        """The places a resident may plan for: those it knows (None: all), in file order."""
        return [p for p in self.townmap.spots() if known is None or p.place_id in known]


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


def clean(text: str, max_chars: int) -> str:
    """A value taken out of a reply, cleaned and bounded (fences inside it are the resident's
    text and stay); "" when nothing is left (not an error)."""
    try:
        return clean_free_text(text, max_chars=max_chars, extracted=True) if text.strip() else ""
    except ParseError:
        return ""


def memories_or_nothing(text: str) -> str:
    return text or "(nothing comes to mind)"


@dataclass
class PlanDay(TownTask):
    """Midnight: the day in broad strokes (and, with `ask_wake`, the hour to wake), from the
    resident's summary, the date, what it did yesterday and what it remembers."""

    ctx: TownContext
    person: Person
    day: int
    rolls: list[float]
    events: list[tuple[int, int, str, str]] = field(default_factory=list)
    memories: str = ""
    summary: str = ""
    yesterday: str = ""
    known: tuple[str, ...] | None = None
    ask_wake: bool = False

    kind = "plan_day"

    def observation(self) -> dict[str, Any]:
        return {"agent": self.person.agent_id, "day": self.day, "rolls": self.rolls,
                "events": [list(e) for e in self.events],
                "known": list(self.known) if self.known is not None else None}

    def messages(self) -> list[dict[str, str]]:
        p = self.person
        yesterday = (quote_agent_text(self.yesterday, author=p.agent_id) if self.yesterday
                     else "(nothing: this is your first day here)")
        wake = (f"You usually wake at {clock_text(p.wake)}; choose when you wake today."
                if self.ask_wake else f"You wake at {clock_text(p.wake)}.")
        return self.ctx.messages(
            p, "plan_day.txt", name=p.name, summary=self.summary,
            today=self.ctx.config.day_text(self.day), day=self.day + 1, wake=clock_text(p.wake),
            bedtime=clock_text(p.bedtime), wake_sentence=wake,
            yesterday=yesterday if self.ctx.arch.plan_from_yesterday else "(not shown)",
            memories=memories_or_nothing(self.memories), reply_format=self.reply_format.example())

    @property
    def reply_format(self) -> ReplyFormat:
        return wake_day_plan_format(clock_text(self.person.wake)) if self.ask_wake \
            else DAY_PLAN

    def read(self, reply: str) -> tuple[int, list[Block]]:
        answer = self.reply_format.parse(reply)
        wake = self.person.wake
        if self.ask_wake:
            # a wake hour that leaves less than two hours before bedtime is no day at all
            wake = min(_minute(answer.wake, "wake"), self.person.bedtime - 120)
        chunks = []
        for chunk in answer.plan:
            # times given the wrong way round are read as the span between them
            start, end = sorted((_minute(chunk.start, "start"), _minute(chunk.end, "end")))
            text = clean(chunk.description, 200)
            if end > start and text:
                chunks.append(Block(start, end, "other", None, text))
        if not chunks:
            raise ParseError("no chunk has both a description and an end after its start; "
                             f"reply like {self.reply_format.example()}")
        return wake, sorted(chunks, key=lambda b: b.start)

    def default(self) -> tuple[int, list[Block]]:
        return self.rule()

    def rule(self) -> tuple[int, list[Block]]:
        return self.person.wake, broad_strokes(rule_day(self.person, self.ctx.townmap,
                                                        self.rolls, self.events, self.known))

    def encode(self, decision: tuple[int, list[Block]]) -> dict[str, Any]:
        return {"wake": decision[0], "plan": [[b.start, b.end, b.description]
                                              for b in decision[1]]}


@dataclass
class PlanHours(TownTask):
    """The day plan decomposed into blocks of at most an hour, each at a place it knows."""

    ctx: TownContext
    person: Person
    day: int
    rolls: list[float]
    day_plan: list[Block]
    start: int  # first minute to plan (wake, or now for a replan)
    events: list[tuple[int, int, str, str]] = field(default_factory=list)
    note: str = ""  # a replan's reason, in the resident's own words
    known: tuple[str, ...] | None = None
    summary: str = ""

    kind = "plan_hours"

    def observation(self) -> dict[str, Any]:
        return {"agent": self.person.agent_id, "day": self.day, "start": self.start,
                "rolls": self.rolls, "events": [list(e) for e in self.events],
                "known": list(self.known) if self.known is not None else None}

    def messages(self) -> list[dict[str, str]]:
        p = self.person
        plan = "\n".join(b.text(self.ctx.townmap) for b in self.day_plan)
        return self.ctx.messages(
            p, "plan_hours.txt", name=p.name, day=self.day + 1, summary=self.summary,
            time=f"It is {self.ctx.config.day_text(self.day)}, {clock_text(self.start)}.",
            day_plan=quote_agent_text(plan, author=p.agent_id),
            note=quote_agent_text(self.note, author=p.agent_id) if self.note else "(none)",
            start=clock_text(self.start), bedtime=clock_text(p.bedtime),
            home=self.ctx.townmap.places[p.home].short_id,
            places=self.ctx.place_list(self.known), activities=", ".join(ACTIVITIES[:-2]),
            reply_format=self.reply_format.example())

    @property
    def reply_format(self) -> ReplyFormat:
        return hour_plan_format(tuple(x.short_id for x in self.ctx.spots(self.known)))

    def read(self, reply: str) -> list[Block]:
        townmap, p = self.ctx.townmap, self.person
        blocks = []
        for item in self.reply_format.parse(reply).blocks:
            place = townmap.resolve(item.place.strip())
            if place is None or townmap.places[place].level != "place" or \
                    (self.known is not None and place not in self.known):
                known = ", ".join(x.short_id for x in self.ctx.spots(self.known))
                raise ParseError(f"unknown place {item.place!r}; use one of: {known}")
            start, end = _minute(item.start, "start"), _minute(item.end, "end")
            activity = item.activity.strip().lower()
            activity = activity if activity in ACTIVITIES else "other"
            text = clean(item.description or activity, 200) or activity
            blocks.append(Block(start, end, activity, place, text))
        return fill_day(blocks, self.start, p.bedtime, p.home)

    def default(self) -> list[Block]:
        return self.rule()

    def rule(self) -> list[Block]:
        blocks = rule_day(self.person, self.ctx.townmap, self.rolls, self.events, self.known)
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
    """An hourly block cut into 5-15 minute actions, when the block begins (or again after a
    conversation, from then on, with the resident's planning thought as `note`)."""

    ctx: TownContext
    person: Person
    day: int
    block: Block
    start: int
    rolls: list[float]
    note: str = ""

    kind = "decompose"

    def observation(self) -> dict[str, Any]:
        b = self.block
        return {"agent": self.person.agent_id, "day": self.day, "start": self.start,
                "block": [b.start, b.end, b.activity, b.place, b.description],
                "rolls": self.rolls}

    def messages(self) -> list[dict[str, str]]:
        townmap, p, b = self.ctx.townmap, self.person, self.block
        objects = ", ".join(o.name for o in townmap.objects(b.place or "")) or "(none)"
        note = (f"Keep in mind:\n{quote_agent_text(self.note, author=p.agent_id)}\n"
                if self.note else "")
        states = (" and the state it is in while you use it (e.g. \"brewing coffee\")"
                  if self.ctx.arch.object_states else "")
        return self.ctx.messages(
            p, "decompose.txt", name=p.name,
            block=quote_agent_text(b.description, author=p.agent_id), note=note,
            place=townmap.name_of(b.place), objects=objects, start=clock_text(self.start),
            end=clock_text(b.end), minutes=b.end - self.start, object_state=states,
            reply_format=self.reply_format.example())

    @property
    def reply_format(self) -> ReplyFormat:
        objects = tuple(o.name for o in self.ctx.townmap.objects(self.block.place or ""))
        return actions_format(objects, self.ctx.arch.object_states)

    def read(self, reply: str) -> list[Action]:
        townmap, b = self.ctx.townmap, self.block
        objects = {o.name.lower(): o.place_id for o in townmap.objects(b.place or "")}
        actions: list[Action] = []
        minute = self.start
        steps = self.reply_format.parse(reply).actions
        for step in steps:
            if minute >= b.end:
                break
            text = clean(step.description, 200)
            if not text:
                continue
            minutes = min(b.end - minute, max(1, step.minutes))
            obj = objects.get(step.object.strip().lower())
            state = clean(getattr(step, "object_state", ""), 80)
            actions.append(Action(minute, minutes, b.activity, text, obj,
                                  state if obj and state else None))
            minute += minutes
        if not actions:
            raise ParseError("no action with a description; reply like "
                             f"{self.reply_format.example()}")
        if minute < b.end:  # the last action lasts until the block ends
            actions[-1] = replace(actions[-1], minutes=b.end - actions[-1].start)
        return actions

    def default(self) -> list[Action]:
        return self.rule()

    def rule(self) -> list[Action]:
        actions = rule_actions(self.block, self.start, self.ctx.townmap, self.rolls)
        if not self.ctx.arch.object_states:
            actions = [replace(a, object_state=None) for a in actions]
        return actions

    def encode(self, decision: list[Action]) -> dict[str, Any]:
        return {"actions": [[a.start, a.minutes, a.description, a.object_id, a.object_state]
                            for a in decision]}
