"""What a resident perceives and how it reacts: the `Perceiving` part of a `Resident`.

At the start of each action, and at each place it passes on a walk, a resident perceives the
events of the place it is at: the people there (busy with an action, talking, or walking
through) and the objects someone is using, in the state the use puts them in. As in the
released code it attends to at most `attention_bandwidth` events, the nearest first (someone at
the object one is using is nearest; ties go by a seeded draw), and an event is new unless it
is among the last `retention` it perceived. New events are remembered as observations (one
importance question for all of them); when a new person is among them and someone is free to
talk (or is using what one needs), the resident decides how to react to the nearest new
person: carry on, talk, wait until they are done, or change its plan.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from scenarios.town.social import React, Reaction
from scenarios.town.tasks import PlanHours
from scenarios.town.thoughts import SummariseContext
from scenarios.town.townmap import clock_text
from sim import quote_agent_text

if TYPE_CHECKING:
    from scenarios.town.resident import Resident

Steps = Generator[Any, Any, Any]
MINUTES_PER_DAY = 1440


@dataclass(frozen=True)
class Event:
    """Something perceivable at a place: a person doing something, or an object in a state."""

    key: str  # what makes it the same event again (retention)
    text: str  # how it is remembered
    person: Resident | None
    object_id: str | None
    distance: float  # from the perceiver, within the place (0: at the same object)

    @property
    def near(self) -> bool:
        return self.distance == 0


def events_at(resident: Resident, limit: int | None = None) -> list[Event]:
    """The events at the resident's place but its own, nearest first (ties by who or what),
    the first `limit` of them (None: all).

    Within a place, everyone stands at a spot between 0 and 1: the spot of the object they
    use, or one drawn when they arrived; an object's spot is fixed by its order in the place.
    So the nearest stay the nearest while nobody moves, as on the paper's tile map."""
    town = resident.model
    place = resident.place
    here = resident.spot_now()
    spot_of = town.townmap.spot_of
    found: list[tuple[float, str, Any]] = []
    for other in town.present.get(place, {}).values():
        if other is not resident and other.state in ("act", "talk", "walk"):
            obj = other.span[5] if other.span is not None else None
            found.append((abs((spot_of(obj) if obj else other.spot) - here), other.name, other))
    if town.config.architecture.object_states:
        for obj in town.townmap.objects(place):
            state = town.object_states.get(obj.place_id)
            if state is not None and state[1] != resident.name:
                found.append((abs(spot_of(obj.place_id) - here), obj.place_id, (obj, state[0])))
    found.sort(key=lambda f: (f[0], f[1]))
    name = town.townmap.name_of(place)
    per_stay = town.config.architecture.retention is None
    events = []
    for distance, _, what in found[:limit]:
        if isinstance(what, tuple):
            obj, state = what
            events.append(Event(f"{obj.place_id}|{state}", f"the {obj.name} at {name} is {state}",
                                None, obj.place_id, distance))
        else:
            key = what.name if per_stay else f"{what.name}|{what.doing}"
            events.append(Event(key, f"{what.person.name} is {what.doing} at {name}", what,
                                what.span[5] if what.span is not None else None, distance))
    return events


