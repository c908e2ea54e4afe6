"""The generative town: its town file, a day of rule residents (news with a source for every
learner, attendance from positions), determinism, generations, an LLM day through litellm
against the scripted server with a garbage-answering resident, stop/resume/replay, the CLI.
"""

from __future__ import annotations

import itertools
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from run_helpers import checkpoints, query, quiet
from town_helpers import GARBAGE, party, tiny_town, town_player

from analysis.run import load as load_run
from scenarios.town import SCENARIO
from scenarios.town.budget import estimate_usage
from scenarios.town.config import TownConfig
from scenarios.town.model import Town
from scenarios.town.readers import load_town as load_run_town
from scenarios.town.townmap import TownFileError, load_town, parse_town
from sim import Budget, ConfigError, load_config, snapshot
from sim.cli import main
from sim.runs.replay import replay_run
from sim.runs.runner import resume_run, run_scenario
from sim.testing import ScriptedLLMServer


def config(**values: object) -> TownConfig:
    return load_config(TownConfig, values=values)  # type: ignore[return-value]


# -- the town file -----------------------------------------------------------------------------
def test_default_town_is_a_tree_with_travel_times_from_coordinates() -> None:
    town = load_town(None)
    levels = Counter(p.level for p in town.places.values())
    assert levels["town"] == 1 and levels["area"] == 4 and 10 <= levels["place"] <= 14
    assert 8 <= len(town.residents) <= 12 and len(town.newcomers) >= 2
    kettle = town.places["larkfield.market_row.kettle"]
    assert kettle.parent == "larkfield.market_row" and kettle.kind == "cafe"
    assert town.places["larkfield.market_row.kettle.counter"].level == "object"
    # (10, 10) -> (13, 11): sqrt(10) = 3.16 units at 1 minute a unit, rounded up
    assert town.travel_minutes("larkfield.market_row.kettle",
                               "larkfield.market_row.greengrocer") == 4
    assert town.travel_minutes("larkfield.market_row.kettle", "larkfield.market_row.kettle") == 0
    assert all(p.home in town.places and town.places[p.home].kind == "home"
               for p in town.residents)


def _town(places: str, residents: str) -> dict:
    import tomllib

    return tomllib.loads(f'[town]\nid = "t"\n{places}\n{residents}')


PLACES = ('[[places]]\nid = "a"\n[[places]]\nid = "home"\nparent = "a"\n'
          '[[places]]\nid = "cafe"\nparent = "a"\n')
PERSON = '[[residents]]\nid = "{id}"\nhome = "{home}"\n'
TWO = PERSON.format(id="p1", home="home") + PERSON.format(id="p2", home="home")


@pytest.mark.parametrize(("places", "residents", "message"), [
    (PLACES, PERSON.format(id="p1", home="attic") + PERSON.format(id="p2", home="home"),
     "resident 'p1': unknown home 'attic' (places: home, cafe)"),
    (PLACES + '[[places]]\nid = "cafe"\nparent = "a"\n', TWO, "duplicate place id 'cafe'"),
    ('[[places]]\nid = "x"\nparent = "y"\n[[places]]\nid = "y"\nparent = "x"\n', TWO,
     "places form a cycle: x -> y -> x"),
    (PLACES + '[[places]]\nid = "shed"\nparent = "moon"\n', TWO,
     "place 'shed': unknown parent 'moon'"),
    (PLACES + '[[places]]\nid = "deep"\nparent = "cafe"\n', TWO,
     "place 'deep' lies 3 levels below the town"),
    (PLACES, TWO + PERSON.format(id="p1", home="home"), "duplicate resident id 'p1'"),
    (PLACES, TWO.replace('home = "home"\n', 'home = "home"\nwake = "7am"\n', 1),
     "resident 'p1': wake must be a time like \"07:30\", got '7am'"),
    (PLACES, PERSON.format(id="p1", home="a") + PERSON.format(id="p2", home="home"),
     "resident 'p1': home 'a' is an area, not a place"),
    (PLACES.replace('id = "cafe"\n', 'id = "cafe"\nx = inf\n'), TWO,
     "place 'cafe': x must be a finite number (got inf)"),
    (PLACES.replace('id = "a"\n', 'id = "a"\ny = nan\n'), TWO,
     "place 'a': y must be a finite number (got nan)"),
])
def test_malformed_town_files_are_one_clear_line(places: str, residents: str,
                                                 message: str) -> None:
    with pytest.raises(TownFileError) as caught:
        parse_town(_town(places, residents))
    assert str(caught.value).startswith(message) and "\n" not in str(caught.value)


