"""The town's analysis on a town built by hand: four residents over two days, whose every
number below was worked out on paper from the rows in `write_town`.

The tiny town: Ana (r1) hosts a party at the café on day 1, 17:00-19:00, and knows of it from
the start; Ben (r2) learns of it from Ana on day 0 at 10:05, Cal (r3) from Ana on day 1 at
09:02; Dee (r4) never does. Dee's own news ('mayor') reaches Ben on day 1 at 11:03.
Conversations: day 0 Ana-Ben; day 1 Ana-Cal, Ben-Dee, Cal-Ana again, Cal-Dee. So 1 of the 6
pairs has talked by the end of day 0 and 4 of 6 by the end of day 1.
"""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from pathlib import Path

import pandas as pd
import pytest

from analysis.run import load
from scenarios.town.measures import (
    attendance,
    attendance_summary,
    density_by_day,
    diffusion,
    positions_at,
    relationships,
    time_use,
)
from scenarios.town.readers import load_town
from scenarios.town.tables import TABLES
from sim.memory.records import MEMORY_TABLES
from sim.store import RunStore

DAY = 1440
NAMES = {"r1": "Ana", "r2": "Ben", "r3": "Cal", "r4": "Dee"}
PARTY = (DAY + 17 * 60, DAY + 19 * 60)  # clock 2460..2580


def _places() -> list[dict]:
    rows = [{"place_id": "t", "name": "Oakton", "parent": None, "level": "town", "kind": "town",
             "x": None, "y": None},
            {"place_id": "t.cafe", "name": "Café", "parent": "t", "level": "area",
             "kind": "cafe", "x": 0.0, "y": 0.0},
            {"place_id": "t.cafe.counter", "name": "counter", "parent": "t.cafe",
             "level": "object", "kind": "cafe", "x": 0.0, "y": 0.0},
            {"place_id": "t.park", "name": "Park", "parent": "t", "level": "area",
             "kind": "park", "x": 10.0, "y": 0.0}]
    for i in range(1, 5):
        rows.append({"place_id": f"t.home{i}", "name": f"home {i}", "parent": "t",
                     "level": "area", "kind": "home", "x": 2.0 * i, "y": 6.0})
    return rows


def _spans() -> list[tuple[str, int, int, str, str]]:
    """(agent, clock_start, clock_end, place, activity); each resident's two days."""
    spans = []
    for i, agent in enumerate(NAMES, start=1):
        home = f"t.home{i}"
        spans += [(agent, 0, 420, home, "sleep"), (agent, 420, 1020, "t.park", "work"),
                  (agent, 1020, 1320, home, "eat"),
                  (agent, 1320, 1860, home, "sleep"),  # across midnight: 120 + 420 minutes
                  (agent, 2760, 2880, home, "sleep")]
    spans += [  # day 1, 07:00-22:00
        ("r1", 1860, 2450, "t.cafe.counter", "work"), ("r1", 2450, 2610, "t.cafe.counter",
                                                       "party"),
        ("r1", 2610, 2760, "t.home1", "eat"),
        ("r2", 1860, 2440, "t.park", "work"), ("r2", 2440, 2460, "t.cafe", "walk"),
        ("r2", 2460, 2520, "t.cafe", "party"), ("r2", 2520, 2760, "t.home2", "eat"),
        ("r3", 1860, 2430, "t.park", "work"), ("r3", 2430, 2470, "t.cafe", "party"),
        ("r3", 2470, 2480, "t.park", "walk"), ("r3", 2480, 2760, "t.park", "work"),
        ("r4", 1860, 2570, "t.park", "work"), ("r4", 2570, 2580, "t.cafe", "walk"),
        ("r4", 2580, 2640, "t.cafe", "eat"), ("r4", 2640, 2760, "t.home4", "eat"),
    ]
    return spans


#: (id, day, start, end, place, initiator, partner, utterances)
TALKS = [("c1", 0, 600, 610, "t.cafe", "r1", "r2", 3), ("c2", 1, 540, 545, "t.park", "r1", "r3", 2),
         ("c3", 1, 660, 665, "t.park", "r2", "r4", 2), ("c4", 1, 900, 905, "t.park", "r3", "r1", 2),
         ("c5", 1, 960, 965, "t.park", "r3", "r4", 2)]


