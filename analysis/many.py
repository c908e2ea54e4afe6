"""Several runs as one pandas frame, each row tagged with the run it came from.

Comparisons across seeds, models and brain types are a `groupby` away once every row carries
its run's name, seed, model, population mix and config parameters. The tags come from each
run's resolved config, so a frame built today can be re-grouped by any parameter later without
reopening the runs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pandas as pd

from analysis.run import NotInRun, Run, load

#: Columns that identify a run; they lead every frame `load_many` returns.
ID_COLUMNS = ("run", "scenario", "seed", "model", "brains")

RunLike = Run | str | Path
Extract = str | Callable[[Run], pd.DataFrame]


def as_run(run: RunLike) -> Run:
    """A `Run` from a run or its directory, so every function accepts either."""
    return run if isinstance(run, Run) else load(run)


def brains_label(brains: Any) -> str:
    """A short, stable label for a population mix: 'rule', 'llm 50% + rule 50%'.

    Shares are normalised so `{llm = 1, rule = 1}` and `{llm = 2, rule = 2}` read the same.
    """
    if not isinstance(brains, dict) or not brains:
        return "" if brains is None else str(brains)
    total = float(sum(brains.values()))
    kinds = sorted(brains)
    if len(kinds) == 1:
        return kinds[0]
    return " + ".join(f"{kind} {100 * brains[kind] / total:.0f}%" for kind in kinds)


def run_info(run: RunLike) -> dict[str, Any]:
    """One run's identity and scalar config parameters as a flat dict.

    `model` is 'rules' when no model was configured, so rule-only runs get a readable group
    name in comparisons; `brains` is `brains_label` of the population mix.
    """
    run = as_run(run)
    config = run.config
    meta = run.meta
    info: dict[str, Any] = {
        "run": run.path.name,
        "scenario": meta.get("scenario", config.get("scenario", "")),
        "seed": int(config.get("seed", meta.get("seed", 0))),
        "model": config.get("model") or "rules",
        "brains": brains_label(config.get("brains")),
        "status": meta.get("status", ""),
    }
    for key, value in sorted(config.items()):
        if key not in info and (value is None or isinstance(value, (bool, int, float, str))):
            info[key] = value
    return info


def runs_table(runs: Iterable[RunLike]) -> pd.DataFrame:
    """One row per run: `run_info` of each, in the order given."""
    return pd.DataFrame([run_info(run) for run in runs])


def load_many(runs: Iterable[RunLike], what: Extract = "generation_scores") -> pd.DataFrame:
    """One frame from several runs: `what` of each run, tagged with that run's identity.

    `what` is a table name (`"donations"`) or a function from a `Run` to a frame (e.g.
    the Donor Game's `scenarios.donor_game.analysis.per_generation`). Each row gets the
    columns `run`, `scenario`, `seed`, `model`, `brains`, `status` and every scalar config parameter
    (`generations`, `punishment`, ...). Where the extracted frame already has a column of that
    name (the `agents` table's own `model`), the frame's column is kept. A function's index is
    kept as columns (`reset_index`), so per-generation summaries keep their generation. A
    table that only some of the runs have (runs of different scenarios) contributes their rows;
    one that none has raises `NotInRun`.
    """
    loaded = [as_run(item) for item in runs]
    frames = [_extract(run, what) for run in loaded]
    if isinstance(what, str) and frames and all(frame is None for frame in frames):
        loaded[0].table(what)  # in none of the runs: NotInRun, listing what there is
    columns = next((list(f.columns) for f in frames if f is not None), [])
    parts = []
    for run, frame in zip(loaded, frames, strict=True):
        if frame is None:  # a table some of the runs lack: they add no rows
            frame = pd.DataFrame(columns=columns)
        tags = {k: v for k, v in run_info(run).items() if k not in frame.columns}
        tagged = frame.assign(**{k: [v] * len(frame) for k, v in tags.items()})
        parts.append(tagged[[*tags, *frame.columns]])
    if not parts:
        return pd.DataFrame(columns=[*ID_COLUMNS, "status"])
    return pd.concat(parts, ignore_index=True)


def _extract(run: Run, what: Extract) -> pd.DataFrame | None:
    """`what` of one run; None for a table the run neither has nor knows the shape of."""
    if isinstance(what, str):
        try:
            return run.table(what)
        except NotInRun:
            return None
    frame = what(run)
    return frame.reset_index() if _has_named_index(frame) else frame


def _has_named_index(frame: pd.DataFrame) -> bool:
    return any(name is not None for name in frame.index.names)
