"""Reading Societas runs back and drawing their figures.

`load(run_dir)` gives a `Run` whose tables are pandas DataFrames; the scenario modules (so far
`analysis.donor_game`) turn those into summaries and matplotlib figures.
"""

from analysis.donor_game import draw_donor_game_figures
from analysis.run import Run, load

__all__ = ["Run", "draw_donor_game_figures", "load"]
