"""People count from 1: the store's ordinals as a person reads them.

The store numbers generations, games, rounds, days, seasons and turns from 0, as the code
that writes them loops (`docs/reading_a_run.md`); everything a person reads (the terminal's
summary table, figures, the report, `societas inspect`, progress lines) numbers them from 1,
as the agents' prompts do. Metrics and readers keep the store's numbers, so results compare
with the tables; only what is shown is shifted, here, in one place. A `step` that counts
updates (network norms: step 0 is the state before any update) is a count, not an ordinal,
and is shown as stored.
"""

from __future__ import annotations

import pandas as pd

__all__ = ["ORDINALS", "shown", "shown_columns"]

#: Column names the store counts from 0 and a person reads from 1.
ORDINALS = frozenset({"generation", "game", "round", "day", "season", "turn"})

def shown[T](value: T) -> T:
    """A stored ordinal (a number, an array, a Series or an Index) as a person reads it."""
    return value + 1  # type: ignore[operator]


def shown_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of `frame` whose ordinal columns and index levels (`ORDINALS`) count from 1, for
    a table a person reads."""
    frame = frame.copy()
    for column in frame.columns:
        if column in ORDINALS and pd.api.types.is_numeric_dtype(frame[column]):
            frame[column] = frame[column] + 1
    if isinstance(frame.index, pd.MultiIndex):
        levels = [frame.index.get_level_values(i) + 1
                  if name in ORDINALS and pd.api.types.is_numeric_dtype(frame.index.levels[i])
                  else frame.index.get_level_values(i)
                  for i, name in enumerate(frame.index.names)]
        frame.index = pd.MultiIndex.from_arrays(levels, names=frame.index.names)
    elif frame.index.name in ORDINALS and pd.api.types.is_numeric_dtype(frame.index):
        frame.index = frame.index + 1
    return frame
