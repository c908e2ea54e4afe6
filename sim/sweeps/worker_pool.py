"""A pool of worker processes that survives the death of any of them.

`concurrent.futures.ProcessPoolExecutor` treats one dead worker as the death of the whole pool:
every job in flight fails with `BrokenProcessPool`, the survivors are sent SIGTERM, and a job
cannot be told apart from its neighbours. On a long sweep the out-of-memory killer takes one
worker now and then, and the rest of the sweep must go on. So this pool keeps one pipe per
worker and knows which job each worker holds:

- a worker that dies (its process sentinel fires, or its pipe closes) costs only its own job,
  which is started again, up to `retries` times, on a worker started to replace it; every death
  is reported through `notice` as it happens;
- every wait has a timeout (1 s slices, watching the workers' sentinels), so nothing blocks on
  a dead worker;
- workers die with the pool's process (`sim.sweeps.lifeline`), take jobs one at a time (none is
  queued in a pipe for a worker that is gone), ignore Ctrl-C while idle, and turn SIGINT/SIGTERM in
  a job into a `KeyboardInterrupt`/`Terminated` the job handles (a run's clean, resumable stop); an
  idle worker told to stop simply exits. No handler is inherited from the parent.

Workers are forked from a single-threaded parent on Linux (they start with its imports) and
spawned otherwise; a replacement is spawned when the parent has threads by then (the sweep's
limiter and live view), since forking a process with threads can copy a lock some other thread
holds. A forked worker closes the pipes of the other workers it inherited, so a pipe's end of
file always means its own parent end is gone.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import sys
import threading
import traceback
import warnings
import weakref
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from typing import Any

from sim.errors import Terminated
from sim.sweeps.lifeline import die_with_parent

__all__ = ["Finished", "Lost", "WorkerPool", "describe_exit"]

#: Longest single wait of the dispatcher: it looks at every worker's sentinel this often.
WAIT_S = 1.0
#: How long a worker asked to stop may take before it is terminated, then killed.
STOP_TIMEOUT_S = 5.0


@dataclass
class Finished:
    """Job `index` came back with `result`; `deaths` says how earlier workers holding it died."""

    index: int
    result: Any
    deaths: list[str] = field(default_factory=list)


@dataclass
class Lost:
    """Job `index` lost its worker more often than the pool may retry it."""

    index: int
    deaths: list[str]


@dataclass
class _Worker:
    process: Any  # multiprocessing.process.BaseProcess
    conn: Connection
    job: int | None = None


#: The pool's ends of every worker's pipe in this process; a forked child closes them all.
_parent_ends: weakref.WeakSet[Connection] = weakref.WeakSet()


def _close_inherited_ends() -> None:
    for conn in list(_parent_ends):
        with contextlib.suppress(OSError):
            conn.close()
    _parent_ends.clear()


os.register_at_fork(after_in_child=_close_inherited_ends)


class WorkerPool:
    """Runs `work(job)` for each job on `size` worker processes; see the module docstring."""

    def __init__(self, work: Callable[[Any], Any], size: int, *, retries: int = 1,
                 notice: Callable[[str], None] | None = None,
                 on_started: Sequence[Callable[[], None]] = ()) -> None:
        self.work = work
        self.size = max(1, size)
        self.retries = max(0, retries)
        self.notice = notice or (lambda text: None)
        #: Called once the first workers exist (the parent may start threads from then on).
        self.on_started = list(on_started)

    def run(self, jobs: Sequence[Any], labels: Sequence[str] | None = None
            ) -> Iterator[Finished | Lost]:
        """Yield each job's `Finished` (or `Lost`) as it ends, in whatever order jobs end."""
        if not jobs:
            return
        labels = list(labels) if labels is not None else [f"job {i + 1}" for i in range(len(jobs))]
        queue = deque(range(len(jobs)))
        deaths: list[list[str]] = [[] for _ in jobs]
        workers: list[_Worker] = []
        try:
            workers += [self._start() for _ in range(min(self.size, len(jobs)))]
            for start in self.on_started:
                start()
            while queue or any(w.job is not None for w in workers):
                while len(workers) < min(self.size, len(queue) + _busy(workers)):
                    workers.append(self._start())  # replacing a worker that died
                for worker in workers:
                    if worker.job is None and queue:
                        worker.job = queue.popleft()
                        with contextlib.suppress(OSError):  # died meanwhile: see its sentinel
                            worker.conn.send(jobs[worker.job])
                for index, result in self._collect(workers, deaths, labels, queue):
                    if isinstance(result, _Lost):
                        yield Lost(index, deaths[index])
                    else:
                        yield Finished(index, result, deaths[index])
        finally:
            self._shutdown(workers)

    def _collect(self, workers: list[_Worker], deaths: list[list[str]], labels: Sequence[str],
                 queue: deque[int]) -> list[tuple[int, Any]]:
        """Wait (at most `WAIT_S`) for results and deaths; requeue jobs whose worker died."""
        ended: list[tuple[int, Any]] = []
        waiting = [w.conn for w in workers if w.job is not None]
        ready = set(wait(waiting + [w.process.sentinel for w in workers], timeout=WAIT_S))
        for worker in list(workers):
            if worker.job is not None and worker.conn in ready:
                with contextlib.suppress(EOFError, OSError):
                    kind, value = worker.conn.recv()
                    index, worker.job = worker.job, None
                    if kind == "ok":
                        ended.append((index, value))
                        continue
                    # The job raised in the worker (which stays): retried like a death.
                    ended += self._lost_worker(index, f"raised {value}", deaths, labels, queue)
                    continue
            closed = worker.conn in ready and worker.job is not None  # end of file: gone
            if worker.process.sentinel in ready or closed:
                self._forget(worker, workers)
                if worker.job is not None:
                    reason = describe_exit(worker.process)
                    ended += self._lost_worker(worker.job, reason, deaths, labels, queue)
        return ended

    def _lost_worker(self, index: int, reason: str, deaths: list[list[str]],
                     labels: Sequence[str], queue: deque[int]) -> list[tuple[int, Any]]:
        deaths[index].append(reason)
        tries = len(deaths[index])
        if tries <= self.retries:
            self.notice(f"the worker running {labels[index]} {reason}; starting it again "
                        f"(retry {tries} of {self.retries})")
            queue.appendleft(index)
            return []
        self.notice(f"the worker running {labels[index]} {reason}; giving up on it after "
                    f"{tries} attempt{'s' if tries > 1 else ''}")
        return [(index, _Lost())]

    def _start(self) -> _Worker:
        context = multiprocessing.get_context(_start_method())
        parent_end, child_end = context.Pipe(duplex=True)
        _parent_ends.add(parent_end)
        process = context.Process(target=_worker_main, args=(child_end, self.work, os.getpid()),
                                  name="societas-worker", daemon=False)
        with warnings.catch_warnings():
            # Python warns at any fork of a process with OS threads; ours, when it forks, are
            # OpenBLAS's (numpy's, scipy's), which re-initialise after a fork.
            warnings.filterwarnings("ignore", message=".*use of fork\\(\\) may lead",
                                    category=DeprecationWarning)
            process.start()
        child_end.close()
        return _Worker(process, parent_end)

    @staticmethod
    def _forget(worker: _Worker, workers: list[_Worker]) -> None:
        workers.remove(worker)
        _stop(worker)

    def _shutdown(self, workers: list[_Worker]) -> None:
        """Let busy workers finish their jobs (a run stopped by Ctrl-C does so at its next
        round boundary), then stop every worker; nothing waits without a timeout."""
        for worker in workers:
            if worker.job is None:
                with contextlib.suppress(OSError):
                    worker.conn.send(None)
        busy = [w for w in workers if w.job is not None]
        while busy:
            ready = set(wait([w.conn for w in busy] + [w.process.sentinel for w in busy],
                             timeout=WAIT_S))
            for worker in list(busy):
                if worker.conn in ready or worker.process.sentinel in ready:
                    with contextlib.suppress(EOFError, OSError):
                        worker.conn.recv()  # the job's result: its store already has it
                        worker.conn.send(None)
                    busy.remove(worker)
        for worker in workers:
            _stop(worker)


