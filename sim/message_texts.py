"""The messages of logged model calls, each paragraph of their texts stored once per run.

Every model call logs the messages it sent, and most of a prompt repeats from call to call:
the system prompt, a persona, a task's instructions, yesterday's plan. Logged whole with every
call (`llm_calls.messages`, runs written before this module), the prompts were 60 % of a town's
store. So a run keeps each distinct paragraph once, in `message_texts` (`text_id`, `text`;
ids from 0 in the order the run first sent each paragraph), and each call's `message_refs`
names its messages by role and the ids of their paragraphs: `[[role, [id, ...]], ...]`. A
message's content is its paragraphs joined by a blank line: it is split on "\\n\\n" and
joined with the same, which gives back exactly the text sent. A message that is not a plain
`{"role": text, "content": text}` stays whole, its JSON object in the list.

`read_calls` is the one way to read `llm_calls` back with `messages` as the run's JSON text
of the messages sent (`to_json` of the list, byte for byte what runs before stored inline),
whichever way the run stored them: analysis, the view, `societas export` and the benchmarks
read through it. A store written before keeps its `messages` column, and a resumed or
interviewed old run goes on writing it inline, so that its checkpoints still verify.

The ids are part of the run's rows: the same seed and replies give the same ids, and the new
paragraphs of a round are rows of its transaction, hashed into its checkpoint before the
calls that name them. `MessageTexts` therefore remembers the ids of committed rounds apart from
those of the round in progress (forgotten if the round is rolled back), and a store that is
re-executed (resume, replay) starts from none and meets them again in the same order.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol

from sim.store_values import to_json

__all__ = ["INLINE_COLUMN", "MESSAGE_TEXTS_COLUMNS", "MESSAGE_TEXTS_TABLE", "REFS_COLUMN",
           "MessageTexts", "call_columns", "expand", "read_calls", "stores_inline"]

MESSAGE_TEXTS_TABLE = "message_texts"
MESSAGE_TEXTS_COLUMNS = {"text_id": "INTEGER PRIMARY KEY", "text": "TEXT"}
#: `llm_calls`' column of the messages sent: the references (now), the JSON itself (before).
REFS_COLUMN = "message_refs"
INLINE_COLUMN = "messages"
PARAGRAPH = "\n\n"
#: Only for tests and benchmarks that write a new run as runs were written before (inline).
NEW_STORES_INLINE = False
#: At most this many whole message texts are remembered as repeated (`MessageTexts`).
_REPEATED_KEPT = 4096
#: Placeholders per `IN (...)` query: SQLite's default limit on host parameters is 999.
_BATCH = 900


class Rows(Protocol):
    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]: ...


class MessageTexts:
    """The paragraph ids a run has handed out: committed, and new in the open transaction.

    Keyed by the paragraphs themselves (a digest per paragraph cost a third of encoding a
    call): the memory this takes is what the run's `message_texts` table holds."""

    def __init__(self) -> None:
        self._ids: dict[str, int] = {}
        self._new: dict[str, int] = {}
        #: Whole message texts sent again whose paragraphs all have committed ids (a system
        #: prompt sent with every call): their ids at once, without splitting them again.
        self._repeated: dict[str, list[int]] = {}

    def load(self, rows: Iterable[tuple[int, str]]) -> None:
        """Take the ids a store already holds (a session appended to a finished run)."""
        self._ids.update((text, text_id) for text_id, text in rows)

    def encode(self, messages: Sequence[Any]) -> tuple[str, list[tuple[int, str]]]:
        """(the `message_refs` cell of `messages`, the `message_texts` rows it adds)."""
        added: list[tuple[int, str]] = []
        refs: list[Any] = []
        for message in messages:
            if not (isinstance(message, dict) and message.keys() == {"role", "content"}
                    and isinstance(message["role"], str)
                    and isinstance(message["content"], str)):
                refs.append(message)
                continue
            content = message["content"]
            ids = self._repeated.get(content)
            if ids is None:
                ids = []
                committed = True
                for text in content.split(PARAGRAPH):
                    text_id = self._ids.get(text)
                    if text_id is None:
                        committed = False
                        text_id = self._new.get(text)
                    if text_id is None:
                        text_id = self._new[text] = len(self._ids) + len(self._new)
                        added.append((text_id, text))
                    ids.append(text_id)
                if committed and len(self._repeated) < _REPEATED_KEPT:  # ids that never change
                    self._repeated[content] = ids
            refs.append([message["role"], ids])
        return to_json(refs), added

    def commit(self) -> None:
        self._ids.update(self._new)
        self._new = {}

    def rollback(self) -> None:
        self._new = {}


def expand(refs: str, texts: Mapping[int, str]) -> str:
    """The JSON text of the messages a `message_refs` cell names (`texts`: id -> paragraph)."""
    return to_json([item if isinstance(item, dict) else
                    {"role": item[0], "content": PARAGRAPH.join(texts[i] for i in item[1])}
                    for item in json.loads(refs)])


def stores_inline(db: sqlite3.Connection | Rows) -> bool:
    """Whether a store keeps `llm_calls.messages` inline (written before this module; also
    a store without the table yet answers False)."""
    columns = {row[1] for row in _query(db, "PRAGMA table_info(llm_calls)")}
    return INLINE_COLUMN in columns


def call_columns(db: sqlite3.Connection | Rows) -> list[str]:
    """The columns of a store's `llm_calls` as `read_calls` gives them (`messages`, never
    `message_refs`), in the table's order: `SELECT *` for readers."""
    return [INLINE_COLUMN if row[1] == REFS_COLUMN else row[1]
            for row in _query(db, "PRAGMA table_info(llm_calls)")]


def read_calls(db: sqlite3.Connection | Rows, columns: Sequence[str], where: str = "",
               params: Sequence[Any] = ()) -> list[tuple]:
    """`SELECT columns FROM llm_calls where` (`where` starts with WHERE, or ORDER BY, ...),
    where the column `messages` is the JSON text of the messages sent, as runs before stored
    it inline, whichever way this run stored them (module docstring)."""
    inline = stores_inline(db)
    if inline or INLINE_COLUMN not in columns:
        return _query(db, f"SELECT {', '.join(columns)} FROM llm_calls {where}", params)
    at = list(columns).index(INLINE_COLUMN)
    stored = [REFS_COLUMN if column == INLINE_COLUMN else column for column in columns]
    rows = _query(db, f"SELECT {', '.join(stored)} FROM llm_calls {where}", params)
    wanted = sorted({text_id for row in rows if row[at] is not None
                     for item in json.loads(row[at]) if not isinstance(item, dict)
                     for text_id in item[1]})
    texts = _texts(db, wanted)
    return [row if row[at] is None else (*row[:at], expand(row[at], texts), *row[at + 1:])
            for row in rows]


def _texts(db: sqlite3.Connection | Rows, wanted: list[int]) -> dict[int, str]:
    if not wanted:
        return {}
    if len(wanted) > _BATCH:  # most of the table: one scan, not many lookups
        return dict(_query(db, f"SELECT text_id, text FROM {MESSAGE_TEXTS_TABLE}"))
    marks = ", ".join("?" for _ in wanted)
    return dict(_query(db, f"SELECT text_id, text FROM {MESSAGE_TEXTS_TABLE} "
                           f"WHERE text_id IN ({marks})", wanted))


def _query(db: sqlite3.Connection | Rows, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
    if isinstance(db, sqlite3.Connection):
        return db.execute(sql, params).fetchall()
    return db.rows(sql, params)
