"""The live view: what its line says, plain lines in a log, a bar in a notebook, nothing when
quiet."""

from __future__ import annotations

import io
import re
import sys
import types
from pathlib import Path
from typing import Any

import pytest

from sim.cli import main
from sim.runs.live import LiveView, Snapshot, TerminalSink, format_line, make_sink

#: One line of a sweep's live view in a log.
SWEEP_LINE = re.compile(
    r"^sweep \d+/\d+ runs(, \d+ not finished)? \| (\d+ calls in flight, \d+\.\d calls/s, "
    r"\d+ calls, \$\d+\.\d{4}|no model calls) \| \d+(s|m\d\ds|h\d\dm) elapsed, "
    r"(ETA (-|\S+)|done)$")


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_the_line_says_runs_calls_cost_and_eta() -> None:
    line = format_line(Snapshot(done=3, total=8, failed=1, in_flight=4, calls=120,
                                calls_per_s=2.5, cost_usd=0.01234, elapsed_s=75, eta_s=125))
    assert line == ("sweep 3/8 runs, 1 not finished | 4 calls in flight, 2.5 calls/s, "
                    "120 calls, $0.0123 | 1m15s elapsed, ETA 2m05s")
    assert format_line(Snapshot(done=8, total=8, elapsed_s=4000)).endswith("1h06m elapsed, done")
    assert format_line(Snapshot(done=5, total=40, unit="generation 2")).startswith(
        "generation 2 (step 5/40) | no model calls |")


def test_in_a_log_each_event_is_a_line_with_calls_per_second_from_the_meter() -> None:
    clock, stats = Clock(), {"calls": 0, "answered": 0, "in_flight": 0, "cost_usd": 0.0}
    stream = io.StringIO()  # not a terminal: plain lines, no carriage returns
    view = LiveView(4, TerminalSink(stream), meter=lambda: dict(stats), clock=clock)
    view.advance(0, event=True)
    clock.now = 2.0
    stats.update(calls=12, answered=10, in_flight=2, cost_usd=0.5)
    view.advance(1, ran=1)
    clock.now = 4.0
    stats.update(calls=20, answered=20, in_flight=0)
    view.advance(4, ran=4, failed=1)
    view.finish()
    lines = stream.getvalue().splitlines()
    assert "\r" not in stream.getvalue() and len(lines) == 3
    assert all(SWEEP_LINE.match(line) for line in lines), lines
    assert lines[1] == ("sweep 1/4 runs | 2 calls in flight, 5.0 calls/s, 12 calls, $0.5000 | "
                        "2s elapsed, ETA 6s")
    assert lines[2].startswith("sweep 4/4 runs, 1 not finished | 0 calls in flight, 5.0 calls/s")
    assert lines[2].endswith("done")


def test_on_a_terminal_the_line_is_redrawn_in_place() -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    stream, clock = Terminal(), Clock()
    view = LiveView(2, make_sink("terminal", stream), clock=clock)
    view.advance(1, ran=1, failed=1)
    clock.now = 1.0
    view.advance(2, ran=2, failed=1)
    view.finish()
    text = stream.getvalue()
    assert text.startswith("\rsweep 1/2 runs, 1 not finished |") and text.endswith("done\n")
    assert text.count("\r") == 3 and "\n" not in text[:-1]  # the final redraw, then one newline


def test_a_notebook_gets_a_bar_redrawn_in_place(monkeypatch: pytest.MonkeyPatch) -> None:
    shown: list[Any] = []

    class Handle:
        def update(self, data: dict, raw: bool) -> None:
            shown.append(data["text/plain"])

    display = types.ModuleType("IPython.display")
    display.display = lambda *args, **kwargs: Handle()  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "IPython.display", display)
    monkeypatch.setitem(sys.modules, "ipywidgets", None)  # the text bar, without widgets
    view = LiveView(4, make_sink("notebook"))
    view.advance(2, ran=2)
    view.finish()
    assert len(shown) == 2 and shown[0].startswith("█" * 15 + "·" * 15 + " sweep 2/4 runs")


def test_the_cli_sweep_prints_live_lines_to_a_log_and_nothing_when_quiet(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["sweep", "donor-game", "--seeds", "0..1", "--set", "agents=4", "--set",
            "generations=1", "--executor", "inline", "--rate-limit", "concurrent=4"]
    assert main([*args, "--out", str(tmp_path / "a")]) == 0
    lines = capsys.readouterr().err.splitlines()
    # One line a run (and one every 10 s on a slow machine).
    assert len(lines) >= 2 and all(SWEEP_LINE.match(line) for line in lines), lines
    assert lines[-1].startswith("sweep 2/2 runs | no model calls |")
    assert main([*args, "--out", str(tmp_path / "b"), "--quiet"]) == 0
    assert capsys.readouterr().err == ""
    with pytest.raises(ValueError):
        make_sink("sometimes")
