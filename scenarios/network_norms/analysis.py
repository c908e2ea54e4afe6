"""The network norms scenario's analysis: what `analysis.load` and `societas report` know about
its runs (tables, the deviant's share as the headline, strategy labels, figures, and a
section on whether the deviant spread or died).

Declared on the `ScenarioSpec` as "scenarios.network_norms.analysis:ANALYSIS", so running the
scenario never imports its reporting code; see docs/analysis.md for the interface.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd
from scipy.stats import binomtest

from analysis.scenario import run_palette
from scenarios.network_norms.figures import (
    filled_shares,
    palette_colour,
    plot_deviant_runs,
    plot_graph,
    plot_shares,
)
from scenarios.network_norms.tables import TABLES
from scenarios.network_norms.view import PANELS
from sim import HeadlineSeries, ReportSection, RunFigure, ScenarioAnalysis

if TYPE_CHECKING:
    from analysis.run import Run
    from analysis.scenario import ReportContext


def strategy_names(run: Run) -> tuple[str, str]:
    """(resident, deviant) of a run's game, from its config."""
    return ("defect", "cooperate") if run.config.get("game", "donation") == "donation" \
        else ("A", "B")


def run_shares(run: Run, last_step: int | None = None) -> pd.DataFrame:
    """step, strategy, share from step 0 to `last_step` (a run that fixed earlier carries its
    shares on); None: to the run's own last recorded step."""
    shares = run.table("shares")
    if last_step is None:
        last_step = int(shares["step"].max()) if not shares.empty else 0
    return filled_shares(shares, last_step, int(run.config.get("record_every", 1)))


def deviant_share(run: Run, last_step: int | None = None) -> pd.DataFrame:
    """The headline: the share of nodes playing the deviant strategy, per step, to the
    config's `steps` (so the runs of a group line up; nothing changes after fixation)."""
    if last_step is None:
        last_step = int(run.config.get("steps", 0))
    frame = run_shares(run, last_step)
    rows = frame[frame["strategy"] == strategy_names(run)[1]]
    return rows[["step", "share"]].rename(columns={"share": "value"}).reset_index(drop=True)


def strategy_labels(run: Run) -> dict[str, str]:
    """A node's agent is labelled by the strategy it ended the run with."""
    final = run.table("final_states")
    return dict(zip(final["agent_id"].astype(str), final["strategy"].astype(str), strict=True))


def outcomes(runs: Sequence[Run]) -> pd.DataFrame:
    """Per group of runs: how often the deviant fixed, died out or neither, the fixation
    probability with its exact (Clopper-Pearson) 95% interval beside the neutral value, and
    the mean steps the runs took to end."""
    rows = []
    for run in runs:
        outcome = run.table("outcome")
        if outcome.empty:
            continue
        rows.append({"run": run.path.name, **outcome.iloc[0].to_dict()})
    return pd.DataFrame(rows)


def _summary(members: Sequence[Run]) -> pd.DataFrame | None:
    table = outcomes(members)
    if table.empty:
        return None
    config = members[0].config
    runs, fixed = len(table), int((table["result"] == "fixation").sum())
    interval = binomtest(fixed, runs).proportion_ci(confidence_level=0.95)
    single = config.get("initial", "single") == "single"
    nodes = int(config.get("nodes", 0)) or 1
    neutral = 1 / nodes if single else float(config.get("initial_share", 0.0))
    row: dict[str, Any] = {
        "runs": runs, "fixation": fixed,
        "extinction": int((table["result"] == "extinction").sum()),
        "coexistence": int((table["result"] == "coexistence").sum()),
        "fixation probability": fixed / runs,
        "95% interval": f"{interval.low:.3f} to {interval.high:.3f}",
        ("neutral (1/N)" if single else "neutral (initial share)"): round(neutral, 4),
        "mean steps to fixation": _mean_steps(table, "fixation"),
        "mean steps to extinction": _mean_steps(table, "extinction"),
    }
    if config.get("game", "donation") == "donation":
        k = int(config.get("degree", 0))
        row["b/c"] = float(config["benefit"]) / float(config["cost"])
        row["(N-2)/(N/k-2)"] = (round((nodes - 2) / (nodes / k - 2), 3)
                                if k and nodes > 2 * k else None)
    return pd.DataFrame([row])


def _mean_steps(table: pd.DataFrame, result: str) -> float | None:
    steps = table[table["result"] == result]["step"]
    return round(float(steps.mean()), 1) if len(steps) else None


def spread_section(runs: Sequence[Run], context: ReportContext) -> list[Any]:
    """Per group of runs: did the deviant spread or die (counts, fixation probability against
    the neutral one, times), its share run by run, and the first run's graph at the end."""
    parts: list[Any] = []
    for group in sorted(set(context.groups.values())):
        members = [run for run in runs if context.groups[run.path.name] == group]
        summary = _summary(members)
        if summary is None:
            continue
        resident, deviant = strategy_names(members[0])
        parts.append(f"{group} ({len(members)} run{'s' if len(members) > 1 else ''}): the "
                     f"deviant strategy is {deviant!r} among {resident!r}. A fixation "
                     "probability above the neutral one means selection favours the deviant "
                     "(for a donation game under death-birth updating on a regular graph, "
                     "Ohtsuki et al. 2006 predict this when b/c exceeds (N-2)/(N/k-2)); "
                     "the interval is exact (Clopper-Pearson) over the group's runs.")
        parts.append(summary)
        last = max(int(run.table("outcome")["step"].max()) for run in members
                   if not run.table("outcome").empty)
        frame = pd.concat([deviant_share(run, last).assign(run=run.path.name)
                           for run in members], ignore_index=True).rename(
                               columns={"value": "share"})
        colour = palette_colour(context.palette)
        parts.append(plot_deviant_runs(frame, deviant, title=f"{deviant}: {group}",
                                       colour=colour))
        parts.append(_graph_figure(members[0], colour=colour))
    return parts


def _graph_figure(run: Run, colour: Any = None) -> Any:
    return plot_graph(run.table("nodes"), run.table("edges"), run.table("final_states"),
                      kind=str(run.config.get("graph", "")), deviant=strategy_names(run)[1],
                      title=f"{run.path.name}: final strategies", colour=colour)


def _run_graph_figure(run: Run) -> Any:
    return _graph_figure(run, colour=palette_colour(run_palette(run)))


def _shares_figure(run: Run) -> Any:
    return plot_shares(run_shares(run), strategy_names(run),
                       colour=palette_colour(run_palette(run)))


ANALYSIS = ScenarioAnalysis(
    tables=TABLES,
    headline=(HeadlineSeries("deviant_share", "share of nodes playing the deviant strategy",
                             deviant_share, x="step", bounds=(0.0, 1.0)),),
    strategy_labels=strategy_labels,
    sections=(ReportSection("spread", "Spread or die: the seeded deviant", spread_section),),
    figures=(
        RunFigure("strategy_share.png", "share of each strategy per step", _shares_figure),
        RunFigure("graph.png", "the graph, nodes coloured by their final strategy "
                  "(seeded deviants ringed)", _run_graph_figure),
    ),
    panels=PANELS,
)
