"""One run, start to finish: config → run directory → world → store → summary → figures.

A run can stop early in four clean ways, each leaving every finished round committed: a fatal
model error, Ctrl-C, SIGTERM (from the CLI), its budget, or a provider down for longer than its
patience. `resume_run` continues it by re-executing the run from the start in the store's
catch-up mode (see `RunStore`): the model calls of committed rounds are answered from the
store's own `llm_calls` and those of the interrupted round from the run's response cache, so a
resumed run ends with the same store as one that was never interrupted. Only one process at a
time may write a run directory (`sim.runs.runlock`).
"""

from __future__ import annotations

import json
import platform
import sqlite3
import time
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from sim.config import ConfigError, RunConfig, describe_validation_error, to_toml
from sim.errors import Terminated, UserError, describe_os_error
from sim.llm.cache import CACHE_FILENAME, ResponseCache
from sim.llm.gateway import Budget, BudgetExhausted, Gateway, GatewayStats
from sim.llm.limiter_service import connect_limiter
from sim.llm.outcomes import ModelUnreachable, ProviderDown
from sim.llm.providers import check_key_set, check_model_routable
from sim.llm.ratelimit import LocalLimiter, RateLimit
from sim.registry import ScenarioSpec, get_scenario
from sim.runs.capacity import check_memory
from sim.runs.figures import draw_figures
from sim.runs.progress import Progress
from sim.runs.runlock import run_lock
from sim.store import STORE_FILENAME, RunStore
from sim.store_files import StoreError, peek_meta, refuse_empty
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
    progress: bool | str = True  # or 'terminal' / 'notebook' (sim.runs.live)
    figures: bool = True
    #: Model-call limits for this run alone (`societas run --rate-limit`), or
    limit: RateLimit | None = None
    #: the address of a limiter shared with other runs (a sweep's; `sim.llm.limiter_service`).
    limiter: str | None = None
    #: Called with the run directory once its store is open and marked running, before the
    #: first round (`societas run --view` starts the viewer there).
    on_start: Callable[[Path], None] | None = None
    #: Asked at each progress milestone (a round): True stops the run there as Ctrl-C does,
    #: resumably. How a sweep on Ray stops its runs without interrupting them asynchronously.
    stop_requested: Callable[[], bool] | None = None


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
    already_finished: bool = False  # a resume that found nothing to do


def new_run_dir(out: str | Path, scenario: ScenarioSpec, seed: int) -> Path:
    """Create a fresh, sortable directory: runs/donor-game-20261125-080102-s0.

    Created here, not merely named, so that two runs started in the same second never share
    one (mkdir either creates the directory or fails, atomically).
    """
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    base = Path(out) / f"{scenario.name}-{stamp}-s{seed}"
    try:
        base.parent.mkdir(parents=True, exist_ok=True)
        for n in range(1, 10_000):
            candidate = base if n == 1 else base.with_name(f"{base.name}-{n}")
            try:
                candidate.mkdir()
                return candidate
            except FileExistsError:
                continue
    except OSError as error:
        raise UserError(f"cannot create a run directory in {out}: {describe_os_error(error)}"
                        ) from None
    raise UserError(f"cannot create a run directory in {out}: too many runs named {base.name}")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def run_scenario(
    scenario: ScenarioSpec,
    config: RunConfig,
    *,
    out: str | Path = "runs",
    run_dir: str | Path | None = None,
    options: RunOptions | None = None,
    progress: bool | str | None = None,
    figures: bool | None = None,
) -> RunResult:
    """Run `scenario` with `config`; everything the run produces goes under one directory.

    Everything that can be refused (memory, cache, run directory) is checked before the run
    directory is created, so a refused run leaves nothing behind. `progress`: the live view
    (`sim.runs.live`), True for a bar in a notebook or a line on stderr, or 'terminal'/'notebook'.
    """
    options = _with_flags(options, progress, figures)
    check_memory(scenario, config)
    if config.model is not None:
        check_model_routable(config.model, config.api_base)
        if not options.replay_only:  # a replay asks no one
            check_key_set(config.api_key_env)
    shared = _open_shared_cache(options)
    cache = shared
    try:
        if run_dir is None:
            run_dir = new_run_dir(out, scenario, config.seed)
        else:
            run_dir = Path(run_dir)
            if (run_dir / STORE_FILENAME).exists():
                raise UserError(f"{run_dir} already holds a run; resume it (societas resume "
                                f"{run_dir}) or choose another directory")
            try:
                run_dir.mkdir(parents=True, exist_ok=True)
            except OSError as error:
                raise UserError(f"cannot create the run directory {run_dir}: "
                                f"{describe_os_error(error)}") from None
        with run_lock(run_dir):
            resolved = config.model_dump(mode="json")
            _write_config_files(run_dir, resolved)
            store = RunStore(run_dir / STORE_FILENAME)
            store.set_meta("scenario", scenario.name)
            store.set_meta("seed", str(config.seed))
            # As given, not with sorted keys: the order of a mapping such as `brains` decides
            # which slot gets which brain, so a replay or resume must see the same order.
            store.set_meta("config", json.dumps(resolved, ensure_ascii=False))
            store.set_meta("started_at", _now())
            store.set_meta("python", platform.python_version())
            if shared is not None:  # a shared cache: remember it for resume
                store.set_meta("cache_path", str(shared.path.resolve()))
            store.commit()
            cache = shared if shared is not None else _own_cache(options, run_dir)
            return _execute(scenario, config, run_dir, store, options, cache)
    finally:
        if cache is not None:
            cache.close()


