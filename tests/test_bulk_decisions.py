"""Rule decisions in bulk: the same questions, answers, ids and stores as one at a time.

`World.bulk_decisions = False` is the reference path (one event, one answer, one dict row per
decision, as before the bulk path existed); every store the bulk path writes must equal it,
table by table, checkpoint digests included.
"""

from __future__ import annotations

import gc
import math
import weakref
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pytest
from run_helpers import quiet
from test_world import Echo, Identity

from scenarios.donor_game.config import DonorGameConfig
from scenarios.donor_game.game import DonorGame
from scenarios.donor_game.observation import Act, Trace, observation_json
from scenarios.donor_game.strategies import FAMILIES, Donation
from sim import RuleBrain, SimAgent, World, get_scenario, load_config, snapshot
from sim.runs.runner import run_scenario
from sim.store import RunStore, to_json
from sim.store_values import digest_text


def echo_run(bulk: bool, monkeypatch: pytest.MonkeyPatch, path: Path) -> tuple[list, list]:
    """Two processes, one asking in bulk, one alone, twice: answers and the order they resume."""
    monkeypatch.setattr(World, "bulk_decisions", bulk)
    store = RunStore(path)
    world = World(seed=0, store=store)
    agents = [SimAgent(world, name=f"a{i}", brain=RuleBrain(Identity())) for i in range(4)]
    log: list = []

    def many():
        for turn in range(2):
            answers = yield world.decide_many(agents[:3], [Echo(f"{turn}-{i}") for i in range(3)])
            log.append(("many", world.env.now, answers))
            empty = yield world.decide_many([], [])
            log.append(("none", world.env.now, empty))
            yield world.env.timeout(1)

    def alone():
        for turn in range(2):
            answer = yield agents[3].decide(Echo(f"alone-{turn}"))
            log.append(("alone", world.env.now, answer))
            yield world.env.timeout(1)

    world.process(many())
    world.process(alone())
    world.run()
    store.commit()
    rows = store.rows("SELECT request_id, agent_id, observation, decision FROM decisions")
    store.close()
    return log, rows


