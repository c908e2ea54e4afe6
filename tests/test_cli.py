"""The `societas` command as a user meets it: list, run, re-run from config.toml, report, errors.

Most tests call `sim.cli.main` in-process; one goes through the installed console script in a
real subprocess. Every user error must end in exit status 2 and a single
"societas: error: ..." line, never a traceback.
"""

from __future__ import annotations

import io
import shutil
import sqlite3
import subprocess
import sys
from contextlib import closing, redirect_stdout
from pathlib import Path

import pytest

from sim.cli import main

FIGURES = {"resources_per_round.png", "donation_per_round.png", "per_generation.png"}
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def tables(run_dir: Path) -> dict[str, list[tuple]]:
    """Every table of a run's store except meta (timestamps), rows in insertion order."""
    with closing(sqlite3.connect(run_dir / "run.sqlite")) as db:
        names = [n for (n,) in db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
        )]
        return {
            name: db.execute(f"SELECT * FROM {name} ORDER BY rowid").fetchall()
            for name in names if name != "meta"
        }


def run_path(stdout: str) -> Path:
    lines = [line for line in stdout.splitlines() if line.startswith("run: ")]
    assert len(lines) == 1, stdout
    return Path(lines[0].removeprefix("run: "))


def assert_png(path: Path) -> None:
    assert path.is_file()
    data = path.read_bytes()
    assert data.startswith(PNG_MAGIC) and len(data) > 1000


@pytest.fixture(scope="module")
def small_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """`societas run donor-game --set generations=2 --set agents=4`: (run dir, stdout).

    Module-scoped so that several tests share one run; capsys is per test, hence redirect_stdout.
    """
    out = tmp_path_factory.mktemp("runs")
    buffer = io.StringIO()
    with redirect_stdout(buffer):
        status = main(["run", "donor-game", "--set", "generations=2", "--set", "agents=4",
                       "--seed", "5", "--out", str(out), "--quiet"])
    assert status == 0
    stdout = buffer.getvalue()
    return run_path(stdout), stdout


def test_list_shows_donor_game(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert any(line.split()[0] == "donor-game" for line in out.splitlines() if line.strip())


def test_run_prints_summary_and_writes_the_run_dir(small_run: tuple[Path, str]) -> None:
    run_dir, stdout = small_run
    lines = stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if "mean resources" in line)
    assert lines[header].split()[0] == "generation"
    assert set(lines[header + 1].replace(" ", "")) == {"-"}
    rows = [lines[header + 2].split(), lines[header + 3].split()]
    assert [row[0] for row in rows] == ["1", "2"]
    assert all(len(row) == 5 for row in rows)
    # the printed means are the final resources (mean over games) in the store
    with closing(sqlite3.connect(run_dir / "run.sqlite")) as db:
        means = db.execute(
            "SELECT generation, AVG(final_mean) FROM generation_scores GROUP BY generation"
        ).fetchall()
    assert [f"{mean:.3f}" for _, mean in means] == [row[1] for row in rows]
    assert run_dir.is_dir()
    for name in ("run.sqlite", "config.toml", "config.json"):
        assert (run_dir / name).is_file()
    assert {p.name for p in (run_dir / "figures").iterdir()} == FIGURES
    for name in FIGURES:
        assert_png(run_dir / "figures" / name)
        assert f"figure: {run_dir / 'figures' / name}" in stdout
    toml = (run_dir / "config.toml").read_text()
    assert "agents = 4" in toml and "generations = 2" in toml


