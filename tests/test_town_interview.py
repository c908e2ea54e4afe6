"""Interviews in the town: what residents say they know at the end of a day, checked against
their memories (against a truth worked out by hand in a scripted town); acquaintance at the
start and the end; `societas interview` after a run (rule answers from the top memories, model
answers through the gateway, as of a moment), its one-line refusals, replay of a run with
sessions, and the report's side-by-side answers of two runs.
"""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

import pandas as pd
import pytest
from run_helpers import query, quiet
from town_helpers import interview_reply, party, tiny_town, town_player

from scenarios.town import SCENARIO
from scenarios.town.config import TownConfig
from scenarios.town.interview_measures import acquaintance_density, knowledge_by_day
from sim import interview_run, load_config, snapshot
from sim.cli import main
from sim.memory import MemoryBank, get_embedder
from sim.runs.replay import replay_run
from sim.runs.runlock import run_lock
from sim.runs.runner import run_scenario
from sim.store import RunStore
from sim.testing import ChatRequest, ScriptedLLMServer

#: The scripted town's interviewees: Ann (r0) forgets what she knows, Cas (r2) claims to know
#: everything; Ben (r1) and Dee (r3) answer from what their prompt recalls.
SAYS = {"Ann Alba": False, "Cas Cole": True}


def config(**values: object) -> TownConfig:
    return load_config(TownConfig, values=values)  # type: ignore[return-value]


def knowing_player(request: ChatRequest) -> str:
    """Only Ann starts conversations, with Ben or Dee, whoever she sees first; everyone spends
    the morning at the Cafe, where Ann tells them of her party (`town_player`)."""
    system, prompt = request.messages[0]["content"], request.messages[-1]["content"]
    if "Do you carry on" in prompt:
        present = [i for i in re.findall(r"^- (r\d): ", prompt, re.MULTILINE)
                   if i in ("r1", "r3")]
        if system.startswith("You are Ann Alba,") and present:
            return json.dumps({"action": "talk", "talk_to": present[0]})
        return json.dumps({"action": "continue"})
    name = next((n for n in ("Ann Alba", "Ben Brook", "Cas Cole", "Dee Dunn")
                 if system.startswith(f"You are {n},")), None)
    answer = interview_reply(prompt, says_yes=SAYS.get(name or ""))
    return answer if answer is not None else town_player(request, None)


@pytest.fixture(scope="module")
def scripted(tmp_path_factory: pytest.TempPathFactory):
    """A four-resident LLM morning (09:00-10:00) against the scripted server, which stays up
    for the interviews after it."""
    root = tmp_path_factory.mktemp("interview")
    town = tiny_town(root / "town.toml", 4)
    with ScriptedLLMServer(knowing_player) as server:
        result = run_scenario(SCENARIO, config(
            model="openai/scripted", api_base=server.url, town_file=str(town), days=1,
            hours=10, intentions=party(), timeout_s=5.0, seed=1,
            interviews={"memories": 30, "memories_per_name": 30}),
            run_dir=root / "run", options=quiet())
        assert result.status == "finished"
        yield result.run_dir, server


def test_interview_knowledge_equals_the_truth_worked_out_by_hand(scripted) -> None:
    run, _ = scripted
    # Ann seeded the party and told the one she talked to (Ben or Dee, whoever she saw
    # first) at the Cafe; nobody told the other, nor Cas.
    (told,), = query(run, "SELECT partner FROM conversations WHERE initiator = 'r0'")
    unaware = ({"r1", "r3"} - {told}).pop()
    assert sorted(query(run, "SELECT agent_id, how, source_agent FROM knowledge")) == [
        ("r0", "seeded", None), (told, "conversation", "r0")]
    rows = query(run, "SELECT agent_id, answer, in_memory, knows, hallucinated, unrecalled, "
                      "keyword, clock, source FROM interview_knowledge ORDER BY agent_id")
    assert rows == sorted([  # asked once, at the day's cut (10:00), by their model
        ("r0", 0, 1, 0, 0, 1, 1, 600, "llm"),  # remembers it but says no
        (told, 1, 1, 1, 0, 0, 1, 600, "llm"),  # heard it, remembers it, says so
        ("r2", 1, 0, 0, 1, 0, 0, 600, "llm"),  # says so without any memory of it
        (unaware, 0, 0, 0, 0, 0, 0, 600, "llm")])  # never heard of it
    # the evidence: the memory of what Ann told them
    (evidence,), = query(run, f"SELECT evidence FROM interview_knowledge WHERE agent_id = "
                              f"'{told}'")
    texts = [t for (i, t) in query(run, f"SELECT memory_id, text FROM memories WHERE owner = "
                                        f"'{told}'") if i in json.loads(evidence)]
    assert texts and all("party" in t for t in texts)
    (day,) = knowledge_by_day(pd.DataFrame(
        query(run, "SELECT * FROM interview_knowledge"),
        columns=[c for (c,) in query(run, "SELECT name FROM pragma_table_info("
                                          "'interview_knowledge')")])).itertuples()
    assert (day.asked, day.said_yes, day.knows, day.hallucinated, day.unrecalled,
            day.keyword) == (4, 2, 1, 1, 1, 2)
    assert (day.share, day.keyword_share) == (0.25, 0.5)