def _busy(workers: list[_Worker]) -> int:
    return sum(w.job is not None for w in workers)


def _stop(worker: _Worker) -> None:
    """Join a worker that was asked to stop (or died), terminating it if it does not."""
    process = worker.process
    process.join(STOP_TIMEOUT_S)
    if process.is_alive():
        process.terminate()
        process.join(STOP_TIMEOUT_S)
    if process.is_alive():
        process.kill()
        process.join(STOP_TIMEOUT_S)
    with contextlib.suppress(OSError):
        worker.conn.close()
    _parent_ends.discard(worker.conn)


def describe_exit(process: Any) -> str:
    """How a worker process ended, in words: 'was killed by SIGKILL (...)' or 'exited (3)'."""
    process.join(STOP_TIMEOUT_S)
    code = process.exitcode
    if code is None:
        return "stopped answering"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        hint = " (as the out-of-memory killer does)" if -code == signal.SIGKILL else ""
        return f"was killed by {name}{hint}"
    return f"exited with status {code}"


class _Lost:
    """Marks a job given up on, among the results `_collect` returns."""


def _start_method() -> str:
    if sys.platform == "linux" and threading.active_count() == 1:
        return "fork"
    return "spawn"


# -- in the worker ---------------------------------------------------------------------------


def _worker_main(conn: Connection, work: Callable[[Any], Any], parent_pid: int) -> None:
    die_with_parent(parent_pid)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # an idle worker ignores Ctrl-C
    signal.signal(signal.SIGTERM, _exit_idle)
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return  # the pool is gone
        if job is None:
            return
        reply = _run_job(work, job)
        try:
            conn.send(reply)
        except (OSError, ValueError):
            return


def _run_job(work: Callable[[Any], Any], job: Any) -> tuple[str, Any]:
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _terminate_job)
    try:
        return "ok", work(job)
    except BaseException as error:  # reported to the pool, which retries the job
        last = traceback.extract_tb(error.__traceback__)[-1:] or None
        where = f" at {last[0].filename}:{last[0].lineno}" if last else ""
        return "raised", f"{type(error).__name__}: {error}{where}"
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, _exit_idle)


def _terminate_job(signum: int, frame: object) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # once is enough: let the job clean up
    raise Terminated


def _exit_idle(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)