def test_decide_many_asks_what_decide_asks_in_order(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    bulk = echo_run(True, monkeypatch, tmp_path / "bulk.sqlite")
    reference = echo_run(False, monkeypatch, tmp_path / "reference.sqlite")
    assert bulk == reference
    log, rows = bulk
    # a question asked alone resumes first, then the group: as if it were an AllOf of its own
    assert log[:3] == [("alone", 0, "alone-0"), ("many", 0, ["0-0", "0-1", "0-2"]),
                       ("none", 0, [])]
    assert [r[0] for r in rows] == list(range(8))  # ids in asking order, as `decide` gives
    assert rows[3] == (3, "a3", '{"value":"alone-0"}', '{"value":"alone-0"}')
    assert snapshot(tmp_path / "bulk.sqlite") == snapshot(tmp_path / "reference.sqlite")


def test_decide_many_refuses_mismatched_lists() -> None:
    world = World(seed=0)
    agent = SimAgent(world, name="a", brain=RuleBrain(Identity()))
    with pytest.raises(ValueError, match="2 agents and 1 tasks"):
        world.decide_many([agent, agent], [Echo(1)])


DONOR_GAMES = [
    {"agents": 12, "generations": 2, "rounds": 4, "seed": 1},
    {"agents": 10, "generations": 2, "rounds": 3, "seed": 2, "punishment": "costly",
     "brains": {"image_scoring": 1, "standing": 1}},
    {"agents": 9, "generations": 2, "rounds": 3, "seed": 3, "pairing": "random",
     "punishment": "partner_choice", "trace_reset": "generation"},
    {"agents": 8, "generations": 2, "seed": 4, "protocol": "legacy", "trace_depth": 1},
]


def donor_game_both_ways(values: dict, tmp_path: Path,
                         monkeypatch: pytest.MonkeyPatch) -> dict[str, list[tuple]]:
    """A Donor Game's store in bulk, checked equal to the one-at-a-time path's."""
    scenario = get_scenario("donor-game")
    config = load_config(scenario.config_type, values=values)
    stores = []
    for bulk in (True, False):
        monkeypatch.setattr(World, "bulk_decisions", bulk)
        result = run_scenario(scenario, config, run_dir=tmp_path / str(bulk), options=quiet())
        assert result.status == "finished"
        stores.append(snapshot(result.run_dir / "run.sqlite"))
    assert stores[0] == stores[1]
    assert stores[0]["decisions"] and stores[0]["checkpoints"]
    return stores[0]


@pytest.mark.parametrize("values", DONOR_GAMES)
def test_donor_game_stores_equal_one_at_a_time(values: dict, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    donor_game_both_ways(values, tmp_path, monkeypatch)


@pytest.fixture
def punishing_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    """Discriminators that punish or refuse (rule params are defaults in configs, so patch the
    factory)."""
    original = FAMILIES.make

    def factory(family: str, **params: float):  # type: ignore[no-untyped-def]
        if family in ("image_scoring", "standing") and not params:
            params = {"punish": 0.6}
        return original(family, **params)

    monkeypatch.setattr(FAMILIES, "make", factory)


SANCTIONED_GAMES = {
    # several punishers may fine one recipient a round (random pairing): fines floored together
    "costly": {"punishment": "costly", "punishment_multiplier": 3.0, "pairing": "random"},
    "partner_choice": {"punishment": "partner_choice"},
}


@pytest.mark.parametrize("sanction", list(SANCTIONED_GAMES))
def test_vh2024_sanctions_store_equal_one_at_a_time(sanction: str, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch,
                                                    punishing_rules: None) -> None:
    """The study's protocol with its sanctions and reputation selection: fines floored at 0
    (`effect`), plain traces carrying a punishment's units and loss, reputations updated gift
    by gift, the same through the bulk path as one question and one dict row at a time."""
    store = donor_game_both_ways({
        "agents": 8, "generations": 2, "seed": 5, "selection": "reputation",
        "brains": {"image_scoring": 2, "standing": 1, "always_defect": 2, "generous": 1},
        **SANCTIONED_GAMES[sanction]}, tmp_path, monkeypatch)
    assert DonorGameConfig().trace_format == "plain"  # vh2024, the default protocol
    donations = store["donations"]  # columns as in scenarios/donor_game/tables.py
    observations = "".join(row[4] for row in store["decisions"])
    if sanction == "costly":
        floored = [row for row in donations
                   if row[6] == "punish" and -row[9] < 3.0 * row[8] - 1e-9]
        assert floored, "some fine should have met the floor at 0"
        assert '"lost":' in observations and '"units":' in observations
    else:
        assert any(row[6] == "refuse" for row in donations)


def facts(**changes: Any) -> dict[str, Any]:
    act = Act(donor="g0-a03", recipient="g0-a00", action="punish", fraction=0.2, step=4,
              game=1, round=4)
    values = {"generation": 2, "game": 1, "round": 5, "donor": "g0-a01",
              "recipient": "g0-a03", "donor_resources": 12.5, "recipient_resources": 31.25,
              "multiplier": 2.0, "punishment": True, "partner_choice": False,
              "punishment_multiplier": 2.0, "trace": Trace([act, act])}
    return {**values, **changes}


def _punished() -> Act:
    """A punishment under plain traces as the game records it: its amounts set after it is
    played, before anything reads its JSON."""
    act = Act.played("b", "c", "punish", 0.5, 2, 0, 2)
    act["units"], act["lost"] = 1.5, 3.0
    return act


@pytest.mark.parametrize("changes", [
    {}, {"trace": Trace()}, {"trace": []}, {"donor_resources": 3}, {"multiplier": 2},
    {"punishment": 1}, {"recipient_resources": np.float64(1.5)}, {"donor": "é\"\\x"},
    {"donor_resources": math.inf}, {"extra": [1]}, {"game": True},
    {"trace": [{"donor": "a", "recipient": "b", "action": "donate", "fraction": 1,
                "step": 0, "game": 0, "round": 0}]},
    {"trace": Trace([Act(donor="a", recipient="b", action="punish", fraction=0.5, step=0,
                         game=0, round=0, units=2.5, lost=7.5)])},  # a plain trace's punishment
    # as the game makes them: slots set to None, a punishment's amounts added after `played`
    {"trace": Trace.of(Act.played("a", "b", "donate", 0.25, 3, 0, 3), _punished())},
    {"trace": Trace.of()},
])
def test_a_donations_observation_json_is_exactly_to_json(changes: dict) -> None:
    values = facts(**changes)
    assert observation_json(values) == to_json(values)
    if "game" in changes:  # the cache of a round's scalars tells 1 from True
        assert observation_json(facts(game=1)) == to_json(facts(game=1))


def test_a_donations_decision_json_is_exactly_to_json() -> None:
    for donation in (Donation("donate", 0.5), Donation("punish", 0.25),
                     Donation("donate", 1.0, units=3.5), Donation("refuse", 0.0)):
        assert donation.json == to_json(donation.record())


def test_rows_as_tuples_store_what_dict_rows_store(tmp_path: Path) -> None:
    rows = [{"step": 1, "name": "x", "value": 0.1, "parts": {"b": [1, 2], "a": None}},
            {"step": 2, "name": "y", "value": None, "parts": [3]}, {"step": 3}]
    columns = {"step": "INTEGER", "name": "TEXT", "value": "REAL", "parts": "TEXT"}
    digests = []
    for how in ("dicts", "tuples"):
        with RunStore(tmp_path / f"{how}.sqlite") as store:
            store.define_table("t", columns)
            if how == "dicts":
                store.insert("t", rows)
            else:
                store.insert_rows("t", [(1, "x", 0.1, '{"a":null,"b":[1,2]}'),
                                        (2, "y", None, "[3]"), (3, None, None, None)])
            assert store.rows("SELECT COUNT(*) FROM t") == [(3,)]  # a read sees queued rows
            store.commit()
            digests.append(store.rows("SELECT digest FROM checkpoints"))
    assert digests[0] == digests[1]
    assert snapshot(tmp_path / "dicts.sqlite") == snapshot(tmp_path / "tuples.sqlite")


def test_the_collector_passes_less_often_while_the_world_plays_and_still_frees_cycles(
) -> None:
    class Cycle:
        def __init__(self) -> None:
            self.me = self

    world = World(seed=0)
    agent = SimAgent(world, name="a", brain=RuleBrain(Identity()))
    seen: list[Any] = []

    def play():
        seen.append(gc.get_threshold())
        cycle = Cycle()
        ref = weakref.ref(cycle)
        del cycle  # cyclic garbage now: only a collection frees it
        for turn in range(3):
            yield agent.decide(Echo(turn))
            _ = [[i] for i in range(150_000)]  # a round's worth of short-lived objects
        seen.append(ref() is None)

    before = gc.get_threshold()
    world.process(play())
    world.run()
    assert seen[0][:2] == (100_000, max(before[1], 50))
    assert seen[-1]  # freed while the world played
    assert gc.get_threshold() == before
    gc.set_threshold(0)
    try:  # a caller that turned automatic collection off keeps it off
        DonorGame(DonorGameConfig(agents=4, generations=1, rounds=1)).run_model()
        assert gc.get_threshold()[0] == 0
    finally:
        gc.set_threshold(*before)


def test_the_digest_hashes_each_rows_repr_however_the_rows_come() -> None:
    """The checkpoint digest's text is `repr((table, row))` row after row, whichever way
    `digest_text` builds it (one format over every cell, or a repr per row)."""

    class Pair(NamedTuple):
        a: int
        b: int

    cases = {
        "t": [(1, "it's \"q\" \\ é\n", 0.1, None, b"\x00", 1e300, -0.0, True)] * 3,
        "one": [(1,), ("x",), (None,)],
        "a%rb%%": [(1, 2.5), (3, "%r %s %%")],
        "mixed": [(1, 2), (3,), [4, 5]],
        "named": [Pair(1, 2), (1, 2)],  # a tuple subclass: repr'd as itself
        "empty": [()],
        "nested": [((1, 2), [3], {"a": 1})],
    }
    for table, rows in cases.items():
        expected = "".join(repr((table, row)) for row in rows)
        assert digest_text(table, rows) == expected, table
    assert digest_text("t", []) == ""
