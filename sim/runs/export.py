"""`societas export`: a run's tables as CSV or Parquet files, one file per table.

A run's store is one SQLite file, which every language can read, but many tools (R, Stata,
spreadsheets, Spark, DuckDB) are happier with one flat file per table. The export takes every
table the store holds, the engine's and the scenario's alike, without knowing any scenario, and
adds the run's resolved config beside them (`config.json`), so the files can travel alone.
`llm_calls` is written with its `messages` as sent (`sim.message_texts.read_calls`), as runs
before stored them, so the paragraphs the store keeps once (`message_texts`) are left out
unless asked for by name.

Exports are deterministic: the same store gives byte-identical CSV files (rows in insertion
order, floats in Python's shortest round-trip form, NULL as an empty field), so an export can be
diffed and checked in. CSV needs nothing beyond the standard library; Parquet needs pyarrow
(the `export` extra), imported only when asked for, with each column typed from the type its
table declared in SQLite.
"""

from __future__ import annotations

import csv
import json
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from contextlib import closing
from pathlib import Path
from typing import Any

from sim.errors import UserError
from sim.message_texts import MESSAGE_TEXTS_TABLE, call_columns, read_calls
from sim.store import STORE_FILENAME
from sim.store_files import verify_store

FORMATS = ("csv", "parquet")
#: The config a run recorded, written beside the tables.
CONFIG_FILENAME = "config.json"
PARQUET_INSTALL_HINT = "pip install 'societas[export]' (or pip install pyarrow)"


def export_run(
    run_dir: str | Path,
    out_dir: str | Path | None = None,
    *,
    format: str = "csv",
    tables: Sequence[str] | None = None,
) -> list[Path]:
    """Write the run's tables (all, or `tables`) into `out_dir` as `<table>.<format>`.

    `out_dir` defaults to `RUN_DIR/export`. The run's `meta` table (scenario, seed, times,
    status) is a table like the others, and the recorded config is written as `config.json`.
    Returns the files written, tables first in name order, the config last. Raises `UserError`
    for a directory without a run store, an unknown table or format, or Parquet without pyarrow.
    """
    run_dir = Path(run_dir)
    if format not in FORMATS:
        raise UserError(f"unknown export format {format!r} (choose {' or '.join(FORMATS)})")
    store = run_dir / STORE_FILENAME
    if not store.is_file():
        what = "does not exist" if not run_dir.exists() else f"has no {STORE_FILENAME}"
        raise UserError(f"{run_dir} {what}: not a run directory, nothing to export")
    verify_store(store)
    write = _parquet_writer() if format == "parquet" else _write_csv
    out = Path(out_dir) if out_dir is not None else run_dir / "export"
    with closing(sqlite3.connect(f"{store.resolve().as_uri()}?mode=ro", uri=True)) as db:
        chosen = _chosen_tables(db, store, tables)
        out.mkdir(parents=True, exist_ok=True)
        written = []
        for table in chosen:
            path = out / f"{table}.{format}"
            columns = _declared_columns(db, table)
            if table == "llm_calls":  # the messages as sent, however the run stored them
                columns = [(name, "TEXT" if name == "messages" else kind)
                           for name, kind in zip(call_columns(db), (k for _, k in columns),
                                                 strict=True)]
                rows = iter(read_calls(db, [name for name, _ in columns], "ORDER BY rowid"))
            else:
                rows = db.execute(f'SELECT * FROM "{table}" ORDER BY rowid')
            write(path, columns, rows)
            written.append(path)
        config = _recorded_config(db)
    if config is not None:
        path = out / CONFIG_FILENAME
        # in the recorded order: the order of a mapping such as `brains` is part of the run
        path.write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
        written.append(path)
    return written


def parse_tables(text: str) -> list[str]:
    """`--tables a,b` as a list of names (blanks around commas ignored)."""
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names:
        raise UserError("--tables expects table names separated by commas, e.g. agents,metrics")
    return names


def _chosen_tables(db: sqlite3.Connection, store: Path, wanted: Sequence[str] | None
                   ) -> list[str]:
    present = [name for (name,) in db.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
    if wanted is None:  # the messages' paragraphs are in llm_calls.csv, as sent
        return [name for name in present if name != MESSAGE_TEXTS_TABLE]
    unknown = [name for name in wanted if name not in present]
    if unknown:
        raise UserError(f"no table {', '.join(map(repr, unknown))} in {store} "
                        f"(tables: {', '.join(present)})")
    return list(dict.fromkeys(wanted))  # once each, in the order asked


def _declared_columns(db: sqlite3.Connection, table: str) -> list[tuple[str, str]]:
    """(name, declared SQLite type) of each column, in table order."""
    return [(row[1], row[2]) for row in db.execute(f'PRAGMA table_info("{table}")')]


def _recorded_config(db: sqlite3.Connection) -> Any:
    row = db.execute("SELECT value FROM meta WHERE key = 'config'").fetchone()
    if row is None:
        return None
    try:
        return json.loads(row[0])
    except (TypeError, ValueError):
        return None


# -- CSV --------------------------------------------------------------------------------------
def _write_csv(path: Path, columns: list[tuple[str, str]], rows: Iterable[tuple]) -> None:
    with path.open("w", encoding="utf-8", newline="") as file:
        writer = csv.writer(file, lineterminator="\n")
        writer.writerow([name for name, _ in columns])
        writer.writerows([_csv_cell(value) for value in row] for row in rows)


def _csv_cell(value: Any) -> Any:
    """NULL as an empty field, floats as their shortest exact form, bytes as hex."""
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, bytes):
        return value.hex()
    return value


# -- Parquet ----------------------------------------------------------------------------------
def _parquet_writer() -> Callable[[Path, list[tuple[str, str]], Iterable[tuple]], None]:
    """The Parquet writer, or the one line saying how to get pyarrow, before anything is
    written."""
    try:
        import pyarrow.parquet  # noqa: F401
    except ImportError:
        raise UserError(f"--format parquet needs pyarrow, which is not installed: "
                        f"{PARQUET_INSTALL_HINT}; --format csv needs nothing") from None
    return _write_parquet


def _write_parquet(path: Path, columns: list[tuple[str, str]], rows: Iterable[tuple]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    data = list(rows)
    arrays = [_arrow_column([row[i] for row in data], declared)
              for i, (_, declared) in enumerate(columns)]
    table = pa.Table.from_arrays(arrays, names=[name for name, _ in columns])
    pq.write_table(table, path)


def _arrow_column(values: list[Any], declared: str) -> Any:
    """A column typed by its declared SQLite type (an empty table keeps its types too).

    SQLite lets any cell hold any type; a column whose cells do not fit its declared type is
    kept as inferred, or failing that as text, rather than losing the export.
    """
    import pyarrow as pa

    affinity = declared.upper()
    if "INT" in affinity:
        wanted = pa.int64()
    elif any(word in affinity for word in ("REAL", "FLOA", "DOUB")):
        wanted = pa.float64()
    elif any(word in affinity for word in ("CHAR", "CLOB", "TEXT")):
        wanted = pa.string()
    else:
        wanted = None
    for kind in (wanted, None):
        try:
            return pa.array(values, type=kind)
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
            continue
    return pa.array([None if v is None else str(v) for v in values], type=pa.string())
