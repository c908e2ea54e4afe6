"""What a panel sees of the run: the selected step, the selected agent, and the store as it
was committed when the view looked (`StepView`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pandas as pd

from analysis.run import Run
from analysis.viewer.source import Progress, RunSource, Snapshot

T = TypeVar("T")


@dataclass
class StepView:
    """The selected moment of a run, for a panel's `render(step)`.

    `step` is the slider's value in the scenario's unit (a round, a minute); `selected` the id
    of the agent the user clicked, or None. Queries (`rows`, `frame`, `one`) read the store
    read-only, all in one transaction. `first` and `last` are the steps the store holds.
    """

    step: int
    selected: str | None
    source: RunSource
    snapshot: Snapshot
    progress: Progress
    first: int = 0
    last: int = 0
    #: The step on the headline series' x axes (e.g. {'generation': 2}); filled by the view.
    position: Mapping[str, float] = field(default_factory=dict)

    def rows(self, sql: str, params: tuple | list = ()) -> list[tuple]:
        return self.snapshot.rows(sql, params)

    def one(self, sql: str, params: tuple | list = ()) -> tuple | None:
        return self.snapshot.one(sql, params)

    def frame(self, sql: str, params: tuple | list = ()) -> pd.DataFrame:
        return self.snapshot.frame(sql, params)

    def has(self, table: str) -> bool:
        return self.snapshot.has(table)

    def memo(self, key: str, compute: Callable[[], T]) -> T:
        """Computed once for the life of the view (what the run never changes)."""
        return self.source.memo(key, compute)

    def current(self, key: str, compute: Callable[[], T]) -> T:
        """Computed now, and kept until the run grows (see `RunSource.current`)."""
        return self.source.current(key, self.progress.checkpoints, compute)

    def latest(self, key: str, compute: Callable[[], T]) -> T | None:
        """Computed in the background for the store as it is now; None until the first
        result (see `RunSource.latest`)."""
        return self.source.latest(key, self.progress.checkpoints, compute)

    @property
    def run(self) -> Run:
        """The run as `analysis` reads it: whole tables, for what `latest` computes."""
        return self.source.run

    @property
    def config(self) -> dict[str, Any]:
        return self.source.run.config
