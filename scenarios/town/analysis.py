"""The town's analysis: what `analysis.load`, `societas report` and `societas inspect` know
about its runs (tables, headline series, figures, the "Information and relationships" section,
a resident's plans and conversations).

Declared on the `ScenarioSpec` as "scenarios.town.analysis:ANALYSIS", so running the town never
imports the plotting code; docs/town_analysis.md describes every metric and figure.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd

from scenarios.town.figures import DRAWINGS, plot_density, plot_diffusion
from scenarios.town.interview_config import INTERVIEW_TABLES
from scenarios.town.interview_measures import interview_tables, knowledge_by_day
from scenarios.town.interview_report import FIGURE as INTERVIEW_FIGURE
from scenarios.town.interview_report import INSPECT as INTERVIEW_INSPECT
from scenarios.town.interview_report import SECTIONS as INTERVIEW_SECTIONS
from scenarios.town.interview_report import knowledge_figure
from scenarios.town.measures import attendance_summary, events
from scenarios.town.readers import Town, load_town
from scenarios.town.resident_view import SECTIONS as RESIDENT_SECTIONS
from scenarios.town.tables import TABLES
from scenarios.town.view import PANELS, TIMELINE
from sim.scenario_analysis import HeadlineSeries, ReportSection, RunFigure, ScenarioAnalysis

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from analysis.run import Run
    from analysis.scenario import ReportContext

#: What the paper measured over two game days in a town of 25, for comparison.
PAPER = ("Park et al. (2023), two game days, 25 agents: the party became known to 1 → 13 "
         "agents (4% → 52%), the mayoral candidacy to 1 → 8 (4% → 32%); network density rose "
         "from 0.167 to 0.74; of 12 invited to the party, 5 came.")


def end_of_day(curve: pd.DataFrame) -> pd.DataFrame:
    """The diffusion curve at the last recorded hour of each day: topic, day, knowing,
    present, share."""
    if curve.empty:
        return pd.DataFrame(columns=["topic", "day", "knowing", "present", "share"])
    last = curve.groupby(["topic", "day"], sort=False)["hour"].transform("max")
    return curve[curve["hour"] == last][["topic", "day", "knowing", "present", "share"]]


def knows_share(run: Run) -> pd.DataFrame:
    """Headline: the share of residents who know the first seeded topic, at the end of each
    day."""
    town = load_town(run)
    if not town.topics:
        return pd.DataFrame(columns=["day", "value"])
    curve = end_of_day(town.diffusion())
    first = curve[curve["topic"] == town.topics[0]]
    return pd.DataFrame({"day": first["day"].to_numpy(), "value": first["share"].to_numpy()})


def interview_knows_share(run: Run) -> pd.DataFrame:
    """Headline: the share of residents who know the first seeded topic by interview (said so
    and remember it), at the end of each day."""
    table = knowledge_by_day(interview_tables(run)["interview_knowledge"])
    first = table[table["topic"] == table["topic"].iloc[0]] if not table.empty else table
    return pd.DataFrame({"day": first["day"].to_numpy(), "value": first["share"].to_numpy()})


def network_density(run: Run) -> pd.DataFrame:
    """Headline: the relationship network's density at the end of each day."""
    density = load_town(run).density()
    return pd.DataFrame({"day": density["day"], "value": density["density"]})


def _run_figure(name: str):
    return lambda run: DRAWINGS[name](load_town(run))


def _percent(share: float) -> str:
    return "–" if pd.isna(share) else f"{share:.0%}"


def diffusion_table(towns: Sequence[Town]) -> pd.DataFrame:
    """Topic × day: who knew at the end of each day. One run: 'knowing/present (share)';
    several: the mean share and its range across the runs."""
    rows = pd.concat([end_of_day(t.diffusion()).assign(run=i) for i, t in enumerate(towns)],
                     ignore_index=True)
    if rows.empty:
        return pd.DataFrame()
    cells: dict[tuple[str, str], str] = {}
    for (topic, day), at in rows.groupby(["topic", "day"], sort=False):
        if len(towns) == 1:
            row = at.iloc[0]
            cells[topic, f"end of day {day + 1}"] = (f"{int(row['knowing'])}/{int(row['present'])}"
                                                 f" ({_percent(row['share'])})")
        else:
            cells[topic, f"end of day {day + 1}"] = (
                f"{_percent(at['share'].mean())} ({_percent(at['share'].min())}–"
                f"{_percent(at['share'].max())})")
    table = pd.Series(cells).unstack().reindex(list(dict.fromkeys(rows["topic"])))
    table = table[sorted(table.columns, key=lambda c: int(c.rsplit(" ", 1)[1]))]
    table.index.name = "topic"
    return table


