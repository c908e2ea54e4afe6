"""Which of a few options a reply picks: `parse_choice`.

Options are words, so the pitfalls differ from numbers: a reply mentions every option while
weighing them, negates some ("I will not punish"), and echoes the prompt's list of options on
its answer line. The rules that tell these apart from a real answer are on `parse_choice`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

from sim.errors import ParseError
from sim.llm.parsing._common import FILLER_RE, normalise, strip_thinking, words_pattern
from sim.llm.parsing.json_objects import keyed_value

__all__ = ["DEFAULT_CHOICE_MARKERS", "parse_choice"]


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

# A choice preceded within two words by a negation ("I will not punish", "rather than
# defect") is not a vote for that choice.
_NEGATION_RE = re.compile(
    r"(?:\bnot|n't|\bnever|\bno|\bnor|\bwithout|\bavoid|\brather\s+than|\binstead\s+of)"
    r"\s+(?:\w+\s+){0,2}$",
    re.IGNORECASE,
)


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
    pattern = words_pattern(choices)
    if pattern is None:
        raise ValueError("choices must not be blank")
    body = normalise(strip_thinking(text))
    if not body.strip():
        raise ParseError(f"empty reply; {hint}")

    keyed = keyed_value(body, json_keys)
    if keyed is not None:
        key, value = keyed
        if isinstance(value, str):
            if _choice_key(value) in canonical:
                return canonical[_choice_key(value)]
            named = {choice for _, choice in _choice_hits(normalise(value), pattern, canonical)}
            if len(named) == 1:
                return named.pop()
        raise ParseError(f'"{key}" must be one of {options}, got {json.dumps(value)}; {hint}')

    hits = _choice_hits(body, pattern, canonical)
    marker_re = words_pattern(answer_markers)
    if marker_re is not None:
        for marker in reversed(list(marker_re.finditer(body))):
            start = FILLER_RE.match(body, marker.end()).end()
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
