"""What the report, the figures and `inspect` show of a town run's interviews
(`scenarios.town.interview_measures`; docs/town_analysis.md, 'Interviews'):

- the figure `knowledge_by_interview.png`: per topic, the share who know by interview at the
  end of each day, beside the keyword measure and the hallucinated share;
- the report section "Knowledge and acquaintance by interview": per run, topic and day, who
  said they know, who knows (said so and remembers it), hallucinated and unrecalled answers and
  the keyword measure; the network density from mutual "do you know of NAME?" at the start
  and the end, beside the paper's;
- the report section "Interview answers": the latest answers of every run to the same
  questions (the believability battery, questions asked by hand), side by side, for human
  raters or a model to judge;
- a resident's answers in `societas inspect`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd

from analysis import _plotting as plot
from scenarios.town.interview_measures import (
    acquaintance_density,
    interview_tables,
    knowledge_by_day,
    latest_answers,
    side_by_side,
)
from sim.scenario_analysis import AgentSection, ReportSection

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from analysis.run import Run
    from analysis.scenario import ReportContext

FIGURE = "knowledge_by_interview.png"
PAPER_DENSITY = ("Park et al. (2023) asked every pair of agents whether they knew of each "
                 "other: a pair counted when both said yes; the density rose from 0.167 to 0.74 "
                 "over two game days. 6 of 453 answers about knowing others (1.3%) were "
                 "hallucinated.")


def plot_knowledge(table: pd.DataFrame) -> Figure:
    """Per topic: the share who know by interview (said so and remember it) at the end of each
    day (solid), the keyword measure's share (dashed) and the hallucinated share (dotted)."""
    fig, ax = plot.axes_or_new(None)
    if table.empty:
        plot.no_data(ax)
        return fig
    topics = list(dict.fromkeys(table["topic"]))
    colours = dict(zip(topics, plot.series_colors(len(topics)), strict=True))
    for topic in topics:
        rows = table[table["topic"] == topic]
        days = rows["day"] + 1  # days counted from 1
        ax.plot(days, rows["share"], color=colours[topic], marker="o", lw=1.8,
                label=f"{topic}: knows (interview)")
        ax.plot(days, rows["keyword_share"], color=colours[topic], ls="--", lw=1.2,
                label=f"{topic}: keyword measure")
        ax.plot(days, rows["hallucinated"] / rows["asked"], color=colours[topic], ls=":",
                marker="x", lw=1.0, label=f"{topic}: hallucinated")
    ax.set_ylim(0, 1.02)
    ax.set_xticks(sorted(set(table["day"] + 1)))
    ax.set_xlabel("day (interviewed at its end)")
    ax.set_ylabel("share of residents")
    ax.set_title("Who knows each seeded intention, by interview")
    ax.legend(fontsize="small", loc="upper left")
    return fig


def knowledge_figure(run: Run) -> Figure:
    return plot_knowledge(knowledge_by_day(interview_tables(run)["interview_knowledge"]))


def _label(run: Run, context: ReportContext) -> str:
    group = context.groups.get(run.path.name, "")
    return f"{run.path.name} ({group})" if group else run.path.name


def measures_section(runs: Sequence[Run], context: ReportContext) -> list[Any]:
    parts: list[Any] = []
    knowledge, density = [], []
    for run in runs:
        tables = interview_tables(run)
        label = _label(run, context)
        by_day = knowledge_by_day(tables["interview_knowledge"])
        if not by_day.empty:
            knowledge.append(by_day.assign(run=label, day=by_day["day"] + 1))
        mutual = acquaintance_density(tables["interview_acquaintance"])
        if not mutual.empty:
            density.append(mutual.assign(run=label))
    if knowledge:
        parts.append("Who knew each seeded intention when asked at the end of each day (days "
                     "from 1). knows: said so and has a memory of it (the paper's count); "
                     "hallucinated: said so without any memory of it; unrecalled: has a memory "
                     "of it but said no; keyword: the keyword measure (who heard it named).")
        table = pd.concat(knowledge, ignore_index=True).set_index(["run", "topic", "day"])
        parts.append(table.drop(columns=["in_memory"]).round(3))
    if density:
        parts.append("Network density by interview: pairs where both said they know of the "
                     "other / pairs asked, at the start and the end of each run (and the same "
                     "from their memories).")
        parts.append(pd.concat(density, ignore_index=True).set_index(["run", "moment"])
                     .round(3))
        parts.append(PAPER_DENSITY)
    return parts


def answers_section(runs: Sequence[Run], context: ReportContext) -> list[Any]:
    named = [(_label(run, context), interview_tables(run)["interviews"]) for run in runs]
    named = [(label, answers) for label, answers in named if not answers.empty]
    table = side_by_side(named)
    if table.empty:
        return []
    return [f"The latest answers of {len(named)} run{'s' if len(named) > 1 else ''} to the "
            "questions asked after the run (societas interview; --battery: the five "
            "categories of Park et al. 2023), one column per run, for human raters or a "
            "model to judge. Every answer, with its session and the memories it was given "
            "from, is in each run's interviews table (societas export RUN --tables "
            "interviews).", table]


def resident_answers(run: Run, agent_id: str, limit: int) -> list[str]:
    answers = latest_answers(interview_tables(run)["interviews"])
    mine = answers[answers["agent_id"].astype(str) == agent_id].tail(limit)
    lines = []
    for row in mine.itertuples():
        label = "" if row.category == "question" else f" [{row.category}]"
        lines += [f"  session {row.session}{label}: {row.question}", f"    {row.answer}"]
    return lines


SECTIONS = (
    ReportSection("interview_measures", "Knowledge and acquaintance by interview",
                  measures_section),
    ReportSection("interview_answers", "Interview answers", answers_section),
)
INSPECT = (AgentSection("interview answers (latest of each question)", resident_answers),)
