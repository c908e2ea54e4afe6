"""The game's tables as analysis reads them: with their columns even where a run lacks them."""

from __future__ import annotations

import pandas as pd

from analysis.run import Run
from scenarios.donor_game.tables import RUN_TABLES


def game_table(run: Run, name: str) -> pd.DataFrame:
    """One of the game's tables, with its columns even where the run never wrote it (or its
    store does not say it is a Donor Game run)."""
    if name in run.tables():
        return run.table(name)
    return pd.DataFrame(columns=list(RUN_TABLES[name]))
