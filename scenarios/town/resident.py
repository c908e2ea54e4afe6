"""A resident and their life: one SimPy process per resident, a day at a time.

Wake; plan the day in broad strokes, then in hourly blocks; at each block decompose it into
5-15 minute actions; walk where the block is (walking takes simulated time); at each action
perceive who is at the place and, only when someone new is there, decide whether to react
(talk to them, or change the plan); converse turn by turn; sleep at bedtime.

Residents never wait for each other except inside a conversation: every decision of a chain
(perceive -> react -> speak) is asked when the chain reaches it, and the world hands all
decisions pending at one simulated instant to the gateway together, so the chains of different
residents go out in the same batches without any global barrier.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import simpy

from scenarios.town.plans import Action, Block, overlay
from scenarios.town.speech import news_sentence
from scenarios.town.tasks import Attend, Decompose, PlanDay, PlanHours, React, Reaction, Speak
from scenarios.town.townmap import Person, clock_text
from sim import SimAgent
from sim.memory import NewMemory, describe_memories, maybe_reflect, remember

if TYPE_CHECKING:
    from scenarios.town.model import Town

Steps = Generator[Any, Any, Any]
MINUTES_PER_DAY = 1440


@dataclass
class Conversation:
    conversation_id: str
    initiator: Resident
    partner: Resident
    place: str
    start: int
    done: simpy.Event
    turns: int = 0
    ended_by: str = "limit"
    dialogue: list[tuple[str, str]] = field(default_factory=list)


class Resident(SimAgent):
    """A person of the town: who they are, where they are, what they are doing, their plans."""

    model: Town

    def __init__(self, town: Town, person: Person, brain: Any, *, generation: int,
                 first_day: int, index: int, parents: list[str]) -> None:
        super().__init__(town, name=person.agent_id, brain=brain, persona=person.persona)
        self.person = person
        self.generation = generation
        self.first_day = first_day
        self.parents = parents
        self.dice = np.random.default_rng([town.seed or 0, index])
        self.place = person.home
        self.state = "sleep"  # sleep | busy | act | talk | walk | gone
        self.span: tuple[int, str, str, str, str, str | None] | None = None
        self.spans: list[tuple[int, int, str, str]] = []  # closed: start, end, place, activity
        self.interruptible = False
        self.seen: set[str] = set()  # who they have noticed at the current place
        self.last_chat: dict[str, int] = {}
        self.told: dict[str, set[str]] = {}  # listener -> topics told them
        self.schedule: list[Block] = []
        self.revision = 0
        self.replanned = False
        self.pending_news: list[str] = []
        self.attending: dict[str, bool] = {}
        self.current: Action | None = None
        self.current_source = "rule"
        self.begin("sleep", person.home, "sleeping", "rule")
        self.life = town.process(self.live())

    @property
    def llm(self) -> bool:
        return self.brain.brain_type == "llm"

    @property
    def now(self) -> int:
        return int(self.model.env.now)

    def rolls(self, n: int) -> list[float]:
        return [round(float(x), 4) for x in self.dice.random(n)]

    # -- where and what -------------------------------------------------------------------
    def begin(self, activity: str, place: str, description: str, source: str,
              object_id: str | None = None) -> None:
        """Close the current span and open one for what they do now."""
        self.close_span()
        self.span = (self.now, activity, place, description, source, object_id)
        self.place = place

    def close_span(self) -> None:
        if self.span is not None and self.now > self.span[0]:
            start, activity, place, description, source, object_id = self.span
            self.model.record_span(self, start, self.now, place, activity, description, source,
                                   object_id)
            self.spans.append((start, self.now, place, activity))
        self.span = None

    @property
    def doing(self) -> str:
        return self.span[3] if self.span else "nothing in particular"

    def available(self, other: Resident) -> bool:
        """Free to be spoken to by `other`: busy with an action here, no recent chat."""
        last = self.last_chat.get(other.name)
        return (self.interruptible and self.state == "act" and self.place == other.place
                and (last is None or self.now - last >= self.model.config.chat_cooldown))

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

    def recall(self, query: str, k: int | None = None) -> str:
        """Memories for an LLM prompt (rule brains read no prompts, so nothing is retrieved)."""
        if not self.llm:
            return ""
        found = self.model.bank.retrieve(self.name, query, now=self.now, k=k)
        return describe_memories([hit.record for hit in found], author=self.name) \
            if found else ""

    # -- the life -------------------------------------------------------------------------
    def live(self) -> Steps:
        town, p = self.model, self.person
        day = self.first_day
        while day < town.config.days and self.state != "gone":
            wake = day * MINUTES_PER_DAY + p.wake
            if self.now < wake:
                yield town.env.timeout(wake - self.now)
            if self.state == "gone":
                return
            yield from self.live_day(day)
            if self.place != p.home:
                yield from self.walk(p.home)
            self.state = "sleep"
            self.begin("sleep", p.home, "sleeping", "rule")
            day += 1

    def live_day(self, day: int) -> Steps:
        p = self.person
        self.state, self.revision, self.seen = "busy", 0, set()
        yield from self.plan(day)
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
                yield from self.walk(block.place)
                continue  # the walk took time: the block may be over
            yield from self.do_block(day, block)
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
        day_task = PlanDay(town.ctx, p, day, rolls, events, memories)
        day_plan = yield self.decide(day_task)
        hours = PlanHours(town.ctx, p, day, rolls, day_plan, p.wake, events)
        blocks = yield self.decide(hours)
        for start, end, place, description in events:  # the host and the decided go
            blocks = overlay(blocks, Block(start, end, "party", place, description),
                             p.wake, p.bedtime)
        self.schedule = blocks
        town.record_plans(self, day, "day", day_plan, 0, day_task.source)
        town.record_plans(self, day, "hour", blocks, 0, hours.source)
        summary = "; ".join(b.text(town.townmap) for b in day_plan)
        yield from self.remember([f"My plan for day {day + 1}: {summary}"], "plan")

    def do_block(self, day: int, block: Block) -> Steps:
        town = self.model
        start_of_day = day * MINUTES_PER_DAY
        task = Decompose(town.ctx, self.person, day, block, self.now - start_of_day,
                         self.rolls(16))
        actions = yield self.decide(task)
        town.record_actions(self, day, actions, block.place, self.revision, task.source)
        texts = [f"{self.person.name} is {a.description} at {town.townmap.name_of(block.place)}"
                 for a in actions]
        ratings = yield self.decide(_rate(town, self, texts, "action"))
        vectors = town.bank.embed_queries(texts)  # one batch; written as each action begins
        self.replanned = False
        for action, text, rating, vector in zip(actions, texts, ratings, vectors, strict=True):
            end = start_of_day + action.start + action.minutes
            if self.replanned or self.pending_news or self.place != block.place:
                break
            if self.now >= end:
                continue
            self.state, self.current, self.current_source = "act", action, task.source
            self.begin(action.activity, block.place, action.description, task.source,
                       action.object_id)
            town.bank.add_many([NewMemory(self.name, text, "action", rating, self.generation,
                                          embedding=vector)], now=self.now)
            yield from maybe_reflect(town.bank, self, context=town.memory,
                                     generation=self.generation)
            yield from self.perceive(day)
            if self.replanned:
                break
            yield from self.spend(end)

    def spend(self, until: int) -> Steps:
        """Let time pass doing the current action; a conversation started by someone else
        interrupts it, and the action resumes after."""
        while self.now < until:
            self.interruptible = True
            try:
                yield self.model.env.timeout(until - self.now)
            except simpy.Interrupt as interrupt:
                self.interruptible = False
                conversation: Conversation = interrupt.cause
                yield conversation.done
                if self.current is not None and self.place == conversation.place:
                    self.state = "act"
                    self.begin(self.current.activity, self.place, self.current.description,
                               self.current_source, self.current.object_id)
            finally:
                self.interruptible = False

    def walk(self, destination: str) -> Steps:
        town = self.model
        minutes = town.townmap.travel_minutes(self.place, destination)
        self.state, self.seen, self.current = "walk", set(), None
        self.begin("walk", destination, f"walking to {town.townmap.name_of(destination)}",
                   "rule")
        if minutes:
            yield town.env.timeout(minutes)
        self.place = destination
        self.state = "busy"

    # -- perceiving and reacting ----------------------------------------------------------
    def perceive(self, day: int) -> Steps:
        """Notice who is here; only someone not noticed before at this place is news, and only
        news is remembered and may lead to a reaction."""
        town = self.model
        # those settled in an action or a conversation; someone still arriving or deciding
        # at this instant is noticed at a later action
        here = [r for r in town.living if r is not self and r.place == self.place
                and r.state in ("act", "talk")]
        new = [r for r in here if r.name not in self.seen]
        if not new:
            return
        self.seen.update(r.name for r in new)
        place = town.townmap.name_of(self.place)
        yield from self.remember([f"{r.person.name} is {r.doing} at {place}" for r in new],
                                 "observation")
        free = [r for r in here if r.available(self)]
        if not free:
            return
        free.sort(key=lambda r: (r not in new, r.name))
        memories = self.recall(" ".join(r.person.name for r in free[:3]))
        task = React(town.ctx, self.person, self.place, self.doing,
                     [{"agent_id": r.name, "name": r.person.name, "doing": r.doing}
                      for r in free], [r.name for r in new], self.rolls(1)[0], memories)
        reaction: Reaction = yield self.decide(task)
        if reaction.action == "talk" and reaction.talk_to is not None:
            partner = town.by_name.get(reaction.talk_to)
            if partner is not None and partner.available(self) and self.state == "act":
                yield from self.converse(partner, day)
        elif reaction.action == "change_plan":
            yield from self.replan(day, reaction.new_plan)

    def replan(self, day: int, note: str) -> Steps:
        town, p = self.model, self.person
        start = self.now - day * MINUTES_PER_DAY
        task = PlanHours(town.ctx, p, day, self.rolls(12), self.schedule, start,
                         self.events_to_attend(day), note)
        blocks = yield self.decide(task)
        self.revision += 1
        self.schedule = [b for b in self.schedule if b.end <= start] + blocks
        town.record_plans(self, day, "hour", blocks, self.revision, task.source)
        self.replanned = True

    # -- conversations --------------------------------------------------------------------
    def converse(self, partner: Resident, day: int) -> Steps:
        town, env = self.model, self.model.env
        conversation = Conversation(town.next_conversation_id(day), self, partner, self.place,
                                    self.now, env.event())
        for who in (self, partner):
            who.state = "talk"
        partner.life.interrupt(conversation)
        other = {self.name: partner, partner.name: self}
        for who in (self, partner):
            who.begin("chat", self.place, f"talking with {other[who.name].person.name}",
                      "rule" if not who.llm else "llm")
        planned = 2 + int(self.rolls(1)[0] * (town.config.max_turns - 1))
        for turn in range(town.config.max_turns):
            speaker = self if turn % 2 == 0 else partner
            listener = other[speaker.name]
            last = conversation.dialogue[-1][1] if conversation.dialogue else ""
            facts = {"place": self.place, "place_name": town.townmap.name_of(self.place),
                     "doing": speaker.current.description if speaker.current else "out",
                     "news": town.news_for(speaker, listener), "roll": speaker.rolls(1)[0],
                     "planned_turns": planned}
            memories = speaker.recall(f"{listener.person.name} {last}")
            task = Speak(town.ctx, speaker.person, listener.person, turn,
                         list(conversation.dialogue), facts, memories)
            text, end = yield speaker.decide(task)
            conversation.dialogue.append((speaker.name, text))
            conversation.turns = turn + 1
            town.record_utterance(conversation, turn, speaker, listener, text, task.source)
            yield env.timeout(town.config.minutes_per_turn)
            if end:
                conversation.ended_by = speaker.name
                break
        town.record_conversation(conversation)
        for who in (self, partner):
            who.last_chat[other[who.name].name] = self.now
        lines = [(who, [f"{town.by_name[s].person.name} said to "
                        f"{other[s].person.name}: \"{t}\"" for s, t in conversation.dialogue])
                 for who in (self, partner)]
        steps = [town.process(who.remember(texts, "conversation")) for who, texts in lines]
        yield env.all_of(steps)
        self.state = "act"
        if self.current is not None:
            self.begin(self.current.activity, self.place, self.current.description,
                       self.current_source, self.current.object_id)
        conversation.done.succeed()

    # -- news and events ------------------------------------------------------------------
    def events_to_attend(self, day: int) -> list[tuple[int, int, str, str]]:
        townmap = self.model.townmap
        events = []
        for i in self.model.config.intentions:
            if i.kind == "event" and i.day == day and self.attending.get(i.topic):
                place = townmap.resolve(i.place or "") or ""
                events.append((i.start_minute, i.end_minute, place,
                               f"going to {i.topic} ({townmap.name_of(place)})"))
        return events

    def decide_attendance(self, topic: str) -> Steps:
        town = self.model
        intention = town.intention(topic)
        if intention.agent == self.name:
            self.attending[topic] = True
            return
        host = town.by_name.get(intention.agent)
        text = news_sentence(host.person.name if host else intention.agent,
                             intention.description, intention.words(), topic)
        task = Attend(town.ctx, self.person, topic, text, intention.agent, self.rolls(1)[0])
        self.attending[topic] = bool((yield self.decide(task)))

    def consider_news(self, day: int) -> Steps:
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


def _rate(town: Town, resident: Resident, texts: list[str], kind: str) -> Any:
    from sim.memory import RateImportances

    return RateImportances(town.memory, resident.name, texts, kind, resident.persona)


__all__ = ["Conversation", "Resident", "clock_text"]
