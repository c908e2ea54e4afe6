"""JSON objects in replies: whole, in a Markdown code fence, or embedded in prose.

Models asked for JSON wrap it in fences, put a sentence around it, or make the slips small
models make (trailing commas, bare keys, single quotes). `find_json_object` is the public
reader; `keyed_value` is what the other parsers use to take an answer from a JSON object before
they look at prose, because a keyed answer is the most explicit a reply can be.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from typing import Any

from sim.llm.parsing._common import strip_thinking

__all__ = ["find_json_object", "json_objects", "lookup_key", "strip_code_fences"]


# How many "{" positions `find_json_object` tries: bounds the work on a runaway reply full of
# braces while being far more than any real reply needs.
_MAX_JSON_CANDIDATES = 64

# Objects longer than this are only parsed strictly: repairing is a convenience for short
# answers, not worth quadratic time on a runaway reply.
_MAX_REPAIR_CHARS = 20_000

_FENCE_RE = re.compile(
    r"```[ \t]*(?:[\w+#.-]+[ \t]*)?\n(?P<block>.*?)(?:```|\Z)"  # ```json\n ... ``` (or cut off)
    r"|```(?P<inline>[^`\n][^`]*?)```",  # ```one line```
    re.DOTALL,
)

_TRAILING_COMMA_RE = re.compile(r",\s*(?=[}\]])")

_BARE_KEY_RE = re.compile(r"([A-Za-z_]\w*)(\s*:)")

_DECODER = json.JSONDecoder(strict=False)  # strict=False: models put raw newlines in strings


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


def find_json_object(text: str) -> dict[str, Any] | None:
    """The first JSON object in a reply, or None when no object parses.

    The object may be the whole reply, sit in a code fence, or be embedded in prose ("Sure!
    {"percent": 30} is my answer"). Simple slips are forgiven: a trailing comma, unquoted keys,
    and single quotes when the object has no double quotes. Arrays and scalars are not objects.
    """
    return next(json_objects(strip_thinking(text)), None)


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


def json_objects(text: str) -> Iterator[dict[str, Any]]:
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


def lookup_key(obj: dict[str, Any], keys: Sequence[str]) -> tuple[str, Any] | None:
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


def keyed_value(text: str, keys: Sequence[str]) -> tuple[str, Any] | None:
    """The value under one of `keys` in the last JSON object of the reply that has one.

    The last, because a model that shows the format in its reasoning and then answers puts the
    answer after the example.
    """
    if not keys:
        return None
    found = None
    for obj in json_objects(text):
        hit = lookup_key(obj, keys)
        if hit is not None:
            found = hit
    return found
