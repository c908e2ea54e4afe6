"""The Donor Game protocol as a researcher relies on it, checked against the run's own store.

Most tests play a real (rule-brained, so fast and offline) run and then read `run.sqlite` back,
so what is checked is what an analysis would see: the schedule, the traces the donors were
shown, the resource arithmetic, selection and inheritance, and determinism.
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pydantic import ValidationError

from scenarios.donor_game import SCENARIO
from scenarios.donor_game.config import RULE_FAMILIES, DonorGameConfig
from scenarios.donor_game.game import Donor, DonorGame
from scenarios.donor_game.pairing import game_schedule, repaid_benefactor
from scenarios.donor_game.strategies import FAMILIES, Donation, make_policy
from scenarios.donor_game.tasks import Donate, GameContext, WriteStrategy
from sim.brains import RuleBrain
from sim.config import ConfigError, load_config
from sim.population import allocate
from sim.runs.runner import run_scenario
from sim.store import STORE_FILENAME, RunStore
from sim.tasks import ParseError

# -- helpers ----------------------------------------------------------------------------------


def play(run_dir: Path, **values: Any) -> Path:
    """Play one rule-brained run into `run_dir`; return its store's path."""
    result = run_scenario(
        SCENARIO, DonorGameConfig(**values), run_dir=run_dir, progress=False, figures=False
    )
    assert result.status == "finished"
    return run_dir / STORE_FILENAME


def query(db_path: Path, sql: str, params: tuple = ()) -> list[tuple]:
    with closing(sqlite3.connect(db_path)) as db:
        return db.execute(sql, params).fetchall()


def dicts(db_path: Path, table: str, order: str = "rowid") -> list[dict[str, Any]]:
    with closing(sqlite3.connect(db_path)) as db:
        db.row_factory = sqlite3.Row
        return [dict(row) for row in db.execute(f"SELECT * FROM {table} ORDER BY {order}")]


def all_tables(db_path: Path, skip: tuple[str, ...] = ("meta",)) -> dict[str, list[tuple]]:
    with closing(sqlite3.connect(db_path)) as db:
        names = [n for (n,) in db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
        )]
        return {
            name: db.execute(f"SELECT * FROM {name} ORDER BY rowid").fetchall()
            for name in names if name not in skip
        }


def donate_observations(db_path: Path) -> Iterator[dict[str, Any]]:
    for (text,) in query(
        db_path, "SELECT observation FROM decisions WHERE task = 'donate' ORDER BY request_id"
    ):
        yield json.loads(text)


def replay_resources(db_path: Path, endowment: float) -> tuple[dict[tuple[int, str], float], int]:
    """Recompute every agent's resources after every round from the donations table alone.

    Returns ({(step, agent): resources}, how many times the floor at zero was needed).
    """
    donations = dicts(db_path, "donations")
    agent_rounds = dicts(db_path, "agent_rounds")
    by_step: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for row in donations:
        by_step[row["step"]].append(row)
    members: dict[int, list[str]] = defaultdict(list)
    rounds: dict[int, int] = {}
    for row in agent_rounds:
        members[row["step"]].append(row["agent_id"])
        rounds[row["step"]] = row["round"]
    expected: dict[tuple[int, str], float] = {}
    clamps = 0
    held: dict[str, float] = {}
    for step in sorted(members):
        if rounds[step] == 0:  # a new game: everyone back to the endowment
            held = dict.fromkeys(members[step], endowment)
        change = dict.fromkeys(members[step], 0.0)
        for row in by_step[step]:
            paid = row["fraction"] * held[row["donor"]]
            assert row["amount"] == pytest.approx(paid)
            assert row["donor_before"] == pytest.approx(held[row["donor"]])
            assert row["recipient_before"] == pytest.approx(held[row["recipient"]])
            change[row["donor"]] -= paid
            change[row["recipient"]] += row["effect"]
        for agent in members[step]:
            value = held[agent] + change[agent]
            if value < -1e-12:
                clamps += 1
            held[agent] = max(0.0, value)
            expected[(step, agent)] = held[agent]
    return expected, clamps


