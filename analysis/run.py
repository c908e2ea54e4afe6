"""Reading a finished (or still running) run directory into pandas.

Analysis never writes to a run: every read opens its own read-only SQLite connection, so a
notebook can follow a run that the simulator is still writing (the store is in WAL mode, so
readers see the last committed round) and can never corrupt it. Tables are re-read on every
access for the same reason; callers that need a table repeatedly should keep the DataFrame.
"""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

import pandas as pd

from scenarios.donor_game.tables import RUN_TABLES
from sim.errors import UserError
from sim.store import ENGINE_TABLES, STORE_FILENAME, verify_store

CONFIG_FILENAME = "config.json"

#: Columns of the tables this package knows about, so that a table a run never created still
#: reads as an empty frame with the right shape (a run that crashed in round 0, a scenario
#: without strategies).
KNOWN_COLUMNS: dict[str, tuple[str, ...]] = {
    **{name: tuple(columns) for name, columns in ENGINE_TABLES.items()},
    **{name: tuple(columns) for name, columns in RUN_TABLES.items()},
}


class NotInRun(UserError, KeyError):
    """A table or agent that the run does not have; the message lists what it has."""


class Run:
    """One run directory: its resolved config, its meta values and its tables as DataFrames.

    JSON text columns (`observation`, `decision`, `messages`, `params`, `parents`) are left as
    text: decoding them is cheap for the caller who needs it and wasteful for everyone else.
    """

    def __init__(self, path: Path, config: dict[str, Any]):
        self.path = path
        self.db_path = path / STORE_FILENAME
        self.config = config

    def __repr__(self) -> str:
        return f"Run({str(self.path)!r})"

    # -- raw access -----------------------------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        uri = f"{self.db_path.resolve().as_uri()}?mode=ro"
        return sqlite3.connect(uri, uri=True)

    def tables(self) -> list[str]:
        """Names of the tables present in the store, sorted."""
        with closing(self._connect()) as db:
            rows = db.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
            ).fetchall()
        return [name for (name,) in rows]

    def table(self, name: str) -> pd.DataFrame:
        """One table as a DataFrame, in insertion order.

        A known table that the run never created comes back empty with its usual columns; an
        unknown name that is not in the store raises KeyError listing what is there.
        """
        present = self.tables()
        if name not in present:
            if name in KNOWN_COLUMNS:
                return pd.DataFrame(columns=list(KNOWN_COLUMNS[name]))
            raise NotInRun(f"no table {name!r} in {self.db_path}; tables: {present}")
        with closing(self._connect()) as db:
            # The name was checked against sqlite_master above, so quoting it is safe.
            return pd.read_sql_query(f'SELECT * FROM "{name}" ORDER BY rowid', db)

    @property
    def meta(self) -> dict[str, str]:
        """The `meta` key/value pairs (values as stored: text, JSON text for structures)."""
        frame = self.table("meta")
        return dict(zip(frame["key"], frame["value"], strict=True))

    # -- convenience ----------------------------------------------------------------------
    @property
    def agents(self) -> pd.DataFrame:
        return self.table("agents")

    @property
    def decisions(self) -> pd.DataFrame:
        """Logged decisions: all of them, only LLM brains' or none, as `log_decisions` says."""
        return self.table("decisions")

    @property
    def log_decisions(self) -> str:
        """Which decisions the run logged: 'all' (the default), 'llm' or 'none'."""
        return str(self.config.get("log_decisions") or "all")

    @property
    def llm_calls(self) -> pd.DataFrame:
        return self.table("llm_calls")

    @property
    def metrics(self) -> pd.DataFrame:
        return self.table("metrics")

    @property
    def donations(self) -> pd.DataFrame:
        return self.table("donations")

    @property
    def strategies(self) -> pd.DataFrame:
        return self.table("strategies")

    @property
    def agent_rounds(self) -> pd.DataFrame:
        return self.table("agent_rounds")

    @property
    def generation_scores(self) -> pd.DataFrame:
        return self.table("generation_scores")

    @property
    def generations(self) -> pd.DataFrame:
        """Agent × generation rows (who lived in which generation, its score, survival).

        The same rows as `generation_scores`, under the name a reader looks for first.
        """
        return self.generation_scores

    @property
    def messages(self) -> pd.DataFrame:
        """Messages agents sent each other; empty until a scenario records them."""
        return self._optional("messages")

    @property
    def memories(self) -> pd.DataFrame:
        """Agents' memory records; empty until a run uses the memory stream."""
        return self._optional("memories")

    def _optional(self, name: str) -> pd.DataFrame:
        """A table whose schema belongs to a later part of the engine: empty when absent.

        Its columns are not known here yet, so an absent one reads as a frame with no columns
        rather than a KeyError: code written for runs that have it still runs on runs that don't.
        """
        if name in KNOWN_COLUMNS or name in self.tables():
            return self.table(name)
        return pd.DataFrame()


def load(run_dir: str | Path) -> Run:
    """Open a run directory for analysis.

    The config is the one the store recorded when the run started (a `config.json` beside it
    may have been edited since; it is read only for a store that recorded none), else empty.
    A damaged store is refused here (`StoreError`) rather than read as a shorter run.
    """
    path = Path(run_dir)
    if not (path / STORE_FILENAME).is_file():
        raise FileNotFoundError(
            f"{path} is not a run directory: {path / STORE_FILENAME} does not exist"
        )
    verify_store(path / STORE_FILENAME)
    run = Run(path, {})
    run.config = _read_config(run)
    return run


def _read_config(run: Run) -> dict[str, Any]:
    stored = run.meta.get("config")
    if stored is not None:
        return json.loads(stored)
    config_file = run.path / CONFIG_FILENAME
    if config_file.is_file():
        return json.loads(config_file.read_text(encoding="utf-8"))
    return {}