def write_town(run_dir: Path, seed: int = 0, **config: object) -> Path:
    """A run directory like a real town run's: config.json and a finished run.sqlite."""
    resolved = {"scenario": "town", "seed": seed, "days": 2, "attendance_minutes": 15, **config}
    run_dir.mkdir(parents=True)
    (run_dir / "config.json").write_text(json.dumps(resolved), encoding="utf-8")
    store = RunStore(run_dir / "run.sqlite")
    for name, columns in {**TABLES, **MEMORY_TABLES}.items():
        store.define_table(name, columns)
    store.set_meta("scenario", "town")
    store.set_meta("seed", str(seed))
    store.set_meta("config", resolved)
    store.set_meta("status", "finished")
    store.insert("agents", [{"agent_id": a, "generation": 0, "brain": "rule", "kind": "rule",
                             "model": None, "params": "{}", "parents": "[]"} for a in NAMES])
    store.insert("places", _places())
    store.insert("residents", [
        {"agent_id": a, "name": n, "occupation": "barista" if a == "r1" else "gardener",
         "home": f"t.home{i}", "persona": f"{n} likes the town.", "generation": 0,
         "first_day": 0, "last_day": None} for i, (a, n) in enumerate(NAMES.items(), start=1)])
    store.insert("activities", [
        {"day": start // DAY, "start_minute": start % DAY, "end_minute": end - start // DAY * DAY,
         "clock_start": start, "clock_end": end, "agent_id": agent, "place_id": place,
         "activity": activity, "description": f"{NAMES[agent]} {activity}s", "source": "rule"}
        for agent, start, end, place, activity in _spans()])
    store.insert("conversations", [
        {"conversation_id": c, "day": d, "start_minute": s, "end_minute": e, "place_id": p,
         "initiator": a, "partner": b, "turns": n, "ended_by": b}
        for c, d, s, e, p, a, b, n in TALKS])
    store.insert("utterances", [
        {"conversation_id": c, "turn": t, "day": d, "minute": s + t,
         "speaker": a if t % 2 == 0 else b, "listener": b if t % 2 == 0 else a,
         "text": f"{c} line {t}" + (" - come to my party!" if c == "c1" and t == 0 else ""),
         "source": "rule"}
        for c, d, s, _, _, a, b, n in TALKS for t in range(n)])
    store.insert("intentions", [
        {"topic": "party", "agent_id": "r1", "kind": "event", "description": "party at the café",
         "place_id": "t.cafe", "day": 1, "start_minute": 17 * 60, "end_minute": 19 * 60},
        {"topic": "mayor", "agent_id": "r4", "kind": "announcement",
         "description": "Dee runs for mayor", "place_id": None, "day": None,
         "start_minute": None, "end_minute": None}])
    store.insert("knowledge", [
        _knows("party", "r1", 0, None, None), _knows("party", "r2", 605, "r1", "c1"),
        _knows("party", "r3", DAY + 542, "r1", "c2"), _knows("mayor", "r4", 0, None, None),
        _knows("mayor", "r2", DAY + 663, "r4", "c3")])
    store.insert("attendance", [  # as the run records it; `planned`: had made a plan to go
        {"topic": "party", "agent_id": a, "present": int(a in ("r1", "r2")),
         "knew": int(a != "r4"), "minutes_present": m, "planned": int(a != "r4")}
        for a, m in (("r1", 120), ("r2", 60), ("r3", 10), ("r4", 0))])
    store.insert("plans", [
        {"day": 1, "agent_id": "r1", "level": level, "start_minute": start, "duration": length,
         "description": text, "place_id": place, "revision": revision, "source": "rule"}
        for level, start, length, text, place, revision in [
            ("day", 420, 900, "Work at the café, then host the party", None, 0),
            ("hour", 1020, 120, "Host the party", "t.cafe", 0),
            ("action", 1020, 15, "Set out the cups", "t.cafe.counter", 0),
            ("action", 1035, 15, "Greet the guests", "t.cafe", 0),
            ("hour", 420, 600, "Serve coffee", "t.cafe.counter", 0),
            ("day", 900, 300, "Tidy up early, then the party", None, 1)]])
    store.insert("summaries", [  # the latest of them is what `inspect` shows
        {"day": d, "minute": 0, "clock": d * DAY, "agent_id": "r1", "source": "rule",
         "text": f"Core characteristics: warm\nCurrently: {now}"}
        for d, now in ((0, "serving coffee"), (1, "hosting the party"))])
    store.insert("memories", [{"memory_id": 1, "owner": "r1", "generation": 0,
                               "kind": "observation", "text": "Ben came by the café",
                               "importance": 3, "created": 600.0, "origin": None,
                               "embedding": None}])
    store.commit()
    store.close()
    return run_dir