@pytest.fixture(scope="module")
def default_generation(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One generation with every protocol default (12 agents, round robin, two games)."""
    return play(tmp_path_factory.mktemp("default") / "run", generations=1, seed=3)


@pytest.fixture(scope="module")
def three_generations(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return play(tmp_path_factory.mktemp("three") / "run", generations=3, seed=11)


# -- pairing ----------------------------------------------------------------------------------


@pytest.mark.parametrize("pairing", ["round_robin", "round_robin_alternating"])
def test_round_robin_meets_every_opponent_once_each_way_and_second_game_reverses(
    pairing: str,
) -> None:
    rng = np.random.default_rng(5)
    order = [int(i) for i in rng.permutation(12)]
    first, second = set(order[:6]), set(order[6:])
    games = [game_schedule(pairing, 12, 12, game, rng, order) for game in range(2)]
    for schedule in games:
        assert len(schedule) == 12
        for pairs in schedule:
            assert len(pairs) == 6
            members = [agent for pair in pairs for agent in pair]
            assert sorted(members) == list(range(12))  # disjoint pairs covering everyone
        meetings = Counter(pair for pairs in schedule for pair in pairs)
        cross = {(a, b) for a in first for b in second} | {(b, a) for a in first for b in second}
        assert set(meetings) == cross  # only across the halves, both roles
        assert set(meetings.values()) == {1}  # exactly once as donor and once as recipient
    for forward, backward in zip(games[0], games[1], strict=True):
        assert backward == [(b, a) for a, b in forward]


def test_study_schedule_is_the_released_codes_rotation() -> None:
    """Round i < h pairs A[j] with B[(j - i) mod h], A giving in even rounds; rounds h..2h-1
    repeat them reversed: one half donates in rounds 1, 3, 5, 8, 10, 12, the other in 2, 4, 6,
    7, 9, 11 (our summary of the released notebook)."""
    order = list(range(12))
    a, b = order[:6], order[6:]
    schedule = game_schedule("round_robin", 12, 12, 0, np.random.default_rng(0), order)
    for i in range(6):
        forward = [(a[j], b[(j - i) % 6]) for j in range(6)]
        expected = forward if i % 2 == 0 else [(y, x) for x, y in forward]
        assert schedule[i] == expected
        assert schedule[i + 6] == [(y, x) for x, y in expected]
    a_donates = [r + 1 for r, pairs in enumerate(schedule) if pairs[0][0] in a]
    assert a_donates == [1, 3, 5, 8, 10, 12]


def test_no_donor_meets_the_benefactor_of_the_round_before() -> None:
    """What keeps the game about indirect reciprocity: in the study's order a gift is never
    answered directly; Societas 0.1's alternating order answered 60 of 144."""
    rng = np.random.default_rng(1)
    order = [int(i) for i in rng.permutation(12)]

    def generation(pairing: str) -> list[list[tuple[int, int]]]:
        return [pairs for game in range(2)
                for pairs in game_schedule(pairing, 12, 12, game, rng, order)]

    assert repaid_benefactor(generation("round_robin")) == 0
    assert repaid_benefactor(generation("round_robin_alternating")) == 60
    assert repaid_benefactor([[(0, 1)], [(1, 0)]]) == 1  # the counter itself counts a repayment


def repaid_in_store(db_path: Path) -> tuple[int, int]:
    """(donations to the donor's benefactor of the round before, all donations), per the
    store's donations table, round after round through each generation (across its games)."""
    rounds: dict[int, dict[int, list[tuple[str, str]]]] = defaultdict(dict)
    for row in dicts(db_path, "donations", order="step, rowid"):
        rounds[row["generation"]].setdefault(row["step"], []).append(
            (row["donor"], row["recipient"]))
    repaid = total = 0
    for by_step in rounds.values():
        schedule = [by_step[step] for step in sorted(by_step)]
        repaid += repaid_benefactor(schedule)
        total += sum(len(pairs) for pairs in schedule)
    return repaid, total


def test_default_run_never_repays_the_last_gift_directly(
    default_generation: Path, tmp_path: Path
) -> None:
    assert repaid_in_store(default_generation) == (0, 144)
    legacy = play(tmp_path / "legacy", generations=1, seed=3, protocol="legacy")
    assert repaid_in_store(legacy) == (60, 144)


def test_random_pairing_never_self_and_everyone_donates_once_per_round() -> None:
    rng = np.random.default_rng(0)
    schedule = game_schedule("random", 7, 40, 0, rng)
    assert len(schedule) == 40
    recipients_of: dict[int, set[int]] = defaultdict(set)
    for pairs in schedule:
        donors = [d for d, _ in pairs]
        assert sorted(donors) == list(range(7))
        for donor, recipient in pairs:
            assert donor != recipient
            assert 0 <= recipient < 7
            recipients_of[donor].add(recipient)
    # the draws really are random: every donor meets most of the others over 40 rounds
    assert all(len(others) >= 4 for others in recipients_of.values())


def test_random_pairing_in_a_real_run(tmp_path: Path) -> None:
    db = play(tmp_path / "run", generations=1, agents=5, pairing="random", rounds=6)
    rows = query(db, "SELECT step, donor, recipient FROM donations")
    assert len(rows) == 2 * 6 * 5
    by_step: dict[int, list[str]] = defaultdict(list)
    for step, donor, recipient in rows:
        assert donor != recipient
        by_step[step].append(donor)
    agents = {a for (a,) in query(db, "SELECT agent_id FROM agents")}
    assert all(sorted(donors) == sorted(agents) for donors in by_step.values())


def test_default_generation_plays_144_round_robin_donations(default_generation: Path) -> None:
    rows = dicts(default_generation, "donations")
    assert len(rows) == 144
    agents = [a for (a,) in query(default_generation, "SELECT agent_id FROM agents")]
    assert len(agents) == 12
    per_game: dict[int, dict[int, list[tuple[str, str]]]] = defaultdict(lambda: defaultdict(list))
    for row in rows:
        per_game[row["game"]][row["round"]].append((row["donor"], row["recipient"]))
    assert sorted(per_game) == [0, 1]
    for rounds in per_game.values():
        assert sorted(rounds) == list(range(12))
        for pairs in rounds.values():
            assert len(pairs) == 6
            assert len({agent for pair in pairs for agent in pair}) == 12
        ordered = Counter(pair for pairs in rounds.values() for pair in pairs)
        assert len(ordered) == 72 and set(ordered.values()) == {1}
        # the pairs form the complete bipartite graph between two halves of six
        partners: dict[str, set[str]] = defaultdict(set)
        for donor, recipient in ordered:
            partners[donor].add(recipient)
        half = partners[agents[0]]
        other = set(agents) - half
        assert len(half) == 6 and agents[0] in other
        assert all(partners[a] == half for a in other)
        assert all(partners[b] == other for b in half)
    for round_index in range(12):
        assert per_game[1][round_index] == [(r, d) for d, r in per_game[0][round_index]]
    # the first round that starts each game is played from the endowment
    assert {r["donor_before"] for r in rows if r["round"] == 0} == {10.0}


# -- the reputation trace ---------------------------------------------------------------------


ACT_KEYS = ("donor", "recipient", "action", "fraction", "step", "game", "round")


def expected_traces(
    db_path: Path, depth: int, reset: str = "game"
) -> dict[tuple[int, int, int, str], list[dict]]:
    """The trace every donate decision should have seen, rebuilt from the donations table:
    acts since the last reset (each game, or each generation)."""
    acts: dict[tuple, list[dict[str, Any]]] = defaultdict(list)
    step_of: dict[tuple[int, int, int, str], int] = {}

    def scope(row: dict[str, Any]) -> tuple:
        return (row["generation"], row["game"]) if reset == "game" else (row["generation"],)

    for row in dicts(db_path, "donations", order="step, rowid"):
        act = {key: row[key] for key in ACT_KEYS}
        if row["action"] == "punish":  # the trace states what it cost and what it took
            act |= {"units": row["amount"], "lost": -row["effect"]}
        acts[(*scope(row), row["donor"])].append(act)
        step_of[(row["generation"], row["game"], row["round"], row["donor"])] = row["step"]
    result = {}
    for key, step in step_of.items():
        where = scope(dict(zip(("generation", "game"), key[:2], strict=True)))
        recipient = next(
            r["recipient"] for r in acts[(*where, key[3])] if r["step"] == step
        )
        links: list[dict[str, Any]] = []
        agent, before = recipient, step
        while len(links) < depth:
            earlier = [a for a in acts[(*where, agent)] if a["step"] < before]
            if not earlier:
                break
            links.append(earlier[-1])
            agent, before = earlier[-1]["recipient"], earlier[-1]["step"]
        result[key] = links
    return result


def check_traces(db_path: Path, depth: int, reset: str = "game") -> Counter:
    expected = expected_traces(db_path, depth, reset)
    lengths: Counter = Counter()
    seen = 0
    for obs in donate_observations(db_path):
        key = (obs["generation"], obs["game"], obs["round"], obs["donor"])
        assert obs["trace"] == expected[key], key
        if obs["round"] == 0 and (obs["game"] == 0 or reset == "game"):
            assert obs["trace"] == []  # nobody has acted yet since the reset
        lengths[len(obs["trace"])] += 1
        seen += 1
    assert seen == len(expected)
    return lengths


def test_traces_in_a_real_run_follow_the_chain_and_stop_at_depth(
    default_generation: Path,
) -> None:
    lengths = check_traces(default_generation, depth=3)
    assert max(lengths) == 3
    assert lengths[0] > 0 and lengths[1] > 0 and lengths[2] > 0 and lengths[3] > 0


@pytest.mark.parametrize("reset", ["game", "generation"])
@pytest.mark.parametrize("pairing", ["round_robin", "round_robin_alternating", "random"])
def test_traces_across_generations_and_pairings(tmp_path: Path, pairing: str, reset: str) -> None:
    # random pairing makes everyone act every round, so "strictly before" really matters
    db = play(tmp_path / "run", generations=2, agents=6, pairing=pairing, trace_depth=5,
              rounds=8, seed=2, trace_reset=reset)
    lengths = check_traces(db, depth=5, reset=reset)
    assert lengths[5] > 0
    # survivors start the second generation with a clean record too
    second = [o for o in donate_observations(db) if o["generation"] == 1 and o["game"] == 0
              and o["round"] == 0]
    assert second and all(o["trace"] == [] for o in second)


def test_trace_depth_one_and_zero(tmp_path: Path) -> None:
    lengths = check_traces(play(tmp_path / "one", generations=1, agents=6, trace_depth=1), 1)
    assert set(lengths) == {0, 1}
    zero = play(tmp_path / "zero", generations=1, agents=6, trace_depth=0)
    observations = list(donate_observations(zero))
    assert observations and all(obs["trace"] == [] for obs in observations)


@pytest.mark.parametrize("protocol", ["vh2024", "legacy"])
def test_without_a_trace_the_donor_is_not_told_the_recipient_has_no_record(
        protocol: str) -> None:
    """trace_depth=0 once told every donor "X has not been a donor yet: there is no record",
    false for most recipients; the rules say the donor is told nothing."""
    context = GameContext.from_config(DonorGameConfig(agents=4, trace_depth=0,
                                                      protocol=protocol))
    system, user = Donate(context, donate_facts(trace=[]), "my plan").messages()
    assert "told nothing about what the recipient did before" in system["content"]
    assert "no record" not in user["content"]
    assert "You are told nothing about what g0-a03 did before." in user["content"]
    first = WriteStrategy(context, "g0-a01", 0).messages()[1]["content"]
    assert "steps back" not in system["content"] and "a donor knows" not in first
    # nor told, when it writes its strategy, of a record its first round lacks, or reminded
    # of what a donor knows of the recipient (nothing)
    later = WriteStrategy(context, "g1-a01", 1, [("g0-a00", "Give half.")]).messages()
    for text in (first, later[1]["content"]):
        assert "no such record" not in text and "no information at all" not in text
        assert "a donor knows only" not in text


def test_trace_chain_on_hand_built_history() -> None:
    game = DonorGame(DonorGameConfig(agents=4, trace_depth=3))
    names = ["A", "B", "C", "D"]
    agents = {
        name: Donor(game, name=name, brain=RuleBrain(make_policy("always_defect")),
                    generation=0, parents=[])
        for name in names
    }
    for slot, name in zip(game.population.slots, names, strict=True):
        slot.agent = agents[name]
    game.population.by_name.update(agents)

    def act(donor: str, recipient: str, step: int, fraction: float) -> dict[str, Any]:
        record = {"donor": donor, "recipient": recipient, "action": "donate",
                  "fraction": fraction, "step": step}
        agents[donor].acts.append(record)
        agents[donor].act_steps.append(step)
        return record

    d1 = act("D", "C", 1, 0.1)
    b3 = act("B", "D", 3, 0.3)
    b5 = act("B", "C", 5, 0.5)  # same step as A's act: must not follow from it
    a5 = act("A", "B", 5, 0.6)
    a7 = act("A", "C", 7, 0.7)

    assert game._trace(agents["A"], 6) == [a5, b3, d1]
    assert game._trace(agents["A"], 8) == [a7]  # C never acted: the chain ends there
    assert game._trace(agents["A"], 5) == []  # nothing strictly before the current step
    assert game._trace(agents["C"], 9) == []  # a newcomer has no record
    game.config.trace_depth = 2
    assert game._trace(agents["A"], 6) == [a5, b3]
    game.config.trace_depth = 0
    assert game._trace(agents["A"], 6) == []
    assert b5 in agents["B"].acts


def donate_facts(**changes: Any) -> dict[str, Any]:
    trace = [{"donor": "g0-a03", "recipient": "g0-a00", "action": "punish", "fraction": 0.2,
              "step": 4, "game": 1, "round": 4, "units": 2.0, "lost": 4.0}]
    facts = {"generation": 2, "game": 1, "round": 5, "donor": "g0-a01", "recipient": "g0-a03",
             "donor_resources": 12.5, "recipient_resources": 31.25, "multiplier": 2.0,
             "punishment": True, "partner_choice": False, "punishment_multiplier": 2.0,
             "trace": trace}
    return {**facts, **changes}


def test_prompts_render_with_the_agent_name() -> None:
    """The prompts a model would get (built here without calling one) name the player."""
    context = GameContext.from_config(DonorGameConfig(agents=4, punishment=True))
    first = WriteStrategy(context, "g0-a01", 0).messages()
    assert "g0-a01" in first[1]["content"] and "$" not in first[1]["content"]
    later = WriteStrategy(context, "g1-a02", 1, [("g0-a00", "I give <b>half</b>.")]).messages()
    assert "g1-a02" in later[1]["content"] and "&lt;b&gt;half" in later[1]["content"]
    system, user = Donate(context, donate_facts(), "my plan").messages()
    assert "punish" in system["content"]
    text = user["content"]
    assert "g0-a01" in text and "12.50" in text and "my plan" in text
    assert ("In round 5, g0-a03 spent 2.00 units (20.00% of their resources) to punish g0-a00, "
            "who lost 4.00 units.") in text
    assert "g0-a00 had not been a donor before that in this game." in text
    assert "$" not in text


def test_study_prompts_hide_the_horizon_and_show_the_recipients_resources() -> None:
    """vh2024: no number of games or rounds, no game number; the round and the recipient's
    resources are shown; the donor's own strategy is its plan, answered in units."""
    context = GameContext.from_config(DonorGameConfig(agents=12))
    system, user = Donate(context, donate_facts(), "I give half to givers.").messages()
    for text in (system["content"], user["content"]):
        assert "game 2" not in text.lower() and "games" not in text.lower()
        assert "12 rounds" not in text and "of 12" not in text
    text = user["content"]
    assert "It is now round 6." in text and "generation 3" in text
    assert "g0-a03 currently has 31.25 units" in text
    assert "Here is the strategy you decided to follow: I give half to givers." in text
    assert "agent_text" not in text  # the donor's own plan is not quoted as someone else's
    assert "Any number from 0 to 12.50" in text and '"Answer: <a number from 0 to 12.50>"' in text
    assert "percent" not in text.lower()


def test_legacy_prompts_keep_societas_0_1s_choices() -> None:
    context = GameContext.from_config(DonorGameConfig(agents=12, protocol="legacy"))
    system, user = Donate(context, donate_facts(), "I give half to givers.").messages()
    assert "Each generation plays 2 game(s) of 12 rounds." in system["content"]
    text = user["content"]
    assert "This is game 2 of 2, and every game has 12 rounds." in text
    assert "31.25" not in text
    assert '<agent_text author="g0-a01">' in text
    assert '"percent"' in text


def test_one_factor_at_a_time_overrides_the_protocol() -> None:
    config = DonorGameConfig(show_horizon=True)
    assert config.protocol == "vh2024" and config.show_horizon
    assert config.answer_unit == "units" and config.pairing == "round_robin"
    legacy = load_config(DonorGameConfig, overrides=["protocol='legacy'", "answer_unit='units'"])
    assert legacy.answer_unit == "units" and legacy.pairing == "round_robin_alternating"
    # the resolved config records every key, so a run read back later is the same run
    assert DonorGameConfig.model_validate(legacy.model_dump(mode="json")) == legacy
    assert DonorGameConfig(punishment=True).punishment == "costly"  # configs written before


def test_units_answers_parse_within_the_donors_resources() -> None:
    context = GameContext.from_config(DonorGameConfig(agents=4, reasoning_format="json"))
    task = Donate(context, donate_facts(punishment=False), "plan")
    decision = task.parse('{"reasoning": "they punished", "units": 2.5}')
    assert decision.units == 2.5 and decision.fraction == pytest.approx(0.2)
    assert task.parse("Justification: fair.\nAnswer: 0").units == 0.0
    with pytest.raises(ParseError, match="outside the allowed range"):
        task.parse('{"units": 40}')
    assert task.response_format()["json_schema"]["schema"]["properties"]["units"] == {
        "type": "number", "minimum": 0, "maximum": 12.5,
    }


def test_partner_choice_answers_and_prompts() -> None:
    context = GameContext.from_config(DonorGameConfig(agents=4, punishment="partner_choice"))
    task = Donate(context, donate_facts(punishment=False, partner_choice=True), "plan")
    assert "punish the recipient by refusing to interact" in task.messages()[0]["content"]
    assert task.parse("They gave nothing last time.\nAnswer: Refuse") == Donation("refuse", 0.0)
    legacy = GameContext.from_config(DonorGameConfig(agents=4, punishment="partner_choice",
                                                     protocol="legacy"))
    assert "refuse to play" in Donate(legacy, task.facts, "plan").messages()[0]["content"]
    assert task.parse('{"action": "refuse", "units": 0}') == Donation("refuse", 0.0)
    assert task.parse('{"action": "give", "units": 5}').units == 5.0


def test_reasoned_strategies_keep_only_the_strategy_sentence() -> None:
    context = GameContext.from_config(DonorGameConfig(agents=4))
    task = WriteStrategy(context, "g0-a00", 0)
    assert "step by step" in task.messages()[1]["content"]
    reply = ('{"reasoning": "Gifts are doubled, so helping helpers pays.", '
             '"strategy": "My strategy will be to give half to those who gave."}')
    assert task.parse(reply) == "My strategy will be to give half to those who gave."
    prose = ("I could write 'My strategy will be' and stop. Defectors exploit givers.\n"
             "My strategy will be to give 40% to anyone who gave at least 20% last time.")
    assert task.parse(prose) == \
        "My strategy will be to give 40% to anyone who gave at least 20% last time."
    with pytest.raises(ParseError, match="cut off before your strategy"):
        task.parse('{"reasoning": "First, consider the multiplier. Then')
    assert task.parse('{"reasoning": "ok", "strategy": "My strategy will be to give half') == \
        "My strategy will be to give half"
    with pytest.raises(ParseError, match="placeholder"):
        task.parse('{"reasoning": "ok", "strategy": "My strategy will be ..."}')


# -- resources ---------------------------------------------------------------------------------


def test_cooperators_first_rounds_by_hand(tmp_path: Path) -> None:
    db = play(tmp_path / "run", generations=1, brains={"always_cooperate": 1})
    first = [r for r in dicts(db, "donations") if r["step"] == 0]
    assert len(first) == 6
    for row in first:
        assert row["action"] == "donate"
        assert row["fraction"] == pytest.approx(0.5)
        assert (row["donor_before"], row["recipient_before"]) == (10.0, 10.0)
        assert row["amount"] == pytest.approx(5.0)
        assert row["effect"] == pytest.approx(10.0)
    after = dict(query(db, "SELECT agent_id, resources FROM agent_rounds WHERE step = 0"))
    assert len(after) == 12
    for row in first:
        assert after[row["donor"]] == pytest.approx(5.0)
        assert after[row["recipient"]] == pytest.approx(20.0)
    # round 2: roles alternate, so last round's recipients (20 each) give half to last
    # round's donors (5 each): 20 - 10 = 10 and 5 + 2 * 10 = 25
    second = [r for r in dicts(db, "donations") if r["step"] == 1]
    assert {r["donor"] for r in second} == {r["recipient"] for r in first}
    after2 = dict(query(db, "SELECT agent_id, resources FROM agent_rounds WHERE step = 1"))
    for row in second:
        assert row["donor_before"] == pytest.approx(20.0)
        assert row["recipient_before"] == pytest.approx(5.0)
        assert after2[row["donor"]] == pytest.approx(10.0)
        assert after2[row["recipient"]] == pytest.approx(25.0)
    # every later round agrees with the donations table; the score is the last game's final
    # resources (what the study ranks on) and final_mean their mean over both games
    expected, clamps = replay_resources(db, endowment=10.0)
    assert clamps == 0
    for step, agent, resources in query(db, "SELECT step, agent_id, resources FROM agent_rounds"):
        assert resources == pytest.approx(expected[(step, agent)])
    finals = defaultdict(list)
    for agent, resources in query(
        db, "SELECT agent_id, resources FROM agent_rounds WHERE round = 11 ORDER BY game"
    ):
        finals[agent].append(resources)
    for agent, score, final_mean in query(
        db, "SELECT agent_id, score, final_mean FROM generation_scores"
    ):
        assert len(finals[agent]) == 2
        assert score == pytest.approx(finals[agent][1])
        assert final_mean == pytest.approx(np.mean(finals[agent]))
    # total wealth grows by exactly what was given (multiplier 2): gifts are never lost
    total_given = sum(r["amount"] for r in dicts(db, "donations") if r["game"] == 0)
    end_of_game0 = sum(v for (s, _), v in expected.items() if s == 11)
    assert end_of_game0 == pytest.approx(120.0 + total_given)


def test_defectors_keep_the_endowment(tmp_path: Path) -> None:
    db = play(tmp_path / "run", generations=2, agents=6, brains={"always_defect": 1})
    assert {r for (r,) in query(db, "SELECT resources FROM agent_rounds")} == {10.0}
    assert {a for (a,) in query(db, "SELECT amount FROM donations")} == {0.0}
    assert {s for (s,) in query(db, "SELECT score FROM generation_scores")} == {10.0}


def test_multiplier_comes_from_config(tmp_path: Path) -> None:
    db = play(tmp_path / "run", generations=1, agents=4, rounds=1, games=1,
              brains={"always_cooperate": 1}, multiplier=3.0, endowment=8.0)
    for row in dicts(db, "donations"):
        assert row["amount"] == pytest.approx(4.0) and row["effect"] == pytest.approx(12.0)
    assert sorted(r for (r,) in query(db, "SELECT resources FROM agent_rounds")) == \
        pytest.approx([4.0, 4.0, 20.0, 20.0])


# -- punishment --------------------------------------------------------------------------------


@pytest.fixture
def punishing_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    """Discriminators that punish (rule params are defaults in configs, so patch the factory)."""

    def factory(family: str, **params: float):  # type: ignore[no-untyped-def]
        if family in ("image_scoring", "standing") and not params:
            params = {"punish": 0.6}
        return original(family, **params)

    original = FAMILIES.make

    monkeypatch.setattr(FAMILIES, "make", factory)


def test_punishment_costs_the_recipient_the_multiple_and_floors_at_zero(
    tmp_path: Path, punishing_rules: None
) -> None:
    db = play(tmp_path / "run", generations=1, punishment=True, punishment_multiplier=3.0,
              brains={"image_scoring": 1, "standing": 1, "always_defect": 1}, seed=4)
    kinds = dict(query(db, "SELECT agent_id, kind FROM agents"))
    punished = [r for r in dicts(db, "donations") if r["action"] == "punish"]
    assert punished, "discriminators facing defectors should punish"
    floored = 0
    for row in punished:
        assert kinds[row["donor"]] in ("image_scoring", "standing")
        assert row["fraction"] == pytest.approx(0.6)
        assert row["amount"] == pytest.approx(0.6 * row["donor_before"])
        # the recipient loses 3x what the punisher paid, but never more than it holds: the
        # effect is what it really lost (in the round-robin nobody meets two donors a round)
        fine = 3.0 * row["amount"]
        floored += fine > row["recipient_before"]
        assert row["effect"] == pytest.approx(-min(fine, row["recipient_before"]))
    assert floored > 0, "the run should fine someone more than it holds, to exercise the floor"
    assert min(r for (r,) in query(db, "SELECT resources FROM agent_rounds")) >= 0.0
    expected, clamps = replay_resources(db, endowment=10.0)
    assert clamps == 0, "the recorded effects already account for the floor"
    for step, agent, resources in query(db, "SELECT step, agent_id, resources FROM agent_rounds"):
        assert resources == pytest.approx(expected[(step, agent)])
    lengths = check_traces(db, depth=3)  # later donors read each punishment's cost and fine
    assert lengths[1] + lengths[2] + lengths[3] > 0
    punishments = query(
        db, "SELECT step, value FROM metrics WHERE scope = 'step' AND name = 'punishments'"
    )
    per_step = Counter(r["step"] for r in punished)
    assert {step: int(v) for step, v in punishments if v} == dict(per_step)


def test_partner_choice_refusals_change_nothing_and_enter_the_trace(tmp_path: Path) -> None:
    db = play(tmp_path / "run", generations=1, punishment="partner_choice",
              brains={"image_scoring": 1, "always_defect": 1}, seed=4)
    refusals = [r for r in dicts(db, "donations") if r["action"] == "refuse"]
    assert refusals, "image scorers facing defectors should refuse to play"
    kinds = dict(query(db, "SELECT agent_id, kind FROM agents"))
    assert {kinds[r["donor"]] for r in refusals} == {"image_scoring"}
    assert all(r["amount"] == 0 and r["effect"] == 0 for r in refusals)
    expected, _ = replay_resources(db, endowment=10.0)
    for step, agent, resources in query(db, "SELECT step, agent_id, resources FROM agent_rounds"):
        assert resources == pytest.approx(expected[(step, agent)])
    seen = [act for obs in donate_observations(db) for act in obs["trace"]]
    assert any(act["action"] == "refuse" for act in seen)  # later donors learn of it
    assert {a for (a,) in query(db, "SELECT action FROM donations")} == {"donate", "refuse"}


def test_no_punishment_when_the_variant_is_off(tmp_path: Path, punishing_rules: None) -> None:
    db = play(tmp_path / "run", generations=1, punishment=False,
              brains={"image_scoring": 1, "standing": 1, "always_defect": 1}, seed=4)
    actions = {a for (a,) in query(db, "SELECT action FROM donations")}
    assert actions == {"donate"}
    assert min(e for (e,) in query(db, "SELECT effect FROM donations")) >= 0.0


# -- selection and inheritance -----------------------------------------------------------------


def test_top_half_by_last_game_survives_and_the_last_generation_is_not_selected(
    three_generations: Path,
) -> None:
    scores = dicts(three_generations, "generation_scores", order="generation, rank")
    finals: dict[tuple[int, str], list[float]] = defaultdict(list)
    for generation, agent, resources in query(
        three_generations,
        "SELECT generation, agent_id, resources FROM agent_rounds WHERE round = 11",
    ):
        finals[(generation, agent)].append(resources)
    for generation in range(3):
        rows = [r for r in scores if r["generation"] == generation]
        assert [r["rank"] for r in rows] == list(range(12))
        for row in rows:
            agent_finals = finals[(generation, row["agent_id"])]
            assert row["score"] == pytest.approx(agent_finals[-1])
            assert row["final_mean"] == pytest.approx(np.mean(agent_finals))
        ranked = [r["score"] for r in rows]
        assert ranked == sorted(ranked, reverse=True)
        if generation == 2:  # the study selects nobody after the last generation
            assert [r["survived"] for r in rows] == [None] * 12
            continue
        assert [r["survived"] for r in rows] == [1] * 6 + [0] * 6
        worst_survivor = min(r["score"] for r in rows if r["survived"])
        best_loser = max(r["score"] for r in rows if not r["survived"])
        assert worst_survivor >= best_loser


def test_survivors_keep_names_and_newcomers_inherit_from_survivors(
    three_generations: Path,
) -> None:
    scores = dicts(three_generations, "generation_scores")
    agents = {row["agent_id"]: row for row in dicts(three_generations, "agents")}
    for generation in (1, 2):
        previous = {r["agent_id"]: r for r in scores if r["generation"] == generation - 1}
        survivors = {a for a, r in previous.items() if r["survived"]}
        current = {r["agent_id"] for r in scores if r["generation"] == generation}
        assert survivors <= current
        newcomers = current - survivors
        assert len(newcomers) == 6
        for name in newcomers:
            assert name.startswith(f"g{generation}-")
            row = agents[name]
            assert row["generation"] == generation and row["brain"] == "rule"
            parents = json.loads(row["parents"])
            assert len(parents) == 1 and parents[0] in survivors
            assert row["kind"] == agents[parents[0]]["kind"]
    assert all(json.loads(r["parents"]) == [] for r in agents.values() if r["generation"] == 0)
    assert all(name.startswith("g0-") for name, r in agents.items() if r["generation"] == 0)


def hand_worked_game(tmp_path: Path, **values: Any) -> tuple[DonorGame, dict[str, Donor]]:
    """Four agents A-D in slots 0-3 with finals, gifts and each game's reputation score set by
    hand (no game played)."""
    store = RunStore(tmp_path / "hand.sqlite")
    game = DonorGame(DonorGameConfig(agents=4, **values), store=store)
    agents = {}
    finals = {"A": [30.0, 5.0], "B": [5.0, 30.0], "C": [20.0, 20.0], "D": [20.0, 5.0]}
    shares = {"A": [0.9, 0.7], "B": [0.0, 0.2], "C": [0.5], "D": [0.9, 0.7]}
    reputations = {"A": [0.9, 0.5], "B": [0.8, None], "C": [0.1, 0.3], "D": [0.2, 0.2]}
    for slot, name in zip(game.population.slots, "ABCD", strict=True):
        agent = Donor(game, name=name, brain=RuleBrain(make_policy("always_defect")),
                      generation=0, parents=[])
        agent.final_resources, agent.shares_given = finals[name], shares[name]
        agent.game_reputations = reputations[name]
        slot.agent = agents[name] = game.population.by_name[name] = agent
    return game, agents


SHUFFLED = [3, 1, 0, 2]  # the generation's shuffled order of slots: D, B, A, C


@pytest.mark.parametrize(("values", "ranking", "survivors"), [
    # last game: B 30, C 20, then A and D tie at 5: D comes first in the shuffled order
    ({}, ["B", "C", "D", "A"], {"B", "C"}),
    # mean of the games: C 20, then A and B tie at 17.5: B comes first in the shuffled order
    ({"selection_score": "mean_games"}, ["C", "B", "A", "D"], {"C", "B"}),
    # generosity: mean share given: A and D tie at 0.8 (D first), then C 0.5, B 0.1
    ({"selection": "generosity"}, ["D", "A", "C", "B"], {"D", "A"}),
    # reputation: the games' final scores averaged (B gave in one game only): B 0.8, A 0.7,
    # then C and D tie at 0.2 (D first)
    ({"selection": "reputation"}, ["B", "A", "D", "C"], {"B", "A"}),
], ids=["last-game", "mean-games", "generosity", "reputation"])
def test_selection_by_hand(
    tmp_path: Path, values: dict[str, Any], ranking: list[str], survivors: set[str]
) -> None:
    game, _ = hand_worked_game(tmp_path, **values)
    kept = game._select(0, SHUFFLED, keep=True)
    assert {a.name for a in kept} == survivors
    rows = sorted(game.store.rows(
        "SELECT rank, agent_id, survived, score, final_mean, share_given FROM generation_scores"
    ))
    assert [r[1] for r in rows] == ranking
    assert {r[1] for r in rows if r[2] == 1} == survivors
    by_name = {r[1]: r for r in rows}
    ranked_on = {"top": 5.0, "mean_games": 17.5, "generosity": pytest.approx(0.8),
                 "reputation": pytest.approx(0.7)}
    expected = ranked_on[values.get("selection_score", values.get("selection", "top"))]
    assert by_name["A"][3:] == (expected, 17.5, pytest.approx(0.8))  # score: what was ranked
    assert set(game.population.by_name) == survivors  # the others left the population
    assert all(slot.agent is None or slot.agent.name in survivors
               for slot in game.population.slots)


def test_no_selection_after_the_last_generation_by_hand(tmp_path: Path) -> None:
    game, _ = hand_worked_game(tmp_path)
    assert game._select(0, SHUFFLED, keep=False) == []
    rows = game.store.rows("SELECT agent_id, survived FROM generation_scores ORDER BY rank")
    assert rows == [("B", None), ("C", None), ("D", None), ("A", None)]
    assert set(game.population.by_name) == set("ABCD")


def test_random_selection_keeps_a_seeded_random_half(tmp_path: Path) -> None:
    kept = []
    for seed in range(12):
        game, _ = hand_worked_game(tmp_path / str(seed), selection="random", seed=seed)
        kept.append(frozenset(a.name for a in game._select(0, SHUFFLED, keep=True)))
    assert all(len(k) == 2 for k in kept)
    assert len(set(kept)) > 2  # not the score ranking: different seeds, different survivors


def test_traces_start_empty_at_each_game_by_hand(tmp_path: Path) -> None:
    """Four cooperators giving half, two games: in game 2 round 1 nobody has a record, in
    round 2 every recipient's record is its round-1 gift (dated by round), under the study's
    protocol; with traces kept per generation, game 2 starts with game 1's acts."""
    for reset in ("game", "generation"):
        db = play(tmp_path / reset, generations=1, agents=4, brains={"always_cooperate": 1},
                  trace_reset=reset)
        second_game = [o for o in donate_observations(db) if o["game"] == 1]
        first_round = [o for o in second_game if o["round"] == 0]
        assert len(first_round) == 2
        if reset == "game":
            assert all(o["trace"] == [] for o in first_round)
        else:
            assert all(o["trace"] and o["trace"][0]["game"] == 0 for o in first_round)
        for obs in (o for o in second_game if o["round"] == 1):
            last = obs["trace"][0]
            assert (last["donor"], last["game"], last["round"], last["fraction"]) == \
                (obs["recipient"], 1, 0, 0.5)


def test_strategies_one_per_agent_written_by_the_rule(three_generations: Path) -> None:
    agents = dicts(three_generations, "agents")
    strategies = dicts(three_generations, "strategies")
    assert len(agents) == 12 + 6 + 6
    assert len(strategies) == len(agents)
    by_id = {row["agent_id"]: row for row in strategies}
    assert set(by_id) == {row["agent_id"] for row in agents}
    for agent in agents:
        strategy = by_id[agent["agent_id"]]
        assert strategy["generation"] == agent["generation"]
        assert strategy["source"] == "rule"
        assert json.loads(strategy["parents"]) == json.loads(agent["parents"])
        policy = make_policy(agent["kind"], **json.loads(agent["params"]))
        assert strategy["text"] == policy.describe()
        assert strategy["text"]


# -- determinism -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "population",
    [{}, {"brains": {"always_defect": 1}}],  # the second is all ties: selection by the rng
    ids=["rule-mix", "all-tied"],
)
def test_same_seed_same_store_and_different_seed_different_play(
    tmp_path: Path, population: dict[str, Any]
) -> None:
    values = {"generations": 3, "agents": 8, "seed": 7, **population}
    first = all_tables(play(tmp_path / "a", **values))
    second = all_tables(play(tmp_path / "b", **values))
    assert set(first) >= {"agents", "decisions", "donations", "agent_rounds",
                          "generation_scores", "strategies", "metrics"}
    assert first == second
    assert all(first[name] for name in ("agents", "decisions", "donations", "strategies"))
    other = all_tables(play(tmp_path / "c", **{**values, "seed": 8}))
    assert other["donations"] != first["donations"]


