"""`societas report` and `societas inspect`: the subcommands of a reader of runs.

They are `analysis`'s, so the engine's command line finds them as plugins (the entry point
group `societas.commands`, see `sim.cli.plugins` and `pyproject.toml`) instead of importing
`analysis`: the engine writes runs and never imports what reads them. This module imports only
the engine's argument helpers; the reading (pandas, matplotlib) is imported when a command runs.
"""

from __future__ import annotations

import argparse
import contextlib
from pathlib import Path

from sim.cli.arguments import positive_int
from sim.cli.plugins import Command
from sim.errors import UserError


def _report_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", type=Path, nargs="+", metavar="RUN_DIR",
                        help="a run directory, or a sweep directory for all its runs")
    parser.add_argument("--out", type=Path, help="report file (.html) or directory "
                        "(default: RUN_DIR/report.html; several runs: their parent directory)")


def _report(args: argparse.Namespace) -> int:
    """Redraw every run's figures, then write one report of them all."""
    from analysis import draw_run_figures
    from analysis.report import write_report
    from analysis.run import load
    from analysis.scenario import distinct_names
    from analysis.sweep import expand_sweeps

    run_dirs = expand_sweeps(args.run_dir)  # a sweep directory stands for its runs
    if not run_dirs:
        raise UserError("no runs to report: the sweep has not started any run yet")
    runs = [load(run_dir) for run_dir in run_dirs]
    distinct_names(runs)
    with contextlib.ExitStack() as reading:  # each table read once, for figures and report
        for run in runs:
            reading.enter_context(run.cached())
        for run in runs:
            drawn = draw_run_figures(run)
            if not drawn:
                print(f"scenario {run.scenario or '(unnamed)'} declares no figures")
            for path in drawn:
                print(f"figure: {path}")
        print(f"report: {write_report(runs, args.out)}")
    return 0


def _inspect_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--agent", required=True, metavar="ID", help="agent id, e.g. g3-a07")
    parser.add_argument("--limit", type=positive_int, default=50,
                        help="memories shown per kind")


def _inspect(args: argparse.Namespace) -> int:
    from analysis.inspect import describe_agent

    print(describe_agent(args.run_dir, args.agent, limit=args.limit))
    return 0


REPORT = Command(
    help="write an HTML report of one or more runs or sweeps (and redraw their figures)",
    add_arguments=_report_arguments, run=_report)
INSPECT = Command(
    help="an agent's memories, reflections (with evidence) and ancestry",
    add_arguments=_inspect_arguments, run=_inspect)
