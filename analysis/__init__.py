"""Reading Societas runs back, measuring cooperation and norms, drawing figures and reports.

`load(run_dir)` gives a `Run` whose tables are pandas DataFrames; `load_many(runs, what)` pools
a table or a per-run summary of several runs into one frame tagged with each run's seed, model
and parameters. `analysis.metrics` holds the metrics, `analysis.figures` the figures,
`analysis.donor_game` the standard per-run Donor Game figures and `analysis.report` the HTML
report (`societas report`). See docs/analysis.md.
"""

from collections.abc import Iterable
from pathlib import Path

from analysis.donor_game import draw_donor_game_figures
from analysis.many import load_many, run_info, runs_table
from analysis.run import Run, load

__all__ = ["Run", "draw_donor_game_figures", "load", "load_many", "run_info", "runs_table",
           "write_report"]


def write_report(run_dirs: Iterable[str | Path], out: str | Path | None = None) -> Path:
    """Write the HTML report of `run_dirs`; see `analysis.report.write_report`.

    Imported lazily: the report pulls in scikit-learn, which `import analysis` should not pay
    for.
    """
    from analysis.report import write_report as write

    return write(run_dirs, out)