# -- brains mix ---------------------------------------------------------------------------------


def test_allocate_rule_spreads_over_the_five_families() -> None:
    kinds = allocate({"rule": 1}, 12, RULE_FAMILIES)
    counts = Counter(kinds)
    assert len(kinds) == 12
    assert set(counts) == set(RULE_FAMILIES)
    assert max(counts.values()) - min(counts.values()) <= 1


def test_allocate_shares() -> None:
    assert Counter(allocate({"always_defect": 1, "generous": 3}, 8, RULE_FAMILIES)) == {
        "always_defect": 2, "generous": 6,
    }
    mixed = allocate({"always_cooperate": 1, "always_defect": 1, "standing": 1}, 10,
                     RULE_FAMILIES)
    assert len(mixed) == 10
    assert sorted(Counter(mixed).values()) == [3, 3, 4]


def test_population_in_the_store_follows_the_mix(tmp_path: Path) -> None:
    db = play(tmp_path / "run", generations=1, agents=8,
              brains={"always_defect": 1, "generous": 3})
    assert Counter(k for (k,) in query(db, "SELECT kind FROM agents")) == {
        "always_defect": 2, "generous": 6,
    }


# -- config validation --------------------------------------------------------------------------


def test_round_robin_needs_an_even_population() -> None:
    with pytest.raises(ValidationError, match="even number of agents"):
        DonorGameConfig(agents=11)
    with pytest.raises(ConfigError, match="even number of agents"):
        load_config(DonorGameConfig, overrides=["agents=11"])
    assert DonorGameConfig(agents=11, pairing="random").agents == 11


