"""Turn messy model replies into numbers, choices, JSON objects and clean text.

LLM agents range from frontier models that follow a JSON format to 135M-parameter models that
reason aloud, wrap answers in Markdown, or echo the prompt. Tasks should not each reinvent the
tolerant parsing this needs, and they must never guess: a reply that cannot be read with
confidence raises `ParseError`, whose message is shown to the model in a repair re-prompt, so
every message says what was wrong *and* what a usable reply looks like.

Everything here is a pure function over strings using only `re` and `json`; nothing is ever
evaluated. The guiding rule for ambiguous replies is "models reason first and answer last": when
a reply marks several answers, the last one wins; when it merely mentions several numbers or
options without marking one, it is rejected rather than guessed.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sim.tasks import ParseError

__all__ = [
    "DEFAULT_CHOICE_MARKERS",
    "DEFAULT_NUMBER_MARKERS",
    "clean_free_text",
    "find_json_object",
    "parse_choice",
    "parse_number",
    "strip_code_fences",
]

#: Words after which a number is taken as the answer (see `parse_number`).
DEFAULT_NUMBER_MARKERS: tuple[str, ...] = ("answer", "final answer", "donate", "give", "donation")

#: Words after which an option is taken as the answer (see `parse_choice`).
DEFAULT_CHOICE_MARKERS: tuple[str, ...] = (
    "answer",
    "final answer",
    "choice",
    "decision",
    "action",
    "i choose",
    "i decide to",
    "i will",
    "i'll",
)

# How many "{" positions `find_json_object` tries: bounds the work on a runaway reply full of
# braces while being far more than any real reply needs.
_MAX_JSON_CANDIDATES = 64

# Objects longer than this are only parsed strictly: repairing is a convenience for short
# answers, not worth quadratic time on a runaway reply.
_MAX_REPAIR_CHARS = 20_000

_THINK_BLOCK_RE = re.compile(r"<(think|thinking|reasoning)>.*?</\1>", re.DOTALL | re.IGNORECASE)
_THINK_CLOSE_RE = re.compile(r"</(?:think|thinking|reasoning)>", re.IGNORECASE)

_FENCE_RE = re.compile(
    r"```[ \t]*(?:[\w+#.-]+[ \t]*)?\n(?P<block>.*?)(?:```|\Z)"  # ```json\n ... ``` (or cut off)
    r"|```(?P<inline>[^`\n][^`]*?)```",  # ```one line```
    re.DOTALL,
)

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

# What may sit between an answer marker and the answer: punctuation, Markdown, quotes, a dash
# used as a separator (a dash glued to digits is a minus sign) and a few filler words.
_FILLER_RE = re.compile(
    r"""
    (?:
        [\s*_`"':=>→(\[{$~]
      | \\boxed\{
      | [-–—](?=\s)
      | \b(?:is|be|will|would|should|of|about|around|roughly|approximately|approx
            |exactly|only|just|them|it|to|then|therefore|thus|so|probably)\b
    )*
    """,
    re.VERBOSE | re.IGNORECASE,
)

# A choice preceded within two words by a negation ("I will not punish", "rather than
# defect") is not a vote for that choice.
_NEGATION_RE = re.compile(
    r"(?:\bnot|n't|\bnever|\bno|\bnor|\bwithout|\bavoid|\brather\s+than|\binstead\s+of)"
    r"\s+(?:\w+\s+){0,2}$",
    re.IGNORECASE,
)

_PREAMBLE_RE = re.compile(
    r"\A\s*(?:(?:sure|okay|ok|certainly|of course|absolutely|alright|great)\b[!,.]*\s*)?"
    r"here(?:'s|’s|\s+is|\s+are)\b[^\n]*:[ \t*_]*\n",
    re.IGNORECASE,
)
_LABEL_WORDS: tuple[str, ...] = ("strategy", "answer", "response", "reply")
_QUOTE_PAIRS = {'"': '"', "'": "'", "“": "”", "‘": "’", "«": "»", "`": "`"}


@dataclass(frozen=True)
class _Number:
    """One number found in a reply, with enough context to judge and report it."""

    value: float
    text: str  # as written, e.g. "40%"
    percent: bool
    problem: str | None = None  # set when the text is number-like but not a plain number
    start: int = 0


# --------------------------------------------------------------------------- shared helpers


def _strip_thinking(text: str) -> str:
    """Drop `<think>` blocks: reasoning models put their scratch work there, never the answer.

    A dangling `</think>` (some servers strip the opening tag) ends the reasoning too. An
    unclosed `<think>` is left alone: the reply was cut off and the reasoning is all there is.
    """
    text = _THINK_BLOCK_RE.sub("", text)
    closes = list(_THINK_CLOSE_RE.finditer(text))
    if closes:
        text = text[closes[-1].end() :]
    return text


def _normalise(text: str) -> str:
    """Unify look-alike characters models emit so one pattern matches them all."""
    return text.replace("’", "'").replace("‘", "'").replace("−", "-").replace("\u00a0", " ")


def _words_pattern(phrases: Sequence[str]) -> re.Pattern[str] | None:
    """A case-insensitive whole-word pattern for phrases, longest first so they win overlaps."""
    cleaned = sorted({p.strip() for p in phrases if p.strip()}, key=len, reverse=True)
    if not cleaned:
        return None
    alternatives = [r"\s+".join(re.escape(word) for word in p.split()) for p in cleaned]
    return re.compile(r"(?<!\w)(?:" + "|".join(alternatives) + r")(?!\w)", re.IGNORECASE)


def _fmt(value: float) -> str:
    """Numbers in messages as a person would write them: 50, not 50.0."""
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.6g}"


# --------------------------------------------------------------------------- fences and JSON


def strip_code_fences(text: str) -> str:
    """Return the content of the first Markdown code fence, or `text` unchanged if there is none.

    Models wrap answers in ```json ... ``` (or a bare ``` fence) even when asked not to, often
    with a sentence of prose around it; the fenced part is the answer. A fence left open because
    the reply was cut off still yields what follows it.
    """
    match = _FENCE_RE.search(text)
    if match is None:
        return text
    block = match.group("block")
    return (block if block is not None else match.group("inline")).strip()


def _balanced_end(text: str, start: int) -> int | None:
    """Index just past the brace closing the one at `start`, skipping double-quoted strings."""
    depth = 0
    in_string = False
    i = start
    stop = min(len(text), start + _MAX_REPAIR_CHARS + 1)
    while i < stop:
        ch = text[i]
        if in_string:
            if ch == "\\":
                i += 1
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return None


_TRAILING_COMMA_RE = re.compile(r",\s*(?=[}\]])")
_BARE_KEY_RE = re.compile(r"([A-Za-z_]\w*)(\s*:)")


def _repair_json(candidate: str) -> str:
    """Fix the simple slips small models make: trailing commas, bare keys, single quotes.

    Repairs touch only text outside strings, so a strategy text containing "a, }" or "rule:"
    is never altered. Single quotes are swapped only when there are no double quotes at all;
    an apostrophe inside such a value then makes the JSON invalid and the candidate is dropped.
    """
    if '"' not in candidate:
        candidate = candidate.replace("'", '"')
    out: list[str] = []
    last_significant = ""  # the previous non-space character outside strings
    i = 0
    in_string = False
    while i < len(candidate):
        ch = candidate[i]
        if in_string:
            out.append(ch)
            if ch == "\\" and i + 1 < len(candidate):
                out.append(candidate[i + 1])
                i += 1
            elif ch == '"':
                in_string = False
            i += 1
            continue
        if ch == "," and _TRAILING_COMMA_RE.match(candidate, i):
            i += 1
            continue
        key = _BARE_KEY_RE.match(candidate, i) if last_significant in ("{", ",") else None
        if key is not None:
            out.append(f'"{key.group(1)}"{key.group(2)}')
            last_significant = ":"
            i = key.end()
            continue
        if ch == '"':
            in_string = True
        out.append(ch)
        if not ch.isspace():
            last_significant = ch
        i += 1
    return "".join(out)


_DECODER = json.JSONDecoder(strict=False)  # strict=False: models put raw newlines in strings


def _decode_object_at(text: str, start: int) -> tuple[dict[str, Any], int] | None:
    """The JSON object starting at `start` and where it ends, strictly first, then repaired."""
    try:
        value, end = _DECODER.raw_decode(text, start)
    except json.JSONDecodeError:
        end_or_none = _balanced_end(text, start)
        if end_or_none is None or end_or_none - start > _MAX_REPAIR_CHARS:
            return None
        end = end_or_none
        try:
            value = _DECODER.decode(_repair_json(text[start:end]))
        except json.JSONDecodeError:
            return None
    return (value, end) if isinstance(value, dict) else None


def _json_objects(text: str) -> Iterator[dict[str, Any]]:
    """Every top-level JSON object in the text, in order: whole, fenced or embedded in prose."""
    position = 0
    for _ in range(_MAX_JSON_CANDIDATES):
        start = text.find("{", position)
        if start < 0:
            return
        decoded = _decode_object_at(text, start)
        if decoded is None:
            position = start + 1
            continue
        obj, position = decoded
        yield obj


def find_json_object(text: str) -> dict[str, Any] | None:
    """The first JSON object in a reply, or None when no object parses.

    The object may be the whole reply, sit in a code fence, or be embedded in prose ("Sure!
    {"percent": 30} is my answer"). Simple slips are forgiven: a trailing comma, unquoted keys,
    and single quotes when the object has no double quotes. Arrays and scalars are not objects.
    """
    return next(_json_objects(_strip_thinking(text)), None)


def _lookup_key(obj: dict[str, Any], keys: Sequence[str]) -> tuple[str, Any] | None:
    """The value of the first of `keys` (case-insensitive) in obj, searching shallow levels first.

    Nested objects are searched because models like `{"decision": {"percent": 30}}`; the
    shallowest match wins so a top-level answer is never overridden by a nested example.
    """
    wanted = [k.strip().lower() for k in keys]
    level = [obj]
    while level:
        nested: list[dict[str, Any]] = []
        for current in level:
            lowered = {str(k).strip().lower(): (str(k), v) for k, v in current.items()}
            for key in wanted:
                if key in lowered:
                    return lowered[key]
            nested.extend(v for v in current.values() if isinstance(v, dict))
        level = nested
    return None


def _keyed_value(text: str, keys: Sequence[str]) -> tuple[str, Any] | None:
    """The value under one of `keys` in the last JSON object of the reply that has one.

    The last, because a model that shows the format in its reasoning and then answers puts the
    answer after the example.
    """
    if not keys:
        return None
    found = None
    for obj in _json_objects(text):
        hit = _lookup_key(obj, keys)
        if hit is not None:
            found = hit
    return found


# --------------------------------------------------------------------------- numbers


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
        problem = f'"{written}" is a fraction; write it as a decimal number such as {_fmt(decimal)}'
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
    example = _fmt(low + (high - low) / 2) if math.isfinite(high - low) else _fmt(low)
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
        number = _whole_number(_normalise(value), high)
        if number is None:
            candidates = _all_numbers(_normalise(value))
            if len({n.value for n in candidates}) == 1:
                number = candidates[0]
        if number is not None:
            if number.problem:
                raise ParseError(f"{number.problem}; {hint}")
            return number
    raise ParseError(f'"{key}" must be a number, got {json.dumps(value)}; {hint}')


_ALTERNATIVE_RE = re.compile(r"[ \t]*(?:[-–—/,]|\bto\b|\bor\b|\band\b)[ \t]*", re.IGNORECASE)


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


def _choose_number(
    body: str,
    high: float,
    json_keys: Sequence[str],
    markers: Sequence[str],
    hint: str,
) -> _Number:
    """Apply the precedence documented in `parse_number` and return the chosen number."""
    keyed = _keyed_value(body, json_keys)
    if keyed is not None:
        return _from_json_value(keyed[0], keyed[1], high, hint)

    marker_re = _words_pattern(markers)
    if marker_re is not None:
        for marker in reversed(list(marker_re.finditer(body))):
            position = _FILLER_RE.match(body, marker.end()).end()
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
    body = _normalise(_strip_thinking(text))
    if not body.strip():
        raise ParseError(f"empty reply; {hint}")
    number = _choose_number(body, high, json_keys, answer_markers, hint)
    if number.problem:
        raise ParseError(f"{number.problem}; {hint}")
    if not low <= number.value <= high:
        message = f"{number.text} is outside the allowed range {_fmt(low)} to {_fmt(high)}"
        if number.percent and low <= number.value / 100 <= high:
            message += f" (write a fraction such as {_fmt(number.value / 100)}, not a percentage)"
        raise ParseError(f"{message}; {hint}")
    return number.value


# --------------------------------------------------------------------------- choices


def _choice_key(text: str) -> str:
    """Compare options ignoring case, spacing and surrounding punctuation."""
    return " ".join(text.lower().split()).strip(" .!?,;:\"'`*_()[]")


def _choice_hits(
    text: str, pattern: re.Pattern[str], canonical: dict[str, str]
) -> list[tuple[int, str]]:
    """(position, choice) for every non-negated mention of an option, in order."""
    hits = []
    for match in pattern.finditer(text):
        if _NEGATION_RE.search(text[max(0, match.start() - 60) : match.start()]):
            continue
        hits.append((match.start(), canonical[_choice_key(match.group(0))]))
    return hits


def parse_choice(
    text: str,
    choices: Sequence[str],
    *,
    json_keys: Sequence[str] = (),
    answer_markers: Sequence[str] = DEFAULT_CHOICE_MARKERS,
) -> str:
    """Read which of `choices` a reply picks, returned as spelled in `choices`.

    Options are matched case-insensitively as whole words (multi-word options allowed; the
    longest option wins an overlap). Precedence: a JSON object with one of `json_keys`; then
    the last answer marker ("Answer:", "Decision:", "I choose", "I will") whose line mentions an
    option - the option right after the marker wins, otherwise the line must name only one; then
    exactly one distinct option in the whole reply. A mention negated within two words ("I will
    not punish", "rather than defect") does not count, so hedged replies are rejected rather than
    read backwards. No option, or several without a marker, raises `ParseError`.
    """
    if not choices:
        raise ValueError("choices must not be empty")
    canonical = {_choice_key(c): c for c in choices}
    options = ", ".join(choices)
    if json_keys:
        hint = f'reply with a JSON object like {{"{json_keys[0]}": "{choices[0]}"}}'
    else:
        hint = f"reply with exactly one of: {options}"
    pattern = _words_pattern(choices)
    if pattern is None:
        raise ValueError("choices must not be blank")
    body = _normalise(_strip_thinking(text))
    if not body.strip():
        raise ParseError(f"empty reply; {hint}")

    keyed = _keyed_value(body, json_keys)
    if keyed is not None:
        key, value = keyed
        if isinstance(value, str):
            if _choice_key(value) in canonical:
                return canonical[_choice_key(value)]
            named = {choice for _, choice in _choice_hits(_normalise(value), pattern, canonical)}
            if len(named) == 1:
                return named.pop()
        raise ParseError(f'"{key}" must be one of {options}, got {json.dumps(value)}; {hint}')

    hits = _choice_hits(body, pattern, canonical)
    marker_re = _words_pattern(answer_markers)
    if marker_re is not None:
        for marker in reversed(list(marker_re.finditer(body))):
            start = _FILLER_RE.match(body, marker.end()).end()
            line_end = body.find("\n", start)
            end = len(body) if line_end < 0 else line_end
            in_line = [(pos, choice) for pos, choice in hits if start <= pos < end]
            if not in_line:
                continue
            # A marker line naming several options ("Answer the question: donate or
            # punish?") is often an echo of the prompt, so it is skipped, not trusted.
            if in_line[0][0] == start or len({choice for _, choice in in_line}) == 1:
                return in_line[0][1]

    lines = [line for line in body.splitlines() if line.strip()]
    if lines and _choice_key(lines[-1]) in canonical:
        return canonical[_choice_key(lines[-1])]

    named_all = list(dict.fromkeys(choice for _, choice in hits))
    if len(named_all) == 1:
        return named_all[0]
    if not named_all:
        raise ParseError(f"no option found; {hint}")
    raise ParseError(
        f"ambiguous: found several options ({', '.join(named_all)}) and no marked answer; {hint}"
    )


# --------------------------------------------------------------------------- free text


def _label_re(extra_words: Sequence[str]) -> re.Pattern[str]:
    """A leading label such as "Strategy:", "My new strategy:", "**Strategy:**", "## Answer"."""
    words = sorted(
        {w.strip().lower() for w in (*_LABEL_WORDS, *extra_words) if w.strip()},
        key=len,
        reverse=True,
    )
    alternatives = "|".join(r"\s+".join(re.escape(p) for p in w.split()) for w in words)
    emphasis = r"(?:\*\*|__|\*|_)?"
    return re.compile(
        r"\A\s*(?:\#+\s*)?" + emphasis + r"\s*"
        r"(?:here(?:'s|’s|\s+is)\s+)?"
        r"(?:(?:my|the|a|new|revised|updated|improved|final|proposed)\s+){0,3}"
        r"(?:" + alternatives + r")(?:\s+text)?"
        r"\s*" + emphasis + r"[ \t]*(?::[ \t]*" + emphasis + r"|[ \t]*\n)",
        re.IGNORECASE,
    )


def _strip_quotes(text: str) -> str:
    """Remove one pair of quotes wrapping the whole text, but not quotes that merely start and
    end it ('"Give" if they gave, "keep" otherwise')."""
    text = text.strip()
    if len(text) >= 2 and text[0] in _QUOTE_PAIRS and text[-1] == _QUOTE_PAIRS[text[0]]:
        inner = text[1:-1]
        if text[0] not in inner and text[-1] not in inner:
            return inner.strip()
    return text


def _truncate(text: str, max_chars: int) -> str:
    """Cut to at most max_chars (the ellipsis included), at a word boundary when one is near."""
    if len(text) <= max_chars:
        return text
    cut = text[: max_chars - 1]
    if not text[len(cut)].isspace():
        boundary = max(cut.rfind(" "), cut.rfind("\n"), cut.rfind("\t"))
        if boundary >= len(cut) // 2:
            cut = cut[:boundary]
    return cut.rstrip(" \t\n,;:-") + "…"


def clean_free_text(text: str, *, max_chars: int, json_keys: Sequence[str] = ()) -> str:
    """Turn a free-text reply (a strategy, a reflection) into clean text of bounded length.

    A JSON object with one of `json_keys` gives its string (a list of strings is joined by
    lines). Otherwise the text is taken out of a code fence, and a "Sure! Here is my strategy:"
    preamble line, a leading label ("Strategy:", "My strategy:", "**Strategy:**", or one of
    `json_keys` used as a label) and wrapping quotes are removed. Trailing spaces are trimmed,
    runs of blank lines collapse to one, and text longer than `max_chars` is cut at a word
    boundary with "…" (the result never exceeds `max_chars`). Nothing left raises `ParseError`.
    """
    if max_chars < 1:
        raise ValueError("max_chars must be at least 1")
    hint = (
        f'reply with a JSON object like {{"{json_keys[0]}": "..."}}'
        if json_keys
        else "write your answer as a few sentences of plain text"
    )
    body = _strip_thinking(text)
    keyed = _keyed_value(body, json_keys)
    if keyed is not None:
        key, value = keyed
        if isinstance(value, list) and all(isinstance(item, str) for item in value):
            value = "\n".join(value)
        if not isinstance(value, str):
            raise ParseError(f'"{key}" must be a string, got {json.dumps(value)}; {hint}')
        body = value
    else:
        body = strip_code_fences(body)
        body = _PREAMBLE_RE.sub("", body, count=1)
    label = _label_re(json_keys)
    body = _strip_quotes(label.sub("", body, count=1))
    body = label.sub("", body, count=1)
    lines = [line.rstrip() for line in body.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    body = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
    if not body:
        raise ParseError(f"empty reply; {hint}")
    return _truncate(body, max_chars)
