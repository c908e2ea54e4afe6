"""Free text from a reply (a strategy, a reflection): `clean_free_text`.

Here nothing is rejected for being ambiguous; the work is taking away what is not the text:
a "Sure! Here is my strategy:" preamble, a label, wrapping quotes, a code fence around the
whole reply (never one inside it: that is the agent's text), runaway length.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Sequence

from sim.errors import ParseError
from sim.llm.parsing._common import strip_thinking
from sim.llm.parsing.json_objects import keyed_value

__all__ = ["clean_free_text"]


_PREAMBLE_RE = re.compile(
    r"\A\s*(?:(?:sure|okay|ok|certainly|of course|absolutely|alright|great)\b[!,.]*\s*)?"
    r"here(?:'s|’s|\s+is|\s+are)\b[^\n]*:[ \t*_]*\n",
    re.IGNORECASE,
)

_LABEL_WORDS: tuple[str, ...] = ("strategy", "answer", "response", "reply")

_QUOTE_PAIRS = {'"': '"', "'": "'", "“": "”", "‘": "’", "«": "»", "`": "`"}


def clean_free_text(text: str, *, max_chars: int, json_keys: Sequence[str] = (),
                    extracted: bool = False) -> str:
    """Turn a free-text reply (a strategy, a reflection) into clean text of bounded length.

    A JSON object with one of `json_keys` gives its string (a list of strings is joined by
    lines). Otherwise a "Sure! Here is my strategy:" preamble line is removed and, if a
    Markdown code fence wraps the whole rest of the reply, the text is taken out of it; a
    leading label ("Strategy:", "My strategy:", "**Strategy:**", or one of `json_keys` used as
    a label) and wrapping quotes are removed. Trailing spaces are trimmed, runs of blank lines
    collapse to one, and text longer than `max_chars` is cut at a word boundary with "…" (the
    result never exceeds `max_chars`). Nothing left raises `ParseError`.

    A fence anywhere else is the agent's own text (a strategy that quotes a rule, an utterance
    that shows code) and is kept, since it is stored and passed on to other agents as written;
    so is any fence in `extracted` text, a value already taken out of a reply (a JSON field).
    """
    if max_chars < 1:
        raise ValueError("max_chars must be at least 1")
    hint = (
        f'reply with a JSON object like {{"{json_keys[0]}": "..."}}'
        if json_keys
        else "write your answer as a few sentences of plain text"
    )
    body = strip_thinking(text)
    keyed = keyed_value(body, json_keys)
    if keyed is not None:
        key, value = keyed
        if isinstance(value, list) and all(isinstance(item, str) for item in value):
            value = "\n".join(value)
        if not isinstance(value, str):
            raise ParseError(f'"{key}" must be a string, got {json.dumps(value)}; {hint}')
        body = value
    elif not extracted:
        body = _PREAMBLE_RE.sub("", body, count=1)
        unwrapped = _fenced_whole(body)
        if unwrapped is not None:
            body = _PREAMBLE_RE.sub("", unwrapped, count=1)
    label = _label_re(json_keys)
    body = _strip_quotes(label.sub("", body, count=1))
    body = label.sub("", body, count=1)
    lines = [line.rstrip() for line in body.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    body = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
    if not body:
        raise ParseError(f"empty reply; {hint}")
    return _truncate(body, max_chars)


def _fenced_whole(text: str) -> str | None:
    """The inside of a code fence that is the whole text (left open if the reply was cut off),
    or None when the text is not one fenced block."""
    match = _WHOLE_FENCE_RE.match(text)
    if match is None:
        return None
    block = match.group("block") if match.group("block") is not None else match.group("inline")
    return None if "```" in block else block


_WHOLE_FENCE_RE = re.compile(
    r"\A\s*```[ \t]*(?:[\w+#.-]+[ \t]*)?\n(?P<block>.*?)(?:\n?[ \t]*```)?\s*\Z"
    r"|\A\s*```(?P<inline>[^`\n][^\n]*?)```\s*\Z",
    re.DOTALL,
)


def _label_re(extra_words: Sequence[str]) -> re.Pattern[str]:
    """A leading label such as "Strategy:", "My new strategy:", "**Strategy:**", "## Answer"."""
    return _label_re_of(tuple(extra_words))


@functools.lru_cache(maxsize=64)  # built once per set of words: it is on every reply's path
def _label_re_of(extra_words: tuple[str, ...]) -> re.Pattern[str]:
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