def _knows(topic: str, agent: str, clock: int, source: str | None, talk: str | None) -> dict:
    return {"topic": topic, "agent_id": agent, "day": clock // DAY, "minute": clock % DAY,
            "clock": clock, "source_agent": source, "conversation_id": talk,
            "how": "seeded" if source is None else "conversation"}


@pytest.fixture(scope="module")
def town_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_town(tmp_path_factory.mktemp("town") / "run")


@pytest.fixture(scope="module")
def town(town_run: Path):
    return load_town(load(town_run))


def test_the_run_covers_two_days(town) -> None:
    assert (town.days, town.hours, town.end_clock) == (2, 48, 2 * DAY)
    assert town.topics == ["party", "mayor"]


def test_diffusion_counts_who_knew_by_the_end_of_each_hour(town) -> None:
    curve = diffusion(town.knowledge, town.residents, 48, ["party", "mayor"])
    party = curve[curve["topic"] == "party"].set_index("hour")
    # Ben learned at 10:05 (clock 605): not by the end of hour 9 (clock 600), by hour 10's
    assert party.loc[9, "knowing"] == 1 and party.loc[10, "knowing"] == 2
    # Cal learned at clock 1982: hour 32 ends at 1980, hour 33 at 2040
    assert party.loc[32, "knowing"] == 2 and party.loc[33, "knowing"] == 3
    assert party.loc[47, "share"] == pytest.approx(3 / 4)
    assert set(party["present"]) == {4}
    mayor = curve[curve["topic"] == "mayor"].set_index("hour")
    assert mayor.loc[23, "share"] == pytest.approx(1 / 4)  # end of day 0: Dee alone
    assert mayor.loc[47, "share"] == pytest.approx(2 / 4)  # Ben, from Dee on day 1


def test_diffusion_counts_only_residents_in_town(town) -> None:
    residents = town.residents.copy()
    residents.loc[residents["agent_id"] == "r4", "first_day"] = 1  # Dee arrives on day 1
    curve = diffusion(town.knowledge, residents, 48, ["party"]).set_index("hour")
    assert curve.loc[23, ["present", "knowing"]].tolist() == [3, 2]  # Ana, Ben of 3
    assert curve.loc[47, ["present", "knowing"]].tolist() == [4, 3]


def test_density_per_day_is_pairs_who_talked_over_all_pairs(town) -> None:
    density = density_by_day(town.conversations, town.residents, 2)
    assert density["talked"].tolist() == [1, 4]
    assert density["pairs"].tolist() == [6, 6]
    assert density["density"].tolist() == pytest.approx([1 / 6, 4 / 6])
    gone = town.residents.copy()
    gone.loc[gone["agent_id"] == "r4", "last_day"] = 0  # Dee leaves after day 0
    # day 1 among Ana, Ben, Cal: Ana-Ben, Ana-Cal of 3 pairs (Ben-Dee, Cal-Dee no longer count)
    assert density_by_day(town.conversations, gone, 2)["density"].tolist() == pytest.approx(
        [1 / 6, 2 / 3])


