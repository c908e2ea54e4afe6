"""What rule residents say: a greeting, small talk about what they are doing, and, with the
configured probability at each of their turns, a piece of news the listener has not heard from
them. The conversation ends at its planned length (drawn when it starts)."""

from __future__ import annotations

from typing import Any

from scenarios.town.townmap import Person

SMALL_TALK = (
    "It's been a busy one, {doing}.",
    "Lovely to see a friendly face at {place}.",
    "How's work treating you these days?",
    "I was just thinking about the footbridge. Someone should fix it.",
    "Did you sleep well? I was up early.",
    "The river looked beautiful this morning.",
)


def first_name(person: Person) -> str:
    return person.name.split()[0]


def news_sentence(host: str, description: str, words: list[str], topic: str) -> str:
    """How news is told: '<host> <description>', naming the topic so that it passes on."""
    text = f"{host} {description}".strip()
    if not any(word in text.lower() for word in words):
        text += f" (the {topic})"
    return text


def rule_utterance(speaker: Person, listener: Person, turn: int, facts: dict[str, Any],
                   share_probability: float) -> tuple[str, bool]:
    """(utterance, end?) for a rule speaker; `facts` holds news, doing, place_name, roll,
    planned_turns."""
    end = turn + 1 >= int(facts.get("planned_turns", 2))
    news = facts.get("news") or []
    roll = float(facts.get("roll", 1.0))
    if news and roll < share_probability:
        # Which piece of news: the same roll, rescaled, so every topic the speaker knows has an
        # equal chance (always the first would starve every topic but one).
        text = f"Have you heard? {news[int(roll / share_probability * len(news))][1]}."
    elif turn == 0:
        text = f"Hello {first_name(listener)}! How are you today?"
    elif turn == 1:
        text = f"Good, thanks, {first_name(listener)}. I'm {facts.get('doing', 'out and about')}."
    else:
        line = SMALL_TALK[int(float(facts.get("roll", 0.0)) * 1000 + turn) % len(SMALL_TALK)]
        text = line.format(doing=facts.get("doing", "as usual"),
                           place=facts.get("place_name", "here"))
    if end:
        text += " Anyway, I should get going. See you soon!"
    return text, end
