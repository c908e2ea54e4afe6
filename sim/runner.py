"""One run, start to finish: config → run directory → world → store → summary → figures.

A run can stop early in four clean ways, each leaving every finished round committed: a fatal
model error, Ctrl-C, its budget, or a provider down for longer than its patience. `resume_run`
continues it by re-executing the run from the start in the store's catch-up mode (see
`RunStore`): the model calls of committed rounds are answered from the store's own `llm_calls`
and those of the interrupted round from the run's response cache, so a resumed run ends with the
same store as one that was never interrupted.
"""

from __future__ import annotations

import json
import platform
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sim.cache import CACHE_FILENAME, ResponseCache
from sim.config import RunConfig, to_toml
from sim.gateway import Budget, BudgetExhausted, Gateway, GatewayStats
from sim.llm_client import ProviderDown
from sim.progress import Progress
from sim.registry import Scenario, get_scenario
from sim.store import STORE_FILENAME, RunStore
from sim.world import World

CONFIG_JSON = "config.json"
CONFIG_TOML = "config.toml"


@dataclass
class RunOptions:
    """How to run, as opposed to what to simulate (which is the config)."""

    use_cache: bool = True
    cache_path: Path | None = None  # None: the run directory's own (RUN_DIR/responses.sqlite)
    replay_only: bool = False  # fail at the first call the cache cannot answer
    budget: Budget = field(default_factory=Budget)
    progress: bool = True
    figures: bool = True


@dataclass
class RunResult:
    """What a run left behind and how it went."""

    run_dir: Path
    status: str  # 'finished' | 'failed' | 'interrupted' | 'budget' | 'provider_down'
    stats: GatewayStats
    wall_s: float
    figures: list[Path]
    summary: tuple[list[str], list[list[Any]]] | None
    message: str = ""  # why it stopped early, for the user
    replayed_checkpoints: int = 0


def new_run_dir(out: str | Path, scenario: Scenario, seed: int) -> Path:
    """A fresh, sortable directory name: runs/donor-game-20261125-080102-s0."""
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    base = Path(out) / f"{scenario.name}-{stamp}-s{seed}"
    candidate, n = base, 1
    while candidate.exists():
        n += 1
        candidate = base.with_name(f"{base.name}-{n}")
    return candidate


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def run_scenario(
    scenario: Scenario,
    config: RunConfig,
    *,
    out: str | Path = "runs",
    run_dir: str | Path | None = None,
    options: RunOptions | None = None,
    progress: bool | None = None,
    figures: bool | None = None,
) -> RunResult:
    """Run `scenario` with `config`; everything the run produces goes under one directory."""
    options = _with_flags(options, progress, figures)
    run_dir = Path(run_dir) if run_dir is not None else new_run_dir(out, scenario, config.seed)
    run_dir.mkdir(parents=True, exist_ok=True)
    resolved = config.model_dump(mode="json")
    (run_dir / CONFIG_JSON).write_text(json.dumps(resolved, indent=2, sort_keys=True) + "\n")
    (run_dir / CONFIG_TOML).write_text(to_toml(resolved))

    store = RunStore(run_dir / STORE_FILENAME)
    store.set_meta("scenario", scenario.name)
    store.set_meta("seed", str(config.seed))
    store.set_meta("config", resolved)
    store.set_meta("started_at", _now())
    store.set_meta("python", platform.python_version())
    if options.use_cache and options.cache_path is not None:  # a shared cache: remember it
        store.set_meta("cache_path", str(Path(options.cache_path).resolve()))
    store.commit()
    return _execute(scenario, config, run_dir, store, options)


def resume_run(run_dir: str | Path, options: RunOptions | None = None) -> RunResult:
    """Continue a run that stopped early, from its last committed round."""
    run_dir = Path(run_dir)
    store_path = run_dir / STORE_FILENAME
    if not store_path.is_file():
        raise FileNotFoundError(f"no run to resume in {run_dir} (missing {STORE_FILENAME})")
    store = RunStore(store_path)
    scenario = get_scenario(store.get_meta("scenario") or "")
    config = scenario.config_type.model_validate(json.loads(store.get_meta("config") or "{}"))
    options = options or RunOptions()
    if options.cache_path is None and store.get_meta("cache_path"):
        options.cache_path = Path(store.get_meta("cache_path") or "")
    store.set_meta("resumed_at", _now())
    store.commit()
    return _execute(scenario, config, run_dir, store, options, resuming=True)


def _execute(
    scenario: Scenario,
    config: RunConfig,
    run_dir: Path,
    store: RunStore,
    options: RunOptions,
    *,
    resuming: bool = False,
) -> RunResult:
    replayed = store.start_catch_up() if resuming else 0
    cache = None
    if options.use_cache:
        cache = ResponseCache(options.cache_path or run_dir / CACHE_FILENAME)
    gateway = Gateway(
        max_repairs=config.max_repairs,
        cache=cache,
        replay_only=options.replay_only,
        budget=options.budget,
        seed=config.seed,
        log_decisions=config.log_decisions,
    )
    world = World(seed=config.seed, store=store, gateway=gateway)
    store.set_meta("status", "running")
    store.commit()
    started = time.monotonic()
    status, message = "failed", ""
    bar: Progress | None = None
    try:
        scenario.build(world, config)
        bar = Progress(world.progress_total, enabled=options.progress)
        world.on_progress = bar.update
        world.run()
        status = "finished"
    except BudgetExhausted as error:
        store.rollback()
        status, message = "budget", str(error)
    except ProviderDown as error:
        store.rollback()
        status, message = "provider_down", str(error)
    except KeyboardInterrupt:
        store.rollback()
        status, message = "interrupted", "interrupted by the user"
    except BaseException:
        store.rollback()  # keep rounds atomic: drop the half-written round
        raise
    finally:
        if bar is not None:
            bar.finish()
        store.set_meta("status", status)
        store.set_meta("finished_at", _now())
        store.commit()
        world.close()
        if cache is not None:
            cache.close()
    wall_s = time.monotonic() - started
    summary = scenario.summary_table(store) if scenario.summary_table else None
    store.close()
    drawn = []
    if options.figures and scenario.draw_figures and status == "finished":
        drawn = scenario.draw_figures(run_dir)
    return RunResult(run_dir, status, gateway.stats, wall_s, drawn, summary, message, replayed)


def _with_flags(options: RunOptions | None, progress: bool | None, figures: bool | None
                ) -> RunOptions:
    options = options or RunOptions()
    if progress is not None:
        options.progress = progress
    if figures is not None:
        options.figures = figures
    return options