def test_relationships_are_undirected_and_weighted(town) -> None:
    edges = relationships(town.conversations, town.utterances).set_index(["a", "b"])
    assert sorted(edges.index) == [("r1", "r2"), ("r1", "r3"), ("r2", "r4"), ("r3", "r4")]
    # Ana-Cal talked twice (c2 started by Ana, c4 by Cal): 2 + 2 utterances
    assert edges.loc[("r1", "r3"), ["conversations", "utterances"]].tolist() == [2, 4]
    assert edges.loc[("r1", "r2"), "utterances"] == 3
    assert edges.loc[("r1", "r3"), "first_clock"] == DAY + 540
    assert len(relationships(town.conversations, up_to_day=0)) == 1


def test_attendance_from_spans_at_the_party_time(town) -> None:
    table = attendance(town.intentions, town.activities, town.knowledge, town.residents,
                       min_minutes=15).set_index("agent_id")
    # Ana: party span 16:50-19:30 -> the whole window, 120 minutes. Ben: walked in 16:40-17:00
    # (travel does not count), there 17:00-18:00 -> 60. Cal: at the café 16:30-17:10, left
    # early -> 10 minutes, under 15. Dee: walked up at 18:50, at the café from 19:00, after
    # the window -> 0.
    assert table["minutes_present"].to_dict() == {"r1": 120, "r2": 60, "r3": 10, "r4": 0}
    assert table["present"].to_dict() == {"r1": 1, "r2": 1, "r3": 0, "r4": 0}
    assert table["knew"].to_dict() == {"r1": 1, "r2": 1, "r3": 1, "r4": 0}
    summary = attendance_summary(town.intentions, table.reset_index()).iloc[0]
    assert summary[["guests", "knew", "came", "knew_and_came", "knew_not_came",
                    "came_not_knowing"]].tolist() == [3, 2, 1, 1, 1, 0]
    assert summary["host_present"] and summary["when"] == "day 2 17:00-19:00"
    # the run's record of who had planned to go: Cal planned to but left early
    planned = attendance_summary(town.intentions, town.attendance()).iloc[0]
    assert planned[["knew_no_plan", "planned_not_came"]].tolist() == [0, 1]
    assert "knew_no_plan" not in summary  # unknown without the run's record
    # with a 5-minute threshold Cal's 10 minutes count
    loose = attendance(town.intentions, town.activities, town.knowledge, town.residents, 5)
    assert loose.set_index("agent_id").loc["r3", "present"] == 1


def test_time_use_splits_spans_at_midnight(town) -> None:
    use = time_use(town.activities, town.residents).set_index(["day", "activity"])
    assert use.loc[(0, "sleep"), "minutes"] == 4 * (420 + 120)
    assert use.loc[(1, "sleep"), "minutes"] == 4 * (420 + 120)
    assert use.loc[(1, "party"), "minutes"] == 160 + 60 + 40
    assert use.loc[(1, "walk"), "minutes"] == 20 + 10 + 10
    assert use.loc[(1, "work"), "per_resident"] == pytest.approx((590 + 580 + 850 + 710) / 4)
    assert use.groupby(level="day")["minutes"].sum().tolist() == [4 * DAY, 4 * DAY]


def test_positions_at_a_chosen_time(town) -> None:
    at = positions_at(town.activities, town.residents, PARTY[0] + 5).set_index("agent_id")
    assert at["place_id"].to_dict() == {"r1": "t.cafe.counter", "r2": "t.cafe",
                                        "r3": "t.cafe", "r4": "t.park"}
    assert at.loc["r2", "activity"] == "party"
    # a span's end is exclusive: at 17:00 Ben is no longer walking but at the party
    assert positions_at(town.activities, town.residents, PARTY[0]).set_index(
        "agent_id").loc["r2", "activity"] == "party"
    assert town.positions().equals(positions_at(town.activities, town.residents, PARTY[0]))


def test_figures_of_a_run_stopped_before_any_town_rows_say_no_data(tmp_path: Path) -> None:
    from scenarios.town.figures import DRAWINGS

    run_dir = tmp_path / "empty"
    run_dir.mkdir()
    store = RunStore(run_dir / "run.sqlite")
    store.set_meta("scenario", "town")
    store.commit()
    store.close()
    town = load_town(load(run_dir))
    for name, draw in DRAWINGS.items():
        texts = [t.get_text() for t in draw(town).axes[0].texts]
        assert "no data recorded" in texts, name


