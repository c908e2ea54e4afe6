"""Sweeps: many runs at once, planned as plain data and carried out by an executor.

How the package reads, from the plan to where the runs execute:

- `plan`: `plan_sweep` (seeds × grid values × models, every config validated first, one run
  directory each, named after its swept values), `run_sweep` and `sweep`, the index
  `sweep.json`, resuming by running the same sweep again (`docs/sweeps.md`);
- `run_spec`: one run as plain data (`RunSpec`), how it went (`RunOutcome`) and
  `execute_spec`, which runs one spec wherever it lands (through `sim.runs`);
- `executors`: where runs execute (`InlineExecutor`, `PoolExecutor`, `make_executor`), with
  `worker_pool` (worker processes, a dead one costs only its run) and `lifeline` (workers
  that die with the sweep);
- `ray_executor` and `run_transfer`: runs as Ray tasks, on nodes with or without the sweep's
  disk (the optional extra `ray`).

The runs of a sweep share one model-call rate limit (`sim.llm.ratelimit`, served to them by
`sim.llm.limiter_service` or `sim.llm.ray_limiter`). This layer builds on `sim.runs`; the
`societas sweep` command is `sim.cli.sweep`. The names below are also exported by `sim`.
"""

from sim._exports import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(globals(), {
    "sim.sweeps.plan": ("SweepPlan", "plan_sweep", "run_sweep", "sweep"),
    "sim.sweeps.run_spec": ("RunOutcome", "RunSpec", "execute_spec"),
    "sim.sweeps.executors": ("Executor", "InlineExecutor", "PoolExecutor", "make_executor"),
    "sim.sweeps.ray_executor": ("RayExecutor",),
})