def test_unknown_brain_kind_is_named() -> None:
    with pytest.raises(ValidationError, match="martian"):
        DonorGameConfig(brains={"martian": 1})
    with pytest.raises(ConfigError, match=r"unknown brain kind.*martian"):
        load_config(DonorGameConfig, overrides=["brains.martian=1"])


def test_llm_brains_need_a_model() -> None:
    with pytest.raises(ConfigError, match="no model"):
        load_config(DonorGameConfig, overrides=["brains.llm=1"])
    config = load_config(DonorGameConfig, values={"model": "openai/x"})
    assert config.brains == {"llm": 1.0}
    assert DonorGameConfig().brains == {"rule": 1.0}


def test_strategy_replies_cut_off_or_copying_the_placeholder() -> None:
    context = GameContext.from_config(DonorGameConfig(agents=4))
    task = WriteStrategy(context, "g0-a00", 0)
    # max_tokens cut the JSON string: keep the words, not the JSON debris
    cut = task.parse('{"strategy": "I give half to those who \\"gave\\" before and nothing to')
    assert cut == 'I give half to those who "gave" before and nothing to'
    assert task.parse('```json\n{"strategy": "Give 30%."}\n```') == "Give 30%."
    # small models echo the prompt's placeholder: that is not a strategy, so ask again
    with pytest.raises(ParseError, match="placeholder"):
        task.parse('{"strategy": "<your strategy>"}')


def test_a_partial_memory_settings_table_keeps_strategy_inheritance() -> None:
    config = load_config(DonorGameConfig, overrides=["memory=true",
                                                     "memory_settings.preset='released_code'"])
    assert config.memory_settings.inheritance == "strategy"
    assert config.memory_settings.reflection_threshold == 250
    assert DonorGameConfig().memory_settings.inheritance == "strategy"
