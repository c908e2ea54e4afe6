"""The town as a Mesa model on a SimPy clock counting minutes: its residents, the news that
travels between them, who attends the seeded events, and generations of residents.

Besides one process per resident, one process keeps the town's clock: every simulated hour it
records who knows each topic and commits the store (a checkpoint: a stopped run resumes from
there), every midnight it records the day's network and conversation counts and, every
`days_per_generation` days, lets a share of residents leave and newcomers arrive; only then
does the new day begin for the residents (`day_begins`), who describe themselves and plan.
The news and attendance are `news.News`, the rows `recording.Recording`; rule residents'
memory questions are answered by `TownRules`.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Generator, Sequence
from itertools import combinations
from typing import TYPE_CHECKING, Any

from scenarios.town.config import Intention, TownConfig, town_and_people
from scenarios.town.interview_config import INTERVIEW_TABLES
from scenarios.town.interview_daily import TownInterviewer
from scenarios.town.news import News, mentions
from scenarios.town.recording import Recording
from scenarios.town.resident import MINUTES_PER_DAY, Resident
from scenarios.town.tables import TABLES
from scenarios.town.tasks import TownContext
from scenarios.town.townmap import Person
from sim import ConfigError, LLMBrain, PromptLibrary, RuleBrain, World
from sim.memory import (
    KeywordImportance,
    MemoryBank,
    MemoryContext,
    MemoryRecord,
    MemoryRules,
    get_embedder,
    inherit,
)
from sim.memory.tasks import DEFAULT_IMPORTANCE_KEYWORDS, content_words

if TYPE_CHECKING:
    from sim import Gateway, RunStore

Steps = Generator[Any, Any, Any]

#: How a rule brain rates a town memory: news and events stand out; talk and plans a little;
#: walking and sleeping are 1 (the paper's brushing one's teeth), anything else 2.
TOWN_IMPORTANCE = {**DEFAULT_IMPORTANCE_KEYWORDS, "party": 6, "mayor": 6, "election": 6,
                   "heard": 4, "said": 3, "talked": 3, "hosting": 6, "plan": 3,
                   "walking": 1, "sleeping": 1}


class TownRule:
    """The rule residents' policy: the town's probabilities (the tasks hold the behaviour)."""

    family = "town_rule"

    def __init__(self, config: TownConfig) -> None:
        self._params = {"chat_probability": config.chat_probability,
                        "share_probability": config.share_probability,
                        "attend_probability": config.attend_probability}

    def params(self) -> dict[str, float]:
        return dict(self._params)


class Town(Recording, News, World):
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
        importance = KeywordImportance(TOWN_IMPORTANCE)
        self.ctx = TownContext(PromptLibrary("scenarios.town", config.prompts_dir), self.townmap,
                               config, importance)
        settings = config.memory_settings
        self.bank = MemoryBank(get_embedder(settings.embedder), settings, store)
        self.names: dict[str, str] = {}  # agent id -> name, everyone who ever lived here
        self.memory = MemoryContext(prompts=PromptLibrary("sim.memory", config.prompts_dir),
                                    rules=TownRules(self, importance),
                                    config=settings, names=self.names)
        self.object_states: dict[str, tuple[str, str]] = {}  # object -> (state, user)
        self.present: dict[str, dict[str, Resident]] = {}  # place -> who is there
        self._days: dict[int, Any] = {}  # day -> the event of its beginning
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
        self.names[person.agent_id] = person.name
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

    def first_known(self, person: Person) -> list[str]:
        """The places a newcomer to the story knows: home, work, every place of their areas
        and the town file's `knows` (`known_places = "own"`), or the whole town."""
        townmap = self.townmap
        if self.config.architecture.known_places == "all":
            return [p.place_id for p in townmap.spots()]
        areas = {townmap.area_of(person.home), townmap.area_of(person.work or person.home)}
        around = [p.place_id for p in townmap.spots() if townmap.area_of(p.place_id) in areas]
        return list(dict.fromkeys([person.home, *([person.work] if person.work else []),
                                   *around, *person.knows]))

    def day_begins(self, day: int) -> Any:
        """The event residents wait for before planning a day: after the clock's midnight
        work (the day's metrics, a generation's turn), and on day 0 after the seeding."""
        if day not in self._days:
            self._days[day] = self.env.event()
        return self._days[day]

    def start(self) -> Steps:
        """Seeded knowledge first (the hosts know and remember), then the clock."""
        seeded = []
        for intention in self.config.intentions:
            host = self.by_name[intention.agent]
            self.learn(intention.topic, host, None, None, "seeded")
            seeded.append(self.process(host.remember([self.news_sentence(intention.topic)],
                                                     "plan")))
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
            if now % MINUTES_PER_DAY == 0:
                self.day_begins(now // MINUTES_PER_DAY).succeed()
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
                if parent.name in knowers and any(mentions(r.text, words) for r in step.value):
                    self.learn(topic, heir, parent.name, None, "inherited")
        for parent, _ in arrivals:
            parent.close_span()
            parent.state = "gone"
            parent.place = None
            self.living.remove(parent)
            del self.by_name[parent.name]
            parent.remove()


class TownRules(MemoryRules):
    """The memory rules of rule residents: the town's importance table, and reflections that
    ask about the residents, places and news their memories name, never about themselves."""

    def __init__(self, town: Town, importance: KeywordImportance) -> None:
        super().__init__(importance=importance)
        self.town = town
        self._compiled: tuple[int, dict[str, list[tuple[int, str, str]]]] | None = None
        self._subjects: dict[str, list[str]] = {}  # text -> its subjects (texts repeat)

    def focal_questions(self, records: Sequence[MemoryRecord], n: int) -> list[str]:
        salient = [r for r in records if r.importance >= self.salient_importance] or records
        votes: Counter[str] = Counter()
        for record in salient:
            me = self.town.names.get(record.owner)
            for subject in dict.fromkeys(self.town_subjects(record.text)):
                if subject != me:
                    votes[subject] += record.importance
        ranked = sorted(votes, key=lambda subject: (-votes[subject], subject))
        return [self.question_template.format(subject=s) for s in ranked[:n]]

    def town_subjects(self, text: str) -> list[str]:
        """The residents, places and news a memory names, whole ("Mara Quill", "the Copper
        Kettle", "the party"), else its content words; never a fragment of a time."""
        found = self._subjects.get(text)
        if found is None:
            starting = self._names()
            words = _WORDS.findall(text.lower())
            found, i = [], 0
            while i < len(words):  # the longest name starting at each word, left to right
                for length, key, name in starting.get(words[i], ()):
                    if " ".join(words[i:i + length]) == key:
                        found.append(name)
                        i += length
                        break
                else:
                    i += 1
            found = list(dict.fromkeys(found)) or [w for w in content_words(text)
                                                   if w.isalpha()]
            if len(self._subjects) > 100_000:
                self._subjects.clear()
            self._subjects[text] = found
        return found

    def _names(self) -> dict[str, list[tuple[int, str, str]]]:
        """Every name by its first lower-case word: (words, key, name), longest first
        (rebuilt when a newcomer arrives)."""
        town = self.town
        if self._compiled is None or self._compiled[0] != len(town.names):
            subjects = [*town.names.values(), *(p.name for p in town.townmap.spots()),
                        *(f"the {w}" for i in town.config.intentions for w in i.words())]
            starting: dict[str, list[tuple[int, str, str]]] = {}
            for name in dict.fromkeys(subjects):
                words = _WORDS.findall(name.lower().removeprefix("the "))
                if words:
                    starting.setdefault(words[0], []).append((len(words), " ".join(words),
                                                              name))
            for options in starting.values():
                options.sort(key=lambda option: -option[0])
            self._compiled = (len(town.names), starting)
            self._subjects.clear()
        return self._compiled[1]


_WORDS = re.compile(r"[a-z0-9]+(?:['’-][a-z0-9]+)*")
