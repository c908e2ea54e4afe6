"""Sweeps: the cartesian product of seeds × grid values × models, one run directory each.

A claim about emergent behaviour needs many seeds and comparisons across conditions, so a sweep
plans every run up front (validating every config before any run starts: a typo in the last
grid value must not surface an hour in), names each run's directory after its swept values
(so a re-run of the same sweep finds its runs again), and keeps an index, `sweep.json`, that
says which runs exist and how each went. Re-running a sweep over its directory skips finished
runs and resumes interrupted ones. Where the runs execute is the executor's business
(`sim.sweeps.executors`).
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
import os
import re
import tomllib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from sim.config import SECRET_INPUTS, ConfigError, describe_validation_error, read_config_file
from sim.errors import Terminated, UserError, describe_os_error
from sim.llm.providers import check_model_routable
from sim.llm.ratelimit import RateLimit, parse_rate_limit
from sim.registry import get_scenario
from sim.runs.live import LiveView, make_sink
from sim.sweeps import executors
from sim.sweeps.executors import Executor, RunOutcome, RunSpec, make_executor
from sim.sweeps.run_spec import STORE_FILENAME, as_finished

if TYPE_CHECKING:
    import pandas as pd

INDEX_FILENAME = "sweep.json"
#: Statuses after which a run needs nothing more.
DONE = frozenset({"finished", "skipped"})


@dataclass
class SweepPlan:
    """Every run of a sweep, planned and validated, and where the sweep lives."""

    scenario: str
    out: Path
    swept: list[str]  # the keys that vary, in naming order ('seed' last)
    fixed: dict[str, Any]
    specs: list[RunSpec]
    statuses: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> outcome fields
    rate_limit: RateLimit = field(default_factory=RateLimit)  # shared by its runs when run

    def index(self) -> dict[str, Any]:
        runs = []
        for spec in self.specs:
            entry = {"name": spec.name, "dir": spec.name, "values": spec.values,
                     "config_digest": config_digest(spec.config), "status": "pending",
                     "wall_s": 0.0, "message": ""}
            entry.update(self.statuses.get(spec.name, {}))
            runs.append(entry)
        return {"scenario": self.scenario, "swept": self.swept, "fixed": self.fixed,
                "updated_at": datetime.now(UTC).isoformat(timespec="seconds"), "runs": runs}

    def write_index(self) -> None:
        """Replace `sweep.json` atomically: a reader never sees half an index."""
        path = self.out / INDEX_FILENAME
        temporary = path.with_name(f".{INDEX_FILENAME}.{os.getpid()}.tmp")
        temporary.write_text(json.dumps(self.index(), indent=2, sort_keys=True) + "\n")
        os.replace(temporary, path)


#: Keys that say how a run reaches its model, not what it computes: a sweep may be resumed with
#: them changed (a local server on another port, a longer timeout).
TRANSPORT_KEYS = frozenset({"api_base", "api_key_env", "timeout_s", "max_concurrency",
                            "outage_patience_s"})


def config_digest(config: dict[str, Any]) -> str:
    """What a run computes from, in 12 hex digits, to tell a resumed sweep from another."""
    kept = {k: v for k, v in config.items() if k not in TRANSPORT_KEYS}
    # Keys are sorted so that a config's own field order never matters, but the order of a
    # mapping can (`brains`: slots follow it, so {a=1, b=1} and {b=1, a=1} give different
    # stores); an unsorted mapping's order is added, leaving sorted configs' digests as they were.
    orders = {k: list(v) for k, v in kept.items()
              if isinstance(v, dict) and list(v) != sorted(v)}
    if orders:
        kept = {**kept, "__key_orders__": orders}
    return hashlib.sha256(json.dumps(kept, sort_keys=True).encode()).hexdigest()[:12]


def parse_seeds(text: str) -> list[int]:
    """'0..19' (both ends included), '0,3,5' or a mix ('0..3,10') → the seeds, in order."""
    seeds: list[int] = []
    for part in (p.strip() for p in text.split(",")):
        low, dots, high = part.partition("..")
        try:
            numbers = range(int(low), int(high) + 1) if dots else [int(part)]
        except ValueError:
            raise UserError(f"--seeds expects whole numbers like 0..19 or 0,3,5, got {text!r}"
                            ) from None
        if dots and int(high) < int(low):
            raise UserError(f"--seeds {part!r}: the range is empty (write LOW..HIGH)")
        seeds += [n for n in numbers if n not in seeds]
    if any(seed < 0 for seed in seeds):
        raise UserError(f"--seeds {text!r}: seeds are whole numbers >= 0")
    return seeds


def parse_grid(text: str) -> tuple[str, list[Any]]:
    """'key=a,b,c' → (key, values); values are read as TOML ('0.5,1', 'true,false', '"a,b"'),
    else as plain strings ('costly,none')."""
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key or not raw.strip():
        raise UserError(f"--grid expects key=value,value,..., got {text!r}")
    try:
        values = tomllib.loads(f"v = [{raw}]")["v"]
    except tomllib.TOMLDecodeError:
        values = [_toml_or_text(part) for part in raw.split(",")]
    if not values:
        raise UserError(f"--grid {text!r} lists no values")
    return key, values


def _toml_or_text(raw: str) -> Any:
    try:
        return tomllib.loads(f"v = {raw.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        return raw.strip()


def run_name(values: dict[str, Any]) -> str:
    """A directory name from swept values: 'punishment-costly__model-openai_gpt-4o__seed-3'."""
    parts = [f"{key}-{_value_text(value)}" for key, value in values.items()]
    return re.sub(r"[^A-Za-z0-9.=_-]+", "_", "__".join(parts))[:200]


def _value_text(value: Any) -> str:
    return json.dumps(value, sort_keys=True) if isinstance(value, (dict, list)) else str(value)


def _assign(data: dict[str, Any], key: str, value: Any) -> None:
    *parents, last = key.split(".")
    target = data
    for part in parents:
        target = target.setdefault(part, {})
        if not isinstance(target, dict):
            raise ConfigError(f"{key!r}: {part!r} is not a table")
    target[last] = value


def plan_sweep(
    scenario: str,
    *,
    seeds: Iterable[int] | str = (0,),
    grid: dict[str, Sequence[Any]] | None = None,
    models: Sequence[str | None] = (),
    fixed: dict[str, Any] | None = None,
    config_file: str | Path | None = None,
    out: str | Path | None = None,
    use_cache: bool = True,
    replay_only: bool = False,
    max_cost_usd: float | None = None,
    max_calls: int | None = None,
    figures: bool = False,
    rate_limit: RateLimit | str | dict[str, Any] | None = None,
) -> SweepPlan:
    """Every run of the sweep, each config validated; refuses (ConfigError) before any runs.
    `rate_limit` is shared by its runs (`sim.llm.ratelimit`); it never changes what they store,
    so it is not part of what a resumed sweep must repeat."""
    limit = parse_rate_limit(rate_limit)
    spec = get_scenario(scenario)
    grid = dict(grid or {})
    fixed = dict(fixed or {})
    seeds = parse_seeds(seeds) if isinstance(seeds, str) else list(
        dict.fromkeys(int(s) for s in seeds))
    if not seeds:
        raise UserError("a sweep needs at least one seed")
    for key in ("seed", "model"):
        if key in grid:
            raise UserError(f"sweep {key}s with --{key}{'s' if key == 'seed' else ''}, "
                            f"not --grid {key}=...")
    clash = sorted(set(grid) & set(fixed))
    if clash:
        raise UserError(f"{', '.join(clash)} both swept (--grid) and fixed (--set)")
    if "seed" in fixed:  # the seeds would silently win over it
        raise UserError("a sweep's seeds are given with --seeds (0..19, 0,3,5), not --set seed=")
    if models and "model" in fixed:
        raise UserError("models are swept with --model, which would override --set model=; "
                        "give the model with --model only")
    base = read_config_file(config_file) if config_file is not None else {}
    for key, value in fixed.items():
        _assign(base, key, value)
    axes: list[tuple[str, list[Any]]] = [(k, list(v)) for k, v in grid.items()]
    if models:
        axes.append(("model", list(models)))
    axes.append(("seed", seeds))
    out = Path(out) if out is not None else Path("sweeps") / f"{spec.name}-sweep"
    specs, names = [], set()
    for combination in itertools.product(*(values for _, values in axes)):
        values = dict(zip((key for key, _ in axes), combination, strict=True))
        data = copy.deepcopy(base)
        for key, value in values.items():
            _assign(data, key, value)
        name = run_name(values)
        try:
            config = spec.config_type.model_validate(data)
        except ValidationError as error:
            shown = run_name({k: v for k, v in values.items()  # (an api_base may hold a key)
                              if k not in SECRET_INPUTS and k != "api_base"})
            raise ConfigError(f"run {shown}: {describe_validation_error(error, spec.config_type)}"
                              ) from None
        if name in names:  # two values that read the same once made file-name safe
            name += "-" + hashlib.sha1(json.dumps(values, sort_keys=True).encode()).hexdigest()[:6]
        names.add(name)
        specs.append(RunSpec(name, spec.name, config.model_dump(mode="json"), str(out / name),
                             values, use_cache, replay_only, max_cost_usd, max_calls, figures))
    for model, api_base in dict.fromkeys((s.config.get("model"), s.config.get("api_base"))
                                         for s in specs):
        if model is not None:
            check_model_routable(model, api_base)
    return SweepPlan(spec.name, out, [key for key, _ in axes], fixed, specs, rate_limit=limit)


def _check_same_sweep(plan: SweepPlan) -> None:
    """A directory holds one sweep: re-running it may resume it, never turn it into another."""
    if (plan.out / STORE_FILENAME).exists():  # a run's directory: the sweep would write into it
        raise UserError(f"{plan.out} is a run directory, not a sweep directory; choose another "
                        "--out")
    path = plan.out / INDEX_FILENAME
    if not path.is_file():
        return
    try:
        existing = json.loads(path.read_text(encoding="utf-8"))
        names = [run["name"] for run in existing["runs"]]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise UserError(f"{path} is not a sweep index ({error}); choose another --out") from None
    if existing.get("scenario") != plan.scenario or names != [s.name for s in plan.specs]:
        raise UserError(f"{plan.out} holds a different sweep ({len(names)} runs of "
                        f"{existing.get('scenario')}); choose another --out, or repeat that "
                        "sweep's arguments to resume it")
    digests = {spec.name: config_digest(spec.config) for spec in plan.specs}
    for run in existing["runs"]:
        if run.get("config_digest", digests[run["name"]]) != digests[run["name"]]:
            raise UserError(f"run {run['name']} of the sweep in {plan.out} was planned with "
                            "another config (a changed --set or --config file); a sweep "
                            "resumes only with its own, so choose another --out")
    for run in existing["runs"]:  # what earlier invocations recorded, e.g. a finished run's time
        plan.statuses[run["name"]] = {k: run[k] for k in ("status", "wall_s", "message")
                                      if k in run}


def run_sweep(
    plan: SweepPlan,
    executor: Executor | str = "pool",
    *,
    workers: int | None = None,
    on_outcome: Callable[[RunOutcome, int, int], None] | None = None,
    rate_limit: RateLimit | str | dict[str, Any] | None = None,
    progress: bool | str = False,
    retries: int = 1,
) -> list[RunOutcome]:
    """Run every planned run not finished yet, updating `sweep.json` as each run ends.

    Returns the outcomes in plan order ('skipped' for runs that had finished before). A Ctrl-C
    (or SIGTERM) stops the sweep: the index marks runs without an outcome interrupted (they have
    a store, so the next invocation resumes them) or pending, and the exception goes on up.
    `rate_limit` (or the plan's) is shared by all runs (`sim.llm.ratelimit`); `progress` shows
    the live view (`sim.runs.live`: True, 'terminal', 'notebook'). A run whose worker process (or
    Ray node) died is started again, resuming it, up to `retries` times; each death is said
    on stderr as it happens, and a run given up on ends 'failed'.
    """
    _check_same_sweep(plan)
    limit = parse_rate_limit(rate_limit if rate_limit is not None else plan.rate_limit)
    runner = make_executor(executor, workers, retries=retries)
    try:
        plan.out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UserError(f"cannot create the sweep directory {plan.out}: "
                        f"{describe_os_error(error)}") from None
    outcomes: dict[str, RunOutcome] = {}
    todo = []
    for spec in plan.specs:
        if _finished(Path(spec.run_dir)):
            before = plan.statuses.setdefault(spec.name, {})
            before["status"] = "finished"
            outcomes[spec.name] = RunOutcome(spec.name, spec.run_dir, "skipped",
                                             float(before.get("wall_s", 0.0)))
        else:
            todo.append(spec)
    plan.write_index()
    done = len(outcomes)
    failed = ran = 0
    with executors.limiter_service(runner, limit) as service:
        view = LiveView(len(plan.specs), make_sink(progress), meter=service.stats)
        view.advance(done, event=False)
        if hasattr(runner, "notice"):
            runner.notice = lambda text: view.note(f"societas: {text}")
        todo = [replace(spec, limiter=service.address) for spec in todo]
        executors.when_started(runner, [service.serve, view.start])
        ending = runner.map(todo)
        try:
            for outcome in ending:
                if outcome.status == "skipped":  # not by the check above: it ended meanwhile
                    outcome = as_finished(outcome)
                outcomes[outcome.name] = outcome
                plan.statuses[outcome.name] = {"status": outcome.status,
                                               "wall_s": outcome.wall_s,
                                               "message": outcome.message}
                plan.write_index()
                done += 1
                failed += outcome.status not in DONE
                ran += outcome.status != "skipped"
                view.advance(done, failed=failed, ran=ran)
                if on_outcome is not None:
                    on_outcome(outcome, done, len(plan.specs))
                if outcome.status == "interrupted":  # Ctrl-C or SIGTERM reached a run: stop
                    raise KeyboardInterrupt
        except (KeyboardInterrupt, Terminated):
            # Let the executor wind down first (runs in flight stop at a round boundary; a
            # node's partial directory comes back), so that the stores say how far they got.
            close = getattr(ending, "close", None)
            if close is not None:
                close()
            for spec in todo:  # runs whose outcome never came back: ask their stores
                if spec.name not in outcomes:
                    plan.statuses[spec.name] = {"status": _stored_status(Path(spec.run_dir))}
            plan.write_index()
            raise
        finally:
            view.finish()
    return [outcomes[spec.name] for spec in plan.specs]


def _finished(run_dir: Path) -> bool:
    return _stored_status(run_dir) == "finished"


def _stored_status(run_dir: Path) -> str:
    """'finished' or 'interrupted' by the run's own store (which a run commits before its
    outcome reaches the sweep); 'pending' for a run not started."""
    from sim.store_files import peek_meta

    store = run_dir / "run.sqlite"
    if not store.is_file():
        return "pending"
    return "finished" if peek_meta(store, "status") == "finished" else "interrupted"


def outcomes_frame(plan: SweepPlan, outcomes: Sequence[RunOutcome]) -> pd.DataFrame:
    """One row per run: its swept values, run_dir, status, wall_s and message."""
    import pandas as pd

    rows = []
    for spec, outcome in zip(plan.specs, outcomes, strict=True):
        status = "finished" if outcome.status == "skipped" else outcome.status
        rows.append({"run": spec.name, **spec.values, "run_dir": spec.run_dir,
                     "status": status, "wall_s": outcome.wall_s, "message": outcome.message})
    return pd.DataFrame(rows)


def sweep(
    scenario: str,
    *,
    seeds: Iterable[int] | str = (0,),
    grid: dict[str, Sequence[Any]] | None = None,
    models: Sequence[str | None] = (),
    fixed: dict[str, Any] | None = None,
    config_file: str | Path | None = None,
    out: str | Path | None = None,
    executor: Executor | str = "pool",
    workers: int | None = None,
    rate_limit: RateLimit | str | dict[str, Any] | None = None,
    progress: bool | str = True,
    retries: int = 1,
) -> pd.DataFrame:
    """Run a sweep from Python and get a tidy frame, one row per run (like Mesa's batch_run).

    `seeds` is an iterable or a string like '0..19'; `grid` maps config keys (dotted for nested
    ones) to the values to try; `fixed` sets keys for every run. Re-running it with the same
    `out` skips finished runs and resumes the rest. `rate_limit` ('requests_per_min=60,...' or
    a dict) is shared by all runs; `progress` is the live view: a bar in a notebook, a line on
    stderr elsewhere (False: none); `retries`: how often a run whose worker died is resumed.
    """
    plan = plan_sweep(scenario, seeds=seeds, grid=grid, models=models, fixed=fixed,
                      config_file=config_file, out=out, rate_limit=rate_limit)
    return outcomes_frame(plan, run_sweep(plan, executor, workers=workers, progress=progress,
                                          retries=retries))


def read_sweep_file(path: str | Path) -> dict[str, Any]:
    """A TOML sweep file's fields, with the names `plan_sweep` takes.

    scenario = "donor-game"; seeds = "0..3" or [0, 1]; models = [...]; config = "base.toml";
    out = "sweeps/x"; [grid] key = [values]; [fixed] key = value; [rate_limit] key = value.
    """
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise UserError(f"cannot read the sweep file {path}: {describe_os_error(error)}"
                        ) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise UserError(f"sweep file {path} is not valid TOML: {error}") from None
    known = {"scenario", "seeds", "grid", "models", "fixed", "config", "out", "rate_limit"}
    unknown = sorted(set(data) - known)
    if unknown:
        raise UserError(f"sweep file {path}: unknown field(s) {', '.join(unknown)} "
                        f"(known: {', '.join(sorted(known))})")
    fields: dict[str, Any] = {}
    if "seeds" in data:
        seeds = data["seeds"]
        fields["seeds"] = parse_seeds(str(seeds)) if isinstance(seeds, (str, int)) else seeds
    for name in ("grid", "fixed", "rate_limit"):
        if name in data:
            if not isinstance(data[name], dict):
                raise UserError(f"sweep file {path}: [{name}] must be a table")
            fields[name] = data[name]
    if "grid" in fields:
        for key, values in fields["grid"].items():
            if not isinstance(values, list) or not values:
                raise UserError(f"sweep file {path}: grid.{key} must be a list of values")
    for name in ("scenario", "models", "out"):
        if name in data:
            fields[name] = data[name]
    if "config" in data:
        fields["config_file"] = str(path.parent / data["config"])
    return fields
