"""Reading a run's store for the view: read-only, briefly, and never in the writer's way.

The view may watch a run that another process is still writing. SQLite in WAL mode lets it
read while the run writes, but the writer can only switch the file back to a rollback journal
when it closes if no other connection has the file open (`sim.store._switch_journal`). So the
view never keeps a connection: each look at the store (`RunSource.snapshot()`) opens one
read-only connection, reads inside one read transaction (a consistent state of the run: its
last committed round), and closes it, in milliseconds. Between looks it holds nothing.

What is expensive and changes only when the run grows (a headline series over the whole run)
is computed in a background thread and kept per version of the store (`RunSource.latest`), so
showing one step stays fast however large the run.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pandas as pd

from analysis.run import Run
from sim.store import STORE_FILENAME

T = TypeVar("T")
#: A read that finds the writer switching journal modes waits this long (seconds).
BUSY_TIMEOUT_S = 5.0
#: Statuses after which a run's store no longer changes.
ENDED = frozenset({"finished", "failed", "interrupted", "budget", "provider_down"})


@dataclass(frozen=True)
class Progress:
    """How far the run has got: its committed checkpoints and its status."""

    checkpoints: int
    status: str

    @property
    def live(self) -> bool:
        return self.status not in ENDED


class Snapshot:
    """One read transaction on the store: every query sees the same committed state."""

    def __init__(self, db: sqlite3.Connection):
        self._db = db
        self._tables: set[str] | None = None

    def rows(self, sql: str, params: tuple | list = ()) -> list[tuple]:
        return self._db.execute(sql, params).fetchall()

    def one(self, sql: str, params: tuple | list = ()) -> tuple | None:
        return self._db.execute(sql, params).fetchone()

    def frame(self, sql: str, params: tuple | list = ()) -> pd.DataFrame:
        cursor = self._db.execute(sql, params)
        columns = [c[0] for c in cursor.description or ()]
        return pd.DataFrame(cursor.fetchall(), columns=columns)

    def has(self, table: str) -> bool:
        if self._tables is None:
            self._tables = {name for (name,) in self.rows(
                "SELECT name FROM sqlite_master WHERE type = 'table'")}
        return table in self._tables

    def last_rowid_at_most(self, table: str, column: str, value: float) -> int:
        """The last rowid whose `column` is <= `value`, in a table appended in order of
        `column` (decisions by sim_time, donations by step): a binary search over rowids,
        a few index lookups however long the table. 0 when there is none."""
        if not self.has(table):
            return 0
        # two subqueries: SQLite answers MIN(rowid) and MAX(rowid) alone from the b-tree's
        # ends, but both in one SELECT by scanning the whole table
        bounds = self.one(f'SELECT (SELECT MIN(rowid) FROM "{table}"), '
                          f'(SELECT MAX(rowid) FROM "{table}")')
        if bounds is None or bounds[0] is None:
            return 0
        low, high, found = bounds[0], bounds[1], 0
        while low <= high:
            middle = (low + high) // 2
            row = self.one(f'SELECT rowid, "{column}" FROM "{table}" WHERE rowid >= ? '
                           "ORDER BY rowid LIMIT 1", (middle,))
            if row is None:
                high = middle - 1
            elif row[1] is not None and row[1] <= value:
                found, low = row[0], row[0] + 1
            else:
                high = middle - 1
        return found

    def first_rowid_above(self, table: str, column: str, value: float) -> int:
        """The first rowid whose `column` is > `value` (same ordering assumption); one past
        the last rowid when none is."""
        last = self.last_rowid_at_most(table, column, value)
        row = self.one(f'SELECT MIN(rowid) FROM "{table}" WHERE rowid > ?', (last,))
        if row is None or row[0] is None:
            end = self.one(f'SELECT MAX(rowid) FROM "{table}"')
            return (end[0] or 0) + 1 if end else 1
        return int(row[0])


class RunSource:
    """One run directory as the view reads it; shared by every page showing that run."""

    def __init__(self, run_dir: str | Path):
        self.path = Path(run_dir)
        self.db_path = self.path / STORE_FILENAME
        if not self.db_path.is_file():
            raise FileNotFoundError(f"{self.path} is not a run directory: {self.db_path} "
                                    "does not exist")
        self._lock = threading.Lock()
        self._memo: dict[str, Any] = {}
        self._latest: dict[str, tuple[int, Any]] = {}
        self._current: dict[str, tuple[int, Any]] = {}
        self._computing: set[str] = set()
        self._run: Run | None = None
        self._meta: dict[str, str] | None = None
        #: Background computations finished so far (a page redraws when this grows).
        self.computed = 0

    # -- reading ----------------------------------------------------------------------------
    @contextmanager
    def snapshot(self) -> Iterator[Snapshot]:
        """A consistent, read-only look at the store; the file is let go of on exit."""
        uri = f"{self.db_path.resolve().as_uri()}?mode=ro"
        db = sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_S, isolation_level=None,
                             check_same_thread=False)
        try:
            db.execute("BEGIN")
            yield Snapshot(db)
        finally:
            with suppress(sqlite3.Error):
                db.execute("COMMIT")
            db.close()

    def progress(self) -> Progress:
        """Checkpoints committed and the run's status, read afresh."""
        with self.snapshot() as snap:
            seq = snap.one("SELECT MAX(seq) FROM checkpoints") if snap.has("checkpoints") \
                else None
            status = snap.one("SELECT value FROM meta WHERE key = 'status'")
        return Progress(int(seq[0] or 0) if seq else 0, str(status[0]) if status else "")

    @property
    def meta(self) -> dict[str, str]:
        """The meta values recorded when the run started (scenario, seed, config)."""
        if self._meta is None:
            with self.snapshot() as snap:
                self._meta = dict(snap.rows("SELECT key, value FROM meta"))
        return self._meta

    @property
    def run(self) -> Run:
        """The run as `analysis` reads it (every table read afresh on access)."""
        if self._run is None:
            config = json.loads(self.meta.get("config") or "{}")
            self._run = Run(self.path, config)
        return self._run

    # -- remembering ------------------------------------------------------------------------
    def memo(self, key: str, compute: Callable[[], T]) -> T:
        """`compute()` once for the life of the view: for what a run never changes once it
        is written (the town's places, a graph's layout)."""
        with self._lock:
            if key in self._memo:
                return self._memo[key]
        value = compute()
        with self._lock:
            return self._memo.setdefault(key, value)

    def current(self, key: str, version: int, compute: Callable[[], T]) -> T:
        """`compute()` for the store's `version`, kept until the run grows (one value per
        key): for a table small enough to read whole, read once per round, not per step."""
        with self._lock:
            known = self._current.get(key)
            if known is not None and known[0] == version:
                return known[1]
        value = compute()
        with self._lock:
            self._current[key] = (version, value)
        return value

    def latest(self, key: str, version: int, compute: Callable[[], T],
               min_interval_s: float = 2.0) -> T | None:
        """The value of `compute()` for the store's `version` (its checkpoints), computed in a
        background thread: the last value computed (None before the first), recomputed when
        the run has grown, at most every `min_interval_s` while it grows."""
        with self._lock:
            known = self._latest.get(key)
            stale = known is None or known[0] < version
            start = stale and key not in self._computing and (
                known is None or time.monotonic() - self._memo.get(f"{key}@t", 0.0)
                >= min_interval_s)
            if start:
                self._computing.add(key)
                self._memo[f"{key}@t"] = time.monotonic()
        if start:
            threading.Thread(target=self._compute, args=(key, version, compute),
                             daemon=True, name=f"view-{key}").start()
        return None if known is None else known[1]

    def _compute(self, key: str, version: int, compute: Callable[[], Any]) -> None:
        try:
            value: Any = compute()
        except Exception as error:  # a scenario's bug shows in its panel, not as a crash
            value = error
        with self._lock:
            self._latest[key] = (version, value)
            self._computing.discard(key)
            self.computed += 1

    def ready(self, key: str, version: int) -> bool:
        with self._lock:
            known = self._latest.get(key)
            return known is not None and known[0] >= version
