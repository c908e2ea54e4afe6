"""The town's rows: what the simulation writes into its tables (`tables.TABLES`) as it goes,
and what it reads back of a resident's own past (its yesterday): the `Recording` part of
`Town`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from scenarios.town.plans import Action, Block
from scenarios.town.townmap import clock_text

if TYPE_CHECKING:
    from scenarios.town.conversation import Conversation
    from scenarios.town.model import Town
    from scenarios.town.resident import Resident

MINUTES_PER_DAY = 1440

#: How a day's activity labels read in "what you did yesterday".
LIVED = {"home": "at home", "eat": "a meal", "work": "work", "study": "lessons",
         "shop": "shopping", "leisure": "free time", "exercise": "exercise",
         "chat": "talking", "party": "a party", "meeting": "a meeting", "other": "busy"}


class Recording:
    """Rows of the town's tables, for `Town`."""

    def next_conversation_id(self: Town, day: int) -> str:
        self._conversation_count += 1
        return f"c{self._conversation_count:05d}"

    def record_span(self: Town, resident: Resident, start: int, end: int, place: str,
                    activity: str, description: str, source: str, object_id: str | None,
                    object_state: str | None = None) -> None:
        rows = []
        while start < end:
            day = start // MINUTES_PER_DAY
            cut = min(end, (day + 1) * MINUTES_PER_DAY)
            rows.append({"day": day, "start_minute": start - day * MINUTES_PER_DAY,
                         "end_minute": cut - day * MINUTES_PER_DAY, "clock_start": start,
                         "clock_end": cut, "agent_id": resident.name, "place_id": place,
                         "activity": activity, "description": description, "source": source,
                         "object_id": object_id, "object_state": object_state})
            start = cut
        self.record("activities", rows)

    def record_plans(self: Town, resident: Resident, day: int, level: str, blocks: list[Block],
                     revision: int, source: str) -> None:
        self.record("plans", [
            {"day": day, "agent_id": resident.name, "level": level, "start_minute": b.start,
             "duration": b.duration, "description": b.description,
             "place_id": b.place if level != "day" else None, "revision": revision,
             "source": source, "activity": b.activity} for b in blocks])

    def record_actions(self: Town, resident: Resident, day: int, actions: list[Action],
                       place: str | None, revision: int, source: str) -> None:
        self.record("plans", [
            {"day": day, "agent_id": resident.name, "level": "action", "start_minute": a.start,
             "duration": a.minutes, "description": a.description, "place_id": place,
             "revision": revision, "source": source, "activity": a.activity}
            for a in actions])

    def record_utterance(self: Town, conversation: Conversation, turn: int,
                         speaker: Resident, listener: Resident, text: str,
                         source: str) -> None:
        now = int(self.env.now)
        self.record("utterances", [{
            "conversation_id": conversation.conversation_id, "turn": turn,
            "day": now // MINUTES_PER_DAY, "minute": now % MINUTES_PER_DAY,
            "speaker": speaker.name, "listener": listener.name, "text": text,
            "source": source, "clock": now}])
        self.utterances_today += 1
        self.hear(conversation, turn, speaker, listener, text)
        for place in self.townmap.places_named_in(text):
            listener.learn_place(place, "told", speaker.name)

    def record_conversation(self: Town, c: Conversation) -> None:
        now = int(self.env.now)
        day = c.start // MINUTES_PER_DAY
        self.record("conversations", [{
            "conversation_id": c.conversation_id, "day": day,
            "start_minute": c.start - day * MINUTES_PER_DAY,
            "end_minute": now - day * MINUTES_PER_DAY, "place_id": c.place,
            "initiator": c.initiator.name, "partner": c.partner.name, "turns": c.turns,
            "ended_by": c.ended_by, "clock_start": c.start, "clock_end": now}])
        self.conversations_today += 1
        self.talked.add(frozenset((c.initiator.name, c.partner.name)))
        for who, other in ((c.initiator, c.partner), (c.partner, c.initiator)):
            who.talks.append((c.start, other.person.name))

    def record_summary(self: Town, resident: Resident, text: str, source: str) -> None:
        now = int(self.env.now)
        self.record("summaries", [{"day": now // MINUTES_PER_DAY,
                                   "minute": now % MINUTES_PER_DAY, "clock": now,
                                   "agent_id": resident.name, "text": text, "source": source}])

    def record_known_place(self: Town, resident: Resident, place: str, how: str,
                           source: str | None) -> None:
        now = int(self.env.now)
        self.record("known_places", [{"agent_id": resident.name, "place_id": place,
                                      "day": now // MINUTES_PER_DAY,
                                      "minute": now % MINUTES_PER_DAY, "clock": now,
                                      "how": how, "source_agent": source}])

    def yesterday_of(self: Town, resident: Resident, day: int) -> str:
        """What the resident did on `day`, from its own spans (walks and sleep left out,
        the same activity at the same place merged) and who it talked with."""
        lo, hi = day * MINUTES_PER_DAY, (day + 1) * MINUTES_PER_DAY
        merged: list[list[Any]] = []
        for start, end, place, activity in resident.spans:
            start, end = max(start, lo), min(end, hi)
            if end <= start or activity in ("walk", "sleep", "chat"):
                continue
            if merged and merged[-1][2:] == [place, activity] and start - merged[-1][1] <= 30:
                merged[-1][1] = end
            else:
                merged.append([start, end, place, activity])
        parts = [f"{clock_text(s)}-{clock_text(e)} {LIVED.get(a, a)} at "
                 f"{self.townmap.name_of(p)}" for s, e, p, a in merged if e - s >= 10]
        talks = [f"{name} at {clock_text(clock)}" for clock, name in resident.talks
                 if lo <= clock < hi]
        text = "; ".join(parts) or "nothing of note"
        if talks:
            text += ". Talked with " + ", ".join(talks)
        return f"{self.config.day_text(day)}: {text}."