def test_acquaintance_at_the_start_and_the_end(scripted) -> None:
    run, _ = scripted
    rows = query(run, "SELECT moment, agent_id, other_id, answer, in_memory FROM "
                      "interview_acquaintance")
    start = [r for r in rows if r[0] == "start"]
    end = [r for r in rows if r[0] == "end"]
    assert len(start) == len(end) == 12  # every ordered pair of four, twice
    # at the start nobody remembers anyone; only Cas claims to know them all
    assert {(a, o) for _, a, o, yes, _ in start if yes} == {("r2", "r0"), ("r2", "r1"),
                                                          ("r2", "r3")}
    assert not any(mem for *_, mem in start)
    # at the end: Ann and the one she told talked, so each remembers the other; Ann says no
    # to everyone, Cas yes to everyone, Ben and Dee answer as their memories say
    (told,), = query(run, "SELECT partner FROM conversations WHERE initiator = 'r0'")
    remembered = {(a, o): mem for _, a, o, _, mem in end}
    assert remembered["r0", told] == remembered[told, "r0"] == 1
    for _, agent, _, yes, mem in end:
        assert yes == {"r0": 0, "r2": 1}.get(agent, mem)
    density = acquaintance_density(pd.DataFrame(
        rows, columns=["moment", "agent_id", "other_id", "answer", "in_memory"]).assign(
        clock=0)).set_index("moment")
    said = {(a, o): yes for _, a, o, yes, _ in end}
    mutual = sum(said[a, b] and said[b, a] for a, b in
                 [("r0", "r1"), ("r0", "r2"), ("r0", "r3"), ("r1", "r2"), ("r1", "r3"),
                  ("r2", "r3")])
    assert density.loc["end", "density"] == mutual / 6 and density.loc["start", "density"] == 0
    assert density.loc["start", "hallucinated"] == 3


def test_a_model_interview_answers_from_memories_and_replays(scripted) -> None:
    run, server = scripted
    before = snapshot(run / "run.sqlite")
    asked = server.request_count
    result = interview_run(run, "What do you know about the party?", agents=["r1"])
    assert server.request_count == asked + 1 and result.session == 1
    (answer,) = result.answers
    assert answer.source == "llm" and answer.text.startswith("I remember this: ")
    (memories, stored), = query(run, "SELECT memories, answer FROM interviews")
    shown = json.loads(memories)
    owned = dict(query(run, "SELECT memory_id, text FROM memories WHERE owner = 'r1' AND "
                            "created <= 600"))
    assert shown and set(shown) <= set(owned) and stored == answer.text
    assert answer.text == f"I remember this: {owned[shown[0]]}"  # its best memory, quoted
    # logged like a call of the run, after the run's own
    (task, agent, sim_time), = query(run, "SELECT d.task, c.agent_id, c.sim_time FROM "
                                          "llm_calls c JOIN decisions d USING (request_id) "
                                          "WHERE d.task = 'interview'")
    assert (task, agent, sim_time) == ("interview", "r1", 600.0)
    after = snapshot(run / "run.sqlite")
    for table in ("activities", "memories", "memory_access", "knowledge"):
        assert after[table] == before[table]  # the run itself is untouched
    # asked again, a new session is a new question: the model is asked afresh
    interview_run(run, "What do you know about the party?", agents=["r1"])
    assert server.request_count == asked + 2
    replayed = replay_run(run)
    assert server.request_count == asked + 2
    assert replayed.sessions == 2 and replayed.checkpoints == len(after["checkpoints"]) + 1


