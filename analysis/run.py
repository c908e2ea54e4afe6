"""Reading a finished (or still running) run directory into pandas.

Analysis never writes to a run: every read opens its own read-only SQLite connection, so a
notebook can follow a run that the simulator is still writing (the store is in WAL mode, so
readers see the last committed round) and can never corrupt it. Tables are re-read on every
access for the same reason; callers that need a table repeatedly should keep the DataFrame, or
read inside `with run.cached():`, as the report and the figures do (a report of a large run
reads each table once, not once per figure).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from sim.errors import UserError
from sim.message_texts import call_columns, read_calls
from sim.population import POPULATION_TABLES
from sim.registry import UnknownScenario, get_scenario
from sim.scenario_analysis import NO_ANALYSIS, ScenarioAnalysis
from sim.store import ENGINE_TABLES, STORE_FILENAME
from sim.store_files import verify_store

if TYPE_CHECKING:
    from analysis.palette import Palette

CONFIG_FILENAME = "config.json"

#: Columns of the engine's tables, so that one a run never created still reads as an empty
#: frame with the right shape (a run that crashed in round 0, a scenario without generations).
#: A run adds its scenario's declared tables (`ScenarioAnalysis.tables`) to these.
KNOWN_COLUMNS: dict[str, tuple[str, ...]] = {
    **{name: tuple(columns) for name, columns in ENGINE_TABLES.items()},
    **{name: tuple(columns) for name, columns in POPULATION_TABLES.items()},
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
        self._analysis: ScenarioAnalysis | None = None
        self._scenario_known: bool | None = None
        #: The strategy palette a report assigned to this run and the others it shows, so
        #: that every figure of the report agrees (`analysis.scenario.run_palette`); None
        #: until a report assigns one.
        self.palette: Palette | None = None
        self._kept: dict[str, pd.DataFrame] | None = None  # tables read in `cached()`
        #: Figure file name -> the PNG `analysis.draw_run_figures` wrote for this Run object
        #: (a report built from the same object embeds it instead of drawing it again).
        self.figure_files: dict[str, Path] = {}

    def __repr__(self) -> str:
        return f"Run({str(self.path)!r})"

    # -- what the scenario declares --------------------------------------------------------
    @property
    def scenario(self) -> str:
        """The scenario's name as the run recorded it ('' for a store that recorded none)."""
        return str(self.meta.get("scenario") or self.config.get("scenario") or "")

    @property
    def analysis_spec(self) -> ScenarioAnalysis:
        """The scenario's declared analysis; empty for a scenario not installed here (its run
        still loads: every table in the store reads, without the scenario's extras)."""
        if self._analysis is None:
            try:
                self._analysis = get_scenario(self.scenario).analysis_spec()
                self._scenario_known = True
            except (UnknownScenario, ImportError):  # not installed here, or broken
                self._analysis, self._scenario_known = NO_ANALYSIS, False
        return self._analysis

    @property
    def scenario_known(self) -> bool:
        """Whether the run's scenario is installed here (else only generic analysis applies)."""
        self.analysis_spec  # noqa: B018  (resolves the flag)
        return bool(self._scenario_known)

    def known_columns(self) -> dict[str, tuple[str, ...]]:
        """Columns of every table this run may have: the engine's and its scenario's."""
        return {**KNOWN_COLUMNS, **self.analysis_spec.columns()}

    # -- raw access -----------------------------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        uri = f"{self.db_path.resolve().as_uri()}?mode=ro"
        return sqlite3.connect(uri, uri=True)

    @contextmanager
    def cached(self) -> Iterator[Run]:
        """Within the block, each table is read from the store once and kept (every access
        gets its own copy, so no caller can change what the next one reads); after it, reads
        go to the store again. Nested blocks share the outer one's tables."""
        if self._kept is not None:
            yield self
            return
        self._kept = {}
        try:
            yield self
        finally:
            self._kept = None

    def derived(self, key: str, compute: Callable[[Run], pd.DataFrame]) -> pd.DataFrame:
        """`compute(self)`, computed once per `cached()` block and kept under `key` (outside a
        block, every call computes): for a frame several report sections derive from the same
        tables, such as the Donor Game's gift pairs."""
        if self._kept is None:
            return compute(self)
        name = f" derived {key}"
        if name not in self._kept:
            self._kept[name] = compute(self)
        return self._kept[name].copy()

    def tables(self) -> list[str]:
        """Names of the tables present in the store, sorted."""
        if self._kept is not None and " tables" in self._kept:
            return list(self._kept[" tables"]["name"])
        with closing(self._connect()) as db:
            rows = db.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
            ).fetchall()
        names = [name for (name,) in rows]
        if self._kept is not None:
            self._kept[" tables"] = pd.DataFrame({"name": names})
        return names

    def table(self, name: str) -> pd.DataFrame:
        """One table as a DataFrame, in insertion order.

        A table of the engine or declared by the scenario that the run never created comes
        back empty with its usual columns; an unknown name that is not in the store raises
        KeyError listing what is there.
        """
        if self._kept is not None and name in self._kept:
            return self._kept[name].copy()
        present = self.tables()
        if name not in present:
            known = self.known_columns()
            if name in known:
                return pd.DataFrame(columns=list(known[name]))
            raise NotInRun(f"no table {name!r} in {self.db_path}; tables: {present}")
        with closing(self._connect()) as db:
            if name == "llm_calls":  # messages as sent, however the run stored them
                columns = call_columns(db)
                frame = pd.DataFrame.from_records(
                    read_calls(db, columns, "ORDER BY rowid"), columns=columns,
                    coerce_float=True)
            else:  # the name was checked against sqlite_master above: quoting it is safe
                frame = pd.read_sql_query(f'SELECT * FROM "{name}" ORDER BY rowid', db)
        if self._kept is not None:
            self._kept[name] = frame
            return frame.copy()
        return frame

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
    def strategies(self) -> pd.DataFrame:
        return self.table("strategies")

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
        if name in self.known_columns() or name in self.tables():
            return self.table(name)
        return pd.DataFrame()

    def __getattr__(self, name: str) -> pd.DataFrame:
        """Any table the store holds or the scenario declares, as an attribute
        (`run.donations` for a Donor Game run)."""
        if name.startswith("_"):
            raise AttributeError(name)
        if name in self.tables() or name in self.known_columns():
            return self.table(name)
        raise AttributeError(
            f"{type(self).__name__} has no attribute or table {name!r}; tables: {self.tables()}"
        )

    def __dir__(self) -> list[str]:
        return sorted({*super().__dir__(), *self.tables(), *self.known_columns()})


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
