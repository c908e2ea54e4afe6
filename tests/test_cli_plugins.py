"""Subcommands other packages add to `societas` (entry point group `societas.commands`).

`analysis` adds `report` and `inspect` this way, so the engine never imports it; a third-party
package can add its own. A plugin is imported only when its subcommand runs (or `--help` lists
them all), cannot replace a built-in subcommand, and its user errors are one line like the
built-ins'.
"""

from __future__ import annotations

import sys
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path

import pytest

import sim.cli.plugins
from sim.cli import main
from sim.cli.commands import BUILT_IN_COMMANDS, build_parser

PLUGIN = '''
from pathlib import Path

from sim.cli.arguments import positive_int
from sim.cli.plugins import Command
from sim.errors import UserError


def arguments(parser):
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--times", type=positive_int, default=1)


def greet(args):
    if not args.run_dir.exists():
        raise UserError(f"no run in {args.run_dir}")
    print("hello " * args.times + str(args.run_dir))
    return 0


GREET = Command(help="greet a run directory", add_arguments=arguments, run=greet)
RUN = Command(help="a plugin that would replace `run`", add_arguments=arguments, run=greet)
'''


@pytest.fixture
def greeter(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A package registering `greet` (and, refused, a second `run`) beside analysis's."""
    module = "societas_test_greeter"
    (tmp_path / f"{module}.py").write_text(PLUGIN, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    registered = (*entry_points(group=sim.cli.plugins.GROUP),
                  EntryPoint("greet", f"{module}:GREET", sim.cli.plugins.GROUP),
                  EntryPoint("run", f"{module}:RUN", sim.cli.plugins.GROUP))
    monkeypatch.setattr(sim.cli.plugins, "entry_points", lambda group: registered)
    yield module
    sys.modules.pop(module, None)


def test_analysis_registers_report_and_inspect() -> None:
    """If this fails, the installed metadata predates the entry points: `pip install -e .`."""
    names = {entry.name: entry.value for entry in entry_points(group=sim.cli.plugins.GROUP)}
    assert names == {"report": "analysis.commands:REPORT", "inspect": "analysis.commands:INSPECT"}
    drawers = [entry.value for entry in entry_points(group="societas.run_figures")]
    assert drawers == ["analysis:draw_run_figures"]


def test_built_in_commands_are_the_parsers_own() -> None:
    """`BUILT_IN_COMMANDS`, which plugins cannot take, is exactly what the parser adds itself."""
    parser = build_parser()
    choices = set(parser._subparsers._group_actions[0].choices)
    assert choices - BUILT_IN_COMMANDS == {"report", "inspect"}
    assert choices >= BUILT_IN_COMMANDS


def test_a_plugin_command_runs_with_its_flags(greeter: str, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["greet", str(tmp_path), "--times", "2"]) == 0
    assert capsys.readouterr().out == f"hello hello {tmp_path}\n"


def test_a_plugin_is_imported_only_when_chosen(greeter: str, monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delitem(sys.modules, "analysis.commands", raising=False)
    assert main(["list"]) == 0
    assert greeter not in sys.modules and "analysis.commands" not in sys.modules
    capsys.readouterr()
    assert main(["--help"]) == 0  # lists every subcommand with its help
    listing = capsys.readouterr().out
    assert "greet a run directory" in listing and "write an HTML report" in listing


def test_a_plugin_cannot_replace_a_built_in(greeter: str, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "no-such-scenario"]) == 2  # the built-in `run`, not the plugin's
    assert "unknown scenario 'no-such-scenario'" in capsys.readouterr().err


def test_plugin_errors_are_one_line_like_the_built_ins(greeter: str, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]
                                                      ) -> None:
    assert main(["greet", str(tmp_path / "missing")]) == 2
    assert capsys.readouterr().err == f"societas: error: no run in {tmp_path / 'missing'}\n"
    assert main(["greet", str(tmp_path), "--times", "0"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "argument --times: expected a whole number >= 1" in err[0]


@pytest.mark.parametrize("bad", ["-1", "0", "x"])
def test_a_count_below_its_bound_is_told_the_bound_the_flag_has(
        bad: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`--workers -1` once said "expected a whole number >= 0", a bound 0 does not meet."""
    out = tmp_path / "s"
    assert main(["sweep", "donor-game", "--workers", bad, "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err == [f"societas: error: sweep: argument --workers: expected a whole number >= 1, "
                   f"got {bad!r} (see societas sweep --help)"]
    assert not out.exists()
