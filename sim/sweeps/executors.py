"""Where a sweep's runs execute: this process, a local process pool, or a Ray cluster.

An executor maps `RunSpec`s to `RunOutcome`s (plain data, `sim.sweeps.run_spec`), yielding each
outcome as its run ends, in whatever order runs end. That is the whole interface, so an executor
that ships specs to other machines (Ray) needs nothing from the sweep but the specs: every run
writes only its own directory, and the response cache is the run's own, as in `societas run`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Protocol

from sim.errors import UserError
from sim.sweeps.run_spec import (  # the plain data executors map; importable here as before
    RunOutcome,
    RunSpec,
    execute_spec,
)

if TYPE_CHECKING:
    from sim.llm.ratelimit import RateLimit


class Executor(Protocol):
    """Runs specs and yields their outcomes as the runs end (in any order).

    An executor may also define `limiter_service(limit)`, a context manager giving the shared
    rate limiter its runs reach (`address`, `stats()`); without one, the sweep serves a
    limiter on this machine's loopback (`sim.llm.limiter_service`).
    """

    def map(self, specs: Sequence[RunSpec]) -> Iterator[RunOutcome]: ...


class InProcessLimiter:
    """A limiter core the runs of this process use directly: no socket, no thread."""

    def __init__(self, limit: RateLimit | None = None) -> None:
        from sim.llm.limiter_service import register_local
        from sim.llm.ratelimit import LimiterCore

        self.core = LimiterCore(limit)
        self.address = register_local(self.core)

    def stats(self) -> dict[str, Any]:
        return self.core.stats()

    def serve(self) -> None:
        """Nothing to start: the runs of this process call the core directly."""

    def __enter__(self) -> InProcessLimiter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        from sim.llm.limiter_service import unregister

        unregister(self.address)


def limiter_service(executor: Executor, limit: RateLimit | None) -> Any:
    """The executor's shared limiter (a context manager), or one on this machine's loopback."""
    own = getattr(executor, "limiter_service", None)
    if own is not None:
        return own(limit)
    from sim.llm.limiter_service import LimiterService

    return LimiterService(limit)


def when_started(runner: Executor, starters: list[Callable[[], None]]) -> None:
    """Start the sweep's threads (limiter, live view) now, or, on a pool that forks, once its
    workers are forked: a thread running at a fork could hold a lock the child inherits."""
    if isinstance(runner, PoolExecutor):
        runner.on_started = starters
    else:
        for start in starters:
            start()


class InlineExecutor:
    """Runs one spec after another in this process: no start-up cost, easy to debug."""

    def map(self, specs: Sequence[RunSpec]) -> Iterator[RunOutcome]:
        for spec in specs:
            yield execute_spec(spec)

    def limiter_service(self, limit: RateLimit | None) -> InProcessLimiter:
        return InProcessLimiter(limit)


class PoolExecutor:
    """Runs specs in a pool of local worker processes, one run per worker at a time.

    The pool is `sim.sweeps.worker_pool.WorkerPool`: a worker that dies (the out-of-memory killer, a
    `kill -9`) costs only its own run, which is reported through `notice` and started again
    (resumed from its last committed round) up to `retries` times; the other runs go on.
    Workers die with the sweep's process (`sim.sweeps.lifeline`). An idle worker ignores Ctrl-C; a
    worker in a run turns Ctrl-C or SIGTERM into the run's clean, resumable interruption,
    like `societas run`.
    """

    def __init__(self, workers: int | None = None, *, retries: int = 1) -> None:
        self.workers = max(1, workers or os.cpu_count() or 1)
        self.retries = retries
        #: Called once the workers exist (`when_started`).
        self.on_started: list[Callable[[], None]] = []
        #: Told of every worker that died, as it happens (the sweep prints it).
        self.notice: Callable[[str], None] | None = None

    def map(self, specs: Sequence[RunSpec]) -> Iterator[RunOutcome]:
        from sim.sweeps.worker_pool import Lost, WorkerPool

        pool = WorkerPool(execute_spec, self.workers, retries=self.retries,
                          notice=self.notice, on_started=self.on_started)
        for event in pool.run(specs, [spec.name for spec in specs]):
            spec = specs[event.index]
            if isinstance(event, Lost):
                yield RunOutcome(spec.name, spec.run_dir, "failed", message=(
                    f"{_deaths(event.deaths)}; re-run the sweep to resume it"))
                continue
            outcome = event.result
            if event.deaths:  # ended on a later try: say what happened before
                said = (f"finished before {_deaths(event.deaths)}" if outcome.status == "skipped"
                        else f"resumed after {_deaths(event.deaths)}")
                outcome = replace(outcome, message=f"{outcome.message}; {said}"
                                  if outcome.message else said)
            yield outcome


def _deaths(reasons: list[str]) -> str:
    if len(reasons) == 1:
        return f"its worker {reasons[0]}"
    return f"its worker died {len(reasons)} times ({'; '.join(reasons)})"


EXECUTORS = ("inline", "pool", "ray")


def make_executor(name: str | Executor = "pool", workers: int | None = None, *,
                  address: str | None = None, retries: int = 1) -> Executor:
    """An executor by name ('inline', 'pool' or 'ray'), or the executor object given.
    `retries`: how often a run whose worker (or node) died is started again."""
    if not isinstance(name, str):
        return name
    if name == "inline":
        return InlineExecutor()
    if name == "pool":
        return PoolExecutor(workers, retries=retries)
    if name == "ray":
        from sim.sweeps.ray_executor import RayExecutor

        return RayExecutor(address=address, retries=retries)
    raise UserError(f"unknown executor {name!r} (available: {', '.join(EXECUTORS)})")
