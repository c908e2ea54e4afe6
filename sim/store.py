"""The run store: one SQLite file per run, written one transaction per round.

SQLite in WAL mode gives a single portable file that pandas, the CLI and notebooks can read
while a run is still writing, and a crash loses at most the round in progress. The engine owns
the generic tables (agents, decisions, LLM calls, metrics); a scenario declares its own with
`define_table`. Rows are buffered by SQLite inside an open transaction until `commit()`, which
scenarios call at the end of every round.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from sim.errors import UserError

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
        "messages": "TEXT",  # JSON list of chat messages sent
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

#: How long closing waits for other processes' readers before it leaves the store in WAL mode.
CLOSE_WAIT_MS = 500


class ResumeDiverged(RuntimeError):
    """Re-executing a run to resume it did not reproduce what the run had committed."""


class StoreError(UserError):
    """A run's SQLite file is damaged or is not a run store; it is left exactly as it was."""


#: Columns whose values depend on wall-clock time; excluded when comparing two runs.
NONDETERMINISTIC_COLUMNS = {("llm_calls", "latency_s")}
#: Tables about the process rather than the simulation (times, versions, status, resumes).
NONDETERMINISTIC_TABLES = {"meta"}


def to_json(value: Any) -> str:
    """Stable JSON (sorted keys) so that equal values give byte-identical cells."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


class RunStore:
    """Append-only writer (and simple reader) for one run's SQLite file.

    Each `commit()` that wrote rows also records a checkpoint: its sequence number and a digest
    of the rows. A run is resumed by re-executing it from the start (deterministic, with the
    model calls of committed rounds answered from this store's own `llm_calls`) in *catch-up*
    mode: rows of already committed checkpoints are not written again, only hashed and compared
    with the stored digest, so a resume that would diverge from the original (changed code or
    config) fails loudly.

    `read_only=True` opens a finished run for verification (`sim.replay`): nothing is ever
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
                _verify(self._db, self.path)
            if not read_only:
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("PRAGMA synchronous=NORMAL")
        except sqlite3.OperationalError as error:
            self._db.close()
            if "locked" in str(error) or "busy" in str(error):
                raise StoreError(f"the run store {self.path} is locked by another process "
                                 "(a reader in a transaction, or a writer); close it there "
                                 "and try again") from None
            raise _damaged(self.path, error) from None
        except sqlite3.DatabaseError as error:
            self._db.close()
            raise _damaged(self.path, error) from None
        except StoreError:
            self._db.close()
            raise
        self._columns: dict[str, list[str]] = {}
        self._in_transaction = False
        self._digest = hashlib.sha256()
        self._rows_in_transaction = 0
        self._committed = 0  # checkpoints passed, written now or in an earlier process
        self._catch_up_to = 0  # while _committed < this, rows are checked, not written
        for name, columns in ENGINE_TABLES.items():
            self.define_table(name, columns)

    # -- schema ---------------------------------------------------------------------------
    def define_table(self, name: str, columns: Mapping[str, str]) -> None:
        """Create a table if missing. Column order is the order of `columns`."""
        cols = ", ".join(f"{col} {sqltype}" for col, sqltype in columns.items())
        if not self.read_only:
            self._db.execute(f"CREATE TABLE IF NOT EXISTS {name} ({cols})")
        self._columns[name] = list(columns)

    # -- resuming -------------------------------------------------------------------------
    def last_checkpoint(self) -> int:
        row = self._db.execute("SELECT MAX(seq) FROM checkpoints").fetchone()
        return row[0] or 0

    def start_catch_up(self) -> int:
        """Replay mode for a resume: returns how many committed checkpoints will be skipped."""
        self._catch_up_to = self.last_checkpoint()
        return self._catch_up_to

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
        if not self._in_transaction:
            self._db.execute("BEGIN")
            self._in_transaction = True

    def insert(self, table: str, rows: Iterable[Mapping[str, Any]]) -> None:
        """Queue rows in the open transaction; dict/list values are stored as JSON text."""
        columns = self._columns[table]
        values = [tuple(_cell(row.get(col)) for col in columns) for row in rows]
        if not values:
            return
        skipped = {i for i, c in enumerate(columns) if (table, c) in NONDETERMINISTIC_COLUMNS}
        update = self._digest.update
        for value in values:
            # repr of str/int/float/None tuples is exact and stable (floats print shortest
            # round-trip), and several times cheaper than JSON on this hot path
            kept = tuple(cell for i, cell in enumerate(value) if i not in skipped)
            update(repr((table, kept)).encode("utf-8"))
        self._rows_in_transaction += len(values)
        if self.catching_up:
            return
        if self.read_only:
            raise ResumeDiverged(
                f"re-executing the run wrote {table} rows after its last stored checkpoint "
                f"({self._catch_up_to}): the code or config differ from the original run's"
            )
        self._begin()
        placeholders = ", ".join("?" for _ in columns)
        self._db.executemany(
            f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({placeholders})", values
        )

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
        if self._in_transaction:
            self._db.execute("COMMIT")
            self._in_transaction = False

    def rollback(self) -> None:
        """Drop everything written since the last commit (a round that did not finish)."""
        self._digest = hashlib.sha256()
        self._rows_in_transaction = 0
        if self._in_transaction:
            self._db.execute("ROLLBACK")
            self._in_transaction = False

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
        try:
            self._db.execute(f"PRAGMA busy_timeout={CLOSE_WAIT_MS}")
            self._db.execute("PRAGMA journal_mode=DELETE")
        except sqlite3.OperationalError:  # "database is locked": a reader holds it
            pass
        self._db.close()

    # -- reading --------------------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else row[0]

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        return self._db.execute(sql, params).fetchall()

    def __enter__(self) -> RunStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def peek_meta(path: str | Path, key: str) -> str | None:
    """One `meta` value read without opening the store for writing (None if unreadable)."""
    try:
        db = sqlite3.connect(f"{Path(path).resolve().as_uri()}?mode=ro", uri=True)
        try:
            row = db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        finally:
            db.close()
    except sqlite3.Error:
        return None
    return None if row is None else row[0]


def refuse_empty(path: str | Path) -> None:
    """A zero-byte store was never written (its run was stopped before it recorded anything):
    refuse it, rather than write a schema into it or fail on its missing tables."""
    if Path(path).stat().st_size == 0:
        raise StoreError(f"the run store {path} is empty (0 bytes): its run was stopped "
                         "before it recorded anything; start it again with societas run "
                         "(the file was left as it is)")


def verify_store(path: str | Path) -> None:
    """Refuse a damaged or foreign file before a reader trusts it (read-only; O(file size)).

    A truncated or overwritten store would otherwise fail deep inside a resume or a report
    with a SQLite traceback, or worse, be read as a shorter run.
    """
    path = Path(path)
    refuse_empty(path)
    try:
        db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error as error:
        raise _damaged(path, error) from None
    try:
        _verify(db, path)
    except sqlite3.DatabaseError as error:
        raise _damaged(path, error) from None
    finally:
        db.close()


def _verify(db: sqlite3.Connection, path: Path) -> None:
    problems = [row[0] for row in db.execute("PRAGMA quick_check(3)")]
    if problems != ["ok"]:
        raise StoreError(f"the run store {path} is damaged ({'; '.join(problems)}); "
                         "it was left as it is")
    tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    if "meta" not in tables:
        raise StoreError(f"{path} is not a Societas run store (it has no meta table)")


def _damaged(path: Path, error: sqlite3.Error) -> StoreError:
    return StoreError(f"the run store {path} is damaged or not a SQLite file ({error}); "
                      "it was left as it is")


def _cell(value: Any) -> Any:
    if isinstance(value, (dict, list, tuple)):
        return to_json(value)
    return value


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