def resume_run(run_dir: str | Path, options: RunOptions | None = None) -> RunResult:
    """Continue a run that stopped early, from its last committed round.

    The run's config is the one its store recorded when it started; `config.toml` and
    `config.json` beside it are copies for the reader, and a resume refuses to go on if either
    was edited (a missing copy is written again). A finished run is left as it is.
    """
    run_dir = Path(run_dir)
    store_path = run_dir / STORE_FILENAME
    if not store_path.is_file():
        raise FileNotFoundError(f"no run to resume in {run_dir} (missing {STORE_FILENAME})")
    refuse_empty(store_path)  # before the lock: nothing is written into its directory
    options = options or RunOptions()
    # Read-only, and before the lock: a finished run is left untouched, byte for byte.
    if peek_meta(store_path, "status") == "finished":
        return RunResult(run_dir, "finished", GatewayStats(), 0.0, [], None,
                         "the run had already finished; nothing to resume",
                         already_finished=True)
    with run_lock(run_dir):
        store = RunStore(store_path)
        try:
            scenario, config = _recorded_run(store, run_dir)
            if options.cache_path is None and store.get_meta("cache_path"):
                options.cache_path = Path(store.get_meta("cache_path") or "")
            check_memory(scenario, config)
            if config.model is not None and not options.replay_only:
                check_key_set(config.api_key_env)
            cache = _open_shared_cache(options)
            if cache is None:
                cache = _own_cache(options, run_dir)
        except BaseException:
            store.close()
            raise
        try:
            _write_config_files(run_dir, config.model_dump(mode="json"), only_missing=True)
            store.set_meta("resumed_at", _now())
            store.commit()
            return _execute(scenario, config, run_dir, store, options, cache, resuming=True)
        finally:
            if cache is not None:
                cache.close()


def _recorded_run(store: RunStore, run_dir: Path) -> tuple[ScenarioSpec, RunConfig]:
    """The scenario and config a store recorded, refusing edited copies beside it."""
    name, recorded = store.get_meta("scenario"), store.get_meta("config")
    if not name or recorded is None:
        raise StoreError(f"{store.path} records no scenario or config: the run stopped before "
                         "it started; start it again with societas run")
    scenario = get_scenario(name)
    try:
        config = scenario.config_type.model_validate(json.loads(recorded))
    except ValidationError as error:
        raise ConfigError(f"the config recorded in {store.path} is no longer valid: "
                          f"{describe_validation_error(error, scenario.config_type)}") from None
    resolved = config.model_dump(mode="json")
    for copy in (run_dir / CONFIG_TOML, run_dir / CONFIG_JSON):
        if copy.exists() and not _same_config(copy, scenario, resolved):
            if copy.suffix == ".toml":
                instead = f"societas run {scenario.name} --config {copy}"
            else:
                instead = (f"societas run {scenario.name} --config FILE, FILE an edited copy of "
                           f"{run_dir / CONFIG_TOML}")
            raise ConfigError(
                f"{copy} was edited after the run started; a run resumes with the config its "
                f"store recorded. To resume it, delete {copy} (it is rewritten from the "
                f"store); to run the edited config instead, start a new run: {instead}"
            )
    return scenario, config


def _same_config(path: Path, scenario: ScenarioSpec, resolved: dict[str, Any]) -> bool:
    """Whether a config copy means the recorded config (formatting and defaults aside)."""
    try:
        text = path.read_text(encoding="utf-8")
        data = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
        copy = scenario.config_type.model_validate(data).model_dump(mode="json")
    except (OSError, ValueError, ValidationError):  # unreadable or invalid: not the same
        return False
    return copy == resolved


