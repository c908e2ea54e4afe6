"""Starting `societas view`: the browser view of a run, as a program of its own.

The view lives in `analysis.viewer` (it reads runs as analysis does) and needs the optional
`view` extra (Solara). The engine never imports it: the CLI starts it as a child process
(`python -m analysis.viewer RUN_DIR ...`), which keeps the dependency one-way and has a second
virtue for `societas run --view`: the view's reads and page rendering run on another core and
under another interpreter lock, so watching a run cannot slow it down.
"""

from __future__ import annotations

import ctypes
import importlib.util
import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from sim.errors import UserError

#: What the view needs beyond the engine; their absence is one line, not a traceback.
VIEW_MODULES = ("solara", "solara_assets")
VIEW_HINT = "pip install 'societas[view]'"
#: The view's module, started as `python -m VIEW_MODULE`.
VIEW_MODULE = "analysis.viewer"
DEFAULT_PORT = 8765
LOOPBACK = "127.0.0.1"
_PR_SET_PDEATHSIG = 1


def missing_view_extra() -> str | None:
    """The one-line error when the `view` extra is not installed, else None."""
    absent = [name for name in VIEW_MODULES if importlib.util.find_spec(name) is None]
    if not absent:
        return None
    return (f"the view needs the 'view' extra ({', '.join(absent)} not installed): "
            f"{VIEW_HINT}")


def view_command(run_dir: Path, *, host: str = LOOPBACK, port: int = DEFAULT_PORT,
                 browser: bool = True) -> list[str]:
    """The command line that serves the view of `run_dir`."""
    command = [sys.executable, "-m", VIEW_MODULE, str(run_dir), "--host", host,
               "--port", str(port)]
    return command if browser else [*command, "--no-browser"]


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    """Linux: the child gets SIGTERM when its parent dies, however the parent ends."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        pass


def start_viewer(command: Sequence[str]) -> subprocess.Popen[bytes]:
    """Start the view as a child process that ends with this one (never an orphan server)."""
    error = missing_view_extra()
    if error is not None:
        raise UserError(error)
    return subprocess.Popen(list(command), stdin=subprocess.DEVNULL,
                            preexec_fn=_die_with_parent if sys.platform == "linux" else None)


def stop_viewer(child: subprocess.Popen[bytes], timeout_s: float = 5.0) -> None:
    """End the view's process: SIGTERM, then SIGKILL if it has not gone in `timeout_s`."""
    if child.poll() is not None:
        return
    child.terminate()
    try:
        child.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait(timeout=timeout_s)


class ViewAlongside:
    """`societas run --view`: serves the view of the run as soon as its store exists, and once
    the run has ended keeps serving it (the replay) until Ctrl-C."""

    def __init__(self, *, host: str = LOOPBACK, port: int = DEFAULT_PORT, browser: bool = True):
        error = missing_view_extra()
        if error is not None:  # refuse before the run starts, not after
            raise UserError(error)
        self.host, self.port, self.browser = host, port, browser
        self.child: subprocess.Popen[bytes] | None = None

    def __call__(self, run_dir: Path) -> None:
        self.child = start_viewer(view_command(run_dir, host=self.host, port=self.port,
                                               browser=self.browser))

    def linger(self) -> None:
        """After the run: wait for Ctrl-C (or the view's own end), then stop the view."""
        if self.child is None:
            return
        try:
            if self.child.poll() is None:
                print("societas: the run has ended; its view stays open until Ctrl-C",
                      file=sys.stderr, flush=True)
                self.child.wait()
        except KeyboardInterrupt:
            pass
        finally:
            self.stop()

    def stop(self) -> None:
        if self.child is not None:
            stop_viewer(self.child)
