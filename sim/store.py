"""The run store: one SQLite file per run, written one transaction per round.

SQLite in WAL mode gives a single portable file that pandas, the CLI and notebooks can read
while a run is still writing, and a crash loses at most the round in progress. The engine owns
the generic tables (agents, decisions, LLM calls, metrics); a scenario declares its own with
`define_table`. Rows are buffered by SQLite inside an open transaction until `commit()`, which
scenarios call at the end of every round.
"""

from __future__ import annotations

import contextlib
import hashlib
import sqlite3
import time
from collections.abc import Iterable, Mapping, Sequence
from operator import itemgetter
from pathlib import Path
from typing import Any

from sim import message_texts
from sim.message_texts import MESSAGE_TEXTS_COLUMNS, MESSAGE_TEXTS_TABLE, MessageTexts
from sim.store_files import StoreError, check_store, damaged_store, refuse_empty
from sim.store_values import as_tuples, digest_text, to_json

STORE_FILENAME = "run.sqlite"

ENGINE_TABLES: dict[str, dict[str, str]] = {
    "meta": {"key": "TEXT PRIMARY KEY", "value": "TEXT"},
    "agents": {
        "agent_id": "TEXT PRIMARY KEY",
        "generation": "INTEGER",  # generation in which the agent was created
        "brain": "TEXT",  # 'rule' or 'llm'
        "kind": "TEXT",  # rule family ('image_scoring', ...) or 'llm'
        "model": "TEXT",  # litellm model string for LLM brains, else NULL
        "params": "TEXT",  # JSON: rule parameters
        "parents": "TEXT",  # JSON list of agent ids this agent inherited from
    },
    "decisions": {
        "request_id": "INTEGER PRIMARY KEY",
        "sim_time": "REAL",
        "agent_id": "TEXT",
        "task": "TEXT",
        "observation": "TEXT",  # JSON
        "decision": "TEXT",  # JSON
        "source": "TEXT",  # 'rule' | 'llm' | 'repaired' | 'fallback'
        "n_calls": "INTEGER",
    },
    "llm_calls": {
        "call_id": "INTEGER PRIMARY KEY",
        "request_id": "INTEGER",
        "agent_id": "TEXT",
        "sim_time": "REAL",
        "model": "TEXT",
        "purpose": "TEXT",  # 'decide' | 'repair'
        # JSON list of chat messages sent, as readers see it (`sim.message_texts.read_calls`);
        # stored as `message_refs` into `message_texts` since issue 24's second pass
        "messages": "TEXT",
        "reply": "TEXT",
        "prompt_tokens": "INTEGER",
        "completion_tokens": "INTEGER",
        "cost_usd": "REAL",
        "latency_s": "REAL",  # wall time, the only nondeterministic column
        "attempts": "INTEGER",
        "outcome": "TEXT",  # 'ok' | 'unparsed' | 'error'
        "error": "TEXT",
    },
    "checkpoints": {
        "seq": "INTEGER PRIMARY KEY",  # one row per committed transaction (round)
        "digest": "TEXT",  # hash of every row the transaction wrote; checks a resume's replay
    },
    "metrics": {
        "scope": "TEXT",  # what a value summarises, e.g. 'step' | 'generation'
        "step": "INTEGER",  # the scenario's step (a round, a day) for per-step values, else NULL
        "generation": "INTEGER",  # NULL in scenarios without generations
        "name": "TEXT",
        "value": "REAL",
    },
}


class ResumeDiverged(RuntimeError):
    """Re-executing a run to resume it did not reproduce what the run had committed."""


#: Columns whose values depend on wall-clock time; excluded when comparing two runs.
NONDETERMINISTIC_COLUMNS = {("llm_calls", "latency_s")}
#: Tables about the process rather than the simulation (times, versions, status, resumes).
NONDETERMINISTIC_TABLES = {"meta"}


