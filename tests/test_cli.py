"""The `societas` command as a user meets it: list, run, re-run from config.toml, report, errors.

Most tests call `sim.cli.main` in-process; one goes through the installed console script in a
real subprocess. Every user error must end in exit status 2 and a single
"societas: error: ..." line, never a traceback.
"""

from __future__ import annotations

import io
import os
import shutil
import sqlite3
import subprocess
import sys
from contextlib import closing, redirect_stdout
from pathlib import Path

import pytest
from pydantic import ValidationError, model_validator

from scenarios.donor_game.config import DonorGameConfig
from sim.cli import main
from sim.config import load_config
from sim.registry import scenario_names

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
        "societas: error: unknown scenario 'no-such-game' (available: "
        f"{', '.join(scenario_names())})"
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
        (["run", "donor-game", "--seed", "-1"], ["'seed'", "greater than or equal to 0"]),
        (["run", "donor-game", "--seed", "x"], ["--seed", "'x'"]),
        (["run", "donor-game", "--config", "."], ["config file", "is a directory"]),
        (["run", "donor-game", "--set", "endowment=inf"], ["'endowment'", "finite"]),
        (["run", "donor-game", "--set", "multiplier=inf"], ["'multiplier'", "finite"]),
        (["run", "donor-game", "--set", 'multiplier="inf"'], ["'multiplier'", "finite"]),
        (["run", "donor-game", "--set", "brains.rule=inf"], ["'brains.rule'", "finite"]),
        (["run", "donor-game", "--set", "memory_settings.recency_weight=inf"],
         ["'memory_settings.recency_weight'", "finite"]),
        (["run", "donor-game", "--set", "prompts_dir='no-such-dir'"],
         ["'prompts_dir'", "no-such-dir does not exist"]),
        (["run", "donor-game", "--model", ""], ["'model'", "must name a litellm model"]),
        (["run", "donor-game", "--model", "nope"], ["model 'nope' names no provider",
                                                    "openai/gpt-4o-mini"]),
        (["run", "donor-game", "--model", "openai/"], ["model 'openai/' names a provider but "
                                                       "no model", "openai/MODEL"]),
        (["run", "donor-game", "--seed", "3", "--set", "seed=4"],
         ["--seed 3 and --set seed=4 disagree", "give the seed once"]),
        (["run", "donor-game", "--model", "openai/a", "--set", "model='openai/b'"],
         ["--model openai/a and --set model='openai/b' disagree"]),
        (["run", "donor-game", "--max-calls", "-1"], ["--max-calls", "'-1'"]),
        (["run", "donor-game", "--max-cost", "nan"], ["--max-cost", "'nan'"]),
        (["run", "donor-game", "--max-cost", "-0.5"], ["--max-cost", "'-0.5'"]),
        (["run", "donor-game", "--set", "memory=true", "--set", "memory_settings.embedder=nope"],
         ["'memory_settings.embedder'", "unknown embedder 'nope'", "hashing"]),
        (["run", "donor-game", "--set", "agents=1e9", "--set", "generations=1"],
         ["would need about", "TiB of memory", "available"]),
        (["resume", "not-a-run", "--max-calls", "-3"], ["--max-calls", "'-3'"]),
        (["inspect", "not-a-run", "--agent", "a", "--limit", "0"], ["--limit", "'0'"]),
        (["no-such-command"], ["invalid choice", "no-such-command"]),
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


def test_a_flag_and_a_set_that_agree_are_one_value(tmp_path: Path) -> None:
    config = load_config(DonorGameConfig, overrides=["seed=3"], values={"seed": 3})
    assert config.seed == 3


