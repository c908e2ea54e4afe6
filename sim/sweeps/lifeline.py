"""Worker processes that do not outlive the process that started them.

A sweep's workers hold run locks, rate-limiter connections and half-finished rounds. If the
sweep's own process is killed (SIGKILL, an out-of-memory kill, a closed terminal), workers that
live on keep starting queued work, hold their runs' locks so that re-running the sweep finds
them "in use", and wait for permits nobody serves. So a worker ties its life to its parent:

- on Linux, the kernel sends it a signal the moment its parent dies (`PR_SET_PDEATHSIG`, set
  through `prctl` with ctypes; no dependency);
- everywhere, a watchdog thread looks at the parent's pid every second and sends the same
  signal itself when the parent is gone (another operating system, or a parent that died
  between the fork and the `prctl`).

The signal is SIGTERM, which a worker in a run turns into the run's clean interruption: the
round in progress is rolled back, the store is closed, and the next invocation resumes it. A
worker that has not exited `grace_s` seconds later is ended with `os._exit`, whatever it is
doing: its last committed round is on disk either way.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import signal
import sys
import threading
import time

__all__ = ["die_with_parent", "parent_alive"]

#: prctl option (linux/prctl.h): the signal to receive when the parent dies.
PR_SET_PDEATHSIG = 1
#: How often the watchdog looks for the parent.
POLL_S = 1.0
#: How long a worker told to stop may take to roll back its round and close its store.
GRACE_S = 10.0


def parent_alive(parent_pid: int) -> bool:
    """Whether the process that started this one is still its parent (an orphan is adopted by
    init or a subreaper, so its parent pid changes)."""
    return os.getppid() == parent_pid


def die_with_parent(parent_pid: int, *, signum: int = signal.SIGTERM, poll_s: float = POLL_S,
                    grace_s: float = GRACE_S) -> None:
    """Make this process receive `signum` when `parent_pid` (its parent) dies, and exit
    `grace_s` seconds later if the signal did not end it. Call it first thing in a worker."""
    _kernel_signal_on_parent_death(signum)
    watchdog = threading.Thread(target=_watch, args=(parent_pid, signum, poll_s, grace_s),
                                name="societas-lifeline", daemon=True)
    watchdog.start()
    if not parent_alive(parent_pid):  # died before the prctl took effect
        os.kill(os.getpid(), signum)


def _kernel_signal_on_parent_death(signum: int) -> None:
    if not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(OSError, AttributeError, TypeError):
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, int(signum), 0, 0, 0)


def _watch(parent_pid: int, signum: int, poll_s: float, grace_s: float) -> None:
    while parent_alive(parent_pid):
        time.sleep(poll_s)
    with contextlib.suppress(OSError):
        os.kill(os.getpid(), signum)
    time.sleep(grace_s)
    os._exit(128 + signum)
