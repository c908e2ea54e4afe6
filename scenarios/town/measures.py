"""What a town run measures: who knew what and when, who came, who talked with whom, how the
residents spent their days, and where everyone was at a given minute.

Every metric is a plain function of the run's tables (pandas frames, as `analysis.load` gives
them), so the same code measures a finished run, one still being written, several runs pooled,
or a hand-made table in a test (`scenarios.town.readers.load_town` reads a run's tables once).
The tables and their columns are the town's store contract; times are a `day` (0-based) and a
`minute` of that day, or a `clock` in simulated minutes since day 0 00:00
(`clock = day * 1440 + minute`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd

if TYPE_CHECKING:
    import networkx as nx

MINUTES_PER_DAY = 1440
#: Minutes at the event's place, during its window, that count as having come (the run's
#: `attendance_minutes` config key overrides it).
DEFAULT_ATTENDANCE_MINUTES = 15
#: A resident on the way to a place is not there yet: travel spans never count as presence.
TRAVEL = "walk"

def clock_text(clock: float) -> str:
    """'day 2 17:05' for clock 2465: how the figures and tables name a moment (days counted
    from 1, as the residents and the progress line count them; the store counts from 0)."""
    clock = int(clock)
    day, minute = divmod(clock, MINUTES_PER_DAY)
    return f"day {day + 1} {minute // 60:02d}:{minute % 60:02d}"


def minute_text(minute: float) -> str:
    """'17:05' for minute 1025 of a day."""
    minute = int(minute)
    return f"{minute // 60:02d}:{minute % 60:02d}"


def _numbers(column: pd.Series) -> pd.Series:
    return pd.to_numeric(column, errors="coerce")


def clocks(frame: pd.DataFrame, clock: str = "clock", day: str = "day",
           minute: str = "minute") -> pd.Series:
    """The `clock` column, filled from `day` and `minute` where a row left it empty."""
    from_day = _numbers(frame[day]) * MINUTES_PER_DAY + _numbers(frame[minute])
    if clock in frame:
        return _numbers(frame[clock]).fillna(from_day)
    return from_day


def present_on(residents: pd.DataFrame, day: int) -> list[str]:
    """The residents living in town on `day`: arrived on or before it (`first_day`) and not
    gone before it (`last_day`, inclusive; empty while they still live there)."""
    return in_town(residents)(day)


def in_town(residents: pd.DataFrame) -> Callable[[int], list[str]]:
    """`present_on` for many days: the residents' stays read once, each day's list kept."""
    stays = [(str(agent), 0 if math.isnan(first) else first, last) for agent, first, last in
             zip(residents["agent_id"], _numbers(residents["first_day"]).astype(float),
                 _numbers(residents["last_day"]).astype(float), strict=True)]
    days: dict[int, list[str]] = {}

    def present(day: int) -> list[str]:
        if day not in days:
            days[day] = [agent for agent, first, last in stays
                         if first <= day and (math.isnan(last) or last >= day)]
        return days[day]

    return present


def topics_of(intentions: pd.DataFrame, knowledge: pd.DataFrame) -> list[str]:
    """Topics in the order the config seeded them, then any only the knowledge table names."""
    seen = list(dict.fromkeys(intentions["topic"].astype(str)))
    return seen + [t for t in dict.fromkeys(knowledge["topic"].astype(str)) if t not in seen]


def diffusion(knowledge: pd.DataFrame, residents: pd.DataFrame, hours: int,
              topics: Sequence[str] | None = None) -> pd.DataFrame:
    """Per topic and simulated hour: of the residents living in town that day, how many knew
    by the END of the hour (learned at clock < (hour + 1) * 60), and their share.

    Columns: topic, hour (since day 0 00:00), day, hour_of_day, present, knowing, share (NaN
    for an hour with nobody in town).
    """
    learned_at = clocks(knowledge)
    topics = list(topics) if topics is not None else list(
        dict.fromkeys(knowledge["topic"].astype(str)))
    rows = []
    present_on_day = in_town(residents)
    for topic in topics:
        mine = knowledge["topic"].astype(str) == topic
        learned = dict(zip(knowledge.loc[mine, "agent_id"].astype(str), learned_at[mine],
                           strict=True))
        for hour in range(hours):
            day = hour // 24
            present = present_on_day(day)
            end = (hour + 1) * 60
            knowing = sum(1 for agent in present if learned.get(agent, math.inf) < end)
            rows.append({"topic": topic, "hour": hour, "day": day, "hour_of_day": hour % 24,
                         "present": len(present), "knowing": knowing,
                         "share": knowing / len(present) if present else math.nan})
    return pd.DataFrame(rows, columns=["topic", "hour", "day", "hour_of_day", "present",
                                       "knowing", "share"])


def events(intentions: pd.DataFrame) -> pd.DataFrame:
    """The seeded intentions that happen at a place and time (kind 'event'), with their window
    as clocks: topic, host, description, place_id, day, start, end."""
    rows = intentions[(intentions["kind"] == "event") & _numbers(intentions["day"]).notna()]
    day = _numbers(rows["day"]).astype(int)
    return pd.DataFrame({
        "topic": rows["topic"].astype(str), "host": rows["agent_id"].astype(str),
        "description": rows["description"], "place_id": rows["place_id"].astype(str),
        "day": day, "start": day * MINUTES_PER_DAY + _numbers(rows["start_minute"]).astype(int),
        "end": day * MINUTES_PER_DAY + _numbers(rows["end_minute"]).astype(int),
    }).reset_index(drop=True)


def within(place_ids: pd.Series, place: str) -> pd.Series:
    """Whether each place is `place` or lies inside it (its counter, its tables)."""
    ids = place_ids.astype(str)
    return (ids == place) | ids.str.startswith(place + ".")


def attendance(intentions: pd.DataFrame, activities: pd.DataFrame, knowledge: pd.DataFrame,
               residents: pd.DataFrame,
               min_minutes: int = DEFAULT_ATTENDANCE_MINUTES) -> pd.DataFrame:
    """For every event and every resident living in town that day: minutes spent at the
    event's place (or inside it) during its window, from the activity spans (travel excluded),
    whether that makes them present (at least `min_minutes`, or the whole window when it is
    shorter), and whether they knew before it started.

    Columns: topic, agent_id, host (0/1), knew, learned (clock, NaN if never), minutes_present,
    present.
    """
    spans_start, spans_end = _numbers(activities["clock_start"]), _numbers(activities["clock_end"])
    learned_at = clocks(knowledge)
    rows = []
    for event in events(intentions).itertuples(index=False):
        need = min(min_minutes, event.end - event.start)
        at_place = within(activities["place_id"], event.place_id) & (
            activities["activity"] != TRAVEL)
        overlap = (spans_end.clip(upper=event.end) - spans_start.clip(lower=event.start)).clip(
            lower=0)
        minutes = overlap[at_place].groupby(activities.loc[at_place, "agent_id"].astype(str)).sum()
        mine = knowledge["topic"].astype(str) == event.topic
        learned = dict(zip(knowledge.loc[mine, "agent_id"].astype(str), learned_at[mine],
                           strict=True))
        for agent in present_on(residents, event.day):
            spent = int(minutes.get(agent, 0))
            when = learned.get(agent, math.nan)
            rows.append({"topic": event.topic, "agent_id": agent,
                         "host": int(agent == event.host),
                         "knew": int(when < event.start), "learned": when,
                         "minutes_present": spent, "present": int(spent >= need > 0)})
    return pd.DataFrame(rows, columns=["topic", "agent_id", "host", "knew", "learned",
                                       "minutes_present", "present"])


def attendance_summary(intentions: pd.DataFrame, table: pd.DataFrame) -> pd.DataFrame:
    """Per event, the guests' side (everyone but the host), as the paper counts its party:
    residents, knew, came, knew and came, knew but did not come, came without knowing, and
    whether the host was there; where `table` says who had planned to go (`planned`), also
    those who knew but made no plan to go, and those who planned to but did not come."""
    rows = []
    for event in events(intentions).itertuples(index=False):
        mine = table[table["topic"] == event.topic]
        guests = mine[mine["host"] == 0]
        host = mine[mine["host"] == 1]
        knew, came = guests["knew"] == 1, guests["present"] == 1
        rows.append({
            "topic": event.topic, "host": event.host, "place": event.place_id,
            "when": f"{clock_text(event.start)}-{minute_text(event.end % MINUTES_PER_DAY)}",
            "guests": len(guests), "knew": int(knew.sum()), "came": int(came.sum()),
            "knew_and_came": int((knew & came).sum()),
            "knew_not_came": int((knew & ~came).sum()),
            "came_not_knowing": int((~knew & came).sum()),
            "host_present": bool(host["present"].eq(1).any()),
        })
        if "planned" in guests and guests["planned"].notna().any():
            planned = guests["planned"] == 1
            rows[-1] |= {"knew_no_plan": int((knew & ~planned).sum()),
                         "planned_not_came": int((planned & ~came).sum())}
    columns = ["topic", "host", "place", "when", "guests", "knew", "came", "knew_and_came",
               "knew_not_came", "came_not_knowing", "host_present"]
    extra = [c for c in ("knew_no_plan", "planned_not_came") if any(c in r for r in rows)]
    return pd.DataFrame(rows, columns=columns + extra)


def relationships(conversations: pd.DataFrame, utterances: pd.DataFrame | None = None,
                  up_to_day: int | None = None) -> pd.DataFrame:
    """Who talked with whom (undirected): per pair a, b (a < b), the conversations they held,
    the utterances spoken in them (from `utterances`, else the conversations' `turns`), and
    when they first talked (first_clock). Only conversations on or before `up_to_day` when
    given."""
    talks = conversations
    if up_to_day is not None:
        talks = talks[_numbers(talks["day"]) <= up_to_day]
    columns = ["a", "b", "conversations", "utterances", "first_clock"]
    if talks.empty:
        return pd.DataFrame(columns=columns)
    if utterances is not None and not utterances.empty:
        spoken = utterances.groupby(utterances["conversation_id"].astype(str)).size()
        said = talks["conversation_id"].astype(str).map(spoken).fillna(0)
    else:
        said = _numbers(talks["turns"]).fillna(0)
    one, other = talks["initiator"].astype(str), talks["partner"].astype(str)
    pairs = pd.DataFrame({
        "a": one.where(one < other, other), "b": other.where(one < other, one),
        "utterances": said.astype(int),
        "clock": _numbers(talks["day"]) * MINUTES_PER_DAY + _numbers(talks["start_minute"]),
    })
    edges = pairs.groupby(["a", "b"], as_index=False).agg(
        conversations=("clock", "size"), utterances=("utterances", "sum"),
        first_clock=("clock", "min"))
    return edges[columns]


def relationship_graph(edges: pd.DataFrame, residents: Sequence[str]) -> nx.Graph:
    """The relationship network: every resident a node (even one who never talked), every pair
    who talked an edge weighted by `conversations` and `utterances`."""
    import networkx as nx

    graph = nx.Graph()
    graph.add_nodes_from(residents)
    for edge in edges.itertuples(index=False):
        graph.add_edge(edge.a, edge.b, conversations=int(edge.conversations),
                       utterances=int(edge.utterances), weight=int(edge.conversations))
    return graph


def density_by_day(conversations: pd.DataFrame, residents: pd.DataFrame,
                   days: int) -> pd.DataFrame:
    """Network density at the end of each day: of all pairs of residents living in town that
    day, the share who have talked at least once up to the end of it (undirected).

    Columns: day, residents, pairs, talked, density (NaN with fewer than two residents).
    """
    rows = []
    present_on_day = in_town(residents)
    everyone = relationships(conversations)
    for day in range(days):
        present = set(present_on_day(day))
        edges = everyone[everyone["first_clock"] < (day + 1) * MINUTES_PER_DAY]
        talked = int((edges["a"].isin(present) & edges["b"].isin(present)).sum())
        pairs = len(present) * (len(present) - 1) // 2
        rows.append({"day": day, "residents": len(present), "pairs": pairs, "talked": talked,
                     "density": talked / pairs if pairs else math.nan})
    return pd.DataFrame(rows, columns=["day", "residents", "pairs", "talked", "density"])


def time_use(activities: pd.DataFrame, residents: pd.DataFrame) -> pd.DataFrame:
    """Minutes spent on each activity label per day, summed over residents and per resident
    living in town that day; a span that runs past midnight counts on both days.

    Columns: day, activity, minutes, residents, per_resident.
    """
    totals: dict[tuple[int, str], int] = {}
    starts, ends = _numbers(activities["clock_start"]), _numbers(activities["clock_end"])
    for start, end, label in zip(starts, ends, activities["activity"].astype(str), strict=True):
        if math.isnan(start) or math.isnan(end):
            continue
        start, end = int(start), int(end)
        for day in range(start // MINUTES_PER_DAY, (end - 1) // MINUTES_PER_DAY + 1):
            lo = max(start, day * MINUTES_PER_DAY)
            hi = min(end, (day + 1) * MINUTES_PER_DAY)
            if hi > lo:
                totals[day, label] = totals.get((day, label), 0) + hi - lo
    frame = pd.DataFrame([{"day": d, "activity": a, "minutes": m}
                          for (d, a), m in sorted(totals.items())],
                         columns=["day", "activity", "minutes"])
    present_on_day = in_town(residents)
    frame["residents"] = [len(present_on_day(int(d))) for d in frame["day"]]
    frame["per_resident"] = frame["minutes"] / frame["residents"].where(frame["residents"] > 0)
    return frame


def positions_at(activities: pd.DataFrame, residents: pd.DataFrame, clock: int) -> pd.DataFrame:
    """Where every resident living in town was at `clock`: the span with clock_start <= clock
    < clock_end (a resident walking is placed at the destination, activity 'walk'); a resident
    with no span then has an empty place.

    Columns: agent_id, name, place_id, activity, description.
    """
    now = activities[(_numbers(activities["clock_start"]) <= clock)
                     & (clock < _numbers(activities["clock_end"]))]
    now = now.drop_duplicates("agent_id", keep="last")
    now = now.set_index(now["agent_id"].astype(str))
    names = dict(zip(residents["agent_id"].astype(str), residents["name"], strict=True))
    rows = []
    for agent in present_on(residents, clock // MINUTES_PER_DAY):
        span = now.loc[agent] if agent in now.index else None
        rows.append({"agent_id": agent, "name": names.get(agent, agent),
                     "place_id": None if span is None else span["place_id"],
                     "activity": None if span is None else span["activity"],
                     "description": None if span is None else span["description"]})
    return pd.DataFrame(rows, columns=["agent_id", "name", "place_id", "activity",
                                       "description"])


def locator(places: pd.DataFrame) -> Callable[[Any], tuple[float, float] | None]:
    """place id -> its map coordinates; a place without its own (or not in `places`) takes
    those of the nearest enclosing place that has them (by its dotted path)."""
    known = {str(p): (float(x), float(y)) for p, x, y in
             zip(places["place_id"], _numbers(places["x"]), _numbers(places["y"]), strict=True)
             if not (math.isnan(x) or math.isnan(y))}

    def locate(place: Any) -> tuple[float, float] | None:
        if place is None or (isinstance(place, float) and math.isnan(place)):
            return None
        parts = str(place).split(".")
        while parts:
            key = ".".join(parts)
            if key in known:
                return known[key]
            parts.pop()
        return None

    return locate


def default_map_time(intentions: pd.DataFrame) -> int:
    """The clock the map shows unless asked otherwise: the first event's start, else noon of
    day 0."""
    found = events(intentions)
    return int(found["start"].min()) if not found.empty else 12 * 60
