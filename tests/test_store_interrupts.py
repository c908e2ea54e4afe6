"""Ctrl-C and SIGTERM raise between any two lines of Python, store code included. Whichever
line of a commit one lands on, the run's clean stop (roll back, record the status, commit,
close) must still work and leave a store that says how the run ended: a sweep once reported a
stopped run as failed ('cannot commit - no transaction is active') and carried on."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from sim.store import RunStore


def _lines_of(function) -> range:
    code = function.__code__
    last = max(line for _, _, line in code.co_lines() if line is not None)
    return range(code.co_firstlineno + 1, last + 1)


def _interrupt_at(line: int, names: set[str]):
    """A tracer that raises KeyboardInterrupt the first time `line` of one of `names` runs."""
    fired = [False]

    def local(frame, event, arg):
        if event == "line" and frame.f_lineno == line and not fired[0]:
            fired[0] = True
            raise KeyboardInterrupt
        return local

    def tracer(frame, event, arg):
        if frame.f_code.co_name in names and frame.f_code.co_filename.endswith("store.py"):
            return local
        return None

    return tracer, fired


STORE_LINES = [line for function in (RunStore.commit, RunStore._begin, RunStore._write_queued)
               for line in _lines_of(function)]


@pytest.mark.parametrize("line", STORE_LINES)
def test_a_stop_landing_on_any_line_of_a_commit_still_ends_the_run_cleanly(
        tmp_path: Path, line: int) -> None:
    path = tmp_path / "run.sqlite"
    store = RunStore(path)
    store.define_table("rounds", {"round": "INTEGER", "value": "TEXT"})
    store.insert("rounds", [{"round": 1, "value": "kept"}])
    store.commit()
    store.insert("rounds", [{"round": 2, "value": "maybe"}])
    tracer, fired = _interrupt_at(line, {"commit", "_begin", "_write_queued"})
    sys.settrace(tracer)
    try:
        store.commit()
    except KeyboardInterrupt:
        pass
    finally:
        sys.settrace(None)
    # what the runner does on an interruption
    store.rollback()
    store.set_meta("status", "interrupted")
    store.commit()
    store.close()

    with RunStore(path, read_only=True) as reopened:
        assert reopened.get_meta("status") == "interrupted"
        rounds = [row[0] for row in reopened.rows("SELECT round FROM rounds ORDER BY round")]
    assert rounds[0] == 1 and rounds in ([1], [1, 2]), (fired, rounds)