class Perceiving:
    """Perceiving and reacting, for `Resident`."""

    def attended(self: Resident) -> list[Event]:
        """The events it attends to: the nearest `attention_bandwidth` (all with None)."""
        return events_at(self, self.model.config.architecture.attention_bandwidth)

    def spot_now(self: Resident) -> float:
        """Where in its place the resident stands: at the object it uses, else its spot."""
        obj = self.span[5] if self.span is not None else None
        return self.model.townmap.spot_of(obj) if obj else self.spot

    def perceive(self: Resident, day: int) -> Steps:
        """Notice what is new here, remember it, and react to the nearest new person when
        there is a reaction to choose; returns the reaction (None when none was asked)."""
        town = self.model
        events = self.attended()
        if town.config.architecture.retention is None:
            new = [e for e in events if e.key not in self.seen]
            self.seen.update(e.key for e in new)
        else:
            new = [e for e in events if e.key not in self.recent]
            self.recent.extend(e.key for e in new)
        if not new:
            return None
        remembering = town.process(self.remember([e.text for e in new], "observation"))
        people = [e for e in events if e.person is not None]
        focal = next((e for e in new if e.person is not None), None)
        free = [e.person for e in people if e.person.available(self)]
        if focal is None or not (free or focal.near):
            yield remembering
            return None
        free.sort(key=lambda r: (r.name not in {e.person.name for e in new if e.person}, r.name))
        other = focal.person
        context = yield from self.context_about(
            other, f"{other.person.name} is {other.doing}", alongside=remembering,
            summarise=town.config.architecture.reaction_context == "summary")
        self.contexts = {other.name: context}  # the first utterance, if they talk
        task = React(town.ctx, self.person, self.place, self.doing,
                     {"agent_id": other.name, "name": other.person.name, "doing": other.doing,
                      "same_object": focal.near,
                      "housemate": other.person.home == self.person.home},
                     [{"agent_id": r.name, "name": r.person.name, "doing": r.doing}
                      for r in free],
                     [e.person.name for e in new if e.person is not None], self.rolls(1)[0],
                     context, self.summary, self.time_text(), self.last_talk_text(other))
        reaction: Reaction = yield self.decide(task)
        if reaction.action == "talk" and reaction.talk_to is not None:
            partner = town.by_name.get(reaction.talk_to)
            if partner is not None and partner.available(self) and \
                    self.state in ("act", "walk"):
                yield from self.converse(partner, day, task.source)
        elif reaction.action == "change_plan":
            yield from self.replan(day, reaction.new_plan)
        return reaction

    def context_about(self: Resident, other: Resident, query: str, *, summarise: bool,
                      alongside: Any = None, last_line: str = "") -> Steps:
        """What the resident knows of `other` for a prompt: two retrievals (the relationship,
        and `query`), summarised by the resident (one call) or listed as they are. Rule
        brains read no prompts: nothing. `alongside`: an event to wait for in the same
        batch."""
        town = self.model
        memories = self.recall(f"What is {self.person.name}'s relationship with "
                               f"{other.person.name}?", query)
        asked = None
        if self.llm and summarise:
            asked = self.decide(SummariseContext(town.ctx, self.person, other.person, memories,
                                                 last_line))
        pending = [event for event in (alongside, asked) if event is not None]
        if pending:
            yield town.env.all_of(pending)
        return quote_agent_text(asked.value, author=self.name) if asked is not None \
            else memories

    def last_talk_text(self: Resident, other: Resident) -> str:
        """When they last talked, how long ago, and about what (or that they never have)."""
        last = self.last_talk.get(other.name)
        if last is None:
            return f"You have not talked with {other.person.name} before."
        clock, about, author = last
        return (f"You last talked with {other.person.name} {_ago(self.now - clock)} "
                f"(day {clock // MINUTES_PER_DAY + 1}, {clock_text(clock)}), about:\n"
                f"{quote_agent_text(about, author=author)}")

    def replan(self: Resident, day: int, note: str) -> Steps:
        town, p = self.model, self.person
        start = self.now - day * MINUTES_PER_DAY
        task = PlanHours(town.ctx, p, day, self.rolls(12), self.schedule, start,
                         self.events_to_attend(day), note, self.known_tuple(), self.summary)
        blocks = yield self.decide(task)
        self.revision += 1
        self.schedule = [b for b in self.schedule if b.end <= start] + blocks
        town.record_plans(self, day, "hour", blocks, self.revision, task.source)
        self.replanned = True


def _ago(minutes: int) -> str:
    if minutes < 60:
        return f"{minutes} minutes ago"
    hours, rest = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {rest:02d} min ago"
    return f"{hours // 24} days ago"
