"""A resident's plans at their three levels, and the rule brains' schedules that fill them.

A day plan is a few broad chunks; the hourly plan cuts the waking day into blocks of at most an
hour at one place each (cut at whole hours, so residents' hours start together and their model
calls share a batch); each block is decomposed into 5-15 minute actions when it begins.

Rule brains build the hourly plan from the resident's occupation (working hours by the kind of
their workplace), with seeded variation: where they eat, what they do after work, when dinner
is. Every random choice reads a number from the task's `rolls` (drawn by the world from the
resident's own generator), so a rule answer is a function of its observation.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

from scenarios.town.object_uses import uses
from scenarios.town.townmap import Person, TownMap, clock_text

#: Activity labels of the `activities` and `plans` tables; anything else a model says is 'other'.
ACTIVITIES = ("sleep", "home", "eat", "work", "study", "shop", "leisure", "exercise", "chat",
              "party", "meeting", "walk", "other")

#: Working hours (start, end) by the kind of place someone works at.
WORK_HOURS: dict[str, tuple[int, int]] = {
    "cafe": (6 * 60, 14 * 60), "shop": (7 * 60, 15 * 60), "office": (8 * 60 + 30, 16 * 60 + 30),
    "school": (8 * 60, 15 * 60 + 30), "library": (10 * 60, 18 * 60), "bar": (16 * 60, 23 * 60),
    "park": (9 * 60, 15 * 60), "harbour": (5 * 60, 13 * 60),
}
DEFAULT_WORK_HOURS = (9 * 60, 17 * 60)

@dataclass(frozen=True)
class Block:
    """One piece of a plan: [start, end) in minutes of the day, at one place."""

    start: int
    end: int
    activity: str
    place: str | None  # place_id; None for the broad day plan
    description: str

    @property
    def duration(self) -> int:
        return self.end - self.start

    def text(self, townmap: TownMap) -> str:
        where = f" at {townmap.name_of(self.place)}" if self.place else ""
        return f"{clock_text(self.start)}-{clock_text(self.end)} {self.description}{where}"


@dataclass(frozen=True)
class Action:
    """A 5-15 minute action of a block, the object it uses and the state it puts it in."""

    start: int
    minutes: int
    activity: str
    description: str
    object_id: str | None = None
    object_state: str | None = None


class Rolls:
    """The seeded uniform numbers a rule answer reads, in order (cycling if it needs more)."""

    def __init__(self, values: Sequence[float]) -> None:
        self.values = list(values) or [0.5]
        self.i = 0

    def next(self) -> float:
        value = self.values[self.i % len(self.values)]
        self.i += 1
        return value

    def pick(self, options: Sequence[object]) -> object:
        return options[min(len(options) - 1, int(self.next() * len(options)))]


def rule_day(person: Person, townmap: TownMap, rolls: Sequence[float],
             events: Sequence[tuple[int, int, str, str]] = (),
             known: Collection[str] | None = None) -> list[Block]:
    """A rule resident's waking day as hourly blocks, at places it knows (`known` place ids;
    None: all). `events` are (start, end, place, description) they will attend; they override
    whatever else was planned then."""
    r = Rolls(rolls)
    spots = [p for p in townmap.spots() if known is None or p.place_id in known]
    wake, bed = person.wake, person.bedtime
    slots: list[tuple[str, str, str] | None] = [None] * 1440
    home = person.home

    def paint(start: int, end: int, activity: str, place: str, description: str) -> None:
        for m in range(max(start, wake), min(end, bed)):
            slots[m] = (activity, place, description)

    paint(wake, bed, "home", home, "relaxing at home")
    paint(wake, wake + 45, "home", home, "getting ready for the day")
    cafes = [p for p in spots if p.kind == "cafe"]
    breakfast = cafes[0].place_id if cafes and r.next() < 0.3 else home
    paint(wake + 45, wake + 75, "eat", breakfast, "having breakfast")
    leisure = [p.place_id for p in spots
               if p.kind in ("park", "library", "cafe", "shop", "bar", "harbour")]
    if person.work is not None:
        kind = townmap.places[person.work].kind
        start, end = WORK_HOURS.get(kind, DEFAULT_WORK_HOURS)
        start += int(r.next() * 3) * 15 - 15
        start, end = max(start, wake + 75), min(end, bed - 60)
        label = "study" if person.occupation == "student" else "work"
        paint(start, end, label, person.work, f"{label} as {_article(person.occupation)}")
        if start < 12 * 60 + 30 < end and end - start > 5 * 60:
            lunch = cafes[0].place_id if cafes and r.next() < 0.5 else person.work
            paint(12 * 60, 12 * 60 + 45, "eat", lunch, "having lunch")
        free_from = end
    else:
        morning = r.pick(leisure or [home])
        paint(wake + 75, 12 * 60, "leisure", str(morning), "spending the morning out")
        paint(12 * 60, 13 * 60, "eat", home, "having lunch")
        free_from = 13 * 60
    dinner = 18 * 60 + int(r.next() * 4) * 15
    if free_from < dinner - 30 and leisure:
        outing = str(r.pick(leisure))
        kind = townmap.places[outing].kind
        activity = "shop" if kind == "shop" else "leisure"
        paint(free_from, dinner, activity, outing, f"an afternoon at {townmap.name_of(outing)}")
    if free_from <= dinner:
        paint(dinner, dinner + 60, "eat", home, "having dinner")
    bars = [p for p in spots if p.kind == "bar"]
    if bars and r.next() < 0.3 and dinner + 60 < bed - 60:
        paint(dinner + 60, bed - 45, "leisure", bars[0].place_id, "an evening at the bar")
    for start, end, place, description in events:
        paint(start, end, "party", place, description)
    blocks: list[Block] = []
    minute = wake
    while minute < bed:
        current = slots[minute]
        assert current is not None
        end = minute + 1
        while end < bed and slots[end] == current and end % 60:
            end += 1
        blocks.append(Block(minute, end, current[0], current[1], current[2]))
        minute = end
    return blocks


def broad_strokes(blocks: Sequence[Block]) -> list[Block]:
    """The day plan: consecutive blocks of the same activity and place merged (place kept out,
    as the paper's broad plan names no places)."""
    merged: list[Block] = []
    for block in blocks:
        if merged and merged[-1].activity == block.activity and \
                merged[-1].description == block.description:
            last = merged[-1]
            merged[-1] = Block(last.start, block.end, last.activity, None, last.description)
        else:
            merged.append(Block(block.start, block.end, block.activity, None, block.description))
    return merged


def rule_actions(block: Block, start: int, townmap: TownMap,
                 rolls: Sequence[float]) -> list[Action]:
    """The block from `start` cut into 5-15 minute actions, each with an object of the place
    that fits it and the state it puts the object in (`object_uses`)."""
    r = Rolls(rolls)
    place = townmap.places[block.place] if block.place else None
    objects = townmap.objects(block.place) if block.place else []
    options = uses(block.activity, place.kind if place else "", objects)
    actions: list[Action] = []
    minute = start
    while minute < block.end:
        minutes = min(block.end - minute, (5, 10, 15)[int(r.next() * 3) % 3])
        text, obj, state = options[min(len(options) - 1, int(r.next() * len(options)))]
        actions.append(Action(minute, minutes, block.activity, text,
                              obj.place_id if obj else None, state))
        minute += minutes
    return actions


def _article(noun: str) -> str:
    return ("an " if noun[:1].lower() in "aeiou" else "a ") + noun


def overlay(blocks: Sequence[Block], extra: Block, start: int, bedtime: int) -> list[Block]:
    """The plan from `start` with `extra` put in (an event someone decided to attend): what
    it overlaps gives way, and the result is cut at whole hours again."""
    slots: list[tuple[str, str | None, str] | None] = [None] * 1440
    for block in [*blocks, extra]:
        for minute in range(max(block.start, start), min(block.end, bedtime)):
            slots[minute] = (block.activity, block.place, block.description)
    result: list[Block] = []
    minute = start
    while minute < bedtime:
        current = slots[minute]
        end = minute + 1
        while end < bedtime and slots[end] == current and end % 60:
            end += 1
        if current is not None:
            result.append(Block(minute, end, current[0], current[1], current[2]))
        minute = end
    return result
