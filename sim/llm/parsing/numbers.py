"""One number in a range from a reply: `parse_number`.

Numbers are the hardest answers to read safely: replies reason with several numbers before
giving one, write percentages, ranges, fractions, decimal commas and number words, and contain
digits that are not numbers at all (agent ids such as "a0-7", "GPT-4"). The precedence and the
rejections are documented on `parse_number`.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sim.errors import ParseError
from sim.llm.parsing._common import FILLER_RE, fmt, normalise, strip_thinking, words_pattern
from sim.llm.parsing.json_objects import keyed_value

__all__ = ["DEFAULT_NUMBER_MARKERS", "number_in_text", "parse_number"]


#: Words after which a number is taken as the answer (see `parse_number`). Generic on purpose: a
#: scenario adds the verbs of its own question ("donate", "contribute") as `answer_markers`.
DEFAULT_NUMBER_MARKERS: tuple[str, ...] = ("answer", "final answer")

# A number as written. The look-behind keeps digits inside words ("a0"), decimals, lists and
# fractions from starting a token; the body deliberately swallows "1,000", "0,5", "1/2" and
# "1.2.3" whole so they can be rejected with a precise message instead of read as "1".
_NUMBER_RE = re.compile(
    r"""
    (?<![\w.,/])
    (?P<sign>[-+](?=\.?\d))?
    (?P<body>\d+(?:[.,/]\d+)*|\.\d+)
    (?!\w)
    (?P<pct>[ \t]?%|[ \t]*per[ \t]?cent\b)?
    """,
    re.VERBOSE | re.IGNORECASE,
)

_PLAIN_BODY_RE = re.compile(r"\d+(?:\.\d+)?|\.\d+")

_FRACTION_BODY_RE = re.compile(r"(\d+)/(\d+)")

_ZERO_WORD_RE = re.compile(
    r"(?:zero|nothing|none)\b(?!\s+(?:more|less|but|except|other|else|over|under|above|below)\b)",
    re.IGNORECASE,
)

# "all"/"everything" count as the maximum only when nothing follows but an end of sentence or a
# short "of it" / "I have" tail: "All in all, ..." or "everything I can spare, 30%" must not.
_ALL_WORD_RE = re.compile(
    r"(?:all|everything)"
    r"(?:\s+(?:(?:of\s+)?(?:it|them|my(?:\s+\w+){1,2})|i\s+(?:have|own|can)|i've\s+got))?"
    r"[\s*_\"'`)\]]*(?:[.!;]|$)",
    re.IGNORECASE | re.MULTILINE,
)

_ALTERNATIVE_RE = re.compile(r"[ \t]*(?:[-–—/,]|\bto\b|\bor\b|\band\b)[ \t]*", re.IGNORECASE)


@dataclass(frozen=True)
class _Number:
    """One number found in a reply, with enough context to judge and report it."""

    value: float
    text: str  # as written, e.g. "40%"
    percent: bool
    problem: str | None = None  # set when the text is number-like but not a plain number
    start: int = 0


def parse_number(
    text: str,
    *,
    low: float,
    high: float,
    json_keys: Sequence[str] = (),
    answer_markers: Sequence[str] = DEFAULT_NUMBER_MARKERS,
) -> float:
    """Read one number in [low, high] from a reply, or raise `ParseError` saying why not.

    Precedence, most explicit first:

    1. a JSON object with one of `json_keys` (case-insensitive, nested objects searched) holding
       a number or a numeric string such as "40%"; the last such object wins;
    2. a number right after an answer marker ("Answer: 40", "I will donate 30%", "Final answer -
       25 percent"); the last marker followed by a number wins, since models reason first and
       answer last;
    3. the reply is just a number, or its last line is (reasoning, then a bare "30%");
    4. exactly one distinct number in the whole reply (repeats of the same value are fine).

    Several distinct numbers with no marked answer are ambiguous and rejected, never guessed.
    `<think>` blocks are ignored. A "%" or "percent" suffix is accepted and the value kept as
    written (40% -> 40): whether it is a percent is the caller's business, but an out-of-range
    percentage when the range is a fraction gets a hint to write 0.4 instead.

    Number words: "zero", "nothing" and "none" mean 0, and "all" / "everything" mean `high`,
    only as the whole reply or right after a marker; "all" additionally only when the sentence
    ends there or with a short "of it" / "I have" tail, so "All in all, ..." is not read as
    the maximum. Decimal commas ("0,5"), thousands separators ("1,000") and fractions ("1/2")
    are rejected with a message rather than misread. Digits joined to letters ("a0-7",
    "GPT-4") are not numbers.
    """
    if low > high:
        raise ValueError(f"low ({low}) must not exceed high ({high})")
    hint = _number_hint(low, high, json_keys, answer_markers)
    body = normalise(strip_thinking(text))
    if not body.strip():
        raise ParseError(f"empty reply; {hint}")
    number = _choose_number(body, high, json_keys, answer_markers, hint)
    if number.problem:
        raise ParseError(f"{number.problem}; {hint}")
    if not low <= number.value <= high:
        message = f"{number.text} is outside the allowed range {fmt(low)} to {fmt(high)}"
        if number.percent and low <= number.value / 100 <= high:
            message += f" (write a fraction such as {fmt(number.value / 100)}, not a percentage)"
        raise ParseError(f"{message}; {hint}")
    return number.value


def _choose_number(
    body: str,
    high: float,
    json_keys: Sequence[str],
    markers: Sequence[str],
    hint: str,
) -> _Number:
    """Apply the precedence documented in `parse_number` and return the chosen number."""
    keyed = keyed_value(body, json_keys)
    if keyed is not None:
        return _from_json_value(keyed[0], keyed[1], high, hint)

    marker_re = words_pattern(markers)
    if marker_re is not None:
        for marker in reversed(list(marker_re.finditer(body))):
            position = FILLER_RE.match(body, marker.end()).end()
            number = _number_at(body, position, high)
            if number is not None:
                _reject_alternatives(body, number, hint)
                return number

    number = _whole_number(body, high)
    if number is not None:
        return number
    lines = [line for line in body.splitlines() if line.strip()]
    if len(lines) >= 2:
        number = _whole_number(lines[-1], high)
        if number is not None:
            return number

    numbers = _all_numbers(body)
    distinct: dict[object, _Number] = {}
    for n in numbers:
        distinct.setdefault(n.text if n.problem else n.value, n)
    if not distinct:
        raise ParseError(f"no number found; {hint}")
    if len(distinct) > 1:
        shown = ", ".join(n.text for n in list(distinct.values())[:5])
        more = ", ..." if len(distinct) > 5 else ""
        raise ParseError(
            f"ambiguous: found several numbers ({shown}{more}) and no marked answer; {hint}"
        )
    return numbers[0]


def _number_from_match(text: str, match: re.Match[str]) -> _Number | None:
    """Build a `_Number` from a regex match, or None when the digits belong to a word.

    Digits hyphenated to letters are names, not numbers: agent ids ("a0-7"), models ("GPT-4"),
    "30-year". A range such as "20-30" has no letters and yields two numbers.
    """
    left = match.start()
    while left > 0 and (text[left - 1].isalnum() or text[left - 1] in "-_"):
        left -= 1
    right = match.end("body")
    while right < len(text) and (text[right].isalnum() or text[right] in "-_"):
        right += 1
    if any(ch.isalpha() for ch in text[left:right]):
        return None
    sign = match.group("sign") or ""
    body = match.group("body")
    percent = match.group("pct") is not None
    written = match.group(0).strip()
    if _PLAIN_BODY_RE.fullmatch(body):
        return _Number(float(sign + body), written, percent, start=match.start())
    fraction = _FRACTION_BODY_RE.fullmatch(body)
    if fraction and int(fraction.group(2)) != 0:
        decimal = float(sign + "1") * int(fraction.group(1)) / int(fraction.group(2))
        problem = f'"{written}" is a fraction; write it as a decimal number such as {fmt(decimal)}'
    elif "," in body:
        problem = (
            f'"{written}" is not a plain number; use a dot for decimals and no thousands separators'
        )
    else:
        problem = f'"{written}" is not a plain number'
    return _Number(math.nan, written, percent, problem, match.start())


def _number_at(text: str, position: int, high: float) -> _Number | None:
    """The number or number word that starts exactly at `position`, if any."""
    match = _NUMBER_RE.match(text, position)
    if match:
        return _number_from_match(text, match)
    word = _ZERO_WORD_RE.match(text, position)
    if word:
        return _Number(0.0, word.group(0), False, start=position)
    word = _ALL_WORD_RE.match(text, position)
    if word:
        return _Number(high, word.group(0).split()[0], False, start=position)
    return None


def _all_numbers(text: str) -> list[_Number]:
    """Every number in the text, leaving out list enumerators ("1. ...", "2) ...").

    Enumerators are dropped only when there are at least two of them, so a reply of "30. That's
    my offer." still counts its 30.
    """
    numbers: list[_Number] = []
    enumerators: set[int] = set()
    for match in _NUMBER_RE.finditer(text):
        number = _number_from_match(text, match)
        if number is None:
            continue
        line_start = text.rfind("\n", 0, match.start()) + 1
        if not text[line_start : match.start()].strip() and re.match(
            r"[.)][ \t]+\S", text[match.end() :]
        ):
            enumerators.add(len(numbers))
        numbers.append(number)
    if len(enumerators) >= 2:
        numbers = [n for i, n in enumerate(numbers) if i not in enumerators]
    return numbers


def _bare(text: str) -> str:
    """The text without surrounding whitespace, Markdown emphasis, quotes or a final full stop."""
    return text.strip().strip("*_`\"' \t\n").rstrip(".!").strip()


def _whole_number(text: str, high: float) -> _Number | None:
    """The number when the text is nothing but one number (or number word)."""
    bare = _bare(text)
    if not bare:
        return None
    number = _number_at(bare, 0, high)
    if number is None:
        return None
    matched = _NUMBER_RE.match(bare) or _ZERO_WORD_RE.match(bare) or _ALL_WORD_RE.match(bare)
    if matched is None or bare[matched.end() :].strip(" .!*_"):
        return None
    return number


def _number_hint(low: float, high: float, json_keys: Sequence[str], markers: Sequence[str]) -> str:
    """Tell the model what a usable reply looks like, with an in-range example value."""
    example = fmt(low + (high - low) / 2) if math.isfinite(high - low) else fmt(low)
    if json_keys:
        return f'reply with a JSON object like {{"{json_keys[0]}": {example}}}'
    if any(m.strip().lower() == "answer" for m in markers):
        return f'end your reply with "Answer: {example}"'
    if markers:
        return f'end your reply with "{markers[0].strip().capitalize()}: {example}"'
    return f"reply with just a number such as {example}"


def _from_json_value(key: str, value: Any, high: float, hint: str) -> _Number:
    """Read a number stored under a JSON key: a JSON number or a string such as "40%"."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if not math.isfinite(value):
            raise ParseError(f'"{key}" must be a finite number; {hint}')
        return _Number(float(value), json.dumps(value), False)
    if isinstance(value, str):
        number = _whole_number(normalise(value), high)
        if number is None:
            candidates = _all_numbers(normalise(value))
            if len({n.value for n in candidates}) == 1:
                number = candidates[0]
        if number is not None:
            if number.problem:
                raise ParseError(f"{number.problem}; {hint}")
            return number
    raise ParseError(f'"{key}" must be a number, got {json.dumps(value)}; {hint}')


def number_in_text(text: str, *, high: float = math.inf) -> float | None:
    """The one number a short text such as a JSON string value ("40%", "about 30") holds.

    For readers that found a value under the right key but as text: None when the text holds
    no number, several different ones, or one that could be misread ("0,5", "1/2"), so the
    caller reports the value as it was written. "all" means `high`, as in `parse_number`.
    """
    text = normalise(text)
    number = _whole_number(text, high)
    if number is None:
        candidates = _all_numbers(text)
        if len({n.text if n.problem else n.value for n in candidates}) == 1:
            number = candidates[0]
    if number is None or number.problem:
        return None
    return number.value


def _reject_alternatives(body: str, number: _Number, hint: str) -> None:
    """Refuse a marked answer that is really a range or a hedge ("donate 20-30%", "give 10 or
    20"): taking its first number would put words in the model's mouth."""
    if number.problem or not any(ch.isdigit() for ch in number.text):  # words: "nothing"
        return
    joiner = _ALTERNATIVE_RE.match(body, number.start + len(number.text))
    if joiner is None:
        return
    match = _NUMBER_RE.match(body, joiner.end())
    if match is not None and _number_from_match(body, match) is not None:
        written = body[number.start : match.end()].strip()
        raise ParseError(f'ambiguous: "{written}" gives several values, not one; {hint}')