def mean_curve(towns: Sequence[Town]) -> pd.DataFrame:
    """The diffusion curve averaged over runs, per topic and hour."""
    curves = [t.diffusion() for t in towns]
    pooled = pd.concat(curves, ignore_index=True)
    if pooled.empty:
        return pooled
    return pooled.groupby(["topic", "hour"], as_index=False, sort=False).agg(
        day=("day", "first"), present=("present", "mean"), knowing=("knowing", "mean"),
        share=("share", "mean"))


def density_table(towns: Sequence[Town], runs: Sequence[Run]) -> pd.DataFrame:
    """Day × run: density (pairs who have talked / all pairs), and the mean across runs."""
    frame = pd.DataFrame({run.path.name: town.density().set_index("day")["density"]
                          for run, town in zip(runs, towns, strict=True)})
    if len(runs) > 1:
        frame["mean"] = frame.mean(axis=1)
    frame.index = frame.index + 1  # days counted from 1, as a person reads them
    frame.index.name = "day"
    return frame.round(3)


def attendance_table(towns: Sequence[Town], runs: Sequence[Run]) -> pd.DataFrame:
    """One row per event and run: guests who knew, came, knew but did not come."""
    parts = [attendance_summary(town.intentions, town.attendance()).assign(run=run.path.name)
             for run, town in zip(runs, towns, strict=True)]
    rows = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    if rows.empty:
        return rows
    return rows.set_index(["run", "topic"])


def information_section(runs: Sequence[Run], context: ReportContext) -> list[Any]:
    """Per group of runs: who knew each topic at the end of each day, the diffusion curve, who
    came to each event, and the relationship network's density per day."""
    parts: list[Any] = []
    for group in sorted(set(context.groups.values())):
        members = [run for run in runs if context.groups[run.path.name] == group]
        towns = [load_town(run) for run in members]
        if all(town.residents.empty for town in towns):
            continue
        many = len(members) > 1
        parts.append(f"{group} ({len(members)} run{'s' if many else ''})"
                     + (": means across the runs' seeds." if many else "."))
        table = diffusion_table(towns)
        if not table.empty:
            parts.append("Residents who knew each topic at the end of each day"
                         + (" (mean share, and its range across runs):" if many else ":"))
            parts.append(table)
            parts.append(_diffusion_figure(towns))
        attendance = attendance_table(towns, members)
        if not attendance.empty:
            parts.append("Attendance of each event (guests: every resident in town but the "
                         "host; came: at the place for at least the run's attendance_minutes "
                         "of the event, from the activity spans, travel not counted):")
            parts.append(attendance)
        parts.append("Network density at the end of each day (pairs who have talked at "
                     "least once / all pairs of residents in town):")
        parts.append(density_table(towns, members))
        parts.append(_density_figure(towns))
    if parts:
        parts.append("For comparison: " + PAPER + " The relationship network, time use and "
                     "map of each run are under 'Figures of each run'.")
    return parts


def _diffusion_figure(towns: Sequence[Town]) -> Figure:
    return plot_diffusion(mean_curve(towns), events(towns[0].intentions))


def _density_figure(towns: Sequence[Town]) -> Figure:
    pooled = pd.concat([t.density() for t in towns], ignore_index=True)
    if len(towns) == 1:
        return plot_density(pooled)
    mean = pooled.groupby("day", as_index=False)["density"].mean()
    return plot_density(mean.assign(talked=float("nan"), pairs=float("nan")))


ANALYSIS = ScenarioAnalysis(
    tables={**TABLES, **INTERVIEW_TABLES},
    headline=(
        HeadlineSeries("knows_share", "share of residents who know the first seeded topic "
                       "(end of day)", knows_share, x="day", bounds=(0.0, 1.0)),
        HeadlineSeries("interview_knows_share", "share of residents who know the first "
                       "seeded topic by interview (end of day)", interview_knows_share, x="day",
                       bounds=(0.0, 1.0)),
        HeadlineSeries("network_density", "relationship network density (end of day)",
                       network_density, x="day", bounds=(0.0, 1.0)),
    ),
    sections=(ReportSection("information", "Information and relationships",
                            information_section), *INTERVIEW_SECTIONS),
    figures=(
        RunFigure("diffusion.png", "share of residents who know each topic, per hour",
                  _run_figure("diffusion.png")),
        RunFigure("relationships.png", "who talked with whom (edge: conversations held)",
                  _run_figure("relationships.png")),
        RunFigure("network_density.png", "relationship network density per day",
                  _run_figure("network_density.png")),
        RunFigure("time_use.png", "hours per resident on each activity, per day",
                  _run_figure("time_use.png")),
        RunFigure("map.png", "where everyone is at the first event's start (else noon of "
                  "the first day)", _run_figure("map.png")),
        RunFigure(INTERVIEW_FIGURE, "who knows each seeded intention by interview at the end "
                  "of each day, beside the keyword measure and the hallucinated share",
                  knowledge_figure),
    ),
    inspect=(*RESIDENT_SECTIONS, *INTERVIEW_INSPECT),
    panels=PANELS,
    timeline=TIMELINE,
)
