"""Where a sweep's runs execute: this process, a local process pool, or a Ray cluster.

An executor maps `RunSpec`s (plain data) to `RunOutcome`s (plain data), yielding each outcome
as its run ends, in whatever order runs end. That is the whole interface, so an executor that
ships specs to other machines (Ray) needs nothing from the sweep but the specs: every run
writes only its own directory, and the response cache is the run's own, as in `societas run`.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from sim.errors import UserError

if TYPE_CHECKING:
    from sim.llm.ratelimit import RateLimit

STORE_FILENAME = "run.sqlite"  # sim.store's; not imported so that workers start light


@dataclass(frozen=True)
class RunSpec:
    """One run of a sweep as plain data: it pickles and turns into JSON, so it can travel."""

    name: str
    scenario: str
    config: dict[str, Any]  # the resolved, validated config (`model_dump(mode="json")`)
    run_dir: str
    values: dict[str, Any] = field(default_factory=dict)  # the swept values naming the run
    use_cache: bool = True
    replay_only: bool = False
    max_cost_usd: float | None = None
    max_calls: int | None = None
    figures: bool = False
    limiter: str | None = None  # the sweep's shared rate limiter, by address (set at run time)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunSpec:
        return cls(**data)


@dataclass(frozen=True)
class RunOutcome:
    """How one run of a sweep went, as plain data."""

    name: str
    run_dir: str
    status: str  # a RunResult status, or 'skipped' (finished before this sweep started)
    wall_s: float = 0.0
    message: str = ""
    calls: int = 0
    resumed: bool = False


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


def execute_spec(spec: RunSpec, stop_requested: Callable[[], bool] | None = None
                 ) -> RunOutcome:
    """Run (or resume) one spec to its end; never raises for a run that merely went wrong.

    A directory whose store says the run finished is left byte for byte as it is; one with a
    store that stopped early is resumed; anything else starts fresh. `stop_requested`, asked
    at each round, stops the run there, resumably (`RunOptions.stop_requested`).
    """
    from sim.llm.gateway import Budget
    from sim.registry import get_scenario
    from sim.runs.runner import RunOptions, resume_run, run_scenario
    from sim.store_files import peek_meta

    run_dir = Path(spec.run_dir)
    store = run_dir / STORE_FILENAME
    options = RunOptions(
        use_cache=spec.use_cache, replay_only=spec.replay_only, progress=False,
        figures=spec.figures, limiter=spec.limiter, stop_requested=stop_requested,
        budget=Budget(max_cost_usd=spec.max_cost_usd, max_calls=spec.max_calls),
    )
    try:
        if store.is_file() and peek_meta(store, "status") == "finished":
            return RunOutcome(spec.name, spec.run_dir, "skipped")
        if store.is_file() and peek_meta(store, "scenario"):
            result = resume_run(run_dir, options)
            resumed = True
        else:
            if store.is_file():  # killed before it recorded anything: nothing to keep
                store.unlink()
            scenario = get_scenario(spec.scenario)
            config = scenario.config_type.model_validate(spec.config)
            result = run_scenario(scenario, config, run_dir=run_dir, options=options)
            resumed = False
    except (UserError, LookupError, OSError, sqlite3.Error, ValueError) as error:
        return RunOutcome(spec.name, spec.run_dir, "failed", message=_one_line(error))
    except Exception as error:  # a bug or a fatal model error: the other runs go on
        return RunOutcome(spec.name, spec.run_dir, "failed",
                          message=f"{type(error).__name__}: {_one_line(error)}")
    return RunOutcome(spec.name, spec.run_dir, result.status, round(result.wall_s, 3),
                      result.message, result.stats.calls, resumed)


def _one_line(error: BaseException) -> str:
    text = str(error.args[0]) if isinstance(error, LookupError) and error.args else str(error)
    return " ".join(text.split())


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

    The pool is `sim.worker_pool.WorkerPool`: a worker that dies (the out-of-memory killer, a
    `kill -9`) costs only its own run, which is reported through `notice` and started again
    (resumed from its last committed round) up to `retries` times; the other runs go on.
    Workers die with the sweep's process (`sim.lifeline`). An idle worker ignores Ctrl-C; a
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
        from sim.worker_pool import Lost, WorkerPool

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
                said = f"resumed after {_deaths(event.deaths)}"
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
        from sim.ray_executor import RayExecutor

        return RayExecutor(address=address, retries=retries)
    raise UserError(f"unknown executor {name!r} (available: {', '.join(EXECUTORS)})")