class RunStore:
    """Append-only writer (and simple reader) for one run's SQLite file.

    Each `commit()` that wrote rows also records a checkpoint: its sequence number and a digest
    of the rows. A run is resumed by re-executing it from the start (deterministic, with the
    model calls of committed rounds answered from this store's own `llm_calls`) in *catch-up*
    mode: rows of already committed checkpoints are not written again, only hashed and compared
    with the stored digest, so a resume that would diverge from the original (changed code or
    config) fails loudly.

    `read_only=True` opens a finished run for verification (`sim.runs.replay`): nothing is ever
    written, and a re-execution that produces more than the stored checkpoints is an error.
    """

    def __init__(self, path: str | Path, *, read_only: bool = False):
        self.path = Path(path)
        self.read_only = read_only
        existing = self.path.is_file()
        if existing:
            refuse_empty(self.path)
        if read_only:
            self._db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True,
                                       isolation_level=None)
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, isolation_level=None)
        try:
            if existing:  # check before writing anything: a damaged file stays as it was
                check_store(self._db, self.path)
            if not read_only:
                _switch_journal(self._db, "WAL")
                self._db.execute("PRAGMA synchronous=NORMAL")
        except sqlite3.OperationalError as error:
            self._db.close()
            if "locked" in str(error) or "busy" in str(error):
                raise StoreError(f"the run store {self.path} is locked by another process "
                                 "(a reader in a transaction, or a writer); close it there "
                                 "and try again") from None
            raise damaged_store(self.path, error) from None
        except sqlite3.DatabaseError as error:
            self._db.close()
            raise damaged_store(self.path, error) from None
        except StoreError:
            self._db.close()
            raise
        self._columns: dict[str, list[str]] = {}
        self._kept: dict[str, Any] = {}  # table -> the digest's projection of a row, or None
        self._queued: dict[str, list[tuple]] = {}  # rows of the open transaction, per table
        self._digest = hashlib.sha256()
        self._rows_in_transaction = 0
        self._committed = 0  # checkpoints passed, written now or in an earlier process
        self._catch_up_to = 0  # while _committed < this, rows are checked, not written
        #: Whether calls' messages go inline into `llm_calls.messages` (a store written
        #: before `sim.message_texts`, which keeps its format) or as references.
        self.inline_messages = (message_texts.stores_inline(self._db) if existing
                                else message_texts.NEW_STORES_INLINE)
        self._texts = MessageTexts()
        for name, columns in ENGINE_TABLES.items():
            if name == "llm_calls" and not self.inline_messages:
                columns = {(message_texts.REFS_COLUMN if column == message_texts.INLINE_COLUMN
                            else column): kind for column, kind in columns.items()}
            self.define_table(name, columns)

    # -- schema ---------------------------------------------------------------------------
    def define_table(self, name: str, columns: Mapping[str, str]) -> None:
        """Create a table if missing. Column order is the order of `columns`."""
        cols = ", ".join(f"{col} {sqltype}" for col, sqltype in columns.items())
        if not self.read_only:
            self._db.execute(f"CREATE TABLE IF NOT EXISTS {name} ({cols})")
        self._columns[name] = list(columns)
        kept = [i for i, col in enumerate(columns) if (name, col) not in NONDETERMINISTIC_COLUMNS]
        self._kept[name] = (None if len(kept) == len(columns) else itemgetter(*kept)
                            if len(kept) > 1 else lambda row, i=kept[0]: (row[i],))

    def columns(self, table: str) -> list[str]:
        """A table's columns, in order (as `define_table` gave them)."""
        return list(self._columns[table])

    # -- resuming -------------------------------------------------------------------------
    def last_checkpoint(self) -> int:
        row = self._db.execute("SELECT MAX(seq) FROM checkpoints").fetchone()
        return row[0] or 0

    def start_catch_up(self) -> int:
        """Replay mode for a resume: returns how many committed checkpoints will be skipped."""
        self._catch_up_to = self.last_checkpoint()
        return self._catch_up_to

    def append_after_last(self) -> int:
        """Number the next commits after the stored checkpoints, without re-executing them
        (an interview session appended to a finished run); returns how many there were."""
        self._committed = self._catch_up_to = self.last_checkpoint()
        if not self.inline_messages and self._has_table(MESSAGE_TEXTS_TABLE):
            self._texts.load(self._db.execute(
                f"SELECT text_id, text FROM {MESSAGE_TEXTS_TABLE} ORDER BY text_id"))
        return self._committed

    @property
    def catching_up(self) -> bool:
        return self._committed < self._catch_up_to

    @property
    def checkpoints_passed(self) -> int:
        """Checkpoints committed or verified by this process's execution so far."""
        return self._committed

    def logged_calls(self, first_call_id: int, request_ids: set[int]) -> list[dict[str, Any]]:
        """The `llm_calls` rows from `first_call_id` on that belong to `request_ids`, in call
        order: a committed batch's calls, which are contiguous. Read page by page along the
        primary key, so catching up through a long run stays linear."""
        columns = ("call_id", "request_id", "reply", "prompt_tokens", "completion_tokens",
                   "cost_usd", "latency_s", "attempts", "outcome", "error")
        self._write_queued()
        found: list[dict[str, Any]] = []
        next_id, page = first_call_id, max(64, 4 * len(request_ids))
        while True:
            rows = self._db.execute(
                f"SELECT {', '.join(columns)} FROM llm_calls WHERE call_id >= ? "
                "ORDER BY call_id LIMIT ?", (next_id, page),
            ).fetchall()
            for row in rows:
                if row[1] not in request_ids:
                    return found
                found.append(dict(zip(columns, row, strict=True)))
            if len(rows) < page:
                return found
            next_id = rows[-1][0] + 1

    # -- writing --------------------------------------------------------------------------
    def _begin(self) -> None:
        # The connection's own flag, not a copy of it: a Ctrl-C or SIGTERM can land between
        # a statement and the line after it, and a copy would then disagree with SQLite
        # (a later COMMIT or ROLLBACK failing with 'no transaction is active').
        if not self._db.in_transaction:
            self._db.execute("BEGIN")

    def insert(self, table: str, rows: Iterable[Mapping[str, Any]]) -> None:
        """Queue rows in the open transaction; dict/list values are stored as JSON text."""
        columns = self._columns[table]
        self.insert_rows(table, as_tuples(rows, columns))

    def insert_rows(self, table: str, rows: Sequence[tuple]) -> None:
        """Queue rows given as tuples in the table's column order, every cell already a
        SQLite value (str, int, float, bytes or None): the bulk path, which skips building a
        dict per row. The rows are hashed into the transaction's digest now, in order, and
        written with one `executemany` per table when the transaction commits."""
        if not rows:
            return
        kept = self._kept[table]
        self._digest.update(digest_text(table, rows if kept is None else list(map(kept, rows)))
                            .encode("utf-8"))
        self._rows_in_transaction += len(rows)
        if self.catching_up:
            return
        if self.read_only:
            raise ResumeDiverged(
                f"re-executing the run wrote {table} rows after its last stored checkpoint "
                f"({self._catch_up_to}): the code or config differ from the original run's"
            )
        queued = self._queued.get(table)
        if queued is None:
            self._queued[table] = list(rows)
        else:
            queued.extend(rows)

    def _write_queued(self) -> None:
        """Write the queued rows, one `executemany` per table (before any read sees them)."""
        if not self._queued:
            return
        self._begin()
        queued, self._queued = self._queued, {}
        for table, values in queued.items():
            columns = self._columns[table]
            placeholders = ", ".join("?" for _ in columns)
            self._db.executemany(
                f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({placeholders})", values
            )

    def insert_calls(self, rows: Sequence[dict[str, Any]]) -> None:
        """Queue `llm_calls` rows whose `messages` is the list of messages sent: stored as
        references to paragraphs kept once (`sim.message_texts`), or inline in a store
        written before, whose format a resumed run keeps."""
        if not rows:
            return
        if self.inline_messages:
            self.insert("llm_calls", [{**row, "messages": to_json(row["messages"])}
                                      for row in rows])
            return
        added: list[tuple[int, str]] = []
        stored = []
        for row in rows:
            refs, new = self._texts.encode(row["messages"])
            added += new
            stored.append({**row, message_texts.REFS_COLUMN: refs})
        if added and MESSAGE_TEXTS_TABLE not in self._columns:
            self.define_table(MESSAGE_TEXTS_TABLE, MESSAGE_TEXTS_COLUMNS)
        self.insert_rows(MESSAGE_TEXTS_TABLE, added)
        self.insert("llm_calls", stored)

    def _has_table(self, name: str) -> bool:
        return self._db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                                (name,)).fetchone() is not None

    def set_meta(self, key: str, value: Any) -> None:
        """Facts about the run (not part of checkpoints: they may differ between processes)."""
        if self.read_only:
            return
        self._begin()
        self._db.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
            (key, value if isinstance(value, str) else to_json(value)),
        )

    def commit(self) -> None:
        """Make everything written since the last commit durable, atomically, as a checkpoint."""
        self._write_queued()
        if self._rows_in_transaction:
            digest = self._digest.hexdigest()
            self._committed += 1
            if self._committed <= self._catch_up_to:
                stored = self._db.execute(
                    "SELECT digest FROM checkpoints WHERE seq = ?", (self._committed,)
                ).fetchone()
                if stored is None or stored[0] != digest:
                    raise ResumeDiverged(
                        f"re-executing the run diverged from its store at checkpoint "
                        f"{self._committed}: the code or config differ from the original run's"
                    )
            else:
                self._begin()
                self._db.execute(
                    "INSERT INTO checkpoints (seq, digest) VALUES (?, ?)",
                    (self._committed, digest),
                )
            self._digest = hashlib.sha256()
            self._rows_in_transaction = 0
        self._texts.commit()
        if self._db.in_transaction:
            self._db.execute("COMMIT")

    def rollback(self) -> None:
        """Drop everything written since the last commit (a round that did not finish)."""
        self._digest = hashlib.sha256()
        self._rows_in_transaction = 0
        self._queued = {}
        self._texts.rollback()
        if self._db.in_transaction:
            self._db.execute("ROLLBACK")

    def close(self) -> None:
        """Commit, then leave a single self-contained file (no -wal/-shm beside it) if no
        other process is reading it.

        Leaving WAL mode needs the database to itself, and a reader with a transaction open (a
        notebook, the live view of another tool, a sweep peeking at statuses) holds it back for
        as long as it likes. Everything is committed by then, so waiting for it would only
        risk a run that finished being reported as failed: after a short wait the store stays
        in WAL mode, and the -wal file beside it is folded back in by whichever connection
        closes it last (or the next open).
        """
        if self.read_only:
            self._db.close()
            return
        self.commit()
        if not _switch_journal(self._db, "DELETE", required=False):
            # Someone kept the file open past our patience: everything committed is moved
            # into the main file all the same, and the run stays in WAL mode, complete.
            with contextlib.suppress(sqlite3.OperationalError):
                self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self._db.close()

    # -- reading --------------------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else row[0]

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        self._write_queued()  # a read sees every row queued so far, as before queueing
        return self._db.execute(sql, params).fetchall()

    def __enter__(self) -> RunStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