@pytest.mark.parametrize(("args", "expected"), [
    (["--set", "seed=3"], "given with --seeds"),
    (["--model", "openai/a", "--set", "model='openai/b'"], "swept with --model"),
    (["--model", "nope"], "model 'nope' names no provider"),
])
def test_a_sweep_refuses_what_it_would_silently_override(
        args: list[str], expected: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "s"
    assert main(["sweep", "donor-game", "--out", str(out), "--quiet", *args]) == 2
    assert expected in error_line(capsys)
    assert not out.exists()


def test_a_config_validator_may_set_a_key(tmp_path: Path) -> None:
    """A scenario's own validator deriving a key once recursed until RecursionError: setting
    a key re-validates the config, which ran the validator again, which set the key again."""

    class Derived(DonorGameConfig):
        rounds_told: int = 0

        @model_validator(mode="after")
        def _tell_rounds(self) -> Derived:
            self.rounds_told = self.rounds + 1
            return self

    config = load_config(Derived, overrides=["rounds=4"])
    assert config.rounds_told == 5
    config.rounds = 6  # an assignment is still validated, and the validator still runs
    assert config.rounds_told == 7
    with pytest.raises(ValidationError):
        config.rounds = -1


@pytest.mark.parametrize("command", ["resume", "replay"])
def test_an_empty_store_is_refused_in_one_line_and_nothing_is_written(
        command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "run.sqlite").write_bytes(b"")
    assert main([command, str(run_dir)]) == 2
    line = error_line(capsys)
    assert f"the run store {run_dir / 'run.sqlite'} is empty (0 bytes)" in line
    assert [(p.name, p.stat().st_size) for p in run_dir.iterdir()] == [("run.sqlite", 0)]


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


RULE_RUN = ["--set", "generations=1", "--set", "agents=4", "--quiet", "--no-figures"]


def test_out_that_cannot_hold_run_dirs_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a_file = tmp_path / "results.txt"
    a_file.write_text("keep me")
    for out in (a_file, a_file / "runs"):
        assert main(["run", "donor-game", *RULE_RUN, "--out", str(out)]) == 2
        line = error_line(capsys)
        assert "cannot create a run directory" in line
        assert f"{a_file} is a file, not a directory" in line
    assert a_file.read_text() == "keep me"


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write into a read-only directory")
def test_read_only_out_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o555)
    assert main(["run", "donor-game", *RULE_RUN, "--out", str(locked / "runs")]) == 2
    assert "no permission to write" in error_line(capsys)
    assert not list(locked.iterdir())


def test_unusable_cache_is_refused_before_the_run_starts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "not-a-dir").write_text("")
    cache = tmp_path / "not-a-dir" / "responses.sqlite"
    status = main(["run", "donor-game", *RULE_RUN, "--out", str(tmp_path / "runs"),
                   "--cache", str(cache)])
    assert status == 2
    line = error_line(capsys)
    assert f"cannot use the response cache {cache}" in line and "--no-cache" in line
    assert not (tmp_path / "runs").exists()  # refused before a run directory was made


