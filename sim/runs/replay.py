"""Replaying a finished run from its own store: proof that the run is a function of its inputs.

`replay_run` re-executes a finished run from the start with the store in catch-up mode, read
only: every model call is answered from the store's own `llm_calls` (failures included), no
model is asked, no file is written, and every committed round is hashed and compared with its
checkpoint digest. A run directory copied to another machine can be checked this way without a
key, a network or a response cache. Interview sessions held after the run (`sim.runs.interview`) are
re-executed after it, in order, and checked the same way.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

from sim.llm.gateway import Gateway
from sim.registry import get_scenario
from sim.runs.interview import replay_sessions
from sim.store import STORE_FILENAME, ResumeDiverged, RunStore


class NotReplayable(ValueError):
    """The directory holds no finished run to replay; the message says why."""


@dataclass
class ReplayResult:
    checkpoints: int  # committed rounds reproduced
    decisions: int
    calls: int  # model calls answered from the store
    wall_s: float
    sessions: int = 0  # interview sessions re-executed after the run


def replay_run(run_dir: str | Path) -> ReplayResult:
    """Re-execute a finished run and check it reproduces every checkpoint; raises
    `ResumeDiverged` where it does not."""
    run_dir = Path(run_dir)
    path = run_dir / STORE_FILENAME
    if not path.is_file():
        raise FileNotFoundError(f"no run to replay in {run_dir} (missing {STORE_FILENAME})")
    store = RunStore(path, read_only=True)
    try:
        status = store.get_meta("status")
        if status != "finished":
            raise NotReplayable(
                f"{run_dir} is not a finished run (status: {status}); resume it first"
            )
        scenario = get_scenario(store.get_meta("scenario") or "")
        config = scenario.config_type.model_validate(json.loads(store.get_meta("config") or "{}"))
        stored = store.start_catch_up()
        # replay_only without a cache: a call the store cannot answer is an error, not a request
        gateway = Gateway(max_repairs=config.max_repairs, replay_only=True, seed=config.seed,
                          log_decisions=config.log_decisions)
        started = time.monotonic()
        try:
            world = scenario.model(config, store=store, gateway=gateway)
            world.run_model()
            store.commit()  # rows after the scenario's last commit were the original's last
        finally:
            gateway.close()
        sessions, asked = replay_sessions(scenario, store)
        if store.checkpoints_passed != stored:
            raise ResumeDiverged(
                f"re-executing the run produced {store.checkpoints_passed} of its {stored} "
                "stored checkpoints: the code or config differ from the original run's"
            )
        stats = gateway.stats
        return ReplayResult(stored, sum(stats.decisions.values()) + sum(asked.decisions.values()),
                            stats.replayed_calls + asked.replayed_calls,
                            time.monotonic() - started, sessions)
    finally:
        store.close()