def test_cli_refuses_a_bad_town_file_and_intention_with_status_2(tmp_path: Path,
                                                                   capsys) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(f'[town]\nid = "t"\n{PLACES}{PERSON.format(id="p1", home="attic")}',
                   encoding="utf-8")
    assert main(["run", "town", "--set", f"town_file={bad}", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("societas: error: town file ") and "unknown home 'attic'" in err
    assert len(err.splitlines()) == 1
    assert [p.name for p in tmp_path.iterdir()] == ["bad.toml"]  # refused before any run dir
    bad.write_text(f'[town]\nid = "t"\n{PLACES}x = -inf\n{TWO}', encoding="utf-8")
    assert main(["run", "town", "--set", f"town_file={bad}", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert "place 'cafe': x must be a finite number (got -inf)" in err
    assert len(err.splitlines()) == 1 and [p.name for p in tmp_path.iterdir()] == ["bad.toml"]
    assert main(["run", "town", "--set", "intentions=[{agent='nobody', topic='x', "
                 "kind='announcement', description='is here'}]", "--out",
                 str(tmp_path)]) == 2
    assert "intention 'x': unknown resident 'nobody'" in capsys.readouterr().err
    assert main(["run", "town", "--set", "residents=11", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()  # more people than the town holds: no silent cap
    assert err == ("societas: error: residents = 11 but the town file has only 10 (a larger "
                   "town: town_file = 'brackenford' has 25)")
    assert [p.name for p in tmp_path.iterdir()] == ["bad.toml"]


# -- a rule town -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def rule_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run_dir = tmp_path_factory.mktemp("town") / "run"
    result = run_scenario(SCENARIO, config(days=2, seed=3), run_dir=run_dir, options=quiet())
    assert result.status == "finished"
    return run_dir


def test_every_learner_has_a_source_conversation_with_the_utterance(rule_run: Path) -> None:
    rows = query(rule_run, "SELECT topic, agent_id, day, minute, clock, source_agent, "
                           "conversation_id, how, turn FROM knowledge")
    seeded = [r for r in rows if r[7] == "seeded"]
    assert sorted((r[0], r[1]) for r in seeded) == [("mayor", "ines"), ("party", "mara")]
    learnt = [r for r in rows if r[7] != "seeded"]
    assert len(learnt) >= 5 and len({(r[0], r[1]) for r in rows}) == len(rows)
    for topic, agent, day, minute, clock, source, conversation, how, turn in learnt:
        assert how == "conversation" and clock == day * 1440 + minute
        (initiator, partner, start, end), = query(
            rule_run, "SELECT initiator, partner, clock_start, clock_end FROM conversations "
                      f"WHERE conversation_id = '{conversation}'")
        assert {initiator, partner} == {agent, source} and start <= clock <= end
        (text,), = query(rule_run, "SELECT text FROM utterances WHERE conversation_id = "
                                   f"'{conversation}' AND turn = {turn} AND speaker = "
                                   f"'{source}' AND listener = '{agent}' AND clock = {clock}")
        keywords = {"party": ("party",), "mayor": ("mayor", "election")}[topic]
        assert any(k in text.lower() for k in keywords)
        (knew_from,), = query(rule_run, f"SELECT clock FROM knowledge WHERE topic = '{topic}' "
                                        f"AND agent_id = '{source}'")
        assert knew_from < clock  # the source knew before telling


def test_attendance_is_counted_from_positions_at_the_party_time(rule_run: Path) -> None:
    rows = {r[0]: r[1:] for r in query(
        rule_run, "SELECT agent_id, present, knew, minutes_present FROM attendance")}
    assert len(rows) == 10 and rows["mara"][0] == 1  # the host is there
    # by hand: minutes of mara's and everyone's spans at the Kettle in day 2's 17:00-19:00
    start, end = 1440 + 17 * 60, 1440 + 19 * 60
    for agent, (present, knew, minutes) in rows.items():
        spans = query(rule_run, "SELECT clock_start, clock_end FROM activities WHERE agent_id "
                                f"= '{agent}' AND place_id = 'larkfield.market_row.kettle' "
                                "AND activity != 'walk'")
        by_hand = sum(max(0, min(e, end) - max(s, start)) for s, e in spans)
        assert minutes == by_hand and present == int(by_hand >= 15)
        learnt = query(rule_run, f"SELECT clock FROM knowledge WHERE topic = 'party' AND "
                                 f"agent_id = '{agent}'")
        assert knew == int(bool(learnt) and learnt[0][0] < start)
    assert 0 < sum(r[0] for r in rows.values()) < 10  # some came, not everyone


def test_a_rule_day_covers_everyone_and_writes_every_table(rule_run: Path) -> None:
    # every resident's spans tile the run without gaps or overlaps
    for (agent,) in query(rule_run, "SELECT agent_id FROM residents"):
        spans = query(rule_run, "SELECT clock_start, clock_end FROM activities WHERE agent_id "
                                f"= '{agent}' ORDER BY clock_start")
        assert spans[0][0] == 0 and spans[-1][1] == 2 * 1440
        assert all(a[1] == b[0] for a, b in itertools.pairwise(spans))
    levels = dict(query(rule_run, "SELECT level, COUNT(*) FROM plans GROUP BY level"))
    assert levels["day"] >= 20 and levels["hour"] > levels["day"] and levels["action"] > 500
    metrics = dict(query(rule_run, "SELECT name, COUNT(*) FROM metrics GROUP BY name"))
    assert metrics["knows_share:party"] == 48 and metrics["network_density"] == 2
    density = [v for (v,) in query(rule_run, "SELECT value FROM metrics WHERE name = "
                                             "'network_density' ORDER BY step")]
    assert 0 < density[0] <= density[1] <= 1
    walks = query(rule_run, "SELECT COUNT(*) FROM activities WHERE activity = 'walk'")
    assert walks[0][0] > 20
    kinds = dict(query(rule_run, "SELECT kind, COUNT(*) FROM memories GROUP BY kind"))
    assert {"observation", "action", "conversation", "plan", "reflection"} <= set(kinds)


def test_rule_speakers_tell_news_only_while_it_is_news(rule_run: Path) -> None:
    """Never to the host, never back to whoever told them, never an event after its end."""
    told = query(rule_run, "SELECT speaker, listener, text, clock FROM utterances WHERE text "
                           "LIKE 'Have you heard?%'")
    source = {(a, t): s for t, a, s in query(rule_run, "SELECT topic, agent_id, source_agent "
                                                       "FROM knowledge")}
    hosts = {"party": "mara", "mayor": "ines"}
    assert len(told) >= 5
    for speaker, listener, text, clock in told:
        topic = "party" if "party" in text else "mayor"
        assert listener != hosts[topic] and source.get((speaker, topic)) != listener
        assert topic != "party" or clock < 1440 + 19 * 60  # the party ends on day 2 at 19:00


def test_rule_reflections_ask_about_whole_names_never_fragments(rule_run: Path) -> None:
    names = {n for (n,) in query(rule_run, "SELECT name FROM residents")}
    names |= {n for (n,) in query(rule_run, "SELECT name FROM places WHERE level = 'place'")}
    names |= {"the party", "the mayor", "the election"}
    fragments = {w for n in names if " " in n for w in n.split()}
    subjects = {re.match(r"What do I know about (.+?)\? I recall", t).group(1)  # type: ignore
                for (t,) in query(rule_run, "SELECT text FROM memories WHERE kind = "
                                            "'reflection'")}
    assert len(subjects) >= 5 and subjects & names
    for subject in subjects:
        assert not re.search(r"\d", subject) and subject not in fragments, subject
        assert subject in names or re.fullmatch(r"[a-z]+", subject), subject


def test_objects_fit_their_actions_and_others_see_their_state_while_in_use(
        rule_run: Path) -> None:
    spans = query(rule_run, "SELECT activity, description, object_id, object_state, place_id "
                            "FROM activities WHERE object_id IS NOT NULL")
    assert len(spans) > 100
    for activity, description, obj, state, place in spans:
        assert obj.startswith(place + ".") and state, (description, obj)
        if activity == "eat":  # a meal at a kitchen, a table, a counter or a bar; never a bed
            assert re.search(r"kitchen|table|counter|bar|staff_room", obj), (description, obj)
        if activity == "work" and "lantern" in place:
            assert not obj.endswith("dartboard"), description
    # others perceive the states actions put their objects in (while they last: next test)
    in_use = {f"the {n} at {p} is {s}" for n, p, s in query(
        rule_run, "SELECT o.name, p.name, a.object_state FROM activities a JOIN places o ON "
                  "o.place_id = a.object_id JOIN places p ON p.place_id = a.place_id")}
    seen = {t for (t,) in query(rule_run, "SELECT text FROM memories WHERE kind = "
                                          "'observation' AND text LIKE 'the % at % is %'")}
    assert len(seen) > 20 and seen <= in_use


def test_an_object_is_in_a_state_only_while_its_action_lasts() -> None:
    town = Town(config(days=1, residents=5, seed=4))
    states = 0
    for hour in range(7, 22):
        town.run(until=hour * 60 + 7)
        for obj, (state, user) in town.object_states.items():
            span = town.by_name[user].span
            assert span is not None and span[5:] == (obj, state)  # its user is at it still
        states += len(town.object_states)
    assert states > 10
    town.run_model()
    assert town.object_states == {}  # every action ended: every object idle again


def test_residents_plan_only_places_they_know_and_learn_others(rule_run: Path) -> None:
    known = {(a, p): c for a, p, c in query(rule_run, "SELECT agent_id, place_id, clock FROM "
                                                      "known_places")}
    plans = query(rule_run, "SELECT agent_id, place_id, day, start_minute FROM plans WHERE "
                            "level = 'hour'")
    assert plans
    for agent, place, day, start in plans:
        assert known.get((agent, place), 10**9) <= day * 1440 + start, (agent, place)
    spots = query(rule_run, "SELECT COUNT(*) FROM places WHERE level = 'place'")[0][0]
    at_first = Counter(a for (a, p), c in known.items() if c == 0)
    assert max(at_first.values()) < spots  # nobody starts knowing the whole town


def test_personas_are_seed_memories_and_everyone_describes_themselves_each_morning(
        rule_run: Path) -> None:
    from scenarios.town.resident import persona_clauses

    seeds = query(rule_run, "SELECT owner, text FROM memories WHERE kind = 'thought' AND "
                            "created = 0")
    for agent, persona in query(rule_run, "SELECT agent_id, persona FROM residents"):
        assert {t for o, t in seeds if o == agent} == set(persona_clauses(persona)) != set()
    rows = query(rule_run, "SELECT day, clock, agent_id, source, text FROM summaries")
    assert sorted((d, a) for d, _, a, _, _ in rows) == sorted(
        (d, a) for d in (0, 1) for (a,) in query(rule_run, "SELECT agent_id FROM residents"))
    assert all(c == d * 1440 and s == "rule" and t.startswith("Core characteristics: ")
               for d, c, _, s, t in rows)


def test_same_seed_same_store_other_seed_another(tmp_path: Path) -> None:
    runs = [snapshot(run_scenario(SCENARIO, config(days=1, seed=seed, residents=4),
                                  run_dir=tmp_path / f"r{i}", options=quiet()).run_dir
                     / "run.sqlite") for i, seed in enumerate((5, 5, 6))]
    assert runs[0] == runs[1]
    assert runs[0]["activities"] != runs[2]["activities"]


def test_generations_replace_residents_and_newcomers_inherit(tmp_path: Path) -> None:
    result = run_scenario(SCENARIO, config(days=2, days_per_generation=1, leave_share=0.2,
                                           seed=2, memory_settings={
                                               "reflection_threshold": 60}),
                          run_dir=tmp_path / "g", options=quiet())  # all reflect on day 1
    rows = query(result.run_dir, "SELECT agent_id, generation, first_day, last_day, parents "
                                 "FROM residents")
    left = {r[0] for r in rows if r[3] is not None}
    newcomers = {r[0]: r[4].strip('[]"') for r in rows if r[1] == 1}
    assert len(left) == len(newcomers) == 2 and set(newcomers.values()) == left
    assert all(r[3] == 0 for r in rows if r[0] in left)
    last = dict(query(result.run_dir, "SELECT agent_id, MAX(clock_end) FROM activities "
                                      "GROUP BY agent_id"))
    assert all(last[agent] == 1440 for agent in left)
    assert all(last[agent] == 2 * 1440 for agent in newcomers)
    # newcomers start with their predecessor's top reflections, linked to them
    inherited = query(result.run_dir, "SELECT m.owner, m.origin, e.evidence_id, p.owner FROM "
                                      "memories m JOIN memory_evidence e USING (memory_id) "
                                      "JOIN memories p ON p.memory_id = e.evidence_id "
                                      "WHERE m.kind = 'inherited'")
    assert {owner for owner, *_ in inherited} == set(newcomers)
    assert all(origin == newcomers[owner] == source for owner, origin, _, source in inherited)


# -- LLM residents -----------------------------------------------------------------------------
def llm_config(server: ScriptedLLMServer, town: Path, **values: object) -> TownConfig:
    return config(model="openai/scripted", api_base=server.url, town_file=str(town), days=1,
                  intentions=party(), timeout_s=5.0, seed=1, **values)


def test_llm_day_with_a_garbage_resident_falls_back_with_reasons(tmp_path: Path) -> None:
    town = tiny_town(tmp_path / "town.toml", 3)
    with ScriptedLLMServer(town_player) as server:
        reference = run_scenario(SCENARIO, llm_config(server, town), run_dir=tmp_path / "ref",
                                 options=quiet(use_cache=False))
        stopped = run_scenario(SCENARIO, llm_config(server, town), run_dir=tmp_path / "run",
                               options=quiet(budget=Budget(max_calls=40)))
        assert stopped.status == "budget"
        resumed = resume_run(stopped.run_dir, quiet())
        asked = server.request_count
        replayed = replay_run(resumed.run_dir)
        assert server.request_count == asked  # the replay is answered from the cache alone
    run_dir = reference.run_dir
    assert reference.status == "finished"
    by = Counter(query(run_dir, "SELECT agent_id, source FROM decisions"))
    assert by[("r2", "fallback")] >= 5 and by[("r2", "llm")] == 0
    assert by[("r0", "llm")] >= 5 and by[("r0", "fallback")] == 0
    reasons = {e for (e,) in query(run_dir, "SELECT error FROM llm_calls WHERE agent_id = 'r2' "
                                            "AND outcome = 'unparsed'")}
    assert any(e.startswith('no JSON object with "wake"') for e in reasons)  # the day plan
    assert any(e.startswith('no JSON object with "core"') for e in reasons)  # the summary
    assert {r for (r,) in query(run_dir, "SELECT reply FROM llm_calls WHERE agent_id = 'r2'")} \
        == {GARBAGE}
    spoken = query(run_dir, "SELECT speaker, text, source FROM utterances")
    assert ("r0", "Did you hear about the party at the Cafe at eleven?", "llm") in spoken
    learnt = query(run_dir, "SELECT agent_id, source_agent, how FROM knowledge "
                            "WHERE how = 'conversation'")
    assert learnt and all(source == "r0" for _, source, _ in learnt)
    sources = {s for (s,) in query(run_dir, "SELECT DISTINCT source FROM activities "
                                            "WHERE agent_id = 'r2' AND activity != 'sleep' "
                                            "AND activity != 'walk' AND activity != 'chat'")}
    assert sources == {"fallback"}
    expected = snapshot(run_dir / "run.sqlite")
    assert resumed.status == "finished" and resumed.replayed_checkpoints > 0
    assert snapshot(resumed.run_dir / "run.sqlite") == expected
    assert replayed.checkpoints == len(expected["checkpoints"]) and replayed.calls > 0


@pytest.mark.slow
def test_a_sigkilled_llm_day_resumes_to_the_same_store(tmp_path: Path) -> None:
    town = tiny_town(tmp_path / "town.toml", 3)
    with ScriptedLLMServer(town_player) as server:
        config = llm_config(server, town)
        reference = run_scenario(SCENARIO, config, run_dir=tmp_path / "ref",
                                 options=quiet(use_cache=False))
        server.delay = 0.1  # a run that lasts long enough to be killed mid-day
        args = [sys.executable, "-m", "sim.cli", "run", "town", "--quiet", "--no-figures",
                "--out", str(tmp_path / "runs"), "--config", str(tmp_path / "ref/config.toml")]
        process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   env={**os.environ})
        try:
            deadline = time.monotonic() + 120
            while checkpoints(tmp_path / "runs") < 11:  # 10:00 of the day has been committed
                assert process.poll() is None and time.monotonic() < deadline
                time.sleep(0.02)
            process.send_signal(signal.SIGKILL)
        finally:
            process.kill()
            process.wait(timeout=30)
        (run_dir,) = (tmp_path / "runs").iterdir()
        expected = snapshot(reference.run_dir / "run.sqlite")
        assert 0 < checkpoints(tmp_path / "runs") < len(expected["checkpoints"])
        server.delay = 0
        resumed = resume_run(run_dir, quiet())
    assert resumed.status == "finished" and resumed.replayed_checkpoints >= 11
    assert snapshot(run_dir / "run.sqlite") == expected


def test_a_short_day_ends_at_the_cut_with_spans_closed_and_metrics(tmp_path: Path) -> None:
    cut = 9 * 60
    runs = [run_scenario(SCENARIO, config(days=1, hours=9, residents=4, seed=3),
                         run_dir=tmp_path / f"r{i}", options=quiet()).run_dir for i in (0, 1)]
    assert snapshot(runs[0] / "run.sqlite") == snapshot(runs[1] / "run.sqlite")
    run = runs[0]
    for (agent,) in query(run, "SELECT agent_id FROM residents"):
        spans = query(run, "SELECT clock_start, clock_end FROM activities WHERE agent_id = "
                           f"'{agent}' ORDER BY clock_start")
        assert spans[0][0] == 0 and spans[-1][1] == cut  # closed at the cut, not at bedtime
        assert all(a[1] == b[0] for a, b in itertools.pairwise(spans))
    assert query(run, "SELECT COUNT(*) FROM activities WHERE activity NOT IN ('sleep', 'walk')"
                      )[0][0] > 4  # they were up and about before it
    metrics = dict(query(run, "SELECT name, COUNT(*) FROM metrics GROUP BY name"))
    assert metrics["knows_share:party"] == 9
    assert metrics["network_density"] == metrics["conversations"] == 1
    late = query(run, f"SELECT COUNT(*) FROM utterances WHERE clock > {cut}")
    late += query(run, f"SELECT COUNT(*) FROM knowledge WHERE clock > {cut}")
    assert late == [(0,), (0,)]
    assert query(run, "SELECT COUNT(*) FROM attendance") == [(0,)]  # the party is after it
    assert load_run_town(load_run(run)).hours == 9  # the analysis covers the short day only


def test_a_short_llm_day_stopped_by_its_budget_resumes_to_the_same_store(
        tmp_path: Path) -> None:
    town = tiny_town(tmp_path / "town.toml", 2)
    with ScriptedLLMServer(lambda r: town_player(r, None)) as server:
        reference = run_scenario(SCENARIO, llm_config(server, town, hours=10),
                                 run_dir=tmp_path / "ref", options=quiet(use_cache=False))
        asked = server.request_count
        stopped = run_scenario(SCENARIO, llm_config(server, town, hours=10),
                               run_dir=tmp_path / "run", options=quiet(budget=Budget(
                                   max_calls=asked // 2)))
        assert stopped.status == "budget"
        resumed = resume_run(stopped.run_dir, quiet())
    assert reference.status == resumed.status == "finished"
    expected = snapshot(reference.run_dir / "run.sqlite")
    assert snapshot(resumed.run_dir / "run.sqlite") == expected
    run = reference.run_dir
    assert query(run, "SELECT MAX(clock_end) FROM activities") == [(600,)]
    assert query(run, "SELECT COUNT(*), MAX(clock) FROM utterances")[0][1] < 600
    # nothing is asked after the cut; at it, only the interviews that measure the day
    assert query(run, "SELECT MAX(sim_time) FROM llm_calls WHERE request_id IN (SELECT "
                      "request_id FROM decisions WHERE task NOT LIKE 'interview%')")[0][0] < 600
    assert query(run, "SELECT DISTINCT c.sim_time, d.task FROM llm_calls c JOIN decisions d "
                      "USING (request_id) WHERE c.sim_time >= 600 ORDER BY d.task") == [
        (600.0, "interview_acquaintance"), (600.0, "interview_knowledge")]
    assert query(run, "SELECT COUNT(*) FROM metrics WHERE name = 'network_density'") == [(1,)]
    short = config(model="openai/x", town_file=str(town), days=1, hours=10, intentions=party())
    assert 0 < estimate_usage(short).calls < estimate_usage(config(
        model="openai/x", town_file=str(town), days=1, intentions=party())).calls


def test_llm_prompts_quote_other_residents_and_carry_memories(tmp_path: Path) -> None:
    town = tiny_town(tmp_path / "town.toml", 3)
    with ScriptedLLMServer(lambda r: town_player(r, None, replanner="Cas Cole")) as server:
        result = run_scenario(SCENARIO, llm_config(server, town), run_dir=tmp_path / "r",
                              options=quiet(use_cache=False))
        prompts = [r.messages[-1]["content"] for r in server.requests]
    # a reaction that changes the plan re-plans the hours from then on, with the reason
    revised = query(result.run_dir, "SELECT MIN(start_minute), source FROM plans WHERE "
                                    "agent_id = 'r2' AND level = 'hour' AND revision = 1")
    assert revised[0][0] is not None and revised[0][0] > 9 * 60 and revised[0][1] == "llm"
    assert any("go home and bake bread" in p for p in prompts if "blocks of about one" in p)
    speak = [p for p in prompts if "Say the next thing" in p]
    assert speak and any('<agent_text author="r0">' in p and "party" in p
                         for p in speak if "talking with Ann Alba" in p)  # Ann's listeners
    plans = [p for p in prompts if "Plan your day in broad strokes" in p]
    # the host plans with what it remembers: its own party, quoted
    assert any('<agent_text author="r0">' in p and "party" in p for p in plans)


def test_cli_runs_the_town(tmp_path: Path, capsys) -> None:
    town = tiny_town(tmp_path / "town.toml", 3)
    assert main(["run", "town", "--set", f"town_file={town}", "--set", "days=1",
                 "--set", "intentions=[]", "--out", str(tmp_path / "runs"), "--quiet",
                 "--no-figures"]) == 0
    (run_dir,) = (tmp_path / "runs").iterdir()
    assert query(run_dir, "SELECT COUNT(*) FROM residents") == [(3,)]
    assert "network density" in capsys.readouterr().out


def test_memory_presets_are_selectable_and_keep_the_minute_clock() -> None:
    for preset, threshold in (("paper", 150), ("released_code", 250)):
        settings = load_config(TownConfig, overrides=[
            f"memory_settings.preset={preset}"]).memory_settings  # type: ignore[attr-defined]
        assert settings.reflection_threshold == threshold
        assert settings.hours_per_time_unit == pytest.approx(1 / 60)
        assert settings.inheritance == "reflections"


def test_config_errors_are_one_line() -> None:
    with pytest.raises(ConfigError, match="end must come after start"):
        config(intentions=[{**party()[0], "end": "10:00"}])
    with pytest.raises(ConfigError, match="needs place"):
        config(intentions=[{k: v for k, v in party()[0].items() if k != "place"}])
    with pytest.raises(ConfigError, match="needs a model"):
        config(brains="llm")