@pytest.fixture(scope="module")
def rule_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("rule")
    town = tiny_town(root / "town.toml", 3)
    result = run_scenario(SCENARIO, config(town_file=str(town), days=1, intentions=party(),
                                           chat_probability=1.0, share_probability=1.0),
                          run_dir=root / "run", options=quiet())
    return result.run_dir


def test_a_rule_answer_quotes_the_top_memories_as_of_the_moment(rule_run: Path) -> None:
    accessed = query(rule_run, "SELECT COUNT(*) FROM memory_access")
    for at, clock in ((None, 1440), ((1, "10:00"), 600)):
        # one resident's id given as a string is that resident, not its letters
        result = interview_run(rule_run, "Have you heard about a party?",
                               agents=["r1"] if at is None else "r1", at=at)
        (answer,) = result.answers
        with RunStore(rule_run / "run.sqlite", read_only=True) as store:
            config_ = TownConfig.model_validate_json(store.get_meta("config") or "{}")
            bank = MemoryBank.load(store, get_embedder(config_.memory_settings.embedder),
                                   config_.memory_settings, until=clock)
            top = bank.retrieve("r1", "Have you heard about a party?", now=clock, k=5,
                                touch=False)
        assert answer.source == "rule" and answer.text.startswith("What comes to mind: ")
        for hit in top[:3]:  # the three best, in order
            assert hit.record.text[:40] in answer.text
        positions = [answer.text.index(h.record.text[:40]) for h in top[:3]]
        assert positions == sorted(positions) and all(h.record.created <= clock for h in top)
        (shown,), = query(rule_run, f"SELECT memories FROM interviews WHERE session = "
                                    f"{result.session}")
        assert json.loads(shown) == [h.record.memory_id for h in top]
    assert query(rule_run, "SELECT COUNT(*) FROM memory_access") == accessed  # nothing recalled
    assert replay_run(rule_run).sessions == query(rule_run, "SELECT COUNT(*) FROM "
                                                            "interview_sessions")[0][0] >= 2


def test_the_battery_asks_every_resident_five_categories_and_reports_two_runs_side_by_side(
        rule_run: Path, tmp_path: Path, capsys) -> None:
    from analysis.run import load
    from analysis.scenario import report_context
    from scenarios.town.interview_report import answers_section

    town = tiny_town(tmp_path / "town.toml", 3)
    other = run_scenario(SCENARIO, config(town_file=str(town), days=1, intentions=party(),
                                          memory_settings={"reflection_threshold": 10_000}),
                         run_dir=tmp_path / "no_reflection", options=quiet()).run_dir
    for run in (rule_run, other):
        assert main(["interview", str(run), "--battery"]) == 0
    interview_run(rule_run, "Have you heard about a party?", agents=["r1"])  # one run only
    out = capsys.readouterr().out
    assert "r0 [self_knowledge]: Who are you?" in out
    categories = dict(query(other, "SELECT category, COUNT(*) FROM interviews GROUP BY "
                                   "category"))
    assert categories == {"self_knowledge": 9, "memory": 9, "plans": 9, "reactions": 9,
                          "reflections": 9}  # three questions each, for three residents
    # $other is the next resident of the town: Ann is asked about Ben
    assert query(other, "SELECT question FROM interviews WHERE agent_id = 'r0' AND "
                        "question_key = 'other_person'") == [("What can you tell me about "
                                                               "Ben Brook?",)]
    runs = [load(rule_run), load(other)]
    parts = answers_section(runs, report_context(runs))
    table = next(p for p in parts if isinstance(p, pd.DataFrame))
    assert table.columns[:3].tolist() == ["resident", "category", "question"]
    first, second = table.columns[3:]
    assert first.startswith(rule_run.name) and second.startswith("no_reflection")
    battery = table[table["category"] != "question"]
    assert len(battery) == 45 and (battery[first] != "–").all() and (battery[second] != "–").all()
    (asked,) = table[table["category"] == "question"].itertuples(index=False)
    assert asked[:3] == ("r1", "question", "Have you heard about a party?")
    assert asked[3].startswith("What comes to mind: ") and asked[4] == "–"  # not asked there


