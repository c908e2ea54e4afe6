"""`societas export` and `sim.runs.export.export_run`: every table of a run as CSV or Parquet.

Checked on a real Donor Game run: the files hold exactly the store's rows (read back and compared
cell by cell, NULLs and floats included), the same store always gives the same bytes, and the
command refuses what is not a run, an unknown table, and Parquet without pyarrow, in one line.
"""

from __future__ import annotations

import builtins
import csv
import json
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from sim.cli import main
from sim.message_texts import call_columns, read_calls
from sim.runs.export import export_run


def store_tables(run_dir: Path) -> dict[str, tuple[list[str], list[tuple]]]:
    with closing(sqlite3.connect(run_dir / "run.sqlite")) as db:
        names = [n for (n,) in db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        result = {}
        for name in names:
            if name == "llm_calls":  # as readers see it: the messages as sent
                columns = call_columns(db)
                result[name] = (columns, read_calls(db, columns, "ORDER BY rowid"))
                continue
            cursor = db.execute(f"SELECT * FROM {name} ORDER BY rowid")
            result[name] = ([c[0] for c in cursor.description], cursor.fetchall())
        return result


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small rule-brained Donor Game run with costly punishment (negative effects, NULLs)."""
    out = tmp_path_factory.mktemp("runs")
    status = main(["run", "donor-game", "--set", "generations=2", "--set", "agents=4",
                   "--set", "punishment=costly", "--set", "brains={rule=1}", "--out", str(out),
                   "--quiet", "--no-figures", "--seed", "3"])
    assert status == 0
    (run,) = out.iterdir()
    return run


def csv_cell(text: str, value: object) -> object:
    """A CSV field read back as the type its stored value has."""
    if text == "":
        return None
    if isinstance(value, int):
        return int(text)
    if isinstance(value, float):
        return float(text)
    return text


def test_csv_holds_every_table_row_for_row(run_dir: Path, tmp_path: Path) -> None:
    written = export_run(run_dir, tmp_path / "csv")
    stored = store_tables(run_dir)
    assert {p.name for p in written} == {f"{t}.csv" for t in stored} | {"config.json"}
    assert {"donations", "agent_rounds", "generation_scores", "strategies", "agents",
            "decisions", "metrics", "meta"} <= set(stored)
    for table, (columns, rows) in stored.items():
        with (tmp_path / "csv" / f"{table}.csv").open(newline="", encoding="utf-8") as file:
            header, *lines = list(csv.reader(file))
        assert header == columns, table
        assert len(lines) == len(rows), table
        for line, row in zip(lines, rows, strict=True):
            assert [csv_cell(t, v) for t, v in zip(line, row, strict=True)] == list(row), table
    # NULLs survive as empty fields: the last generation's `survived` (no selection followed)
    columns, rows = stored["generation_scores"]
    survived = columns.index("survived")
    assert any(row[survived] is None for row in rows)
    with (tmp_path / "csv" / "generation_scores.csv").open(newline="") as file:
        assert any(line["survived"] == "" for line in csv.DictReader(file))
    config = json.loads((tmp_path / "csv" / "config.json").read_text())
    assert config["punishment"] == "costly" and config["seed"] == 3


def test_same_store_gives_identical_bytes(run_dir: Path, tmp_path: Path) -> None:
    first = export_run(run_dir, tmp_path / "a")
    second = export_run(run_dir, tmp_path / "b")
    for a, b in zip(first, second, strict=True):
        assert a.read_bytes() == b.read_bytes(), a.name


def test_parquet_round_trip_with_column_types(run_dir: Path, tmp_path: Path) -> None:
    pq = pytest.importorskip("pyarrow.parquet", reason="pip install 'societas[export]'")
    written = export_run(run_dir, tmp_path / "pq", format="parquet",
                         tables=["donations", "generation_scores"])
    assert [p.name for p in written] == ["donations.parquet", "generation_scores.parquet",
                                         "config.json"]
    stored = store_tables(run_dir)
    for table in ("donations", "generation_scores"):
        columns, rows = stored[table]
        read = pq.read_table(tmp_path / "pq" / f"{table}.parquet")
        assert read.column_names == columns
        assert [tuple(r.values()) for r in read.to_pylist()] == rows
    schema = pq.read_schema(tmp_path / "pq" / "donations.parquet")
    assert str(schema.field("step").type) == "int64"
    assert str(schema.field("effect").type) == "double"
    assert str(schema.field("action").type) == "string"


def test_cli_export_with_tables_and_out(run_dir: Path, tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "chosen"
    assert main(["export", str(run_dir), "--tables", "metrics, agents", "--out", str(out)]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed == [f"wrote {out / 'metrics.csv'}", f"wrote {out / 'agents.csv'}",
                       f"wrote {out / 'config.json'}"]
    assert main(["export", str(run_dir)]) == 0  # default: RUN_DIR/export
    assert (run_dir / "export" / "donations.csv").is_file()


@pytest.mark.parametrize("args, message", [
    (["--tables", "donations,nope"], "no table 'nope'"),
    (["--tables", " , "], "--tables expects table names"),
    (["--format", "xlsx"], "invalid choice"),
])
def test_bad_requests_are_one_line_and_status_2(
    run_dir: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str,
) -> None:
    assert main(["export", str(run_dir), *args]) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith("societas: error:") and message in captured.err
    assert captured.err.count("\n") == 1


def test_a_directory_without_a_store_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["export", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err == f"societas: error: {tmp_path} has no run.sqlite: not a run directory, " \
        "nothing to export\n"
    assert main(["export", str(tmp_path / "missing")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_parquet_without_pyarrow_says_how_to_install_it(
    run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real_import = builtins.__import__

    def no_pyarrow(name: str, *args: object, **kwargs: object) -> object:
        if name == "pyarrow" or name.startswith("pyarrow."):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_pyarrow)
    out = tmp_path / "pq"
    assert main(["export", str(run_dir), "--format", "parquet", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "pip install 'societas[export]'" in err
    assert not out.exists()  # refused before writing anything
