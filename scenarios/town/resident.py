"""A resident and their life: one SimPy process per resident, a day at a time.

At midnight (once the town's clock has closed the day before) a resident describes itself
(the agent summary), plans its day in broad strokes and then in hourly blocks, choosing when
to wake; it sleeps until then. At each block it decomposes the block into 5-15 minute
actions and walks where the block is (`walking`: it takes simulated time, and passes places on
the way); at each action it perceives (`perception`) and may react: talk (`conversation`),
wait, or change its plan; news of an event may send it there (`attending`). At bedtime it
walks home and sleeps.

Residents never wait for each other except inside a conversation: every decision of a chain
(perceive -> react -> speak) is asked when the chain reaches it, and the world hands all
decisions pending at one simulated instant to the gateway together, so the chains of different
residents go out in the same batches without any global barrier.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Generator
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np
import simpy

from scenarios.town.attending import Attending
from scenarios.town.conversation import Talking
from scenarios.town.perception import Perceiving
from scenarios.town.plans import Action, Block, overlay
from scenarios.town.summary import render_summary, summary_task
from scenarios.town.tasks import Decompose, PlanDay, PlanHours
from scenarios.town.townmap import Person, clock_text
from scenarios.town.walking import Walking
from sim import SimAgent
from sim.memory import NewMemory, describe_memories, maybe_reflect, remember

if TYPE_CHECKING:
    from scenarios.town.model import Town

Steps = Generator[Any, Any, Any]
MINUTES_PER_DAY = 1440


class Resident(Perceiving, Talking, Attending, Walking, SimAgent):
    """A person of the town: who they are, where they are, what they are doing, their plans,
    what they know of places and of the others."""

    model: Town

    def __init__(self, town: Town, person: Person, brain: Any, *, generation: int,
                 first_day: int, index: int, parents: list[str]) -> None:
        super().__init__(town, name=person.agent_id, brain=brain, persona=person.persona)
        arch = town.config.architecture
        self.person = person
        self.generation = generation
        self.first_day = first_day
        self.parents = parents
        self.dice = np.random.default_rng([town.seed or 0, index])
        self._place: str | None = None
        self.place = person.home  # where they are (while walking: the last place passed)
        self.spot = 0.5  # where within the place, when not at an object (drawn on arrival)
        self.state = "sleep"  # sleep | busy | act | talk | walk | gone
        self.span: tuple[int, str, str, str, str, str | None, str | None] | None = None
        self.spans: list[tuple[int, int, str, str]] = []  # closed: start, end, place, activity
        self.interruptible = False  # waiting out an action: a conversation may interrupt it
        self.invitation: Any = None  # a conversation begun with them while they were deciding
        self.passing = False  # walking past a place: those there may stop them to talk
        self.seen: set[str] = set()  # events noticed during this stay (retention None)
        self.recent: deque[str] = deque(maxlen=arch.retention or 1)  # last events perceived
        self.last_chat: dict[str, int] = {}
        self.known_to: dict[str, set[str]] = {}  # other -> topics they know (as I know it)
        self.last_talk: dict[str, tuple[int, str, str]] = {}  # other -> clock, about, author
        self.contexts: dict[str, str] = {}  # other -> what I made of them when reacting
        self.talks: list[tuple[int, str]] = []  # (clock, other's name): every conversation
        self.schedule: list[Block] = []
        self.plan_day: int | None = None  # the day `schedule` is for
        self.revision = 0
        self.replanned = False
        self.redecompose: str | None = None  # re-plan the hour's actions, with this note
        self.pending_news: list[str] = []
        self.attending: dict[str, bool] = {}
        self.current: Action | None = None
        self.prepared: tuple[tuple[int, Block], Decompose, Any] | None = None
        self.current_source = "rule"
        self.summary = ""  # the agent summary description, refreshed every morning
        self.yesterday = ""  # what they did the day before, for the summary and the plan
        self.wake_today = person.wake
        self.known: set[str] = set()
        for place in town.first_known(person):
            self.learn_place(place, "start")
        self.begin("sleep", person.home, "sleeping", "rule")
        self.life = town.process(self.live())

    @property
    def place(self) -> str | None:
        return self._place

    @place.setter
    def place(self, value: str | None) -> None:
        """Where the resident is, kept in the town's index of who is where (perception reads
        the people at one place, not the whole town)."""
        present = self.model.present
        if self._place is not None:
            present[self._place].pop(self.name, None)
        self._place = value
        if value is not None:
            present.setdefault(value, {})[self.name] = self

    @property
    def llm(self) -> bool:
        return self.brain.brain_type == "llm"

    @property
    def now(self) -> int:
        return int(self.model.env.now)

    def rolls(self, n: int) -> list[float]:
        return [round(float(x), 4) for x in self.dice.random(n)]

    def time_text(self) -> str:
        """'It is Tuesday 14 February 2023 (day 2), 10:05.': the time in every prompt."""
        day, minute = divmod(self.now, MINUTES_PER_DAY)
        return f"It is {self.model.config.day_text(day)}, {clock_text(minute)}."

    # -- where and what -------------------------------------------------------------------
    def begin(self, activity: str, place: str, description: str, source: str,
              object_id: str | None = None, object_state: str | None = None) -> None:
        """Close the current span and open one for what they do now (an object in use takes
        the action's state until the span closes)."""
        self.close_span()
        self.span = (self.now, activity, place, description, source, object_id, object_state)
        self.place = place
        if object_id and object_state:
            self.model.object_states[object_id] = (object_state, self.name)

    def close_span(self) -> None:
        if self.span is not None:
            start, activity, place, description, source, object_id, object_state = self.span
            if object_id and self.model.object_states.get(object_id, ("", ""))[1] == self.name:
                del self.model.object_states[object_id]  # the object is idle again
            if self.now > start:
                self.model.record_span(self, start, self.now, place, activity, description,
                                       source, object_id, object_state)
                self.spans.append((start, self.now, place, activity))
        self.span = None

    @property
    def doing(self) -> str:
        return self.span[3] if self.span else "nothing in particular"

    def available(self, other: Resident) -> bool:
        """Free to be spoken to by `other`: busy with an action here (or deciding what to do
        next at this very minute) or walking past it, not talking, no recent chat between
        them."""
        last = self.last_chat.get(other.name)
        busy = self.state == "act" or (self.state == "walk" and self.passing)
        return (busy and self.invitation is None and self.place == other.place
                and (last is None or self.now - last >= self.model.config.chat_cooldown))

    def learn_place(self, place: str, how: str, source: str | None = None) -> None:
        """A place joins the resident's own map (and the `known_places` table)."""
        if place not in self.known and place in self.model.townmap.places:
            self.known.add(place)
            self.model.record_known_place(self, place, how, source)

    def known_tuple(self) -> tuple[str, ...] | None:
        return tuple(sorted(self.known)) if self.model.config.architecture.known_places == \
            "own" else None

    # -- memory ---------------------------------------------------------------------------
    def remember(self, texts: list[str], kind: str) -> Steps:
        if not texts:
            return []
        town = self.model
        records = yield from remember(town.bank, self, texts, context=town.memory,
                                      kind=kind, generation=self.generation, batch=True)
        yield from maybe_reflect(town.bank, self, context=town.memory,
                                 generation=self.generation)
        return records

    def recall(self, *queries: str, k: int | None = None) -> str:
        """Memories for an LLM prompt, the best of each query (rule brains read no prompts, so
        nothing is retrieved)."""
        if not self.llm:
            return ""
        bank, found, seen = self.model.bank, [], set()
        for query in queries:
            for hit in bank.retrieve(self.name, query, now=self.now, k=k):
                if hit.record.memory_id not in seen:
                    seen.add(hit.record.memory_id)
                    found.append(hit.record)
        limit = k or bank.config.retrieve_k
        return describe_memories(found[:limit], author=self.name) if found else ""

    # -- the life -------------------------------------------------------------------------
    def live(self) -> Steps:
        town, p = self.model, self.person
        if town.config.architecture.persona_memories:
            yield from self.remember(persona_clauses(p.persona), "thought")
        day = self.first_day
        while day < town.config.days and self.state != "gone":
            yield town.day_begins(day)
            if self.state == "gone":
                return
            yield from self.morning(day)
            wake = day * MINUTES_PER_DAY + self.wake_today
            if self.now < wake:
                yield town.env.timeout(wake - self.now)
            if self.state == "gone":
                return
            yield from self.live_day(day)
            if self.invitation is not None:
                yield from self.join(resume=False)
            if self.place != p.home:
                yield from self.walk(p.home, day)
            self.state = "sleep"
            self.begin("sleep", p.home, "sleeping", "rule")
            day += 1

    def morning(self, day: int) -> Steps:
        """Midnight: what yesterday was, the summary of oneself, the plan for the day."""
        town, p = self.model, self.person
        self.revision = 0
        if day > self.first_day:
            self.yesterday = town.yesterday_of(self, day - 1)
        if town.config.architecture.agent_summary == "daily":
            task = summary_task(town.ctx, p, town.bank, day=day, now=self.now,
                                previous=self.summary, yesterday=self.yesterday,
                                events_today=town.known_events(self, day))
            self.summary = render_summary((yield self.decide(task)))
            town.record_summary(self, self.summary, task.source)
        yield from self.plan(day)

    def live_day(self, day: int) -> Steps:
        p = self.person
        self.state, self.seen = "busy", set()
        bedtime = day * MINUTES_PER_DAY + p.bedtime
        while self.now < bedtime:
            if self.pending_news:
                yield from self.consider_news(day)
            block = next((b for b in self.schedule
                          if day * MINUTES_PER_DAY + b.end > self.now), None)
            if block is None:
                break
            block_start = day * MINUTES_PER_DAY + block.start
            if block_start > self.now:  # a gap in the plan: wait where they are
                yield from self.spend(block_start)
                continue
            assert block.place is not None
            if block.place != self.place:
                yield from self.walk(block.place, day)
                continue  # the walk took time: the block may be over
            # leave in time to be at the next block's place when it starts
            following = next((b for b in self.schedule if b.start >= block.end), None)
            until = day * MINUTES_PER_DAY + block.end
            if following is not None and following.place != block.place:
                assert following.place is not None
                until -= self.model.townmap.travel_minutes(block.place, following.place)
            finished = yield from self.do_block(day, block, max(until, self.now + 1))
            if finished and following is not None and following.place != self.place \
                    and self.now < day * MINUTES_PER_DAY + block.end:
                yield from self.walk(following.place, day)
        self.state = "busy"

    def plan(self, day: int) -> Steps:
        town, p = self.model, self.person
        rolls = self.rolls(12)
        for topic in town.known_events(self, day):
            if town.intention(topic).agent == self.name:
                self.attending[topic] = True  # a host goes to their own event
            elif not self.llm and topic not in self.attending:
                # rule brains decide on events they know of, here and now; a model decides
                # through its plan, which sees what it remembers
                yield from self.decide_attendance(topic)
        events = self.events_to_attend(day)
        memories = self.recall(f"{p.name}'s plans for today: events, meetings, parties, work")
        ask_wake = self.llm and town.config.architecture.wake == "resident"
        day_task = PlanDay(town.ctx, p, day, rolls, events, memories, self.summary,
                           self.yesterday, self.known_tuple(), ask_wake)
        self.wake_today, day_plan = yield self.decide(day_task)
        today = replace(p, wake=self.wake_today)
        hours = PlanHours(town.ctx, today, day, rolls, day_plan, self.wake_today, events,
                          known=self.known_tuple(), summary=self.summary)
        blocks = yield self.decide(hours)
        for start, end, place, description in events:  # the host and the decided go
            blocks = overlay(blocks, Block(start, end, "party", place, description),
                             self.wake_today, p.bedtime)
        self.schedule, self.plan_day = blocks, day
        town.record_plans(self, day, "day", day_plan, 0, day_task.source)
        town.record_plans(self, day, "hour", blocks, 0, hours.source)
        summary = "; ".join(b.text(town.townmap) for b in day_plan)
        # remembered in a sub-process: its rating goes out with the next questions
        town.process(self.remember([f"My plan for {town.config.day_text(day)}, waking at "
                                    f"{clock_text(self.wake_today)}: {summary}"], "plan"))

    def do_block(self, day: int, block: Block, until: int) -> Steps:
        """Decompose the block and do its actions until `until`; True if it got there (not
        cut short by a change of plan or news). After a conversation the action it
        interrupted resumes, and the rest of the hour is decomposed again from its end (with
        the planning thought in mind), so actions keep to the hour's grid and the new
        question goes out with everyone's at that minute."""
        town = self.model
        start_of_day = day * MINUTES_PER_DAY
        prepared, self.prepared = self.prepared, None
        note, self.redecompose = self.redecompose, None
        if prepared is not None and prepared[0] == (day, block) and note is None:
            task, asked = prepared[1], prepared[2]  # decomposed while the last block began
            prepared = None
        else:
            task = Decompose(town.ctx, self.person, day, block, self.now - start_of_day,
                             self.rolls(16), note or "")
            asked = self.decide(task)
        actions = yield asked
        town.record_actions(self, day, actions, block.place, self.revision, task.source)
        texts = [f"{self.person.name} is {a.description} at {town.townmap.name_of(block.place)}"
                 for a in actions]
        # asked now, awaited after the first perception: they go out in one batch, with the
        # decomposition of the next block (used when it begins, unless the plan changes)
        rated = self.decide(_rate(town, self, texts, "action"))
        following = next((b for b in self.schedule if b.start >= block.end), None)
        if following is not None and prepared is not None and prepared[0] == (day, following):
            self.prepared = prepared  # this hour is re-planned: the next one's still holds
        elif following is not None:
            ahead = Decompose(town.ctx, self.person, day, following, following.start,
                              self.rolls(16))
            self.prepared = ((day, following), ahead, self.decide(ahead))
        vectors = town.bank.embed_queries(texts)  # one batch; written as each action begins
        self.replanned = False
        for action, text, vector in zip(actions, texts, vectors, strict=True):
            end = min(start_of_day + action.start + action.minutes, until)
            if self.replanned or self.pending_news or self.place != block.place or \
                    self.redecompose is not None:
                return False
            if self.now >= end:
                continue
            if self.invitation is not None:  # someone began talking to them meanwhile
                yield from self.join(resume=False)
                if self.now >= end:
                    continue
            self.state, self.current, self.current_source = "act", action, task.source
            self.begin(action.activity, block.place, action.description, task.source,
                       action.object_id, action.object_state)
            started = self.now
            reaction = yield from self.perceive(day)
            rating = (yield rated)[actions.index(action)]
            town.bank.add_many([NewMemory(self.name, text, "action", rating, self.generation,
                                          embedding=vector)], now=started)
            yield from maybe_reflect(town.bank, self, context=town.memory,
                                     generation=self.generation)
            if self.replanned:
                return False
            if reaction is not None and reaction.action == "wait" and reaction.talk_to:
                yield from self.wait_for(reaction.talk_to, end)
            yield from self.spend(end)
        return self.now >= until

    def spend(self, until: int) -> Steps:
        """Let time pass doing the current action; a conversation started by someone else
        interrupts it, and the action resumes after."""
        while self.now < until:
            if self.invitation is not None:
                yield from self.join()
                continue
            self.interruptible = True
            try:
                yield self.model.env.timeout(until - self.now)
            except simpy.Interrupt as interrupt:
                self.interruptible = False
                self.invitation = interrupt.cause
                yield from self.join()
            finally:
                self.interruptible = False

    def join(self, resume: bool = True) -> Steps:
        """Take part in the conversation someone began with them until it ends (the one who
        began it speaks for both), then go back to the action it interrupted."""
        conversation = self.invitation
        yield conversation.done
        self.invitation = None
        if resume and self.current is not None and self.place == conversation.place:
            self.state = "act"
            self.resume_action()

    def resume_action(self) -> None:
        """Back to the current action after a conversation or a wait, if it is not over."""
        action = self.current
        if action is not None and self.now < self.action_end():
            self.begin(action.activity, self.place, action.description, self.current_source,
                       action.object_id, action.object_state)

def persona_clauses(persona: str) -> list[str]:
    """A persona's clauses as seed memories: its sentences, split again at semicolons."""
    parts = re.split(r"(?<=[.!?])\s+|;\s*", " ".join(persona.split()))
    return [part.strip() for part in parts if len(part.strip()) > 3]


def _rate(town: Town, resident: Resident, texts: list[str], kind: str) -> Any:
    from sim.memory import RateImportances

    return RateImportances(town.memory, resident.name, texts, kind, resident.persona)


__all__ = ["Resident", "clock_text", "persona_clauses"]
