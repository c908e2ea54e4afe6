"""The town as a Mesa model on a SimPy clock counting minutes: its residents, the news that
travels between them, who attends the seeded events, and generations of residents.

Besides one process per resident, one process keeps the town's clock: every simulated hour it
records who knows each topic and commits the store (a checkpoint: a stopped run resumes from
there), every midnight it records the day's network and conversation counts and, every
`days_per_generation` days, lets a share of residents leave and newcomers arrive.
"""

from __future__ import annotations

import re
from collections.abc import Generator
from itertools import combinations
from typing import TYPE_CHECKING, Any

from scenarios.town.config import Intention, TownConfig, town_and_people
from scenarios.town.interview_config import INTERVIEW_TABLES
from scenarios.town.interview_daily import TownInterviewer
from scenarios.town.plans import Action, Block
from scenarios.town.resident import MINUTES_PER_DAY, Conversation, Resident
from scenarios.town.speech import news_sentence
from scenarios.town.tables import TABLES
from scenarios.town.tasks import TownContext
from scenarios.town.townmap import Person
from sim import ConfigError, LLMBrain, PromptLibrary, RuleBrain, World
from sim.memory import (
    KeywordImportance,
    MemoryBank,
    MemoryContext,
    MemoryRules,
    get_embedder,
    inherit,
)
from sim.memory.tasks import DEFAULT_IMPORTANCE_KEYWORDS

if TYPE_CHECKING:
    from sim import Gateway, RunStore

Steps = Generator[Any, Any, Any]

#: How a rule brain rates a town memory: news and events stand out from routine.
TOWN_IMPORTANCE = {**DEFAULT_IMPORTANCE_KEYWORDS, "party": 6, "mayor": 6, "election": 6,
                   "heard": 4, "said": 3, "hosting": 6, "plan": 3, "walking": 1, "sleeping": 1}


class TownRule:
    """The rule residents' policy: the town's probabilities (the tasks hold the behaviour)."""

    family = "town_rule"

    def __init__(self, config: TownConfig) -> None:
        self._params = {"chat_probability": config.chat_probability,
                        "share_probability": config.share_probability,
                        "attend_probability": config.attend_probability}

    def params(self) -> dict[str, float]:
        return dict(self._params)