def test_memory_estimate_names_what_is_needed_and_available(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import sim.runs.capacity

    monkeypatch.setattr(sim.runs.capacity, "available_memory", lambda: 200 * 2**20)
    # 100,000 agents at 3 kB each: about 286 MiB
    status = main(["run", "donor-game", *RULE_RUN, "--set", "agents=100000",
                   "--out", str(tmp_path)])
    assert status == 2
    line = error_line(capsys)
    assert "about 286.1 MiB of memory" in line and "200.0 MiB available" in line
    assert not list(tmp_path.iterdir())
    monkeypatch.setattr(sim.runs.capacity, "available_memory", lambda: 2**40)
    assert main(["run", "donor-game", *RULE_RUN, "--out", str(tmp_path)]) == 0


def damage(store: Path, how: str) -> None:
    data = store.read_bytes()
    store.write_bytes(data[: len(data) // 2] if how == "truncated" else b"\x07garbage" * 500)


@pytest.mark.parametrize("how", ["truncated", "garbage"])
@pytest.mark.parametrize("command", ["resume", "report", "inspect"])
def test_damaged_store_is_refused_and_left_as_it_is(
    small_run: tuple[Path, str], tmp_path: Path, how: str, command: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    run_dir = tmp_path / "run"
    shutil.copytree(small_run[0], run_dir)
    damage(run_dir / "run.sqlite", how)
    before = {p.name: p.read_bytes() for p in run_dir.iterdir() if p.is_file()}
    extra = ["--agent", "g0-a00"] if command == "inspect" else []
    assert main([command, str(run_dir), *extra]) == 2
    line = error_line(capsys)
    assert f"the run store {run_dir / 'run.sqlite'} is damaged" in line
    after = {p.name: p.read_bytes() for p in run_dir.iterdir() if p.is_file()}
    assert after == before


def test_report_of_a_one_generation_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                        ) -> None:
    assert main(["run", "donor-game", *RULE_RUN, "--out", str(tmp_path)]) == 0
    run_dir = run_path(capsys.readouterr().out)
    assert main(["report", str(run_dir)]) == 0
    assert f"report: {run_dir / 'report.html'}" in capsys.readouterr().out
    html = (run_dir / "report.html").read_text()
    assert "These runs have one generation: no agent has inherited anything yet" in html
    lineage = html[html.index('<section id="lineage">'):]
    assert f"<h3>{run_dir.name}</h3>" in lineage[:lineage.index("</section>")]


def test_resume_of_a_finished_run_does_nothing(
    small_run: tuple[Path, str], capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir, _ = small_run
    before = {p.name: p.read_bytes() for p in run_dir.iterdir() if p.is_file()}
    assert main(["resume", str(run_dir)]) == 0
    captured = capsys.readouterr()
    assert captured.out.strip() == f"{run_dir}: the run had already finished; nothing to resume"
    assert captured.err == ""
    assert {p.name: p.read_bytes() for p in run_dir.iterdir() if p.is_file()} == before


def test_a_run_in_use_is_refused(
    small_run: tuple[Path, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from sim.runs.runlock import run_lock

    run_dir = tmp_path / "run"
    shutil.copytree(small_run[0], run_dir)
    with closing(sqlite3.connect(run_dir / "run.sqlite")) as db, db:
        db.execute("UPDATE meta SET value = 'interrupted' WHERE key = 'status'")
    before = (run_dir / "run.sqlite").read_bytes()
    with run_lock(run_dir):  # as another process would hold it (flock is per open file)
        assert main(["resume", str(run_dir), "--quiet"]) == 2
        line = error_line(capsys)
        assert (run_dir / "run.sqlite").read_bytes() == before
    assert f"the run {run_dir} is in use by another societas process (process {os.getpid()})" \
        in line
    assert main(["resume", str(run_dir), "--quiet", "--no-figures"]) == 0  # released
    assert "resumed after" in capsys.readouterr().out


@pytest.mark.parametrize(("template", "expected"), [
    ("You play a game, $nobody.", "uses unknown placeholder 'nobody'"),
    ("Costs 5$ a round.", "write $$ for a literal dollar sign"),
])
def test_a_broken_prompt_override_stops_the_run_in_one_line(
    tmp_path: Path, template: str, expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from scenarios.donor_game.scripted_player import scripted_player
    from sim.testing.scripted_server import ScriptedLLMServer

    prompts = tmp_path / "prompts"
    prompts.mkdir()
    (prompts / "rules.txt").write_text(template)
    with ScriptedLLMServer(scripted_player) as server:
        status = main(["run", "donor-game", *RULE_RUN, "--model", "openai/scripted",
                       "--set", f'api_base="{server.url}"', "--set", f'prompts_dir="{prompts}"',
                       "--out", str(tmp_path / "runs")])
    assert status == 2
    line = error_line(capsys)
    assert f"prompt template {prompts / 'rules.txt'}" in line and expected in line


def test_report_out_that_cannot_be_written(
    small_run: tuple[Path, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a_file = tmp_path / "notes.txt"
    a_file.write_text("keep me")
    assert main(["report", str(small_run[0]), "--out", str(a_file / "report.html")]) == 2
    assert error_line(capsys) == f"societas: error: {a_file} is a file, not a directory"
    assert a_file.read_text() == "keep me"
