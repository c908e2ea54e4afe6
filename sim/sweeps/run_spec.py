"""One run of a sweep as plain data (`RunSpec`), how it went (`RunOutcome`), and running it.

A spec pickles and turns into JSON, so it can travel to a worker process or a Ray node;
`execute_spec` is what runs there: it starts, resumes or skips the run its spec names and
always comes back with an outcome. Every executor (`sim.sweeps.executors`,
`sim.sweeps.ray_executor`) and `sim.sweeps.run_transfer` build on this module and on nothing of
each other, which keeps the sweep's modules free of import cycles.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from sim.errors import UserError

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


def as_finished(outcome: RunOutcome) -> RunOutcome:
    """A 'skipped' outcome the sweep did not skip itself: the run finished while the sweep
    ran (its worker died after the store said so, before the outcome came back), so it is
    'finished', with the wall time its store's timestamps give (to the second)."""
    from datetime import datetime

    from sim.store_files import peek_meta

    store = Path(outcome.run_dir) / STORE_FILENAME
    try:
        times = [datetime.fromisoformat(peek_meta(store, key) or "")
                 for key in ("started_at", "finished_at")]
        wall_s = max(0.0, (times[1] - times[0]).total_seconds())
    except ValueError:
        wall_s = outcome.wall_s
    return replace(outcome, status="finished", wall_s=wall_s)


def _one_line(error: BaseException) -> str:
    text = str(error.args[0]) if isinstance(error, LookupError) and error.args else str(error)
    return " ".join(text.split())
