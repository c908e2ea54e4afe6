"""The town in `societas view`: a clock in minutes and the panels of the selected minute:
the map with every resident at their place (walkers on their way between two), what they are
doing and saying, the seeded news as it spreads (who knows, from whom), and the resident the
user clicked: their plan (day, hour, action), recent memories and reflections with evidence.

A town's tables are small enough to read whole (a 100-resident day is about 15,000 spans), so
the activities are read once per committed round (`StepView.current`) and every minute of the
slider is then a lookup in memory. Above `MAX_WALKERS` residents the map shows one disc per
place with the number of people there; clicking it lists them.
"""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np
import pandas as pd

from analysis.viewer.parts import Choices, Place, TownMap, Walker
from analysis.viewer.step import StepView
from scenarios.town.measures import MINUTES_PER_DAY, TRAVEL, clock_text, locator, minute_text
from sim.scenario_analysis import ViewPanel, ViewTimeline

MAX_WALKERS = 40
RECENT_MEMORIES = 8
#: Memories read back from the selected minute for the clicked resident's latest ones.
MEMORY_WINDOW = 20_000
PLACE_PICK = "place:"
_DAY_TIME = re.compile(r"^\s*(?:day\s*)?(?:(\d+)[ ,]+)?(\d{1,2}):(\d{2})\s*$", re.IGNORECASE)
_DAY_ONLY = re.compile(r"^\s*day\s*(\d+)\s*$", re.IGNORECASE)
KNOWS, UNAWARE = "#dd8452", "#4c72b0"


# -- the clock ----------------------------------------------------------------------------------
def extent(view: StepView) -> tuple[int, int]:
    ends = [0]
    if view.has("activities"):
        row = view.one("SELECT MAX(clock_end) FROM activities")
        ends.append(int(row[0] or 0) if row else 0)
    if view.has("decisions"):
        row = view.one("SELECT sim_time FROM decisions ORDER BY rowid DESC LIMIT 1")
        ends.append(int(row[0]) if row else 0)
    return 0, max(ends)


def describe(view: StepView) -> str:
    return clock_text(view.step)


