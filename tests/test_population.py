"""The engine's population: slots that keep their brain kind, newcomers that inherit, selection
that keeps the right survivors, and lineage in the store — checked on a toy rule family, so
any scenario built on it can rely on the same behaviour."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import pytest

from sim.brains import LLMBrain, RuleBrain
from sim.population import Population, PopulationConfig, allocate
from sim.rules import RuleFamilies, RulePolicy
from sim.store import RunStore
from sim.world import World


@dataclass(frozen=True)
class Giver(RulePolicy):
    family: ClassVar[str] = "giver"
    bounds: ClassVar[dict[str, tuple[float, float]]] = {"give": (0.0, 1.0)}
    give: float = 0.5

    def decide(self, observation: dict[str, Any]) -> float:
        return self.give

    def describe(self) -> str:
        return f"I give {self.give:.2f}."


@dataclass(frozen=True)
class Keeper(RulePolicy):
    family: ClassVar[str] = "keeper"

    def decide(self, observation: dict[str, Any]) -> float:
        return 0.0

    def describe(self) -> str:
        return "I keep everything."


FAMILIES = RuleFamilies([Giver, Keeper])


class ToyConfig(PopulationConfig):
    RULE_FAMILIES = FAMILIES.names


def population(tmp_path: Path | None = None, **values: Any) -> Population:
    store = RunStore(tmp_path / "run.sqlite") if tmp_path is not None else None
    config = ToyConfig(**{"agents": 4, "mutation_sd": 0.1, **values})
    world = World(config, store=store)
    return Population(world, config, FAMILIES, score_columns={"wealth": "REAL"})


def test_brain_mix_becomes_fixed_slot_kinds() -> None:
    assert allocate({"rule": 1}, 5, FAMILIES.names) == ["giver", "keeper", "giver", "keeper",
                                                      "giver"]
    assert sorted(allocate({"llm": 1, "keeper": 3}, 8, FAMILIES.names)) == ["keeper"] * 6 + [
        "llm"] * 2
    kinds = [slot.kind for slot in population(brains={"giver": 1, "keeper": 1}).slots]
    assert kinds == ["giver", "giver", "keeper", "keeper"]


def test_config_names_the_families_a_mix_may_use() -> None:
    with pytest.raises(ValueError, match="unknown brain kind"):
        ToyConfig(brains={"image_scoring": 1})
    with pytest.raises(ValueError, match="no model"):
        ToyConfig(brains={"llm": 1})
    with pytest.raises(ValueError, match="no survivors"):
        ToyConfig(agents=2, survivor_fraction=0.1)
    assert ToyConfig().brains == {"rule": 1.0} and ToyConfig(model="openai/x").brains == {
        "llm": 1.0}


def test_newcomers_inherit_a_survivors_rule_mutated_and_are_recorded(tmp_path: Path) -> None:
    pop = population(tmp_path, brains={"giver": 1})
    founders = pop.populate(0, [])
    assert [a.name for a in founders] == ["g0-a00", "g0-a01", "g0-a02", "g0-a03"]
    assert all(a.parents == [] and a.brain.policy == Giver() for a in founders)
    survivors = pop.select(0, [4.0, 3.0, 2.0, 1.0], [0, 1, 2, 3])
    assert [a.name for a in survivors] == ["g0-a00", "g0-a01"]
    newcomers = pop.populate(1, survivors)
    assert [a.name for a in newcomers] == ["g1-a02", "g1-a03"]
    for agent in newcomers:
        (parent,) = agent.parents
        assert parent in {"g0-a00", "g0-a01"}
        assert agent.brain.policy.give != 0.5  # mutated
        assert 0.0 <= agent.brain.policy.give <= 1.0
    rows = pop.model.store.rows("SELECT agent_id, generation, kind, params, parents FROM agents")
    assert len(rows) == 6
    last = {row[0]: row for row in rows}["g1-a03"]
    assert last[1:3] == (1, "giver")
    assert json.loads(last[3]) == {"give": newcomers[1].brain.policy.give}
    assert json.loads(last[4]) == newcomers[1].parents


def test_llm_newcomers_descend_from_drawn_survivors_and_read_their_texts(
        tmp_path: Path) -> None:
    pop = population(tmp_path, model="openai/x", brains={"llm": 1, "keeper": 1})
    founders = pop.populate(0, [])
    for agent in founders:
        agent.strategy = f"text of {agent.name}"
    survivors = pop.select(0, [1.0, 2.0, 3.0, 4.0], [0, 1, 2, 3])
    newcomers = pop.populate(1, survivors)
    llm = [a for a in newcomers if isinstance(a.brain, LLMBrain)]
    names = [s.name for s in survivors]
    assert llm and all(len(a.parents) == 1 and a.parents[0] in names for a in llm)
    for agent in llm:  # its advice is its own parent's text, nobody else's
        assert pop.advice(agent) == [(agent.parents[0], f"text of {agent.parents[0]}")]
    rules = [a for a in newcomers if isinstance(a.brain, RuleBrain)]
    assert all(a.brain.policy.family == "keeper" for a in rules)
    assert pop.culture(survivors) == [(s.name, f"text of {s.name}") for s in survivors]
    pop.record_strategies(0, founders)
    assert len(pop.model.store.rows("SELECT * FROM strategies")) == 4
    recorded = dict(pop.model.store.rows("SELECT agent_id, parents FROM agents"))
    assert all(json.loads(recorded[a.name]) == a.parents for a in llm)


def test_llm_newcomers_may_read_several_parents_or_every_survivor() -> None:
    def llm_newcomers(**values: Any) -> tuple[Population, list[Any], list[Any]]:
        pop = population(model="openai/x", brains={"llm": 1}, agents=6, **values)
        for agent in pop.populate(0, []):
            agent.strategy = f"text of {agent.name}"
        survivors = pop.select(0, [6.0, 5.0, 4.0, 3.0, 2.0, 1.0], list(range(6)))
        return pop, survivors, pop.populate(1, survivors)

    pop, survivors, newcomers = llm_newcomers(llm_parents=2)
    for agent in newcomers:  # two distinct survivors, read in the order drawn
        assert len(set(agent.parents)) == 2 and set(agent.parents) <= {s.name for s in survivors}
        assert [author for author, _ in pop.advice(agent)] == agent.parents
    pop, survivors, newcomers = llm_newcomers(advice="survivors")
    culture = pop.culture(survivors)
    assert all(pop.advice(agent) == culture and len(agent.parents) == 1 for agent in newcomers)


def test_top_selection_breaks_ties_by_the_shuffled_order(tmp_path: Path) -> None:
    pop = population(tmp_path)
    pop.populate(0, [])
    kept = pop.select(0, [5.0, 5.0, 9.0, 5.0], [3, 1, 0, 2], extra={"wealth": [1, 2, 3, 4]})
    assert [a.name for a in kept] == ["g0-a02", "g0-a03"]  # 9, then slot 3 before 1 and 0
    rows = pop.model.store.rows(
        "SELECT rank, agent_id, score, survived, wealth FROM generation_scores ORDER BY rank")
    assert rows == [(0, "g0-a02", 9.0, 1, 3.0), (1, "g0-a03", 5.0, 1, 4.0),
                    (2, "g0-a01", 5.0, 0, 2.0), (3, "g0-a00", 5.0, 0, 1.0)]
    assert [s.agent is not None for s in pop.slots] == [False, False, True, True]
    assert set(pop.by_name) == {"g0-a02", "g0-a03"}


def test_no_selection_records_null_and_keeps_everyone(tmp_path: Path) -> None:
    pop = population(tmp_path)
    pop.populate(0, [])
    assert pop.select(0, [1.0, 2.0, 3.0, 4.0], [0, 1, 2, 3], keep=False) == []
    assert {s for (s,) in pop.model.store.rows("SELECT survived FROM generation_scores")} == {
        None}
    assert len(pop.members) == 4


def test_proportional_and_random_selection_follow_the_seed() -> None:
    def kept(method: str, seed: int, scores: list[float]) -> frozenset[str]:
        pop = population(seed=seed, agents=6)
        pop.populate(0, [])
        return frozenset(a.name for a in pop.select(0, scores, list(range(6)), method=method))

    scores = [0.0, 0.0, 0.0, 0.0, 1.0, 1.0]
    for seed in range(10):
        # only agents with a positive score can be drawn while there are enough of them...
        assert kept("proportional", seed, [0.0, 0.0, 0.0, 1.0, 1.0, 1.0]) == {
            "g0-a03", "g0-a04", "g0-a05"}
        # ...and when there are not, they all survive and the rest is drawn among the others
        chosen = kept("proportional", seed, scores)
        assert len(chosen) == 3 and {"g0-a04", "g0-a05"} <= chosen
    # the draws depend on the scores' sizes, not only on their order
    heavy = [kept("proportional", seed, [1.0, 1.0, 1.0, 1.0, 1.0, 50.0]) for seed in range(20)]
    assert all("g0-a05" in chosen for chosen in heavy)
    # all-zero scores: uniform draws, which vary with the seed
    assert len({kept("proportional", seed, [0.0] * 6) for seed in range(10)}) > 1
    assert len({kept("random", seed, scores) for seed in range(10)}) > 1
    assert kept("random", 3, scores) == kept("random", 3, scores)  # same seed, same draw


def test_the_population_is_a_mesa_agent_set() -> None:
    pop = population(brains={"giver": 1, "keeper": 1})
    pop.populate(0, [])
    groups = pop.agent_set().groupby(lambda a: a.brain.kind)
    assert {kind: len(members) for kind, members in groups} == {"giver": 2, "keeper": 2}