class Town(World):
    """`Town(config).run_model()` lives the configured days in memory with rule brains; the
    runner adds a store and a gateway."""

    def __init__(self, config: TownConfig | None = None, *, store: RunStore | None = None,
                 gateway: Gateway | None = None) -> None:
        config = config or TownConfig()
        super().__init__(config, store=store, gateway=gateway)
        self.config: TownConfig = config
        try:
            self.townmap, people = town_and_people(config)
        except ValueError as error:  # the config was built without validation
            raise ConfigError(str(error)) from None
        if store is not None:
            for name, columns in {**TABLES, **INTERVIEW_TABLES}.items():
                store.define_table(name, columns)
        self.ctx = TownContext(PromptLibrary("scenarios.town", config.prompts_dir), self.townmap,
                               config.max_turns, config.chat_probability,
                               config.share_probability, config.attend_probability)
        settings = config.memory_settings
        self.bank = MemoryBank(get_embedder(settings.embedder), settings, store)
        self.memory = MemoryContext(prompts=PromptLibrary("sim.memory", config.prompts_dir),
                                    rules=MemoryRules(importance=KeywordImportance(TOWN_IMPORTANCE)),
                                    config=settings)
        self.llm_settings = config.llm_settings() if config.llm else None
        self._rows: dict[str, list[dict[str, Any]]] = {}
        self.over = False  # the run's end reached: nothing more is asked or recorded
        self.living: list[Resident] = []
        self.by_name: dict[str, Resident] = {}
        self.knows: dict[str, dict[str, int]] = {i.topic: {} for i in config.intentions}
        self.talked: set[frozenset[str]] = set()
        self.conversations_today = self.utterances_today = 0
        self._conversation_count = 0
        self._arrivals = 0
        self.turnovers, self.last_day = self._plan_generations(people)
        self.progress_total = config.end_minute // 60
        self.record("places", [
            {"place_id": p.place_id, "name": p.name, "parent": p.parent, "level": p.level,
             "kind": p.kind, "x": p.x, "y": p.y} for p in self.townmap.places.values()])
        self.record("intentions", [
            {"topic": i.topic, "agent_id": i.agent, "kind": i.kind, "description": i.description,
             "place_id": self.townmap.resolve(i.place) if i.place else None, "day": i.day,
             "start_minute": i.start_minute if i.kind == "event" else None,
             "end_minute": i.end_minute if i.kind == "event" else None}
            for i in config.intentions])
        for person in people:
            self.arrive(person, generation=0, day=0, parents=[])
        self.interviewer = TownInterviewer(self)
        self.process(self.start())

    # -- the store: rows gathered between commits, written one insert per table --------------
    def record(self, table: str, rows: list[dict[str, Any]]) -> None:
        if self.store is not None and rows and not self.over:
            self._rows.setdefault(table, []).extend(rows)

    def commit(self) -> None:
        rows, self._rows = self._rows, {}
        for table, batch in rows.items():
            super().record(table, batch)
        super().commit()

    # -- residents --------------------------------------------------------------------------
    def arrive(self, person: Person, *, generation: int, day: int,
               parents: list[str]) -> Resident:
        brain = LLMBrain(self.llm_settings) if self.llm_settings else RuleBrain(TownRule(
            self.config))
        resident = Resident(self, person, brain, generation=generation, first_day=day,
                            index=self._arrivals, parents=parents)
        self._arrivals += 1
        self.living.append(resident)
        self.by_name[resident.name] = resident
        self.record("agents", [{
            "agent_id": person.agent_id, "generation": generation, "brain": brain.brain_type,
            "kind": brain.kind, "model": getattr(brain, "model", None),
            "params": brain.describe(), "parents": parents}])
        self.record("residents", [{
            "agent_id": person.agent_id, "name": person.name, "occupation": person.occupation,
            "home": person.home, "persona": person.persona, "generation": generation,
            "first_day": day, "last_day": self.last_day.get(person.agent_id),
            "work": person.work, "parents": parents}])
        return resident

    def start(self) -> Steps:
        """Seeded knowledge first (the hosts know and remember), then the clock."""
        seeded = []
        for intention in self.config.intentions:
            host = self.by_name[intention.agent]
            self.learn(intention.topic, host, None, None, "seeded")
            text = news_sentence(host.person.name, intention.description, intention.words(),
                                 intention.topic)
            seeded.append(self.process(host.remember([text], "plan")))
        if seeded:
            yield self.env.all_of(seeded)
        yield from self.interviewer.start()
        yield from self.clock()

    # -- the clock --------------------------------------------------------------------------
    def clock(self) -> Steps:
        config = self.config
        end = config.end_minute
        for intention in config.intentions:
            if intention.kind == "event" and (intention.day or 0) * MINUTES_PER_DAY + \
                    intention.end_minute <= end:
                self.process(self.watch(intention))
        while True:
            now = int(self.env.now)
            if now % MINUTES_PER_DAY == 0 and now > 0:
                self.end_of_day(now // MINUTES_PER_DAY - 1)
                yield from self.interviewer.end_of_day(now // MINUTES_PER_DAY - 1,
                                                       final=now == end)
            elif now == end:  # a short last day: its metrics so far
                self.end_of_day(now // MINUTES_PER_DAY)
                yield from self.interviewer.end_of_day(now // MINUTES_PER_DAY, final=True)
            if now < end:
                self.record_knowledge_shares(now)
            self.commit()
            hour = now // 60
            day = min(now // MINUTES_PER_DAY, config.days - 1)
            self.report_progress(min(hour, self.progress_total), f"day {day + 1}/{config.days}",
                                 f"{(now % MINUTES_PER_DAY) // 60:02d}:00")
            if now >= end:
                break
            if now % MINUTES_PER_DAY == 0 and now > 0 and config.days_per_generation and \
                    (now // MINUTES_PER_DAY) % config.days_per_generation == 0:
                yield from self.turn_generation(now // MINUTES_PER_DAY)
                self.commit()
            yield self.env.timeout(60)
        for resident in self.living:
            resident.close_span()
        self.commit()
        self.over = True
        self.running = False  # residents still awake stop here: nothing after the cut runs

    def request_decision(self, agent: Any, task: Any) -> Any:
        """From the run's end on no question goes out: the asker waits forever, unanswered
        (on a short day, residents are still awake at the cut); only the interviews that
        measure the run at its end are asked then."""
        if self.env.now >= self.config.end_minute and \
                task.kind not in ("interview_knowledge", "interview_acquaintance"):
            return self.env.event()
        return super().request_decision(agent, task)

    def watch(self, intention: Intention) -> Steps:
        """Record an event's attendance the minute it ends (the next hourly commit keeps it)."""
        yield self.env.timeout((intention.day or 0) * MINUTES_PER_DAY + intention.end_minute
                               - self.env.now)
        self.record_attendance(intention)

    def record_knowledge_shares(self, now: int) -> None:
        alive = {r.name for r in self.living}
        self.record("metrics", [
            {"scope": "hour", "step": now // 60, "generation": None,
             "name": f"knows_share:{topic}",
             "value": len(alive & set(knowers)) / len(alive) if alive else 0.0}
            for topic, knowers in self.knows.items()])

    def end_of_day(self, day: int) -> None:
        names = sorted(r.name for r in self.living)
        pairs = list(combinations(names, 2))
        talked = sum(frozenset(pair) in self.talked for pair in pairs)
        self.record("metrics", [
            {"scope": "day", "step": day, "generation": None, "name": name, "value": value}
            for name, value in (("network_density", talked / len(pairs) if pairs else 0.0),
                                ("conversations", float(self.conversations_today)),
                                ("utterances", float(self.utterances_today)))])
        self.conversations_today = self.utterances_today = 0

    # -- generations ------------------------------------------------------------------------
    def _plan_generations(self, people: list[Person]
                          ) -> tuple[dict[int, list[tuple[str, Person]]], dict[str, int]]:
        """Who leaves and who arrives at each generation's turn, drawn up front (it depends
        on nothing that happens in the town), so a resident's row can say its last day."""
        every = self.config.days_per_generation
        turnovers: dict[int, list[tuple[str, Person]]] = {}
        last_day: dict[str, int] = {}
        if not every:
            return turnovers, last_day
        pool = list(self.townmap.newcomers)
        living = [p.agent_id for p in people]
        made_up = 0
        for day in range(every, self.config.days, every):
            count = max(1, round(len(living) * self.config.leave_share))
            order = self.rng.permutation(len(living))
            leaving = [living[int(i)] for i in sorted(order[:count])]
            turnovers[day] = []
            for parent in leaving:
                if pool:
                    person = pool.pop(0)
                else:
                    made_up += 1
                    person = self._made_up(self._person(parent, people, turnovers), made_up)
                turnovers[day].append((parent, person))
                last_day[parent] = day - 1
                living[living.index(parent)] = person.agent_id
        return turnovers, last_day

    @staticmethod
    def _person(agent_id: str, people: list[Person],
                turnovers: dict[int, list[tuple[str, Person]]]) -> Person:
        everyone = people + [p for arrivals in turnovers.values() for _, p in arrivals]
        return next(p for p in everyone if p.agent_id == agent_id)

    def _made_up(self, parent: Person, n: int) -> Person:
        name = f"Newcomer {n}"
        return Person(f"newcomer{n}", name, parent.occupation, parent.home, parent.work,
                      f"{name} has just moved to {self.townmap.name} to work as "
                      f"{parent.occupation}.", parent.wake, parent.bedtime)

    def turn_generation(self, day: int) -> Steps:
        """At midnight: the residents drawn to leave go; each is replaced by a newcomer who
        inherits from them by the memory inheritance policy."""
        generation = day // (self.config.days_per_generation or 1)
        arrivals = [(self.by_name[parent], self.arrive(person, generation=generation, day=day,
                                                       parents=[parent]))
                    for parent, person in self.turnovers.get(day, [])]
        steps = [self.process(inherit(self.bank, heir.name, [parent], context=self.memory,
                                      now=self.env.now, generation=generation))
                 for parent, heir in arrivals]
        if steps:
            yield self.env.all_of(steps)
        for (parent, heir), step in zip(arrivals, steps, strict=True):
            for topic, knowers in self.knows.items():
                words = self.intention(topic).words()
                if parent.name in knowers and any(_mentions(r.text, words) for r in step.value):
                    self.learn(topic, heir, parent.name, None, "inherited")
        for parent, _ in arrivals:
            parent.close_span()
            parent.state = "gone"
            self.living.remove(parent)
            del self.by_name[parent.name]
            parent.remove()

    # -- news -------------------------------------------------------------------------------
    def intention(self, topic: str) -> Intention:
        return next(i for i in self.config.intentions if i.topic == topic)

    def known_events(self, resident: Resident, day: int) -> list[str]:
        return [i.topic for i in self.config.intentions
                if i.kind == "event" and i.day == day and resident.name in self.knows[i.topic]]

    def news_for(self, speaker: Resident, listener: Resident) -> list[list[str]]:
        """What the speaker knows and has not yet told this listener: (topic, sentence)."""
        told = speaker.told.get(listener.name, set())
        news = []
        for intention in self.config.intentions:
            if speaker.name in self.knows[intention.topic] and intention.topic not in told:
                host = self.by_name.get(intention.agent)
                name = host.person.name if host else intention.agent
                news.append([intention.topic, news_sentence(name, intention.description,
                                                            intention.words(),
                                                            intention.topic)])
        return news

    def learn(self, topic: str, resident: Resident, source: str | None,
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
        if how == "conversation":
            resident.pending_news.append(topic)

    def hear(self, conversation: Conversation, turn: int, speaker: Resident,
             listener: Resident, text: str) -> None:
        """An utterance passes on every topic the speaker knows and names."""
        for intention in self.config.intentions:
            topic = intention.topic
            if speaker.name in self.knows[topic] and _mentions(text, intention.words()):
                speaker.told.setdefault(listener.name, set()).add(topic)
                self.learn(topic, listener, speaker.name, conversation, "conversation", turn)

    # -- rows -------------------------------------------------------------------------------
    def next_conversation_id(self, day: int) -> str:
        self._conversation_count += 1
        return f"c{self._conversation_count:05d}"

    def record_span(self, resident: Resident, start: int, end: int, place: str, activity: str,
                    description: str, source: str, object_id: str | None) -> None:
        rows = []
        while start < end:
            day = start // MINUTES_PER_DAY
            cut = min(end, (day + 1) * MINUTES_PER_DAY)
            rows.append({"day": day, "start_minute": start - day * MINUTES_PER_DAY,
                         "end_minute": cut - day * MINUTES_PER_DAY, "clock_start": start,
                         "clock_end": cut, "agent_id": resident.name, "place_id": place,
                         "activity": activity, "description": description, "source": source,
                         "object_id": object_id})
            start = cut
        self.record("activities", rows)

    def record_plans(self, resident: Resident, day: int, level: str, blocks: list[Block],
                     revision: int, source: str) -> None:
        self.record("plans", [
            {"day": day, "agent_id": resident.name, "level": level, "start_minute": b.start,
             "duration": b.duration, "description": b.description,
             "place_id": b.place if level != "day" else None, "revision": revision,
             "source": source, "activity": b.activity} for b in blocks])

    def record_actions(self, resident: Resident, day: int, actions: list[Action],
                       place: str | None, revision: int, source: str) -> None:
        self.record("plans", [
            {"day": day, "agent_id": resident.name, "level": "action", "start_minute": a.start,
             "duration": a.minutes, "description": a.description, "place_id": place,
             "revision": revision, "source": source, "activity": a.activity}
            for a in actions])

    def record_utterance(self, conversation: Conversation, turn: int, speaker: Resident,
                         listener: Resident, text: str, source: str) -> None:
        now = int(self.env.now)
        self.record("utterances", [{
            "conversation_id": conversation.conversation_id, "turn": turn,
            "day": now // MINUTES_PER_DAY, "minute": now % MINUTES_PER_DAY,
            "speaker": speaker.name, "listener": listener.name, "text": text,
            "source": source, "clock": now}])
        self.utterances_today += 1
        self.hear(conversation, turn, speaker, listener, text)

    def record_conversation(self, c: Conversation) -> None:
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

    def record_attendance(self, intention: Intention) -> None:
        """Who was at the event's place for at least `attendance_minutes` of its window."""
        start = (intention.day or 0) * MINUTES_PER_DAY + intention.start_minute
        end = (intention.day or 0) * MINUTES_PER_DAY + intention.end_minute
        place = self.townmap.resolve(intention.place or "")
        rows = []
        for resident in self.living:
            spans = list(resident.spans)
            if resident.span is not None:
                s = resident.span
                spans.append((s[0], int(self.env.now), s[2], s[1]))
            minutes = sum(max(0, min(e, end) - max(s, start)) for s, e, where, activity in spans
                          if where == place and activity != "walk")
            learnt = self.knows[intention.topic].get(resident.name)
            rows.append({"topic": intention.topic, "agent_id": resident.name,
                         "present": int(minutes >= self.config.attendance_minutes),
                         "knew": int(learnt is not None and learnt < start),
                         "minutes_present": minutes,
                         "planned": int(bool(resident.attending.get(intention.topic)))})
        self.record("attendance", rows)


def _mentions(text: str, words: list[str]) -> bool:
    lowered = text.lower()
    return any(re.search(rf"\b{re.escape(word)}\b", lowered) for word in words)
