"""Small helpers the scenario tests share: run without progress or figures, and read a run's
store with plain SQL."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sim.message_texts import read_calls
from sim.runs.runner import RunOptions


def quiet(**kwargs: object) -> RunOptions:
    """Options for a test run: no progress line, no figures (unless a test asks)."""
    return RunOptions(progress=False, figures=False, **kwargs)  # type: ignore[arg-type]


def query(run_dir: Path, sql: str) -> list[tuple]:
    """Every row `sql` selects from the run's store."""
    db = sqlite3.connect(run_dir / "run.sqlite")
    try:
        return db.execute(sql).fetchall()
    finally:
        db.close()


def calls(run_dir: Path, columns: str, where: str = "") -> list[tuple]:
    """`SELECT columns FROM llm_calls where`, with `messages` the JSON of the messages sent
    however the run stored them (`sim.message_texts.read_calls`)."""
    db = sqlite3.connect(run_dir / "run.sqlite")
    try:
        return read_calls(db, [c.strip() for c in columns.split(",")], where)
    finally:
        db.close()


def checkpoints(run_parent: Path) -> int:
    """Checkpoints committed by the one run under `run_parent`, read while another process may
    be writing it (0 before its store exists or while it is locked)."""
    stores = list(run_parent.glob("*/run.sqlite"))
    return committed(stores[0]) if stores else 0


def committed(store: Path, timeout: float = 1.0) -> int:
    """Checkpoints committed in one store another process may be writing (0 while it cannot
    be read)."""
    try:
        db = sqlite3.connect(f"file:{store}?mode=ro", uri=True, timeout=timeout)
        try:
            return db.execute("SELECT COUNT(*) FROM checkpoints").fetchone()[0]
        finally:
            db.close()
    except sqlite3.Error:
        return 0