def _write_config_files(run_dir: Path, resolved: dict[str, Any], *,
                        only_missing: bool = False) -> None:
    """The readable copies of a run's config: JSON for programs, TOML to re-run it."""
    texts = {CONFIG_JSON: json.dumps(resolved, indent=2) + "\n",  # in order, as the store
             CONFIG_TOML: to_toml(resolved)}
    for name, text in texts.items():
        if not (only_missing and (run_dir / name).exists()):
            (run_dir / name).write_text(text)


def _open_shared_cache(options: RunOptions) -> ResponseCache | None:
    """A cache shared between runs (`--cache FILE`), opened now so that a path that cannot be
    used is refused before the run starts; None for the run directory's own or no cache."""
    if not options.use_cache or options.cache_path is None:
        return None
    cache = ResponseCache(options.cache_path)
    try:
        len(cache)  # opens (creating) the file
    except (OSError, sqlite3.Error) as error:
        detail = describe_os_error(error) if isinstance(error, OSError) else str(error)
        raise UserError(f"cannot use the response cache {options.cache_path}: {detail}; "
                        "choose another file with --cache FILE, or run without a cache "
                        "(--no-cache)") from None
    return cache


def _own_cache(options: RunOptions, run_dir: Path) -> ResponseCache | None:
    """The run directory's own cache, opened on the first model call (none for rule runs)."""
    return ResponseCache(run_dir / CACHE_FILENAME) if options.use_cache else None


def _execute(
    scenario: ScenarioSpec,
    config: RunConfig,
    run_dir: Path,
    store: RunStore,
    options: RunOptions,
    cache: ResponseCache | None,
    *,
    resuming: bool = False,
) -> RunResult:
    replayed = store.start_catch_up() if resuming else 0
    limiter = (connect_limiter(options.limiter) if options.limiter
               else LocalLimiter(options.limit))
    gateway = Gateway(
        limiter=limiter,
        max_repairs=config.max_repairs,
        cache=cache,
        replay_only=options.replay_only,
        budget=options.budget,
        seed=config.seed,
        log_decisions=config.log_decisions,
    )
    store.set_meta("status", "running")
    store.commit()
    if options.on_start is not None:
        options.on_start(run_dir)
    started = time.monotonic()
    status, message = "failed", ""
    bar: Progress | None = None
    world: World | None = None
    try:
        world = scenario.model(config, store=store, gateway=gateway)
        bar = Progress(world.progress_total, enabled=options.progress,
                       meter=limiter.stats if isinstance(limiter, LocalLimiter) else None)
        world.on_progress = _stoppable(bar.update, options.stop_requested)
        world.run_model()  # a Mesa model's run: one step per unit of simulated time
        status = "finished"
    except BudgetExhausted as error:
        store.rollback()
        status, message = "budget", str(error)
    except ProviderDown as error:
        store.rollback()
        status, message = "provider_down", str(error)
    except Terminated:
        store.rollback()
        status, message = "interrupted", "terminated (SIGTERM)"
    except KeyboardInterrupt:
        store.rollback()
        status, message = "interrupted", "interrupted by the user"
    except ModelUnreachable as error:
        store.rollback()  # the finished rounds stay: a renewed key lets the run go on
        error.run_dir = run_dir
        raise
    except BaseException:
        store.rollback()  # keep rounds atomic: drop the half-written round
        raise
    finally:
        if bar is not None:
            bar.finish()
        if gateway.transports():  # how each model's calls travelled (sim.llm.transport)
            store.set_meta("transport", gateway.transports())
        store.set_meta("status", status)
        store.set_meta("finished_at", _now())
        store.commit()
        if world is not None:
            world.close()
        else:
            gateway.close()
        if status == "failed":  # an error escapes: close the store, or a resume in this
            store.close()  # process (a notebook, a test) finds the run's file still locked
    wall_s = time.monotonic() - started
    summary = scenario.summary_table(store) if scenario.summary_table else None
    store.close()
    drawn = []
    if options.figures and status == "finished":  # the figures its analysis declares
        drawn = draw_figures(scenario, run_dir)
    return RunResult(run_dir, status, gateway.stats, wall_s, drawn, summary, message, replayed)


def _stoppable(update: Callable[[int, str, str], None],
               stop_requested: Callable[[], bool] | None) -> Callable[[int, str, str], None]:
    """The progress callback, raising KeyboardInterrupt at a milestone once a stop is asked."""
    if stop_requested is None:
        return update

    def update_or_stop(done: int, label: str, detail: str = "") -> None:
        update(done, label, detail)
        if stop_requested():
            raise KeyboardInterrupt

    return update_or_stop


def _with_flags(options: RunOptions | None, progress: bool | str | None, figures: bool | None
                ) -> RunOptions:
    options = options or RunOptions()
    if progress is not None:
        options.progress = progress
    if figures is not None:
        options.figures = figures
    return options
