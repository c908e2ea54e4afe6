"""The seeded news and how it travels: who knows what, from whom and when, what a rule speaker
has left to tell, and who came to each event: the `News` part of `Town`.

News passes when someone who knows it says an utterance naming one of its keywords (the
`knowledge` table: the first time each resident learns each topic). Speakers also keep track
of who they know to know what: a topic one was told, has told, or whose host one is talking
to is not news to tell again.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from scenarios.town.speech import news_sentence

if TYPE_CHECKING:
    from scenarios.town.config import Intention
    from scenarios.town.conversation import Conversation
    from scenarios.town.model import Town
    from scenarios.town.resident import Resident

MINUTES_PER_DAY = 1440


class News:
    """News and attendance, for `Town`."""

    def intention(self: Town, topic: str) -> Intention:
        return next(i for i in self.config.intentions if i.topic == topic)

    def news_sentence(self: Town, topic: str) -> str:
        """The topic as residents tell it: '<host's name> <description>'."""
        intention = self.intention(topic)
        host = self.names.get(intention.agent, intention.agent)
        return news_sentence(host, intention.description, intention.words(), topic)

    def known_events(self: Town, resident: Resident, day: int) -> list[str]:
        return [i.topic for i in self.config.intentions
                if i.kind == "event" and i.day == day and resident.name in self.knows[i.topic]]

    def news_for(self: Town, speaker: Resident, listener: Resident) -> list[list[str]]:
        """What the speaker knows and could tell this listener: (topic, sentence) for every
        topic the listener is not known to know (not told by or to them, not their own) and,
        for an event, only while it has not ended."""
        known = speaker.known_to.get(listener.name, set())
        news = []
        for i in self.config.intentions:
            if speaker.name not in self.knows[i.topic] or i.topic in known or \
                    i.agent == listener.name:
                continue
            if i.kind == "event" and (i.day or 0) * MINUTES_PER_DAY + i.end_minute <= \
                    self.env.now:
                continue  # it is over: no longer news
            news.append([i.topic, self.news_sentence(i.topic)])
        return news

    def learn(self: Town, topic: str, resident: Resident, source: str | None,
              conversation: Conversation | None, how: str, turn: int | None = None) -> None:
        if resident.name in self.knows[topic]:
            return
        now = int(self.env.now)
        self.knows[topic][resident.name] = now
        self.record("knowledge", [{
            "topic": topic, "agent_id": resident.name, "day": now // MINUTES_PER_DAY,
            "minute": now % MINUTES_PER_DAY, "clock": now, "source_agent": source,
            "conversation_id": conversation.conversation_id if conversation else None,
            "how": how, "turn": turn}])
        intention = self.intention(topic)
        if intention.kind == "event" and intention.place:
            resident.learn_place(self.townmap.resolve(intention.place) or "",
                                 "told" if how == "conversation" else how, source)
        if how == "conversation":
            resident.pending_news.append(topic)

    def hear(self: Town, conversation: Conversation, turn: int, speaker: Resident,
             listener: Resident, text: str) -> None:
        """An utterance passes on every topic the speaker knows and names; both now know
        that the other knows it."""
        for intention in self.config.intentions:
            topic = intention.topic
            if speaker.name in self.knows[topic] and mentions(text, intention.words()):
                speaker.known_to.setdefault(listener.name, set()).add(topic)
                listener.known_to.setdefault(speaker.name, set()).add(topic)
                conversation.passed.append((speaker.name, listener.name, topic))
                self.learn(topic, listener, speaker.name, conversation, "conversation", turn)

    def record_attendance(self: Town, intention: Intention) -> None:
        """Who was at the event's place for at least `attendance_minutes` of its window, who
        knew before it began, and who had planned to go (decided to, or put it in their
        hourly plan themselves)."""
        start = (intention.day or 0) * MINUTES_PER_DAY + intention.start_minute
        end = (intention.day or 0) * MINUTES_PER_DAY + intention.end_minute
        place = self.townmap.resolve(intention.place or "") or ""
        needed = min(self.config.attendance_minutes, end - start)
        rows = []
        for resident in self.living:
            spans = list(resident.spans)
            if resident.span is not None:
                s = resident.span
                spans.append((s[0], int(self.env.now), s[2], s[1]))
            minutes = sum(max(0, min(e, end) - max(s, start)) for s, e, where, activity in spans
                          if within(where, place) and activity != "walk")
            learnt = self.knows[intention.topic].get(resident.name)
            rows.append({"topic": intention.topic, "agent_id": resident.name,
                         "present": int(minutes >= self.config.attendance_minutes),
                         "knew": int(learnt is not None and learnt < start),
                         "minutes_present": minutes,
                         "planned": int(bool(resident.attending.get(intention.topic))
                                        or planned_minutes(resident, intention, place)
                                        >= needed)})
        self.record("attendance", rows)


def planned_minutes(resident: Resident, intention: Intention, place: str) -> int:
    """Minutes of the event's window the resident's hourly plan for its day spends at its
    place (0 when the plan in hand is for another day)."""
    if resident.plan_day != intention.day:
        return 0
    start, end = intention.start_minute, intention.end_minute
    return sum(max(0, min(b.end, end) - max(b.start, start)) for b in resident.schedule
               if b.place is not None and within(b.place, place))


def within(place_id: str, place: str) -> bool:
    return place_id == place or place_id.startswith(place + ".")


def mentions(text: str, words: list[str]) -> bool:
    lowered = text.lower()
    return any(re.search(rf"\b{re.escape(word)}\b", lowered) for word in words)
