"""Events a resident hears of: whether to go, and making room in the plan: the `Attending`
part of a `Resident`."""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING, Any

from scenarios.town.plans import Block, overlay
from scenarios.town.social import Attend

if TYPE_CHECKING:
    from scenarios.town.resident import Resident

Steps = Generator[Any, Any, Any]
MINUTES_PER_DAY = 1440


class Attending:
    """Going to events, for `Resident`."""

    def events_to_attend(self: Resident, day: int) -> list[tuple[int, int, str, str]]:
        townmap = self.model.townmap
        events = []
        for i in self.model.config.intentions:
            if i.kind == "event" and i.day == day and self.attending.get(i.topic):
                place = townmap.resolve(i.place or "") or ""
                events.append((i.start_minute, i.end_minute, place,
                               f"going to {i.topic} ({townmap.name_of(place)})"))
        return events

    def decide_attendance(self: Resident, topic: str) -> Steps:
        town = self.model
        intention = town.intention(topic)
        if intention.agent == self.name:
            self.attending[topic] = True
            return
        task = Attend(town.ctx, self.person, topic, town.news_sentence(topic), intention.agent,
                      self.rolls(1)[0])
        self.attending[topic] = bool((yield self.decide(task)))

    def consider_news(self: Resident, day: int) -> Steps:
        """Events they just heard of that are still to come today: go or not, and if so, the
        plan makes room (a revision of the hourly plan)."""
        town, p = self.model, self.person
        topics, self.pending_news = self.pending_news, []
        for topic in topics:
            intention = town.intention(topic)
            if intention.kind != "event" or intention.day != day or topic in self.attending:
                continue
            if day * MINUTES_PER_DAY + intention.end_minute <= self.now:
                continue
            yield from self.decide_attendance(topic)
            if not self.attending[topic]:
                continue
            start = self.now - day * MINUTES_PER_DAY
            (event,) = [e for e in self.events_to_attend(day)
                        if e[3].startswith(f"going to {topic} ")]
            blocks = overlay([b for b in self.schedule if b.end > start],
                             Block(event[0], event[1], "party", event[2], event[3]), start,
                             p.bedtime)
            self.revision += 1
            self.schedule = [b for b in self.schedule if b.end <= start] + blocks
            town.record_plans(self, day, "hour", blocks, self.revision, "rule")
            self.replanned = True
