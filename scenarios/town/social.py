"""The town's social questions to a resident: react to someone newly noticed, say the next
thing in a conversation, go to an event or not. Rule answers read the observation's seeded rolls;
what another resident said or is doing reaches a prompt only inside `sim.quote_agent_text`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from scenarios.town.replies import ATTEND, REACT, SPEAK
from scenarios.town.speech import rule_utterance
from scenarios.town.tasks import TownContext, TownTask, clean, memories_or_nothing
from scenarios.town.townmap import Person
from sim import ParseError, quote_agent_text
from sim.llm import ReplyFormat, clean_free_text


@dataclass(frozen=True)
class Reaction:
    action: str  # continue | talk | wait | change_plan
    talk_to: str | None = None  # talk: whom; wait: for whom
    new_plan: str = ""


@dataclass
class React(TownTask):
    """Someone new is noticed: carry on, start a conversation, wait until they are done (the
    released code's answer to someone using what one needs), or change the plan?"""

    ctx: TownContext
    person: Person
    place: str
    doing: str
    focal: dict[str, Any]  # agent_id, name, doing, same_object, housemate: whom it is about
    present: list[dict[str, str]]  # agent_id, name, doing: those free to talk, newly seen first
    new: list[str]
    roll: float
    context: str = ""  # what they know of the focal person: a summary, or memories listed
    summary: str = ""
    time: str = ""
    last_talk: str = ""

    kind = "react"

    def observation(self) -> dict[str, Any]:
        return {"agent": self.person.agent_id, "place": self.place, "present": self.present,
                "new": self.new, "roll": self.roll, "focal": self.focal}

    def messages(self) -> list[dict[str, str]]:
        p, focal = self.person, self.focal
        seen = "\n".join(f"- {x['agent_id']}: {x['name']}, "
                         f"{quote_agent_text(x['doing'], author=x['agent_id'])}"
                         for x in self.present) or "(nobody)"
        return self.ctx.messages(
            p, "react.txt", name=p.name, summary=self.summary, time=self.time,
            place=self.ctx.townmap.name_of(self.place),
            doing=quote_agent_text(self.doing, author=p.agent_id), other=focal["name"],
            other_doing=quote_agent_text(focal["doing"], author=focal["agent_id"]),
            context=memories_or_nothing(self.context), last_talk=self.last_talk,
            present=seen, reply_format=REACT.example())

    @property
    def reply_format(self) -> ReplyFormat:
        return REACT

    def read(self, reply: str) -> Reaction:
        answer = REACT.parse(reply)
        if answer.action == "talk":
            ids = {x["agent_id"]: x["agent_id"] for x in self.present}
            ids.update({x["name"].lower(): x["agent_id"] for x in self.present})
            who = ids.get(answer.talk_to.strip()) or ids.get(answer.talk_to.strip().lower())
            if who is None:
                free = ", ".join(x["agent_id"] for x in self.present) or "nobody is free"
                raise ParseError(f"talk_to {answer.talk_to!r} is not free to talk here; "
                                 f"choose one of {free}")
            return Reaction("talk", who)
        if answer.action == "wait":
            return Reaction("wait", self.focal["agent_id"])
        if answer.action == "change_plan":
            text = clean(answer.new_plan, 200)
            return Reaction("change_plan", None, text) if text else Reaction("continue")
        return Reaction("continue")

    def default(self) -> Reaction:
        return Reaction("continue")

    def rule(self) -> Reaction:
        """Talk to someone newly seen and free with `chat_probability`; else wait for someone
        using the object one's action needs (not a housemate: they share; not someone waiting
        themselves); else carry on."""
        fresh = [x["agent_id"] for x in self.present if x["agent_id"] in self.new]
        if fresh and self.roll < self.ctx.chat_probability:
            return Reaction("talk", fresh[0])
        if self.focal.get("same_object") and not self.focal.get("housemate") and \
                not self.focal["doing"].startswith("waiting"):
            return Reaction("wait", self.focal["agent_id"])
        return Reaction("continue")

    def encode(self, decision: Reaction) -> dict[str, Any]:
        return {"action": decision.action, "talk_to": decision.talk_to,
                "new_plan": decision.new_plan}


@dataclass
class Speak(TownTask):
    """The next utterance of a conversation: from the speaker's summary, what it knows of the
    listener, what both were doing, their last conversation, the time and the dialogue."""

    ctx: TownContext
    speaker: Person
    listener: Person
    turn: int
    dialogue: list[tuple[str, str]]  # (speaker id, text)
    facts: dict[str, Any]  # rule inputs: news, place, doing, rolls, planned_turns
    context: str = ""  # what the speaker knows of the listener: a summary, or memories
    summary: str = ""
    time: str = ""
    last_talk: str = ""
    listener_doing: str = ""

    kind = "speak"

    def observation(self) -> dict[str, Any]:
        return {"agent": self.speaker.agent_id, "listener": self.listener.agent_id,
                "turn": self.turn, **self.facts}

    def messages(self) -> list[dict[str, str]]:
        s, listener = self.speaker, self.listener
        said = "\n".join(quote_agent_text(text, author=who) for who, text in self.dialogue)
        nudge = (" If you know news they may not have heard, you may pass it on."
                 if self.ctx.arch.news_nudge else "")
        return self.ctx.messages(
            s, "speak.txt", name=s.name, listener=listener.name, summary=self.summary,
            time=self.time, place=self.ctx.townmap.name_of(self.facts.get("place")),
            doing=quote_agent_text(self.facts.get("doing", ""), author=s.agent_id),
            listener_doing=quote_agent_text(self.listener_doing or "nothing in particular",
                                            author=listener.agent_id),
            context=memories_or_nothing(self.context), last_talk=self.last_talk,
            dialogue=said or "(nobody has spoken yet: you start the conversation)",
            nudge=nudge, turns_left=self.ctx.max_turns - self.turn,
            reply_format=SPEAK.example())

    @property
    def reply_format(self) -> ReplyFormat:
        return SPEAK

    def read(self, reply: str) -> tuple[str, bool]:
        answer = SPEAK.parse(reply)
        text = clean_free_text(answer.utterance, max_chars=400, extracted=True)
        if not text:
            raise ParseError(f"the utterance is empty; reply like {SPEAK.example()}")
        return text, bool(answer.end_conversation)

    def default(self) -> tuple[str, bool]:
        return "Sorry, I have to get going.", True

    def rule(self) -> tuple[str, bool]:
        return rule_utterance(self.speaker, self.listener, self.turn, self.facts,
                              self.ctx.share_probability)

    def encode(self, decision: tuple[str, bool]) -> dict[str, Any]:
        return {"utterance": decision[0], "end": decision[1]}


@dataclass
class Attend(TownTask):
    """A resident who just learnt of an event today or later: will they go?"""

    ctx: TownContext
    person: Person
    topic: str
    news: str  # the event as they heard it, quoted
    host: str
    roll: float

    kind = "attend"

    def observation(self) -> dict[str, Any]:
        return {"agent": self.person.agent_id, "topic": self.topic, "roll": self.roll}

    def messages(self) -> list[dict[str, str]]:
        p = self.person
        return self.ctx.messages(p, "attend.txt", name=p.name,
                                 news=quote_agent_text(self.news, author=self.host),
                                 reply_format=ATTEND.example())

    @property
    def reply_format(self) -> ReplyFormat:
        return ATTEND

    def read(self, reply: str) -> bool:
        return bool(ATTEND.parse(reply).attend)

    def default(self) -> bool:
        return False

    def rule(self) -> bool:
        return self.roll < self.ctx.attend_probability

    def encode(self, decision: bool) -> dict[str, Any]:
        return {"attend": decision}
