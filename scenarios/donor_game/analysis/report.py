"""The Donor Game's own report sections: cooperation per generation, reciprocity, punishment.

Each section is a `ReportSection` render function: it takes the report's Donor Game runs and
its `ReportContext` (the groups of runs), and returns its body as sentences, tables and
figures; the generic report (`analysis.report`) lays them out.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import pandas as pd

from analysis.counting import shown_columns
from analysis.many import load_many
from analysis.run import Run
from analysis.scenario import ReportContext
from scenarios.donor_game.analysis.comparison import plot_comparison
from scenarios.donor_game.analysis.cooperation import per_generation
from scenarios.donor_game.analysis.heatmap import plot_gift_heatmap
from scenarios.donor_game.analysis.punishment import punishment_use
from scenarios.donor_game.analysis.reciprocity import (
    DecisionsNotLogged,
    missing_decisions,
    pairs_from_run,
    reciprocity,
    with_donor,
)
from scenarios.donor_game.analysis.rounds import plot_per_generation

COLUMNS = ["donation_fraction", "final_resources", "gini"]


def _pairs_of(run: Run) -> pd.DataFrame:
    return with_donor(pairs_from_run(run), run.agents)


def _pairs(runs: Sequence[Run]) -> pd.DataFrame:
    """Every run's donation decisions with the recipient's last act (see `pairs_from_run`),
    derived once per report (`Run.derived`): the reciprocity and punishment sections share
    them."""
    with warnings.catch_warnings():  # the sections say what is missing
        warnings.simplefilter("ignore", DecisionsNotLogged)
        parts = [r.derived("gift pairs", _pairs_of).assign(run=r.path.name) for r in runs]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def cooperation_section(runs: Sequence[Run], context: ReportContext) -> list[Any]:
    frame = load_many(runs, per_generation)
    if frame.empty or frame[COLUMNS].dropna(how="all").empty:
        return []
    if len(runs) == 1:
        return [plot_per_generation(runs[0]),
                shown_columns(frame.set_index("generation")[COLUMNS])]
    frame["group"] = frame["run"].map(context.groups)
    body: list[Any] = []
    for value in ("final_resources", "donation_fraction"):
        body.append(plot_comparison(frame, by="group", value=value))
    means = frame.groupby(["group", "generation"])[COLUMNS].mean()
    means["runs"] = frame.groupby(["group", "generation"])["run"].nunique()
    body.append("Means across each group's runs per generation (each seed's curve is a thin "
                "line above; the headline section gives confidence bands).")
    body.append(shown_columns(means))
    return body


def reciprocity_section(runs: Sequence[Run], context: ReportContext) -> list[Any]:
    pairs = _pairs(runs)
    missing = [m for m in (missing_decisions(r) for r in runs) if m is not None]
    body: list[Any] = [
        "How strongly a donor's gift follows the recipient's last share given: the OLS slope "
        "of gift on last share and Spearman's rho, each with a 95% interval; decisions about "
        "recipients without a record and fallbacks are left out.", *missing]
    if pairs.empty:
        return [*missing, "No donation decisions were logged in these runs."] if missing else []
    rows = {r.path.name: reciprocity(pairs[pairs["run"] == r.path.name]).as_dict()
            for r in runs}
    groups = {context.groups[r.path.name] for r in runs}
    for group in sorted(groups) if len(runs) > 1 else []:
        names = [r.path.name for r in runs if context.groups[r.path.name] == group]
        rows[f"group: {group}"] = reciprocity(pairs[pairs["run"].isin(names)]).as_dict()
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "run"
    body.append(table)
    body.append(plot_gift_heatmap(pairs, by="donor_kind"))
    return body


def punishment_section(runs: Sequence[Run], context: ReportContext) -> list[Any]:
    pairs = _pairs(runs)
    allowed = any(r.config.get("punishment") in ("costly", True) for r in runs)
    punished = bool((pairs["action"] == "punish").any()) if not pairs.empty else False
    if not allowed and not punished:
        return ["Punishment was not allowed in these runs."]
    body: list[Any] = [
        "Punishments by the target's last act: stingy = gave less than 25% (or punished), "
        "generous = gave at least 25%. rate = punishments / acts toward that class; share = "
        "part of all punishments."]
    body += [m for m in (missing_decisions(r) for r in runs) if m is not None]
    if pairs.empty:
        return body
    body.append(punishment_use(pairs, per_generation=False))
    body.append("Per generation, all targets:")
    body.append(shown_columns(punishment_use(pairs).xs("all", level="target")))
    return body
