"""The command line of the view: `societas view RUN_DIR` and `societas run|resume --view`.

Both start `analysis.viewer` as a child process (`sim.cli.view_process`); this module holds their
flags and what the command does around the child: wait for Ctrl-C, and never leave the view behind.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from sim.cli.arguments import port_number
from sim.cli.view_process import (
    DEFAULT_PORT,
    LOOPBACK,
    ViewAlongside,
    start_viewer,
    stop_viewer,
    view_command,
)
from sim.errors import UserError
from sim.store import STORE_FILENAME

if TYPE_CHECKING:
    from sim.runs.runner import RunOptions


def add_view_parser(commands: argparse._SubParsersAction) -> None:
    """`societas view RUN_DIR [--port] [--host] [--no-browser]`."""
    view = commands.add_parser(
        "view", help="watch a run in the browser: replay a finished run, follow a running one "
        "(needs the 'view' extra)"
    )
    view.add_argument("run_dir", type=Path, metavar="RUN_DIR",
                      help="a run directory, or a directory of runs (runs/, a sweep) to list")
    view.add_argument("--port", type=port_number, default=DEFAULT_PORT,
                      help=f"port to serve on (default {DEFAULT_PORT}; 0: any free port)")
    view.add_argument("--host", default=LOOPBACK,
                      help=f"address to serve on (default {LOOPBACK}, this machine only); "
                      "another address exposes the run to the network")
    view.add_argument("--no-browser", action="store_true",
                      help="print the address only, do not open a browser")


def add_view_options(parser: argparse.ArgumentParser) -> None:
    """`--view`, `--view-port`, `--no-browser` of `societas run` and `resume`."""
    parser.add_argument("--view", action="store_true",
                        help="serve the live view of the run in the browser while it runs "
                        "(as societas view; needs the 'view' extra), and keep it open after "
                        "the run until Ctrl-C")
    parser.add_argument("--view-port", type=port_number, default=None, metavar="PORT",
                        help=f"with --view: the view's port (default {DEFAULT_PORT}; 0: any "
                        "free port)")
    parser.add_argument("--no-browser", action="store_true",
                        help="with --view: print the view's address, do not open a browser")


def view_command_main(args: argparse.Namespace) -> int:
    """`societas view`: the view's process in the foreground until Ctrl-C; its exit status."""
    run_dir = args.run_dir
    if run_dir.is_file():
        raise UserError(f"{run_dir} is a file: give the run's directory"
                        + (f" ({run_dir.parent})" if run_dir.name == STORE_FILENAME else ""))
    if not (run_dir / STORE_FILENAME).is_file() and not any(run_dir.glob(f"*/{STORE_FILENAME}")):
        raise UserError(f"{run_dir} is not a run directory (no {STORE_FILENAME} in it) nor a "
                        "directory of runs")
    child = start_viewer(view_command(args.run_dir, host=args.host, port=args.port,
                                      browser=not args.no_browser))
    try:
        return child.wait()
    except KeyboardInterrupt:
        return 0
    finally:
        stop_viewer(child)


def viewer_for(args: argparse.Namespace) -> ViewAlongside | None:
    """The view to start beside `societas run|resume`, if `--view` asked for one (refused in
    one line before the run when the extra is missing)."""
    if not args.view:
        if args.view_port is not None or args.no_browser:
            raise UserError("--view-port and --no-browser go with --view")
        return None
    return ViewAlongside(port=DEFAULT_PORT if args.view_port is None else args.view_port,
                         browser=not args.no_browser)


def run_with_view(options: RunOptions, run: Callable[[], int]) -> int:
    """Run; with a view (`options.on_start`, from `viewer_for`), keep serving it after the run
    until Ctrl-C, and stop it whatever happens."""
    viewer = options.on_start
    if not isinstance(viewer, ViewAlongside):
        return run()
    try:
        code = run()
    except BaseException:
        viewer.stop()
        raise
    viewer.linger()
    return code
