"""Runs: one run of a scenario from start to finish, and what is done with a run afterwards.

How the package reads, in the order a run meets it:

- `runner`: `run_scenario` and `resume_run`: config, run directory, world, store, summary,
  figures (`figures`: drawn by whatever registered to draw them, `analysis`);
- `capacity`, `runlock`: refusing a run that cannot fit in memory, one writer per run directory;
- `progress` (with `live`, the live view a sweep shares): what a person sees while it runs;
- `replay`: `replay_run`, a finished run re-executed from its own store, writing nothing;
- `interview`: `interview_run`, sessions of questions put to a finished run's agents, stored
  and replayed (what a scenario declares for them is `sim.interviews`);
- `export`: `export_run`, a run's tables as CSV or Parquet files.

This layer builds on the core (`sim.world`, `sim.store`, `sim.registry`, ...) and `sim.llm`;
many runs at once are `sim.sweeps`, the `societas` command is `sim.cli`. The names below are
also exported by `sim` itself.
"""

from sim._exports import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(globals(), {
    "sim.runs.runner": ("RunOptions", "RunResult", "resume_run", "run_scenario"),
    "sim.runs.replay": ("ReplayResult", "replay_run"),
    "sim.runs.interview": ("InterviewResult", "interview_run"),
    "sim.runs.export": ("export_run",),
})
