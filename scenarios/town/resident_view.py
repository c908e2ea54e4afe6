"""What `societas inspect RUN --agent ID` shows of a town resident beyond the generic view:
who they are and what they learned, their day plans as the planner wrote them (day, then
hours, then actions, every replan apart), and their conversations utterance by utterance.

Declared as `AgentSection`s on the town's `ScenarioAnalysis`; each returns no lines for an
agent the tables do not mention, so the generic view stands alone.
"""

from __future__ import annotations

import textwrap
from typing import TYPE_CHECKING

import pandas as pd

from scenarios.town.measures import clock_text, clocks, minute_text
from sim.scenario_analysis import AgentSection

if TYPE_CHECKING:
    from analysis.run import Run

WIDTH = 100
LEVELS = {"day": 0, "hour": 1, "action": 2}


def _wrap(text: object, first: str, rest: str | None = None) -> list[str]:
    """`text` on lines of at most WIDTH, the first after `first`, the others after `rest`
    (default: as far in as `first`, two more)."""
    rest = " " * len(first) + "  " if rest is None else rest
    return textwrap.wrap(" ".join(str(text).split()), width=WIDTH, initial_indent=first,
                         subsequent_indent=rest) or [first]


def resident_lines(run: Run, agent_id: str, limit: int) -> list[str]:
    """Name, occupation, home, days in town, persona, when and from whom they learned each
    topic, and the latest summary they wrote of themselves."""
    residents = run.table("residents")
    me = residents[residents["agent_id"].astype(str) == agent_id]
    if me.empty:
        return []
    row = me.iloc[-1]
    last = ("and still living there" if pd.isna(row["last_day"])
            else f"to day {int(row['last_day']) + 1}")
    first = 1 if pd.isna(row["first_day"]) else int(row["first_day"]) + 1
    lines = [f"  {row['name']}, {row['occupation']}; home {row['home']}; in town from day "
             f"{first} {last}"]
    lines += _wrap(row["persona"], "  persona: ") if isinstance(row["persona"], str) else []
    names = dict(zip(residents["agent_id"].astype(str), residents["name"], strict=True))
    knowledge = run.table("knowledge")
    mine = knowledge[knowledge["agent_id"].astype(str) == agent_id]
    for topic, when, how, source, talk in zip(mine["topic"], clocks(mine), mine["how"],
                                              mine["source_agent"], mine["conversation_id"],
                                              strict=True):
        who = f"{source} ({names.get(str(source), '?')})"
        origin = ("seeded" if how == "seeded" or pd.isna(source)
                  else f"inherited from {who}" if how == "inherited" or pd.isna(talk)
                  else f"from {who} in conversation {talk}")
        lines.append(f"  learned of {topic!r} at {clock_text(when)}: {origin}")
    if "summaries" in run.tables():
        summaries = run.table("summaries")
        latest = summaries[summaries["agent_id"].astype(str) == agent_id].tail(1)
        for when, text in zip(clocks(latest), latest["text"], strict=True):
            lines.append(f"  summary of themselves at {clock_text(when)}:")
            for part in str(text).splitlines():
                lines += _wrap(part, "    ")
    return lines


def plan_lines(run: Run, agent_id: str, limit: int) -> list[str]:
    """Every plan the resident made, per day and revision, in time order and indented by level
    (day chunks, the hours inside them, the actions inside those); the first `limit` actions
    of each plan."""
    plans = run.table("plans")
    mine = plans[plans["agent_id"].astype(str) == agent_id].copy()
    if mine.empty:
        return []
    mine["rank"] = mine["level"].map(LEVELS).fillna(3)
    lines = []
    for (day, revision), plan in mine.groupby(["day", "revision"], sort=True):
        kind = "morning plan" if int(revision) == 0 else f"replan {int(revision)}"
        lines.append(f"  day {int(day) + 1}, {kind}:")
        actions = plan[plan["level"] == "action"].sort_values("start_minute", kind="stable")
        shown = pd.concat([plan[plan["level"] != "action"], actions.head(limit)])
        for row in shown.sort_values(["start_minute", "rank"], kind="stable").itertuples():
            indent = "    " + "  " * min(int(row.rank), 2)
            if pd.isna(row.start_minute):
                lines += _wrap(row.description, indent)
                continue
            end = int(row.start_minute) + int(0 if pd.isna(row.duration) else row.duration)
            place = f" @ {row.place_id}" if isinstance(row.place_id, str) else ""
            lines += _wrap(f"{minute_text(row.start_minute)}-{minute_text(end)} "
                           f"{row.description}{place}", indent)
        if len(actions) > limit:
            lines.append(f"      ({len(actions) - limit} later actions not shown; "
                         "--limit shows more)")
    return lines


def conversation_lines(run: Run, agent_id: str, limit: int) -> list[str]:
    """The resident's latest `limit` conversations: where, with whom, who ended it, and every
    utterance with its time."""
    talks = run.table("conversations")
    mine = talks[(talks["initiator"].astype(str) == agent_id)
                 | (talks["partner"].astype(str) == agent_id)]
    if mine.empty:
        return []
    names = dict(zip(run.table("residents")["agent_id"].astype(str),
                     run.table("residents")["name"], strict=True))
    utterances = run.table("utterances")
    mine = mine.sort_values(["day", "start_minute"], kind="stable")
    lines = []
    if len(mine) > limit:
        lines.append(f"  ({len(mine) - limit} earlier conversations not shown; --limit shows "
                     "more)")
    for talk in mine.tail(limit).itertuples():
        other = talk.partner if str(talk.initiator) == agent_id else talk.initiator
        started = "they began" if str(talk.initiator) == agent_id else "the other began"
        lines.append(f"  {talk.conversation_id}: day {int(talk.day) + 1} "
                     f"{minute_text(talk.start_minute)}-{minute_text(talk.end_minute)} at "
                     f"{talk.place_id} with {other} ({names.get(str(other), '?')}), {started}, "
                     f"{int(talk.turns)} turns, ended by {talk.ended_by}")
        said = utterances[utterances["conversation_id"].astype(str) == str(talk.conversation_id)]
        for line in said.sort_values("turn", kind="stable").itertuples():
            speaker = names.get(str(line.speaker), str(line.speaker))
            lines += _wrap(f"{minute_text(line.minute)} {speaker}: {line.text}", "    ")
    return lines


SECTIONS = (
    AgentSection("resident", resident_lines),
    AgentSection("day plans (indented: day, hour, action)", plan_lines),
    AgentSection("conversations", conversation_lines),
)