def test_a_rule_run_is_interviewed_with_a_model_given_for_the_session(rule_run: Path,
                                                                     scripted) -> None:
    _, server = scripted
    asked = server.request_count
    result = interview_run(rule_run, "What do you know about Ben?", agents=["r0", "r2"],
                           model="openai/scripted",
                           overrides=[f"api_base={server.url}", "temperature=0.2"])
    assert server.request_count == asked + 2
    assert [(a.agent, a.source) for a in result.answers] == [("r0", "llm"), ("r2", "llm")]
    assert all(a.text.startswith("I remember this: ") for a in result.answers)
    (settings,), = query(rule_run, "SELECT config FROM interview_sessions WHERE session = "
                                   f"{result.session}")
    settings = json.loads(settings)
    assert (settings["model"], settings["brains"], settings["temperature"]) == (
        "openai/scripted", "llm", 0.2)
    assert query(rule_run, "SELECT DISTINCT model FROM llm_calls") == [("openai/scripted",)]
    assert query(rule_run, "SELECT brain FROM agents WHERE agent_id = 'r0'") == [("rule",)]
    assert replay_run(rule_run).calls == 2  # answered from the store: no model, no key


def test_the_summary_is_the_latest_the_run_kept_else_the_persona(tmp_path: Path) -> None:
    town = tiny_town(tmp_path / "town.toml", 2)
    run = run_scenario(SCENARIO, config(town_file=str(town), days=1, intentions=party()),
                       run_dir=tmp_path / "run", options=quiet()).run_dir
    db = sqlite3.connect(run / "run.sqlite")  # summaries of our own, none for Ben
    db.execute("DELETE FROM summaries")
    db.executemany("INSERT INTO summaries VALUES (0, ?, ?, 'r0', ?, 'rule')",
                   [(300, 300, "Ann at dawn."), (900, 900, "Ann in the afternoon.")])
    db.commit()
    db.close()
    for at, expected in (((1, "10:00"), "Ann at dawn."), (None, "Ann in the afternoon.")):
        session = interview_run(run, "Who are you?", agents=["r0", "r1"], at=at).session
        rows = query(run, "SELECT i.agent_id, i.summary_source, d.observation FROM interviews i "
                          "JOIN decisions d ON d.agent_id = i.agent_id AND d.task = 'interview'"
                          f" AND d.request_id >= (SELECT first_request_id FROM "
                          f"interview_sessions WHERE session = {session}) WHERE i.session = "
                          f"{session} ORDER BY i.agent_id, d.request_id")
        (ann, source, observed), (ben, ben_source, ben_observed) = rows[0], rows[-1]
        assert (ann, source, json.loads(observed)["summary"]) == ("r0", "summaries", expected)
        assert (ben, ben_source) == ("r1", "persona")  # the run kept none for Ben
        assert json.loads(ben_observed)["summary"] == ("Ben Brook, writer in Nook. Ben Brook "
                                                       "is a resident of Nook.")
    assert replay_run(run).sessions == 2


def _one_error_line(capsys, argv: list[str], expected: str) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("societas: error: ") and expected in err[0], err