#: How long switching the journal mode waits for readers to let go of the file (seconds).
JOURNAL_SWITCH_PATIENCE_S = 10.0


def _switch_journal(db: sqlite3.Connection, mode: str, *, required: bool = True) -> bool:
    """Set the journal mode, waiting for readers; True once it is set.

    SQLite changes a file's journal mode only while no other connection has it open, and
    refuses at once ('database is locked') otherwise: a busy timeout does not wait for that.
    Readers (a notebook, `societas view` following the run) open the store for a moment per
    read, so trying again for a while succeeds; a finished run must never fail because someone
    was watching it, so closing (`required=False`) gives up quietly after the patience.
    """
    deadline = time.monotonic() + JOURNAL_SWITCH_PATIENCE_S
    delay = 0.002
    while True:
        try:
            row = db.execute(f"PRAGMA journal_mode={mode}").fetchone()
            if row is not None and str(row[0]).lower() == mode.lower():
                return True
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) and "busy" not in str(error):
                raise
        if time.monotonic() >= deadline:
            if required:
                raise StoreError(f"cannot set the journal mode of the run store to {mode}: "
                                 "another process keeps it open")
            return False
        time.sleep(delay)
        delay = min(delay * 2, 0.05)


def snapshot(path: str | Path) -> dict[str, list[tuple]]:
    """Every table's rows, minus wall-clock columns and `meta`: equal snapshots, equal runs.

    This is what "same seed and same replies give the same store" is checked against.
    """
    db = sqlite3.connect(f"file:{Path(path)}?mode=ro", uri=True)
    try:
        tables = [row[0] for row in db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
        )]
        result = {}
        for table in tables:
            if table in NONDETERMINISTIC_TABLES:
                continue
            columns = [row[1] for row in db.execute(f"PRAGMA table_info({table})")]
            kept = [c for c in columns if (table, c) not in NONDETERMINISTIC_COLUMNS]
            result[table] = db.execute(
                f"SELECT {', '.join(kept)} FROM {table} ORDER BY rowid"
            ).fetchall()
        return result
    finally:
        db.close()
