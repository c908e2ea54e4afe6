"""How values become the run store's cells: stable JSON text, and dict rows as tuples; and
the text a transaction's checkpoint digest hashes for its rows.

Every logged decision's observation and decision are JSON, so `to_json` is on the hottest path
of a run; it is exactly `json.dumps(value, sort_keys=True, separators=(",", ":"),
ensure_ascii=False)`, with the C encoder that call builds each time built once.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from itertools import chain
from json import encoder as _json_encoder
from typing import Any

__all__ = ["as_tuples", "cell", "digest_text", "to_json"]

_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _c_encoder() -> Any:
    """The C encoder `json.dumps` builds on every call, built once (`to_json` is on the hot
    path of every logged decision); None where this Python has none or it encodes differently."""
    make = getattr(_json_encoder, "c_make_encoder", None)
    if make is None:
        return None
    try:
        encode = make(None, _ENCODER.default, _json_encoder.encode_basestring, None, ":", ",",
                      True, False, True)
        probe = {"b": [1, 2.5, None, True, "é\n"], "a": {"z": -0.0, "y": 1e300}}
        if "".join(encode(probe, 0)) != _ENCODER.encode(probe):
            return None
    except Exception:
        return None
    return encode


_C_ENCODE = _c_encoder()


def to_json(value: Any) -> str:
    """Stable JSON (sorted keys) so that equal values give byte-identical cells: exactly
    `json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)`."""
    if _C_ENCODE is None or isinstance(value, str):
        return _ENCODER.encode(value)
    return "".join(_C_ENCODE(value, 0))


def cell(value: Any) -> Any:
    """A value as SQLite stores it: dicts, lists and tuples as JSON text."""
    if isinstance(value, (dict, list, tuple)):
        return to_json(value)
    return value


def as_tuples(rows: Iterable[Mapping[str, Any]], columns: list[str]) -> list[tuple]:
    """Dict rows as tuples in column order (a missing key is NULL), with dict, list and tuple
    cells as JSON; the type check runs over each column at C speed, not cell by cell."""
    values = [tuple(map(row.get, columns)) for row in rows]
    if not values:
        return values
    cells = list(zip(*values, strict=True))
    converted = False
    for index, column in enumerate(cells):
        if any(issubclass(kind, (dict, list, tuple)) for kind in set(map(type, column))):
            cells[index] = tuple(map(cell, column))
            converted = True
    return list(zip(*cells, strict=True)) if converted else values


def digest_text(table: str, rows: Sequence[tuple]) -> str:
    """What a transaction's digest hashes for `rows` of `table`: `repr((table, row))` of each
    row, one after another (the checkpoints of every store written so far hold these hashes).

    repr of str/int/float/None tuples is exact and stable (floats print shortest round-trip),
    and several times cheaper than JSON on this hot path. Rows that are all plain tuples of
    one width (what the engine writes) are formatted by one `%` over every cell: each `%r`
    is that cell's repr, so the text is the same, without a repr call and a join per row."""
    if not rows:
        return ""
    if set(map(type, rows)) == {tuple} and len(widths := set(map(len, rows))) == 1 and (
            width := widths.pop()):
        cells = ", ".join(["%r"] * width) + ("," if width == 1 else "")
        form = "(" + repr(table).replace("%", "%%") + f", ({cells}))"
        return (form * len(rows)) % tuple(chain.from_iterable(rows))
    head = f"({table!r}, "
    return head + f"){head}".join(map(repr, rows)) + ")"