def test_config_toml_reproduces_the_run(
    small_run: tuple[Path, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir, _ = small_run
    status = main(["run", "donor-game", "--config", str(run_dir / "config.toml"),
                   "--out", str(tmp_path), "--quiet", "--no-figures"])
    assert status == 0
    again = run_path(capsys.readouterr().out)
    assert again != run_dir
    assert (again / "config.json").read_text() == (run_dir / "config.json").read_text()
    first, second = tables(run_dir), tables(again)
    assert first["donations"] and first["agents"]
    assert first == second
    assert not (again / "figures").exists()  # --no-figures


def test_report_redraws_the_figures(
    small_run: tuple[Path, str], capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir, _ = small_run
    figures = run_dir / "figures"
    shutil.rmtree(figures)
    assert main(["report", str(run_dir)]) == 0
    out = capsys.readouterr().out
    assert {p.name for p in figures.iterdir()} == FIGURES
    for name in FIGURES:
        assert_png(figures / name)
        assert f"figure: {figures / name}" in out


def test_console_script_runs_in_a_subprocess(tmp_path: Path) -> None:
    script = Path(sys.executable).with_name("societas")
    command = [str(script)] if script.exists() else [shutil.which("societas") or "societas"]
    listed = subprocess.run([*command, "list"], capture_output=True, text=True, timeout=60)
    assert listed.returncode == 0, listed.stderr
    assert "donor-game" in listed.stdout
    ran = subprocess.run(
        [*command, "run", "donor-game", "--set", "generations=1", "--set", "agents=4",
         "--out", str(tmp_path), "--quiet", "--no-figures"],
        capture_output=True, text=True, timeout=60,
    )
    assert ran.returncode == 0, ran.stderr
    assert (run_path(ran.stdout) / "run.sqlite").is_file()
    failed = subprocess.run([*command, "run", "no-such-game"], capture_output=True, text=True,
                            timeout=60)
    assert failed.returncode == 2
    assert failed.stderr.strip().splitlines() == [
        "societas: error: unknown scenario 'no-such-game' (available: donor-game)"
    ]


# -- user errors --------------------------------------------------------------------------------


def error_line(capsys: pytest.CaptureFixture[str]) -> str:
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err and "Traceback" not in captured.out
    assert "run: " not in captured.out
    errors = [line for line in captured.err.splitlines() if line.startswith("societas: error:")]
    assert len(errors) == 1, captured.err
    # nothing else on stderr but, for LLM runs, the one-line estimate of model calls
    others = [line for line in captured.err.splitlines() if line and line not in errors]
    assert all(line.startswith("LLM brains use ") for line in others), captured.err
    return errors[0]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["run", "no-such-game"], ["unknown scenario 'no-such-game'", "donor-game"]),
        (["run", "donor-game", "--set", "agentz=3"], ["unknown config key 'agentz'", "agents"]),
        (["run", "donor-game", "--set", "agents=many"], ["'agents'", "integer", "many"]),
        (["run", "donor-game", "--set", "agents=7"], ["even number of agents"]),
        (["run", "donor-game", "--set", "brains.martian=1"], ["martian"]),
        (["run", "donor-game", "--config", "missing.toml"], ["not found", "missing.toml"]),
        (["report", "not-a-run"], ["not-a-run", "not a run directory"]),
    ],
)
def test_user_errors_exit_2_with_one_line(
    args: list[str], expected: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main([*args, *(["--out", str(tmp_path)] if args[0] == "run" else [])]) == 2
    line = error_line(capsys)
    for fragment in expected:
        assert fragment in line
    assert not list(tmp_path.glob("donor-game-*"))  # no run dir for a config mistake


def test_bad_toml_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("agents = [\ngenerations = 2\n")
    assert main(["run", "donor-game", "--config", str(bad), "--out", str(tmp_path)]) == 2
    line = error_line(capsys)
    assert str(bad) in line and "not valid TOML" in line


def test_unreachable_model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status = main([
        "run", "donor-game", "--model", "openai/x",
        "--set", "api_base=http://127.0.0.1:9/v1", "--set", "max_retries=0",
        "--set", "generations=1", "--set", "agents=4", "--out", str(tmp_path), "--quiet",
    ])
    assert status == 2
    line = error_line(capsys)
    assert "unreachable" in line
    assert "openai/x" in line and "127.0.0.1:9" in line
