"""Populations across generations: slots, brain mixes, selection, inheritance, lineage.

Cultural-evolution scenarios share one skeleton. A population has a fixed number of *slots*,
each with a brain kind that never changes ('llm' or a rule family), so a mixed population stays
mixed while its contents evolve. Every generation the empty slots are filled with newcomers:

- an LLM newcomer gets a fresh model brain and, as its parents, every survivor (it will read
  their strategy texts: the population's *culture*);
- a rule newcomer inherits the rule of a uniformly drawn surviving rule agent, its parameters
  mutated (`RulePolicy.mutate`), or a fresh rule of its slot's family if no rule agent
  survived.

After the generation has played, `select` ranks the agents on the scenario's scores and keeps
the survivors (top share, or drawn proportionally to score, or at random); the rest leave the
model. The engine tables `agents` (with lineage), `strategies` and `generation_scores` are
written here, so analysis reads every population scenario alike.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np
from mesa.agent import AgentSet
from pydantic import Field, model_validator

from sim.agent import SimAgent
from sim.brains import Brain, LLMBrain, RuleBrain
from sim.config import RunConfig
from sim.rules import RuleFamilies

if TYPE_CHECKING:
    from sim.world import World

SelectionMethod = Literal["top", "proportional", "random"]

#: Engine tables every population scenario writes (besides `agents`, an engine table).
POPULATION_TABLES: dict[str, dict[str, str]] = {
    "strategies": {
        "agent_id": "TEXT", "generation": "INTEGER", "text": "TEXT", "source": "TEXT",
        "parents": "TEXT",
    },
    "generation_scores": {
        "generation": "INTEGER", "agent_id": "TEXT", "brain": "TEXT", "kind": "TEXT",
        "score": "REAL", "rank": "INTEGER",
        "survived": "INTEGER",  # NULL when no selection followed (e.g. the last generation)
    },
}


class PopulationConfig(RunConfig):
    """The keys of every population scenario; a scenario's config subclasses this and names
    its rule families in `RULE_FAMILIES`."""

    #: The scenario's rule families, which `brains` may name (set by each scenario).
    RULE_FAMILIES: ClassVar[tuple[str, ...]] = ()

    agents: int = Field(12, ge=2, description="Population size of every generation.")
    generations: int = Field(10, ge=1, description="Generations per run.")
    brains: dict[str, float] = Field(
        default_factory=dict,
        description="The population's mix: brain kind → share (normalised). Kinds: 'llm', "
        "'rule' (an even mix of the scenario's rule families) or one rule family by name. "
        "Empty: all 'llm' when a model is set, else all 'rule'.",
    )
    survivor_fraction: float = Field(
        0.5, gt=0, lt=1, description="Share of the population that survives each generation."
    )
    mutation_sd: float = Field(
        0.05, ge=0, description="SD of the Gaussian mutation of an inherited rule's parameters."
    )

    @model_validator(mode="before")
    @classmethod
    def _default_brains(cls, data: Any) -> Any:
        if isinstance(data, dict) and not data.get("brains"):
            data = {**data, "brains": {"llm": 1.0} if data.get("model") else {"rule": 1.0}}
        return data

    @model_validator(mode="after")
    def _check_population(self) -> PopulationConfig:
        kinds = ("llm", "rule", *self.RULE_FAMILIES)
        unknown = sorted(set(self.brains) - set(kinds))
        if unknown:
            raise ValueError(
                f"unknown brain kind(s) {unknown} in brains (known: {', '.join(kinds)})"
            )
        if any(share < 0 for share in self.brains.values()) or sum(self.brains.values()) <= 0:
            raise ValueError("brains shares must be non-negative and not all zero")
        if self.brains.get("llm", 0) > 0 and not self.model:
            raise ValueError("brains include 'llm' but no model is set (use --model)")
        if not 1 <= self.survivors < self.agents:
            raise ValueError("survivor_fraction leaves no survivors or no newcomers")
        return self

    @property
    def survivors(self) -> int:
        return round(self.agents * self.survivor_fraction)


def allocate(brains: Mapping[str, float], n: int, families: Sequence[str]) -> list[str]:
    """Turn shares into n slot kinds (largest remainder; 'rule' spreads over the families)."""
    total = sum(brains.values())
    quotas = {kind: n * share / total for kind, share in brains.items() if share > 0}
    counts = {kind: int(q) for kind, q in quotas.items()}
    by_remainder = sorted(quotas, key=lambda k: (-(quotas[k] - counts[k]), list(quotas).index(k)))
    for kind in by_remainder[: n - sum(counts.values())]:
        counts[kind] += 1
    kinds: list[str] = []
    for kind, count in counts.items():
        if kind == "rule":
            kinds += [families[i % len(families)] for i in range(count)]
        else:
            kinds += [kind] * count
    return kinds


class Member(SimAgent):
    """An agent of an evolving population: when it was born, from whom, and its strategy text
    (the culture newcomers read). Scenarios subclass it for their own state."""

    def __init__(self, model: World, *, name: str, brain: Brain, generation: int,
                 parents: list[str]) -> None:
        super().__init__(model, name=name, brain=brain)
        self.generation_born = generation
        self.parents = parents
        self.strategy = ""


@dataclass
class Slot:
    """A place in the population; its brain kind ('llm' or a rule family) is fixed."""

    kind: str
    agent: Member | None = None


class Population:
    """The slots of one population and the generations that fill them; see the module doc."""

    def __init__(
        self,
        model: World,
        config: PopulationConfig,
        families: RuleFamilies,
        *,
        member: Callable[..., Member] = Member,
        score_columns: Mapping[str, str] | None = None,
    ) -> None:
        self.model = model
        self.config = config
        self.families = families
        self.member = member
        self.llm_settings = config.llm_settings() if config.model else None
        self.slots = [Slot(kind) for kind in allocate(config.brains, config.agents,
                                                      families.names)]
        self.by_name: dict[str, Member] = {}  # the living members, by name
        #: Extra columns of `generation_scores` the scenario fills (e.g. its headline measure).
        self.score_columns = dict(score_columns or {})
        #: The last `select`'s ranking, best first, by name (survivors and leavers alike): a
        #: scenario that shows newcomers the survivors' strategies best first orders by it.
        self.ranking: list[str] = []
        if model.store is not None:
            for name, columns in POPULATION_TABLES.items():
                if name == "generation_scores":
                    columns = {**columns, **self.score_columns}
                model.store.define_table(name, columns)

    # -- who is alive ------------------------------------------------------------------------
    @property
    def members(self) -> list[Member]:
        """The living members in slot order (the order every per-agent table follows)."""
        return [slot.agent for slot in self.slots if slot.agent is not None]

    def agent_set(self) -> AgentSet:
        """The living members as a Mesa `AgentSet`, for selecting and grouping them."""
        return AgentSet(self.members, random=self.model.random)

    def shuffled_order(self) -> list[int]:
        """A seeded random order of the slots: the generation's pairings and tie-breaks."""
        return [int(i) for i in self.model.rng.permutation(len(self.slots))]

    # -- newcomers ---------------------------------------------------------------------------
    def populate(self, generation: int, survivors: Sequence[Member]) -> list[Member]:
        """Fill every empty slot with a newcomer, record it with its parents, return them."""
        rng = self.model.rng
        rule_survivors = [a for a in survivors if isinstance(a.brain, RuleBrain)]
        newcomers, rows = [], []
        for index, slot in enumerate(self.slots):
            if slot.agent is not None:
                continue
            name = f"g{generation}-a{index:02d}"
            brain: Brain
            if slot.kind == "llm":
                assert self.llm_settings is not None
                brain, parents = LLMBrain(self.llm_settings), [a.name for a in survivors]
            elif rule_survivors and generation > 0:
                parent = rule_survivors[int(rng.integers(len(rule_survivors)))]
                policy = parent.brain.policy.mutate(rng, self.config.mutation_sd)
                brain, parents = RuleBrain(policy), [parent.name]
            else:
                family = slot.kind if slot.kind in self.families else self.families.names[
                    int(rng.integers(len(self.families.names)))
                ]
                brain, parents = RuleBrain(self.families.make(family)), []
            agent = self.member(self.model, name=name, brain=brain, generation=generation,
                                parents=parents)
            slot.agent = self.by_name[name] = agent
            newcomers.append(agent)
            rows.append({
                "agent_id": name, "generation": generation, "brain": brain.brain_type,
                "kind": brain.kind, "model": getattr(brain, "model", None),
                "params": brain.describe(), "parents": parents,
            })
        self.model.record("agents", rows)
        return newcomers

    @staticmethod
    def culture(survivors: Sequence[Member]) -> list[tuple[str, str]]:
        """What newcomers read: every survivor's strategy text with its author. One list for
        all newcomers of a generation (a copy each would grow with the population squared)."""
        return [(a.name, a.strategy) for a in survivors]

    def record_strategies(self, generation: int, agents: Sequence[Member]) -> None:
        """Store the strategy texts these agents just wrote (rule brains describe their rule)."""
        self.model.record("strategies", [
            {"agent_id": a.name, "generation": generation, "text": a.strategy,
             "source": a.brain.brain_type, "parents": a.parents}
            for a in agents
        ])

    # -- selection ---------------------------------------------------------------------------
    def select(
        self,
        generation: int,
        scores: Sequence[float],
        order: Sequence[int],
        *,
        method: SelectionMethod = "top",
        keep: bool = True,
        extra: Mapping[str, Sequence[float]] | None = None,
    ) -> list[Member]:
        """Rank the members (slot order) by `scores`, record the ranking, keep the survivors.

        Ties fall to `order`, the generation's shuffled order of slots. `top` keeps the best
        `survivor_fraction`; `proportional` draws that many without replacement with
        probability proportional to score (negative scores count as 0); `random` draws them
        uniformly. With `keep=False` (no selection after this generation) nobody leaves
        and `survived` is recorded as NULL. `extra` fills the scenario's `score_columns`.
        """
        members = self.members
        slot_of = [i for i, slot in enumerate(self.slots) if slot.agent is not None]
        position = {slot: place for place, slot in enumerate(order)}
        values = np.asarray(scores, dtype=float)
        ranking = sorted(range(len(members)), key=lambda i: (-values[i], position[slot_of[i]]))
        self.ranking = [members[i].name for i in ranking]
        survivors = self._survivors(members, values, ranking, method) if keep else None
        extra = extra or {}
        self.model.record("generation_scores", [
            {"generation": generation, "agent_id": members[i].name,
             "brain": members[i].brain.brain_type, "kind": members[i].brain.kind,
             "score": float(values[i]), "rank": rank,
             "survived": None if survivors is None else int(members[i].name in survivors),
             **{column: float(extra[column][i]) if column in extra else None
                for column in self.score_columns}}
            for rank, i in enumerate(ranking)
        ])
        if survivors is None:
            return []
        for slot in self.slots:
            if slot.agent is not None and slot.agent.name not in survivors:
                del self.by_name[slot.agent.name]
                slot.agent.remove()
                slot.agent = None
        return [a for a in members if a.name in survivors]

    def _survivors(self, members: Sequence[Member], values: np.ndarray, ranking: list[int],
                   method: str) -> set[str]:
        k = self.config.survivors
        if method == "top":
            chosen = ranking[:k]
        elif method == "random":
            chosen = [int(i) for i in self.model.rng.permutation(len(members))[:k]]
        elif method == "proportional":
            chosen = self._proportional(np.clip(values, 0.0, None), k)
        else:
            raise ValueError(f"unknown selection method {method!r}")
        return {members[i].name for i in chosen}

    def _proportional(self, weights: np.ndarray, k: int) -> list[int]:
        """k distinct members drawn with probability proportional to their weights; when fewer
        than k have a positive weight, all of those survive and the rest are drawn uniformly
        from the others (a payoff of 0 gives no claim, but slots must be filled)."""
        rng = self.model.rng
        positive = np.flatnonzero(weights > 0)
        if positive.size >= k:
            p = weights / weights.sum()
            return [int(i) for i in rng.choice(weights.size, size=k, replace=False, p=p)]
        rest = np.flatnonzero(weights <= 0)
        return [int(i) for i in positive] + [
            int(i) for i in rng.choice(rest, size=k - positive.size, replace=False)]
