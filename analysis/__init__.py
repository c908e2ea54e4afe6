"""Reading Societas runs of any scenario back, its metrics, figures and reports.

`load(run_dir)` gives a `Run` whose tables are pandas DataFrames; `load_many(runs, what)` pools
a table or a per-run summary of several runs into one frame tagged with each run's seed, model
and parameters; `load_sweep(sweep_dir)` reads a sweep's runs with its swept keys as columns.
`analysis.metrics` and `analysis.figures` hold what every scenario shares
(survival, lineage, strategy texts, inequality, LLM calls), `analysis.scenario` the grouping of
runs and the strategy palette, `analysis.report` the HTML report (`societas report`) and
`analysis.viewer` the browser view (`societas view`, `view(run)` in a notebook). What
is particular to a scenario it declares in a `sim.ScenarioAnalysis` (the Donor Game's is in
`scenarios.donor_game.analysis`). Importing `analysis` imports no scenario. See
docs/analysis.md.
"""

from collections.abc import Iterable
from pathlib import Path

from analysis.many import load_many, run_info, runs_table
from analysis.run import Run, load
from analysis.sweep import Sweep, load_sweep

__all__ = ["Run", "Sweep", "draw_run_figures", "load", "load_many", "load_sweep", "run_info",
           "runs_table", "view", "write_report"]


def write_report(run_dirs: Iterable[str | Path | Run], out: str | Path | None = None) -> Path:
    """Write the HTML report of `run_dirs`; see `analysis.report.write_report`.

    Imported lazily: the report pulls in scikit-learn, which `import analysis` should not pay
    for.
    """
    from analysis.report import write_report as write

    return write(run_dirs, out)


def view(run: Run | str | Path) -> object:
    """The run's browser view (`societas view`) as a Solara element: the last expression of a
    notebook cell shows it inline, and a run still being written is followed live. Needs the
    `view` extra; see `analysis.viewer` and docs/view.md."""
    from analysis.viewer import view as run_view

    return run_view(run)


def draw_run_figures(run_dir: str | Path | Run, out_dir: str | Path | None = None
                     ) -> list[Path]:
    """Draw the figures the run's scenario declares into `run_dir/figures` (or `out_dir`);
    return the files written (none for a scenario that declares no figures). `run_dir` may
    be a loaded `Run` (its tables then read once for the figures and whatever else reads it
    inside its `cached()` block, as `societas report` does)."""
    from analysis._plotting import save

    run = run_dir if isinstance(run_dir, Run) else load(run_dir)
    target = Path(out_dir) if out_dir is not None else run.path / "figures"
    with run.cached():  # each table read once for all the figures
        for figure in run.analysis_spec.figures:
            made = figure.draw(run)
            if made is not None:  # None: the run has nothing for this figure
                run.figure_files[figure.file] = save(made, target / figure.file)
    return [run.figure_files[figure.file] for figure in run.analysis_spec.figures
            if figure.file in run.figure_files]
