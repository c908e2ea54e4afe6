"""What every parser of replies does first: read past reasoning, unify characters, find words.

Private to `sim.llm.parsing`: these helpers carry no promise to code outside the package.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

_THINK_BLOCK_RE = re.compile(r"<(think|thinking|reasoning)>.*?</\1>", re.DOTALL | re.IGNORECASE)

_THINK_CLOSE_RE = re.compile(r"</(?:think|thinking|reasoning)>", re.IGNORECASE)

# What may sit between an answer marker and the answer: punctuation, Markdown, quotes, a dash
# used as a separator (a dash glued to digits is a minus sign) and a few filler words.
FILLER_RE = re.compile(
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


def strip_thinking(text: str) -> str:
    """Drop `<think>` blocks: reasoning models put their scratch work there, never the answer.

    A dangling `</think>` (some servers strip the opening tag) ends the reasoning too. An
    unclosed `<think>` is left alone: the reply was cut off and the reasoning is all there is.
    """
    text = _THINK_BLOCK_RE.sub("", text)
    closes = list(_THINK_CLOSE_RE.finditer(text))
    if closes:
        text = text[closes[-1].end() :]
    return text


def normalise(text: str) -> str:
    """Unify look-alike characters models emit so one pattern matches them all."""
    return text.replace("’", "'").replace("‘", "'").replace("−", "-").replace("\u00a0", " ")


def words_pattern(phrases: Sequence[str]) -> re.Pattern[str] | None:
    """A case-insensitive whole-word pattern for phrases, longest first so they win overlaps.

    Cached: every reply of a run is read with the same few marker and option lists.
    """
    return _words_pattern(tuple(phrases))


@lru_cache(maxsize=256)
def _words_pattern(phrases: tuple[str, ...]) -> re.Pattern[str] | None:
    cleaned = sorted({p.strip() for p in phrases if p.strip()}, key=len, reverse=True)
    if not cleaned:
        return None
    alternatives = [r"\s+".join(re.escape(word) for word in p.split()) for p in cleaned]
    return re.compile(r"(?<!\w)(?:" + "|".join(alternatives) + r")(?!\w)", re.IGNORECASE)


def fmt(value: float) -> str:
    """Numbers in messages as a person would write them: 50, not 50.0."""
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.6g}"