def position(view: StepView) -> dict[str, float]:
    return {"step": view.step, "day": view.step // MINUTES_PER_DAY,
            "hour": view.step // 60}


def parse(text: str, view: StepView) -> int | None:
    """'day 2 14:05', '2 14:05', '14:05' (on the selected day) or 'day 2' (its midnight); days
    count from 1. ('day 2' alone would otherwise be read as the second minute.)"""
    whole_day = _DAY_ONLY.match(text)
    if whole_day:
        day = int(whole_day.group(1)) - 1
        return day * MINUTES_PER_DAY if day >= 0 else None
    match = _DAY_TIME.match(text)
    if not match:
        return None
    day = int(match.group(1)) - 1 if match.group(1) else view.step // MINUTES_PER_DAY
    hours, minutes = int(match.group(2)), int(match.group(3))
    if hours > 23 or minutes > 59 or day < 0:
        return None
    return day * MINUTES_PER_DAY + hours * 60 + minutes


def marks(view: StepView) -> list[tuple[str, int]]:
    found = [(f"day {d + 1} 08:00", d * MINUTES_PER_DAY + 480)
             for d in range(view.last // MINUTES_PER_DAY + 1)]
    if view.has("intentions"):
        for topic, day, start in view.rows("SELECT topic, day, start_minute FROM intentions "
                                           "WHERE kind = 'event' AND start_minute IS NOT NULL"):
            clock = int(day) * MINUTES_PER_DAY + int(start)
            found.append((f"{topic} starts ({clock_text(clock)})", clock))
    # only what the store holds so far: a run ends at 24:00, not at the next day's 08:00
    return sorted([m for m in found if m[1] <= view.last], key=lambda mark: mark[1])


TIMELINE = ViewTimeline(unit="minute", stride=5, extent=extent, describe=describe,
                        position=position, parse=parse, marks=marks)


# -- the town's tables, read once per round ------------------------------------------------------
def _table(view: StepView, name: str, sql: str) -> pd.DataFrame:
    return view.current(f"town:{name}", lambda: view.frame(sql) if view.has(
        name) else pd.DataFrame())


def _activities(view: StepView) -> dict[str, np.ndarray]:
    """The activity spans as numpy columns (strings as objects): a minute's spans are then
    found with two comparisons over arrays, without pandas' per-column copies."""
    def compute() -> dict[str, np.ndarray]:
        rows = view.rows("SELECT clock_start, clock_end, agent_id, place_id, activity, "
                         "description FROM activities ORDER BY rowid") if view.has(
            "activities") else []
        names = ("clock_start", "clock_end", "agent_id", "place_id", "activity",
                 "description")
        columns = list(zip(*rows, strict=True)) if rows else [()] * len(names)
        return {name: np.array(column, dtype=np.int64 if name.startswith("clock") else object)
                for name, column in zip(names, columns, strict=True)}
    return view.current("town:activities", compute)


def _residents(view: StepView) -> pd.DataFrame:
    return _table(view, "residents", "SELECT agent_id, name, first_day, last_day FROM "
                  "residents ORDER BY rowid")


def _places(view: StepView) -> pd.DataFrame:
    return view.memo("town:places", lambda: view.frame(
        "SELECT place_id, name, parent, level, kind, x, y FROM places ORDER BY rowid"))


def _in_town(residents: pd.DataFrame, day: int) -> pd.DataFrame:
    first = pd.to_numeric(residents["first_day"], errors="coerce").fillna(0)
    last = pd.to_numeric(residents["last_day"], errors="coerce").fillna(math.inf)
    return residents[(first <= day) & (day <= last)]


def _span_ends(view: StepView) -> dict[tuple[str, int], str]:
    """(agent, minute a span ended) -> its place, for every span that is not a walk."""
    def compute() -> dict[tuple[str, int], str]:
        spans = _activities(view)
        return {(str(a), int(e)): p for a, e, p, act in zip(
            spans["agent_id"], spans["clock_end"], spans["place_id"], spans["activity"],
            strict=True) if act != TRAVEL}
    return view.current("town:span-ends", compute)


def spans_at(view: StepView) -> pd.DataFrame:
    """Each resident's span at the selected minute (the store's `place_id`), with where a
    walker set out from (`origin`) and how far along they are (`along`, 0..1)."""
    spans = _activities(view)
    columns = ["agent_id", "place_id", "activity", "description", "origin", "along"]
    at = np.nonzero((spans["clock_start"] <= view.step) & (view.step < spans["clock_end"]))[0]
    ends = _span_ends(view)  # a walk starts where the span before it ended
    found: dict[str, list[Any]] = {}
    for i in at:  # in store order: a later span of the same agent wins
        agent, start, end = str(spans["agent_id"][i]), spans["clock_start"][i], \
            spans["clock_end"][i]
        activity = spans["activity"][i]
        found[agent] = [agent, spans["place_id"][i], activity, spans["description"][i],
                        ends.get((agent, int(start))) if activity == TRAVEL else None,
                        min(1.0, max(0.0, (view.step - start) / max(1, end - start)))]
    return pd.DataFrame(list(found.values()), columns=columns)


def _speech(view: StepView) -> dict[str, str]:
    """speaker -> their latest utterance in a conversation going on at the selected minute."""
    if not view.has("conversations") or not view.has("utterances"):
        return {}
    rows = view.rows(
        "SELECT u.speaker, u.text FROM utterances u JOIN conversations c ON "
        "c.conversation_id = u.conversation_id WHERE c.clock_start <= ? AND ? < c.clock_end "
        "AND u.clock <= ? ORDER BY u.clock, u.turn", (view.step, view.step, view.step))
    return {str(speaker): str(text) for speaker, text in rows}


def _knowers(view: StepView) -> set[str]:
    topics = view.rows("SELECT topic FROM intentions ORDER BY rowid LIMIT 1") if view.has(
        "intentions") else []
    if not topics or not view.has("knowledge"):
        return set()
    return {str(a) for (a,) in view.rows("SELECT agent_id FROM knowledge WHERE topic = ? AND "
                                         "clock <= ?", (topics[0][0], view.step))}


def town_map(view: StepView) -> list[Any]:
    """Where everyone is at the selected minute."""
    places = _places(view)
    if places.empty:
        return []
    locate = view.memo("town:locate", lambda: locator(places))
    shown = places[places["level"] == "place"]
    drawn = [Place(str(p.place_id), str(p.name), float(p.x), float(p.y), str(p.kind or ""))
             for p in shown.itertuples() if not (pd.isna(p.x) or pd.isna(p.y))]
    residents = _in_town(_residents(view), view.step // MINUTES_PER_DAY)
    names = dict(zip(residents["agent_id"].astype(str), residents["name"].astype(str),
                     strict=True))
    spans = spans_at(view).set_index("agent_id") if not residents.empty else pd.DataFrame()
    speech, knowers = _speech(view), _knowers(view)
    walkers = []
    for agent, name in names.items():
        if agent not in spans.index:
            continue
        span = spans.loc[agent]
        target = locate(span["place_id"])
        if target is None:
            continue
        x, y = target
        walking = span["activity"] == TRAVEL
        origin = locate(span["origin"]) if walking else None
        if origin is not None:
            x = origin[0] + (x - origin[0]) * float(span["along"])
            y = origin[1] + (y - origin[1]) * float(span["along"])
        walkers.append(Walker(agent, name, x, y, str(span["place_id"]),
                              str(span["description"] or span["activity"]),
                              KNOWS if agent in knowers else UNAWARE, speech=speech.get(agent, ""),
                              walking=bool(walking), pick=agent))
    first_topic = view.rows("SELECT topic FROM intentions ORDER BY rowid LIMIT 1") if view.has(
        "intentions") else []
    caption = (f"{clock_text(view.step)}: {len(walkers)} residents; orange: they know of "
               f"'{first_topic[0][0]}', blue: not yet. " if first_topic else
               f"{clock_text(view.step)}: {len(walkers)} residents. ")
    if len(walkers) > MAX_WALKERS:
        return [TownMap(drawn, _by_place(walkers, drawn), caption + "Each disc: the people at "
                        "a place (or on the way); click one to list them.", view.selected)]
    return [TownMap(drawn, walkers, caption + "Click a resident for their plan and memories.",
                    view.selected)]


def _by_place(walkers: list[Walker], places: list[Place]) -> list[Walker]:
    """One disc per place (and one for everyone walking), coloured by whether most of them
    know the news."""
    groups: dict[str, list[Walker]] = {}
    for walker in walkers:
        key = "walking" if walker.walking else _place_of(walker.place, places)
        groups.setdefault(key, []).append(walker)
    where = {p.id: p for p in places}
    discs = []
    for key, members in groups.items():
        place = where.get(key)
        x = place.x if place else sum(w.x for w in members) / len(members)
        y = place.y if place else sum(w.y for w in members) / len(members)
        knowing = sum(w.color == KNOWS for w in members)
        discs.append(Walker(f"{PLACE_PICK}{key}", place.name if place else key, x, y, key,
                            f"{len(members)} people, {knowing} know the news",
                            KNOWS if knowing * 2 > len(members) else UNAWARE,
                            count=len(members), pick=f"{PLACE_PICK}{key}"))
    return discs


def _place_of(place_id: str, places: list[Place]) -> str:
    """The drawn place a place id (or an object's dotted path) belongs to."""
    parts = str(place_id).split(".")
    known = {p.id for p in places}
    while parts:
        if ".".join(parts) in known:
            return ".".join(parts)
        parts.pop()
    return str(place_id)


def news(view: StepView) -> list[Any]:
    """Per seeded topic: how many residents know it at the selected minute, and who learned
    it from whom, latest first."""
    if not view.has("knowledge"):
        return []
    names = dict(zip(_residents(view)["agent_id"].astype(str),
                     _residents(view)["name"].astype(str), strict=True))
    present = len(_in_town(_residents(view), view.step // MINUTES_PER_DAY))
    frame = view.frame("SELECT topic, agent_id, clock, source_agent, how FROM knowledge "
                       "WHERE clock <= ? ORDER BY clock DESC, rowid DESC", (view.step,))
    parts: list[Any] = []
    for topic, known in frame.groupby("topic", sort=False):
        parts.append(f"{topic}: {len(known)} of {present} residents know it")
        table = pd.DataFrame({
            "resident": known["agent_id"].astype(str),
            "name": known["agent_id"].astype(str).map(names).fillna(""),
            "learned": known["clock"].map(clock_text),
            "from": [("seeded" if how == "seeded" or pd.isna(source) else
                      ("inherited from " if how == "inherited" else "")
                      + f"{names.get(str(source), source)} ({source})")
                     for source, how in zip(known["source_agent"], known["how"], strict=True)],
        })
        parts.append(table.head(MAX_WALKERS))
    return parts


def resident(view: StepView) -> list[Any]:
    """The clicked resident (or the people at a clicked place)."""
    selected = view.selected
    if selected is None:
        return ["Click a resident on the map (or a row of a table) to see their plan, "
                "memories and reflections here."]
    if selected.startswith(PLACE_PICK):
        place = selected[len(PLACE_PICK):]
        spans = spans_at(view)
        names = dict(zip(_residents(view)["agent_id"].astype(str),
                         _residents(view)["name"].astype(str), strict=True))
        here = [a for a, p, act in zip(spans["agent_id"], spans["place_id"], spans["activity"],
                                       strict=True)
                if (place == "walking" and act == TRAVEL) or (
                    act != TRAVEL and (str(p) == place or str(p).startswith(place + ".")))]
        return [Choices(f"At {place}:", [(a, names.get(str(a), str(a))) for a in here])]
    residents = _residents(view)
    me = residents[residents["agent_id"].astype(str) == selected]
    if me.empty:
        return [f"{selected} is not a resident of this town."]
    parts: list[Any] = [f"{me['name'].iloc[-1]} ({selected})"]
    spans = spans_at(view)
    now = spans[spans["agent_id"].astype(str) == selected]
    if not now.empty:
        parts.append(f"now: {now['description'].iloc[0]} at {now['place_id'].iloc[0]}")
    parts += _plan(view, selected) + _memories(view, selected)
    return parts


def _plan(view: StepView, agent: str) -> list[Any]:
    """The day's plan, latest revision: day chunks, hour blocks and the actions planned."""
    if not view.has("plans"):
        return []
    day = view.step // MINUTES_PER_DAY
    plan = view.frame("SELECT level, start_minute, duration, description, place_id, revision "
                      "FROM plans WHERE agent_id = ? AND day = ? ORDER BY rowid", (agent, day))
    if plan.empty:
        return [f"no plan for day {day + 1} yet"]
    plan = plan[plan["revision"] == plan["revision"].max()]
    order = {"day": 0, "hour": 1, "action": 2}
    plan = plan.assign(rank=plan["level"].map(order).fillna(3)).sort_values(
        ["start_minute", "rank"], kind="stable")
    rows = [{"level": level, "from": minute_text(start) if not pd.isna(start) else "",
             "to": minute_text(start + (0 if pd.isna(length) else length))
             if not pd.isna(start) else "",
             "what": description, "where": place if isinstance(place, str) else ""}
            for level, start, length, description, place in zip(
                plan["level"], plan["start_minute"], plan["duration"], plan["description"],
                plan["place_id"], strict=True)]
    revision = int(plan["revision"].iloc[0])
    return [f"plan for day {day + 1} ({'morning plan' if revision == 0 else f'replan {revision}'};"
            " day, hour and action)", pd.DataFrame(rows)]


def _memories(view: StepView, agent: str) -> list[Any]:
    if not view.has("memories"):
        return []
    # memories are stored as they happen: read back from the selected minute's last one
    bound = view.snapshot.last_rowid_at_most("memories", "created", view.step)
    window = (agent, view.step, bound, bound - MEMORY_WINDOW)
    recent = view.frame("SELECT memory_id, kind, created, importance, text FROM memories WHERE "
                        "owner = ? AND created <= ? AND memory_id <= ? AND memory_id > ? "
                        "ORDER BY memory_id DESC LIMIT ?", (*window, RECENT_MEMORIES))
    parts: list[Any] = []
    if not recent.empty:
        parts += ["recent memories", pd.DataFrame({
            "when": recent["created"].map(clock_text), "kind": recent["kind"],
            "importance": recent["importance"], "memory": recent["text"]})]
    reflections = view.frame("SELECT memory_id, created, text FROM memories WHERE owner = ? "
                             "AND created <= ? AND memory_id <= ? AND memory_id > ? AND kind = "
                             "'reflection' ORDER BY memory_id DESC LIMIT 3", window)
    for memory_id, created, text in reflections.itertuples(index=False):
        evidence = view.rows("SELECT m.text FROM memory_evidence e JOIN memories m ON "
                             "m.memory_id = e.evidence_id WHERE e.memory_id = ? AND e.relation "
                             "= 'evidence' ORDER BY e.position", (int(memory_id),))
        parts.append(f"reflection ({clock_text(created)}): {text}\n"
                     + "\n".join(f"  because: {line}" for (line,) in evidence))
    return parts


PANELS = (
    ViewPanel("map", "The town", town_map),
    ViewPanel("resident", "Resident", resident),
    ViewPanel("news", "News spreading", news),
)
