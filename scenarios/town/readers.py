"""Reading a town run once: its tables as frames, how long it lasted, and its metrics
(`scenarios.town.measures`) computed on first use and kept, so that the figures, the headline
series and the report section of one run share them.

A `Run` re-reads a table on every access (a run may still be writing), so a reader that needs
the town several times keeps the `Town` that `load_town(run)` returns.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pandas as pd

from scenarios.town.measures import (
    DEFAULT_ATTENDANCE_MINUTES,
    MINUTES_PER_DAY,
    attendance,
    default_map_time,
    density_by_day,
    diffusion,
    positions_at,
    relationships,
    time_use,
    topics_of,
)
from scenarios.town.tables import TABLES

if TYPE_CHECKING:
    from analysis.run import Run

__all__ = ["Town", "load_town"]


@dataclass
class Town:
    """A town run's tables, read once, and how long the run lasted."""

    config: dict[str, Any]
    places: pd.DataFrame
    residents: pd.DataFrame
    activities: pd.DataFrame
    plans: pd.DataFrame
    conversations: pd.DataFrame
    utterances: pd.DataFrame
    intentions: pd.DataFrame
    knowledge: pd.DataFrame
    #: The attendance the run recorded as each event ended (`attendance` measures it again
    #: from the spans; this one adds whether each resident had planned to go).
    recorded_attendance: pd.DataFrame
    #: The agent summaries residents wrote of themselves each morning, and the places each
    #: came to know (empty for runs from before they were recorded).
    summaries: pd.DataFrame
    known_places: pd.DataFrame
    #: Simulated minutes the run covered (from day 0 00:00 to its last recorded span, or the
    #: configured days, the last cut at `hours`, when it ran them all).
    end_clock: int
    #: Metrics computed once: the figures, headline and report section share them.
    _memo: dict[str, pd.DataFrame] = field(default_factory=dict, repr=False, compare=False)

    def _once(self, key: str, compute: Callable[[], pd.DataFrame]) -> pd.DataFrame:
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]

    @property
    def days(self) -> int:
        return max(1, math.ceil(self.end_clock / MINUTES_PER_DAY))

    @property
    def hours(self) -> int:
        return max(1, math.ceil(self.end_clock / 60))

    @property
    def topics(self) -> list[str]:
        return topics_of(self.intentions, self.knowledge)

    @property
    def attendance_minutes(self) -> int:
        return int(self.config.get("attendance_minutes") or DEFAULT_ATTENDANCE_MINUTES)

    def names(self) -> dict[str, str]:
        return dict(zip(self.residents["agent_id"].astype(str),
                        self.residents["name"].astype(str), strict=True))

    def diffusion(self) -> pd.DataFrame:
        return self._once("diffusion", lambda: diffusion(
            self.knowledge, self.residents, self.hours, self.topics))

    def attendance(self) -> pd.DataFrame:
        """`measures.attendance`, with whether each resident had planned to go (`planned`,
        from the run's own attendance table; NaN where it has none)."""
        def compute() -> pd.DataFrame:
            table = attendance(self.intentions, self.activities, self.knowledge,
                               self.residents, self.attendance_minutes)
            planned = self.recorded_attendance
            if "planned" not in planned or planned.empty:
                return table.assign(planned=math.nan)
            planned = planned[["topic", "agent_id", "planned"]].astype({"agent_id": str})
            return table.merge(planned, on=["topic", "agent_id"], how="left")

        return self._once("attendance", compute)

    def relationships(self) -> pd.DataFrame:
        return self._once("relationships", lambda: relationships(
            self.conversations, self.utterances))

    def density(self) -> pd.DataFrame:
        return self._once("density", lambda: density_by_day(
            self.conversations, self.residents, self.days))

    def time_use(self) -> pd.DataFrame:
        return self._once("time_use", lambda: time_use(self.activities, self.residents))

    def positions(self, clock: int | None = None) -> pd.DataFrame:
        return positions_at(self.activities, self.residents,
                            default_map_time(self.intentions) if clock is None else clock)


def load_town(run: Run) -> Town:
    """Read a town run's tables (each once); one the run never wrote reads as empty, even
    where the town scenario is not installed."""
    present = set(run.tables())
    tables = {name: run.table(name) if name in present else pd.DataFrame(columns=list(columns))
              for name, columns in TABLES.items()}
    tables["recorded_attendance"] = tables.pop("attendance")
    ends = [0]
    spans = pd.to_numeric(tables["activities"]["clock_end"], errors="coerce").dropna()
    if not spans.empty:
        ends.append(int(spans.max()))
    talks = tables["conversations"]
    if not talks.empty:
        ends.append(int((pd.to_numeric(talks["day"], errors="coerce") * MINUTES_PER_DAY
                         + pd.to_numeric(talks["end_minute"], errors="coerce")).max()))
    days, hours = run.config.get("days"), run.config.get("hours")
    if isinstance(days, int) and days > 0 and run.meta.get("status") == "finished":
        # it ran every day: count each in full, the last up to its `hours` on a short day
        last = hours if isinstance(hours, int) and 0 < hours < 24 else 24
        ends.append((days - 1) * MINUTES_PER_DAY + last * 60)
    return Town(config=dict(run.config), end_clock=max(max(ends), 1), **tables)
