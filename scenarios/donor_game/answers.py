"""A donation answered in prose (`reasoning_format = "text"`): reasoning, then an answer line.

The study let its donors reason over several lines and then give their answer after the word
"Answer:". Models from frontier APIs down do so in many shapes ("**Answer:** 3", "Final answer:
donate 2.5 units", "Answer: Refuse", an answer on the line after the marker), and the word
"answer" also turns up in the reasoning itself. So the answer is the last answer marker that
is followed by a colon (or "="), read on its own line: the action from its words, the amount
from its number. A reply without such a line is left to the lenient prose reader; one whose
line says nothing usable raises `ParseError` with a message saying how the line should read,
which the gateway sends back as a repair prompt.
"""

from __future__ import annotations

import re
from typing import Any

from sim.llm.parsing import parse_number
from sim.tasks import ParseError

#: The word before the answer, as the prompt asks for it.
ANSWER_MARKER = "Answer"
# "Answer:", "Final answer =", "**Answer**:" — the separator is what tells the answer line from
# reasoning that merely mentions an answer.
_ANSWER_RE = re.compile(r"\b(?:final\s+)?answer\s*(?:\*\*|__)?\s*[:=]", re.IGNORECASE)
_THINK_CLOSE_RE = re.compile(r"</(?:think|thinking|reasoning)>", re.IGNORECASE)
# Markdown and quotes around an answer; not dashes or dots in front ("-3" must stay negative, to
# be refused; ".5" is a number).
_LEADING = " \t*_`\"'>:"
_TRAILING = " \t*_`\"'.,;"
#: The action word an answer line may start with, and its punctuation ("Donate, 3").
_LEADING_ACTION_RE = re.compile(r"^(?:donate|give|punish|refuse)\w*[\s,:;]*", re.IGNORECASE)
#: Verbs of giving on an answer line; "donate" is the study's.
_GIVE_WORDS = ("donate", "donation", "give", "gives", "giving")
#: An answer line that starts with a sanction's word (which may not be on offer), and the
#: stem of each sanction's words.
_SANCTION_RE = re.compile(r"^(punish|refus)\w*\b", re.IGNORECASE)
_STEMS = {"punish": "punish", "refuse": "refus"}
_GERUNDS = {"punish": "punishing", "refuse": "refusing"}
_AMOUNT_MARKERS = ("answer", "donate", "give", "punish", "punishment")
#: An answer line's amount that is nothing but a plain number (no sign, separators or words).
_PLAIN_AMOUNT_RE = re.compile(r"\d+(?:\.\d+)?|\.\d+")


def answer_line(unit: str, high: float, alternative: str | None) -> str:
    """How the prompt asks for the answer, e.g. 'a final line "Answer: <number from 0 to
    12.50>"'; with costly punishment one line for each choice, with partner choice the
    refusal as the other answer."""
    amount = ("<a number from 0 to " + f"{high:.2f}>" if unit == "units"
              else "<a whole number from 0 to 100>")
    if alternative == "punish":
        return (f'a final line "{ANSWER_MARKER}: donate {amount}" or '
                f'"{ANSWER_MARKER}: punish {amount}"')
    if alternative == "refuse":
        return (f'a final line "{ANSWER_MARKER}: {amount}", or "{ANSWER_MARKER}: refuse" to '
                "refuse")
    return f'a final line "{ANSWER_MARKER}: {amount}"'


def read_answer(reply: str, *, unit: str, high: float,
                alternative: str | None) -> dict[str, Any] | None:
    """The action and amount on the reply's last answer line, as field values of the donation
    reply ({"action": "punish", "units": 2.5}); None when the reply has no answer line.

    Raises `ParseError` when the line is there but unusable: no number, a number out of range,
    or both giving and the alternative named.
    """
    line = _last_answer_line(reply)
    if line is None:
        return None
    values: dict[str, Any] = {}
    leading = _SANCTION_RE.match(line)
    leading_stem = leading.group(1).lower() if leading else None
    if leading_stem and leading_stem != _STEMS.get(alternative or ""):
        # "punish 2" where punishing is not a choice (or is refusing): read as a gift of 2, it
        # would do the opposite of what the donor meant
        raise ParseError(f'your answer line "{line}" names an action that is not one of your '
                         f"choices here; {_hint(unit, high, alternative)}")
    if alternative is not None and leading_stem:  # "Punishment: 2", "Refusal."
        values["action"] = alternative
        if alternative == "refuse":
            return values
    elif alternative is not None:
        words = set(re.findall(r"[a-z]+", line.lower()))
        gives = bool(words & set(_GIVE_WORDS))
        other = alternative in words or f"{alternative}s" in words or (
            alternative == "refuse" and "refused" in words)
        if gives and other:
            raise ParseError(f'your answer line "{line}" names both giving and '
                             f"{_GERUNDS[alternative]}; {_hint(unit, high, alternative)}")
        values["action"] = alternative if other else "give"
        if other and alternative == "refuse":
            return values
    amount = _LEADING_ACTION_RE.sub("", line)
    if _PLAIN_AMOUNT_RE.fullmatch(amount) and float(amount) <= high:
        # a bare number in range ("9.59"), as most answer lines are: what `parse_number` reads
        # from it, without its search for markers, keys and alternatives on every reply
        values[unit] = float(amount)
        return values
    try:  # as if marked again, so its first number wins over any that explain it
        values[unit] = parse_number(f"{ANSWER_MARKER}: {amount}", low=0.0, high=high,
                                    answer_markers=_AMOUNT_MARKERS)
    except ParseError as error:
        reason = str(error).split(";", 1)[0]
        raise ParseError(f'your answer line "{line}" could not be read ({reason}); '
                         f"{_hint(unit, high, alternative)}") from None
    return values


def _hint(unit: str, high: float, alternative: str | None) -> str:
    return "end your reply with " + answer_line(unit, high, alternative)


def _last_answer_line(reply: str) -> str | None:
    """The text after the last answer marker: the rest of its line, or the next non-empty line
    when the marker ends its line ("Answer:\\n3")."""
    closes = list(_THINK_CLOSE_RE.finditer(reply))
    body = reply[closes[-1].end():] if closes else reply
    for marker in reversed(list(_ANSWER_RE.finditer(body))):
        for line in body[marker.end():].splitlines():
            cleaned = line.lstrip(_LEADING).rstrip(_TRAILING)
            if cleaned:
                return cleaned[:200]
    return None
