"""The view's time axis: a scenario's `ViewTimeline`, with the engine's defaults for what it
leaves out.

By default a step is a unit of the engine's simulated time (`decisions.sim_time`, which the
Donor Game counts in rounds and the town in minutes), shown counted from 1 ('step 1'), and the
store holds steps up to the last one any decision, model call or per-step metric recorded.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from analysis.viewer.step import StepView
from sim.scenario_analysis import ViewTimeline

DEFAULT = ViewTimeline()
_NUMBER = re.compile(r"^\s*(?:[a-z ]+\s)?(\d+)\s*$", re.IGNORECASE)


def _last(view: StepView, table: str, column: str) -> float | None:
    """The last value of a column appended in order (read at the table's end, not scanned)."""
    if not view.has(table):
        return None
    row = view.one(f'SELECT "{column}" FROM "{table}" WHERE "{column}" IS NOT NULL '
                   "ORDER BY rowid DESC LIMIT 1")
    return None if row is None else float(row[0])


def default_extent(view: StepView) -> tuple[int, int]:
    found = [v for v in (_last(view, "decisions", "sim_time"), _last(view, "llm_calls",
                         "sim_time"), _last(view, "metrics", "step")) if v is not None]
    return 0, int(max(found, default=0))


def extent(spec: ViewTimeline, view: StepView) -> tuple[int, int]:
    first, last = (spec.extent or default_extent)(view)
    return int(first), max(int(first), int(last))


def describe(spec: ViewTimeline, view: StepView) -> str:
    if spec.describe is not None:
        return spec.describe(view)
    return f"{spec.unit} {view.step + 1}"


def default_position(view: StepView) -> dict[str, float]:
    """The step, and its generation where the per-step metrics record one."""
    found = view.one("SELECT generation FROM metrics WHERE scope = 'step' AND step <= ? AND "
                     "generation IS NOT NULL ORDER BY step DESC LIMIT 1", (view.step,)) \
        if view.has("metrics") else None
    return {"step": view.step, **({"generation": found[0]} if found else {})}


def position(spec: ViewTimeline, view: StepView) -> Mapping[str, float]:
    return (spec.position or default_position)(view)


def parse(spec: ViewTimeline, text: str, view: StepView) -> int | None:
    """A step from what a person typed; the default reads '12' or 'round 12' as the 12th."""
    if spec.parse is not None:
        found = spec.parse(text, view)
        if found is not None:
            return found
    match = _NUMBER.match(text)
    return int(match.group(1)) - 1 + view.first if match else None


def marks(spec: ViewTimeline, view: StepView) -> Sequence[tuple[str, int]]:
    return list(spec.marks(view)) if spec.marks is not None else []
