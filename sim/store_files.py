"""A run store's file seen from outside a run: refusing a damaged, foreign or empty file with
one clear line before anything trusts it, and reading one `meta` value without opening the
store for writing. `sim.store.RunStore` checks a file it opens the same way."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sim.errors import UserError


class StoreError(UserError):
    """A run's SQLite file is damaged or is not a run store; it is left exactly as it was."""


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
        raise damaged_store(path, error) from None
    try:
        check_store(db, path)
    except sqlite3.DatabaseError as error:
        raise damaged_store(path, error) from None
    finally:
        db.close()


def check_store(db: sqlite3.Connection, path: Path) -> None:
    """Refuse a file SQLite finds damaged, or one that is not a run store (no `meta`)."""
    problems = [row[0] for row in db.execute("PRAGMA quick_check(3)")]
    if problems != ["ok"]:
        raise StoreError(f"the run store {path} is damaged ({'; '.join(problems)}); "
                         "it was left as it is")
    tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    if "meta" not in tables:
        raise StoreError(f"{path} is not a Societas run store (it has no meta table)")


def damaged_store(path: Path, error: sqlite3.Error) -> StoreError:
    return StoreError(f"the run store {path} is damaged or not a SQLite file ({error}); "
                      "it was left as it is")
