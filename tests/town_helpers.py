"""A tiny town and a scripted model for the town's tests and benchmark: three places, short
days, and replies chosen by which prompt is asked (one resident may answer garbage)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from sim.testing import ChatRequest

GARBAGE = "🙂 what a lovely morning"

TINY_TOWN = """
[town]
id = "nook"
name = "Nook"
minutes_per_unit = 2.0

[[places]]
id = "centre"
name = "Centre"

[[places]]
id = "cafe"
parent = "centre"
name = "the Cafe"
kind = "cafe"
x = 0
y = 0
objects = ["counter", "table"]

[[places]]
id = "house_a"
parent = "centre"
name = "House A"
kind = "home"
x = 3
y = 4
objects = ["bed"]

[[places]]
id = "house_b"
parent = "centre"
name = "House B"
kind = "home"
x = -3
y = 4
objects = ["bed"]
{residents}
"""

RESIDENT = """
[[residents]]
id = "{id}"
name = "{name}"
occupation = "{occupation}"
home = "{home}"
{work}
wake = "09:00"
bedtime = "12:30"
persona = "{name} is a resident of Nook."
"""

NAMES = ["Ann Alba", "Ben Brook", "Cas Cole", "Dee Dunn", "Eli Este", "Fay Ford", "Gus Gale",
         "Hal Hart"]


def tiny_town(path: Path, residents: int = 3, *, newcomers: int = 0) -> Path:
    """A town file of `residents` (working at the cafe every other one) and newcomers."""
    people = []
    for i in range(residents + newcomers):
        table = "residents" if i < residents else "newcomers"
        name = NAMES[i % len(NAMES)] + ("" if i < len(NAMES) else f" {i}")
        entry = RESIDENT.format(
            id=f"r{i}", name=name, occupation="barista" if i % 2 == 0 else "writer",
            home="house_a" if i % 2 == 0 else "house_b",
            work='work = "cafe"' if i % 2 == 0 else "")
        people.append(entry.replace("[[residents]]", f"[[{table}]]"))
    path.write_text(TINY_TOWN.format(residents="".join(people)), encoding="utf-8")
    return path


def party(agent: str = "r0", day: int = 0) -> list[dict]:
    return [{"agent": agent, "topic": "party", "kind": "event", "day": day,
             "description": "is throwing a party at the Cafe at eleven", "place": "cafe",
             "start": "11:00", "end": "12:00"}]


_HOME = re.compile(r'your home is "(\w+)"')
_PERSON = re.compile(r"^- (\w+): ([^.\n]+)\. What you remember about them:\n(.*?)</agent_text>",
                     re.MULTILINE | re.DOTALL)
_FIRST_MEMORY = re.compile(r"^1\. (.*)$", re.MULTILINE)
_PRESENT = re.compile(r"^- (\w+): ", re.MULTILINE)
_COUNT = re.compile(r"these (\d+) memories")


def thinking(prompt: str) -> str | None:
    """The scripted answers to a resident's thoughts about itself and others: its morning
    summary, what it knows of someone (mentioning the party when its memories do), and what it
    keeps of a conversation (the party, when it was said)."""
    if "Describe" in prompt and "as they are this morning" in prompt:
        return json.dumps({"core": "friendly", "occupation": "works in Nook",
                           "progress": "content", "currently": "having a usual day",
                           "carry_over": "nothing"})
    if "summarise what" in prompt:
        return json.dumps({"summary": "They should hear about the party." if "party" in prompt
                           else "A neighbour I see at the cafe."})
    if "sum up the conversation" in prompt:
        about = "the party" if "party" in prompt else "the weather"
        return json.dumps({"summary": f"We talked about {about}.", "importance": 6,
                           "planning_thought": f"Remember {about}.",
                           "memo": f"They mentioned {about}."})
    return None


def town_player(request: ChatRequest, garbage_for: str | None = "Cas Cole",
                replanner: str | None = None) -> str:
    """A scripted resident: everyone spends 09:00-12:00 at the cafe (so they meet), talks to
    whoever they see, mentions the party when they remember it, ends at the third turn."""
    system = request.messages[0]["content"]
    prompt = request.messages[-1]["content"]
    if garbage_for and garbage_for in system:  # its town and its memory prompts alike
        return GARBAGE
    interview = interview_reply(prompt)
    if interview is not None:
        return interview
    reply = thinking(prompt)
    if reply is not None:
        return reply
    if "Plan your day in broad strokes" in prompt:
        return json.dumps({"wake": "09:00",
                           "plan": [{"start": "09:00", "end": "11:00", "description": "cafe"},
                                    {"start": "11:00", "end": "12:30", "description": "home"}]})
    if "into blocks of about one hour" in prompt:
        home = _HOME.search(prompt).group(1)  # type: ignore[union-attr]
        return json.dumps({"blocks": [
            {"start": "09:00", "end": "11:00", "activity": "eat", "place": "cafe",
             "description": "coffee with friends"},
            {"start": "11:00", "end": "12:30", "activity": "home", "place": home}]})
    if "Break this into actions" in prompt:
        return json.dumps({"actions": [{"minutes": 15, "description": "sipping coffee",
                                        "object": "table"},
                                       {"minutes": 15, "description": "reading the paper"}]})
    count = _COUNT.search(prompt)
    if count:
        return json.dumps({"ratings": [4] * int(count.group(1))})
    if "Rate it from 1 to 10" in prompt:
        return '{"importance": 5}'
    if "Do you carry on" in prompt and replanner and replanner in system:
        return json.dumps({"action": "change_plan", "new_plan": "go home and bake bread"})
    if "Do you carry on" in prompt:
        free = _PRESENT.findall(prompt.split("free to talk")[1])
        return json.dumps({"action": "talk", "talk_to": free[0]} if free
                          else {"action": "continue"})
    if "Say the next thing" in prompt:
        turns = prompt.count("<agent_text author=") - prompt.split("The conversation so far")[
            0].count("<agent_text author=")
        remembered = prompt.split("The conversation so far")[0]
        text = ("Did you hear about the party at the Cafe at eleven?" if "party" in remembered
                else "Nice weather, isn't it?")
        return json.dumps({"utterance": text, "end_conversation": turns >= 3})
    if "Will you go?" in prompt:
        return '{"attend": true, "reason": "I love parties"}'
    if "questions" in prompt.lower() and "insights" not in prompt.lower():
        return '{"questions": ["What happened at the cafe?"]}'
    if "insight" in prompt.lower():
        return '{"insights": [{"insight": "The cafe is where people meet", "evidence": [1]}]}'
    return "{}"


def interview_reply(prompt: str, *, says_yes: bool | None = None) -> str | None:
    """An interviewed resident who answers from what its prompt recalls: it knows of the party
    when a memory shown names it, of a person when a memory shown names them, and answers a
    question with its first memory (`says_yes`: always yes, or always no, whatever it
    recalls). None: not an interview prompt."""
    if "whether you know of it (true or false)" in prompt:
        recalled = prompt.split("What comes to your mind", 1)[1]
        knows = "party" in recalled.lower() if says_yes is None else says_yes
        return json.dumps({"answer": "Yes, the party at the Cafe." if knows else
                           "No, nothing.", "knows": knows})
    if "do you know of this person?" in prompt:
        return json.dumps({agent: name in recalled if says_yes is None else says_yes
                           for agent, name, recalled in _PERSON.findall(prompt)})
    if "The interviewer asks:" in prompt:
        first = _FIRST_MEMORY.search(prompt)
        return json.dumps({"answer": f"I remember this: {first.group(1)}" if first
                           else "Nothing comes to mind."})
    return None