def test_interview_refusals_are_one_line_with_status_2(rule_run: Path, tmp_path: Path,
                                                       capsys) -> None:
    run = str(rule_run)
    before = snapshot(rule_run / "run.sqlite")
    _one_error_line(capsys, ["interview", run, "--agent", "nobody", "Hello?"],
                    "unknown resident 'nobody' (residents: r0, r1, r2)")
    _one_error_line(capsys, ["interview", run, "--agent", "r0", "Hello?", "--at", "2", "09:00"],
                    "--at 2 09:00 is outside the run")
    _one_error_line(capsys, ["interview", run, "--agent", "r0", "Hello?", "--at", "day1", "09:00"],
                    "the day is a whole number counted from 1 (--at 2 09:00), got 'day1'")
    _one_error_line(capsys, ["interview", run, "--agent", "r0", "Hello?", "--set", "days=3"],
                    "takes the model settings")
    _one_error_line(capsys, ["interview", run, "Hello?"], "--agent ID, or ask everyone")
    assert snapshot(rule_run / "run.sqlite") == before  # nothing of a refused one stored
    with run_lock(rule_run):  # a run or resume writing it
        _one_error_line(capsys, ["interview", run, "--all", "Hello?"], "is in use")
    stopped = tmp_path / "stopped"
    stopped.mkdir()
    (stopped / "run.sqlite").write_bytes((rule_run / "run.sqlite").read_bytes())
    db = sqlite3.connect(stopped / "run.sqlite")
    db.execute("UPDATE meta SET value = 'interrupted' WHERE key = 'status'")
    db.commit()
    db.close()
    _one_error_line(capsys, ["interview", str(stopped), "--all", "Hello?"],
                    "is not a finished run (status: interrupted)")
    damaged = tmp_path / "damaged"
    damaged.mkdir()
    data = (rule_run / "run.sqlite").read_bytes()
    (damaged / "run.sqlite").write_bytes(data[: len(data) // 2])
    _one_error_line(capsys, ["interview", str(damaged), "--all", "Hello?"], "damaged")
    assert (damaged / "run.sqlite").read_bytes() == data[: len(data) // 2]  # left as it was


def test_interviews_change_nothing_else_in_the_run(tmp_path: Path) -> None:
    """Measuring is not living: with and without interviews the town lives the same day."""
    runs = [snapshot(run_scenario(SCENARIO, config(days=1, residents=4, seed=2, interviews={
        "knowledge": on, "acquaintance": on}), run_dir=tmp_path / f"r{on}",
        options=quiet()).run_dir / "run.sqlite") for on in (True, False)]
    measured, plain = runs
    assert measured["interview_knowledge"] and not plain["interview_knowledge"]
    for table in ("activities", "plans", "conversations", "utterances", "knowledge",
                  "memories", "memory_access", "memory_reflections", "attendance"):
        assert measured[table] == plain[table], table


def test_measures_of_hand_made_answers() -> None:
    knowledge = pd.DataFrame(
        [(0, "r1", "party", 1, 1, 1, 0, 0, 1), (0, "r2", "party", 1, 0, 0, 1, 0, 0),
         (0, "r3", "party", 0, 1, 0, 0, 1, 1), (1, "r1", "party", 1, 1, 1, 0, 0, 1)],
        columns=["day", "agent_id", "topic", "answer", "in_memory", "knows", "hallucinated",
                 "unrecalled", "keyword"])
    table = knowledge_by_day(knowledge).set_index("day")
    assert table.loc[0, ["asked", "said_yes", "knows", "hallucinated", "unrecalled",
                         "keyword"]].tolist() == [3, 2, 1, 1, 1, 2]
    assert table.loc[0, "share"] == pytest.approx(1 / 3) and table.loc[1, "share"] == 1.0
    # a and b both say yes; a says yes of c, c no of a; b and c both no: 1 mutual of 3 pairs
    said = [("a", "b", 1, 1), ("b", "a", 1, 1), ("a", "c", 1, 0), ("c", "a", 0, 1),
            ("b", "c", 0, 0), ("c", "b", 0, 0)]
    density = acquaintance_density(pd.DataFrame(
        [("end", 100, *row) for row in said],
        columns=["moment", "clock", "agent_id", "other_id", "answer", "in_memory"]))
    (end,) = density.itertuples()
    assert (end.pairs, end.mutual, end.density) == (3, 1, 1 / 3)
    assert (end.mutual_in_memory, end.said_yes, end.hallucinated) == (1, 3, 1)


def test_interview_replies_become_grammars_of_their_own_keys() -> None:
    """What a grammar-constrained local model is held to: one true/false per resident asked
    about, under its id, and no other key."""
    from scenarios.town.interview_tasks import ANSWER, KNOWLEDGE, acquaintance_format
    from sim.llm import local_model

    grammar = pytest.importorskip("llama_cpp.llama_grammar")  # the server's own converter
    people = acquaintance_format((("mara", "Mara Quill"), ("tobias", "Tobias Renn")))
    for reply in (ANSWER, KNOWLEDGE, people):
        schema = local_model.for_llama_cpp(reply.response_format())["schema"]
        assert "root ::=" in grammar.json_schema_to_gbnf(json.dumps(schema))
    schema = local_model.for_llama_cpp(people.response_format())["schema"]
    assert schema["required"] == ["mara", "tobias"] and not schema["additionalProperties"]
    assert people.example() == '{"mara": true or false, "tobias": true or false}'