def test_headline_series(town_run: Path) -> None:
    from scenarios.town.analysis import knows_share, network_density

    run = load(town_run)
    assert knows_share(run)["value"].tolist() == pytest.approx([2 / 4, 3 / 4])
    assert network_density(run)["value"].tolist() == pytest.approx([1 / 6, 4 / 6])


@pytest.fixture
def town_known(monkeypatch: pytest.MonkeyPatch) -> None:
    """Runs of scenario 'town' resolve to the town's analysis (on a branch where the town
    scenario itself is not registered yet, through a spec that declares only the analysis)."""
    from sim import registry

    if "town" in registry.scenario_names():
        return
    from sim.config import RunConfig
    from sim.world import World

    spec = registry.ScenarioSpec(name="town", summary="the town's analysis only",
                                 config_type=RunConfig, model=World,
                                 analysis="scenarios.town.analysis:ANALYSIS")
    real = registry.get_scenario
    monkeypatch.setattr("analysis.run.get_scenario",
                        lambda name: spec if name == "town" else real(name))


def test_inspect_shows_plans_memories_and_conversations(town_run: Path, town_known, capsys
                                                        ) -> None:
    from sim.cli import main

    assert main(["inspect", str(town_run), "--agent", "r1"]) == 0
    out = capsys.readouterr().out
    assert "Ana, barista; home t.home1" in out
    assert "learned of 'party' at day 1 00:00: seeded" in out
    assert "summary of themselves at day 2 00:00:\n    Core characteristics: warm\n    " \
           "Currently: hosting the party" in out
    plans = out[out.index("day plans"):out.index("conversations:")]
    # in time order, each level inside the one above it and indented one step further
    assert plans.index("\n    07:00-22:00 Work at the café") \
        < plans.index("\n      07:00-17:00 Serve coffee") \
        < plans.index("\n      17:00-19:00 Host the party @ t.cafe") \
        < plans.index("\n        17:00-17:15 Set out the cups") \
        < plans.index("\n        17:15-17:30 Greet the guests @ t.cafe") \
        < plans.index("day 2, replan 1:\n    15:00-20:00 Tidy up early")
    talks = out[out.index("conversations:"):]
    assert "c1: day 1 10:00-10:10 at t.cafe with r2 (Ben), they began, 3 turns" in talks
    assert "10:00 Ana: c1 line 0 - come to my party!" in talks
    assert talks.index("10:01 Ben: c1 line 1") < talks.index("c2: day 2 09:00")
    assert "Ben came by the café" in out  # the memory view is still there


def test_inspect_limit_shortens_plans_and_conversations(town_run: Path, town_known) -> None:
    from analysis.inspect import describe_agent

    out = describe_agent(town_run, "r1", limit=1)
    assert "(2 earlier conversations not shown" in out
    assert "(1 later actions not shown" in out
    assert "c4: day 2 15:00" in out and "c1: day 1" not in out


def test_inspect_of_a_newcomer_says_what_it_inherited_and_shows_no_nan(tmp_path: Path,
                                                                        town_known) -> None:
    from analysis.inspect import describe_agent

    run = write_town(tmp_path / "run")
    with closing(sqlite3.connect(run / "run.sqlite")) as db:  # Cal inherits Dee's news
        db.execute("INSERT INTO knowledge (topic, agent_id, day, minute, clock, source_agent, "
                   "conversation_id, how) VALUES ('mayor', 'r3', 1, 0, ?, 'r4', NULL, "
                   "'inherited')", (DAY,))
        db.executemany("INSERT INTO memories (memory_id, owner, generation, kind, text, "
                       "importance, created, origin) VALUES (?, 'r3', 1, ?, ?, 6, ?, ?)", [
                           (2, "inherited", "Dee runs for mayor", DAY, "r4"),
                           (3, "reflection", "Dee would make a good mayor", DAY + 60, None)])
        db.commit()
    out = describe_agent(run, "r3")
    assert "learned of 'mayor' at day 2 00:00: inherited from r4 (Dee)" in out
    assert "#2 t=1440 importance 6 from r4: Dee runs for mayor" in out
    assert "#3 t=1500 importance 6: Dee would make a good mayor" in out
    assert "nan" not in out


