"""One writer per run directory: an exclusive `flock` on `RUN_DIR/run.lock`.

Two processes resuming (or running into) the same directory would each re-execute the run and
write the same rounds, and the second to commit would crash on the first's checkpoints. The lock
is taken before the store is opened and held until the run has closed it. `flock` locks belong
to the open file, so the kernel drops them when the process exits however it exits: a lock left
by a killed run is never stale, and the file itself is left in place (deleting it would let two
processes lock two different files of the same name).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from sim.errors import UserError

LOCK_FILENAME = "run.lock"

try:
    import fcntl
except ImportError:  # not POSIX: runs are not protected against a second writer
    fcntl = None  # type: ignore[assignment]


class RunLocked(UserError):
    """Another process is running or resuming this run right now."""


@contextlib.contextmanager
def run_lock(run_dir: Path) -> Iterator[None]:
    """Hold the run directory's lock for the duration of the block, or raise `RunLocked`."""
    if fcntl is None:
        yield
        return
    path = run_dir / LOCK_FILENAME
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
            who = f" (process {holder})" if holder.isdigit() else ""
            raise RunLocked(
                f"the run {run_dir} is in use by another societas process{who}; "
                "wait for it to finish or stop it, then try again"
            ) from None
        # For the message above only: the lock, not the file's content, is what excludes.
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
        try:
            yield
        finally:
            os.ftruncate(fd, 0)
    finally:
        os.close(fd)  # releases the lock
