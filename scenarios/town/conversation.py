"""Conversations: the `Talking` part of a `Resident`, and the `Conversation` they share.

The one who starts it interrupts the other's action. Turns alternate; each utterance (`Speak`)
sees the speaker's summary, the time, what both were doing, when they last talked and about
what, the dialogue so far, and what the speaker knows of the listener: a summary it writes of
two retrievals (the relationship, and the last utterance) at every turn, once per
conversation, or the retrieved memories as they are (`dialogue_context`). Either may end it;
`max_turns` caps it. Afterwards each participant keeps one summarised memory with one
importance rating, a planning thought and a memo (`after_conversation = "summary"`, one call
each) or every utterance (`"transcript"`), and re-plans the rest of its hour.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import simpy

from scenarios.town.social import Speak
from scenarios.town.thoughts import AfterConversation
from sim.memory import NewMemory, maybe_reflect

if TYPE_CHECKING:
    from scenarios.town.resident import Resident

Steps = Generator[Any, Any, Any]


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
    passed: list[tuple[str, str, str]] = field(default_factory=list)  # speaker, listener, topic


class Talking:
    """Conversations, for `Resident`."""

    def converse(self: Resident, partner: Resident, day: int, source: str) -> Steps:
        """Talk turn by turn, the partner's action interrupted; `source` is where the decision
        to talk came from (the `chat` spans' source)."""
        town, env = self.model, self.model.env
        arch = town.config.architecture
        conversation = Conversation(town.next_conversation_id(day), self, partner, self.place,
                                    self.now, env.event())
        doing = {who.name: who.current.description if who.current else who.doing
                 for who in (self, partner)}
        for who in (self, partner):
            who.state = "talk"
        if partner.interruptible:
            partner.life.interrupt(conversation)  # it joins from its action
        else:
            partner.invitation = conversation  # deciding at this minute: it joins when done
        other = {self.name: partner, partner.name: self}
        for who in (self, partner):
            who.begin("chat", self.place, f"talking with {other[who.name].person.name}",
                      source)
        first = self.contexts.pop(partner.name, "")  # what the initiator made of them
        relation: dict[str, Any] = {}
        if arch.dialogue_context == "conversation":
            # what each makes of the other, once: the initiator's from its reaction; the
            # partner's asked now, in the batch of the first utterance
            for who in (self, partner):
                them = other[who.name]
                relation[who.name] = first if who is self and first else town.process(
                    who.context_about(them, f"{them.person.name} is {doing[them.name]}",
                                      summarise=True))
        planned = 2 + int(self.rolls(1)[0] * (town.config.max_turns - 1))
        for turn in range(town.config.max_turns):
            speaker = self if turn % 2 == 0 else partner
            listener = other[speaker.name]
            last = conversation.dialogue[-1][1] if conversation.dialogue else ""
            if arch.dialogue_context == "conversation":
                if not isinstance(relation[speaker.name], str):
                    relation[speaker.name] = yield relation[speaker.name]
                recalled = speaker.recall(f"{listener.person.name} {last}") if last else ""
                context = relation[speaker.name] + (
                    f"\nWhat comes to mind now:\n{recalled}" if recalled else "")
            elif turn == 0 and first:
                context = first
            elif arch.dialogue_context == "turn":
                context = yield from speaker.context_about(
                    listener, last or f"{listener.person.name} is {doing[listener.name]}",
                    summarise=True, last_line=last)
            else:
                context = speaker.recall(f"{listener.person.name} {last}")
            facts = {"place": self.place, "place_name": town.townmap.name_of(self.place),
                     "doing": doing[speaker.name], "news": town.news_for(speaker, listener),
                     "roll": speaker.rolls(1)[0], "planned_turns": planned}
            task = Speak(town.ctx, speaker.person, listener.person, turn,
                         list(conversation.dialogue), facts, context, speaker.summary,
                         speaker.time_text(), speaker.last_talk_text(listener),
                         doing[listener.name])
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
        yield from self.keep_conversation(conversation, other, doing)
        for who in (self, partner):
            who.state = "act"
        self.resume_action()
        conversation.done.succeed()

    def keep_conversation(self: Resident, conversation: Conversation,
                          other: dict[str, Resident], doing: dict[str, str]) -> Steps:
        """What both participants keep of it, asked of both at once."""
        town, env = self.model, self.model.env
        arch = town.config.architecture
        both = (conversation.initiator, conversation.partner)
        if arch.after_conversation == "transcript":
            lines = [f"{town.by_name[s].person.name} said to {other[s].person.name}: \"{t}\""
                     for s, t in conversation.dialogue]
            yield env.all_of([town.process(who.remember(lines, "conversation"))
                              for who in both])
            last = conversation.dialogue[-1] if conversation.dialogue else ("", "")
            for who in both:
                who.last_talk[other[who.name].name] = (self.now, last[1], last[0] or who.name)
            return
        place = town.townmap.name_of(conversation.place)
        names = {who.name: who.person.name for who in both}
        asked = {}
        for who in both:
            them = other[who.name]
            heard = [town.news_sentence(t) for s, listener, t in conversation.passed
                     if s == them.name and listener == who.name]
            told = [town.news_sentence(t) for s, listener, t in conversation.passed
                    if s == who.name and listener == them.name]
            asked[who.name] = (who, who.decide(AfterConversation(
                town.ctx, who.person, them.person, place, who.time_text(),
                [(s, names[s], t) for s, t in conversation.dialogue],
                list(dict.fromkeys(heard)), list(dict.fromkeys(told)), doing[them.name])))
        yield env.all_of([event for _, event in asked.values()])
        for who, event in asked.values():
            kept = event.value
            town.bank.add_many([
                NewMemory(who.name, kept.summary, "conversation", kept.importance,
                          who.generation),
                NewMemory(who.name, kept.planning_thought, "thought", kept.importance,
                          who.generation),
                NewMemory(who.name, kept.memo, "thought", kept.importance, who.generation)],
                now=self.now)
            who.last_talk[other[who.name].name] = (self.now, kept.summary, who.name)
            if arch.replan_after_conversation:
                who.redecompose = kept.planning_thought
        steps = [town.process(maybe_reflect(town.bank, who, context=town.memory,
                                            generation=who.generation)) for who in both]
        yield env.all_of(steps)
