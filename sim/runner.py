"""One run, start to finish: config → run directory → world → store → summary → figures."""

from __future__ import annotations

import json
import platform
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sim.config import RunConfig, to_toml
from sim.gateway import Gateway, GatewayStats
from sim.progress import Progress
from sim.registry import Scenario
from sim.store import STORE_FILENAME, RunStore
from sim.world import World

CONFIG_JSON = "config.json"
CONFIG_TOML = "config.toml"


@dataclass
class RunResult:
    """What a finished run left behind and how it went."""

    run_dir: Path
    status: str  # 'finished' | 'failed'
    stats: GatewayStats
    wall_s: float
    figures: list[Path]
    summary: tuple[list[str], list[list[Any]]] | None


def new_run_dir(out: str | Path, scenario: Scenario, seed: int) -> Path:
    """A fresh, sortable directory name: runs/donor-game-20261125-080102-s0."""
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    base = Path(out) / f"{scenario.name}-{stamp}-s{seed}"
    candidate, n = base, 1
    while candidate.exists():
        n += 1
        candidate = base.with_name(f"{base.name}-{n}")
    return candidate


def run_scenario(
    scenario: Scenario,
    config: RunConfig,
    *,
    out: str | Path = "runs",
    run_dir: str | Path | None = None,
    progress: bool = True,
    figures: bool = True,
) -> RunResult:
    """Run `scenario` with `config`; everything the run produces goes under one directory."""
    run_dir = Path(run_dir) if run_dir is not None else new_run_dir(out, scenario, config.seed)
    run_dir.mkdir(parents=True, exist_ok=True)
    resolved = config.model_dump(mode="json")
    (run_dir / CONFIG_JSON).write_text(json.dumps(resolved, indent=2, sort_keys=True) + "\n")
    (run_dir / CONFIG_TOML).write_text(to_toml(resolved))

    store = RunStore(run_dir / STORE_FILENAME)
    store.set_meta("scenario", scenario.name)
    store.set_meta("seed", str(config.seed))
    store.set_meta("config", resolved)
    store.set_meta("started_at", datetime.now(UTC).isoformat(timespec="seconds"))
    store.set_meta("python", platform.python_version())
    store.set_meta("status", "running")
    store.commit()

    world = World(seed=config.seed, store=store, gateway=Gateway(max_repairs=config.max_repairs))
    started = time.monotonic()
    status = "failed"
    bar: Progress | None = None
    try:
        scenario.build(world, config)
        bar = Progress(world.progress_total, enabled=progress)
        world.on_progress = bar.update
        world.run()
        status = "finished"
    except BaseException:
        store.rollback()  # keep rounds atomic: drop the half-written round
        raise
    finally:
        if bar is not None:
            bar.finish()
        store.set_meta("status", status)
        store.set_meta("finished_at", datetime.now(UTC).isoformat(timespec="seconds"))
        store.commit()
        world.close()
    wall_s = time.monotonic() - started
    summary = scenario.summary_table(store) if scenario.summary_table else None
    store.close()
    drawn = scenario.draw_figures(run_dir) if (figures and scenario.draw_figures) else []
    return RunResult(run_dir, status, world.gateway.stats, wall_s, drawn, summary)