def test_a_report_refuses_two_runs_of_one_name_instead_of_merging_them(tmp_path: Path,
                                                                         town_known,
                                                                         capsys) -> None:
    """Two conditions run in the same second with the same seed get the same directory name
    under their own parents (`--out runs/full`, `--out runs/no_reflection`)."""
    from sim.cli import main

    full = write_town(tmp_path / "full" / "town-20261207-170550-s0")
    lean = write_town(tmp_path / "lean" / "town-20261207-170550-s0",
                      architecture={"preset": "lean"})
    assert main(["report", str(full), str(lean), "--out", str(tmp_path / "r.html")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "two runs share the name town-20261207-170550-s0" in err[0]
    assert not (tmp_path / "r.html").exists()


def test_report_section_tables_and_groups(tmp_path: Path, town_known) -> None:
    from analysis.report import write_report
    from analysis.scenario import report_context
    from scenarios.town.analysis import information_section

    runs = [write_town(tmp_path / f"run{i}", seed=i, chat_probability=p)
            for i, p in enumerate([0.2, 0.2, 0.5])]
    loaded = [load(r) for r in runs]
    parts = information_section(loaded, report_context(loaded))
    sentences = [p for p in parts if isinstance(p, str)]
    assert "chat_probability=0.2 (2 runs): means across the runs' seeds." in sentences
    assert "chat_probability=0.5 (1 run)." in sentences
    tables = [p for p in parts if isinstance(p, pd.DataFrame)]
    one_run = tables[3]  # the second group's diffusion table
    assert one_run.loc["party", "end of day 2"] == "3/4 (75%)"
    assert tables[0].loc["mayor", "end of day 1"] == "25% (25%–25%)"
    assert tables[4].loc[("run2", "party"), "knew_not_came"] == 1
    html = write_report([runs[2]]).read_text(encoding="utf-8")
    assert "Information and relationships" in html and "3/4 (75%)" in html
    assert "network density" in html.lower() and html.count("data:image/png") >= 8


def test_a_real_town_run_is_measured_as_it_measured_itself(tmp_path: Path) -> None:
    """`societas run town` with rule brains: the runner draws the five figures, and the
    analysis, reading only the tables, agrees with the metrics the simulation recorded as it
    ran (its knows_share at the start of hour h+1 is the share at the end of hour h)."""
    from analysis.inspect import describe_agent
    from scenarios.town import SCENARIO
    from scenarios.town.config import TownConfig
    from scenarios.town.figures import FIGURE_FILES
    from sim import load_config
    from sim.runs.runner import RunOptions, run_scenario

    config = load_config(TownConfig, values={"residents": 4, "days": 2, "seed": 3})
    result = run_scenario(SCENARIO, config, run_dir=tmp_path / "run",
                          options=RunOptions(progress=False))
    assert sorted(p.name for p in result.figures) == sorted(FIGURE_FILES)
    for path in result.figures:
        assert path.parent == tmp_path / "run" / "figures"
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 5000
    run = load(tmp_path / "run")
    town = load_town(run)
    metrics = run.metrics
    recorded = metrics[metrics["name"] == "network_density"].sort_values("step")
    assert town.density()["density"].tolist() == pytest.approx(recorded["value"].tolist())
    curve = town.diffusion()
    for topic in town.topics:
        theirs = metrics[metrics["name"] == f"knows_share:{topic}"].set_index("step")["value"]
        mine = curve[curve["topic"] == topic].set_index("hour")["share"]
        assert mine.iloc[:-1].tolist() == pytest.approx(theirs.loc[1:].tolist())
    ours = town.attendance().set_index("agent_id")
    stored = run.table("attendance").set_index("agent_id").loc[ours.index]
    assert ours[["present", "knew", "minutes_present"]].astype(int).equals(
        stored[["present", "knew", "minutes_present"]].astype(int))
    assert town.time_use().groupby("day")["minutes"].sum().tolist() == [4 * DAY, 4 * DAY]
    host = town.intentions["agent_id"].iloc[0]
    view = describe_agent(tmp_path / "run", host, limit=5)
    assert "day 1, morning plan:" in view and "conversations:" in view
