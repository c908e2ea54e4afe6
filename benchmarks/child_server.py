"""The scripted model server in a child process, for benchmarks that must not count its CPU
as their own (`python -m sim.testing`, stopped when the block ends)."""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Iterator


@contextlib.contextmanager
def child_server(*arguments: str) -> Iterator[tuple[str, int]]:
    """(the server's api_base URL, its process id) while the block runs; `arguments` are
    `python -m sim.testing`'s (`--player donor-game`, `--delay 0.05`, `--reply TEXT`)."""
    server = subprocess.Popen([sys.executable, "-m", "sim.testing", *arguments],
                              stdout=subprocess.PIPE, text=True)
    try:
        line = server.stdout.readline() if server.stdout else ""
        if " at " not in line:
            raise SystemExit(f"the scripted server did not start: {line!r}")
        yield line.split(" at ", 1)[1].split(" ", 1)[0], server.pid
    finally:
        server.terminate()
        server.wait(timeout=10)
