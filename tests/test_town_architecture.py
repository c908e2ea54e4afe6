"""The town's agent architecture (Park et al. 2023), part by part: the summary, the time and
the last conversation in every plan, react and speak prompt; perception within its bandwidth;
meeting people on the way; what a conversation leaves behind; attendance planned by a
model's own plan; the news rule speakers still have to tell; the lean preset.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest
from run_helpers import query, quiet
from town_helpers import party, thinking, tiny_town, town_player

from scenarios.town import SCENARIO
from scenarios.town.config import TownConfig
from scenarios.town.conversation import Conversation
from scenarios.town.model import Town
from scenarios.town.social import Speak
from sim import ConfigError, load_config
from sim.runs.runner import run_scenario
from sim.testing import ChatRequest, ScriptedLLMServer


def config(**values: object) -> TownConfig:
    return load_config(TownConfig, values=values)  # type: ignore[return-value]


def llm_config(server: ScriptedLLMServer, town: Path, **values: object) -> TownConfig:
    return config(**{"model": "openai/scripted", "api_base": server.url,
                     "town_file": str(town), "days": 1, "intentions": party(),
                     "timeout_s": 5.0, "seed": 1, **values})


def early_riser(request: ChatRequest) -> str:
    """`town_player`, waking at 08:30 of its own accord."""
    reply = town_player(request, None)
    if '"wake"' in reply:
        return reply.replace('"wake": "09:00"', '"wake": "08:30"')
    return reply


def test_plan_react_and_speak_prompts_carry_summary_time_and_last_conversation(
        tmp_path: Path) -> None:
    town = tiny_town(tmp_path / "town.toml", 3)
    with ScriptedLLMServer(early_riser) as server:
        result = run_scenario(SCENARIO, llm_config(server, town, days=2, chat_cooldown=30),
                              run_dir=tmp_path / "r", options=quiet(use_cache=False))
        asked = [(r.messages[0]["content"], r.messages[-1]["content"])
                 for r in server.requests]
    run = result.run_dir
    summary = "Core characteristics: friendly\nDaily occupation: works in Nook"
    by_kind: dict[str, list[str]] = {}
    for _, prompt in asked:
        for kind, marker in (("plan", "Plan your day in broad strokes"),
                             ("hours", "into blocks of about one hour"),
                             ("react", "Do you carry on"), ("speak", "Say the next thing")):
            if marker in prompt:
                by_kind.setdefault(kind, []).append(prompt)
    assert all(len(by_kind[k]) >= 3 for k in ("plan", "hours", "react", "speak"))
    moment = re.compile(r"It is (Monday 13|Tuesday 14) February 2023 \(day [12]\), \d\d:\d\d\.")
    for kind, prompts in by_kind.items():
        for prompt in prompts:
            assert prompt.startswith("Your summary of yourself this morning:") and \
                summary in prompt, kind
            if kind == "plan":
                assert re.search(r"Today is (Monday 13|Tuesday 14) February 2023", prompt)
            else:
                assert moment.search(prompt), kind
            if kind in ("react", "speak"):
                assert "You have not talked with" in prompt or "You last talked with" in prompt
    # the last conversation, how long ago and about what: what its participants kept of it
    for kind in ("react", "speak"):
        assert any(re.search(r"You last talked with \w+ \w+ \d+ (minutes|h \d\d min) ago "
                             r"\(day \d, \d\d:\d\d\), about:\n<agent_text author=\"r\d\">\n"
                             r"We talked about", p) for p in by_kind[kind]), kind
    # the second morning's plan sees the first day, who was met included
    assert any("Monday 13 February 2023 (day 1): 08:30-" in p and "Talked with" in p
               for p in by_kind["plan"])
    # one summary per resident and morning, written at midnight by the model
    rows = query(run, "SELECT day, minute, clock, agent_id, source, text FROM summaries")
    assert sorted((d, a) for d, _, _, a, _, _ in rows) == sorted(
        (d, a) for d in (0, 1) for a in ("r0", "r1", "r2"))
    assert all(m == 0 and c == d * 1440 and s == "llm" and t.startswith(summary)
               for d, m, c, _, s, t in rows)
    # the wake hour is the resident's: up at 08:30, not the town file's 09:00
    first = query(run, "SELECT MIN(clock_start) FROM activities WHERE agent_id = 'r0' AND "
                       "activity != 'sleep'")
    assert first == [(8 * 60 + 30,)]
    # memory prompts name residents as people do, not by their ids
    memory = [s for s, p in asked if "Rate each from 1 to 10" in p or "Rate it from 1" in p]
    assert memory and all(re.match(r"You are (Ann Alba|Ben Brook|Cas Cole)\.", s)
                          for s in memory)


def test_a_conversation_is_kept_once_with_a_planning_thought_and_a_memo(
        tmp_path: Path) -> None:
    town = tiny_town(tmp_path / "town.toml", 2)
    with ScriptedLLMServer(lambda r: town_player(r, None)) as server:
        result = run_scenario(SCENARIO, llm_config(server, town, hours=10),
                              run_dir=tmp_path / "r", options=quiet(use_cache=False))
        prompts = [r.messages[-1]["content"] for r in server.requests]
    run = result.run_dir
    (talks,), = query(run, "SELECT COUNT(*) FROM conversations")
    assert talks >= 1
    kept = query(run, "SELECT owner, kind, text, importance, created FROM memories WHERE "
                      "kind IN ('conversation', 'thought') AND text NOT LIKE '%resident of%'")
    per_talk = Counter((k[0], k[4]) for k in kept)
    assert set(per_talk.values()) == {3} and len(per_talk) == 2 * talks
    for (owner, created), _ in per_talk.items():
        mine = [k for k in kept if (k[0], k[4]) == (owner, created)]
        assert sorted(k[1] for k in mine) == ["conversation", "thought", "thought"]
        assert {k[3] for k in mine} == {6}  # one rating for the conversation, from its call
        assert any(k[2].startswith("For ") and "planning: Remember" in k[2] for k in mine)
        assert any("'s memo: They mentioned" in k[2] for k in mine)
    # importance is rated once per conversation, not per utterance: no rating asks about one
    rated = [p for p in prompts if "Rate each from 1 to 10" in p or "Rate it from 1" in p]
    assert not any(" said to " in p for p in rated)
    # and the rest of the hour is planned again with the planning thought in mind
    assert any("Keep in mind:" in p and "Remember the " in p
               for p in prompts if "Break this into actions" in p)


def quiet_player(request: ChatRequest) -> str:
    """Everyone plans the party at the cafe 11:00-12:00 in its own hourly plan, and talks to
    nobody: so no one hears of it and no one decides to go, yet all planned to be there."""
    prompt = request.messages[-1]["content"]
    reply = thinking(prompt)
    if reply is not None:
        return reply
    if "into blocks of about one hour" in prompt:
        home = re.search(r'your home is "(\w+)"', prompt).group(1)  # type: ignore[union-attr]
        at = "cafe" if "Ben Brook" not in request.messages[0]["content"] else home
        return json.dumps({"blocks": [
            {"start": "09:00", "end": "11:00", "activity": "home", "place": home},
            {"start": "11:00", "end": "12:00", "activity": "party", "place": at,
             "description": "the party"},
            {"start": "12:00", "end": "12:30", "activity": "home", "place": home}]})
    if "Do you carry on" in prompt:
        return '{"action": "continue"}'
    return town_player(request, None)


def test_llm_residents_who_plan_the_party_themselves_count_as_planned(
        tmp_path: Path) -> None:
    town = tiny_town(tmp_path / "town.toml", 3)
    with ScriptedLLMServer(quiet_player) as server:
        result = run_scenario(SCENARIO, llm_config(server, town), run_dir=tmp_path / "r",
                              options=quiet(use_cache=False))
    rows = {a: (p, k, pl) for a, p, k, pl in query(
        result.run_dir, "SELECT agent_id, present, knew, planned FROM attendance")}
    assert query(result.run_dir, "SELECT COUNT(*) FROM conversations") == [(0,)]
    assert rows["r2"] == (1, 0, 1)  # came, never heard of it, had it in its own plan
    assert rows["r1"] == (0, 0, 0)  # Ben planned to stay home
    assert rows["r0"][2] == 1  # the host


def crowd_player(request: ChatRequest) -> str:
    """Everyone at the cafe 09:00-12:30 with ten-minute actions, talking to nobody."""
    prompt = request.messages[-1]["content"]
    if "into blocks of about one hour" in prompt:
        return json.dumps({"blocks": [{"start": "09:00", "end": "12:30", "activity": "eat",
                                       "place": "cafe"}]})
    if "Break this into actions" in prompt:
        return json.dumps({"actions": [{"minutes": 10, "description": "sipping coffee",
                                        "object": "table", "object_state": "sticky"}] * 6})
    if "Do you carry on" in prompt:
        return '{"action": "continue"}'
    return town_player(request, None)


@pytest.mark.parametrize("bandwidth", [2, None])
def test_no_perception_lists_more_than_the_attention_bandwidth(tmp_path: Path,
                                                               bandwidth: int | None) -> None:
    town = tiny_town(tmp_path / "town.toml", 4)
    with ScriptedLLMServer(crowd_player) as server:
        run_scenario(SCENARIO, llm_config(server, town, hours=10, intentions=[],
                                          architecture={"attention_bandwidth": bandwidth}),
                     run_dir=tmp_path / "r", options=quiet(use_cache=False))
        asked = [(r.messages[0]["content"], r.messages[-1]["content"])
                 for r in server.requests]
    noticed = []  # the observations of one perception: others and the table, not oneself
    for system, prompt in asked:
        me = re.match(r"You are ([\w ]+?)[.,]", system).group(1)  # type: ignore[union-attr]
        listed = re.findall(r"^\d+\. (.*)$", prompt, re.M)
        if "Rate each" in prompt and not listed[0].startswith(me):
            noticed.append(len(listed))
    listed = [len(re.findall(r"^- r\d: ", p.split("free to talk")[1], re.M))
              for _, p in asked if "Do you carry on" in p]
    if bandwidth is None:  # without the limit, more is noticed at once
        assert max(noticed) >= 3
    else:
        assert noticed and max(noticed) == bandwidth and max(listed, default=0) <= bandwidth


def test_rule_news_is_neither_over_nor_told_back_nor_told_to_its_host(tmp_path: Path) -> None:
    town_file = tiny_town(tmp_path / "town.toml", 3)
    town = Town(config(town_file=str(town_file), days=1, intentions=party()))
    host, teller, listener = (town.by_name[a] for a in ("r0", "r1", "r2"))
    town.run(until=10 * 60)
    talk = Conversation("c1", teller, listener, "nook.centre.cafe", 600, town.env.event())
    town.learn("party", teller, "r0", talk, "conversation")
    assert [t for t, _ in town.news_for(teller, listener)] == ["party"]
    assert town.news_for(teller, host) == []  # the host knows: it is their party
    town.hear(talk, 0, teller, listener, "Have you heard? Ann Alba is throwing a party.")
    assert town.news_for(listener, teller) == []  # not back to whoever told it
    assert town.news_for(teller, listener) == []  # nor twice
    newcomer = town.by_name["r2"]
    town.run(until=12 * 60 + 1)  # the party (11:00-12:00) is over: no longer news
    assert town.news_for(host, newcomer) == [] and town.news_for(listener, host) == []


def test_the_news_nudge_is_off_by_default_and_a_key(tmp_path: Path) -> None:
    town_file = tiny_town(tmp_path / "town.toml", 2)
    for nudge in (False, True):
        town = Town(config(town_file=str(town_file), days=1, intentions=[],
                           architecture={"news_nudge": nudge}))
        a, b = town.by_name["r0"].person, town.by_name["r1"].person
        task = Speak(town.ctx, a, b, 0, [], {"place": "nook.centre.cafe", "doing": "reading"},
                     listener_doing="sipping coffee")
        prompt = task.messages()[-1]["content"]
        assert ("pass it on" in prompt) is nudge
        assert "Ben Brook was busy with:\n<agent_text author=\"r1\">\nsipping coffee" in prompt


WAYSIDE = """
[town]
id = "way"
[[places]]
id = "west"
[[places]]
id = "middle"
[[places]]
id = "east"
[[places]]
id = "home_w"
parent = "west"
kind = "home"
x = -5
y = 0
[[places]]
id = "office"
parent = "east"
kind = "office"
x = 5
y = 0
[[places]]
id = "park"
parent = "middle"
kind = "park"
x = 0
y = 0.5
objects = ["bench"]
[[places]]
id = "home_p"
parent = "middle"
kind = "home"
x = 0
y = 9
[[residents]]
id = "walker"
name = "Wes Walker"
home = "home_w"
work = "office"
wake = "07:00"
bedtime = "12:00"
[[residents]]
id = "sitter"
name = "Pat Sitter"
home = "home_p"
wake = "05:00"
bedtime = "12:00"
"""


@pytest.mark.parametrize("radius", [1.0, 0.0])
def test_a_walker_meets_people_at_the_places_it_passes(tmp_path: Path, radius: float) -> None:
    """Wes walks from the west to his office in the east past the park, where Pat spends the
    morning; he does not know the park until he passes it, and talks to whoever he sees."""
    (tmp_path / "way.toml").write_text(WAYSIDE, encoding="utf-8")
    result = run_scenario(SCENARIO, config(
        town_file=str(tmp_path / "way.toml"), days=1, hours=12, intentions=[],
        chat_probability=1.0, architecture={"passing_radius": radius}),
        run_dir=tmp_path / "r", options=quiet())
    talks = query(result.run_dir, "SELECT initiator, partner, place_id FROM conversations")
    learnt = query(result.run_dir, "SELECT how FROM known_places WHERE agent_id = 'walker' AND "
                                   "place_id = 'way.middle.park'")
    if radius:
        assert ("walker", "sitter", "way.middle.park") in talks and learnt == [("passed",)]
    else:
        assert talks == [] and learnt == []


def test_the_released_code_preset_reflects_and_remembers_the_party_it_heard_of(
        tmp_path: Path) -> None:
    """The released code counts every perceived event towards reflection and retrieves what
    a chat left behind: its town reflects, and whoever heard of the party on the first day
    recalls it on the morning of the second."""
    from sim.memory import HashingEmbedder, MemoryBank, MemoryConfig
    from sim.store import RunStore

    result = run_scenario(SCENARIO, config(days=2, hours=1, seed=3, memory_settings={
        "preset": "released_code"}), run_dir=tmp_path / "r", options=quiet())
    run = result.run_dir
    assert query(run, "SELECT COUNT(*) FROM memory_reflections")[0][0] >= 5
    heard = [a for (a,) in query(run, "SELECT agent_id FROM knowledge WHERE topic = 'party' "
                                      "AND how = 'conversation' AND clock < 1440")]
    assert len(heard) >= 2
    store = RunStore(run / "run.sqlite", read_only=True)
    bank = MemoryBank.load(store, HashingEmbedder(), MemoryConfig(
        preset="released_code", hours_per_time_unit=1 / 60))
    bank.store = None  # read only: the recall is not written back
    for agent in heard:
        hits = bank.retrieve(agent, "Mara Quill's harvest party at the Copper Kettle",
                             now=1440, k=10)
        assert any("party" in hit.record.text for hit in hits), agent
    store.close()


def test_the_lean_preset_is_the_town_without_the_architecture(tmp_path: Path) -> None:
    result = run_scenario(SCENARIO, config(days=1, residents=4, seed=2, architecture={
        "preset": "lean"}), run_dir=tmp_path / "r", options=quiet())
    run = result.run_dir
    assert query(run, "SELECT COUNT(*) FROM summaries") == [(0,)]
    assert query(run, "SELECT COUNT(*) FROM memories WHERE kind = 'thought'") == [(0,)]
    assert query(run, "SELECT COUNT(*) FROM activities WHERE object_state IS NOT NULL") == \
        [(0,)]
    spots = query(run, "SELECT COUNT(*) FROM places WHERE level = 'place'")[0][0]
    assert {n for _, n in query(run, "SELECT agent_id, COUNT(*) FROM known_places GROUP BY "
                                     "agent_id")} == {spots}  # everyone knows the whole town
    kept = [t for (t,) in query(run, "SELECT text FROM memories WHERE kind = 'conversation'")]
    assert kept and all(" said to " in t for t in kept)  # every utterance, as it was said


def test_brackenford_is_the_papers_scale_with_its_own_news(tmp_path: Path) -> None:
    town = config(town_file="brackenford", days=1, hours=9, seed=1)
    assert [(i.agent, i.topic) for i in town.intentions] == [("nadia", "party"),
                                                             ("sol", "mayor")]
    model = Town(town)
    assert len(model.living) == 25 and len({r.person.home for r in model.living}) == 12
    model.run_model()
    assert sum(len(r.spans) for r in model.living) > 25 * 5  # all up and about by 09:00
    with pytest.raises(ConfigError, match=r"residents = 26 but the town file has only 25$"):
        config(town_file="brackenford", residents=26)


DOCS = Path(__file__).resolve().parents[1] / "docs"


def test_the_town_docs_link_nothing_outside_the_repository() -> None:
    for page in ("town.md", "town_analysis.md", "memory.md"):
        text = (DOCS / page).read_text(encoding="utf-8")
        for link in re.findall(r"`(\.\./[^`]+)`|\]\((\.\./[^)]+)\)", text):
            target = (DOCS / (link[0] or link[1])).resolve()
            assert DOCS.parent in target.parents, f"{page} links {target}"


def test_the_architecture_table_has_35_points_each_a_match_or_a_named_departure() -> None:
    from scenarios.town.architecture import Architecture
    from sim.memory import MemoryConfig

    text = (DOCS / "town.md").read_text(encoding="utf-8")
    section = text.split("## The architecture, point by point")[1].split("\n## ")[0]
    rows = [[c.strip() for c in line.strip("|").split("|")]
            for line in section.splitlines() if re.match(r"\| \d+ \|", line)]
    assert [int(r[0]) for r in rows] == list(range(1, 36))
    fields = {"architecture": Architecture.model_fields, "memory_settings":
              MemoryConfig.model_fields, None: TownConfig.model_fields}
    for number, _, paper, code, ours, key in rows:
        assert paper and code and re.match(r"\*\*(match|departure)\*\*", ours), number
        for name in re.findall(r"`([\w.]+)`", key):
            table, _, field = name.rpartition(".")
            assert field in fields[table or None], f"point {number}: unknown key {name}"
